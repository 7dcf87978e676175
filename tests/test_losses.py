"""Sigmoid outputs with BCE over C classes, and the summed loss beside the mean: the values against
torch's own reductions, the output error e = dℓ/da against the hand formula, and a DFA step with
them against the reference implementation fed that e."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer import ConfigError, RunConfig, Trainer, train
from explorer.engine.build import build
from explorer.engine.losses import make_loss, mean_terms, per_seed_loss, with_reduction
from explorer.engine.seeds import SeedsTrainer
from explorer.engine.trainer import evaluate
from explorer.rules import reference
from tests.conftest import small_config
from tests.test_rules_reference import BATCH, FEATURES, make_batch, np64, read_params
from tests.test_seeds import assert_same_history

C, N = 5, 12


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    out = torch.randn(N, C, generator=g, dtype=torch.float64) * 3
    y = torch.randint(0, C, (N,), generator=g)
    return out, y


def torch_value(loss, out, y, reduction):
    """The loss as torch computes it with its own reduction."""
    target = F.one_hot(y, out.shape[-1]).to(out.dtype)
    if loss == "bce_multi":
        return F.binary_cross_entropy_with_logits(out, target, reduction=reduction)
    if loss == "cross_entropy":
        return F.cross_entropy(out, y, reduction=reduction)
    if loss == "mse_sigmoid":
        return F.mse_loss(torch.sigmoid(out), target, reduction=reduction)
    return F.mse_loss(out, target, reduction=reduction)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("loss", ["bce_multi", "cross_entropy", "mse", "mse_sigmoid"])
def test_the_loss_is_torch_s_with_its_own_reduction(loss, reduction):
    out, y = batch()
    ours = with_reduction(make_loss(loss, C), loss, reduction)(out, y)
    torch.testing.assert_close(ours, torch_value(loss, out, y, reduction), rtol=1e-12, atol=0)


def test_bce_multi_by_hand():
    out, y = batch(1)
    p, t = 1 / (1 + np.exp(-out.numpy())), np.eye(C)[y.numpy()]
    by_hand = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    assert make_loss("bce_multi", C)(out, y).item() == pytest.approx(by_hand.mean(), rel=1e-10)
    summed = with_reduction(make_loss("bce_multi", C), "bce_multi", "sum")
    assert summed(out, y).item() == pytest.approx(by_hand.sum(), rel=1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("loss", ["bce_multi", "cross_entropy", "mse", "mse_sigmoid"])
def test_the_output_error_is_the_hand_formula(loss, reduction):
    out, y = batch(2)
    logits = out.clone().requires_grad_(True)
    with_reduction(make_loss(loss, C), loss, reduction)(logits, y).backward()
    t = F.one_hot(y, C).double()
    s = torch.sigmoid(out)
    raw = {"bce_multi": s - t, "cross_entropy": torch.softmax(out, 1) - t,
           "mse": 2 * (out - t), "mse_sigmoid": 2 * (s - t) * s * (1 - s)}[loss]
    per_term = N if loss == "cross_entropy" else N * C  # what the mean divides by
    e = raw if reduction == "sum" else raw / per_term
    torch.testing.assert_close(logits.grad, e, rtol=1e-10, atol=1e-12)


def test_stacked_losses_sum_each_seed_s_own():
    g = torch.Generator().manual_seed(3)
    out, y = torch.randn(3, N, C, generator=g, dtype=torch.float64), torch.randint(0, C, (3, N), generator=g)
    means = per_seed_loss("bce_multi", C, out, y)
    for s in range(3):
        assert means[s].item() == pytest.approx(torch_value("bce_multi", out[s], y[s], "mean").item(), rel=1e-12)
    summed = with_reduction(lambda o, t: per_seed_loss("bce_multi", C, o, t).sum(), "bce_multi", "sum")
    want = sum(torch_value("bce_multi", out[s], y[s], "sum") for s in range(3))
    assert summed(out, y).item() == pytest.approx(want.item(), rel=1e-12)
    assert mean_terms("bce_multi", out) == N * C and mean_terms("cross_entropy", out) == N


def test_reducing_twice_changes_nothing():
    once = with_reduction(make_loss("mse", C), "mse", "sum")
    assert with_reduction(once, "mse", "sum") is once


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_a_dfa_step_with_bce_multi_is_the_reference_fed_the_hand_output_error(reduction):
    cfg = {"data": {"name": "random", "samples": 64, "features": FEATURES, "classes": C},
           "model": {"name": "mlp", "hidden": [6, 4], "activation": "tanh"},
           "algorithm": {"name": "dfa", "feedback_init": {"name": "uniform", "low": -0.5, "high": 0.5}},
           "init": {"name": "uniform", "low": -0.5, "high": 0.5},
           "train": {"epochs": 1, "batch_size": BATCH, "loss": "bce_multi", "reduction": reduction},
           "device": "cpu"}
    trainer = Trainer(cfg)
    built = trainer.built
    assert built.model.layers[-1].weight.shape[0] == C  # one sigmoid unit per class
    weights, biases, feedback = read_params(built)
    x, y = make_batch(C)
    from explorer.engine.metrics import compute_updates

    grads = {k: np64(v) for k, v in compute_updates(built, x, y).items()}
    p = reference.forward(weights, biases, x.numpy().astype(np.float64), y.numpy(), "tanh", "mse")
    t = np.eye(C)[y.numpy()]
    p.e = 1 / (1 + np.exp(-p.a[-1])) - t                 # dℓ/da of the summed BCE, by hand
    if reduction == "mean":
        p.e = p.e / (len(y) * C)
    B = reference.by_layer([None if f is None else f for f in feedback])
    want = reference.updates(p, reference.dfa(p, B))
    assert set(grads) == set(want)
    for key in want:
        np.testing.assert_allclose(grads[key], want[key], rtol=1e-4, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("loss,terms", [("cross_entropy", 64), ("bce_multi", 64 * 10)])
def test_the_summed_loss_at_lr_over_its_terms_trains_exactly_like_the_mean(loss, terms):
    def run(reduction, lr):
        return train(small_config(optimizer={"name": "sgd", "lr": lr, "momentum": 0.9},
                                  train={"epochs": 2, "batch_size": 64, "loss": loss, "reduction": reduction}))
    mean, summed = run("mean", 0.5), run("sum", 0.5 / terms)
    assert [r["step"] for r in summed.history] == [r["step"] for r in mean.history]
    for a, b in zip(summed.history, mean.history):
        for key in ("train_loss", "train_acc", "test_loss", "test_acc"):  # records report the mean loss
            assert a[key] == pytest.approx(b[key], abs=1e-4), key
        for la, lb in zip(a["layers"], b["layers"]):  # the gradient itself is the summed loss's
            assert la["grad_norm"] == pytest.approx(terms * lb["grad_norm"], rel=1e-3)
    different = run("sum", 0.5)
    assert different.final["train_loss"] != pytest.approx(mean.final["train_loss"], abs=1e-3)


def test_records_report_the_mean_loss_of_a_summed_run():
    result = train(small_config(train={"epochs": 1, "batch_size": 64, "loss": "bce_multi", "reduction": "sum"}))
    built = result.built
    loss, _ = evaluate(built, built.data.x_test, built.data.y_test)
    with torch.no_grad():
        want = torch_value("bce_multi", built.model(built.data.x_test).double(), built.data.y_test, "mean")
    assert result.final["test_loss"] == pytest.approx(loss) == pytest.approx(want.item(), rel=1e-5)
    assert 0 < result.final["train_loss"] < 1  # a mean per unit, not a sum over 64 × 10 terms


def test_stacked_seeds_with_a_summed_bce_multi_match_single_runs():
    cfgs = [RunConfig.from_dict(small_config(
        algorithm={"name": "dfa"}, optimizer={"name": "sgd", "lr": 0.001, "momentum": 0.9},
        train={"epochs": 2, "batch_size": 128, "loss": "bce_multi", "reduction": "sum", "log_every": 3})
        | {"seed": s}) for s in (0, 1)]
    for cfg, result in zip(cfgs, SeedsTrainer(cfgs).run_all()):
        assert_same_history(result.history, train(cfg).history)


def test_the_config_reads_and_round_trips():
    cfg = RunConfig.from_dict(small_config(train={"loss": "bce_multi", "reduction": "sum"}))
    assert (cfg.train.loss, cfg.train.reduction) == ("bce_multi", "sum")
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert "reduction" not in RunConfig.from_dict(small_config()).to_dict()["train"]
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict(small_config(train={"reduction": "max"}))
    assert err.value.field == "train.reduction"


def test_bce_multi_is_refused_for_regression_by_name():
    with pytest.raises(ConfigError) as err:
        build({"data": {"name": "teacher"}, "train": {"loss": "bce_multi"}, "device": "cpu"})
    assert err.value.field == "train.loss"


def test_a_built_run_outside_the_trainer_takes_the_summed_loss_too():
    # compute_updates works on `build`'s output alone: with reduction "sum" every gradient is the
    # batch size times the mean's (cross-entropy has one term per sample).
    from explorer.engine.metrics import compute_updates

    base = {"model": {"hidden": [8]}, "algorithm": {"name": "dfa"}, "device": "cpu"}
    mean = build(base)
    summed = build({**base, "train": {"reduction": "sum"}})
    x, y = mean.data.x_train[:16], mean.data.y_train[:16]
    a, b = compute_updates(mean, x, y), compute_updates(summed, x, y)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(b[name], 16 * a[name])


def test_mse_sigmoid_by_hand_in_numpy():
    out, y = batch(4)
    a, t = out.numpy(), np.eye(C)[y.numpy()]
    by_hand = (1 / (1 + np.exp(-a)) - t) ** 2
    assert make_loss("mse_sigmoid", C)(out, y).item() == pytest.approx(by_hand.mean(), rel=1e-10)
    summed = with_reduction(make_loss("mse_sigmoid", C), "mse_sigmoid", "sum")
    assert summed(out, y).item() == pytest.approx(by_hand.sum(), rel=1e-10)
    stacked = per_seed_loss("mse_sigmoid", C, out.unsqueeze(0).repeat(2, 1, 1), y.unsqueeze(0).repeat(2, 1))
    assert stacked.tolist() == pytest.approx([by_hand.mean()] * 2, rel=1e-10)
    assert mean_terms("mse_sigmoid", out) == N * C


@pytest.mark.parametrize("loss", ["bce_multi", "mse_sigmoid"])
def test_the_reference_s_output_error_and_value_are_torch_s(loss):
    out, y = batch(5)
    logits = out.clone().requires_grad_(True)
    value = torch_value(loss, logits, y, "mean")
    value.backward()
    np.testing.assert_allclose(reference.output_error(out.numpy(), y.numpy(), loss), logits.grad.numpy(),
                               rtol=1e-10, atol=1e-14)
    assert reference.loss_value(out.numpy(), y.numpy(), loss) == pytest.approx(value.item(), rel=1e-10)


def test_a_dfa_step_with_mse_sigmoid_is_the_reference_s():
    cfg = {"data": {"name": "random", "samples": 64, "features": FEATURES, "classes": C},
           "model": {"name": "mlp", "hidden": [6, 4], "activation": "sigmoid"},
           "algorithm": {"name": "dfa", "feedback_init": {"name": "uniform", "low": -0.5, "high": 0.5}},
           "init": {"name": "uniform", "low": -0.5, "high": 0.5},
           "train": {"epochs": 1, "batch_size": BATCH, "loss": "mse_sigmoid"}, "device": "cpu"}
    built = build(cfg)
    weights, biases, feedback = read_params(built)
    x, y = make_batch(C)
    from explorer.engine.metrics import compute_updates

    grads = {k: np64(v) for k, v in compute_updates(built, x, y).items()}
    p = reference.forward(weights, biases, x.numpy().astype(np.float64), y.numpy(), "sigmoid", "mse_sigmoid")
    want = reference.updates(p, reference.dfa(p, reference.by_layer(feedback)))
    assert set(grads) == set(want)
    for key in want:
        np.testing.assert_allclose(grads[key], want[key], rtol=1e-4, atol=1e-6, err_msg=key)


def test_mse_sigmoid_trains_and_counts_hits_by_the_argmax():
    result = train(small_config(train={"epochs": 2, "batch_size": 64, "loss": "mse_sigmoid"},
                                optimizer={"name": "sgd", "lr": 2.0, "momentum": 0.9}))
    built = result.built
    with torch.no_grad():
        out = built.model(built.data.x_test)
    assert result.final["test_acc"] == pytest.approx((out.argmax(1) == built.data.y_test).double().mean().item())
    assert result.final["test_acc"] > 0.5  # it learns (chance: 0.1)
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({"train": {"loss": "mse_sigmoide"}})
    assert err.value.field == "train.loss"
