"""Helpers the catalogue tests of Shah, Thakkar et al. and Espinosa Zarlenga & Niklasson share: small
data folders of random pixels in the real formats, and the checks every entry must pass."""

from __future__ import annotations

import math

import numpy as np

from explorer.experiments.catalogue import CATALOGUE
from tests.test_data import write_idx
from tests.test_datasets import write_cifar_batch


def write_random_images(root, mnist: bool = True, notmnist: bool = False, cifar: bool = False) -> None:
    """MNIST (300 train, 150 test), notMNIST (800 letters: 640 train, 160 test) and CIFAR-10 (5 × 60
    train, 150 test) of random pixels, labels cycling through the 10 classes, under ``root``."""
    rng = np.random.default_rng(0)
    if mnist:
        for prefix, n in (("train", 300), ("t10k", 150)):
            write_idx(root / "MNIST" / "raw", prefix, rng.integers(0, 256, (n, 28, 28)), np.arange(n) % 10)
    if notmnist:
        write_idx(root / "notMNIST" / "raw", "t10k", rng.integers(0, 256, (800, 28, 28)), np.arange(800) % 10)
    if cifar:
        folder = root / "cifar-10-batches-py"
        folder.mkdir()
        for name, n in [*((f"data_batch_{b}", 60) for b in range(1, 6)), ("test_batch", 150)]:
            write_cifar_batch(folder / name, rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8),
                              (np.arange(n) % 10).tolist())


def published_values(module, source: str) -> dict:
    """The module's published values as {(entry id, run, metric): value}, each key once, every entry
    from ``source`` and in the catalogue; the checks on each `Published` are the caller's."""
    out = {}
    for entry in module.ENTRIES:
        assert entry.source == source and CATALOGUE.get(entry.id) is entry
        for p in entry.published:
            assert (entry.id, p.run, p.metric) not in out
            out[(entry.id, p.run, p.metric)] = p.value
    return out


def assert_validates(entries, scale: str, root) -> None:
    """Every entry builds a config per run at ``scale``, in order, reading its data from ``root``."""
    for entry in entries:
        runs = entry.configs(scale, root=str(root), seed=2)
        assert [label for label, _ in runs] == [r.label for r in entry.runs]
        assert all(cfg.data.get("root") == str(root) and cfg.seed == 2 for _, cfg in runs)
        assert all(cfg.data.name == entry.dataset for _, cfg in runs)


def assert_trained(label: str, cfg, result) -> None:
    """A smoke run ended normally, after its one epoch, with finite accuracies and losses."""
    assert result.status == "done", label
    final = result.history[-1]
    assert final["epoch"] == cfg.train.epochs == 1, label
    assert all(math.isfinite(final[k]) for k in ("test_acc", "test_loss", "train_loss", "train_acc")), label
