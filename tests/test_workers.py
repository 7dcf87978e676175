"""The suite's worker count (``-n auto``, ../conftest.py): the cores this process may use, within
the CPU quota of a container's cgroup, which sees the host's cores but may use only a few."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

# The repository's own conftest (``conftest`` on sys.path is tests/conftest.py), read by path.
_spec = importlib.util.spec_from_file_location("root_conftest", Path(__file__).resolve().parents[1] / "conftest.py")
root_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(root_conftest)
usable_cpus = root_conftest.usable_cpus

AFFINITY = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@pytest.mark.parametrize("files, expected", [
    ({"cpu.max": "150000 100000\n"}, 2),                                    # v2: 1.5 cores of quota -> 2
    ({"cpu.max": "max 100000\n"}, AFFINITY),                                # v2, no quota
    ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),   # v1: one core
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, AFFINITY),  # v1, no quota
    ({}, AFFINITY),                                                         # no cgroup files at all
])
def test_a_cgroup_quota_caps_the_workers_at_the_cores_it_allows(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert usable_cpus(tmp_path) == min(expected, AFFINITY)
