"""The device a run lives on, chosen once. ``auto`` picks CUDA if present, then Apple's MPS, then
the CPU, except that a network whose training step is too small to keep a GPU busy stays on the
CPU (`auto_device`).

Example:
    >>> choose_device("cpu")
    device(type='cpu')
"""

from __future__ import annotations

import os
import threading
from typing import Iterable

import torch

from explorer.config import ConfigError

GPUS = ("cuda", "mps")  # in the order ``auto`` prefers them

# Multiply-adds of one training step (batch × per-sample count) below which ``auto`` keeps a run on
# the CPU where a GPU is present. Derived in `auto_device`'s docstring.
CPU_BELOW_MACS = 30_000_000


def available_devices() -> set[str]:
    """The device types this machine has: always "cpu", and "cuda" or "mps" where PyTorch sees one.

    Example:
        >>> "cpu" in available_devices()
        True
    """
    mps = getattr(torch.backends, "mps", None)
    present = {"cpu"}
    if torch.cuda.is_available():
        present.add("cuda")
    if mps is not None and mps.is_available():
        present.add("mps")
    return present


def _millions(macs: int) -> str:
    """A count of multiply-adds in millions, as the reasons say it.

    Example:
        >>> _millions(1_433_600), _millions(30_000_000), _millions(2_834_825_216), _millions(40_000)
        ('1.4 M', '30 M', '2,835 M', '0.04 M')
    """
    m = macs / 1e6
    return f"{m:,.0f} M" if m >= 10 else f"{m:.1f} M" if m >= 1 else f"{m:.2g} M"


def auto_device(work_per_step: int | None, available: Iterable[str]) -> tuple[torch.device, str]:
    """What ``device: auto`` trains on, and why in one sentence: the GPU (CUDA, else MPS) where
    ``available`` has one, unless the step's ``work_per_step`` multiply-adds are fewer than
    `CPU_BELOW_MACS`; the CPU where there is no GPU. ``work_per_step`` None: no network to size
    (a server's device in general), the GPU where there is one.

    Why a threshold: a GPU step costs a floor of Python and kernel launches whatever its size,
    while the CPU's step grows with its arithmetic. Measured on this project's 2-core CPU (torch
    2.14, bp through the `Trainer`, best of a few windows, one session): the app's default digits
    MLP 64-64-64-10 at batch 64 (1.4 M multiply-adds a step) took 0.84–0.95 ms a step (0.67 ms
    without its logging steps); an MLP 784-256-256-10 at batch 128 (78 M) took 4.0 ms with one
    thread and 2.5 ms with two; the bench MLP 784-1024×4-10 at batch 256 (2,835 M) took 81 ms with
    one thread and 50 ms with two at a quiet moment (35 and 57 G multiply-adds/s). Between the
    first two, a step costs about 0.87 ms + W / 25 G/s with one thread, 0.87 ms + W / 46 G/s with
    two. The GPU's floor is the README's H200 figure: the bench MLP's Trainer step took 2.0 ms
    (127,700 samples/s at batch 256), of which its kernels took 0.8–0.9 ms, so the step was bound
    by the host's Python and launches, about 2 ms a step. The CPU matches a 2 ms step at
    W ≈ 1.1 ms × 25 G/s ≈ 29 M (one thread) or 53 M (two threads); `CPU_BELOW_MACS` takes the
    one-thread figure, rounded to 30 M, so that where unsure ``auto`` keeps the GPU it chose before.

    The GPU side of this crossover is not measured on this machine (it has no GPU): the floor is
    one figure from another machine, for a five-layer MLP (a shallower one launches fewer kernels
    and may have a lower floor), taken with eager steps (``train.cuda_graph`` now replays a run's
    ordinary steps from a CUDA graph, which lowers the floor; its logging steps stay eager), and a
    GPU host's own CPU cores (more of them, other speeds) move the CPU side. ``python -m
    tools.device_bench`` measures both sides, graphed and eager, on a machine with CUDA.

    Example:
        >>> auto_device(64 * 22_400, {"cpu", "cuda"})[0]      # the default digits MLP, bp, batch 64
        device(type='cpu')
        >>> print(auto_device(256 * 11_073_536, {"cpu", "cuda"})[1])   # the bench MLP
        auto: the GPU — this network's step is 2,835 M multiply-adds, enough to keep it busy
        >>> auto_device(10**9, {"cpu"})
        (device(type='cpu'), 'auto: the CPU, as this machine has no GPU')
    """
    available = set(available)
    gpu = next((d for d in GPUS if d in available), None)
    if gpu is None:
        return torch.device("cpu"), "auto: the CPU, as this machine has no GPU"
    if work_per_step is None:
        return torch.device(gpu), "auto: the GPU, the fastest device here"
    step = f"this network's step is {_millions(work_per_step)} multiply-adds"
    if work_per_step < CPU_BELOW_MACS:
        return torch.device("cpu"), (f"auto: the CPU — {step}, too small for the GPU to beat its launch "
                                     f"overhead (under {_millions(CPU_BELOW_MACS)})")
    return torch.device(gpu), f"auto: the GPU — {step}, enough to keep it busy"


def pick_device(name: str | None = "auto", work_per_step: int | None = None,
                available: Iterable[str] | None = None) -> tuple[torch.device, str]:
    """The device ``name`` asks for, and why: ``auto`` (or None) by `auto_device` for a step of
    ``work_per_step`` multiply-adds; "cpu", "cuda" and "mps" as asked. Asking for one this machine
    (or ``available``, where given) lacks, or for another name, is a `ConfigError` on ``device``.

    Example:
        >>> pick_device("cpu")
        (device(type='cpu'), 'cpu, as asked')
        >>> pick_device("auto", 10**6, available={"cpu", "mps"})[0]
        device(type='cpu')
    """
    name = name or "auto"
    present = available_devices() if available is None else set(available)
    if name == "auto":
        return auto_device(work_per_step, present)
    if name not in ("cpu", *GPUS):
        raise ConfigError(f"device must be one of auto, cpu, cuda, mps; got {name!r}", field="device")
    if name not in present:
        raise ConfigError(f"device: '{name}' was asked for but this machine has none; use 'auto' or 'cpu'",
                          field="device")
    return torch.device(name), f"{name}, as asked"


def choose_device(name: str | None = "auto") -> torch.device:
    """The device ``name`` asks for, with no network to size: ``auto`` picks the best available;
    asking for one that is absent is a `ConfigError`. (A run's device: `pick_device` with its step's
    multiply-adds, as `explorer.engine.build.build` does.)"""
    return pick_device(name)[0]


def describe(device: torch.device, threads: int | None = None) -> str:
    """A human name for the device: the GPU's name, or "CPU" (with its ``threads``, if given).

    Example:
        >>> describe(torch.device("cpu")), describe(torch.device("cpu"), threads=1)
        ('CPU', 'CPU (1 thread)')
    """
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return "CPU" if threads is None else f"CPU ({threads} thread{'' if threads == 1 else 's'})"


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity masks
        return os.cpu_count() or 1


def threads_per_run(concurrent: int) -> int:
    """Threads for torch's CPU kernels in each of ``concurrent`` runs training at once: the usable
    cores shared out, at least one. More would oversubscribe the cores: two runs of two threads
    each on two cores trained the digits comparison at 24,000 samples/s against 31,000 with one
    thread each, and a LeNet-5 pair on MNIST took 22 s an epoch against 17 s.

    ``OMP_NUM_THREADS``, where set to a whole number, caps it: the usual way to keep a process to
    fewer threads on a shared machine (torch reads it at start; this would otherwise override it).

    Example:
        >>> threads_per_run(usable_cores() * 4)
        1
    """
    shared = max(1, usable_cores() // concurrent)
    asked = os.environ.get("OMP_NUM_THREADS", "").strip()
    return min(shared, int(asked)) if asked.isdigit() and int(asked) >= 1 else shared


def use_threads(n: int) -> None:
    """Make torch's CPU kernels called from this thread use ``n`` threads.

    ``torch.set_num_threads`` sets the calling thread's OpenMP team size and also the default of
    every thread that first uses torch later; a short-lived helper thread puts that default back,
    so the caller's other threads keep theirs.

    Example:
        >>> worker = threading.Thread(target=lambda: (use_threads(1), seen.append(torch.get_num_threads())))
        >>> seen = []; worker.start(); worker.join(); seen
        [1]
    """
    before = torch.get_num_threads()  # a thread starts from the process-wide default
    torch.set_num_threads(n)
    if before != n:
        restore = threading.Thread(target=torch.set_num_threads, args=(before,), name="explorer-threads")
        restore.start()
        restore.join()
