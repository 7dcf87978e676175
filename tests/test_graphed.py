"""The CUDA-graph step's CPU side (`explorer.engine.graphed`): the ordinary step run on static
buffers (the batch indices copied in, the records written into the Tally's rows), forced on for the
CPU where nothing is captured, trains exactly as the plain step does (torch.equal on every weight,
optimiser state and record); which runs may be captured, and why not in words; when the trainer
drops a captured graph (the lr, the optimiser or the data changed). The capture itself needs CUDA:
tests/test_gpu.py."""

from __future__ import annotations

import math

import pytest
import torch

from explorer.config import OptimizerConfig, RunConfig
from explorer.engine.optim import make_optimizer
from explorer.engine.graphed import StaticStep, graph_reason, why_eager
from explorer.engine.seeds import SeedsTrainer
from explorer.engine.tally import Tally
from explorer.engine.trainer import Trainer
from tests.conftest import small_config


def config(rule: str = "bp", optimizer: dict | None = None, **train) -> dict:
    """Two epochs of 22 steps on the digits, logged every 5 steps: 13 ordinary steps an epoch."""
    return small_config(algorithm={"name": rule}, model={"name": "mlp", "hidden": [16], "activation": "tanh"},
                        optimizer=optimizer or {"name": "sgd", "lr": 0.05, "momentum": 0.9},
                        train={"epochs": 2, "batch_size": 64, "log_every": 5} | train)


def records(trainer: Trainer) -> str:
    """Every seed's records without their wall-clock times, as text (repr: exact floats, NaN equal to NaN)."""
    return repr([[{k: v for k, v in r.items() if k != "time"} for r in h] for h in trainer.histories])


def assert_same_run(plain: Trainer, static: Trainer) -> None:
    for (name, a), (_, b) in zip(plain.built.model.state_dict().items(), static.built.model.state_dict().items()):
        assert torch.equal(a, b), name
    mine, theirs = plain.optimizer.state_dict()["state"], static.optimizer.state_dict()["state"]
    assert mine.keys() == theirs.keys()
    for i in mine:
        for k, v in mine[i].items():
            assert torch.equal(torch.as_tensor(v), torch.as_tensor(theirs[i][k])), (i, k)
    assert records(plain) == records(static)
    assert plain.steps_done == static.steps_done and plain.diverged == static.diverged


def pair(cfg: dict) -> tuple[Trainer, Trainer]:
    return Trainer(cfg), Trainer(cfg, static_step=True)


@pytest.mark.parametrize("rule, optimizer", [
    ("bp", None), ("dfa", None), ("fa", None), ("ifa", None), ("frsf", None), ("sdfa", None),
    ("dfa", {"name": "adam", "lr": 0.01, "batch_manhattan": True}),
    ("bp", {"name": "rmsprop", "lr": 0.01, "momentum": 0.5}),
])
def test_the_static_step_trains_exactly_as_the_plain_step(rule, optimizer):
    plain, static = pair(config(rule, optimizer))
    assert static._static is not None and plain._static is None  # the static path is the one under test
    plain.run(), static.run()
    assert static.steps_done == 44 and len(static.history) == 11
    assert_same_run(plain, static)
    assert all(p.grad is None for p in static.params)  # what a capture starts from: no grads held between steps


def test_stacked_seeds_on_static_buffers_train_exactly_as_stacked_seeds():
    cfgs = [RunConfig.from_dict(config("dfa") | {"seed": s}) for s in (0, 1, 2)]
    plain, static = SeedsTrainer(cfgs), SeedsTrainer(cfgs, static_step=True)
    assert static._static is not None and static._idx.shape == (3, 64)
    plain.run(), static.run()
    assert_same_run(plain, static)


def count_invalidations(trainer: Trainer) -> list[int]:
    """The steps done when the trainer dropped its graph, as it goes."""
    at: list[int] = []
    drop = trainer._static.invalidate
    trainer._static.invalidate = lambda: (at.append(trainer.steps_done), drop())
    return at


def test_a_graph_is_dropped_where_the_lr_changes_and_only_there():
    schedule = {"name": "multistep", "milestones": [1, 3], "gamma": 0.5}
    cfg = config(optimizer={"name": "sgd", "lr": 0.05, "momentum": 0.9, "schedule": schedule}, epochs=4)
    plain, static = pair(cfg)
    dropped = count_invalidations(static)
    plain.run(), static.run()
    assert_same_run(plain, static)
    lrs = [static.cfg.optimizer.lr_at(e) for e in range(4)]
    assert dropped == [22 * e for e in range(1, 4) if lrs[e] != lrs[e - 1]] == [22, 66]


def test_a_restart_drops_the_graph_and_trains_as_the_plain_restart():
    schedule = {"name": "restarts", "milestones": [2], "lrs": [0.05], "from": "best"}  # same lr: the optimiser alone
    cfg = config(optimizer={"name": "sgd", "lr": 0.05, "momentum": 0.9, "schedule": schedule}, epochs=3)
    plain, static = pair(cfg)
    dropped = count_invalidations(static)
    plain.run(), static.run()
    assert_same_run(plain, static)
    assert dropped == [44]


def test_a_restored_run_on_static_buffers_goes_on_as_the_run_that_never_stopped():
    cfg = config("dfa", epochs=3)
    straight = Trainer(cfg)
    straight.run()
    stopped = Trainer(cfg, static_step=True)
    while stopped.steps_done < 22:
        stopped.step()
    again = Trainer(cfg, static_step=True)
    dropped = count_invalidations(again)
    again.restore(stopped.checkpoint_state())
    assert dropped == [22]
    again.run()
    for (name, a), (_, b) in zip(straight.built.model.state_dict().items(), again.built.model.state_dict().items()):
        assert torch.equal(a, b), name
    tail = repr([{k: v for k, v in r.items() if k != "time"} for r in straight.history[-len(again.history):]])
    assert records(again) == f"[{tail}]"


def test_a_dataset_drawn_afresh_each_epoch_drops_the_graph_each_epoch():
    cfg = small_config(data={"name": "parity", "base": "digits", "k": 2, "train_samples": 128},
                       model={"name": "mlp", "hidden": [16]},
                       train={"epochs": 3, "batch_size": 16, "log_every": 4})
    plain, static = pair(cfg)
    dropped = count_invalidations(static)
    plain.run(), static.run()
    assert_same_run(plain, static)
    assert dropped == [8, 16]  # epochs 1 and 2 hold new tensors; epoch 0's are those the graph began with


@pytest.mark.parametrize("change, reason", [
    ({"train": {"cuda_graph": "off"}}, "train.cuda_graph is off"),
    ({"train": {"augment": {"crop_padding": 1}}}, "train.augment draws each step's crops and flips"),
    ({"model": {"dropout": 0.2}}, "model.dropout draws each step's masks"),
    ({"algorithm": {"name": "brsf"}}, "brsf redraws its feedback magnitudes each step"),
    ({"optimizer": {"name": "adagrad"}}, "adagrad counts its steps on the host"),
])
def test_a_run_a_graph_cannot_hold_steps_eagerly_and_says_why(change, reason):
    cfg = config()
    for section, values in change.items():
        cfg[section] = cfg[section] | values
    trainer = Trainer(cfg, static_step=True)
    assert trainer._static is None and trainer._tally.capacity is None  # the plain step, forced or not
    assert trainer.graph_info == {"used": False, "reason": why_eager(trainer.built), "capture_s": None, "captures": 0}
    assert trainer.graph_info["reason"].startswith(reason)
    trainer.step(), trainer.step()
    assert trainer.steps_done == 2


def test_an_eligible_run_on_the_cpu_is_stepped_plainly_and_says_so():
    trainer = Trainer(config("dfa"))
    assert why_eager(trainer.built) is None
    assert graph_reason(trainer.built) == (False, "CUDA graphs need a CUDA device; this run is on the cpu")
    assert trainer._static is None and not trainer.graph_info["used"]


@pytest.mark.parametrize("name", ("sgd", "adam", "adadelta", "rmsprop", "adagrad"))
def test_an_optimiser_for_a_graph_keeps_its_step_counts_on_the_device_or_is_refused(name):
    w = torch.nn.Parameter(torch.ones(3))
    cfg = OptimizerConfig(name, lr=0.1)
    if name == "adagrad":
        with pytest.raises(ValueError, match="adagrad cannot be captured"):
            make_optimizer(cfg, [w], capturable=True)
        return
    made, plain = make_optimizer(cfg, [w], capturable=True), make_optimizer(cfg, [w])
    assert type(made) is type(plain) and made.defaults.get("capturable", False) == (name != "sgd")
    assert not plain.defaults.get("capturable", False)


def test_the_setting_reads_as_before_where_it_is_left_at_auto():
    assert RunConfig.from_dict({}).train.cuda_graph == "auto"
    assert "cuda_graph" not in RunConfig.from_dict({}).to_dict()["train"]
    assert RunConfig.from_dict({"train": {"cuda_graph": "off"}}).to_dict()["train"]["cuda_graph"] == "off"


def test_tally_rows_read_exactly_what_the_plain_tally_reads():
    g = torch.Generator().manual_seed(0)
    plain, rows = Tally(2), Tally(2, capacity=7)
    for interval in (7, 3, 1):
        for step in range(interval):
            losses = torch.rand(2, generator=g) * 10
            if interval == 3 and step == 1:
                losses[1] = math.nan
            hits = torch.rand(2, 5, generator=g) > 0.5
            norms = list(torch.rand(6, generator=g) * 3)
            plain.add(losses, hits, norms)
            rows.count()
            rows.write(losses, hits, norms)
        limits = ([5.0, 9.0], [4.0, 4.5])
        assert repr(rows.read(*limits)) == repr(plain.read(*limits))
        assert rows.steps == plain.steps == 0


def test_tally_rows_refuse_more_steps_than_they_hold():
    rows = Tally(1, capacity=2)
    rows.add(torch.tensor([1.0]), None)
    rows.add(torch.tensor([2.0]), None)
    with pytest.raises(RuntimeError, match="at most 2 steps"):
        rows.add(torch.tensor([3.0]), None)
    assert rows.read()[0].loss == 1.5


class Recorded:
    """A stand-in for a captured graph: replay runs the body again, and counts."""

    def __init__(self, body):
        self.body, self.replays = body, 0

    def replay(self):
        self.replays += 1
        self.body()


def test_a_static_step_warms_up_captures_once_and_replays_until_invalidated():
    calls: list[str] = []
    step = StaticStep(lambda: calls.append("body"), capture=False, warmup=2)
    step.capture = True  # the sequence of a CUDA step, with the CUDA calls stood in for
    step._device = -1  # no device to switch to: torch.cuda.device(-1) does nothing
    step._on_stream = lambda fn: (calls.append("warm"), fn())
    step._capture = lambda: (calls.append("capture"), setattr(step, "graph", Recorded(step.body)))
    for _ in range(4):
        step()
    step.invalidate()
    for _ in range(3):
        step()
    assert calls == ["warm", "body", "warm", "body", "capture", "body", "body",
                     "warm", "body", "warm", "body", "capture", "body"]


def test_a_capture_that_fails_leaves_the_run_eager_with_the_error_in_words(monkeypatch):
    from explorer.engine import graphed

    monkeypatch.setattr(graphed, "_stopped", [])  # this process's record of a failed capture, this test's own
    plain, static = pair(config("dfa"))
    step = static._static
    step.capture, step._device = True, -1  # as on CUDA, with the CUDA calls stood in for
    step._on_stream = lambda fn: fn()

    def failing_capture():
        static.built.model.layers[0].weight.grad = torch.full_like(static.built.model.layers[0].weight, 1e3)
        raise RuntimeError("operation not permitted when stream is capturing")  # what an aborted capture leaves

    step._capture = failing_capture
    plain.run(), static.run()
    assert_same_run(plain, static)  # the failed step, and every later one, ran eagerly, from clean grads
    assert static.graph_info["used"] is False and static.graph_info["reason"] == (
        "the CUDA graph capture failed, so every step runs eagerly: RuntimeError: operation not permitted "
        "when stream is capturing")


def test_after_a_failed_capture_no_run_of_the_process_captures_again(monkeypatch):
    from explorer.engine import graphed

    monkeypatch.setattr(graphed, "_stopped", [])
    first = StaticStep(lambda: None)
    first.capture, first._device = True, -1  # as on CUDA, with the CUDA calls stood in for
    first._on_stream = lambda fn: fn()
    first._capture = lambda: (_ for _ in ()).throw(RuntimeError("capture invalidated"))
    first(), first()
    ran: list[str] = []
    second = StaticStep(lambda: ran.append("body"))
    second.capture, second._device = True, -1
    second._on_stream = lambda fn: fn()
    second._capture = lambda: ran.append("capture")  # must not be reached
    second(), second(), second()
    assert ran == ["body", "body", "body"] and second.capture is False
    assert second.failed == ("an earlier CUDA graph capture in this process failed, so every step runs eagerly: "
                             "RuntimeError: capture invalidated")


def test_a_captured_step_needs_a_warmup_step():
    with pytest.raises(ValueError, match="warmup must be at least 1"):
        StaticStep(lambda: None, capture=True, warmup=0)
