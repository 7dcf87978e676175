"""Lillicrap et al. 2016 in the catalogue: the published values against a table typed here from
../shared/REFERENCES.md; every entry builds at every scale and trains at smoke scale (the synthetic
teacher tasks as they are, MNIST from a small fake folder in the real idx format)."""

from __future__ import annotations

import pytest

from explorer.experiments.catalogue import CATALOGUE, SCALES, lillicrap
from tests.catalogue_smoke import train_at_smoke, write_fake_idx

# (id, run, metric) -> value, from REFERENCES.md. The alignment ranges (≈22–25°, ≈43°, ≈58–74°) are
# typed as their middles.
PUBLISHED = {
    ("lillicrap-linear", "BP", "nse"): 1e-11,
    ("lillicrap-linear", "FA", "nse"): 1e-11,
    ("lillicrap-linear", "Shallow", "nse"): 1.0,
    ("lillicrap-nonlinear", "BP 30-20-10", "test_loss"): 2e-3,
    ("lillicrap-nonlinear", "FA 30-20-10", "test_loss"): 2e-3,
    ("lillicrap-nonlinear", "BP 30-20-10-10", "test_loss"): 1e-3,
    ("lillicrap-nonlinear", "FA 30-20-10-10", "test_loss"): 9e-4,
    ("lillicrap-nonlinear", "Shallow", "test_loss"): 0.13,
    ("lillicrap-mnist", "BP", "test_error"): 2.4,
    ("lillicrap-mnist", "FA", "test_error"): 2.1,
    ("lillicrap-mnist", "Shallow", "test_error"): 7.2,
    ("lillicrap-alignment", "W ~ U[±1e-4]", "signal_deg"): (22 + 25) / 2,
    ("lillicrap-alignment", "W ~ U[±0.1]", "signal_deg"): 43.0,
    ("lillicrap-alignment", "W ~ U[±0.25]", "signal_deg"): (58 + 74) / 2,
}
IDS = ["lillicrap-linear", "lillicrap-nonlinear", "lillicrap-mnist", "lillicrap-alignment"]


def test_the_published_values_are_the_documents():
    entries = [CATALOGUE[i] for i in IDS]
    assert {(e.id, p.run, p.metric): p.value for e in entries for p in e.published} == PUBLISHED
    assert len([p for e in entries for p in e.published]) == len(PUBLISHED)
    assert all(p.at == "final" for e in entries for p in e.published)
    # MNIST's errors are printed in the paper's text; the rest is read off its plots.
    assert {(e.id, p.approx) for e in entries for p in e.published} == {
        ("lillicrap-mnist", False), ("lillicrap-linear", True), ("lillicrap-nonlinear", True),
        ("lillicrap-alignment", True)}
    assert [e.id for e in lillicrap.ENTRIES] == IDS


def test_the_setting_is_the_one_references_md_gives():
    linear = dict(CATALOGUE["lillicrap-linear"].configs())
    fa = linear["FA"]
    assert (fa.model.hidden, fa.model.activation, fa.data.get("kind")) == ((20,), "linear", "linear")
    assert (fa.init.name, fa.init.low, fa.init.high) == ("uniform", -0.01, 0.01)
    assert fa.algorithm.feedback_init.to_dict() == {"name": "uniform", "low": -0.5, "high": 0.5}
    assert not linear["Shallow"].algorithm.train_hidden
    mnist = dict(CATALOGUE["lillicrap-mnist"].configs(root="/data"))["BP"]
    assert (mnist.model.hidden, mnist.model.activation, mnist.optimizer.lr, mnist.optimizer.weight_decay) == (
        (1000,), "sigmoid", 1e-3, 1e-6)
    nonlinear = dict(CATALOGUE["lillicrap-nonlinear"].configs())
    assert nonlinear["FA 30-20-10-10"].model.hidden == (20, 10) and nonlinear["BP 30-20-10"].model.hidden == (20,)
    assert nonlinear["BP 30-20-10"].data.get("samples") == 400_000
    scales = [cfg.init.high for _, cfg in CATALOGUE["lillicrap-alignment"].configs()]
    assert scales == [1e-4, 0.1, 0.25]


@pytest.mark.parametrize("scale", SCALES)
def test_every_entry_builds_at_every_scale(scale, tmp_path):
    for entry in lillicrap.ENTRIES:
        assert len(entry.configs(scale, root=str(tmp_path))) == len(entry.runs)


@pytest.fixture(scope="module")
def fake_mnist(tmp_path_factory):
    return write_fake_idx(tmp_path_factory.mktemp("data"), ("MNIST",), 300, 150)


@pytest.mark.parametrize("entry_id", IDS)
def test_every_entry_trains_at_smoke_scale(entry_id, fake_mnist):
    results = train_at_smoke(CATALOGUE[entry_id], fake_mnist)
    assert list(results) == [run.label for run in CATALOGUE[entry_id].runs]
