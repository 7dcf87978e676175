"""Tasks generated from a known rule: sparse parities of random bits, and Lillicrap's teacher
networks (regression). Train and test samples are independent draws from the same rule."""

from __future__ import annotations

import torch

from explorer.config import ConfigError, DataConfig
from explorer.data.base import Dataset
from explorer.data.splits import seed_of

TEACHER_SIZES = (30, 20, 10, 10)  # the nonlinear teacher: inputs, two tanh layers, linear outputs
TEACHER_GAIN = 3.0  # its hidden weights are N(0, gain² / fan_in); the outputs' N(0, 1 / fan_in)


def _split(name: str, x: torch.Tensor, y: torch.Tensor, n_train: int, num_classes: int) -> Dataset:
    return Dataset(name, x[:n_train], y[:n_train], x[n_train:], y[n_train:], num_classes=num_classes)


def load_parity_bits(cfg: DataConfig) -> Dataset:
    """Sparse parity (Daniely & Malach): ``bits`` uniformly random ±1 inputs (default 30); the label
    is the parity of the FIRST ``k`` bits (default 3): 1 when an odd number of them is -1 (their
    product is -1), else 0. ``samples`` train (10,000) and ``test_samples`` (2,000) samples. The
    ±1 inputs already have mean 0 and variance 1 and are used as they are.

    Example:
        >>> d = load_parity_bits(DataConfig("parity_bits", {"bits": 4, "k": 2, "samples": 8}))
        >>> bool((d.y_train == (d.x_train[:, 0] * d.x_train[:, 1] < 0).long()).all())
        True
    """
    bits, k = cfg.get("bits", 30), cfg.get("k", 3)
    if k > bits:
        raise ConfigError(f"data.k must be at most data.bits ({bits}), got {k}", field="data.k")
    n_train, n_test = cfg.get("samples", 10_000), cfg.get("test_samples", 2_000)
    g = torch.Generator().manual_seed(seed_of(cfg))
    x = torch.randint(0, 2, (n_train + n_test, bits), generator=g).float() * 2 - 1
    y = ((x[:, :k] < 0).sum(1) % 2).long()
    return _split("parity_bits", x, y, n_train, num_classes=2)


def _teacher(kind: str, g: torch.Generator):
    """The teacher's function of x (N, 30) -> (N, 10), with weights drawn from ``g``."""
    if kind == "linear":
        t = torch.rand(TEACHER_SIZES[-1], TEACHER_SIZES[0], generator=g) * 2 - 1  # U[-1, 1], (10, 30)
        return lambda x: x @ t.T
    shapes = list(zip(TEACHER_SIZES[1:], TEACHER_SIZES[:-1]))
    gains = [TEACHER_GAIN] * (len(shapes) - 1) + [1.0]
    weights = [torch.randn(*shape, generator=g) * gain / shape[1] ** 0.5 for shape, gain in zip(shapes, gains)]

    def forward(x: torch.Tensor) -> torch.Tensor:
        for w in weights[:-1]:
            x = torch.tanh(x @ w.T)
        return x @ weights[-1].T
    return forward


def load_teacher(cfg: DataConfig) -> Dataset:
    """Lillicrap et al.'s regression tasks (train with ``mse``): inputs x ~ N(0, 1) of 30 dimensions
    and 10 float targets y (N, 10) from a random teacher drawn with ``seed``; ``num_classes`` is 0.

    ``kind`` "linear" (default): y = T x with T ~ U[-1, 1] of shape (10, 30). ``kind`` "nonlinear":
    a 30-20-10-10 network, y = W3 tanh(W2 tanh(W1 x)), no biases, with hidden weights
    N(0, 3² / fan_in) (first pre-activations of standard deviation 3, so tanh saturates often) and
    output weights N(0, 1 / fan_in); targets have a standard deviation near 0.8 and the best linear
    fit explains only about 65% of their variance. ``samples`` train (5,000) and ``test_samples``
    (1,000) samples.

    Example:
        >>> d = load_teacher(DataConfig("teacher", {"samples": 50, "test_samples": 10}))
        >>> tuple(d.x_train.shape), tuple(d.y_train.shape), d.num_classes, d.regression
        ((50, 30), (50, 10), 0, True)
    """
    g = torch.Generator().manual_seed(seed_of(cfg))
    teacher = _teacher(cfg.get("kind", "linear"), g)
    n_train = cfg.get("samples", 5_000)
    x = torch.randn(n_train + cfg.get("test_samples", 1_000), TEACHER_SIZES[0], generator=g)
    return _split("teacher", x, teacher(x), n_train, num_classes=0)
