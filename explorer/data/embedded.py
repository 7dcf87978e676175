"""Datasets that need no download: scikit-learn's 8×8 digits and random memorisation data."""

from __future__ import annotations

import torch

from ..config import DataConfig
from .base import Dataset, standardise


def load_digits(cfg: DataConfig) -> Dataset:
    """scikit-learn's 1,797 8×8 digits as (N, 1, 8, 8) images, split by ``test_fraction`` (0.2).

    Example:
        >>> d = load_digits(DataConfig("digits"))
        >>> d.input_shape, d.num_classes
        ((1, 8, 8), 10)
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = torch.tensor(bunch.data, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.int64)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(cfg.get("seed", 0)))
    n_test = round(len(y) * cfg.get("test_fraction", 0.2))
    test, train = order[:n_test], order[n_test:]
    x_train, x_test = standardise(x[train], x[test])
    return Dataset("digits", x_train, y[train], x_test, y[test], num_classes=10)


def load_random(cfg: DataConfig) -> Dataset:
    """Gaussian inputs with uniformly random labels: a network can only memorise them.

    Example:
        >>> d = load_random(DataConfig("random", {"samples": 8, "features": 3, "classes": 2}))
        >>> tuple(d.x_train.shape), d.num_classes
        ((8, 3), 2)
    """
    g = torch.Generator().manual_seed(cfg.get("seed", 0))
    n_train, n_test = cfg.get("samples", 1024), cfg.get("test_samples", 256)
    features, classes = cfg.get("features", 20), cfg.get("classes", 10)
    x = torch.randn(n_train + n_test, features, generator=g)
    y = torch.randint(0, classes, (n_train + n_test,), generator=g)
    return Dataset("random", x[:n_train], y[:n_train], x[n_train:], y[n_train:], num_classes=classes)
