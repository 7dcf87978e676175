"""The parity experiment end to end, on the embedded 8×8 digits (fast): BP learns the parity of three
digits where random features cannot, the ``parity`` command's CSV and table, snapshots on a fixed
probe while the data is resampled, per-digit contributions of a trained network, and the lr choice."""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from scipy import stats

from explorer.config import ConfigError
from explorer.experiments.parity import ParitySetup, run_parity
from explorer.experiments.references import PARITY
from explorer.engine.representations import capture, per_digit
from explorer.runs.sweep import LAST_EPOCHS
from explorer.engine.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]

# BP against gaussian random features at k = 3 on the digits base (8×24 inputs, 192 features).
# Parity of three digits is a hard function: with the thesis's SGD lr 0.01 or a few thousand samples
# BP stays at chance for many epochs (tried: 2,000 samples × 8 epochs at lr 0.05/0.1 and 5,000 × 16
# at lr 0.5 end at 0.50–0.66). With 10,000 fresh samples per epoch and plain SGD at lr 0.5, BP leaves
# chance around epoch 5 and ends at 0.69–0.75 after 12 epochs for seeds 0–3 (128 or 256 hidden units
# alike, so 128 for speed), while rf ends at 0.48–0.52 for the same seeds. One run takes ~1.3 s on
# 2 cores. 2,000 test samples keep the chance-level noise small (sd ≈ 0.011).
# The same sweep carries a second lr (0.02, at which BP has not left chance after 12 epochs) for
# the learning-rate-choice test.
FAST = dict(base="digits", epochs=12, hidden=128, device="cpu",
            data_options={"train_samples": 10_000, "test_samples": 2_000})
GOOD_LR, SLOW_LR = 0.5, 0.02

# One thread: these networks are small, so a second thread buys nothing when the machine is idle, and
# when other processes keep the cores busy each tiny op waits on the idle thread's barrier (measured
# here: a 64×2 BCE call 0.01 ms with one thread, 8 ms with two; this file 27 s alone, 400 s beside a
# training run).
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


PROGRESS: list[float] = []  # what run_parity reported to its progress function in bp_vs_rf


@pytest.fixture(scope="module")
def bp_vs_rf():
    PROGRESS.clear()
    return run_parity(3, ["bp", "rf"], [GOOD_LR, SLOW_LR], seeds=2, progress=PROGRESS.append, **FAST)


def test_progress_is_counted_in_epochs_moved_by_every_step_over_all_rules(bp_vs_rf):
    steps_per_epoch = 10_000 // 64
    seeds_stacked = 2 * 2  # rules × lrs: each lr's two seeds train stacked, one report per step
    assert len(PROGRESS) == seeds_stacked * FAST["epochs"] * steps_per_epoch
    assert all(share > 0 for share in PROGRESS)
    # The first run's first epoch moves the count by its two seeds' epoch, step by step.
    assert sum(PROGRESS[:steps_per_epoch]) == pytest.approx(2.0)
    assert sum(PROGRESS) == pytest.approx(2 * 2 * 2 * FAST["epochs"])  # rules × lrs × seeds × epochs


def test_bp_learns_the_parity_of_three_digits_where_random_features_stay_at_chance(bp_vs_rf):
    table, _, _ = bp_vs_rf
    acc = table[(table["metric"] == "test_acc") & (table["optimizer.lr"] == GOOD_LR)]
    assert set(acc["seed"]) == {0, 1} and acc["epoch"].max() == FAST["epochs"]
    for seed in (0, 1):
        per_rule = {}
        for rule in ("bp", "rf:gaussian"):
            runs = acc[(acc["rule"] == rule) & (acc["seed"] == seed)]
            last3 = runs[runs["epoch"] > FAST["epochs"] - 3]["value"]
            assert len(last3) == 3
            per_rule[rule] = last3.mean()
        assert per_rule["bp"] > 0.64, (seed, per_rule)
        assert per_rule["rf:gaussian"] < 0.56, (seed, per_rule)
        assert per_rule["bp"] - per_rule["rf:gaussian"] > 0.12, (seed, per_rule)


def test_run_parity_picks_per_rule_the_lr_with_the_best_mean_test_accuracy_over_the_last_epochs(bp_vs_rf):
    table, summary, final = bp_vs_rf
    assert list(final.columns) == ["rule", "optimizer.lr", "mean", "ci95", "n", "published"]
    assert sorted(final["rule"]) == ["bp", "rf:gaussian"]  # one row per rule: its chosen lr only
    last = summary["epoch"].max()
    acc = summary[summary["metric"] == "test_acc"]
    window = acc[acc["epoch"] > last - LAST_EPOCHS]
    assert window["epoch"].nunique() == LAST_EPOCHS  # 12 epochs: the window is epochs 3 … 12
    for _, row in final.iterrows():
        scores = window[window["rule"] == row["rule"]].groupby("optimizer.lr")["mean"].mean()
        assert set(scores.index) == {GOOD_LR, SLOW_LR}
        assert row["optimizer.lr"] == scores.idxmax(), (row["rule"], scores.to_dict())
        at_end = acc[(acc["rule"] == row["rule"]) & (acc["optimizer.lr"] == row["optimizer.lr"])
                     & (acc["epoch"] == last)].iloc[0]
        assert row["mean"] == pytest.approx(at_end["mean"]) and row["n"] == 2
        assert row["ci95"] == pytest.approx(at_end["ci95"])
        assert row["published"] == PARITY[(3, row["rule"])]
    # BP learns only at the larger lr, so its choice is known.
    assert final.set_index("rule").loc["bp", "optimizer.lr"] == GOOD_LR
    # The long table agrees with the summary it was reduced to.
    bp_end = table[(table["rule"] == "bp") & (table["optimizer.lr"] == GOOD_LR) & (table["metric"] == "test_acc")
                   & (table["epoch"] == last)]["value"]
    assert final.set_index("rule").loc["bp", "mean"] == pytest.approx(bp_end.mean())


def test_the_final_table_is_the_mean_and_interval_over_seeds_at_the_chosen_lrs_last_epoch_by_hand(bp_vs_rf):
    table, _, final = bp_vs_rf
    for row in final.to_dict("records"):
        values = table[(table["rule"] == row["rule"]) & (table["optimizer.lr"] == row["optimizer.lr"])
                       & (table["metric"] == "test_acc") & (table["epoch"] == FAST["epochs"])]["value"].tolist()
        assert len(values) == 2 and row["n"] == 2
        assert row["mean"] == pytest.approx(statistics.mean(values))
        assert row["ci95"] == pytest.approx(stats.t.ppf(0.975, 1) * statistics.stdev(values) / math.sqrt(2))


# ----------------------------------------------------------------------------------------------
# The command line.


def cli(*args):
    return subprocess.run([sys.executable, "-m", "explorer", "parity", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, env=ONE_THREAD)


def test_parity_command_writes_one_summary_row_per_rule_lr_epoch_and_metric(tmp_path):
    out_csv = tmp_path / "k1.csv"
    rules, lrs, epochs, seeds = ["bp", "rf:linear", "fa"], [0.1, 0.05], 2, 2
    out = cli("--k", "1", "--base", "digits", "--rules", ",".join(rules), "--lr", "0.1,0.05",
              "--seeds", str(seeds), "--epochs", str(epochs), "--train-samples", "300", "--test-samples", "100",
              "--device", "cpu", "--out", str(out_csv))
    assert out.returncode == 0, out.stderr
    assert "24.0/24 epochs" in out.stderr  # the bar's end: rules × lrs × seeds × epochs
    csv = pd.read_csv(out_csv)
    assert {"rule", "optimizer.lr", "epoch", "metric", "mean", "ci95", "n"} <= set(csv.columns)
    keys = ["rule", "optimizer.lr", "epoch", "metric"]
    assert not csv.duplicated(keys).any()
    assert len(csv) == len(rules) * len(lrs) * epochs * 4
    assert set(csv["rule"]) == set(rules) and set(csv["optimizer.lr"]) == set(lrs)
    assert set(csv["epoch"]) == {1, 2} and set(csv["metric"]) == {"train_loss", "train_acc", "test_loss", "test_acc"}
    assert (csv["n"] == seeds).all() and csv["ci95"].notna().all() and (csv["ci95"] >= 0).all()
    # The printed table: one line per rule, its chosen lr, the final mean as in the CSV, the published value.
    lines = {line.split()[0]: line.split() for line in out.stdout.splitlines()[2:] if line.strip()}
    assert set(lines) == set(rules), out.stdout
    for rule, fields in lines.items():
        lr, mean, published = float(fields[1]), float(fields[2]), fields[5]
        row = csv[(csv["rule"] == rule) & (csv["optimizer.lr"] == lr) & (csv["epoch"] == epochs)
                  & (csv["metric"] == "test_acc")]
        assert len(row) == 1 and mean == pytest.approx(row["mean"].iloc[0], abs=6e-5)
        expected = PARITY.get((1, rule))
        if expected is None:
            assert published in ("NaN", "None", "nan"), fields  # fa: no published figure
        else:
            assert float(published) == pytest.approx(expected), fields
    assert "0.9850" in " ".join(lines["bp"]) and "0.8400" in " ".join(lines["rf:linear"])


def test_dfa_has_a_published_parity_value_from_the_thesis_fig_3_1():
    # Fig. 2.1 has BP and the lazy methods only; DFA's values come from Fig. 3.1. The thesis's text:
    # "It seems like there is a limit for DFA to reach with SGD that is %70", below BP's "almost reach 80%".
    assert PARITY[(3, "dfa")] == pytest.approx(0.70, abs=0.02) and PARITY[(3, "dfa")] < PARITY[(3, "bp")]
    # k = 1: "although DFA outperforms the lazy methods, it is behind the BP" (the lazy methods' k = 1
    # values are Daniely & Malach's, read off their plot, so only the comparison with BP is asserted)
    assert 0.9 < PARITY[(1, "dfa")] < PARITY[(1, "bp")]


@pytest.mark.parametrize("rules,field", [("rf:cosine", "algorithm.variant"), ("dfa:relu", "rules: only rf")])
def test_parity_command_refuses_a_bad_rule_with_exit_2_naming_the_field(rules, field, tmp_path):
    out = cli("--base", "digits", "--rules", rules, "--epochs", "1", "--train-samples", "64", "--seeds", "1",
              "--device", "cpu", "--out", str(tmp_path / "x.csv"))
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert field in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "x.csv").exists()


def test_a_bad_rule_is_refused_before_any_run_starts(monkeypatch):
    import explorer.engine.trainer

    class Started(Exception):
        pass

    def refuse(self, *args, **kwargs):  # every run, one seed or stacked seeds, starts here
        raise Started

    monkeypatch.setattr(explorer.engine.trainer.Trainer, "__init__", refuse)
    with pytest.raises(ConfigError, match="algorithm.variant"):
        run_parity(3, ["bp", "rf:cosine"], [0.01], seeds=2, progress=False, base="digits", epochs=1, device="cpu",
                   data_options={"train_samples": 64})


# ----------------------------------------------------------------------------------------------
# Snapshots and per-digit contributions.

PROBE_N = 300


@pytest.fixture(scope="module")
def trained_with_snapshots():
    cfg = ParitySetup(k=3, rules=("bp",), optimizers={"sgd": GOOD_LR}, seeds=1, epochs=3, hidden=64, device="cpu",
                      train_samples=2_000, test_samples=500).configs()[0]
    cfg = cfg.with_values({"train.snapshots": [0, 1, 3], "train.snapshot_samples": PROBE_N})
    trainer = Trainer(cfg)
    data = trainer.built.data
    first = (data.x_train.clone(), data.x_test.clone(), data.slot_digits_train.clone())
    seen = []  # the train set of each epoch, as the trainer saw it
    original = data.resample
    data.resample = lambda epoch: (original(epoch), seen.append((epoch, data.x_train.clone())))
    result = trainer.run()
    return cfg, trainer, result, first, seen


def test_snapshots_are_taken_on_the_same_probe_while_train_and_test_sets_are_resampled(trained_with_snapshots):
    cfg, trainer, result, (x_train0, x_test0, slots0), seen = trained_with_snapshots
    data = trainer.built.data
    # The data did change: a fresh train and test set at every epoch after the first.
    assert [e for e, _ in seen] == [1, 2] and data.epoch == 2
    assert not torch.equal(seen[0][1], x_train0) and not torch.equal(seen[1][1], seen[0][1])
    assert not torch.equal(data.x_test, x_test0) and not torch.equal(data.slot_digits_train, slots0)
    # The probe did not: the trainer's probe is what the dataset hands out now, after the resamples.
    x, y, extras = data.probe(PROBE_N)
    assert tuple(result.probe.x.shape) == (PROBE_N, 1, 8, 24)
    assert torch.equal(result.probe.x, x) and torch.equal(result.probe.y, y)
    assert torch.equal(result.probe.extras["slot_digits"], extras["slot_digits"])
    # Every snapshot is a capture of those inputs: the last at the final weights, the first at the
    # initial weights (rebuilt from the same seed).
    assert [s.epoch for s in result.snapshots] == [0, 1, 3]
    assert [s.step for s in result.snapshots] == [0, trainer.steps_per_epoch, 3 * trainer.steps_per_epoch]
    final = capture(trainer.built, x)
    assert set(final) == {"layers.0"} and torch.allclose(result.snapshots[-1].layers["layers.0"], final["layers.0"])
    fresh = Trainer(cfg)  # same seed: same initial weights, same probe
    initial = capture(fresh.built, x)["layers.0"]
    assert torch.allclose(result.snapshots[0].layers["layers.0"], initial)
    assert not torch.allclose(result.snapshots[0].layers["layers.0"], final["layers.0"], atol=1e-3)


def test_probe_slot_digits_are_the_digits_shown_and_give_the_labels(trained_with_snapshots):
    _, trainer, result, _, _ = trained_with_snapshots
    probe, data = result.probe, trainer.built.data
    slots = probe.extras["slot_digits"]
    assert tuple(slots.shape) == (PROBE_N, 3) and slots.dtype == torch.int64
    assert torch.equal(probe.y, slots.sum(1) % 2)
    assert 0.35 < probe.y.float().mean().item() < 0.65 and len(slots.unique()) == 10
    for j in range(3):  # slot j's image is a base test image of digit slots[:, j]
        part = probe.x[..., 8 * j:8 * (j + 1)].flatten(1)
        nearest = torch.cdist(part, data.base_x_test.flatten(1), compute_mode="donot_use_mm_for_euclid_dist").min(1)
        assert nearest.values.max().item() < 1e-5
        assert torch.equal(data.base_y_test[nearest.indices], slots[:, j])


def test_per_digit_slot_contributions_plus_bias_are_the_first_layer_pre_activation(trained_with_snapshots):
    _, trainer, result, _, _ = trained_with_snapshots
    built, x = trainer.built, result.probe.x
    layer = built.model.layers[0]
    parts = per_digit(built, x, 3, batch_size=128)  # several batches
    assert tuple(parts.shape) == (PROBE_N, 3, 64)
    with torch.no_grad():
        pre = layer(x.flatten(1))
        torch.testing.assert_close(parts.sum(1) + layer.bias, pre, rtol=1e-5, atol=1e-4)
        # Each slot by itself: the layer on the input with the other two slots blanked, less the bias.
        for j in range(3):
            alone = torch.zeros_like(x)
            alone[..., 8 * j:8 * (j + 1)] = x[..., 8 * j:8 * (j + 1)]
            torch.testing.assert_close(parts[:, j], layer(alone.flatten(1)) - layer.bias, rtol=1e-5, atol=1e-4)
    # The slots are not interchangeable: a trained network weighs them differently.
    assert not torch.allclose(parts[:, 0], parts[:, 1], atol=1e-2)
