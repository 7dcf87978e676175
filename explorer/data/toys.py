"""Two-dimensional toy problems, to watch decision boundaries form: moons, circles, xor, spiral and
gaussians. Inputs are (N, 2), standardised with the train statistics (the train mean subtracted, one
scale for both axes, so the shapes keep their proportions).

Options: ``samples`` (train + test, default 1,000), ``test_fraction`` (0.2), ``noise`` (the standard
deviation of Gaussian noise added to the points; defaults in `DEFAULT_NOISE`), ``seed`` (0), and
for spiral and gaussians ``classes`` (2).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from explorer.config import DataConfig
from explorer.data.base import Dataset, standardise
from explorer.data.splits import seed_of, shuffled_split

Points = tuple[np.ndarray, np.ndarray]  # inputs (N, 2) float and labels (N,) int
DEFAULT_NOISE = {"moons": 0.1, "circles": 0.05, "xor": 0.1, "spiral": 0.05, "gaussians": 0.5}
SPIRAL_TURNS = 1.5  # how many times each arm winds around the centre
GAUSSIANS_RADIUS = 2.0  # the class means lie evenly on a circle of this radius


def _moons(n: int, noise: float, classes: int, rng: np.random.Generator) -> Points:
    from sklearn.datasets import make_moons

    return make_moons(n, noise=noise, random_state=int(rng.integers(2**31)))


def _circles(n: int, noise: float, classes: int, rng: np.random.Generator) -> Points:
    from sklearn.datasets import make_circles

    return make_circles(n, noise=noise, factor=0.5, random_state=int(rng.integers(2**31)))


def _xor(n: int, noise: float, classes: int, rng: np.random.Generator) -> Points:
    """Uniform in [-1, 1]²; label 1 in the quadrants where the coordinates' signs differ."""
    x = rng.uniform(-1.0, 1.0, (n, 2))
    y = ((x[:, 0] > 0) != (x[:, 1] > 0)).astype(np.int64)
    return x + noise * rng.standard_normal((n, 2)), y


def _spiral(n: int, noise: float, classes: int, rng: np.random.Generator) -> Points:
    """``classes`` arms winding out from the centre, offset by equal angles; radius uniform in [0, 1]."""
    y = np.arange(n) % classes
    r = rng.uniform(0.0, 1.0, n)
    angle = 2 * math.pi * (SPIRAL_TURNS * r + y / classes)
    x = r[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)
    return x + noise * rng.standard_normal((n, 2)), y


def _gaussians(n: int, noise: float, classes: int, rng: np.random.Generator) -> Points:
    """One isotropic Gaussian blob (standard deviation ``noise``) per class, centres on a circle."""
    y = np.arange(n) % classes
    angle = 2 * math.pi * y / classes
    centres = GAUSSIANS_RADIUS * np.stack([np.cos(angle), np.sin(angle)], 1)
    return centres + noise * rng.standard_normal((n, 2)), y


TOYS: dict[str, Callable[[int, float, int, np.random.Generator], Points]] = {
    "moons": _moons, "circles": _circles, "xor": _xor, "spiral": _spiral, "gaussians": _gaussians,
}


def load_toy(cfg: DataConfig) -> Dataset:
    """The 2-D toy ``cfg.name`` (see the module's docstring for the options).

    Example:
        >>> d = load_toy(DataConfig("spiral", {"samples": 100, "classes": 3}))
        >>> tuple(d.x_train.shape), tuple(d.x_test.shape), d.num_classes
        ((80, 2), (20, 2), 3)
    """
    seed = seed_of(cfg)
    classes = cfg.get("classes", 2)
    n = cfg.get("samples", 1000)
    x, y = TOYS[cfg.name](n, cfg.get("noise", DEFAULT_NOISE[cfg.name]), classes, np.random.default_rng(seed))
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)
    train, test = shuffled_split(n, cfg.get("test_fraction", 0.2), seed)
    x_train, x_test = standardise(x[train], x[test])
    return Dataset(cfg.name, x_train, y[train], x_test, y[test], num_classes=classes)
