"""Is a dataset's data here? A cheap check of files on disk, for front ends to ask before a run starts.

Loading a folder dataset reads tens of megabytes and may try a download; a front end only needs to
know, at the door, whether the files are there and, if not, what to tell the user.

Example:
    >>> from explorer.config import DataConfig
    >>> missing(DataConfig("digits", {})) is None       # built in
    True
    >>> print(missing(DataConfig("mnist", {"root": "/nowhere"})))
    MNIST is not in /nowhere/MNIST/raw. Put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz there (torchvision's layout; the unpacked files work too), or choose a data folder that holds MNIST/raw. Without files, the built-in 'digits' dataset works offline.
"""

from __future__ import annotations

from pathlib import Path

from explorer.config import DataConfig
from explorer.data.cifar import FOLDER as CIFAR_FOLDER
from explorer.data.cifar import TEST_FILES as CIFAR_TEST
from explorer.data.cifar import TRAIN_FILES as CIFAR_TRAIN
from explorer.data.idx import IDX_SOURCES, located
from explorer.data.vision import data_root


def _absent(folder: Path, files: tuple[str, ...], unpacked_ok: bool) -> bool:
    def here(f: str) -> bool:
        return located(folder, f) is not None if unpacked_ok else (folder / f).exists()
    return not all(here(f) for f in files)


def missing(cfg: DataConfig) -> str | None:
    """None if ``cfg``'s data is available without a download, else what to do about it."""
    name = cfg.name
    if name == "parity":
        if cfg.get("base", "mnist") != "mnist":
            return None
        name = "mnist"
    root = data_root(cfg)
    if name in IDX_SOURCES:
        source = IDX_SOURCES[name]
        folder, files, title, unpacked = root / source.folder / "raw", source.files, source.title, True
        where = f"{source.folder}/raw"
    elif name == "cifar10":
        folder, files, title, unpacked = root / CIFAR_FOLDER, CIFAR_TRAIN + CIFAR_TEST, "CIFAR-10", False
        where = CIFAR_FOLDER
    else:
        return None  # built in or generated
    if not _absent(folder, files, unpacked):
        return None
    return (f"{title} is not in {folder}. Put {', '.join(files)} there (torchvision's layout"
            f"{'; the unpacked files work too' if unpacked else ''}), or choose a data folder that holds "
            f"{where}. Without files, the built-in 'digits' dataset works offline.")
