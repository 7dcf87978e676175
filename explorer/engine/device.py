"""The device a run lives on, chosen once: CUDA if present, then Apple's MPS, then the CPU.

Example:
    >>> choose_device("cpu")
    device(type='cpu')
"""

from __future__ import annotations

import os
import threading

import torch

from explorer.config import ConfigError


def choose_device(name: str | None = "auto") -> torch.device:
    """``auto`` picks the best available; asking for one that is absent is a `ConfigError`."""
    name = name or "auto"
    mps = getattr(torch.backends, "mps", None)
    available = {"cuda": torch.cuda.is_available(), "mps": bool(mps and mps.is_available()), "cpu": True}
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if available[d]))
    if name not in available:
        raise ConfigError(f"device must be one of auto, cpu, cuda, mps; got {name!r}", field="device")
    if not available[name]:
        raise ConfigError(f"device: '{name}' was asked for but this machine has none; use 'auto' or 'cpu'",
                          field="device")
    return torch.device(name)


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

    Example:
        >>> threads_per_run(usable_cores() * 4)
        1
    """
    return max(1, usable_cores() // concurrent)


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
