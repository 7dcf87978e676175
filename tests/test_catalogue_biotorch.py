"""BioTorch's LeNet table in the catalogue: the published errors against a table typed here from
../shared/REFERENCES.md; both entries build at every scale and train at smoke scale on small fake
MNIST and Fashion-MNIST folders in the real idx format (Fashion-MNIST is not on this machine)."""

from __future__ import annotations

import math

import pytest

from explorer.experiments.catalogue import CATALOGUE, SCALES, biotorch
from explorer.experiments.measures import measure
from tests.catalogue_smoke import train_at_smoke, write_fake_idx

# Top-1 test error (%), LeNet: rule -> (MNIST, Fashion-MNIST).
TABLE = {"BP": (0.91, 9.2), "FA": (1.7, 13.06), "DFA": (1.61, 12.81), "uSF": (0.94, 9.69),
         "brSF": (0.91, 10.02), "frSF": (0.97, 9.61)}
IDS = ["biotorch-mnist", "biotorch-fashion"]


def test_the_published_errors_are_the_table_s():
    for column, entry_id in enumerate(IDS):
        entry = CATALOGUE[entry_id]
        assert {p.run: p.value for p in entry.published} == {rule: row[column] for rule, row in TABLE.items()}
        assert len(entry.published) == len(TABLE)
        assert all((p.metric, p.at, p.approx) == ("test_error", "final", False) for p in entry.published)
    assert [e.id for e in biotorch.ENTRIES] == IDS


def test_the_setting_is_the_table_s():
    for entry_id, dataset in zip(IDS, ("mnist", "fashion_mnist")):
        configs = dict(CATALOGUE[entry_id].configs(root="/data"))
        assert [cfg.algorithm.name for cfg in configs.values()] == ["bp", "fa", "dfa", "usf", "brsf", "frsf"]
        cfg = configs["DFA"]
        assert (cfg.data.name, list(cfg.data.get("resize")), cfg.model.name) == (dataset, [32, 32], "lenet5")
        assert (cfg.optimizer.name, cfg.optimizer.momentum, cfg.optimizer.weight_decay) == ("sgd", 0.9, 1e-3)
        assert (cfg.train.epochs, cfg.train.batch_size) == (100, 64)
        # lr ÷10 at epochs 50 and 75 (epochs counted from 0)
        lrs = [cfg.optimizer.lr_at(e) / cfg.optimizer.lr for e in (0, 49, 50, 74, 75, 99)]
        assert lrs == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])


@pytest.mark.parametrize("scale", SCALES)
def test_both_entries_build_at_every_scale(scale, tmp_path):
    for entry in biotorch.ENTRIES:
        assert len(entry.configs(scale, root=str(tmp_path))) == 6


@pytest.fixture(scope="module")
def fake_data(tmp_path_factory):
    return write_fake_idx(tmp_path_factory.mktemp("data"), ("MNIST", "FashionMNIST"), 100, 50)


@pytest.mark.parametrize("entry_id", IDS)
def test_both_entries_train_at_smoke_scale_on_32_by_32_inputs(entry_id, fake_data):
    results = train_at_smoke(CATALOGUE[entry_id], fake_data)
    assert all(math.isfinite(measure(r.final, "test_error")) for r in results.values())
