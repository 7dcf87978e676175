"""Pytest setup for the whole suite (tests/ and the doctests in explorer/).

PyTorch's intra-op thread pool spins while it waits for work; with the small tensors of the tests,
on a 2-core machine shared with other processes, two spinning threads made the suite up to 8x
slower. One thread is what the tests need.
"""

import math
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402  (after the environment variable, which torch reads at import)

torch.set_num_threads(1)


def usable_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The cores this process may use: its CPU affinity, within the CPU quota of the cgroup it sees
    (a container often sees the host's cores but may use a few; cgroup v2's ``cpu.max`` or v1's
    ``cpu.cfs_quota_us``), at least 1.

    Example:
        >>> 1 <= usable_cpus() <= (os.cpu_count() or 1)
        True
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    for quota_file, period_file in (("cpu.max", None), ("cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us")):
        try:
            words = (cgroup / quota_file).read_text().split()
            if period_file is not None:
                words += (cgroup / period_file).read_text().split()
            quota, period = words
        except (OSError, ValueError):
            continue  # not this cgroup version
        if quota not in ("max", "-1"):
            cpus = min(cpus, math.ceil(int(quota) / int(period)))
        break
    return max(1, cpus)


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: a worker per usable core, at most 8 (each worker holds torch and its own data)."""
    return min(usable_cpus(), 8)
