"""Helpers for the catalogue's smoke tests: small fake folders in the real idx format, and an entry
trained at smoke scale with every run checked for a finished run and finite losses.

Example:
    >>> import tempfile, pathlib
    >>> root = write_fake_idx(pathlib.Path(tempfile.mkdtemp()), ("MNIST",), 20, 10)
    >>> sorted(p.name for p in (root / "MNIST" / "raw").iterdir())[:2]
    ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from explorer.engine.trainer import train
from explorer.experiments.measures import measure
from tests.test_data import write_idx


def write_fake_idx(root: Path, folders: tuple[str, ...] = ("MNIST",), n_train: int = 300, n_test: int = 150) -> Path:
    """Random 28×28 images with labels 0–9 in cycle, in ``root/<folder>/raw`` for each folder
    (torchvision's layout: MNIST, FashionMNIST, KMNIST, ...); returns ``root``."""
    rng = np.random.default_rng(0)
    for folder in folders:
        write_idx(root / folder / "raw", "train", rng.integers(0, 256, (n_train, 28, 28)), np.arange(n_train) % 10)
        write_idx(root / folder / "raw", "t10k", rng.integers(0, 256, (n_test, 28, 28)), np.arange(n_test) % 10)
    return root


def train_at_smoke(entry, root: Path) -> dict:
    """Every run of ``entry`` trained at smoke scale on the CPU with one thread, from the data in
    ``root``: label -> TrainResult, each checked to have finished with finite train and test losses
    and a finite value of every metric the entry publishes for its run."""
    torch.set_num_threads(1)
    out = {}
    for label, cfg in entry.configs("smoke", root=str(root), device="cpu"):
        result = train(cfg)
        assert result.status == "done", (entry.id, label, result.status)
        assert math.isfinite(result.final["train_loss"]) and math.isfinite(result.final["test_loss"]), (entry.id, label)
        for p in entry.published:
            if p.run == label:
                assert math.isfinite(measure(result.final, p.metric)), (entry.id, label, p.metric)
        out[label] = result
    return out
