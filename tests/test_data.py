"""Datasets: embedded digits, random data, MNIST from a local folder, and the offline error."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from explorer import DatasetNotFound
from explorer.config import DataConfig
from explorer.data import load_dataset
from tests.conftest import small_config


def test_digits_is_split_standardised_and_labelled():
    d = load_dataset(DataConfig("digits"), "cpu")
    assert d.num_train + len(d.x_test) == 1797 and len(d.x_test) == round(1797 * 0.2)
    assert d.input_shape == (1, 8, 8) and d.num_classes == 10
    assert abs(d.x_train.mean().item()) < 1e-5 and d.x_train.std().item() == pytest.approx(1.0, rel=1e-3)
    assert set(d.y_train.tolist()) == set(range(10))
    # Train and test hold different samples.
    train_rows = {tuple(r) for r in d.x_train.flatten(1).tolist()}
    assert sum(tuple(r) in train_rows for r in d.x_test.flatten(1).tolist()) < 5  # digits has a few duplicates


def test_digits_are_scikit_learns_read_without_importing_it():
    from sklearn.datasets import load_digits as sklearn_digits  # the independent reading

    from explorer.data import embedded

    x, y = embedded._digits()
    bunch = sklearn_digits()
    assert torch.equal(x.flatten(1), torch.tensor(bunch.data, dtype=torch.float32) / 16.0)
    assert torch.equal(y, torch.tensor(bunch.target))
    # a fresh process that trains on digits never pays for scikit-learn's import (scipy and more)
    import subprocess
    import sys

    code = ("import sys; from explorer.data import load_dataset; from explorer.config import DataConfig; "
            "load_dataset(DataConfig('digits'), 'cpu'); print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr[-800:]


def test_a_missing_scikit_learn_digits_file_is_named(monkeypatch, tmp_path):
    import importlib.machinery

    from explorer.data import embedded

    fake = importlib.machinery.ModuleSpec("sklearn", None, is_package=True)
    fake.submodule_search_locations = [str(tmp_path)]
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: fake)
    with pytest.raises(FileNotFoundError, match=r"digits\.csv\.gz.*reinstall scikit-learn"):
        embedded.digits_file()


def test_random_data_has_the_asked_shape_and_classes():
    d = load_dataset(DataConfig("random", {"samples": 300, "test_samples": 50, "features": 7, "classes": 4}), "cpu")
    assert tuple(d.x_train.shape) == (300, 7) and tuple(d.x_test.shape) == (50, 7)
    assert d.y_train.max().item() == 3 and d.num_classes == 4


def write_idx(folder, prefix, images: np.ndarray, labels: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, len(images), 28, 28) + images.astype(np.uint8).tobytes())
    with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes())


def test_mnist_is_read_from_a_folder_in_torchvisions_layout(tmp_path):
    rng = np.random.default_rng(0)
    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw, "train", rng.integers(0, 256, (30, 28, 28)), np.arange(30) % 10)
    write_idx(raw, "t10k", rng.integers(0, 256, (10, 28, 28)), np.arange(10)[::-1])
    d = load_dataset(DataConfig("mnist", {"root": str(tmp_path)}), "cpu")
    assert tuple(d.x_train.shape) == (30, 1, 28, 28) and d.y_test.tolist() == list(range(10))[::-1]
    assert abs(d.x_train.mean().item()) < 1e-5


def test_mnist_root_comes_from_the_environment_when_the_config_has_none(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    write_idx(tmp_path / "MNIST" / "raw", "train", rng.integers(0, 256, (5, 28, 28)), np.arange(5))
    write_idx(tmp_path / "MNIST" / "raw", "t10k", rng.integers(0, 256, (3, 28, 28)), np.arange(3))
    monkeypatch.setenv("EXPLORER_DATA", str(tmp_path))
    assert load_dataset(DataConfig("mnist"), "cpu").num_train == 5


def test_real_mnist_from_the_shared_read_only_folder(shared_data):
    d = load_dataset(DataConfig("mnist", {"root": str(shared_data), "train_samples": 2000}), "cpu")
    assert d.num_train == 2000 and len(d.x_test) == 10000 and d.input_shape == (1, 28, 28)
    assert d.y_test.bincount().min() > 800  # every digit is there


def test_missing_mnist_offline_says_which_folder_and_files(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network is unreachable")
    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(DatasetNotFound) as err:
        load_dataset(DataConfig("mnist", {"root": str(tmp_path / "empty")}), "cpu")
    message = str(err.value)
    assert str(tmp_path / "empty" / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message


def test_training_on_real_mnist_reaches_a_sane_accuracy(shared_data):
    cfg = small_config(data={"name": "mnist", "root": str(shared_data), "train_samples": 5000, "test_samples": 2000},
                       model={"name": "mlp", "hidden": [128], "activation": "relu"},
                       algorithm={"name": "dfa"}, train={"epochs": 2, "batch_size": 64},
                       optimizer={"name": "sgd", "lr": 0.01, "momentum": 0.9})
    from explorer import train
    assert train(cfg).final["test_acc"] > 0.8
