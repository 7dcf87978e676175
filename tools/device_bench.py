"""The CPU against the GPU on a small run: ``python -m tools.device_bench``.

Times the Train page's default run (its first rule, bp: digits, MLP 64-64, batch 64, from
`explorer.views.urlstate.DEFAULTS`) through the real `Trainer` for ``--steps`` steps on the CPU and,
where PyTorch sees CUDA, on CUDA twice: as a run trains there (``train.cuda_graph: auto``, its
ordinary steps replayed from a CUDA graph where the run allows) and eagerly (``cuda_graph: off``).
The runs take turns in each round so that machine noise hits all alike; it prints samples/s of
each (its best round), each CUDA run's ratio to the CPU measured in this one run, and what
``device: auto`` chose for the run and why (`explorer.engine.build.resolve_device`). ``--hidden``
and ``--batch`` change the network and the batch, to find where the GPU starts to win on a machine
that has one. Logging steps are timed too, at the page's interval, as a run on the page makes them.

Example:
    >>> r = summary({"cpu": [0.5, 0.4], "cuda": [0.8, 1.0]}, steps=100, batch=64)
    >>> r["samples_per_s"], round(r["over_cpu"]["cuda"], 3)
    ({'cpu': 16000.0, 'cuda': 8000.0}, 0.5)
"""

from __future__ import annotations

import argparse

import torch

from explorer.bench import time_steps
from explorer.config import RunConfig
from explorer.data.shapes import shape_of
from explorer.engine.build import build, resolve_device, work_per_step
from explorer.engine.device import describe, usable_cores
from explorer.engine.trainer import Trainer
from explorer.runs.workspace import comparison_configs
from explorer.views import urlstate

DEFAULT_STEPS, DEFAULT_ROUNDS, WARMUP = 200, 3, 10


def default_config(hidden: list[int] | None = None, batch: int | None = None) -> RunConfig:
    """The Train page's default run (its first rule), on ``device: auto``, with ``hidden`` and
    ``batch`` where given.

    Example:
        >>> cfg = default_config()
        >>> cfg.data.name, cfg.model.hidden, cfg.train.batch_size, cfg.algorithm.name
        ('digits', (64, 64), 64, 'bp')
    """
    cfg = comparison_configs(*urlstate.configs(urlstate.DEFAULTS))[0]
    changes = {"device": "auto"}
    if hidden is not None:
        changes["model"] = {"hidden": hidden}
    if batch is not None:
        changes["train"] = {"batch_size": batch}
    return cfg.with_values(changes)


def runs_here(cfg: RunConfig) -> dict[str, tuple[RunConfig, str]]:
    """The runs to time, by label: (config, device). The CPU always; on a machine with CUDA, the run
    as it trains there and the same run with its CUDA graph off.

    Example:
        >>> list(runs_here(default_config()))[0]
        'cpu'
    """
    runs = {"cpu": (cfg, "cpu")}
    if torch.cuda.is_available():
        runs["cuda"] = (cfg, "cuda")
        runs["cuda, eager"] = (cfg.with_values({"train": {"cuda_graph": "off"}}), "cuda")
    return runs


def measure(runs: dict[str, tuple[RunConfig, str]], steps: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per round of ``steps`` steps of each run, the runs taking turns in each round.

    Example:
        >>> seconds = measure({"cpu": (default_config(hidden=[8]), "cpu")}, steps=2, rounds=2)
        >>> len(seconds["cpu"]), all(s > 0 for s in seconds["cpu"])
        (2, True)
    """
    trainers = {label: Trainer(cfg, built=build(cfg, device)) for label, (cfg, device) in runs.items()}
    for trainer in trainers.values():
        time_steps(trainer.step, WARMUP, trainer.built.device)
    seconds: dict[str, list[float]] = {label: [] for label in runs}
    for _ in range(rounds):
        for label, trainer in trainers.items():
            seconds[label].append(time_steps(trainer.step, steps, trainer.built.device))
    return seconds


def summary(seconds: dict[str, list[float]], steps: int, batch: int) -> dict:
    """Samples/s of each run's best (shortest) round, and each other run's over the CPU's (above 1:
    faster than the CPU).

    Example:
        >>> summary({"cpu": [2.0]}, steps=10, batch=32)
        {'samples_per_s': {'cpu': 160.0}, 'over_cpu': {}}
    """
    speeds = {label: steps * batch / min(s) for label, s in seconds.items()}
    return {"samples_per_s": speeds,
            "over_cpu": {label: v / speeds["cpu"] for label, v in speeds.items() if label != "cpu"}}


def report(cfg: RunConfig, result: dict, threads: int, steps: int, rounds: int) -> str:
    """The lines ``python -m tools.device_bench`` prints.

    Example:
        >>> print(report(default_config(), {"samples_per_s": {"cpu": 70000.0}, "over_cpu": {}},
        ...              threads=2, steps=200, rounds=3).splitlines()[2])
        CUDA: no CUDA here
    """
    data = shape_of(cfg.data)
    shape = "-".join(str(n) for n in (data.features, *cfg.model.hidden, data.targets or data.classes))
    speeds = result["samples_per_s"]
    lines = [f"{cfg.data.name}, MLP {shape}, {cfg.algorithm.name}, batch {cfg.train.batch_size} "
             f"({work_per_step(cfg) / 1e6:.1f} M multiply-adds a step); best of {rounds} rounds of {steps} steps",
             f"{describe(torch.device('cpu'), threads=threads)}: {speeds['cpu']:,.0f} samples/s"]
    for label, ratio in result["over_cpu"].items():
        lines.append(f"{describe(torch.device('cuda'))} ({label}): {speeds[label]:,.0f} samples/s, "
                     f"{ratio:.2f}x the CPU (measured in this run)")
    if not result["over_cpu"]:
        lines.append("CUDA: no CUDA here")
    lines.append(resolve_device(cfg)[1])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.device_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="steps per round")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--threads", type=int, default=None, help="the CPU's threads (default: its usable cores)")
    parser.add_argument("--hidden", help="hidden widths, e.g. 256,256 (default: the page's 64,64)")
    parser.add_argument("--batch", type=int, help="batch size (default: the page's 64)")
    args = parser.parse_args(argv)
    threads = args.threads or usable_cores()
    torch.set_num_threads(threads)
    hidden = [int(w) for w in args.hidden.split(",")] if args.hidden else None
    cfg = default_config(hidden, args.batch)
    seconds = measure(runs_here(cfg), args.steps, args.rounds)
    print(report(cfg, summary(seconds, args.steps, cfg.train.batch_size), threads, args.steps, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
