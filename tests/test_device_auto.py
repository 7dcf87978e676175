"""``device: auto`` keeps a small network on the CPU where a GPU is present (issue 17, item 4).

The multiply-adds are typed out by hand here (an MLP's per-sample forward, weight gradients and
backprop's input gradients), not read from `explorer.engine.cost`. A GPU is only ever *claimed*
(the availability monkeypatched): nothing here allocates on one, so it all runs on this CPU.
"""

from __future__ import annotations

import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from apptest_tools import APP, text
from explorer import cli
from explorer.config import ConfigError, RunConfig
from explorer.engine import build as build_module
from explorer.engine.build import build, resolve_device, work_per_step
from explorer.engine.device import CPU_BELOW_MACS, auto_device, choose_device, pick_device
from tools.device_bench import summary

# An MLP 64-32-10 (digits' inputs and classes, one hidden layer of 32), per sample: forward
# 64·32 + 32·10, the same again for the weight gradients, and backprop sends the error down
# through the output layer only (the first layer's input is the data): 32·10.
TINY_PER_SAMPLE = 2 * (64 * 32 + 32 * 10) + 32 * 10
TINY = {"model": {"name": "mlp", "hidden": [32]}, "train": {"batch_size": 64, "epochs": 1}}
# The bench MLP 784-1024-1024-1024-1024-10 at batch 256, counted the same way.
BENCH_FORWARD = 784 * 1024 + 3 * 1024 * 1024 + 1024 * 10
BENCH_STEP = 256 * (2 * BENCH_FORWARD + 3 * 1024 * 1024 + 1024 * 10)
# The app's default digits MLP 64-64-64-10 at batch 64.
DIGITS_STEP = 64 * (2 * (64 * 64 + 64 * 64 + 64 * 10) + 64 * 64 + 64 * 10)
GPU_HERE = {"cpu", "cuda"}


@pytest.fixture
def claim(monkeypatch):
    """Make `resolve_device` (what `build` asks) believe this machine has the given devices."""
    def set_(*names):
        monkeypatch.setattr(build_module, "available_devices", lambda: {"cpu", *names})
    return set_


def test_the_hand_counts_are_the_ones_the_policy_is_given():
    assert work_per_step(RunConfig.from_dict(TINY)) == 64 * TINY_PER_SAMPLE == 323_584
    bench = {"data": {"name": "random", "features": 784}, "model": {"hidden": [1024] * 4},
             "train": {"batch_size": 256}}
    assert work_per_step(RunConfig.from_dict(bench)) == BENCH_STEP


def test_a_small_step_stays_on_the_cpu_and_a_large_one_goes_to_the_gpu():
    device, reason = auto_device(64 * TINY_PER_SAMPLE, GPU_HERE)
    assert device == torch.device("cpu")
    assert reason.startswith("auto: the CPU") and "0.32 M multiply-adds" in reason and "launch overhead" in reason
    device, reason = auto_device(BENCH_STEP, GPU_HERE)
    assert device == torch.device("cuda") and "2,835 M multiply-adds" in reason


def test_the_threshold_is_where_the_choice_turns():
    assert auto_device(CPU_BELOW_MACS - 1, GPU_HERE)[0].type == "cpu"
    assert auto_device(CPU_BELOW_MACS, GPU_HERE)[0].type == "cuda"
    assert DIGITS_STEP * 10 < CPU_BELOW_MACS < BENCH_STEP / 10  # far from both of the README's networks


def test_no_gpu_means_the_cpu_whatever_the_size_and_mps_counts_as_a_gpu():
    for work in (1, BENCH_STEP, None):
        device, reason = auto_device(work, {"cpu"})
        assert device.type == "cpu" and "no GPU" in reason
    assert auto_device(BENCH_STEP, {"cpu", "mps"})[0].type == "mps"
    assert auto_device(64 * TINY_PER_SAMPLE, {"cpu", "mps"})[0].type == "cpu"
    assert auto_device(BENCH_STEP, {"cpu", "mps", "cuda"})[0].type == "cuda"
    assert auto_device(None, GPU_HERE)[0].type == "cuda"  # nothing to size: the GPU, as before


def test_an_explicit_device_is_obeyed_whatever_the_size():
    assert pick_device("cpu", BENCH_STEP, GPU_HERE) == (torch.device("cpu"), "cpu, as asked")
    assert pick_device("cuda", 1, GPU_HERE) == (torch.device("cuda"), "cuda, as asked")
    with pytest.raises(ConfigError, match="has none") as err:
        pick_device("cuda", 1, {"cpu"})
    assert err.value.field == "device"
    with pytest.raises(ConfigError, match="one of auto") as err:
        pick_device("tpu")
    assert err.value.field == "device"


def test_choose_device_without_a_network_still_prefers_the_gpu(monkeypatch):
    import explorer.engine.device as device_module

    monkeypatch.setattr(device_module, "available_devices", lambda: GPU_HERE)
    assert choose_device("auto") == torch.device("cuda") and choose_device("cpu") == torch.device("cpu")


def test_build_on_a_machine_without_a_gpu_says_so(claim):
    claim()
    built = build(TINY)
    assert built.device == torch.device("cpu") and built.device_reason == "auto: the CPU, as this machine has no GPU"
    assert build(TINY | {"device": "cpu"}).device_reason == "cpu, as asked"


def test_build_with_a_gpu_keeps_a_tiny_network_on_the_cpu(claim):
    claim("cuda")
    built = build(TINY)
    assert built.device == torch.device("cpu") and next(built.model.parameters()).device.type == "cpu"
    assert built.device_reason == auto_device(64 * TINY_PER_SAMPLE, GPU_HERE)[1]
    # every rule of a comparison on one network goes to the same device: the count is backprop's
    assert resolve_device(TINY | {"algorithm": {"name": "dfa"}}) == resolve_device(TINY)
    bench = {"data": {"name": "random", "features": 784}, "model": {"hidden": [1024] * 4},
             "train": {"batch_size": 256}}
    assert resolve_device(bench)[0] == torch.device("cuda")  # only the choice: nothing is built there


def test_the_train_page_says_what_auto_chose_and_why(claim):
    def page(**query):
        st.cache_data.clear()  # the page keeps the choice per setup
        at = AppTest.from_file(APP, default_timeout=60)
        for key, value in query.items():
            at.query_params[key] = value
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return text(at)

    claim()
    assert "auto: the CPU, as this machine has no GPU" in page()
    claim("cuda")
    assert auto_device(DIGITS_STEP, GPU_HERE)[1] in page()
    assert "auto: the GPU" in page(hidden="1024,1024,1024", batch="512")
    assert "auto:" not in page(device="cpu")


def test_train_prints_the_choice_once_on_stderr(claim, capsys, tmp_path):
    claim()
    code = cli.main(["train", "--epochs", "1", "--hidden", "8", "--store", str(tmp_path / "runs.sqlite")])
    out = capsys.readouterr()
    assert code == 0
    assert out.err.count("device: auto: the CPU, as this machine has no GPU") == 1
    assert "device:" not in out.out  # stdout keeps its shape: the run, the curve, the summary


def test_device_bench_ratio_is_each_gpu_run_over_the_cpu_from_the_best_rounds():
    result = summary({"cpu": [1.0, 0.5, 0.8], "cuda": [0.4, 0.25], "cuda, eager": [1.0]}, steps=10, batch=64)
    assert result["samples_per_s"] == {"cpu": 10 * 64 / 0.5, "cuda": 10 * 64 / 0.25, "cuda, eager": 10 * 64 / 1.0}
    assert result["over_cpu"] == pytest.approx({"cuda": 2.0, "cuda, eager": 0.5})
    assert summary({"cpu": [0.5]}, steps=10, batch=64)["over_cpu"] == {}


@pytest.mark.parametrize("omp, expected", [(None, 4), ("1", 1), ("3", 3), ("16", 4), ("0", 4), ("two", 4)])
def test_omp_num_threads_caps_the_threads_a_run_takes(monkeypatch, omp, expected):
    from explorer.engine import device

    monkeypatch.setattr(device, "usable_cores", lambda: 8)   # two runs at once share 8 cores: 4 each
    if omp is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", omp)
    assert device.threads_per_run(2) == expected
