"""How the test suite spreads over the machine's cores (pytest-xdist; loaded by ../conftest.py).

- ``-n auto`` starts a worker per core this process may use (`usable_cpus`), at most 8.
- Tests go to workers in the units `worker_scope` makes: the browser tests together, the Ray tests
  together, each file whose tests share a costly module fixture as one unit, every other test on
  its own.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest


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


# The Ray tests each start a local Ray instance (the Runs page's stop test stops a Ray sweep).
RAY_FILES = {"test_cluster.py", "test_cluster_start.py", "test_runs_stop.py"}
# Files whose tests share a module fixture that takes seconds to make: spread test by test, each
# worker that runs one of them makes it again (test_parity's parity training: about 12 s).
SHARED_FIXTURE_FILES = {"test_parity.py"}


def worker_scope(nodeid: str) -> str:
    """The unit of work a test goes to a worker in: the browser tests (``tests/e2e/``) together, as
    they share one app server and Chromium per worker (a server per worker starves a 2-core
    machine) and some read what an earlier one trained; the Ray tests together in another; a file
    in `SHARED_FIXTURE_FILES` as one unit (its fixture made once); every other test on its own.

    Example:
        >>> worker_scope("tests/e2e/test_live_state.py::test_x"), worker_scope("tests/test_cluster.py::test_y")
        ('browser', 'ray')
        >>> worker_scope("tests/test_init.py::test_z[a]"), worker_scope("tests/test_parity.py::test_w")
        ('tests/test_init.py::test_z[a]', 'tests/test_parity.py')
    """
    path = Path(nodeid.split("::", 1)[0])
    if path.name in RAY_FILES:
        return "ray"
    if path.parent.name == "e2e":
        return "browser"
    if path.name in SHARED_FIXTURE_FILES:
        return nodeid.split("::", 1)[0]
    return nodeid


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """Under ``-n``: xdist's scope scheduler with `worker_scope`'s units. (Not ``--dist loadgroup``
    with ``xdist_group`` marks: with pytest 9.2 its groups are silently dropped, pytest-xdist #1386.)"""
    from xdist.scheduler import LoadScopeScheduling

    class WorkerScopes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_scope(nodeid)

    return WorkerScopes(config, log)
