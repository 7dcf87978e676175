"""Seeds and train/test splits shared by the loaders: deterministic, and checked like a config."""

from __future__ import annotations

import torch

from explorer.config import ConfigError, DataConfig
from explorer.config.bounds import MAX_DATA_SEED


def seed_of(cfg: DataConfig, default: int = 0) -> int:
    """``data.seed`` (or ``default``), checked to fit every generator the loaders use.

    Example:
        >>> seed_of(DataConfig("moons", {"seed": 7}))
        7
    """
    seed = cfg.get("seed", default)
    if seed > MAX_DATA_SEED:
        raise ConfigError(f"data.seed must be at most {MAX_DATA_SEED}, got {seed}", field="data.seed")
    return seed


def _check_split(n: int, n_test: int, test_fraction: float) -> None:
    if n_test == 0 or n_test == n:
        raise ConfigError(f"data.test_fraction: {test_fraction:g} of {n} samples leaves an empty "
                          "train or test split; use more samples or another data.test_fraction",
                          field="data.test_fraction")


def shuffled_split(n: int, test_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, test) of ``n`` samples shuffled with ``seed``; the test split holds
    ``round(n * test_fraction)`` of them.

    Example:
        >>> train, test = shuffled_split(10, 0.2, seed=0)
        >>> len(train), len(test), sorted(train.tolist() + test.tolist()) == list(range(10))
        (8, 2, True)
    """
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = round(n * test_fraction)
    _check_split(n, n_test, test_fraction)
    return order[n_test:], order[:n_test]


def stratified_split(labels: torch.Tensor, test_fraction: float,
                     seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, test), both in one shuffled order, with ``round(count * test_fraction)`` of
    each class in the test split.

    Example:
        >>> train, test = stratified_split(torch.tensor([0] * 10 + [1] * 5), 0.2, seed=0)
        >>> torch.tensor([0] * 10 + [1] * 5)[test].bincount().tolist()
        [2, 1]
    """
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    shuffled = labels[order]
    counts = shuffled.bincount()
    n_test = (counts * test_fraction).round().long()
    _check_split(len(labels), int(n_test.sum()), test_fraction)
    # A sample's rank among the earlier samples of its class in the shuffled order.
    rank = torch.nn.functional.one_hot(shuffled, len(counts)).cumsum(0)[torch.arange(len(order)), shuffled] - 1
    in_test = rank < n_test[shuffled]
    return order[~in_test], order[in_test]
