"""The CUDA paths: every rule's update, convolutional rules, training, divergence, stacked seeds and
background jobs, and CUDA-graph training steps against eager ones on a GPU.

Skipped where PyTorch sees no CUDA device (CI never has one). On a GPU machine:
``python -m pytest tests/test_gpu.py``. Expected values come from the NumPy reference of
docs/algorithms.md or from the same config run on the CPU, never from the CUDA run itself. Weights,
feedback matrices and minibatch orders are drawn from CPU generators, so a CUDA run starts exactly
where its CPU twin does; only brsf draws its per-step magnitudes on the device.
"""

from __future__ import annotations

import pytest
import torch

from explorer import JobManager, RunConfig, compute_updates, train
from explorer.engine.build import build
from explorer.engine.device import describe
from explorer.engine.seeds import SeedsTrainer
from explorer.engine.trainer import Trainer
from tests.conftest import small_config
from test_networks import images
from test_rules_reference import ALL_RULES, RULE_OPTIONS, run_reference_comparison

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.fixture(autouse=True)
def full_precision_float32():
    """TF32 would round float32 products to 10 mantissa bits and hide real differences."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def on(device: str, cfg: dict) -> dict:
    return cfg | {"device": device}


@pytest.mark.parametrize("activation", ("relu", "tanh", "sigmoid"))
@pytest.mark.parametrize("rule", ALL_RULES)
def test_every_rule_matches_the_numpy_reference_on_cuda(rule, activation):
    built, grads = run_reference_comparison(rule, activation, (6, 8, 4), device="cuda", **RULE_OPTIONS.get(rule, {}))
    assert built.model.layers[0].weight.device.type == "cuda"


@pytest.mark.parametrize("model,shape", [("lenet5", (1, 28, 28)), ("resnet20", (3, 16, 16))])
@pytest.mark.parametrize("rule", ("fa", "dfa", "usf", "frsf"))
def test_convolutional_rules_give_the_cpu_updates_on_cuda(rule, model, shape):
    data = images(shape[0], shape[1], n=16)
    cfg = small_config(model={"name": model}, algorithm={"name": rule})
    cpu, gpu = build(on("cpu", cfg), data=data), build(on("cuda", cfg), data=data)
    for key, value in cpu.model.state_dict().items():  # the same start, feedback matrices included
        assert torch.equal(gpu.model.state_dict()[key].cpu(), value), key
    x, y = data.x_train, data.y_train
    want = compute_updates(cpu, x, y)
    got = compute_updates(gpu, x.cuda(), y.cuda())
    assert set(got) == set(want)
    for key in want:
        torch.testing.assert_close(got[key].cpu(), want[key], rtol=1e-4, atol=1e-5, msg=key)


@pytest.mark.parametrize("algorithm", ({"name": "bp"}, {"name": "dfa"}, {"name": "fa"}, {"name": "ssdfa"}),
                         ids=lambda a: a["name"])
def test_a_cuda_run_follows_its_cpu_twin_and_learns(algorithm):
    cfg = small_config(algorithm=algorithm, train={"epochs": 3, "batch_size": 32, "log_every": 10})
    cpu, gpu = train(on("cpu", cfg)), train(on("cuda", cfg))
    assert gpu.status == "done" and gpu.final["test_acc"] > 0.85, gpu.final
    assert [r["step"] for r in gpu.history] == [r["step"] for r in cpu.history]
    first_cpu, first_gpu = cpu.history[0], gpu.history[0]
    assert first_gpu["train_loss"] == pytest.approx(first_cpu["train_loss"], rel=1e-4)
    for a, b in zip(first_gpu["layers"], first_cpu["layers"]):
        assert a["update_cos"] == pytest.approx(b["update_cos"], abs=1e-4)
    assert gpu.final["test_acc"] == pytest.approx(cpu.final["test_acc"], abs=0.02)


def test_divergence_on_cuda_is_found_at_the_cpu_runs_step_whatever_the_logging():
    cfg = small_config(optimizer={"name": "sgd", "lr": 1e6, "momentum": 0.9},
                       model={"name": "mlp", "hidden": [32], "activation": "relu"},
                       train={"epochs": 5, "batch_size": 64, "log_every": 1})
    cpu = train(on("cpu", cfg))
    gpu = train(on("cuda", cfg))
    sparse = train(on("cuda", cfg | {"train": {"epochs": 5, "batch_size": 64, "log_every": 10}}))
    assert cpu.status == gpu.status == sparse.status == "diverged"
    assert gpu.diverged_at == cpu.diverged_at == sparse.diverged_at


def test_stacked_seeds_on_cuda_match_the_same_seeds_one_by_one():
    cfgs = [RunConfig.from_dict(on("cuda", small_config(algorithm={"name": "dfa"}, train={"epochs": 2, "batch_size": 128,
                                                                                       "log_every": 5}) | {"seed": s}))
            for s in (0, 1, 2)]
    stacked = SeedsTrainer(cfgs).run_all()
    for cfg, result in zip(cfgs, stacked):
        single = train(cfg)
        assert [r["step"] for r in result.history] == [r["step"] for r in single.history]
        for a, b in zip(result.history, single.history):
            assert a["test_loss"] == pytest.approx(b["test_loss"], abs=1e-4)
    assert stacked[0].final["test_loss"] != stacked[1].final["test_loss"]


def test_brsf_redraws_its_magnitudes_on_the_device_every_step():
    built = build(on("cuda", small_config(algorithm={"name": "brsf"})))
    assert built.data.x_train.device.type == "cuda"  # the whole dataset lives on the device
    layer = built.model.layers[1]
    drawn = []
    for _ in range(2):
        built.rule.after_step(built.model)  # what the trainer calls after each optimiser step
        drawn.append(layer.feedback.clone())
    assert layer.feedback.device.type == "cuda" and not torch.equal(drawn[0], drawn[1])
    assert torch.equal(torch.sign(layer.feedback), torch.sign(layer.weight))


def test_a_background_job_trains_on_the_gpu_and_names_it(tmp_path):
    cfg = small_config(algorithm={"name": "dfa"}, train={"epochs": 2, "batch_size": 64}) | {"device": "auto"}
    with JobManager(tmp_path / "runs.sqlite") as jobs:
        run = jobs.submit(cfg)
        assert run.wait(120) == "done"
        info = jobs.store.get_run(run.id)
    assert info.device.startswith("cuda") and info.device_name == describe(torch.device("cuda"))
    assert info.device_name == torch.cuda.get_device_name()  # the GPU's name, as the app's header shows it


def graph_and_eager(cfg: dict, make=Trainer):
    """The same CUDA run twice, ordinary steps replayed from a CUDA graph and all eager, both run."""
    off = cfg | {"train": cfg["train"] | {"cuda_graph": "off"}}
    graphed, eager = make(cfg), make(off)
    graphed.run(), eager.run()
    return graphed, eager


def assert_close_runs(graphed, eager) -> None:
    for (name, a), (_, b) in zip(graphed.built.model.state_dict().items(), eager.built.model.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
    for mine, theirs in zip(graphed.histories, eager.histories):
        assert [r["step"] for r in mine] == [r["step"] for r in theirs]
        for a, b in zip(mine, theirs):
            assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
            assert a["train_acc"] == b["train_acc"] and a["lr"] == b["lr"]
            assert a["test_loss"] == pytest.approx(b["test_loss"], rel=1e-4)


@pytest.mark.parametrize("rule", ("bp", "dfa"))
def test_a_cuda_graph_step_trains_as_the_eager_step_across_an_lr_change_and_times_its_capture(rule):
    schedule = {"name": "multistep", "milestones": [1], "gamma": 0.5}
    cfg = on("cuda", small_config(algorithm={"name": rule}, train={"epochs": 2, "batch_size": 64, "log_every": 5},
                                  optimizer={"name": "sgd", "lr": 0.05, "momentum": 0.9, "schedule": schedule}))
    graphed, eager = graph_and_eager(cfg)
    info = graphed.graph_info
    assert info["used"] and info["captures"] == 2 and 0 < info["capture_s"] < 60, info  # again at the lr change
    assert eager.graph_info == {"used": False, "reason": "train.cuda_graph is off", "capture_s": None, "captures": 0}
    assert_close_runs(graphed, eager)


def test_a_cuda_graph_holds_adam_and_stacked_seeds():
    cfgs = [on("cuda", small_config(algorithm={"name": "dfa"}, optimizer={"name": "adam", "lr": 0.003},
                                    train={"epochs": 2, "batch_size": 64, "log_every": 5}) | {"seed": s})
            for s in (0, 1)]
    graphed, eager = graph_and_eager(cfgs[0])
    assert graphed.graph_info["captures"] == 1 and graphed.optimizer.defaults["capturable"]
    assert_close_runs(graphed, eager)
    stacked = SeedsTrainer([RunConfig.from_dict(c) for c in cfgs])
    stacked.run()
    assert stacked.graph_info["used"]
    for s, cfg in enumerate(cfgs):
        single = Trainer(cfg)
        single.run()
        for a, b in zip(stacked.histories[s], single.history):
            assert a["test_loss"] == pytest.approx(b["test_loss"], abs=1e-4)


def test_a_cuda_graph_run_restored_from_a_checkpoint_goes_on_as_the_eager_run():
    cfg = on("cuda", small_config(algorithm={"name": "dfa"}, optimizer={"name": "adam", "lr": 0.003},
                                  train={"epochs": 3, "batch_size": 64, "log_every": 5}))
    stopped = Trainer(cfg)
    while stopped.steps_done < stopped.steps_per_epoch:
        stopped.step()
    again = Trainer(cfg)
    again.restore(stopped.checkpoint_state())
    again.run()
    eager = Trainer(cfg | {"train": cfg["train"] | {"cuda_graph": "off"}})
    eager.run()
    for (name, a), (_, b) in zip(again.built.model.state_dict().items(), eager.built.model.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
    assert again.graph_info["captures"] == 1
