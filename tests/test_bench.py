"""`python -m explorer bench`'s bound columns and `profile_step`'s split (no timed assertions)."""

from __future__ import annotations

import json

import pytest

from explorer import cli
from explorer.bench import BATCH, bench_config, bound_columns, format_profile, format_table, profile_step, run_benchmark

# The bench network by hand: 784-1024-1024-1024-1024-10, one multiply-add per weight per sample.
FORWARD = 784 * 1024 + 3 * 1024 * 1024 + 1024 * 10  # 3,958,784
BP_BACKWARD = 3 * 1024 * 1024 + 1024 * 10  # δ down through layers 2-5 (the data needs no gradient)
DFA_BACKWARD = 4 * 10 * 1024  # e @ B_l for each of the 4 hidden layers, B_l of 10 x 1024
BP_TOTAL = 2 * FORWARD + BP_BACKWARD
DFA_TOTAL = 2 * FORWARD + DFA_BACKWARD
# With the logging spread over its 50 steps of 256: the 1,024 test samples' forward pass for both,
# and backprop's step, the alignment's reference, for dfa.
EVALUATION = 1024 * FORWARD / (50 * 256)
LOGGED_BOUND = (BP_TOTAL + EVALUATION) / (DFA_TOTAL + EVALUATION + BP_TOTAL / 50)


def test_dfa_bound_on_the_bench_network_is_the_hand_count():
    c = bound_columns(bench_config("dfa", BATCH), measured_vs_bp=1.25)
    assert c["macs_per_sample"] == {"forward": FORWARD, "weight_grads": FORWARD, "backward": DFA_BACKWARD,
                                    "total": DFA_TOTAL}
    assert c["bound_vs_bp"] == pytest.approx(BP_TOTAL / DFA_TOTAL)  # 11.07 M / 7.96 M = 1.39
    assert round(c["bound_vs_bp"], 2) == 1.39
    assert c["bound_reached"] == pytest.approx(1.25 * DFA_TOTAL / BP_TOTAL)


def test_bp_and_fa_are_their_own_bound():
    for rule in ("bp", "fa"):
        c = bound_columns(bench_config(rule, BATCH), measured_vs_bp=1.0)
        assert c["macs_per_sample"]["total"] == BP_TOTAL and c["bound_vs_bp"] == 1.0 and c["bound_reached"] == 1.0


def test_run_benchmark_rows_carry_the_bound_columns_from_the_measured_ratio():
    r = run_benchmark(rules=("bp", "dfa"), steps=1, rounds=1, warmup=0, device="cpu", memory=False)
    bp, dfa = r["rules"]["bp"], r["rules"]["dfa"]
    assert dfa["macs_per_sample"]["total"] == DFA_TOTAL and bp["macs_per_sample"]["total"] == BP_TOTAL
    assert dfa["measured_vs_bp"] == pytest.approx(dfa["samples_per_s"] / bp["samples_per_s"])
    assert dfa["measured_vs_bp"] == pytest.approx(r["ratios"]["dfa_over_bp"])
    assert dfa["bound_reached"] == pytest.approx(dfa["measured_vs_bp"] / dfa["bound_vs_bp"])
    assert bp["bound_reached"] == pytest.approx(1.0)
    assert "macs_per_sample" not in r["plain_autograd"]
    assert r["device"].startswith("CPU (")  # the machine is named, with its threads
    table = format_table(r)
    assert table.splitlines()[0].startswith("device: CPU (")
    header, bp_line, dfa_line = table.splitlines()[1:4]
    assert header.split()[-10:] == ["fwd", "M", "wgrad", "M", "bwd", "M", "bound", "of", "bound", "w/", "logs", "of", "it"][-10:]
    assert dfa_line.split()[-7:-3] == ["3.96", "3.96", "0.04", "1.39"]
    assert dfa_line.split()[-3] == f"{dfa['bound_reached']:.1%}"
    assert dfa_line.split()[-2:] == [f"{LOGGED_BOUND:.2f}", f"{dfa['measured_vs_bp'] / LOGGED_BOUND:.1%}"]
    assert bp_line.split()[-7:] == ["3.96", "3.96", "3.16", "1.00", "100.0%", "1.00", "100.0%"]


def test_without_bp_timed_the_bound_is_shown_and_the_measured_ratio_is_none():
    r = run_benchmark(rules=("dfa",), steps=1, rounds=1, warmup=0, device="cpu", memory=False)
    dfa = r["rules"]["dfa"]
    assert dfa["measured_vs_bp"] is None and dfa["bound_reached"] is None
    assert dfa["bound_vs_bp"] == pytest.approx(BP_TOTAL / DFA_TOTAL)
    assert format_table(r).splitlines()[2].split()[-4:] == ["1.39", "-", f"{LOGGED_BOUND:.2f}", "-"]


def test_bench_json_includes_the_bound_columns(capsys):
    code = cli.main(["bench", "--rules", "bp,dfa", "--steps", "1", "--rounds", "1", "--no-memory", "--json",
                     "--device", "cpu"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["rules"]["dfa"]["macs_per_sample"]["backward"] == DFA_BACKWARD
    assert result["rules"]["bp"]["macs_per_sample"]["backward"] == BP_BACKWARD
    assert result["rules"]["dfa"]["bound_reached"] == pytest.approx(
        result["rules"]["dfa"]["measured_vs_bp"] / result["rules"]["dfa"]["bound_vs_bp"])


def test_profile_step_splits_ordinary_and_logging_steps():
    p = profile_step("bp", steps=3, warmup=0, device="cpu")
    assert p["logging_steps"] == 1 and p["ordinary_steps"] == 2  # the first step is always logged
    parts = p["trainer_ordinary_ms"]
    assert all(v >= 0 for k, v in parts.items() if k != "other")
    assert parts["total"] == pytest.approx(sum(v for k, v in parts.items() if k != "total"), rel=1e-6)
    assert p["plain_ms"]["total"] == pytest.approx(sum(v for k, v in p["plain_ms"].items() if k != "total"))
    assert p["logging_per_step_ms"] == pytest.approx(p["logging_extra_ms"] / p["log_every"])
    text = format_profile(p)
    assert "rule_backward" in text and "forward_backward" in text and "logging step" in text
    assert "page faults per ordinary step" in text and set(p["page_faults_per_step"]) == {"trainer", "plain"}


def test_the_plain_dfa_peer_takes_the_dfa_step_of_an_independent_computation():
    """One step of `PlainDFALoop` from fresh momentum is -lr × the DFA gradient: δ_l = (e B_l) ⊙ relu'(a_l)
    for every hidden layer, e = softmax - one-hot over the batch, written here in NumPy."""
    import numpy as np
    import torch
    from torch import nn

    from explorer.bench import CLASSES, FEATURES, PlainDFALoop
    from explorer.config import DataConfig
    from explorer.data.embedded import load_random

    # the loop's weights and batch order come from torch's global stream: fixed here, so that what
    # earlier tests drew cannot put a pre-activation so near 0 that float32 and float64 disagree on its ReLU
    torch.manual_seed(0)
    data = load_random(DataConfig("random", {"samples": BATCH, "features": FEATURES, "classes": CLASSES}))
    loop = PlainDFALoop(data, torch.device("cpu"))
    linears = [m for m in loop.net if isinstance(m, nn.Linear)]
    weights = [layer.weight.detach().double().numpy().copy() for layer in linears]
    biases = [layer.bias.detach().double().numpy().copy() for layer in linears]
    idx = loop.perm[:BATCH].numpy()
    x, y = data.x_train.double().numpy()[idx], data.y_train.numpy()[idx]
    inputs, pre = [x], []
    for w, b in zip(weights[:-1], biases[:-1]):
        pre.append(inputs[-1] @ w.T + b)
        inputs.append(np.maximum(pre[-1], 0))
    logits = inputs[-1] @ weights[-1].T + biases[-1]
    p = np.exp(logits - logits.max(1, keepdims=True))
    e = p / p.sum(1, keepdims=True)
    e[np.arange(BATCH), y] -= 1
    e /= BATCH
    deltas = [(e @ fb.double().numpy()) * (a > 0) for fb, a in zip(loop.feedback, pre)] + [e]
    loop.step()
    lr = loop.opt.param_groups[0]["lr"]
    for layer, w, b, delta, h in zip(linears, weights, biases, deltas, inputs):
        np.testing.assert_allclose((w - layer.weight.detach().double().numpy()) / lr, delta.T @ h, atol=2e-6, rtol=1e-3)
        np.testing.assert_allclose((b - layer.bias.detach().double().numpy()) / lr, delta.sum(0), atol=2e-6, rtol=1e-3)


def test_bench_times_the_plain_dfa_peer_and_profiles_from_the_command_line(capsys):
    code = cli.main(["bench", "--rules", "dfa", "--steps", "1", "--rounds", "1", "--no-memory", "--json",
                     "--device", "cpu"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["plain_dfa"]["samples_per_s"] > 0
    assert result["ratios"]["dfa_over_plain_dfa"] == pytest.approx(
        result["rules"]["dfa"]["samples_per_s"] / result["plain_dfa"]["samples_per_s"])
    assert cli.main(["bench", "--profile", "nope"]) == 2
    assert "--profile: unknown rule 'nope'" in capsys.readouterr().err
    assert cli.main(["bench", "--profile", "dfa", "--steps", "2", "--device", "cpu"]) == 0
    assert "rule dfa, mean ms per step" in capsys.readouterr().out


def test_paired_ratios_are_the_median_of_each_rounds_ratio():
    from explorer.bench import run_benchmark

    r = run_benchmark(rules=("bp", "dfa"), steps=1, rounds=3, warmup=0, device="cpu", memory=False, peer=False)
    dfa, bp, plain = (r["rules"]["dfa"]["round_samples_per_s"], r["rules"]["bp"]["round_samples_per_s"],
                      r["plain_autograd"]["round_samples_per_s"])
    assert len(dfa) == len(bp) == 3
    assert r["rules"]["dfa"]["paired_vs_bp"] == pytest.approx(sorted(d / b for d, b in zip(dfa, bp))[1])
    assert r["rules"]["dfa"]["paired_vs_plain"] == pytest.approx(sorted(d / p for d, p in zip(dfa, plain))[1])
    assert r["rules"]["bp"]["paired_vs_bp"] == 1.0
