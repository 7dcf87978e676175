"""Sweeps: tidy tables, confidence-interval arithmetic, learning-rate choice, validation first."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from explorer import ConfigError
from explorer.sweep import METRICS, expand, select_lr, summarise, sweep
from tests.conftest import small_config


@pytest.fixture(scope="module")
def result():
    base = small_config(train={"epochs": 3, "batch_size": 64})
    return sweep(base, {"algorithm.name": ["bp", "dfa"], "optimizer.lr": [0.05, 0.001]}, seeds=3, progress=False)


def test_one_row_per_run_epoch_and_metric(result):
    t = result.table
    assert len(t) == 2 * 2 * 3 * 3 * len(METRICS)
    assert not t.duplicated(["run", "epoch", "metric"]).any()
    assert t.groupby("run")["seed"].nunique().eq(1).all()
    assert sorted(t["seed"].unique()) == [0, 1, 2]
    assert set(t["epoch"]) == {1, 2, 3}


def test_summary_mean_and_ci_match_an_independent_computation(result):
    t, s = result.table, result.summary
    row = s[(s["algorithm.name"] == "dfa") & (s["optimizer.lr"] == 0.05) & (s["epoch"] == 3)
            & (s["metric"] == "test_acc")].iloc[0]
    values = t[(t["algorithm.name"] == "dfa") & (t["optimizer.lr"] == 0.05) & (t["epoch"] == 3)
               & (t["metric"] == "test_acc")]["value"].to_numpy()
    assert len(values) == 3 and row["n"] == 3
    half = stats.t.ppf(0.975, 2) * np.std(values, ddof=1) / math.sqrt(3)
    assert row["mean"] == pytest.approx(values.mean()) and row["ci95"] == pytest.approx(half)
    assert row["low"] == pytest.approx(values.mean() - half) and row["high"] == pytest.approx(values.mean() + half)


def test_the_better_learning_rate_is_chosen_per_rule(result):
    best = result.best_lr.set_index("algorithm.name")["optimizer.lr"]
    assert best["bp"] == 0.05 and best["dfa"] == 0.05  # 0.001 barely moves in three epochs


def test_select_lr_averages_only_the_last_ten_epochs():
    rows = []
    for lr, early, late in [(0.1, 0.9, 0.5), (0.01, 0.1, 0.6)]:
        for epoch in range(1, 21):
            rows.append({"algorithm.name": "dfa", "optimizer.lr": lr, "epoch": epoch, "metric": "test_acc",
                         "value": early if epoch <= 10 else late})
    chosen = select_lr(pd.DataFrame(rows), ["algorithm.name", "optimizer.lr"])
    assert chosen.iloc[0]["optimizer.lr"] == 0.01 and chosen.iloc[0]["score"] == pytest.approx(0.6)


def test_a_single_seed_has_an_undefined_interval():
    t = pd.DataFrame({"k": [1], "epoch": [1], "metric": ["test_acc"], "value": [0.5]})
    assert math.isnan(summarise(t, ["k"]).iloc[0]["ci95"])


@pytest.mark.parametrize("grid,message", [
    ({}, "grid"),
    ({"optimizer.lr": 0.1}, "optimizer.lr"),
    ({"optimizer.lr": []}, "optimizer.lr"),
    ({"optimizer.lr": [0.1, -1.0]}, "optimizer.lr"),
    ({"algorithm.name": ["bp", "nope"]}, "algorithm.name"),
    ({"seed": [1, 2]}, "seed"),
])
def test_a_bad_grid_is_refused_before_anything_runs(grid, message):
    with pytest.raises(ConfigError, match=message):
        expand(small_config(), grid, seeds=2)
