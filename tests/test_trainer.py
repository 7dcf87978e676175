"""The training loop: learning, divergence, determinism, Batch Manhattan, shallow training."""

from __future__ import annotations

import math

import pytest
import torch

from explorer import ConfigError, Trainer, compute_updates, train
from tests.conftest import small_config


def strip_time(history):
    return [{k: v for k, v in r.items() if k != "time"} for r in history]


@pytest.mark.parametrize("rule", ["bp", "dfa", "fa"])
def test_rules_learn_digits(rule):
    result = train(small_config(algorithm={"name": rule}, train={"epochs": 8, "batch_size": 32}))
    assert result.status == "done" and result.diverged_at is None
    assert result.final["test_acc"] > 0.85, result.final["test_acc"]
    assert result.history[0]["train_loss"] > result.final["train_loss"]


def test_records_arrive_through_on_metrics_at_each_interval_and_epoch_end():
    seen = []
    result = train(small_config(train={"epochs": 2, "batch_size": 100, "log_every": 4}), on_metrics=seen.append)
    # digits: 1,438 training samples -> 14 full batches per epoch; logs at the first step, 4, 8, 12, 14 | 16, 20, 24, 28
    assert [r["step"] for r in seen] == [1, 4, 8, 12, 14, 16, 20, 24, 28]
    assert seen == result.history and result.final == seen[-1]
    assert seen[-1]["samples"] == 2 * 1400 and seen[-1]["epoch"] == 2.0
    layer = seen[-1]["layers"][0]
    assert {"update_cos", "update_deg", "signal_cos", "signal_deg", "weight_cos", "weight_deg",
            "grad_norm", "weight_norm", "feedback_norm"} <= set(layer)


@pytest.mark.parametrize("loss", ["cross_entropy", "bce"])
def test_a_records_train_loss_and_accuracy_are_those_of_the_steps_in_its_interval(loss):
    data = {"name": "random", "samples": 1400, "features": 10, "classes": 2} if loss == "bce" else {"name": "digits"}
    cfg = small_config(data=data, train={"epochs": 2, "batch_size": 100, "log_every": 4, "loss": loss})
    trainer = Trainer(cfg)
    rule, steps = trainer.built.rule, []
    backward = rule.backward

    def watched(model, x, y, loss_fn):  # every step's loss and predictions, read one by one
        out = backward(model, x, y, loss_fn)
        predicted = (out[1].squeeze(1) > 0).long() if loss == "bce" else out[1].argmax(1)
        steps.append((out[0].item(), (predicted == y).tolist()))
        return out

    rule.backward = watched
    result = trainer.run()
    assert [r["step"] for r in result.history] == [1, 4, 8, 12, 14, 16, 20, 24, 28]
    logged_at = [0] + [r["step"] for r in result.history]
    for (before, at), record in zip(zip(logged_at, logged_at[1:]), result.history):
        interval = steps[before:at]
        assert record["train_loss"] == pytest.approx(sum(l for l, _ in interval) / len(interval), rel=1e-6)
        right = [r for _, rights in interval for r in rights]
        assert record["train_acc"] == pytest.approx(sum(right) / len(right), rel=1e-9)


def test_a_non_finite_loss_stops_the_run_as_diverged_at_that_step():
    # train.diverge off: only the non-finite loss stops it (tests/test_divergence.py: the limits)
    cfg = small_config(optimizer={"name": "sgd", "lr": 1e6, "momentum": 0.9},
                       model={"name": "mlp", "hidden": [32], "activation": "relu"},
                       train={"epochs": 5, "batch_size": 64, "log_every": 1, "diverge": None})
    result = train(cfg)
    assert result.status == "diverged" and result.reason.startswith("loss") and "not finite" in result.reason
    steps = [r["step"] for r in result.history]
    assert result.diverged_at is not None and result.diverged_at < 5 * 22
    assert steps == list(range(1, result.diverged_at))  # everything before it was kept
    assert all(math.isfinite(r["train_loss"]) for r in result.history)
    # Logging less often still pins the exact step: the check runs on the device every step.
    sparse = train(cfg.copy() | {"train": cfg["train"] | {"log_every": 10}})
    assert sparse.diverged_at == result.diverged_at
    assert all(r["step"] < result.diverged_at for r in sparse.history)


@pytest.mark.parametrize("algorithm", [{"name": "dfa"}, {"name": "brsf"}, {"name": "fa", "sign_refresh": "epoch"}])
def test_same_config_and_seed_give_identical_metrics(algorithm):
    cfg = small_config(algorithm=algorithm, train={"epochs": 2, "batch_size": 64})
    a, b = train(cfg), train(cfg)
    assert strip_time(a.history) == strip_time(b.history)
    c = train(cfg | {"seed": 1})
    assert strip_time(c.history) != strip_time(a.history)


def test_batch_manhattan_hands_the_optimiser_the_sign_of_the_update():
    cfg = small_config(algorithm={"name": "dfa"}, optimizer={"name": "sgd", "lr": 0.01, "momentum": 0.0,
                                                             "batch_manhattan": True},
                       train={"epochs": 1, "batch_size": 1438})  # all 1,438 digits in one batch: a known step
    trainer = Trainer(cfg)
    b = trainer.built
    before = {k: v.clone() for k, v in b.model.state_dict().items()}
    order = torch.randperm(b.data.num_train, generator=torch.Generator().manual_seed(
        __import__("explorer.engine.build", fromlist=["derived_seed"]).derived_seed(0, 2)))
    update = compute_updates(b, b.data.x_train[order], b.data.y_train[order])
    trainer.step()
    after = b.model.state_dict()
    for name, g in update.items():
        torch.testing.assert_close(after[name], before[name] - 0.01 * torch.sign(g), rtol=0, atol=1e-6)


def test_shallow_training_keeps_hidden_layers_at_their_initial_weights():
    cfg = small_config(algorithm={"name": "dfa", "train_hidden": False}, train={"epochs": 2})
    trainer = Trainer(cfg)
    start = {k: v.clone() for k, v in trainer.built.model.state_dict().items()}
    result = trainer.run()
    end = trainer.built.model.state_dict()
    assert torch.equal(start["layers.0.weight"], end["layers.0.weight"])
    assert torch.equal(start["layers.1.bias"], end["layers.1.bias"])
    assert not torch.equal(start["layers.2.weight"], end["layers.2.weight"])
    assert result.final["test_acc"] > 0.3


def test_feedback_matrices_are_never_touched_by_the_optimiser():
    trainer = Trainer(small_config(algorithm={"name": "dfa"}, optimizer={"name": "adam", "lr": 0.01,
                                                                          "weight_decay": 0.1}))
    fb = trainer.built.model.layers[0].feedback.clone()
    trainer.run()
    assert torch.equal(fb, trainer.built.model.layers[0].feedback)


def test_sign_refresh_every_epoch_follows_the_weights_at_epoch_starts_only():
    trainer = Trainer(small_config(algorithm={"name": "fa", "sign_refresh": "epoch"}, train={"epochs": 2}))
    layer = trainer.built.model.layers[1]
    start = layer.feedback.clone()
    for _ in range(trainer.steps_per_epoch):
        trainer.step()
    assert torch.equal(layer.feedback, start)  # no refresh within the epoch
    w_at_epoch_start = layer.weight.detach().clone()
    assert not torch.equal(torch.sign(start), torch.sign(w_at_epoch_start))  # W's signs moved
    trainer.step()  # the first step of epoch 2 refreshes the signs before its update
    torch.testing.assert_close(layer.feedback, start.abs() * torch.sign(w_at_epoch_start))


@pytest.mark.parametrize("rule", ["usf", "frsf", "brsf"])
def test_step_refreshed_feedback_is_the_b_the_next_update_uses(rule):
    trainer = Trainer(small_config(algorithm={"name": rule}))
    layer = trainer.built.model.layers[2]
    magnitudes = []
    for _ in range(3):
        trainer.step()
        torch.testing.assert_close(layer.feedback, layer.feedback_magnitude * torch.sign(layer.weight.detach()))
        magnitudes.append(layer.feedback_magnitude.clone())
    assert torch.equal(magnitudes[0], magnitudes[2]) == (rule != "brsf")  # brsf redraws every step


@pytest.mark.parametrize("optimizer", [{"name": "adagrad"}, {"name": "adadelta"}, {"name": "rmsprop", "momentum": 0.5},
                                       {"name": "adam"}, {"name": "sgd", "momentum": 0.9, "nesterov": True}])
def test_every_optimiser_trains(optimizer):
    result = train(small_config(optimizer=optimizer, train={"epochs": 2}))
    assert result.status == "done"
    assert result.final["train_loss"] < result.history[0]["train_loss"]


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_other_losses_train(loss):
    data = {"name": "random", "samples": 256, "features": 10, "classes": 2} if loss == "bce" else {"name": "digits"}
    result = train(small_config(data=data, train={"epochs": 3, "loss": loss, "batch_size": 32}))
    built = result.built
    assert built.model.layers[-1].out_features == (1 if loss == "bce" else 10)
    assert result.final["train_loss"] < result.history[0]["train_loss"]


def test_a_batch_larger_than_the_training_set_is_refused_not_cut_down():
    with pytest.raises(ConfigError) as err:
        Trainer(small_config(train={"epochs": 1, "batch_size": 1439}))  # the digits have 1,438 to train on
    assert err.value.field == "train.batch_size" and "1,438" in str(err.value)
    assert Trainer(small_config(train={"epochs": 1, "batch_size": 1438})).steps_per_epoch == 1


def test_fewer_test_samples_than_snapshot_samples_is_noted_beside_the_field():
    result = train(small_config(train={"epochs": 1, "snapshots": [0, 1], "snapshot_samples": 500}))
    assert len(result.probe) == 359  # the digits' test split
    assert "359" in result.notes["train.snapshot_samples"] and "500" in result.notes["train.snapshot_samples"]
    assert all(s.layers["layers.0"].shape[0] == 359 for s in result.snapshots)
    assert train(small_config(train={"epochs": 1, "snapshots": [1], "snapshot_samples": 359})).notes == {}


def test_the_note_reaches_a_background_run_s_handle(tmp_path):
    from explorer.runs.jobs import JobManager

    with JobManager(str(tmp_path / "runs.sqlite")) as jobs:
        handle = jobs.submit(small_config(train={"epochs": 1, "snapshots": [1], "snapshot_samples": 400}))
        assert handle.wait(timeout=120) == "done"
    assert list(handle.notes) == ["train.snapshot_samples"] and "359" in handle.notes["train.snapshot_samples"]
