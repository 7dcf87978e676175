"""Image datasets read from a local data folder: where it is, finding (or downloading) the files,
the offline error, and turning uint8 images into a normalised `Dataset`."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import torch

from explorer.config import DataConfig
from explorer.data.base import Dataset


class DatasetNotFound(FileNotFoundError):
    """A dataset's files are not in the data folder and could not be downloaded."""


class DatasetFileError(ValueError):
    """A dataset's file is there but not in the format it should be in; the message names the file."""


def data_root(cfg: DataConfig) -> Path:
    """``data.root``, else ``$EXPLORER_DATA``, else ``~/.explorer/data``.

    Example:
        >>> data_root(DataConfig("mnist", {"root": "/tmp/d"}))
        PosixPath('/tmp/d')
    """
    root = cfg.get("root") or os.environ.get("EXPLORER_DATA") or Path.home() / ".explorer" / "data"
    return Path(root).expanduser()


def unpacked_root(root: Path, folder: str, files: tuple[str, ...]) -> Path | None:
    """A root whose ``<folder>/raw`` holds ``files`` unpacked (without ``.gz``), or None if the
    files are not there. The .gz files are unpacked here (not by torchvision, which would insist on
    its own checksums), into a cache folder when ``root`` is read-only.

    Example:
        >>> unpacked_root(Path("/nonexistent"), "MNIST", ("t10k-labels-idx1-ubyte.gz",)) is None
        True
    """
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
            unpack(raw / f, out)
    return target


def unpack(gz: Path, out: Path) -> None:
    """``gz`` decompressed to ``out``, atomically: into a temporary file of this process's own
    (several runs may unpack the same file at once) that replaces ``out`` when complete, and is
    removed if decompression fails.

    Example:
        >>> d = Path(tempfile.mkdtemp()); _ = (d / "a.gz").write_bytes(gzip.compress(b"abc"))
        >>> unpack(d / "a.gz", d / "a"); (d / "a").read_bytes(), sorted(p.name for p in d.iterdir())
        (b'abc', ['a', 'a.gz'])
    """
    fd, part = tempfile.mkstemp(prefix=out.name + ".", suffix=".part", dir=out.parent)
    try:
        with gzip.open(gz, "rb") as src, os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(part, out)
    finally:
        if os.path.exists(part):
            os.remove(part)


def find_or_download(title: str, root: Path, folder: str, files: tuple[str, ...],
                     find: Callable[[], Path | None], download: Callable[[], object] | None) -> Path:
    """``find()``'s answer; if it is None, ``download()`` (torchvision's, which checks its own
    checksums) and ``find()`` again. Raises `DatasetNotFound` naming ``root/folder`` and ``files``
    when there is no download or it fails (offline).

    Example:
        >>> find_or_download("Mine", Path("/data"), "Mine/raw", ("a.bin",), lambda: None, None)
        Traceback (most recent call last):
        ...
        explorer.data.vision.DatasetNotFound: Mine is not in /data/Mine/raw (it cannot be downloaded automatically). Put the files a.bin in that folder, or point data.root / EXPLORER_DATA at a folder that holds Mine/raw/.
    """
    found = find()
    if found is not None:
        return found

    def missing(why: str) -> DatasetNotFound:
        return DatasetNotFound(
            f"{title} is not in {root / folder} ({why}). Put the files {', '.join(files)} in that "
            f"folder, or point data.root / EXPLORER_DATA at a folder that holds {folder}/.")

    if download is None:
        raise missing("it cannot be downloaded automatically")
    try:
        download()
    except (RuntimeError, OSError) as err:  # torchvision's "Dataset not found", or a network error
        raise missing(f"could not be downloaded: {err}") from err
    found = find()
    if found is None:
        raise missing("the download did not leave them there")
    return found


def image_dataset(name: str, train: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor],
                  cfg: DataConfig, num_classes: int, per_channel: bool = False) -> Dataset:
    """A `Dataset` from uint8 images (N, C, H, W) and labels: the first ``data.train_samples`` /
    ``data.test_samples`` of each split, scaled to [0, 1], resized to ``data.resize`` if given
    (`resize`) and standardised with the train
    statistics (over all pixels, or per channel).

    Example:
        >>> images = torch.arange(2 * 3 * 4, dtype=torch.uint8).reshape(2, 3, 2, 2)
        >>> d = image_dataset("tiny", (images, torch.tensor([0, 1])), (images, torch.tensor([1, 0])),
        ...                   DataConfig("cifar10", {"train_samples": 1}), 2, per_channel=True)
        >>> d.num_train, d.x_train.mean((0, 2, 3)).abs().max().item() < 1e-6
        (1, True)
    """
    def first(t: torch.Tensor, n: int | None) -> torch.Tensor:
        return t if n is None else t[:n]

    n_train, n_test = cfg.get("train_samples"), cfg.get("test_samples")
    size = cfg.get("resize")
    x_train, x_test = (resize(first(t, n).float() / 255.0, size) for t, n in ((train[0], n_train), (test[0], n_test)))
    dims = (0, 2, 3) if per_channel else tuple(range(x_train.dim()))
    mean = x_train.mean(dims, keepdim=True)
    std = x_train.std(dims, keepdim=True).clamp_min(1e-8)
    return Dataset(name, (x_train - mean) / std, first(train[1], n_train).long(),
                   (x_test - mean) / std, first(test[1], n_test).long(), num_classes=num_classes)


RESIZE_CHUNK = 8192  # images resized at a time (bounds the float copies made on the way)


def resize(images: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
    """Float images (N, C, H, W) resized to ``size`` = (height, width) by bilinear interpolation
    (half-pixel centres, ``align_corners=False``, no antialiasing: torchvision's
    ``resize(..., antialias=False)``); unchanged when ``size`` is None or their own.

    Example:
        >>> resize(torch.tensor([[[[0.0, 1.0]]]]), (1, 4)).tolist()  # 2 pixels to 4: edges held, middle blended
        [[[[0.0, 0.25, 0.75, 1.0]]]]
    """
    if size is None or tuple(images.shape[-2:]) == tuple(size):
        return images
    return torch.cat([torch.nn.functional.interpolate(part, size=tuple(size), mode="bilinear", align_corners=False,
                                                      antialias=False)
                      for part in images.split(RESIZE_CHUNK)]) if len(images) else images.new_zeros(
        (0, images.shape[1], *size))
