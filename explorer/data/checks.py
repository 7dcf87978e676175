"""What every reader of a dataset file checks before a step is taken: labels against their images
(one integer per image, each a class 0 … classes − 1), and the most items one file may hold.

So 1,000 labels for 60,000 images, or a label 200 among ten classes, is refused at load naming
the file, instead of failing mid-training with an ``IndexError``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from explorer.data.vision import DatasetFileError

MOST_ITEMS = 1_000_000  # images one dataset file may hold (MNIST's train file 60,000, a CIFAR batch 10,000)


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
        explorer.data.vision.DatasetFileError: /d/labels: 2 labels for 3 images in images
        >>> checked_labels([0, 7, 1, 9], 4, 3, Path("/d/labels"))
        Traceback (most recent call last):
        ...
        explorer.data.vision.DatasetFileError: /d/labels: label 7 at position 1; 2 labels lie outside 0..2 (3 classes)
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
