"""Every dataset's loader by name (`LOADERS`, options in `DATASET_OPTIONS`) and `load_dataset`,
which loads one onto a device.

Example:
    >>> from explorer.config import DataConfig
    >>> load_dataset(DataConfig("digits"), "cpu").num_classes
    10
    >>> from explorer.config.dataset_options import DATASET_OPTIONS
    >>> sorted(LOADERS) == sorted(DATASET_OPTIONS)
    True
"""

from __future__ import annotations

import torch

from explorer.config import DataConfig
from explorer.data.base import Dataset
from explorer.data.cifar import load_cifar10
from explorer.data.embedded import load_digits, load_mnist1d, load_random
from explorer.data.idx import load_mnist_like, load_notmnist
from explorer.data.parity import load_parity
from explorer.data.synthetic import load_parity_bits, load_teacher
from explorer.data.toys import TOYS, load_toy

LOADERS = {
    "digits": load_digits, "random": load_random, "mnist1d": load_mnist1d,
    **{name: load_toy for name in TOYS},
    "parity_bits": load_parity_bits, "teacher": load_teacher,
    "mnist": load_mnist_like, "fashion_mnist": load_mnist_like, "kmnist": load_mnist_like,
    "notmnist": load_notmnist, "cifar10": load_cifar10,
    "parity": load_parity,
}


def load_dataset(cfg: DataConfig, device: torch.device | str) -> Dataset:
    """Load the configured dataset and move all of it to ``device``."""
    return LOADERS[cfg.name](cfg).to(device)


__all__ = ["LOADERS", "load_dataset"]
