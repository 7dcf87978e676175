"""Datasets as tensors on the run's device.

Example:
    >>> from explorer.config import DataConfig
    >>> load_dataset(DataConfig("digits"), "cpu").num_classes
    10
"""

from __future__ import annotations

import torch

from ..config import DataConfig
from .base import Dataset
from .embedded import load_digits, load_random
from .vision import DatasetNotFound, load_mnist

LOADERS = {"digits": load_digits, "random": load_random, "mnist": load_mnist}


def load_dataset(cfg: DataConfig, device: torch.device | str) -> Dataset:
    """Load the configured dataset and move all of it to ``device``."""
    return LOADERS[cfg.name](cfg).to(device)


__all__ = ["Dataset", "DatasetNotFound", "load_dataset"]
