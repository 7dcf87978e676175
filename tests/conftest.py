"""Shared fixtures: where the real MNIST files are (``../shared/data`` beside the repository)."""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path

import pytest

SHARED_DATA = Path(os.environ.get("EXPLORER_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only folder with MNIST/raw/*.gz; tests that need it skip where it is absent."""
    if not (SHARED_DATA / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST files not found under {SHARED_DATA}")
    return SHARED_DATA


def small_config(**sections) -> dict:
    """A fast config on the embedded digits data, with sections replaced by ``sections``."""
    cfg = {"data": {"name": "digits"}, "model": {"name": "mlp", "hidden": [32, 16], "activation": "tanh"},
           "algorithm": {"name": "bp"}, "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
           "train": {"epochs": 1, "batch_size": 64}, "seed": 0, "device": "cpu"}
    cfg.update(sections)
    return cfg


def epochs_lasting(cfg: dict, seconds: float) -> int:
    """Epochs of ``cfg`` that train for about ``seconds`` on this machine, timed on two epochs
    trained alone after a warm-up step: for tests that must see a run while it trains, whatever
    the machine's pace (a fixed count can end before a poller's first look on a fast machine)."""
    from explorer import Trainer

    trainer = Trainer(cfg | {"train": cfg["train"] | {"epochs": 2}})
    trainer.step()
    start = time.perf_counter()
    trainer.run()
    per_epoch = (time.perf_counter() - start) / (2 - 1 / trainer.steps_per_epoch)
    return max(2, math.ceil(seconds / per_epoch))


@pytest.fixture()
def store_path(tmp_path, monkeypatch):
    """A fresh run store for the app or library under test (``$EXPLORER_STORE`` names it): its path."""
    path = tmp_path / "runs.sqlite"
    monkeypatch.setenv("EXPLORER_STORE", str(path))
    return path


@pytest.fixture()
def held_while_building(monkeypatch) -> threading.Event:
    """Runs started from now on stay ``running`` in the store, their Trainer not yet built, until
    the returned event is set (set again at the end of the test): for tests that look at a run
    while it trains, without racing it to its end."""
    from explorer.engine import trainer

    release, real_trainer = threading.Event(), trainer.Trainer

    def slow_to_build(config, **kw):
        release.wait(60)
        return real_trainer(config, **kw)

    monkeypatch.setattr(trainer, "Trainer", slow_to_build)
    yield release
    release.set()
