"""The MNIST family, one code path for four datasets in MNIST's format (gzip'd IDX files, 28×28
grey images, 10 classes): MNIST, Fashion-MNIST, KMNIST and notMNIST.

Each is read from ``<root>/<folder>/raw/`` (root: `data_root`), laid out as torchvision lays it
out; torchvision downloads the first three where there is a network. Images are (N, 1, 28, 28),
scaled to [0, 1] and standardised with the train split's mean and standard deviation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from explorer.config import DataConfig
from explorer.data.base import Dataset
from explorer.data.splits import stratified_split
from explorer.data.vision import DatasetFileError, data_root, find_or_download, image_dataset, unpacked_root

NOTMNIST_SEED = 0  # the fixed shuffle of notMNIST's train/test split


@dataclass(frozen=True)
class IdxSource:
    """Where one MNIST-format dataset lives: ``<root>/<folder>/raw/<split>-{images,labels}-…gz``,
    and the torchvision class that can download it (None: no download)."""

    title: str
    folder: str
    torchvision: str | None
    splits: tuple[str, ...] = ("train", "t10k")

    @property
    def files(self) -> tuple[str, ...]:
        """The .gz files expected in ``<folder>/raw``.

        Example:
            >>> IDX_SOURCES["notmnist"].files
            ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')
        """
        return tuple(f"{split}-{kind}-ubyte.gz" for split in self.splits for kind in ("images-idx3", "labels-idx1"))


IDX_SOURCES = {
    "mnist": IdxSource("MNIST", "MNIST", "MNIST"),
    "fashion_mnist": IdxSource("Fashion-MNIST", "FashionMNIST", "FashionMNIST"),
    "kmnist": IdxSource("KMNIST", "KMNIST", "KMNIST"),
    # notMNIST_small's 10,000 letters A-J in MNIST's format; it has no train split (load_notmnist).
    "notmnist": IdxSource("notMNIST", "notMNIST", None, ("t10k",)),
}


def read_idx(name: str, cfg: DataConfig) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Each split's uint8 images (N, 1, 28, 28) and int64 labels, by file prefix ("train", "t10k").

    Looks in ``<root>/<folder>/raw``; if the files are missing it tries torchvision's download, and
    offline (or for notMNIST, which has none) raises `DatasetNotFound` naming the folder and files.

    Example (with the files in ``../shared/data/notMNIST/raw``)::

        read_idx("notmnist", DataConfig("notmnist", {"root": "../shared/data"}))["t10k"][0].shape
        # torch.Size([10000, 1, 28, 28])
    """
    import torchvision.datasets
    from torchvision.datasets.mnist import read_image_file, read_label_file

    source, root = IDX_SOURCES[name], data_root(cfg)

    def download() -> object:  # all splits, unpacked next to the .gz files, checksums checked
        return getattr(torchvision.datasets, source.torchvision)(str(root), train=True, download=True)

    ready = find_or_download(source.title, root, f"{source.folder}/raw", source.files,
                             lambda: unpacked_root(root, source.folder, source.files),
                             download if source.torchvision else None)
    raw = ready / source.folder / "raw"
    return {split: (_read(read_image_file, raw / f"{split}-images-idx3-ubyte", source.title).unsqueeze(1),
                    _read(read_label_file, raw / f"{split}-labels-idx1-ubyte", source.title))
            for split in source.splits}


def _read(reader, path, title: str) -> torch.Tensor:
    """``reader(path)`` (torchvision's IDX readers), with a file that is not IDX said as such: they
    fail with a bare ``AssertionError`` (wrong magic number) or a shape error, naming nothing."""
    try:
        return reader(str(path))
    except (AssertionError, RuntimeError, ValueError, EOFError) as err:
        detail = f" ({type(err).__name__}: {err})" if str(err) else f" ({type(err).__name__})"
        raise DatasetFileError(f"{title} file {path} is not a readable IDX file (MNIST's format){detail}; "
                                f"put the original files in {path.parent}") from err


def load_mnist_like(cfg: DataConfig) -> Dataset:
    """MNIST, Fashion-MNIST or KMNIST (``cfg.name``): their own train and test splits, the first
    ``train_samples`` / ``test_samples`` of each.

    Example (with the files in ``../shared/data/MNIST/raw``)::

        d = load_mnist_like(DataConfig("mnist", {"root": "../shared/data", "train_samples": 100}))
        d.input_shape  # (1, 28, 28)
    """
    splits = read_idx(cfg.name, cfg)
    return image_dataset(cfg.name, splits["train"], splits["t10k"], cfg, num_classes=10)


def load_notmnist(cfg: DataConfig) -> Dataset:
    """notMNIST's 10,000 letters A–J (labels 0–9), split into train and test here: a stratified
    split (``test_fraction``, default 0.2, of every letter) in an order shuffled with a fixed seed,
    so that the first ``train_samples`` / ``test_samples`` hold every letter.

    Example (with the files in ``../shared/data/notMNIST/raw``)::

        d = load_notmnist(DataConfig("notmnist", {"root": "../shared/data"}))
        d.num_train, len(d.x_test)  # (8000, 2000)
    """
    images, labels = read_idx("notmnist", cfg)["t10k"]
    train, test = stratified_split(labels, cfg.get("test_fraction", 0.2), NOTMNIST_SEED)
    return image_dataset("notmnist", (images[train], labels[train]), (images[test], labels[test]), cfg,
                         num_classes=10)
