"""`python -m explorer bench`: training throughput and peak memory of every rule.

The network is an MLP 784-1024-1024-1024-1024-10 at batch 256 on the `random` dataset. Each rule
runs through the real `Trainer` (logging every `LOG_EVERY` steps, alignment included), and a plain
PyTorch autograd loop over the same data is the yardstick. Rules are timed in alternating rounds
so that machine noise hits all of them alike: every run is built and warmed up first, then each
round times a window of `steps` steps of each in turn. A rule's figure is its best round (the
median is reported too).

Peak memory: on CUDA, what a run holds between steps (weights, feedback, optimiser state) plus the
peak allocated on top of that during its steps; on the CPU, each rule runs a few steps in a child
process and reports its peak resident memory above the level before its network was built.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from explorer.engine.build import build
from explorer.config import DataConfig, RunConfig
from explorer.config.bounds import MAX_EPOCHS
from explorer.data.embedded import load_random
from explorer.engine.device import choose_device, describe
from explorer.engine.trainer import Trainer

WIDTHS = (1024, 1024, 1024, 1024)
FEATURES, CLASSES, BATCH = 784, 10, 256
LOG_EVERY = 50
DATA_BATCHES = 64  # batches of data held (the runs go round them again): memory does not grow with --steps
RULES = {"bp": {}, "fa": {}, "dfa": {}, "ifa": {}, "bdfa": {"block_size": 2}, "fp": {"bp_depth": 1},
         "sdfa": {"connections": 3}, "ssdfa": {}, "usf": {}, "frsf": {}, "brsf": {}}


def bench_config(rule: str, samples: int) -> RunConfig:
    """The benchmark's run for one rule."""
    return RunConfig.from_dict({
        "data": {"name": "random", "samples": samples, "test_samples": 1024, "features": FEATURES,
                 "classes": CLASSES},
        "model": {"name": "mlp", "hidden": list(WIDTHS), "activation": "relu"},
        "algorithm": {"name": rule, **RULES[rule]},
        "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9},
        "train": {"epochs": MAX_EPOCHS, "batch_size": BATCH, "log_every": LOG_EVERY},
    })


class PlainLoop:
    """The yardstick: nn.Sequential, randperm batches from on-device data, loss.backward()."""

    def __init__(self, data, device) -> None:
        sizes = [FEATURES, *WIDTHS, CLASSES]
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.net = nn.Sequential(*layers[:-1]).to(device)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.01, momentum=0.9)
        self.x, self.y = data.x_train, data.y_train
        self.perm, self.pos = torch.randperm(len(self.x), device=device), 0

    def step(self) -> None:
        if self.pos + BATCH > len(self.x):
            self.perm, self.pos = torch.randperm(len(self.x), device=self.x.device), 0
        idx = self.perm[self.pos:self.pos + BATCH]
        self.pos += BATCH
        loss = F.cross_entropy(self.net(self.x[idx]), self.y[idx])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(step, steps: int, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return time.perf_counter() - start


def persistent_mb(module: nn.Module, optimizer: torch.optim.Optimizer) -> float:
    """MiB held between steps: parameters, buffers (feedback included) and optimiser state."""
    tensors = [*module.parameters(), *module.buffers()]
    tensors += [t for state in optimizer.state.values() for t in state.values() if torch.is_tensor(t)]
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def _at_least(value, name: str, low: int) -> int:
    """``value`` if it is a whole number of at least ``low``, else a `ValueError` naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be a whole number of at least {low}, got {value!r}")
    return value


def run_benchmark(rules=tuple(RULES), steps: int = LOG_EVERY, rounds: int = 5, warmup: int = 5,
                  device: str | None = None, memory: bool = True, progress=None) -> dict:
    """Samples per second (best and median round) and peak memory for each rule and the plain loop.

    Example:
        >>> r = run_benchmark(rules=("dfa",), steps=1, rounds=1, warmup=0, device="cpu", memory=False)
        >>> sorted(r["rules"]), r["plain_autograd"]["samples_per_s"] > 0
        (['dfa'], True)
    """
    _at_least(steps, "steps", 1), _at_least(rounds, "rounds", 1), _at_least(warmup, "warmup", 0)
    dev = choose_device(device)
    samples = BATCH * min(steps + warmup + 8, DATA_BATCHES)
    data = load_random(DataConfig("random", {"samples": samples, "test_samples": 1024,
                                             "features": FEATURES, "classes": CLASSES})).to(dev)
    runners = {}
    for name in rules:
        cfg = bench_config(name, samples)
        runners[name] = Trainer(cfg, built=build(cfg, dev, data))
    runners["plain_autograd"] = PlainLoop(data, dev)
    for runner in runners.values():
        for _ in range(warmup):
            runner.step()
    speeds: dict[str, list[float]] = {name: [] for name in runners}
    transient: dict[str, float] = {}
    for round_ in range(rounds):
        for name, runner in runners.items():
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
                base = torch.cuda.memory_allocated(dev)
            speeds[name].append(steps * BATCH / _time(runner.step, steps, dev))
            if dev.type == "cuda":
                transient[name] = max(transient.get(name, 0.0), (torch.cuda.max_memory_allocated(dev) - base) / 2**20)
            if progress:
                progress(f"round {round_ + 1}/{rounds} {name}: {speeds[name][-1]:,.0f} samples/s")
    peak: dict[str, float] = {}
    if dev.type == "cuda":
        for name, runner in runners.items():
            model, opt = (runner.net, runner.opt) if name == "plain_autograd" else (runner.built.model, runner.optimizer)
            peak[name] = persistent_mb(model, opt) + transient[name]
    elif memory:
        for name in rules:
            peak[name] = cpu_peak_mb(name)

    def row(name):
        return {"samples_per_s": max(speeds[name]), "median_samples_per_s": statistics.median(speeds[name]),
                "peak_mem_mb": peak.get(name)}

    result = {
        "device": describe(dev),
        "settings": {"widths": [FEATURES, *WIDTHS, CLASSES], "batch_size": BATCH, "steps": steps,
                     "rounds": rounds, "log_every": LOG_EVERY, "threads": torch.get_num_threads()},
        "rules": {name: row(name) for name in rules},
        "plain_autograd": row("plain_autograd"),
    }
    best = {name: max(v) for name, v in speeds.items()}
    if "bp" in best:
        result["ratios"] = {"bp_over_plain": best["bp"] / best["plain_autograd"]}
        if "dfa" in best:
            result["ratios"]["dfa_over_bp"] = best["dfa"] / best["bp"]
    return result


def cpu_peak_mb(rule: str, steps: int = 3) -> float:
    """Peak resident memory growth (MiB) of a few training steps of ``rule``, in a child process."""
    code = f"from explorer.bench import _child_peak; _child_peak({rule!r}, {steps})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024  # kB


def _child_peak(rule: str, steps: int) -> None:
    cfg = bench_config(rule, BATCH * (steps + 1))
    data = load_random(cfg.data)
    PlainLoop(data, torch.device("cpu")).step()  # load the kernels' libraries before measuring
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # Linux: reset the peak resident size (VmHWM) to the current one
    before = _status_mb("VmRSS")
    trainer = Trainer(cfg, built=build(cfg, "cpu", data))
    for _ in range(steps):
        trainer.step()
    print(max(_status_mb("VmHWM") - before, 0.0))


def format_table(result: dict) -> str:
    """The benchmark as a plain-text table."""
    plain = result["plain_autograd"]["samples_per_s"]
    bp = result["rules"].get("bp", {}).get("samples_per_s")
    lines = [f"device: {result['device']}   MLP {'-'.join(map(str, result['settings']['widths']))}, "
             f"batch {result['settings']['batch_size']}",
             f"{'rule':<16}{'samples/s':>12}{'x bp':>8}{'x plain':>9}{'peak MiB':>10}"]
    for name, row in [*result["rules"].items(), ("plain_autograd", result["plain_autograd"])]:
        mem = row.get("peak_mem_mb")
        lines.append(f"{name:<16}{row['samples_per_s']:>12,.0f}"
                     f"{(row['samples_per_s'] / bp if bp else float('nan')):>8.2f}"
                     f"{row['samples_per_s'] / plain:>9.2f}{(f'{mem:.0f}' if mem is not None else '-'):>10}")
    return "\n".join(lines)


def seeds_benchmark(seeds: int = 3, steps: int = 200, rounds: int = 3, device: str | None = None,
                    rule: str = "dfa") -> dict:
    """Seconds per step of one small MLP (784-256-256-10, batch 64): one seed, ``seeds`` seeds
    stacked into one network, and the same seeds one after another; best of ``rounds``.

    Example:
        >>> r = seeds_benchmark(seeds=2, steps=2, rounds=1, device="cpu")
        >>> sorted(r["seconds_per_step"])
        ['one_by_one', 'one_seed', 'stacked']
    """
    from explorer.engine.seeds import SeedsTrainer, build_seeds

    _at_least(seeds, "seeds", 1), _at_least(steps, "steps", 1), _at_least(rounds, "rounds", 1)
    dev = choose_device(device)
    cfgs = [RunConfig.from_dict({
        "data": {"name": "random", "samples": 64 * min(steps + 8, DATA_BATCHES), "test_samples": 256,
                 "features": 784, "classes": 10},
        "model": {"name": "mlp", "hidden": [256, 256]}, "algorithm": {"name": rule},
        "train": {"epochs": MAX_EPOCHS, "batch_size": 64, "log_every": 50}, "seed": s}) for s in range(seeds)]
    data = load_random(cfgs[0].data).to(dev)
    singles = [Trainer(c, built=build(c, dev, data)) for c in cfgs]
    stacked = SeedsTrainer(cfgs, built=build_seeds(cfgs, dev))

    def one_by_one():
        for t in singles:
            t.step()

    timings: dict[str, float] = {}
    for _ in range(rounds):
        for name, step in (("one_seed", singles[0].step), ("stacked", stacked.step), ("one_by_one", one_by_one)):
            for _ in range(3):
                step()
            t = _time(step, steps, dev) / steps
            timings[name] = min(timings.get(name, float("inf")), t)
    return {"device": describe(dev), "seeds": seeds, "rule": rule, "seconds_per_step": timings,
            "stacked_over_one_seed": timings["stacked"] / timings["one_seed"],
            "one_by_one_over_one_seed": timings["one_by_one"] / timings["one_seed"]}
