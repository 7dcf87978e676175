"""Learning-rate schedules: the rate of every epoch against a hand computation and torch's own
schedulers, the rate the optimiser really used, and stacked seeds under a schedule."""

from __future__ import annotations

from bisect import bisect_right

import pytest
import torch

from explorer import ConfigError, RunConfig, train
from explorer.engine.seeds import SeedsTrainer
from explorer.engine.trainer import Trainer
from tests.conftest import small_config
from tests.test_seeds import assert_same_history

STEP = {"name": "step", "step_size": 2, "gamma": 0.5}
MULTISTEP = {"name": "multistep", "milestones": [4, 1], "gamma": 0.1}


def by_hand(lr, schedule, epoch):
    if schedule["name"] == "step":
        return lr * schedule["gamma"] ** (epoch // schedule["step_size"])
    return lr * schedule["gamma"] ** bisect_right(sorted(schedule["milestones"]), epoch)


def run_config(schedule, epochs=6, **train_options):
    return small_config(optimizer={"name": "sgd", "lr": 0.08, "momentum": 0.0, "schedule": schedule},
                        model={"name": "mlp", "hidden": [8], "activation": "tanh"},
                        train={"epochs": epochs, "batch_size": 256, **train_options})


@pytest.mark.parametrize("schedule", [STEP, MULTISTEP], ids=["step", "multistep"])
def test_each_epoch_s_rate_in_the_records_is_the_hand_computed_one(schedule):
    result = train(run_config(schedule))
    ends = [r for r in result.history if float(r["epoch"]).is_integer()]
    assert [int(r["epoch"]) for r in ends] == [1, 2, 3, 4, 5, 6]
    for r in ends:  # the record at the end of epoch k+1 was trained at epoch k's rate
        assert r["lr"] == pytest.approx(by_hand(0.08, schedule, int(r["epoch"]) - 1), rel=1e-12)
    assert len({r["lr"] for r in ends}) == 3  # the rate really changed, twice


@pytest.mark.parametrize("schedule,make", [
    (STEP, lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)),
    (MULTISTEP, lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[1, 4], gamma=0.1)),
    ({"name": "step", "step_size": 3, "gamma": 0.9},
     lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.9)),
], ids=["step", "multistep", "step3"])
def test_the_rates_are_torch_s_own_schedulers(schedule, make):
    cfg = RunConfig.from_dict(run_config(schedule)).optimizer
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    scheduler = make(opt)
    for epoch in range(10):
        assert cfg.lr_at(epoch) == pytest.approx(scheduler.get_last_lr()[0], rel=1e-12), epoch
        opt.step()
        scheduler.step()


def test_the_optimiser_steps_at_the_scheduled_rate():
    # plain SGD: one step moves the weights by exactly lr · grad, so the rate can be read off the step
    trainer = Trainer(run_config({"name": "multistep", "milestones": [1], "gamma": 0.25}, epochs=2))
    for epoch in range(2):
        while trainer.steps_done < (epoch + 1) * trainer.steps_per_epoch - 1:
            trainer.step()
        before = [p.detach().clone() for p in trainer.params]
        seen = {}
        hooks = [p.register_post_accumulate_grad_hook(lambda p, i=i: seen.__setitem__(i, p.grad.clone()))
                 for i, p in enumerate(trainer.params)]
        trainer.step()
        for h in hooks:
            h.remove()
        rate = 0.08 * (0.25 if epoch == 1 else 1.0)
        for i, p in enumerate(trainer.params):
            torch.testing.assert_close(before[i] - p.detach(), rate * seen[i], rtol=1e-4, atol=1e-7)


def test_stacked_seeds_follow_the_schedule_like_single_runs():
    cfgs = [RunConfig.from_dict(run_config(STEP, epochs=4) | {"seed": s}) for s in (0, 1)]
    stacked = SeedsTrainer(cfgs).run_all()
    for cfg, result in zip(cfgs, stacked):
        single = train(cfg)
        assert [r["lr"] for r in result.history] == [r["lr"] for r in single.history]
        assert_same_history(result.history, single.history)


def test_no_schedule_keeps_the_rate_and_the_config_dict():
    d = small_config()
    cfg = RunConfig.from_dict(d)
    assert cfg.optimizer.schedule is None and "schedule" not in cfg.to_dict()["optimizer"]
    assert RunConfig.from_dict(small_config(optimizer=d["optimizer"] | {"schedule": "none"})) == cfg
    assert {r["lr"] for r in train(cfg).history} == {0.05}


def test_a_schedule_round_trips():
    cfg = RunConfig.from_dict(run_config(MULTISTEP))
    assert cfg.to_dict()["optimizer"]["schedule"] == {"name": "multistep", "milestones": [1, 4], "gamma": 0.1}
    assert RunConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("schedule,field", [
    ({"name": "cosine"}, "optimizer.schedule.name"),
    ({"step_size": 2}, "optimizer.schedule.name"),
    ({"name": "step"}, "optimizer.schedule.step_size"),
    ({"name": "step", "step_size": 0}, "optimizer.schedule.step_size"),
    ({"name": "step", "step_size": 2, "gamma": 1.5}, "optimizer.schedule.gamma"),
    ({"name": "step", "step_size": 2, "gamma": 0}, "optimizer.schedule.gamma"),
    ({"name": "step", "step_size": 2, "milestones": [1]}, "optimizer.schedule.milestones"),
    ({"name": "multistep"}, "optimizer.schedule.milestones"),
    ({"name": "multistep", "milestones": []}, "optimizer.schedule.milestones"),
    ({"name": "multistep", "milestones": [2, 2]}, "optimizer.schedule.milestones"),
    ({"name": "multistep", "milestones": [2, "x"]}, "optimizer.schedule.milestones[1]"),
    ({"name": "multistep", "milestones": [0]}, "optimizer.schedule.milestones[0]"),
    ([1, 2], "optimizer.schedule"),
])
def test_bad_schedules_are_refused_naming_the_field(schedule, field):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict(run_config(schedule))
    assert err.value.field == field
