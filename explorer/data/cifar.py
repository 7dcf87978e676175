"""CIFAR-10 from ``<root>/cifar-10-batches-py``: the python pickles torchvision downloads, read
here (torchvision's class would insist on its md5 checksums) with an unpickler that builds numpy
arrays and nothing else."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from explorer.config import DataConfig
from explorer.data.base import Dataset
from explorer.data.vision import data_root, find_or_download, image_dataset

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)

# What a CIFAR batch pickle may name: a dict of lists, strings and one uint8 numpy array.
_ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
            *((module, "_reconstruct") for module in ("numpy.core.multiarray", "numpy._core.multiarray")),
            *((module, "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric"))}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"a CIFAR batch should not name {module}.{name}")
        return super().find_class(module, name)


def read_batch(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch file's uint8 images (N, 3, 32, 32) and int64 labels.

    Example (with a batch at ``cifar-10-batches-py/test_batch``)::

        images, labels = read_batch(Path("cifar-10-batches-py/test_batch"))
        images.shape  # torch.Size([10000, 3, 32, 32])
    """
    with open(path, "rb") as f:
        entry = _ArrayUnpickler(f, encoding="latin1").load()  # latin1: the files were written by Python 2
    images = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return torch.from_numpy(images.copy()), torch.tensor(entry["labels"], dtype=torch.int64)


def _read(folder: Path, files: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    batches = [read_batch(folder / f) for f in files]
    return torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])


def load_cifar10(cfg: DataConfig) -> Dataset:
    """CIFAR-10 as (N, 3, 32, 32) images scaled to [0, 1] and standardised per channel with the
    train statistics; the first ``train_samples`` / ``test_samples`` of each split.

    Looks in ``<root>/cifar-10-batches-py`` for ``data_batch_1`` … ``data_batch_5`` and
    ``test_batch``; if they are missing it tries torchvision's download, and offline it raises
    `DatasetNotFound` naming the folder and the files.

    Example (with the batches in ``<root>/cifar-10-batches-py``)::

        d = load_cifar10(DataConfig("cifar10", {"root": "<root>", "train_samples": 1000}))
        d.input_shape  # (3, 32, 32)
    """
    root = data_root(cfg)
    folder = root / FOLDER
    files = TRAIN_FILES + TEST_FILES

    def find() -> Path | None:
        return folder if all((folder / f).exists() for f in files) else None

    def download() -> object:
        from torchvision.datasets import CIFAR10

        return CIFAR10(str(root), train=True, download=True)

    found = find_or_download("CIFAR-10", root, FOLDER, files, find, download)
    return image_dataset("cifar10", _read(found, TRAIN_FILES), _read(found, TEST_FILES), cfg,
                         num_classes=10, per_channel=True)
