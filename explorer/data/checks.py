"""What every reader of a dataset file checks before a step is taken: that it is a regular file,
labels against their images (one integer per image, each a class 0 … classes − 1), and the most
items one file may hold.

So 1,000 labels for 60,000 images, or a label 200 among ten classes, is refused at load naming
the file, instead of failing mid-training with an ``IndexError``.
"""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import torch

from explorer.data.errors import DatasetFileError

MOST_ITEMS = 1_000_000  # images one dataset file may hold (MNIST's train file 60,000, a CIFAR batch 10,000)


def regular_file(path: Path) -> Path:
    """``path`` if it is a regular file (or a link to one), else `DatasetFileError`: a folder, a
    pipe (whose reader would wait for a writer forever) or a device (``/dev/zero`` never ends).

    Example:
        >>> regular_file(Path("/dev/null"))
        Traceback (most recent call last):
        ...
        explorer.data.errors.DatasetFileError: /dev/null: not a regular file (a character device); put the dataset's file there
    """
    try:
        mode = path.stat().st_mode
    except OSError as err:
        raise DatasetFileError(f"{path}: cannot be read ({type(err).__name__}: {err.strerror or err})") from err
    if not stat.S_ISREG(mode):
        kind = next((what for test, what in _KINDS if test(mode)), "not a file")
        raise DatasetFileError(f"{path}: not a regular file (a {kind}); put the dataset's file there")
    return path


_KINDS = ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "named pipe"), (stat.S_ISCHR, "character device"),
          (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"))


def checked_labels(labels: object, images: int, classes: int, where: Path, images_where: Path | None = None) -> torch.Tensor:
    """``labels`` (a sequence or array of integers) as int64, or `DatasetFileError` naming
    ``where`` and the fault: not integers, not one per image (``images``, read from
    ``images_where`` when another file), or a value outside ``0 … classes − 1``.

    Example:
        >>> checked_labels([0, 2, 1], 3, 3, Path("/d/labels")).tolist()
        [0, 2, 1]
        >>> checked_labels([0, 1], 3, 3, Path("/d/labels"), Path("/d/images"))
        Traceback (most recent call last):
        ...
        explorer.data.errors.DatasetFileError: /d/labels: 2 labels for 3 images in images
        >>> checked_labels([0, 7, 1, 9], 4, 3, Path("/d/labels"))
        Traceback (most recent call last):
        ...
        explorer.data.errors.DatasetFileError: /d/labels: label 7 at position 1; 2 labels lie outside 0..2 (3 classes)
    """
    def fault(what: str) -> DatasetFileError:
        return DatasetFileError(f"{where}: {what}")

    try:
        values = np.asarray(labels)
    except (ValueError, TypeError, OverflowError) as err:  # ragged nesting, objects numpy cannot hold
        raise fault(f"labels are not one integer per image ({type(err).__name__}: {err})") from err
    if values.ndim != 1:
        raise fault(f"labels have shape {tuple(values.shape)}, not one integer per image")
    if values.dtype.kind == "O" and all(isinstance(v, int) for v in values):
        pass  # Python integers too large for int64: refused below as out of range
    elif values.dtype.kind not in "iub":
        raise fault(f"labels hold {values.dtype} values, not integers")
    if len(values) != images:
        other = f" in {images_where.name}" if images_where is not None and images_where != where else ""
        raise fault(f"{len(values):,} labels for {images:,} images{other}")
    outside = np.flatnonzero((values < 0) | (values >= classes))
    if len(outside):
        first = int(outside[0])
        many = f"{len(outside):,} labels lie" if len(outside) > 1 else "it is the only one"
        raise fault(f"label {values[first]} at position {first:,}; {many} outside 0..{classes - 1} "
                    f"({classes} classes)")
    return torch.from_numpy(values.astype(np.int64))
