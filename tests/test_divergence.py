"""Divergence means more than a NaN (`train.diverge`, `explorer.config.divergence`): under every
rule a hostile setting stops as diverged at the step an independent computation of the loss and
the weight norm finds, with every earlier record and the reason; a sane one stays done."""

from __future__ import annotations

import math

import pytest

from explorer import ConfigError, RunConfig, Trainer, train
from explorer.config.divergence import Divergence
from explorer.config.registry import RULES
from explorer.engine.seeds import SeedsTrainer
from tests.conftest import small_config


def hostile(rule: str, **train_options) -> dict:
    """A tiny net at a hostile setting: lr 10 with momentum, feedback ±100 where the rule has any
    (uSF, which has none, at lr 100; RF, whose bounded cross-entropy gradient only grows its
    readout linearly, with the mean squared error)."""
    algorithm = {"name": rule}
    if RULES[rule].feedback:
        algorithm["feedback_init"] = {"name": "uniform", "low": -100, "high": 100}
    lr = 100 if rule == "usf" else 10
    loss = "mse" if rule == "rf" else "cross_entropy"
    return small_config(model={"name": "mlp", "hidden": [16], "activation": "relu"}, algorithm=algorithm,
                        optimizer={"name": "sgd", "lr": lr, "momentum": 0.9},
                        train={"epochs": 1, "batch_size": 64, "log_every": 1, "loss": loss, **train_options})


def sane(rule: str, **sections) -> dict:
    return small_config(model={"name": "mlp", "hidden": [16], "activation": "relu"}, algorithm={"name": rule},
                        train={"epochs": 1, "batch_size": 64, "log_every": 1}, **sections)


def watched(cfg: dict, rule: Divergence) -> tuple[int | None, str | None, float | None]:
    """The step where ``cfg`` should diverge under ``rule``, what passed its limit ("loss" or
    "weight norm") and its value, found apart from the trainer's check: the run trained with the
    check off, each step's loss read as the rule computes it, the weight norm summed in float64
    on the host after each step. (None, None, None) if no step passes."""
    off = cfg | {"train": cfg["train"] | {"diverge": None}}
    trainer = Trainer(off)
    losses, backward = [], trainer.built.rule.backward

    def reading(*args):
        out = backward(*args)
        losses.append(out[0].item())
        return out

    trainer.built.rule.backward = reading
    trained = [p for _, p in trainer.built.trainable()]

    def norm() -> float:
        return math.sqrt(sum(float(p.detach().double().square().sum()) for p in trained))

    start_norm = norm()
    for step in range(1, trainer.total_steps + 1):
        trainer.step()
        loss, weights = losses[-1], norm()
        if not math.isfinite(loss):
            return step, "loss", loss
        if step > 1 and rule.loss_factor is not None and loss > rule.loss_factor * max(losses[0], 1.0):
            return step, "loss", loss
        if rule.weight_factor is not None and not weights <= rule.weight_factor * max(start_norm, 1.0):
            return step, "weight norm", weights
    return None, None, None


def check(cfg: dict, rule: Divergence = Divergence()):
    """Train ``cfg`` and compare its verdict with `watched`; the result."""
    result = train(cfg)
    step, what, value = watched(cfg, rule)
    if step is None:
        assert (result.status, result.diverged_at, result.reason) == ("done", None, None)
        assert [r["step"] for r in result.history] == list(range(1, result.config.train.epochs * 22 + 1))
        return result
    assert (result.status, result.diverged_at) == ("diverged", step), result.reason
    assert [r["step"] for r in result.history] == list(range(1, step))  # every earlier record kept
    assert result.reason.startswith(f"{what} {value:.3g}"), (result.reason, what, value)
    return result


@pytest.mark.parametrize("rule", list(RULES))
def test_a_hostile_setting_diverges_at_the_step_the_loss_or_weights_pass_their_limit(rule):
    result = check(hostile(rule))
    assert result.status == "diverged" and result.diverged_at > 1


@pytest.mark.parametrize("rule", list(RULES))
def test_a_sane_setting_stays_done(rule):
    assert check(sane(rule)).status == "done"


def test_weights_initialised_at_zero_are_held_against_a_norm_of_at_least_one():
    assert check(sane("bp", init={"name": "zeros"})).status == "done"


def test_the_issues_runs_ended_done_with_an_exploded_loss_and_now_diverge():
    cfg = hostile("dfa") | {"train": {"epochs": 1, "batch_size": 64, "log_every": 1}}
    result, unchecked = train(cfg), train(cfg | {"train": cfg["train"] | {"diverge": None}})
    assert unchecked.status == "done"  # before: "done" at a loss of 1e+25 or so
    assert unchecked.final["train_loss"] > 1e6 * unchecked.history[0]["train_loss"]
    assert result.status == "diverged" and result.reason.startswith("loss ")
    untimed = lambda history: [{k: v for k, v in r.items() if k != "time"} for r in history]  # noqa: E731
    assert untimed(result.history) == untimed(unchecked.history[:result.diverged_at - 1])  # the same run until then


@pytest.mark.parametrize("diverge,what", [
    ({"weight_factor": 100, "loss_factor": None}, "weight norm"),  # uSF at lr 10: done by default
    ({"loss_factor": 50, "weight_factor": None}, "loss"),
])
def test_the_factors_are_configurable_and_each_check_can_be_turned_off(diverge, what):
    cfg = small_config(model={"name": "mlp", "hidden": [16], "activation": "relu"}, algorithm={"name": "usf"},
                       optimizer={"name": "sgd", "lr": 10, "momentum": 0.9},
                       train={"epochs": 1, "batch_size": 64, "log_every": 1, "diverge": diverge})
    assert train(cfg | {"train": cfg["train"] | {"diverge": {}}}).status == "done"
    result = check(cfg, RunConfig.from_dict(cfg).train.diverge)
    assert result.status == "diverged" and result.reason.startswith(what)


def test_logging_less_often_finds_the_same_step_and_reason():
    for rule in ("bp", "usf"):  # the loss, the weight norm
        every, sparse = train(hostile(rule)), train(hostile(rule, log_every=7))
        assert (sparse.diverged_at, sparse.reason) == (every.diverged_at, every.reason)
        assert [r["step"] for r in sparse.history] == [s for s in (1, 7, 14) if s < every.diverged_at]


@pytest.mark.parametrize("rule,lr", [("usf", 40), ("bp", 5)])  # the weight norm, the loss
def test_stacked_seeds_diverge_each_at_the_step_and_for_the_reason_of_its_own_run(rule, lr):
    cfgs = [hostile(rule) | {"optimizer": {"name": "sgd", "lr": lr, "momentum": 0.9}, "seed": s} for s in range(4)]
    results = SeedsTrainer(cfgs).run_all()
    singles = [check(c) for c in cfgs]
    assert len({r.diverged_at for r in results}) > 1  # the seeds part at different steps
    for stacked, single in zip(results, singles):
        assert (stacked.status, stacked.diverged_at, stacked.reason) == (single.status, single.diverged_at, single.reason)
        assert len(stacked.history) == len(single.history)


# The setting at the door ------------------------------------------------------------------

@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1, 0.5, 0, -3, 1e31, True, "1e6", [1e6]])
@pytest.mark.parametrize("factor", ["loss_factor", "weight_factor"])
def test_a_bad_factor_is_refused_by_name(factor, value):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({"train": {"diverge": {factor: value}}})
    assert err.value.field == f"train.diverge.{factor}"
    assert str(err.value).startswith(f"train.diverge.{factor}")


@pytest.mark.parametrize("value,field", [(5, "train.diverge"), ("off", "train.diverge"),
                                         ({"loss": 10}, "train.diverge.loss")])
def test_a_bad_setting_is_refused_by_name(value, field):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({"train": {"diverge": value}})
    assert err.value.field == field


@pytest.mark.parametrize("given,read", [
    ({}, Divergence(1e6, 1e4)),
    ({"diverge": None}, Divergence(None, None)),
    ({"diverge": {}}, Divergence(1e6, 1e4)),
    ({"diverge": {"loss_factor": None}}, Divergence(None, 1e4)),
    ({"diverge": {"weight_factor": 1.5, "loss_factor": 1e30}}, Divergence(1e30, 1.5)),
])
def test_the_setting_reads_and_round_trips(given, read):
    cfg = RunConfig.from_dict({"train": given})
    assert cfg.train.diverge == read
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert ("diverge" in cfg.to_dict()["train"]) == (read != Divergence())  # old configs read as before


def test_the_limits_follow_the_start_with_a_floor_of_one():
    rule = Divergence(100.0, 10.0)
    assert (rule.loss_limit(2.5), rule.loss_limit(0.25), rule.loss_limit(math.nan)) == (250.0, 100.0, math.inf)
    assert (rule.weight_limit(4.0), rule.weight_limit(0.0)) == (40.0, 10.0)
    assert Divergence(None, None).loss_limit(2.0) == Divergence(None, None).weight_limit(2.0) == math.inf


def test_a_background_run_stores_why_it_diverged_and_the_page_says_it(tmp_path):
    """The job manager keeps the reason in the store (``RunInfo.error``), where the Runs page, the
    run table and the command line read it."""
    from explorer import Trainer
    from explorer.runs.jobs import JobManager
    from explorer.runs.store import Store
    from explorer.runs.workspace import status_message

    cfg = hostile("dfa")
    alone = Trainer(cfg)
    while not alone.finished:
        alone.step()
    expected = alone.result()
    assert expected.status == "diverged" and expected.reason
    with JobManager(tmp_path / "runs.sqlite", max_concurrent=1) as jobs:
        handle = jobs.submit(cfg)
        handle.wait(timeout=120)
    with Store(tmp_path / "runs.sqlite") as store:
        info = store.get_run(handle.id)
    assert (info.status, info.diverged_at, info.error) == ("diverged", expected.diverged_at, expected.reason)
    assert f"({expected.reason})" in status_message("DFA", info)


def test_the_command_line_says_why_a_run_diverged(tmp_path, capsys):
    import json

    from explorer.cli import main
    from explorer.runs.store import Store

    store = tmp_path / "runs.sqlite"
    assert main(["train", "--lr", "10", "--epochs", "1", "--store", str(store), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    with Store(store) as s:
        info = s.get_run(shown["id"])
    assert shown["status"] == "diverged" and shown["reason"] == info.error
    assert shown["reason"].startswith("loss ") or shown["reason"].startswith("weight norm ")
