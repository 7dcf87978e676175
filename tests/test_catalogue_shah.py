"""Shah's Tables I-III in the catalogue (`shah`): the published values against the rows typed here from
the document's text, the settings its Sections IV-V describe, every entry validated at the three scales
and trained at smoke scale on small MNIST and CIFAR-10 folders in the real formats."""

from __future__ import annotations

import pytest

from explorer.engine.trainer import train
from explorer.experiments.catalogue import CATALOGUE, shah
from tests.catalogue_helpers import assert_trained, assert_validates, published_values, write_random_images

# 001_fdf9ec2506aa1305.txt, Section V: (entry, run, metric) -> value in %.
PUBLISHED = {
    ("shah-t1", "BP", "train_acc"): 97.48, ("shah-t1", "BP", "test_acc"): 92.10,
    ("shah-t1", "DFA", "train_acc"): 95.00, ("shah-t1", "DFA", "test_acc"): 92.46,
    ("shah-t3", "BP", "train_acc"): 99.12, ("shah-t3", "BP", "test_acc"): 73.53,
    ("shah-t3", "DFA", "train_acc"): 99.38, ("shah-t3", "DFA", "test_acc"): 79.97,
    ("shah-t3", "SSDFA", "train_acc"): 99.26, ("shah-t3", "SSDFA", "test_acc"): 78.94,
}
IDS = ["shah-t1", "shah-t2", "shah-t3"]


def test_the_published_values_are_the_document_s_nothing_missing_nothing_extra():
    catalogue = published_values(shah, "001_fdf9ec2506aa1305.txt")
    assert all(p.at == "final" and not p.approx for e in shah.ENTRIES for p in e.published)
    assert catalogue == PUBLISHED
    assert [e.id for e in shah.ENTRIES] == IDS and [e.ref for e in shah.ENTRIES] == ["TABLE I", "TABLE II", "TABLE III"]


def test_table_one_is_100_plain_sgd_steps_of_200_images_on_the_summed_bce():
    (_, bp), (_, dfa) = CATALOGUE["shah-t1"].configs("full")
    assert (bp.algorithm.name, dfa.algorithm.name) == ("bp", "dfa")
    assert bp.model.hidden == (800,) and bp.model.activation == "tanh" and bp.data.name == "mnist"
    assert (bp.optimizer.name, bp.optimizer.lr, bp.optimizer.momentum) == ("sgd", 1e-4, 0.0)
    assert (bp.train.loss, bp.train.reduction) == ("bce_multi", "sum")
    steps = bp.data.get("train_samples") // bp.train.batch_size * bp.train.epochs
    assert (steps, bp.train.batch_size) == (100, 200)


def test_tables_two_and_three_are_the_tanh_cifar_cnn_for_50_epochs_of_batch_64():
    labels = {"shah-t2": ["BP"], "shah-t3": ["BP", "DFA", "SSDFA"]}
    for entry_id, expected in labels.items():
        runs = CATALOGUE[entry_id].configs("full")
        assert [label for label, _ in runs] == expected
        assert [cfg.algorithm.name for _, cfg in runs] == [label.lower() for label in expected]
        for _, cfg in runs:
            assert (cfg.data.name, cfg.model.name, cfg.model.activation) == ("cifar10", "cifar_cnn", "tanh")
            assert (cfg.train.epochs, cfg.train.batch_size, cfg.optimizer.lr) == (50, 64, 1e-4)
            assert (cfg.train.loss, cfg.train.reduction) == ("bce_multi", "sum")


@pytest.mark.parametrize("scale", ["full", "classroom", "smoke"])
def test_every_entry_validates_at_every_scale(scale, tmp_path):
    assert_validates(shah.ENTRIES, scale, tmp_path)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_random_images(root, cifar=True)
    return root


@pytest.mark.parametrize("entry_id", IDS)
def test_every_entry_trains_at_smoke_scale(entry_id, data_root):
    for label, cfg in CATALOGUE[entry_id].configs("smoke", root=str(data_root), device="cpu"):
        assert cfg.data.get("train_samples") <= 256 and cfg.data.get("test_samples") <= 128
        assert_trained(label, cfg, train(cfg))
