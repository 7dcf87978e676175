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
from explorer.data.checks import MOST_ITEMS, checked_labels, regular_file
from explorer.data.errors import DatasetFileError
from explorer.data.vision import data_root, find_or_download, image_dataset

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
PIXELS = 3 * 32 * 32  # one image: a row of a batch's data
MOST_BYTES = MOST_ITEMS * (PIXELS + 64)  # a batch file's size, checked before it is unpickled

# What a CIFAR batch pickle may name: a dict of lists, strings and one uint8 numpy array.
_ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
            *((module, "_reconstruct") for module in ("numpy.core.multiarray", "numpy._core.multiarray")),
            *((module, "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric"))}


def _empty_bytes(*args: object) -> bytes:
    """``bytes()``, as protocol 2 pickles an empty array's data; with an argument ``bytes(n)``
    would allocate n bytes, so none is taken."""
    if args:
        raise pickle.UnpicklingError("a CIFAR batch should not call bytes() with arguments")
    return b""


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in (("__builtin__", "bytes"), ("builtins", "bytes")):
            return _empty_bytes
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"a CIFAR batch should not name {module}.{name}")
        return super().find_class(module, name)


def read_batch(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch file's uint8 images (N, 3, 32, 32) and int64 labels, checked at load: a pickled
    dict (str or bytes keys) whose ``data`` is a uint8 array N×3072 (red, green, blue planes of
    32×32) and whose ``labels`` are N integers in 0..9. Unpickled by `_ArrayUnpickler`, which builds
    numpy arrays and nothing else. Any fault raises `DatasetFileError` naming the file.

    Example (with a batch at ``cifar-10-batches-py/test_batch``)::

        images, labels = read_batch(Path("cifar-10-batches-py/test_batch"))
        images.shape  # torch.Size([10000, 3, 32, 32])
    """
    def fault(what: str) -> DatasetFileError:
        return DatasetFileError(f"{path}: {what}")

    try:
        size = regular_file(path).stat().st_size
        if size > MOST_BYTES:  # checked before unpickling: what is read follows what the door allows
            raise fault(f"{size:,} bytes; a CIFAR batch here holds at most {MOST_ITEMS:,} images "
                        f"({MOST_BYTES:,} bytes)")
        with open(path, "rb") as f:
            entry = _ArrayUnpickler(f, encoding="latin1").load()  # latin1: the files were written by Python 2
            trailing = len(f.read(1 << 20))
    except DatasetFileError:
        raise
    except OSError as err:
        raise fault(f"cannot be read ({type(err).__name__}: {err.strerror or err})") from err
    except Exception as err:  # hostile bytes can fail an unpickler in any way; each is this file's fault
        raise fault(f"not a CIFAR batch pickle ({type(err).__name__}: {err})") from err
    if trailing:
        raise fault(f"{trailing:,}{'+' if trailing == 1 << 20 else ''} bytes follow the end of its pickle "
                    "(two files run together, or a damaged one)")
    if not isinstance(entry, dict):
        raise fault(f"holds a {type(entry).__name__}, not a CIFAR batch (a dict with 'data' and 'labels')")
    entry = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}
    for key in ("data", "labels"):
        if key not in entry:
            raise fault(f"a CIFAR batch has '{key}'; this one has {', '.join(sorted(map(repr, entry))) or 'no keys'}")
    data = entry["data"]
    if not isinstance(data, np.ndarray):
        raise fault(f"'data' is a {type(data).__name__}, not a numpy array of uint8")
    if data.dtype != np.uint8:
        raise fault(f"'data' holds {data.dtype} values; CIFAR's images are uint8 (0..255)")
    if data.ndim != 2 or data.shape[1] != PIXELS or data.shape[0] == 0:
        raise fault(f"'data' has shape {tuple(data.shape)}; CIFAR's is N×{PIXELS} (3×32×32 per row, N > 0)")
    labels = checked_labels(entry["labels"], len(data), 10, path)
    return torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), labels


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
