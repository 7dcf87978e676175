"""The run store: what a run keeps, ids, bad files, migrations, interrupted runs, threads and processes."""

from __future__ import annotations

import io
import json
import math
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

import explorer
from explorer.runs import store as store_module
from explorer.engine.build import build
from explorer.config import ConfigError
from explorer.engine.representations import Snapshot
from explorer.runs.store import InvalidId, Store, StoreError, UnknownRun, check_id, default_path

from conftest import small_config

ROOT = Path(__file__).resolve().parents[1]
TINY = small_config(model={"name": "mlp", "hidden": [8]}, train={"epochs": 1})


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "runs.sqlite") as s:
        yield s


def test_a_run_keeps_its_config_status_times_device_and_version(store):
    run = store.create_run(TINY)
    info = store.get_run(run)
    assert info.status == "queued" and info.config == explorer.RunConfig.from_dict(TINY).to_dict()
    assert info.version == explorer.__version__ and info.owner_pid == os.getpid()
    assert info.started is None and info.finished is None and abs(info.created - time.time()) < 60
    store.start_run(run)
    store.update_progress(run, steps_done=3, total_steps=22, device="cpu", device_name="CPU")
    store.set_status(run, "paused")
    info = store.get_run(run)
    assert (info.status, info.steps_done, info.total_steps, info.device, info.progress) == ("paused", 3, 22, "cpu", 3 / 22)
    assert info.started is not None and info.finished is None
    store.finish_run(run, "diverged", diverged_at=7)
    info = store.get_run(run)
    assert (info.status, info.diverged_at) == ("diverged", 7) and info.finished >= info.started
    assert info.run_config() == explorer.RunConfig.from_dict(TINY)
    d = info.to_dict()
    assert {"id", "status", "config", "created"} <= set(d) and d["created"].endswith("+00:00")


def test_final_statuses_carry_what_they_need(store):
    run = store.create_run(TINY)
    with pytest.raises(ValueError, match="diverged_at"):
        store.finish_run(run, "diverged")
    with pytest.raises(ValueError, match="error"):
        store.finish_run(run, "failed")
    with pytest.raises(ValueError, match="status must be one of"):
        store.finish_run(run, "finished")
    with pytest.raises(ValueError, match="status must be one of queued, running, paused"):
        store.set_status(run, "done")
    store.finish_run(run, "failed", error="ValueError: boom")
    assert store.get_run(run).error == "ValueError: boom"


def test_metric_records_come_back_in_order_with_nan_and_their_wall_times(store):
    run = store.create_run(TINY)
    records = [{"step": s, "train_loss": 1.0 / s, "layers": [{"layer": "layers.0", "weight_cos": math.nan}]}
               for s in range(1, 8)]
    store.append_metrics(run, records[:3], logged=[10.0, 11.0, 12.0])
    store.append_metrics(run, records[3:], steps_done=7)
    back = store.metrics(run)
    assert [r["step"] for r in back] == list(range(1, 8)) and json.dumps(back) == json.dumps(records)
    assert math.isnan(back[0]["layers"][0]["weight_cos"])
    rows = store.metric_rows(run, after=2)
    assert [seq for seq, _, _ in rows] == [3, 4, 5, 6, 7] and rows[0][1] == 12.0
    info = store.get_run(run)
    assert info.records == 7 and info.steps_done == 7


def test_bad_records_are_refused_by_index_and_nothing_of_the_batch_is_stored(store):
    run = store.create_run(TINY)
    with pytest.raises(ValueError, match=r"records\[1\]\.step"):
        store.append_metrics(run, [{"step": 1}, {"loss": 2.0}])
    with pytest.raises(ValueError, match=r"records\[0\] is not JSON-able"):
        store.append_metrics(run, [{"step": 1, "x": object()}])
    with pytest.raises(ValueError, match="logged"):
        store.append_metrics(run, [{"step": 1}], logged=[1.0, 2.0])
    assert store.metrics(run) == [] and store.get_run(run).records == 0


def test_a_reader_attached_by_id_sees_new_records_once_and_the_final_state(store):
    run = store.create_run(TINY)
    view = store.open_run(run)
    assert view.new_metrics() == [] and view.final() == {} and not view.finished
    store.append_metrics(run, [{"step": 1}, {"step": 2}])
    assert [r["step"] for r in view.new_metrics()] == [1, 2]
    store.append_metrics(run, [{"step": 3}])
    assert [r["step"] for r in view.new_metrics()] == [3] and view.new_metrics() == []
    with pytest.raises(TimeoutError, match="still queued"):
        view.wait(timeout=0.05, poll=0.01)
    store.finish_run(run, "done")
    assert view.wait(timeout=1).status == "done" and view.finished and view.final() == {"step": 3}
    assert [r["step"] for r in view.metrics()] == [1, 2, 3]


def test_snapshots_probe_and_checkpoints_round_trip_feedback_matrices_included(store):
    cfg = small_config(model={"name": "mlp", "hidden": [8, 6]}, algorithm={"name": "dfa"})
    built = build(cfg)
    run = store.create_run(cfg)
    snap = Snapshot(1, 22, {"layers.0": torch.randn(5, 8), "layers.1": torch.randn(5, 6)})
    store.add_snapshot(run, Snapshot(0, 0, {"layers.0": torch.zeros(5, 8)}))
    store.add_snapshot(run, snap)
    back = store.snapshots(run)
    assert [(s.epoch, s.step) for s in back] == [(0, 0), (1, 22)]
    assert torch.equal(back[1].layers["layers.1"], snap.layers["layers.1"])
    store.set_probe(run, {"y": torch.arange(5)})
    assert torch.equal(store.probe(run)["y"], torch.arange(5))
    state = built.model.state_dict()
    assert any("feedback" in k for k in state)  # DFA's B matrices are buffers
    store.save_checkpoint(run, 0, state)
    with torch.no_grad():
        built.model.layers[0].weight.add_(1.0)
    store.save_checkpoint(run, 22, built.model.state_dict())
    assert store.checkpoint_steps(run) == [0, 22]
    fresh = build(cfg | {"seed": 5}).model
    fresh.load_state_dict(store.checkpoint(run))  # the latest
    x = built.data.x_test[:7]
    assert torch.equal(fresh(x), built.model(x))
    assert torch.equal(store.checkpoint(run, 0)["layers.0.weight"] + 1.0, built.model.layers[0].weight)
    with pytest.raises(UnknownRun, match="no checkpoint at step 5"):
        store.checkpoint(run, 5)


def test_a_blob_holding_a_pickled_object_is_refused_not_run(store, tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    buf = io.BytesIO()
    torch.save({"w": Payload()}, buf)
    run = store.create_run(TINY)
    with sqlite3.connect(store.path) as c:
        c.execute("INSERT INTO checkpoints VALUES (?, 1, 0, ?)", (run, buf.getvalue()))
    with pytest.raises(StoreError, match="not a plain file of tensors"):
        store.checkpoint(run)
    assert not marker.exists()
    with pytest.raises(ValueError, match=r"state_dict\['w'\] must be a tensor"):
        store.save_checkpoint(run, 2, {"w": [1, 2]})


@pytest.mark.parametrize("bad", ["", "abc", "../../etc/passwd", "1 OR 1=1", "3F9A0C1B2D4E5F60", "3f9a0c1b2d4e5f6",
                                 "3f9a0c1b2d4e5f600", "3f9a0c1b2d4e5f6'", None, 7])
def test_malformed_ids_are_errors_before_any_query(store, bad):
    for call in (store.get_run, store.metrics, store.open_run, store.delete_run, store.snapshots,
                 store.checkpoint, store.get_group, lambda i: store.append_metrics(i, []),
                 lambda i: store.finish_run(i, "done"), lambda i: store.save_checkpoint(i, 0, {})):
        with pytest.raises(InvalidId, match="16 lowercase hex characters"):
            call(bad)


def test_a_well_formed_id_that_is_absent_is_unknown(store):
    with pytest.raises(UnknownRun, match="no run 0123456789abcdef"):
        store.get_run("0123456789abcdef")
    with pytest.raises(UnknownRun):
        store.finish_run("0123456789abcdef", "done")
    with pytest.raises(UnknownRun):
        store.append_metrics("0123456789abcdef", [{"step": 1}])
    with pytest.raises(InvalidId, match="group id must be"):
        store.list_runs(group="not-a-group")
    assert check_id("0123456789abcdef") == "0123456789abcdef"


def test_a_bad_config_is_refused_by_field_and_nothing_is_stored(store):
    with pytest.raises(ConfigError, match="optimizer.lr"):
        store.create_run(small_config(optimizer={"name": "sgd", "lr": -1}))
    assert store.list_runs() == []


def test_groups_share_a_seed_and_list_their_runs(store):
    group = store.create_group(seed=4, label="bp vs dfa")
    a = store.create_run(small_config(seed=4), group=group)
    b = store.create_run(small_config(seed=4, algorithm={"name": "dfa"}), group=group)
    store.create_run(small_config(seed=4))
    with pytest.raises(ConfigError, match="seed: runs of group .* share seed 4"):
        store.create_run(small_config(seed=5), group=group)
    assert {r.id for r in store.list_runs(group=group)} == {a, b}
    assert store.get_group(group).label == "bp vs dfa"
    assert len(store.list_runs()) == 3 and len(store.list_runs(limit=2)) == 2
    with pytest.raises(StoreError, match="is queued; stop it before deleting the group"):
        store.delete_group(group)  # a live process may still start it
    for run in (a, b):
        store.finish_run(run, "cancelled")
    assert store.delete_group(group) == 2
    assert len(store.list_runs()) == 1
    with pytest.raises(UnknownRun):
        store.get_run(a)


def test_deleting_a_run_removes_its_records_but_a_live_run_is_refused(store):
    run = store.create_run(TINY)
    store.append_metrics(run, [{"step": 1}])
    store.save_checkpoint(run, 1, {"w": torch.ones(2)})
    store.start_run(run)
    with pytest.raises(StoreError, match="stop it before deleting"):
        store.delete_run(run)
    store.finish_run(run, "cancelled")
    store.delete_run(run)
    with sqlite3.connect(store.path) as c:
        assert c.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 0
        assert c.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0] == 0


def test_the_store_is_in_wal_mode_with_a_schema_version(store):
    with sqlite3.connect(store.path) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        meta = dict(c.execute("SELECT key, value FROM meta"))
    assert meta == {"application": "explorer-runs", "schema_version": str(store_module.schema_version())}


def test_an_older_store_is_migrated_and_keeps_its_runs(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    with Store(path) as s:
        run = s.create_run(TINY)
        s.append_metrics(run, [{"step": 1}])

    def add_notes(c):
        c.execute("ALTER TABLE runs ADD COLUMN notes TEXT")

    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, add_notes])
    with Store(path) as s:
        assert s.metrics(run) == [{"step": 1}]
    with sqlite3.connect(path) as c:
        # one past the library's own version: the patched list's length
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == \
            str(len(store_module.MIGRATIONS))
        assert "notes" in [r[1] for r in c.execute("PRAGMA table_info(runs)")]


def test_files_that_are_not_run_stores_are_clear_errors_and_left_untouched(tmp_path):
    text = tmp_path / "notes.sqlite"
    body = b"my notes, not a database\n" * 100
    text.write_bytes(body)
    with pytest.raises(StoreError, match="not an explorer run store: the file is not an SQLite database"):
        Store(text)
    assert text.read_bytes() == body
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE notes (body TEXT)")
        c.execute("INSERT INTO notes VALUES ('keep me')")
    with pytest.raises(StoreError, match=r"an SQLite database but not an explorer run store \(its tables: notes\)"):
        Store(other)
    with sqlite3.connect(other) as c:
        assert c.execute("SELECT body FROM notes").fetchall() == [("keep me",)]
        assert c.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 1
    with pytest.raises(StoreError, match="is a folder"):
        Store(tmp_path)


def test_a_store_from_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "runs.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as c:
        c.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="written by a newer explorer .*version 7.*upgrade explorer"):
        Store(path)


def test_a_store_locked_by_another_writer_is_a_clear_error(tmp_path):
    path = tmp_path / "runs.sqlite"
    with Store(path, timeout=0.1) as s:
        run = s.create_run(TINY)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match="locked by another writer \\(waited 0.1 s while writing metrics\\)"):
                s.append_metrics(run, [{"step": 1}])
            assert s.get_run(run).status == "queued"  # readers go on while a writer holds the lock
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        s.append_metrics(run, [{"step": 1}])
        assert s.metrics(run) == [{"step": 1}]
    with pytest.raises(ValueError, match="timeout"):
        Store(path, timeout=-1)


def test_a_closed_store_says_so(tmp_path):
    s = Store(tmp_path / "runs.sqlite")
    s.close()
    with pytest.raises(StoreError, match="is closed"):
        s.list_runs()


def test_default_path_follows_explorer_store(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_STORE", str(tmp_path / "elsewhere.sqlite"))
    assert default_path() == tmp_path / "elsewhere.sqlite"
    with Store() as s:
        assert s.path == tmp_path / "elsewhere.sqlite" and s.path.exists()
    monkeypatch.delenv("EXPLORER_STORE")
    assert default_path() == Path.home() / ".explorer" / "runs.sqlite"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _own(store, run, host, pid, token, heartbeat):
    with sqlite3.connect(store.path) as c:
        c.execute("UPDATE runs SET owner_host = ?, owner_pid = ?, owner_token = ?, heartbeat = ? WHERE id = ?",
                  (host, pid, token, heartbeat, run))


def test_runs_of_ended_processes_are_marked_interrupted_on_opening_and_keep_their_records(tmp_path):
    path = tmp_path / "runs.sqlite"
    here = socket.gethostname()
    with Store(path) as s:
        dead, alive, reused, remote_fresh, remote_stale, queued_dead, done = (s.create_run(TINY) for _ in range(7))
        for run in (dead, alive, reused, remote_fresh, remote_stale):
            s.start_run(run)
            s.append_metrics(run, [{"step": 1}, {"step": 2}], steps_done=2)
        s.finish_run(done, "done")
        pid = _dead_pid()
        _own(s, dead, here, pid, "", time.time())
        _own(s, queued_dead, here, pid, "", time.time())
        _own(s, reused, here, os.getpid(), "not-my-start-time", time.time())  # a pid reused by another process
        _own(s, remote_fresh, "another-host", 1, "", time.time())
        _own(s, remote_stale, "another-host", 1, "", time.time() - 10 * store_module.STALE_AFTER)
    with Store(path) as s:
        status = {run: s.get_run(run).status for run in (dead, alive, reused, remote_fresh, remote_stale,
                                                          queued_dead, done)}
        assert status == {dead: "interrupted", alive: "running", reused: "interrupted", remote_fresh: "running",
                          remote_stale: "interrupted", queued_dead: "interrupted", done: "done"}
        info = s.get_run(dead)
        assert f"pid {pid}" in info.error and "after step 2" in info.error and info.finished is not None
        assert s.metrics(dead) == [{"step": 1}, {"step": 2}]
        assert s.recover() == []  # nothing more to mark


def test_threads_share_one_store_each_with_its_own_connection(store):
    runs = [store.create_run(TINY) for _ in range(6)]
    errors = []

    def write(run, k):
        try:
            for i in range(40):
                store.append_metrics(run, [{"step": i + 1, "writer": k}])
        except BaseException as err:  # re-raised on the main thread below
            errors.append(err)

    threads = [threading.Thread(target=write, args=(run, k)) for k, run in enumerate(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for k, run in enumerate(runs):
        assert store.metrics(run) == [{"step": i + 1, "writer": k} for i in range(40)]


def test_connections_of_ended_threads_are_closed(store):
    threads = []
    for _ in range(5):  # each new thread's first query sweeps the connections of the ended ones
        threads.append(threading.Thread(target=store.list_runs))
        threads[-1].start()
        threads[-1].join()
    assert [t for t, _ in store._connections] == [threading.current_thread(), threads[-1]]


WRITER = """
import sys
from explorer.runs.store import Store
store = Store(sys.argv[1], timeout=30)
for i in range(100):
    store.append_metrics(sys.argv[2], [{"step": i + 1, "writer": int(sys.argv[3])}])
"""


def test_processes_write_to_one_store_at_once(store):
    runs = [store.create_run(TINY) for _ in range(2)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(store.path), run, str(k)], env=env,
                              stderr=subprocess.PIPE, text=True) for k, run in enumerate(runs)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
        p.stderr.close()
    for k, run in enumerate(runs):
        assert store.metrics(run) == [{"step": i + 1, "writer": k} for i in range(100)]
