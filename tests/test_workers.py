"""How the suite spreads over the cores (`tools.pytest_workers`): the worker count within a
container's CPU quota, and the browser and Ray tests each kept to one worker."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tools.pytest_workers import usable_cpus

ROOT = Path(__file__).resolve().parents[1]
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


def test_the_browser_tests_share_one_worker_in_their_order_while_the_others_spread(tmp_path):
    """A small suite laid out like this one, run with two workers and the plugin: every browser
    test in one worker in file order (they share its app server; some read what an earlier one
    trained), both Ray files in one worker, and a file whose tests share a costly module fixture in
    one worker. (xdist's own ``--dist loadgroup`` with
    ``xdist_group`` marks fails this under pytest 9.2: pytest-xdist #1386.)"""
    record = textwrap.dedent("""
        import os, time

        def note(name):
            with open(os.environ["WHERE"], "a") as f:
                f.write(f"{name} {os.environ['PYTEST_XDIST_WORKER']}\\n")
            time.sleep(0.2)   # long enough that a worker left idle takes the next unit of work
    """)
    (tmp_path / "tests" / "e2e").mkdir(parents=True)
    (tmp_path / "tests" / "note.py").write_text(record)
    for folder, name in [("e2e", "test_a"), ("e2e", "test_b"), ("", "test_cluster"), ("e2e", "test_runs_stop"),
                         ("", "test_parity"), ("", "test_other")]:
        tests = "".join(f"def test_{i}():\n    note('{name}.{i}')\n\n" for i in range(4))
        (tmp_path / "tests" / folder / f"{name}.py").write_text("from note import note\n\n" + tests)
    where = tmp_path / "where.txt"
    out = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "-p", "tools.pytest_workers", "-p",
                          "no:cacheprovider", "-q", "-o", "addopts=", "--rootdir", str(tmp_path),
                          str(tmp_path / "tests")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env=os.environ | {"WHERE": str(where), "PYTHONPATH": f"{ROOT}:{tmp_path / 'tests'}"})
    assert out.returncode == 0, out.stdout + out.stderr
    ran = [line.split() for line in where.read_text().splitlines()]
    workers = lambda prefix: {w for name, w in ran if name.startswith(prefix)}  # noqa: E731
    browser = [name for name, _ in ran if name.startswith(("test_a", "test_b"))]
    assert len(workers(("test_a", "test_b"))) == 1, ran
    assert browser == [f"test_{f}.{i}" for f in "ab" for i in range(4)], ran     # in file order
    assert len(workers(("test_cluster", "test_runs_stop"))) == 1, ran
    assert len(workers("test_parity")) == 1, ran   # its module fixture made once
    assert len([name for name, _ in ran if name.startswith("test_other")]) == 4, ran
