"""Sweeps: tidy tables, confidence-interval arithmetic, learning-rate choice, validation first."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from explorer import ConfigError
from explorer.runs.sweep import METRICS, expand, select_lr, summarise, sweep
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


def test_progress_moves_step_by_step_within_a_single_run():
    """The bar counts epochs of training, moved by every step: a single long run does not sit at 0/1."""
    told: list[float] = []
    sweep(small_config(train={"epochs": 3, "batch_size": 64}), {"optimizer.lr": [0.05]}, seeds=1, progress=told.append)
    steps_per_epoch = 1437 // 64  # the digits' train split (80% of 1,797) in equal batches of 64
    assert len(told) == 3 * steps_per_epoch and all(share > 0 for share in told)
    assert sum(told[:steps_per_epoch]) == pytest.approx(1.0)  # one epoch's steps add up to one epoch
    assert sum(told) == pytest.approx(3.0)


def test_progress_counts_every_run_whole_stacked_seeds_and_a_run_that_diverged_alike():
    told: list[float] = []
    base = small_config(train={"epochs": 4, "batch_size": 64, "log_every": 1},
                        model={"name": "mlp", "hidden": [32], "activation": "relu"})
    diverged = []
    sweep(base, {"optimizer.lr": [0.05, 1e6]}, seeds=2, progress=told.append,  # lr 1e6 diverges
          on_run=lambda point, run: diverged.append((point["optimizer.lr"], run.diverged_at)))
    assert [lr for lr, at in diverged if at is None] == [0.05, 0.05]
    assert [lr for lr, at in diverged if at is not None and at < 4 * 22] == [1e6, 1e6]  # early, in epoch 1 to 4
    assert sum(told) == pytest.approx(2 * 2 * 4)  # lrs × seeds × epochs: the bar reaches its end


# One base config for every rule: each rule's options are written once, side by side.
EVERY_RULE_BASE = {
    "data": {"name": "random", "samples": 64, "test_samples": 32, "features": 8, "classes": 3},
    "model": {"name": "mlp", "hidden": [8], "activation": "relu"},  # rf and ntk need one ReLU layer
    "algorithm": {"name": "bp", "feedback_init": {"name": "uniform", "low": -0.5, "high": 0.5},
                  "block_size": 1, "bp_depth": 1, "connections": 2, "scale": 0.5, "variant": "relu",
                  "sign_refresh": "epoch"},
    "train": {"epochs": 1, "batch_size": 16}, "device": "cpu",
}


def test_a_sweep_over_every_rule_runs_from_one_base_and_each_keeps_only_its_own_options():
    from explorer.config.registry import RULES

    finished = {}
    sweep(EVERY_RULE_BASE, {"algorithm.name": list(RULES)}, seeds=1, progress=False,
          on_run=lambda point, result: finished.__setitem__(point["algorithm.name"], result))
    assert sorted(finished) == sorted(RULES)
    written = EVERY_RULE_BASE["algorithm"]
    for key, result in finished.items():
        spec = RULES[key]
        assert result.status == "done" and result.history, key
        stored = result.config.to_dict()["algorithm"]
        expected = {"name": key, **{option: written[option] for option in spec.options}}
        if spec.feedback:
            expected["feedback_init"] = written["feedback_init"]
        assert stored == expected, key


def test_a_sweep_over_optimisers_runs_from_one_sgd_base_with_momentum_and_nesterov():
    base = {**EVERY_RULE_BASE, "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.5, "nesterov": True}}
    seen = {}
    sweep(base, {"optimizer.name": ["sgd", "adagrad", "adadelta", "rmsprop", "adam"]}, seeds=1, progress=False,
          on_run=lambda point, result: seen.__setitem__(point["optimizer.name"], result.config.optimizer))
    assert {name: (o.momentum, o.nesterov) for name, o in seen.items()} == {
        "sgd": (0.5, True), "adagrad": (0.0, None), "adadelta": (0.0, None), "rmsprop": (0.5, None),
        "adam": (0.0, None)}


def test_a_bad_grid_point_names_its_field():
    with pytest.raises(ConfigError) as err:
        expand(EVERY_RULE_BASE, {"optimizer.lr": [0.1, -1.0]}, seeds=1)
    assert err.value.field == "optimizer.lr" and "grid point" in str(err.value)
