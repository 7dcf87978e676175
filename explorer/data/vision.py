"""Image datasets through torchvision, read from a local data folder (no download offline)."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import torch

from ..config import DataConfig
from .base import Dataset

MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


class DatasetNotFound(FileNotFoundError):
    """A dataset's files are not in the data folder and could not be downloaded."""


def data_root(cfg: DataConfig) -> Path:
    """``data.root``, else ``$EXPLORER_DATA``, else ``~/.explorer/data``.

    Example:
        >>> data_root(DataConfig("mnist", {"root": "/tmp/d"}))
        PosixPath('/tmp/d')
    """
    root = cfg.get("root") or os.environ.get("EXPLORER_DATA") or Path.home() / ".explorer" / "data"
    return Path(root).expanduser()


def _unpacked_root(root: Path, folder: str, files: tuple[str, ...]) -> Path | None:
    """A root whose ``<folder>/raw`` holds the unpacked files torchvision reads, or None if the
    files are not there. The .gz files are unpacked here (not by torchvision, which would insist on
    its own checksums), into a cache folder when ``root`` is read-only."""
    raw = root / folder / "raw"
    if all((raw / f.removesuffix(".gz")).exists() for f in files):
        return root
    if not all((raw / f).exists() for f in files):
        return None
    target = root if os.access(raw, os.W_OK) else (
        Path(tempfile.gettempdir()) / "explorer-data" / hashlib.sha1(str(raw.resolve()).encode()).hexdigest()[:12])
    (target / folder / "raw").mkdir(parents=True, exist_ok=True)
    for f in files:
        out = target / folder / "raw" / f.removesuffix(".gz")
        if not out.exists():
            with gzip.open(raw / f, "rb") as src, open(out.with_suffix(".part"), "wb") as dst:
                shutil.copyfileobj(src, dst)
            out.with_suffix(".part").rename(out)
    return target


def load_mnist(cfg: DataConfig) -> Dataset:
    """MNIST as (N, 1, 28, 28) images scaled to [0, 1] and standardised with the train statistics.

    Looks in ``<root>/MNIST/raw`` for torchvision's four files; if they are missing it tries
    torchvision's download, and offline it raises `DatasetNotFound` naming the folder and files.

    Example (with the files in ``../shared/data/MNIST/raw``)::

        d = load_mnist(DataConfig("mnist", {"root": "../shared/data", "train_samples": 100}))
        d.input_shape  # (1, 28, 28)
    """
    from torchvision.datasets import MNIST

    root = data_root(cfg)
    raw = root / "MNIST" / "raw"
    ready = _unpacked_root(root, "MNIST", MNIST_FILES)
    try:
        train = MNIST(str(ready or root), train=True, download=ready is None)
        test = MNIST(str(ready or root), train=False, download=False)
    except (RuntimeError, OSError) as err:  # torchvision's "Dataset not found" or a network error
        raise DatasetNotFound(
            f"MNIST is not in {raw} and could not be downloaded ({err}). Put the files "
            f"{', '.join(MNIST_FILES)} in that folder, or point data.root / EXPLORER_DATA at a folder "
            "that holds MNIST/raw/.") from err
    x_train, y_train = _images(train.data, cfg.get("train_samples")), _limit(train.targets, cfg.get("train_samples"))
    x_test, y_test = _images(test.data, cfg.get("test_samples")), _limit(test.targets, cfg.get("test_samples"))
    mean, std = x_train.mean(), x_train.std()
    return Dataset("mnist", (x_train - mean) / std, y_train, (x_test - mean) / std, y_test, num_classes=10)


def _limit(t: torch.Tensor, n: int | None) -> torch.Tensor:
    return t if n is None else t[:n]


def _images(data: torch.Tensor, n: int | None) -> torch.Tensor:
    return _limit(data, n).unsqueeze(1).float() / 255.0
