"""The options each dataset takes, each an `Option` with its type and sane range, for validating
``data`` at the door (no torch here).

Every option may be left out: the loader then uses its default (its docstring in `explorer.data`
says which, and what each option means). Counts are bounded so that a dataset's arrays stay
addressable (`bounds.MAX_SAMPLES`); whether they fit the device's memory is checked when the run
is built (`explorer.engine.footprint`).

Example:
    >>> sorted(DATASET_OPTIONS["random"])
    ['classes', 'features', 'samples', 'seed', 'test_samples']
    >>> DATASET_OPTIONS["parity"]["base"].choices
    ('mnist', 'digits')
    >>> DATASET_OPTIONS["random"]["samples"].read(1e30, "data.samples")
    Traceback (most recent call last):
    ...
    explorer.config.ConfigError: data.samples must be at most 100000000, got 1e+30
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from explorer.config.bounds import MAX_CLASSES, MAX_DATA_SEED, MAX_IMAGE_SIDE, MAX_MAGNITUDE, MAX_SAMPLES, MAX_WIDTH
from explorer.config.fields import ConfigError, integer, shown
from explorer.config.registry import Option

MAX_DIGITS = 1000  # parity: digit images side by side in one input


def _count(name: str, help: str, low: int = 1, high: int = MAX_SAMPLES) -> Option:
    return Option(name, "int", None, name.replace("_", " "), help, low=low, high=high)


def _choice(name: str, help: str, choices: tuple[str, ...]) -> Option:
    return Option(name, "choice", None, name, help, choices=choices)


SAMPLES = _count("samples", "samples to generate (the loader says how they split into train and test)")
TEST_SAMPLES = _count("test_samples", "test samples to generate, or the first ones of the test split to use")
TRAIN_SAMPLES = _count("train_samples", "the first samples of the training split to use (default: all)")
SEED = _count("seed", "the seed of the data's random draws", low=0, high=MAX_DATA_SEED)
CLASSES = _count("classes", "number of classes", low=2, high=MAX_CLASSES)
TEST_FRACTION = Option("test_fraction", "float", None, "test fraction", "the share of the samples held out for testing",
                       above=0.0, below=1.0)
NOISE = Option("noise", "float", None, "noise", "standard deviation of the Gaussian noise added to the points",
               low=0.0, high=MAX_MAGNITUDE)
ROOT = Option("root", "text", None, "data folder", "the folder that holds the dataset's files")


@dataclass(frozen=True)
class SizeOption(Option):
    """An image size ``[height, width]``: two whole numbers from 1 to `MAX_IMAGE_SIDE`, read as a tuple.

    Example:
        >>> RESIZE.read([32, 32], "data.resize")
        (32, 32)
        >>> RESIZE.read([32], "data.resize")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: data.resize must be [height, width], two whole numbers, got [32]
    """

    def read(self, value: Any, path: str) -> Any:
        if value is None:
            return None
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise ConfigError(f"{path} must be [height, width], two whole numbers, got {shown(value)}", field=path)
        return tuple(integer(v, f"{path}[{i}]", minimum=1, maximum=MAX_IMAGE_SIDE) for i, v in enumerate(value))


RESIZE = SizeOption("resize", "size", None, "resize to",
                    "[height, width]: every image resized at load (bilinear, no antialiasing), before standardising")


def _options(*options: Option) -> dict[str, Option]:
    return {o.name: o for o in options}


_FOLDER = (ROOT, TRAIN_SAMPLES, TEST_SAMPLES)  # read from data.root
_IMAGES = (*_FOLDER, RESIZE)  # read from data.root, images that may be resized
_TOY = (SAMPLES, TEST_FRACTION, NOISE, SEED)

DATASET_OPTIONS: dict[str, dict[str, Option]] = {
    # Embedded: generated or shipped with an installed package.
    "digits": _options(TEST_FRACTION, SEED),
    "random": _options(SAMPLES, TEST_SAMPLES, _count("features", "input features", high=MAX_WIDTH), CLASSES, SEED),
    "mnist1d": _options(_count("samples", "train and test samples together (a tenth per class)", low=10), SEED),
    "moons": _options(*_TOY),
    "circles": _options(*_TOY),
    "xor": _options(*_TOY),
    "spiral": _options(*_TOY, CLASSES),
    "gaussians": _options(*_TOY, CLASSES),
    "parity_bits": _options(_count("bits", "random ±1 inputs", high=MAX_WIDTH),
                            _count("k", "the first k bits whose parity is the label", high=MAX_WIDTH),
                            SAMPLES, TEST_SAMPLES, SEED),
    "teacher": _options(_choice("kind", "the teacher network", ("linear", "nonlinear")), SAMPLES, TEST_SAMPLES, SEED),
    # From a data folder (torchvision's layout).
    "mnist": _options(*_IMAGES),
    "fashion_mnist": _options(*_IMAGES),
    "kmnist": _options(*_IMAGES),
    "notmnist": _options(*_IMAGES, TEST_FRACTION),
    "cifar10": _options(*_IMAGES),
    # Drawn afresh every epoch from a base dataset.
    "parity": _options(_choice("base", "the dataset whose digits are placed side by side", ("mnist", "digits")),
                       _count("k", "digits side by side in one input", high=MAX_DIGITS), SEED, *_FOLDER),
}

# The datasets whose inputs are images (C, H, W): what augmentation and resizing act on.
IMAGE_DATASETS = ("digits", "mnist", "fashion_mnist", "kmnist", "notmnist", "cifar10", "parity")
# The image datasets that take ``data.resize`` (read from files; the parity task and the digits do not).
RESIZABLE = tuple(name for name, options in DATASET_OPTIONS.items() if "resize" in options)
