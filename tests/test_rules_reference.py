"""explorer.compute_updates against an independent NumPy reference of docs/algorithms.md.

The expected values come from explorer.rules.reference (float64 NumPy, written from the document,
importing neither torch nor the engine) or from torch.autograd on a plain model built here; the
engine is only used through its public API: RunConfig / build / compute_updates / ConfigError and
the model's state_dict().
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer import ConfigError, RunConfig, compute_updates
from explorer.engine.build import build

from explorer.rules import reference
from explorer.rules.reference import by_layer, loss_value, output_error, signals, updates, usf_feedback

RTOL, ATOL = 1e-4, 1e-6  # library float32 vs reference float64
SAME_RTOL, SAME_ATOL = 1e-5, 1e-7  # two library runs that must agree

FEATURES = 7
BATCH = 16
UNIFORM = {"name": "uniform", "low": -0.5, "high": 0.5}

ACTIVATIONS = ("relu", "tanh", "sigmoid")
LOSSES = ("cross_entropy", "bce", "mse")
ALL_RULES = ("bp", "fa", "dfa", "ifa", "bdfa", "fp", "sdfa", "ssdfa", "usf", "frsf", "brsf")
LAZY_RULES = ("rf", "ntk")  # one hidden layer, ReLU (or linear for rf's linear variant)
FA_FAMILY = ("fa", "usf", "frsf", "brsf")
# the options each rule gets in the general comparison
RULE_OPTIONS = {
    "bdfa": {"block_size": 2},
    "fp": {"bp_depth": 1},
    "sdfa": {"connections": 2},
    "usf": {"scale": 0.3},
}
ARCHS = ((9, 5), (6, 8, 4), (7, 4, 6, 5))


# ----------------------------------------------------------------------------- helpers


def make_built(
    rule,
    activation="tanh",
    hidden=(6, 5, 4),
    loss="cross_entropy",
    classes=3,
    seed=0,
    feedback_init=UNIFORM,
    init=UNIFORM,
    device="cpu",
    **alg_options,
):
    algorithm = {"name": rule, **alg_options}
    # bp, usf, rf and ntk have no feedback initialiser (the config would drop it)
    if rule not in ("bp", "usf", "rf", "ntk"):
        algorithm["feedback_init"] = dict(feedback_init)
    cfg = RunConfig.from_dict(
        {
            "data": {"name": "random", "samples": 64, "features": FEATURES, "classes": classes},
            "model": {"name": "mlp", "hidden": list(hidden), "activation": activation},
            "algorithm": algorithm,
            "init": dict(init),
            "optimizer": {"name": "sgd", "lr": 0.05},
            "train": {"epochs": 1, "batch_size": BATCH, "loss": loss},
            "seed": seed,
            "device": device,
        }
    )
    return build(cfg)


def make_batch(classes, seed=123, n=BATCH):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, FEATURES, generator=g, dtype=torch.float32)
    y = torch.randint(0, classes, (n,), generator=g, dtype=torch.int64)
    # make sure every class occurs (keeps the losses non-degenerate)
    y[:classes] = torch.arange(classes)
    return x, y


def num_layers(sd):
    idx = [int(m.group(1)) for k in sd if (m := re.fullmatch(r"layers\.(\d+)\.weight", k))]
    assert idx, f"no layers.{{i}}.weight in state_dict: {list(sd)}"
    assert sorted(idx) == list(range(len(idx))), f"layer indices not 0..L-1: {sorted(idx)}"
    return len(idx)


def np64(t):
    return t.detach().cpu().to(torch.float64).numpy()


def read_params(built):
    """weights, biases, feedback (None where absent) as float64 NumPy lists in state-dict order."""
    sd = built.model.state_dict()
    L = num_layers(sd)
    weights = [np64(sd[f"layers.{i}.weight"]) for i in range(L)]
    biases = [np64(sd[f"layers.{i}.bias"]) for i in range(L)]
    feedback = [np64(sd[f"layers.{i}.feedback"]) if f"layers.{i}.feedback" in sd else None
                for i in range(L)]
    return weights, biases, feedback


def reference_updates(rule, weights, biases, feedback, x, y, activation, loss="cross_entropy", gate=None,
                      **options):
    """The reference's update, keyed like state_dict; ``gate``: ntk's frozen (weight0, bias0)."""
    if rule == "ntk":
        p = reference.gated_forward(weights, biases, *gate, x, y, loss)
    else:
        p = reference.forward(weights, biases, x, y, activation, loss)
    return updates(p, signals(rule, p, by_layer(feedback or [None] * len(weights)), **options))


def snapshot(built):
    return {k: v.detach().clone() for k, v in built.model.state_dict().items()}


def lib_updates(built, x, y):
    grads = compute_updates(built, x.clone(), y.clone())
    assert isinstance(grads, dict), type(grads)
    out = {}
    for k, v in grads.items():
        assert isinstance(v, torch.Tensor), (k, type(v))
        assert torch.isfinite(v).all(), f"{k} has non-finite entries"
        out[k] = np64(v)
    return out


def expected_keys(L, train_hidden=True):
    layers = range(L) if train_hidden else [L - 1]
    return {f"layers.{i}.{p}" for i in layers for p in ("weight", "bias")}


def mismatches(grads, ref, rtol=RTOL, atol=ATOL):
    """List of human-readable mismatches between library grads and the reference (both keyed like
    state_dict); a parameter the reference has and the library does not is a mismatch."""
    problems = []
    for name, want in ref.items():
        if name not in grads:
            problems.append(f"{name}: the reference updates it, the library does not")
            continue
        got = grads[name]
        if got.shape != want.shape:
            problems.append(f"{name}: shape {got.shape} != reference {want.shape}")
            continue
        if not np.allclose(got, want, rtol=rtol, atol=atol):
            err = np.abs(got - want)
            rel = err / np.maximum(np.abs(want), 1e-12)
            problems.append(
                f"{name}: max abs err {err.max():.3e}, max rel err {rel.max():.3e}, "
                f"|ref| max {np.abs(want).max():.3e}, |lib| max {np.abs(got).max():.3e}"
            )
    return problems


def assert_matches(grads, ref, L, train_hidden=True, rtol=RTOL, atol=ATOL, label=""):
    assert set(grads) == expected_keys(L, train_hidden), (
        f"{label}: returned keys {sorted(grads)} != trainable params "
        f"{sorted(expected_keys(L, train_hidden))}"
    )
    problems = mismatches(grads, ref, rtol, atol)
    assert not problems, f"{label}:\n" + "\n".join(problems)


def check_feedback_shapes(rule, weights, feedback, options):
    """Every layer the rule needs feedback on has it, in the orientation of docs/algorithms.md."""
    L = len(weights)
    C = weights[-1].shape[0]
    widths = [w.shape[0] for w in weights[:-1]]
    if rule in FA_FAMILY:
        want = {i: weights[i].shape for i in range(1, L)}
    elif rule in ("dfa", "sdfa", "ssdfa"):
        want = {i: (C, widths[i]) for i in range(L - 1)}
    elif rule == "ifa":
        want = {0: (C, widths[0])}
    elif rule == "bdfa":  # block 1 reads e; each later block the δ of the input-most layer above it
        want, source = {}, C
        for block in reference.blocks(L - 1, options["block_size"]):
            want.update({l - 1: (source, widths[l - 1]) for l in block})
            source = widths[block[-1] - 1]
    elif rule == "fp":  # every layer below the k backprop layers reads δ_{L-k} (e for k = 0)
        k = options["bp_depth"]
        source = C if k == 0 else widths[L - k - 1]
        want = {i: (source, widths[i]) for i in range(L - 1 - k)}
    elif rule in ("bp", "rf", "ntk"):
        want = {}
    else:  # pragma: no cover
        raise AssertionError(rule)
    for i, shape in want.items():
        assert feedback[i] is not None, f"{rule}: layers.{i}.feedback missing"
        assert tuple(feedback[i].shape) == tuple(shape), (
            f"{rule}: layers.{i}.feedback shape {feedback[i].shape}, expected {shape}"
        )
    return want


def run_reference_comparison(rule, activation, hidden, loss="cross_entropy", classes=3,
                             seed=0, device="cpu", **options):
    built = make_built(rule, activation, hidden, loss, classes, seed=seed, device=device, **options)
    x, y = make_batch(classes, seed=seed + 100)
    weights, biases, feedback_before = read_params(built)
    L = len(weights)
    assert L == len(hidden) + 1
    if loss == "bce":
        assert weights[-1].shape[0] == 1, "bce must use one output unit"
    else:
        assert weights[-1].shape[0] == classes
    check_feedback_shapes(rule, weights, feedback_before, options)

    grads = lib_updates(built, x.to(device), y.to(device))
    label = f"{rule} {activation} hidden={list(hidden)} loss={loss} options={options}"
    ref_opts = {k: options[k] for k in ("block_size", "bp_depth") if k in options}
    x64, y64 = x.numpy().astype(np.float64), y.numpy()
    gate = None
    if rule == "ntk":
        sd = built.model.state_dict()
        gate = (np64(sd["layers.0.weight0"]), np64(sd["layers.0.bias0"]))
    ref_before = reference_updates(rule, weights, biases, feedback_before, x64, y64,
                                   activation, loss, gate=gate, **ref_opts)
    if rule == "brsf":
        # R is redrawn every step: accept the feedback stored before or after the call
        _, _, feedback_after = read_params(built)
        ref_after = reference_updates(rule, weights, biases, feedback_after, x64, y64,
                                      activation, loss, **ref_opts)
        p_before, p_after = mismatches(grads, ref_before), mismatches(grads, ref_after)
        assert set(grads) == expected_keys(L), sorted(grads)
        assert not p_before or not p_after, (
            f"{label}: matches neither the feedback before nor after the call\n"
            f"before: {p_before}\nafter: {p_after}"
        )
    else:
        assert_matches(grads, ref_before, L, train_hidden=rule != "rf", label=label)
    return built, grads


# ----------------------------------------------------------------------------- the reference itself


@pytest.mark.parametrize("loss", LOSSES)
def test_reference_output_error_is_the_loss_gradient(loss):
    """Guards the reference: e must equal autograd's dℓ/da_L for the PyTorch losses."""
    rng = np.random.default_rng(0)
    C = 1 if loss == "bce" else 4
    logits = rng.normal(size=(10, C))
    y = rng.integers(0, 2 if loss == "bce" else C, size=10)
    y[:2] = [0, 1]
    t = torch.tensor(logits, requires_grad=True)
    yt = torch.tensor(y)
    if loss == "cross_entropy":
        value = F.cross_entropy(t, yt)
    elif loss == "bce":
        value = F.binary_cross_entropy_with_logits(t[:, 0], yt.to(torch.float64))
    else:
        value = F.mse_loss(t, F.one_hot(yt, C).to(torch.float64))
    value.backward()
    np.testing.assert_allclose(output_error(logits, y, loss), t.grad.numpy(), rtol=1e-10, atol=1e-14)
    assert loss_value(logits, y, loss) == pytest.approx(value.item(), rel=1e-10)


def test_reference_bdfa_blocks():
    assert reference.blocks(5, 2) == [[5, 4], [3, 2], [1]]
    assert reference.blocks(4, 2) == [[4, 3], [2, 1]]
    assert reference.blocks(4, 1) == [[4], [3], [2], [1]]
    assert reference.blocks(3, 5) == [[3, 2, 1]]


def test_reference_imports_nothing_but_numpy():
    """The reference must stay independent of the torch code it checks."""
    source = open(reference.__file__, encoding="utf-8").read()
    imports = [line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert sorted(imports) == ["__future__", "dataclasses", "numpy"], imports


# ----------------------------------------------------------------------------- every rule


@pytest.mark.parametrize("hidden", ARCHS, ids=lambda h: "h" + "-".join(map(str, h)))
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("rule", ALL_RULES)
def test_rule_matches_reference(rule, activation, hidden):
    run_reference_comparison(rule, activation, hidden, **RULE_OPTIONS.get(rule, {}))


@pytest.mark.parametrize("sign_refresh", ("init", "epoch", "step"))
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fa_sign_refresh_matches_reference(sign_refresh, activation):
    built, _ = run_reference_comparison("fa", activation, (6, 8, 4), sign_refresh=sign_refresh)
    weights, _, feedback = read_params(built)
    for i in range(1, len(weights)):
        assert np.array_equal(np.sign(feedback[i]), np.sign(weights[i])), (
            f"fa sign_refresh={sign_refresh}: layers.{i}.feedback not sign-concordant with W"
        )


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("rule", ALL_RULES)
def test_losses_match_reference(rule, loss):
    options = dict(RULE_OPTIONS.get(rule, {}))
    classes = 2 if loss == "bce" else 4
    if rule == "sdfa" and loss == "bce":
        options["connections"] = 1  # one output unit: a column can have one non-zero at most
    run_reference_comparison(rule, "tanh", (6, 5, 4), loss=loss, classes=classes, **options)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("variant,activation", [("gaussian", "relu"), ("relu", "relu"), ("linear", "linear")])
def test_random_features_match_reference(variant, activation, loss):
    classes = 2 if loss == "bce" else 3
    built, grads = run_reference_comparison("rf", activation, (9,), loss=loss, classes=classes, variant=variant)
    assert sorted(grads) == ["layers.1.bias", "layers.1.weight"]


@pytest.mark.parametrize("loss", LOSSES)
def test_ntk_matches_reference_once_the_weights_leave_their_gates(loss):
    classes = 2 if loss == "bce" else 3
    built = make_built("ntk", "relu", (9,), loss, classes)
    sd = built.model.state_dict()
    g = torch.Generator().manual_seed(1)
    sd["layers.0.weight"] = -sd["layers.0.weight"] + 0.1 * torch.randn(sd["layers.0.weight"].shape, generator=g)
    built.model.load_state_dict(sd)  # the live ReLU now disagrees with the frozen gates
    weights, biases, feedback = read_params(built)
    assert feedback == [None, None]
    x, y = make_batch(classes)
    x64, y64 = x.numpy().astype(np.float64), y.numpy()
    gate = (np64(sd["layers.0.weight0"]), np64(sd["layers.0.bias0"]))
    ref = reference_updates("ntk", weights, biases, None, x64, y64, "relu", loss, gate=gate)
    assert_matches(lib_updates(built, x, y), ref, 2, label=f"ntk {loss}")
    relu_bp = reference_updates("bp", weights, biases, None, x64, y64, "relu", loss)
    assert not np.allclose(ref["layers.0.weight"], relu_bp["layers.0.weight"], rtol=1e-2, atol=1e-4)


# ----------------------------------------------------------------------------- bp vs autograd


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS + ("linear",))
def test_bp_matches_autograd(activation, loss):
    classes = 2 if loss == "bce" else 3
    hidden = (8, 5, 6)
    built = make_built("bp", activation, hidden, loss, classes)
    x, y = make_batch(classes, seed=7)
    sd = built.model.state_dict()
    L = num_layers(sd)

    layers = torch.nn.ModuleList()
    for i in range(L):
        W = sd[f"layers.{i}.weight"].detach().to(torch.float64)
        lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(W)
            lin.bias.copy_(sd[f"layers.{i}.bias"].detach().to(torch.float64))
        layers.append(lin)
    act = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
           "linear": lambda t: t}[activation]
    h = x.to(torch.float64)
    for i, lin in enumerate(layers):
        h = lin(h)
        if i < L - 1:
            h = act(h)
    if loss == "cross_entropy":
        value = F.cross_entropy(h, y)
    elif loss == "bce":
        assert h.shape[1] == 1
        value = F.binary_cross_entropy_with_logits(h[:, 0], y.to(torch.float64))
    else:
        value = F.mse_loss(h, F.one_hot(y, classes).to(torch.float64))
    value.backward()
    want = {f"layers.{i}.{p}": np64(getattr(lin, p).grad) for i, lin in enumerate(layers) for p in ("weight", "bias")}

    grads = lib_updates(built, x, y)
    assert_matches(grads, want, L, label=f"bp vs autograd {activation} {loss}")
    # and the NumPy reference agrees with autograd (guards the reference)
    w, b, _ = read_params(built)
    ref = reference_updates("bp", w, b, None, x.numpy().astype(np.float64), y.numpy(),
                            activation, loss)
    assert set(ref) == set(want)
    for k in want:
        np.testing.assert_allclose(ref[k], want[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_bp_has_no_feedback_matrices():
    sd = make_built("bp").model.state_dict()
    assert not [k for k in sd if "feedback" in k], list(sd)


# ----------------------------------------------------------------------------- special cases


def _copy_state(src_built, dst_built):
    """Load every tensor of src's state_dict whose key dst also has (shapes must agree)."""
    src = src_built.model.state_dict()
    dst = dst_built.model.state_dict()
    for k, v in src.items():
        if k in dst:
            assert dst[k].shape == v.shape, f"{k}: {tuple(dst[k].shape)} vs {tuple(v.shape)}"
            dst[k] = v.clone()
    dst_built.model.load_state_dict(dst)


def assert_same_updates(a, b, hidden, x, y):
    """Both builds hand the optimiser the same update for every parameter of this batch."""
    g_a, g_b = lib_updates(a, x, y), lib_updates(b, x, y)
    assert set(g_a) == set(g_b) == expected_keys(len(hidden) + 1)
    for k in g_a:
        np.testing.assert_allclose(g_b[k], g_a[k], rtol=SAME_RTOL, atol=SAME_ATOL, err_msg=k)
    return g_a


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("extra", (0, 2))
def test_bdfa_with_large_block_equals_dfa(activation, extra):
    hidden = (7, 4, 6, 5)
    dfa = make_built("dfa", activation, hidden)
    bdfa = make_built("bdfa", activation, hidden, block_size=len(hidden) + extra)
    _copy_state(dfa, bdfa)
    # every dfa feedback key must exist in bdfa with the same shape (one block = dfa)
    sd_d, sd_b = dfa.model.state_dict(), bdfa.model.state_dict()
    fb_keys = [k for k in sd_d if k.endswith(".feedback")]
    assert len(fb_keys) == len(hidden), fb_keys
    for k in fb_keys:
        assert k in sd_b and torch.equal(sd_b[k], sd_d[k]), k
    x, y = make_batch(3)
    g_d = assert_same_updates(dfa, bdfa, hidden, x, y)
    # and not trivially: dfa differs from bp on the hidden layers
    w, b, _ = read_params(dfa)
    bp = reference_updates("bp", w, b, None, x.numpy().astype(np.float64), y.numpy(),
                           activation, "cross_entropy")
    assert not np.allclose(g_d["layers.0.weight"], bp["layers.0.weight"], rtol=1e-2, atol=1e-4)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fp_depth_zero_equals_dfa(activation):
    hidden = (6, 8, 4)
    dfa = make_built("dfa", activation, hidden)
    fp = make_built("fp", activation, hidden, bp_depth=0)
    _copy_state(dfa, fp)
    sd_f = fp.model.state_dict()
    for i in range(len(hidden)):
        assert tuple(sd_f[f"layers.{i}.feedback"].shape) == (3, hidden[i])
    x, y = make_batch(3)
    assert_same_updates(dfa, fp, hidden, x, y)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fp_full_depth_equals_bp(activation):
    hidden = (6, 8, 4)
    bp = make_built("bp", activation, hidden)
    fp = make_built("fp", activation, hidden, bp_depth=len(hidden))
    _copy_state(bp, fp)
    x, y = make_batch(3)
    assert_same_updates(bp, fp, hidden, x, y)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize(
    "hidden,block_size",
    [((7, 6, 5, 4, 3), 1), ((7, 6, 5, 4, 3), 2), ((7, 6, 5, 4, 3), 3),
     ((5, 9, 4, 6), 1), ((5, 9, 4, 6), 2), ((5, 9, 4, 6), 3)],
)
def test_bdfa_blocks_match_reference(hidden, block_size, activation):
    run_reference_comparison("bdfa", activation, hidden, block_size=block_size)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("bp_depth", (0, 1, 2, 3, 4))
def test_fp_depths_match_reference(bp_depth, activation):
    run_reference_comparison("fp", activation, (5, 9, 4, 6), bp_depth=bp_depth)


@pytest.mark.parametrize("rule,connections", [("sdfa", 1), ("sdfa", 2), ("sdfa", 3), ("ssdfa", None)])
def test_sparse_dfa_feedback_structure(rule, connections):
    classes = 5
    hidden = (9, 12, 8)
    opts = {} if connections is None else {"connections": connections}
    m = 1 if connections is None else connections
    built = make_built(rule, "tanh", hidden, classes=classes, **opts)
    weights, _, feedback = read_params(built)
    patterns = set()
    for i, n in enumerate(hidden):
        B = feedback[i]
        assert B is not None and B.shape == (classes, n), (i, None if B is None else B.shape)
        nnz = (B != 0).sum(axis=0)
        assert np.all(nnz == m), f"{rule} layers.{i}.feedback non-zeros per column {nnz}, want {m}"
        nonzero = B[B != 0]
        assert np.all((nonzero >= -0.5) & (nonzero <= 0.5)), "values outside the feedback init"
        patterns.update(tuple(np.flatnonzero(B[:, j])) for j in range(n))
    if m < classes:
        assert len(patterns) > 1, "every column uses the same rows: rows are not random"
    # and the rule is DFA with these matrices
    run_reference_comparison(rule, "tanh", hidden, classes=classes, **opts)


@pytest.mark.parametrize("scale", (0.3, 0.05))
def test_usf_feedback_is_scaled_sign_of_w(scale):
    built = make_built("usf", "tanh", (6, 8, 4), scale=scale)
    weights, _, feedback = read_params(built)
    for i in range(1, len(weights)):
        assert feedback[i] is not None
        np.testing.assert_allclose(feedback[i], usf_feedback(weights[i], scale), rtol=1e-6, atol=0,
                                   err_msg=f"layers.{i}.feedback")


def test_usf_default_scale_is_std_of_forward_init():
    built = make_built("usf", "tanh", (6, 8, 4))
    weights, _, feedback = read_params(built)
    std = 1.0 / math.sqrt(12.0)  # std of U(-0.5, 0.5)
    for i in range(1, len(weights)):
        np.testing.assert_allclose(feedback[i], usf_feedback(weights[i], std), rtol=1e-5, atol=0,
                                   err_msg=f"layers.{i}.feedback")


@pytest.mark.parametrize("rule,opts", [("frsf", {}), ("brsf", {}), ("fa", {"sign_refresh": "init"}),
                                       ("fa", {"sign_refresh": "epoch"}), ("fa", {"sign_refresh": "step"})])
def test_random_magnitude_feedback_is_sign_concordant(rule, opts):
    built = make_built(rule, "tanh", (6, 8, 4), **opts)
    weights, _, feedback = read_params(built)
    mags = []
    for i in range(1, len(weights)):
        B = feedback[i]
        assert B is not None and B.shape == weights[i].shape
        assert np.array_equal(np.sign(B), np.sign(weights[i])), f"layers.{i}: sign(B) != sign(W)"
        assert np.all(np.abs(B) <= 0.5 + 1e-7), "|B| outside the feedback initialiser's range"
        mags.append(np.abs(B).ravel())
    mags = np.concatenate(mags)
    assert mags.std() > 0.05, "magnitudes look constant: not drawn from the feedback initialiser"


@pytest.mark.parametrize("rule,opts", [("usf", {"scale": 0.3}), ("frsf", {}),
                                       ("fa", {"sign_refresh": "step"})])
def test_sign_concordant_feedback_follows_current_weights(rule, opts):
    """usf / frsf use sign of the *current* W: flip a weight matrix and the update follows."""
    hidden = (6, 8, 4)
    built = make_built(rule, "tanh", hidden, **opts)
    weights, biases, feedback_old = read_params(built)
    sd = built.model.state_dict()
    flip = len(hidden)  # the output layer: its sign decides the last hidden layer's δ
    sd[f"layers.{flip}.weight"] = -sd[f"layers.{flip}.weight"]
    sd["layers.2.weight"] = -sd["layers.2.weight"]
    built.model.load_state_dict(sd)
    weights_new, _, _ = read_params(built)
    x, y = make_batch(3)
    grads = lib_updates(built, x, y)
    p = reference.forward(weights_new, biases, x.numpy().astype(np.float64), y.numpy(), "tanh")
    if rule == "usf":
        delta = reference.usf(p, opts["scale"])
    else:  # the magnitudes |R| stored before the flip, the signs of the flipped W
        delta = reference.frsf(p, by_layer(feedback_old))
    ref = updates(p, delta)
    assert_matches(grads, ref, len(weights), label=f"{rule} after flipping W")


def test_brsf_with_near_constant_magnitudes_is_usf():
    """With |R| ≈ 0.3 drawn every step, brsf's update is usf's with scale 0.3, however R is
    redrawn."""
    init = {"name": "normal", "mean": 0.3, "std": 1e-9}
    built = make_built("brsf", "sigmoid", (7, 4, 6, 5), feedback_init=init)
    weights, biases, _ = read_params(built)
    x, y = make_batch(3)
    grads = lib_updates(built, x, y)
    p = reference.forward(weights, biases, x.numpy().astype(np.float64), y.numpy(), "sigmoid")
    ref = updates(p, reference.usf(p, 0.3))
    assert_matches(grads, ref, len(weights), label="brsf |R|≈0.3")


@pytest.mark.parametrize("rule", ("bp", "dfa", "fa", "ifa", "usf"))
def test_train_hidden_false_only_output_layer(rule):
    hidden = (6, 8, 4)
    opts = RULE_OPTIONS.get(rule, {})
    built = make_built(rule, "relu", hidden, train_hidden=False, **opts)
    weights, biases, _ = read_params(built)
    L = len(weights)
    x, y = make_batch(3)
    grads = lib_updates(built, x, y)
    assert set(grads) == expected_keys(L, train_hidden=False), sorted(grads)
    ref_bp = reference_updates("rf", weights, biases, None, x.numpy().astype(np.float64),
                               y.numpy(), "relu", "cross_entropy")
    assert_matches(grads, ref_bp, L, train_hidden=False, label=f"{rule} train_hidden=false")
    # and equal to the library's own BP output-layer gradient at the same weights
    bp = make_built("bp", "relu", hidden)
    _copy_state(built, bp)
    g_bp = lib_updates(bp, x, y)
    for k in grads:
        np.testing.assert_allclose(grads[k], g_bp[k], rtol=SAME_RTOL, atol=SAME_ATOL, err_msg=k)


@pytest.mark.parametrize("rule", ALL_RULES)
def test_compute_updates_leaves_weights_unchanged(rule):
    built = make_built(rule, "tanh", (6, 8, 4), **RULE_OPTIONS.get(rule, {}))
    before = snapshot(built)
    x, y = make_batch(3)
    g1 = lib_updates(built, x, y)
    g2 = lib_updates(built, x, y)
    after = snapshot(built)
    L = num_layers(before)
    for i in range(L):
        for p in ("weight", "bias"):
            k = f"layers.{i}.{p}"
            assert torch.equal(before[k], after[k]), f"{rule}: compute_updates changed {k}"
    if rule != "brsf":  # everything else is deterministic at fixed weights
        for k in g1:
            np.testing.assert_array_equal(g1[k], g2[k], err_msg=f"{rule}: {k} differs between calls")
        for k in before:
            if k.endswith(".feedback"):
                assert torch.equal(before[k], after[k]), f"{rule}: fixed feedback {k} changed"
    # the gradients are not all zero (the comparisons above are not vacuous)
    assert any(np.abs(v).max() > 1e-6 for v in g1.values())


# ----------------------------------------------------------------------------- config errors


@pytest.mark.parametrize(
    "rule,opts,field",
    [("bdfa", {"block_size": 0}, "algorithm.block_size"),
     ("fp", {"bp_depth": -1}, "algorithm.bp_depth"),
     ("fp", {"bp_depth": 4}, "algorithm.bp_depth"),  # three hidden layers
     ("sdfa", {"connections": 0}, "algorithm.connections"),
     ("sdfa", {"connections": 4}, "algorithm.connections"),  # three classes
     ("fa", {"sign_refresh": "sometimes"}, "algorithm.sign_refresh")],
)
def test_bad_rule_options_raise_config_error(rule, opts, field):
    with pytest.raises(ConfigError) as info:
        make_built(rule, "tanh", (6, 5, 4), **opts)
    assert isinstance(info.value, ValueError)
    assert field in str(info.value), str(info.value)
