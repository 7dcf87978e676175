"""A dataset's shape without its data: inputs, classes and split sizes, read from the config.

What the door needs before anything is loaded or allocated (`explorer.engine.footprint` checks a
run's memory from it): the size of every split follows from the options and the loaders' defaults,
so nothing here reads a file or draws a sample.

Example:
    >>> from explorer.config import DataConfig
    >>> shape_of(DataConfig("random", {"samples": 100, "features": 5, "classes": 3}))
    DataShape(input_shape=(5,), classes=3, train=100, test=256, targets=0, probe=256, base=None)
    >>> from explorer.data import load_dataset
    >>> shape_of(DataConfig("digits")) == DataShape.of(load_dataset(DataConfig("digits"), "cpu"))
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from explorer.config import ConfigError, DataConfig
from explorer.data.base import Dataset
from explorer.data.parity import PROBE_SIZE, ParityDataset
from explorer.data.synthetic import TEACHER_SIZES

DIGITS = 1797  # scikit-learn's 8×8 digits
MNIST1D = (5000, 0.8)  # the mnist1d package's default samples and train share (get_dataset_args)
# Train and test samples of the folder datasets as their files hold them (notMNIST: one split, cut here).
FOLDER_SPLITS = {"mnist": (60_000, 10_000), "fashion_mnist": (60_000, 10_000), "kmnist": (60_000, 10_000),
                 "cifar10": (50_000, 10_000)}
NOTMNIST = 10_000
IMAGES = {"cifar10": (3, 32, 32)}  # the others are (1, 28, 28)


@dataclass(frozen=True)
class DataShape:
    """``input_shape`` of one sample, ``classes`` (0 for regression, whose targets have ``targets``
    values each), ``train`` / ``test`` samples, ``probe``: the most samples `Dataset.probe` hands
    out; ``base``: the shape of a dataset kept beside it on the device (parity's base splits)."""

    input_shape: tuple[int, ...]
    classes: int
    train: int
    test: int
    targets: int = 0
    probe: int | None = None
    base: DataShape | None = None

    def __post_init__(self) -> None:
        if self.probe is None:
            object.__setattr__(self, "probe", self.test)

    @property
    def features(self) -> int:
        return math.prod(self.input_shape)

    def nbytes(self) -> int:
        """Bytes the dataset takes on its device: float32 inputs, int64 labels (float32 targets for
        regression), and the base splits it draws from.

        Example:
            >>> DataShape((3,), 2, train=10, test=5).nbytes()   # 15 × (3 × 4 + 8)
            300
        """
        per_sample = self.features * 4 + (self.targets * 4 if self.targets else 8)
        return (self.train + self.test) * per_sample + (self.base.nbytes() if self.base else 0)

    @classmethod
    def of(cls, data: Dataset) -> DataShape:
        """The shape of a loaded dataset (what `shape_of` predicts for its config).

        Example:
            >>> import torch
            >>> y = torch.zeros(4, dtype=torch.long)
            >>> DataShape.of(Dataset("t", torch.zeros(4, 2), y, torch.zeros(1, 2), y[:1], num_classes=2))
            DataShape(input_shape=(2,), classes=2, train=4, test=1, targets=0, probe=1, base=None)
        """
        targets = data.y_train.shape[1] if data.regression else 0
        probe, base = len(data.x_test), None
        if isinstance(data, ParityDataset):  # it keeps its base splits on the device, probes from its own set
            probe = len(data.probe_index)
            base = DataShape(tuple(data.base_x_train.shape[1:]), 10, len(data.base_x_train), len(data.base_x_test))
        return cls(data.input_shape, data.num_classes, data.num_train, len(data.x_test), targets, probe, base)


def _split(n: int, test_fraction: float) -> tuple[int, int]:
    """(train, test) of ``n`` samples whose test split holds ``round(n * test_fraction)``
    (`splits.shuffled_split`)."""
    test = round(n * test_fraction)
    return n - test, test


def shape_of(cfg: DataConfig) -> DataShape:
    """The shape of the dataset ``cfg`` names, from its options and its loader's defaults.

    Example:
        >>> shape_of(DataConfig("parity", {"base": "digits", "k": 2, "train_samples": 64}))
        DataShape(input_shape=(1, 8, 16), classes=2, train=64, test=359, targets=0, probe=10000, base=DataShape(input_shape=(1, 8, 8), classes=10, train=1438, test=359, targets=0, probe=359, base=None))
        >>> shape_of(DataConfig("mnist", {"train_samples": 1000})).train
        1000
        >>> shape_of(DataConfig("mnist", {"resize": (32, 32)})).input_shape
        (1, 32, 32)
    """
    name, get = cfg.name, cfg.get
    if name == "digits":
        return DataShape((1, 8, 8), 10, *_split(DIGITS, get("test_fraction", 0.2)))
    if name == "random":
        return DataShape((get("features", 20),), get("classes", 10), get("samples", 1024), get("test_samples", 256))
    if name == "mnist1d":
        n = get("samples", MNIST1D[0]) // 10 * 10
        return DataShape((40,), 10, int(n * MNIST1D[1]), n - int(n * MNIST1D[1]))
    if name in ("moons", "circles", "xor", "spiral", "gaussians"):
        return DataShape((2,), get("classes", 2), *_split(get("samples", 1000), get("test_fraction", 0.2)))
    if name == "parity_bits":
        return DataShape((get("bits", 30),), 2, get("samples", 10_000), get("test_samples", 2_000))
    if name == "teacher":
        return DataShape((TEACHER_SIZES[0],), 0, get("samples", 5_000), get("test_samples", 1_000),
                         targets=TEACHER_SIZES[-1])
    if name == "parity":
        base = shape_of(DataConfig("digits")) if get("base", "mnist") == "digits" else shape_of(DataConfig("mnist"))
        c, h, w = base.input_shape
        return DataShape((c, h, w * get("k", 3)), 2, get("train_samples", base.train), get("test_samples", base.test),
                         probe=PROBE_SIZE, base=base)
    if name == "notmnist":
        train, test = _split(NOTMNIST, get("test_fraction", 0.2))
    else:
        train, test = FOLDER_SPLITS[name]
    channels, height, width = IMAGES.get(name, (1, 28, 28))
    height, width = get("resize", (height, width))  # data.resize: the images as the network sees them
    return DataShape((channels, height, width), 10, min(get("train_samples", train), train),
                     min(get("test_samples", test), test))


class PastTheData(ConfigError):
    """A setting past what its dataset holds (a batch larger than the training set): its trouble
    is another setting, the dataset, so a link's value alone is not refused for it."""


def check_batch(batch_size: int, train: int, dataset: str) -> None:
    """`PastTheData` if a batch of ``batch_size`` is larger than the ``train`` samples of
    ``dataset``: refused, not cut down, as the run would not be the one asked for. The door
    checks it from the dataset's shape (`shape_of`), the trainer from the loaded data.

    Example:
        >>> check_batch(100_000, 1_438, "digits")
        Traceback (most recent call last):
        ...
        explorer.data.shapes.PastTheData: train.batch_size must be at most the 1,438 training samples of 'digits', got 100,000
    """
    if batch_size > train:
        raise PastTheData(f"train.batch_size must be at most the {train:,} training samples of '{dataset}', "
                          f"got {batch_size:,}", field="train.batch_size")
