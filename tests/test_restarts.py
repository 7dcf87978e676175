"""``optimizer.schedule`` "restarts": the rate of each stage, a restart against the same restart done by
hand (best weights put back, a fresh optimiser, the next epoch's batches), "last", stacked seeds, and
the door."""

from __future__ import annotations

import copy

import pytest
import torch

from explorer import ConfigError, RunConfig, train
from explorer.engine.optim import make_optimizer
from explorer.engine.seeds import SeedsTrainer
from explorer.engine.trainer import Trainer, evaluate
from tests.conftest import small_config

LR1, LR2 = 3.0, 0.01  # the first rate far too high: on seed 0 the first epoch beats the second


def config(start="best", epochs=3, milestones=(2,), lrs=(LR2,), seed=0, **extra):
    return small_config(model={"name": "mlp", "hidden": [16], "activation": "tanh"}, algorithm={"name": "dfa"},
                        optimizer={"name": "sgd", "lr": LR1, "momentum": 0.9,
                                   "schedule": {"name": "restarts", "milestones": list(milestones),
                                                "lrs": list(lrs), "from": start}},
                        train={"epochs": epochs, "batch_size": 64, **extra}, seed=seed)


def by_hand(cfg: dict, start: str):
    """Two epochs at LR1, then the best (or last) weights, a fresh SGD at LR2, one epoch: by hand."""
    plain = copy.deepcopy(cfg)
    plain["optimizer"].pop("schedule")
    trainer = Trainer(plain)
    model = trainer.built.model
    states, accs = [], []
    while trainer.steps_done < 2 * trainer.steps_per_epoch:
        trainer.step()
        if trainer.steps_done % trainer.steps_per_epoch == 0:
            states.append({k: v.clone() for k, v in model.state_dict().items()})
            accs.append(evaluate(trainer.built, trainer.built.data.x_test, trainer.built.data.y_test)[1])
    best = max(range(len(accs)), key=lambda i: (accs[i], -i))  # the first of equal bests
    if start == "best":
        model.load_state_dict(states[best])
    optimizer = make_optimizer(RunConfig.from_dict(plain).optimizer, trainer.params)
    for group in optimizer.param_groups:
        group["lr"] = LR2
    b = trainer.built
    order = torch.randperm(b.data.num_train, generator=trainer.generators[0])
    for i in range(trainer.steps_per_epoch):
        idx = order[i * trainer.batch_size:(i + 1) * trainer.batch_size]
        b.rule.backward(model, b.data.x_train[idx], b.data.y_train[idx], b.loss_fn)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return model.state_dict(), best, accs


@pytest.mark.parametrize("start", ["best", "last"])
def test_a_restart_is_the_same_restart_done_by_hand(start):
    cfg = config(start)
    expected, best, accs = by_hand(cfg, start)
    trainer = Trainer(cfg)
    trainer.run()
    for k, v in trainer.built.model.state_dict().items():
        assert torch.allclose(v, expected[k], atol=1e-6), k
    ends = [r for r in trainer.history if float(r["epoch"]).is_integer()]
    assert [r["lr"] for r in ends] == [LR1, LR1, LR2]
    assert [r["test_acc"] for r in ends[:2]] == pytest.approx(accs)


def test_the_case_above_restarts_from_an_earlier_epoch_than_the_last():
    # so that "best" and "last" really differ in the comparison above
    _, best, accs = by_hand(config("best"), "best")
    assert best == 0 and accs[0] > accs[1]
    best_run, last_run = train(config("best")), train(config("last"))
    assert best_run.final["test_loss"] != last_run.final["test_loss"]


def test_each_stage_s_rate_in_the_records():
    cfg = config("last", epochs=5, milestones=(1, 3), lrs=(0.5, 0.05))
    ends = [r for r in train(cfg).history if float(r["epoch"]).is_integer()]
    assert [r["lr"] for r in ends] == [LR1, 0.5, 0.5, 0.05, 0.05]
    sched = RunConfig.from_dict(cfg).optimizer
    assert [sched.lr_at(e) for e in range(5)] == [LR1, 0.5, 0.5, 0.05, 0.05]


def test_stacked_seeds_restart_each_from_its_own_best():
    # 0.3 for an epoch, 3.0 for one (worse, on seeds 0, 1, 3; better on seed 2), then 0.01 from each
    # seed's own best
    cfgs = []
    for seed in range(4):
        c = config("best", seed=seed, milestones=(1, 2), lrs=(3.0, 0.01), log_every=10**6)
        c["optimizer"]["lr"] = 0.3
        cfgs.append(RunConfig.from_dict(c))
    stacked = SeedsTrainer(cfgs).run_all()
    bests = []
    for cfg, result in zip(cfgs, stacked):
        single = train(cfg).history
        assert [r["step"] for r in result.history] == [r["step"] for r in single]
        for a, b in zip(result.history, single):
            assert a["test_acc"] == b["test_acc"] and a["test_loss"] == pytest.approx(b["test_loss"], abs=1e-5)
        ends = [r["test_acc"] for r in single if float(r["epoch"]).is_integer()]
        bests.append(0 if ends[0] >= ends[1] else 1)
    assert len(set(bests)) == 2  # the seeds restarted from different epochs


def test_round_trip_and_defaults():
    cfg = RunConfig.from_dict(config("best"))
    d = cfg.to_dict()["optimizer"]["schedule"]
    assert d == {"name": "restarts", "milestones": [2], "lrs": [LR2], "from": "best"}
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    bare = {"name": "restarts", "milestones": [3], "lrs": [0.1]}
    assert RunConfig.from_dict({"optimizer": {"schedule": bare}}).optimizer.schedule.start == "best"


@pytest.mark.parametrize("schedule,field", [
    ({"milestones": [2, 2], "lrs": [0.1, 0.01]}, "optimizer.schedule.milestones[1]"),
    ({"milestones": [4, 2], "lrs": [0.1, 0.01]}, "optimizer.schedule.milestones[1]"),
    ({"milestones": [0], "lrs": [0.1]}, "optimizer.schedule.milestones[0]"),
    ({"milestones": [], "lrs": []}, "optimizer.schedule.milestones"),
    ({"milestones": [2, 4], "lrs": [0.1]}, "optimizer.schedule.lrs"),
    ({"milestones": [2], "lrs": [0.0]}, "optimizer.schedule.lrs[0]"),
    ({"milestones": [2], "lrs": [1e7]}, "optimizer.schedule.lrs[0]"),
    ({"milestones": [2], "lrs": [0.1], "from": "first"}, "optimizer.schedule.from"),
    ({"milestones": [2], "lrs": [0.1], "gamma": 0.1}, "optimizer.schedule.gamma"),
])
def test_bad_restarts_are_refused_naming_the_field(schedule, field):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({"optimizer": {"schedule": {"name": "restarts", **schedule}}})
    assert err.value.field == field
