"""Ray started and stopped by the backend itself (no Ray running beforehand, unlike
`test_cluster.py`'s module instance): a local instance is shut down after its sweep with no Ray
process left, and an address where nothing answers is said at once, with no run stored."""

from __future__ import annotations

import os

import pytest

ray = pytest.importorskip("ray")

from explorer.cli import main  # noqa: E402
from explorer.runs.cluster import RayOptions  # noqa: E402
from explorer.runs.store import Store  # noqa: E402
from explorer.runs.sweep import sweep  # noqa: E402

BASE = {"model": {"hidden": [16]}, "train": {"epochs": 1, "batch_size": 128}, "device": "cpu"}


@pytest.fixture(autouse=True)
def no_ray_running():
    if ray.is_initialized():
        ray.shutdown()
    yield
    assert not ray.is_initialized()


def test_a_local_ray_started_for_a_sweep_is_shut_down_after_it(tmp_path):
    result = sweep(BASE, {"algorithm.name": ["bp"]}, seeds=1,
                   progress=False, backend="ray", ray=RayOptions(local_cpus=1))
    assert set(result.table["status"]) == {"done"}
    assert not ray.is_initialized()
    children = [p for p in os.listdir("/proc") if p.isdigit() and _parent(p) == os.getpid()]
    assert not [p for p in children if "ray" in _command(p)], "Ray processes outlived the sweep"


def _parent(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _command(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_an_address_where_nothing_answers_is_said_at_once_and_stores_no_run(tmp_path, capsys):
    """``ray.init`` waits minutes on a wrong address; the sweep says so in seconds, before any run."""
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config, grid, path = tmp_path / "base.json", tmp_path / "grid.json", tmp_path / "runs.sqlite"
    config.write_text('{"model": {"hidden": [8]}, "train": {"epochs": 1}, "device": "cpu"}')
    grid.write_text('{"algorithm.name": ["bp"]}')
    code = main(["sweep", "--config", str(config), "--grid", str(grid), "--backend", "ray",
                 "--ray-address", f"127.0.0.1:{port}", "--store", str(path), "--out", str(tmp_path / "s.csv")])
    assert code == 1
    err = capsys.readouterr().err
    assert f"--ray-address 127.0.0.1:{port}: nothing answers at 127.0.0.1 port {port}" in err
    assert "Traceback" not in err and "runs stored in" not in err  # nothing was stored: no pointer to the store
    with Store(path) as store:
        assert store.list_runs() == []
    assert not ray.is_initialized()
