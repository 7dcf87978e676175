"""The MNIST family, one code path for four datasets in MNIST's format (gzip'd IDX files, 28×28
grey images, 10 classes): MNIST, Fashion-MNIST, KMNIST and notMNIST.

Each is read from ``<root>/<folder>/raw/`` (root: `data_root`), laid out as torchvision lays it
out; torchvision downloads the first three where there is a network. Images are (N, 1, 28, 28),
scaled to [0, 1] and standardised with the train split's mean and standard deviation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from explorer.config import DataConfig
from explorer.data.base import Dataset
from explorer.data.checks import checked_labels
from explorer.data.idxfile import read_idx_file
from explorer.data.splits import stratified_split
from explorer.data.vision import data_root, find_or_download, image_dataset

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
    """Each split's uint8 images (N, 1, 28, 28) and int64 labels, by file prefix ("train", "t10k"),
    checked at load: every file by `read_idx_file` (magic, 28×28, a body as long as its header
    says), then one label per image, each in 0..9. A fault raises `DatasetFileError` naming the
    file; nothing is written (a .gz is read as it is, an unpacked file beside it first).

    Looks in ``<root>/<folder>/raw``; if the files are missing it tries torchvision's download, and
    offline (or for notMNIST, which has none) raises `DatasetNotFound` naming the folder and files.

    Example (with the files in ``../shared/data/notMNIST/raw``)::

        read_idx("notmnist", DataConfig("notmnist", {"root": "../shared/data"}))["t10k"][0].shape
        # torch.Size([10000, 1, 28, 28])
    """
    source, root = IDX_SOURCES[name], data_root(cfg)
    raw = root / source.folder / "raw"

    def download() -> object:  # all splits, unpacked next to the .gz files, checksums checked
        import torchvision.datasets

        return getattr(torchvision.datasets, source.torchvision)(str(root), train=True, download=True)

    find_or_download(source.title, root, f"{source.folder}/raw", source.files,
                     lambda: root if all(located(raw, f) for f in source.files) else None,
                     download if source.torchvision else None)
    splits = {}
    for split in source.splits:
        images_file, labels_file = (located(raw, f"{split}-{kind}-ubyte.gz")
                                    for kind in ("images-idx3", "labels-idx1"))
        images = read_idx_file(images_file, (28, 28))
        labels = checked_labels(read_idx_file(labels_file).numpy(), len(images), 10, labels_file, images_file)
        splits[split] = (images.unsqueeze(1), labels)
    return splits


def located(raw: Path, gz: str) -> Path | None:
    """The file to read for ``gz`` in ``raw``: its unpacked copy (torchvision's download leaves
    one; faster to read) if there is one, else the .gz itself, else None.

    Example:
        >>> located(Path("/nowhere"), "t10k-labels-idx1-ubyte.gz") is None
        True
    """
    for candidate in (raw / gz.removesuffix(".gz"), raw / gz):
        if candidate.exists():
            return candidate
    return None


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
