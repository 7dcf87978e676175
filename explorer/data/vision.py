"""Image datasets read from a local data folder: where it is, finding (or downloading) the files,
the offline error, and turning uint8 images into a normalised `Dataset`."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Callable, Iterator

import torch

from explorer.config import DataConfig
from explorer.data.base import Dataset
from explorer.data.errors import DatasetNotFound


def first_and_last_line(err: BaseException) -> str:
    """An error's message on one line: its first line and, where it runs over several (torchvision's
    download error lists every mirror it tried), its last, which says why.

    Example:
        >>> first_and_last_line(RuntimeError("Error downloading a.gz:\\nTried https://m1/:\\n<urlopen error x>"))
        'Error downloading a.gz: <urlopen error x>'
        >>> first_and_last_line(OSError("disk full"))
        'disk full'
    """
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if len(lines) < 2:
        return lines[0] if lines else type(err).__name__
    return f"{lines[0]} {lines[-1]}"


def data_root(cfg: DataConfig) -> Path:
    """``data.root``, else ``$EXPLORER_DATA``, else ``~/.explorer/data``.

    Example:
        >>> data_root(DataConfig("mnist", {"root": "/tmp/d"}))
        PosixPath('/tmp/d')
    """
    root = cfg.get("root") or os.environ.get("EXPLORER_DATA") or Path.home() / ".explorer" / "data"
    return Path(root).expanduser()


def find_or_download(title: str, root: Path, folder: str, files: tuple[str, ...],
                     find: Callable[[], Path | None], download: Callable[[], object] | None) -> Path:
    """``find()``'s answer; if it is None, ``download()`` (torchvision's, which checks its own
    checksums) and ``find()`` again. Raises `DatasetNotFound` naming ``root/folder`` and ``files``
    when there is no download or it fails (offline).

    Example:
        >>> find_or_download("Mine", Path("/data"), "Mine/raw", ("a.bin",), lambda: None, None)
        Traceback (most recent call last):
        ...
        explorer.data.errors.DatasetNotFound: Mine is not in /data/Mine/raw (it cannot be downloaded automatically). Put the files a.bin in that folder, or point data.root / EXPLORER_DATA at a folder that holds Mine/raw/.
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
        with undone_on_failure(root, folder):
            download()
    except (RuntimeError, OSError) as err:  # torchvision's "Dataset not found", or a network error
        raise missing(f"could not be downloaded: {first_and_last_line(err)}") from err
    found = find()
    if found is None:
        raise missing("the download did not leave them there")
    return found


@contextmanager
def undone_on_failure(root: Path, folder: str) -> Iterator[None]:
    """On an exception in the body (a failed download): the folders on the way from ``root`` (and
    its missing parents) to ``root / folder`` that the body created are removed, and in those that
    were there before, the entries it added (a partial archive). What was there stays untouched.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> try:
        ...     with undone_on_failure(root / "data", "MNIST/raw"):
        ...         (root / "data" / "MNIST" / "raw").mkdir(parents=True)
        ...         raise OSError("network is unreachable")
        ... except OSError:
        ...     pass
        >>> list(root.iterdir())
        []
    """
    missing_parents = [p for p in root.parents if not p.exists()]
    watched = [*reversed(missing_parents), *(root / p for p in reversed((Path(folder), *Path(folder).parents)))]
    before = {d: set(os.listdir(d)) if d.is_dir() else None  # None: not there yet
              for d in watched if d.is_dir() or not os.path.lexists(d)}
    completed = False
    try:
        yield
        completed = True
    finally:
        if not completed:  # the body raised (or was interrupted): its error goes on after the clean-up
            for d in before:  # shallowest first: a created folder goes with all it holds
                added = ([d] if d.exists() else []) if before[d] is None else (
                    [d / name for name in set(_listing(d)) - before[d]])
                for entry in added:
                    with suppress(OSError):  # a removal that fails must not hide why the body failed
                        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()


def _listing(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:  # removed with a folder above it, or unreadable: nothing of ours to remove there
        return []


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
