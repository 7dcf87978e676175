"""Alignment metrics against independent NumPy computations (docs/algorithms.md, "Alignment")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from explorer import alignment, compute_updates
from explorer.engine.build import build
from tests.conftest import small_config


def np_cos(a, b) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def probe(built, n=64):
    return built.data.x_train[:n], built.data.y_train[:n]


def test_backprop_is_perfectly_aligned_with_itself():
    built = build(small_config())
    rows = alignment(built, *probe(built))
    assert [r["layer"] for r in rows] == ["layers.0", "layers.1"]
    for r in rows:
        assert r["update_cos"] == pytest.approx(1.0, abs=1e-6)
        assert r["signal_cos"] == pytest.approx(1.0, abs=1e-6)
        assert r["update_deg"] == pytest.approx(0.0, abs=0.1)
        assert math.isnan(r["weight_cos"])  # bp has no feedback matrix


def test_backprop_against_itself_is_exactly_zero_degrees_and_its_norms_are_float64_exact():
    # wide layers, where a cosine made of separately rounded norms came out 2e-5 degrees
    built = build(small_config(model={"hidden": [512, 512]}))
    x, y = probe(built, 128)
    grads = compute_updates(built, x, y)
    for r in alignment(built, x, y):
        assert (r["update_cos"], r["update_deg"]) == (1.0, 0.0)
        g = grads[f"{r['layer']}.weight"].numpy().astype(np.float64).ravel()
        assert r["grad_norm"] == pytest.approx(float(np.sqrt(g @ g)), rel=1e-12)
        assert r["bp_grad_norm"] == r["grad_norm"]


def test_update_alignment_is_the_cosine_between_rule_and_backprop_updates():
    dfa = build(small_config(algorithm={"name": "dfa"}))
    bp = build(small_config(algorithm={"name": "bp"}))  # same seed: same forward weights
    x, y = probe(dfa)
    g_dfa, g_bp = compute_updates(dfa, x, y), compute_updates(bp, x, y)
    rows = alignment(dfa, x, y)
    for i, r in enumerate(rows):
        expected = np_cos(g_dfa[f"layers.{i}.weight"], g_bp[f"layers.{i}.weight"])
        assert r["update_cos"] == pytest.approx(expected, abs=1e-6)
        assert r["update_deg"] == pytest.approx(math.degrees(math.acos(expected)), abs=1e-4)
        assert r["grad_norm"] == pytest.approx(float(np.linalg.norm(g_dfa[f"layers.{i}.weight"])), rel=1e-5)
    assert rows[0]["update_cos"] < 0.99  # DFA's update is not backprop's


def test_fa_weight_alignment_compares_the_next_layers_feedback_with_its_weight():
    built = build(small_config(algorithm={"name": "fa"}))
    sd = {k: v.numpy() for k, v in built.model.state_dict().items()}
    rows = alignment(built, *probe(built))
    for i, r in enumerate(rows):
        assert r["weight_cos"] == pytest.approx(np_cos(sd[f"layers.{i + 1}.feedback"], sd[f"layers.{i + 1}.weight"]), abs=1e-6)
        assert r["feedback_norm"] == pytest.approx(float(np.linalg.norm(sd[f"layers.{i + 1}.feedback"])), rel=1e-5)
        assert r["weight_norm"] == pytest.approx(float(np.linalg.norm(sd[f"layers.{i}.weight"])), rel=1e-5)


def test_dfa_weight_alignment_compares_feedback_with_the_product_of_forward_weights():
    built = build(small_config(model={"name": "mlp", "hidden": [12, 10, 8], "activation": "tanh"},
                               algorithm={"name": "dfa"}))
    sd = {k: v.numpy().astype(np.float64) for k, v in built.model.state_dict().items()}
    W = [sd[f"layers.{i}.weight"] for i in range(4)]
    rows = alignment(built, *probe(built))
    # B_l: (C, n_l) against W_L … W_{l+1}
    assert rows[2]["weight_cos"] == pytest.approx(np_cos(sd["layers.2.feedback"], W[3]), abs=1e-6)
    assert rows[1]["weight_cos"] == pytest.approx(np_cos(sd["layers.1.feedback"], W[3] @ W[2]), abs=1e-6)
    assert rows[0]["weight_cos"] == pytest.approx(np_cos(sd["layers.0.feedback"], W[3] @ W[2] @ W[1]), abs=1e-6)


def test_signal_alignment_is_the_batch_mean_of_per_sample_cosines():
    # With a single hidden layer and a linear activation, DFA's signal is e @ B and BP's is e @ W2.
    cfg = small_config(model={"name": "mlp", "hidden": [9], "activation": "linear"}, algorithm={"name": "dfa"})
    built = build(cfg)
    x, y = probe(built, 16)
    sd = {k: v.numpy().astype(np.float64) for k, v in built.model.state_dict().items()}
    logits = x.numpy().reshape(16, -1) @ sd["layers.0.weight"].T + sd["layers.0.bias"]
    logits = logits @ sd["layers.1.weight"].T + sd["layers.1.bias"]
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    e = (p - np.eye(10)[y.numpy()]) / 16
    rule, bp = e @ sd["layers.0.feedback"], e @ sd["layers.1.weight"]
    expected = np.mean([np_cos(a, b) for a, b in zip(rule, bp)])
    assert alignment(built, x, y)[0]["signal_cos"] == pytest.approx(expected, abs=1e-5)


def test_a_zero_update_makes_the_cosine_undefined_not_zero_or_one():
    # Forward weights at zero: backprop's hidden gradients are exactly zero (Nøkland's point).
    built = build(small_config(algorithm={"name": "dfa"}, init={"name": "zeros"}))
    rows = alignment(built, *probe(built))
    assert math.isnan(rows[0]["update_cos"]) and math.isnan(rows[0]["update_deg"])
    assert rows[0]["grad_norm"] > 0  # while DFA's own update is not zero: DFA learns from zero
    assert rows[0]["bp_grad_norm"] == 0


@pytest.mark.parametrize("model", ["lenet5", "resnet20"])
def test_dfa_weight_alignment_on_conv_nets_is_left_out_where_no_matrix_stands_for_the_path(model, request):
    # A regression: the product of forward weights multiplied conv kernels as matrices and crashed.
    data = {"name": "digits"}
    if model == "lenet5":   # LeNet needs 28x28 images
        data = {"name": "mnist", "root": str(request.getfixturevalue("shared_data")), "train_samples": 64,
                "test_samples": 64}
    built = build(small_config(model={"name": model}, algorithm={"name": "dfa"}, data=data))
    x, y = built.data.x_train[:8], built.data.y_train[:8]
    rows = alignment(built, x, y)
    assert len(rows) > 0 and all(math.isfinite(r["update_cos"]) for r in rows)
    weights = [r["weight_cos"] for r in rows]
    if model == "lenet5":   # the fully connected layers above the convolutions form a chain of matrices
        assert math.isfinite(weights[-1])
    assert any(math.isnan(w) for w in weights)


def test_runs_measured_side_by_side_in_threads_get_their_own_figures():
    # the float64 copies are kept between logging steps per thread: two runs measured at once in
    # two threads (as runs train side by side) must each read exactly what they read alone
    import threading

    builds = [build(small_config(model={"hidden": [256, 128]}, algorithm={"name": rule}, seed=seed))
              for rule, seed in (("dfa", 0), ("fa", 1))]
    batches = [probe(b, 128) for b in builds]
    alone = [alignment(b, *xy) for b, xy in zip(builds, batches)]
    seen: list[list] = [[], []]

    def measure(i):
        for _ in range(15):
            seen[i].append(alignment(builds[i], *batches[i]))

    threads = [threading.Thread(target=measure, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        assert all(rows == alone[i] for rows in seen[i])
