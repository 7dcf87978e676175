"""The run store under faults (issue 15, item 2): rows it cannot read, damaged blobs, a full disk
and a lock held by another process. Nothing crashes a reader, nothing stored is lost, and every
error names the run and what is wrong."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from explorer.config import ConfigError, RunConfig
from explorer.engine.representations import Snapshot
from explorer.runs import store as store_module
from explorer.runs.jobs import JobManager
from explorer.runs.store import DamagedRun, Store, StoreError
from explorer.runs.workspace import Followed, status_message

from conftest import small_config

TINY = small_config(model={"name": "mlp", "hidden": [8]}, train={"epochs": 1})
WIDE = small_config(model={"name": "mlp", "hidden": [64]}, train={"epochs": 1})  # a checkpoint of ~20 kB


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "runs.sqlite") as s:
        yield s


def _sql(store: Store | Path, sql: str, args=()) -> None:
    """Change the file behind the store's back, as another program (or a damaged disk) would."""
    with sqlite3.connect(getattr(store, "path", store)) as c:
        c.execute(sql, args)
    c.close()


def _until(condition, timeout: float = 60.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        time.sleep(0.02)


# Rows ------------------------------------------------------------------------------------------

UNREADABLE_CONFIGS = {"not JSON": "{'model': oops", "cut short": '{"model": {"hidden": [8', "empty": "",
                      "a list": "[1, 2]", "a string": '"bp"', "null": "null", "bytes": b"\x00\xff",
                      "a number": 42}


@pytest.mark.parametrize("kind", list(UNREADABLE_CONFIGS))
def test_a_row_whose_config_cannot_be_read_is_listed_as_damaged_with_its_text_kept(store, kind):
    bad, good = store.create_run(TINY), store.create_run(TINY)
    raw = UNREADABLE_CONFIGS[kind]
    _sql(store, "UPDATE runs SET config = ? WHERE id = ?", (raw, bad))

    listed = {info.id: info for info in store.list_runs()}  # no JSONDecodeError: both are listed
    assert set(listed) == {bad, good}
    info = listed[bad]
    assert info.damaged and info.config == {} and info.status == "queued"
    assert info.raw_config == (raw if isinstance(raw, str) else repr(raw))
    assert "config" in info.problem
    assert store.get_run(bad).problem == info.problem
    with pytest.raises(DamagedRun, match=f"run {bad}: its config") as caught:
        info.run_config()
    assert caught.value.run == bad and caught.value.field == "config"
    json.dumps(info.to_dict())  # the JSON listing of `runs list --json` still works
    assert info.to_dict()["damaged"] is True and info.to_dict()["raw_config"] == info.raw_config
    assert not listed[good].damaged and listed[good].problem is None
    assert listed[good].run_config() == RunConfig.from_dict(TINY)
    with pytest.raises(DamagedRun, match=bad):  # a page following it names the run instead of crashing
        Followed(store, [good, bad])
    assert "cannot be read" in status_message("BP", info)


@pytest.mark.parametrize("config, field", [({"model": {"hidden": "x"}}, "model.hidden"),
                                            ({"train": {"epochs": 0}}, "train.epochs"),
                                            ({"algorithm": {"name": "nope"}}, "algorithm.name"),
                                            ({"optimizer": {"lr": "fast"}}, "optimizer.lr")])
def test_a_json_config_that_does_not_validate_is_said_with_its_field(store, config, field):
    run = store.create_run(TINY)
    _sql(store, "UPDATE runs SET config = ? WHERE id = ?", (json.dumps(config), run))
    with pytest.raises(ConfigError) as direct:  # the config layer's own verdict, independently
        RunConfig.from_dict(config)
    assert direct.value.field == field

    info = store.get_run(run)
    assert not info.damaged and info.config == config  # readable: kept as stored, shown as is
    assert info.problem == f"its config does not validate: {direct.value}"
    with pytest.raises(DamagedRun) as caught:
        info.run_config()
    assert caught.value.run == run and caught.value.field == field and run in str(caught.value)


def test_columns_of_the_wrong_type_make_a_damaged_row_that_still_lists_and_recovers(tmp_path):
    path = tmp_path / "runs.sqlite"
    with Store(path) as s:
        run, fine = s.create_run(TINY), s.create_run(TINY)
        s.start_run(run)
        s.append_metrics(run, [{"step": 1}], steps_done=1)
    _sql(path, "UPDATE runs SET steps_done = 'many', created = 'yesterday', total_steps = 9e999, "
         "owner_host = 'elsewhere', heartbeat = 'recently' WHERE id = ?", (run,))
    with Store(path) as s:  # opening recovers runs: a heartbeat that is not a time is no sign of life
        info = s.get_run(run)
        assert info.damaged and info.status == "interrupted"
        for column in ("steps_done", "created", "total_steps", "heartbeat"):
            assert f"its column {column} holds" in info.problem
        assert info.steps_done == 0 and info.created == 0.0 and info.total_steps is None and info.progress is None
        json.dumps(info.to_dict())
        assert sorted(i.id for i in s.list_runs()) == sorted([fine, run])  # both listed, neither raises
        assert s.metrics(run) == [{"step": 1}]
        assert not s.get_run(fine).damaged


def test_metric_rows_that_are_not_records_are_skipped_and_counted_never_raised(store):
    run = store.create_run(TINY)
    store.append_metrics(run, [{"step": s, "loss": 1.0 / s} for s in range(1, 7)])
    for seq, text in ((2, "{not json"), (4, "[1, 2]"), (5, '{"loss": 3}'), (6, '{"step": "six"}')):
        _sql(store, "UPDATE metrics SET record = ? WHERE run_id = ? AND seq = ?", (text, run, seq))
    _sql(store, "UPDATE metrics SET logged = 'noon' WHERE run_id = ? AND seq = 3", (run,))

    rows = store.metrics(run)
    assert [r["step"] for r in rows] == [1, 3] and rows.skipped == 4 and rows.last == 6
    assert [logged is None for _, logged, _ in store.metric_rows(run)] == [False, True]
    view = store.open_run(run)
    assert [r["step"] for r in view.new_metrics()] == [1, 3] and view.skipped == 4
    assert view.new_metrics() == [] and view.skipped == 4  # the damaged tail is not read again
    store.append_metrics(run, [{"step": 7}])
    assert view.new_metrics() == [{"step": 7}]
    _sql(store, "UPDATE metrics SET record = 'x' WHERE run_id = ? AND seq = 7", (run,))
    assert view.final() == {"step": 3, "loss": 1.0 / 3}  # the last record that can be read
    followed = Followed(store, [run])  # what a page's chart reads: the readable records, and the count
    followed.poll()
    assert [r["step"] for r in followed.lists[0]] == [1, 3] and followed.skipped == 5


# Blobs -----------------------------------------------------------------------------------------


def _damage(blob: bytes, how: str) -> bytes | str:
    return {"empty": b"", "truncated": blob[: len(blob) // 2], "tail cut": blob[:-20],
            "garbage": b"\x00garbage\xff" * 8, "text": "not a blob"}[how]


@pytest.mark.parametrize("how", ["empty", "truncated", "tail cut", "garbage", "text"])
def test_a_damaged_checkpoint_snapshot_or_probe_is_a_store_error_naming_the_run_and_the_step(store, how):
    run = store.create_run(TINY)
    model = torch.nn.Linear(4, 3)
    store.save_checkpoint(run, 10, model.state_dict())
    store.save_checkpoint(run, 20, model.state_dict())
    store.add_snapshot(run, Snapshot(1, 20, {"hidden1": torch.ones(5, 8)}))
    store.set_probe(run, {"x": torch.zeros(5, 64), "y": torch.arange(5)})
    for table, column, where in (("checkpoints", "state", "step = 20"), ("snapshots", "layers", "seq = 1"),
                                 ("probes", "tensors", "1")):
        blob = sqlite3.connect(store.path).execute(f"SELECT {column} FROM {table} WHERE run_id = ? AND {where}",
                                                   (run,)).fetchone()[0]
        _sql(store, f"UPDATE {table} SET {column} = ? WHERE run_id = ? AND {where}", (_damage(blob, how), run))

    with pytest.raises(StoreError, match=f"checkpoint of run {run} at step 20 is damaged"):
        store.checkpoint(run)
    with pytest.raises(StoreError, match=f"checkpoint of run {run} at step 20 is damaged"):
        store.open_run(run).checkpoint(20)
    with pytest.raises(StoreError, match=f"snapshot of run {run} at step 20 is damaged"):
        store.snapshots(run)
    with pytest.raises(StoreError, match=f"probe of run {run} is damaged"):
        store.probe(run)
    intact = store.checkpoint(run, 10)  # the other checkpoint is untouched and loads
    assert all(torch.equal(intact[k], v) for k, v in model.state_dict().items())


def test_a_blob_that_unpickles_an_object_is_still_refused_as_such(store):
    run = store.create_run(TINY)
    _sql(store, "INSERT INTO checkpoints VALUES (?, 3, 0, ?)",
         (run, __import__("pickle").dumps({"w": object()}, protocol=2)))
    with pytest.raises(StoreError, match=f"checkpoint of run {run} at step 3: not a plain file of tensors"):
        store.checkpoint(run)


def test_a_store_missing_a_table_is_a_clear_error(tmp_path):
    path = tmp_path / "runs.sqlite"
    Store(path).close()
    _sql(path, "DROP TABLE metrics")
    with pytest.raises(StoreError, match="run store is damaged: its table metrics is missing"):
        Store(path)


def test_a_store_file_damaged_on_disk_is_a_store_error_saying_so(tmp_path):
    path = tmp_path / "runs.sqlite"
    with Store(path) as s:
        for _ in range(20):
            s.append_metrics(s.create_run(TINY), [{"step": i, "pad": "x" * 200} for i in range(1, 20)])
    with sqlite3.connect(path) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file, then cut it in half
    c.close()
    os.truncate(path, os.path.getsize(path) // 2)
    with pytest.raises(StoreError, match=r"the run store .* is damaged \(database disk image is malformed"):
        with Store(path) as s:
            for info in s.list_runs():
                s.metrics(info.id)


def test_paths_that_cannot_hold_a_store_are_store_errors_saying_why(tmp_path, monkeypatch):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path, says in [("/dev/null", "is not a regular file"), (fifo, "is not a regular file"),
                       (tmp_path, "is a folder"), ("runs\0.sqlite", "NUL character"),
                       (tmp_path / ("x" * 300), "not a usable path"), ("~no-such-user-h2/runs.sqlite", "not a usable path")]:
        with pytest.raises(StoreError, match=re.escape(says)):
            Store(path)
    monkeypatch.setenv("EXPLORER_STORE", "~no-such-user-h2/runs.sqlite")
    with pytest.raises(StoreError, match=r"\$EXPLORER_STORE .* is not a usable path"):
        Store()


# A full disk -----------------------------------------------------------------------------------


class SmallDisk(Store):
    """A store whose file may not grow past ``pages`` pages (SQLite's max_page_count, set on every
    connection as it is used): a write that needs a new page fails with SQLite's own
    "database or disk is full", through the store's real write path."""

    pages: int | None = None

    def _conn(self) -> sqlite3.Connection:
        conn = super()._conn()
        if self.pages is not None:
            conn.execute(f"PRAGMA max_page_count = {self.pages}")
        return conn


def _paused(jobs: JobManager, cfg: dict):
    handle = jobs.submit(cfg, paused=True)
    _until(lambda: jobs.store.get_run(handle.id).status == "paused", what="the run to pause before its first step")
    return handle


def _not_stored(error: str) -> int:
    found = re.search(r"\((\d+) records? not stored\)", error)
    return int(found.group(1)) if found else 0


def test_a_full_disk_fails_the_run_with_that_cause_and_keeps_what_was_stored(tmp_path):
    path = tmp_path / "runs.sqlite"
    store = SmallDisk(path)
    with JobManager(store, max_concurrent=1) as jobs:
        handle = _paused(jobs, WIDE)
        store.pages = sqlite3.connect(path).execute("PRAGMA page_count").fetchone()[0]  # not one page more
        handle.resume()
        assert handle.wait(60) == "failed"
    store.pages = None
    info = store.get_run(handle.id)
    assert info.status == "failed" and "is full (database or disk is full" in info.error
    assert info.error == handle.error  # the store holds the whole story the handle has
    stored = store.metrics(handle.id)
    assert len(stored) + _not_stored(info.error) == handle.records  # each record stored or counted lost
    store.close()
    with Store(path) as again:  # reopening does not turn it into "interrupted"
        assert again.get_run(handle.id).status == "failed" and again.get_run(handle.id).error == info.error


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.mark.parametrize("room_at_close", [True, False])
def test_when_even_the_final_status_cannot_be_written_nothing_is_invented(tmp_path, room_at_close):
    path = tmp_path / "runs.sqlite"
    store = Store(path)
    full = [False]
    begin = store._begin_write

    def write(conn):  # every write refused the way SQLite refuses it on a full disk
        if full[0]:
            raise sqlite3.OperationalError("database or disk is full")
        begin(conn)

    store._begin_write = write
    jobs = JobManager(store, max_concurrent=1)
    handle = _paused(jobs, TINY)
    full[0] = True
    handle.step(5)  # it logs records at steps 1 and 4, and none can be written
    assert handle.wait(60) == "failed"
    assert "is full (database or disk is full" in handle.error and "could not record this failure" in handle.error
    assert handle.records >= 1 and _not_stored(handle.error) == handle.records  # each one lost is counted
    assert store.get_run(handle.id).status in ("running", "paused")  # nothing could be written
    full[0] = not room_at_close
    jobs.close()  # tries once more
    info = store.get_run(handle.id)
    store.close()
    if room_at_close:
        assert info.status == "failed" and "is full (database or disk is full" in info.error
        return
    assert info.status in ("running", "paused")
    _sql(path, "UPDATE runs SET owner_pid = ? WHERE id = ?", (_dead_pid(), handle.id))
    with Store(path) as again:  # the next open knows the process ended, not why
        info = again.get_run(handle.id)
        assert info.status == "interrupted" and "recorded no cause" in info.error and "full" not in info.error


# A busy lock -----------------------------------------------------------------------------------

HOLDER = """
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("held", flush=True)
if sys.argv[2] == "stdin":
    sys.stdin.readline()
else:
    time.sleep(float(sys.argv[2]))
c.execute("INSERT OR REPLACE INTO meta VALUES ('released', ?)", (repr(time.time()),))
c.execute("COMMIT")
"""


def _hold(path: Path, until: str) -> subprocess.Popen:
    """Another process that holds the store's write lock (BEGIN IMMEDIATE), for ``until`` seconds or
    until a line on its stdin; returns once it holds it."""
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), until], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_a_write_waits_out_a_lock_held_by_another_process_within_its_timeout(tmp_path):
    path = tmp_path / "runs.sqlite"
    with Store(path, timeout=10) as s:
        run = s.create_run(TINY)
        holder = _hold(path, "2")
        s.append_metrics(run, [{"step": 1}])
        written = time.time()
        assert holder.wait(30) == 0
        released = float(dict(s._conn().execute("SELECT key, value FROM meta"))["released"])
        assert written >= released  # it waited for the holder, then wrote
        assert s.metrics(run) == [{"step": 1}]


def test_a_lock_held_past_the_timeout_is_an_error_naming_the_lock_and_the_wait(tmp_path):
    path = tmp_path / "runs.sqlite"
    with Store(path, timeout=0.5) as s:
        run = s.create_run(TINY)
        holder = _hold(path, "stdin")
        try:
            start = time.monotonic()
            with pytest.raises(StoreError, match=r"locked by another writer \(waited 0.5 s while writing metrics\)"):
                s.append_metrics(run, [{"step": 1}])
            assert 0.5 <= time.monotonic() - start < 10
            assert s.get_run(run).records == 0  # readers go on; nothing of the batch was stored
        finally:
            holder.communicate("go\n", timeout=30)
        s.append_metrics(run, [{"step": 1}])
        assert s.metrics(run) == [{"step": 1}]


def test_the_wait_backs_off_exponentially_with_jitter_up_to_the_timeout(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    pauses = []
    real_sleep = time.sleep
    monkeypatch.setattr(store_module.time, "sleep", lambda s: (pauses.append(s), real_sleep(s)))
    with Store(path, timeout=1.0) as s:
        run = s.create_run(TINY)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            began = time.monotonic()
            with pytest.raises(StoreError, match="locked by another writer"):
                s.append_metrics(run, [{"step": 1}])
            waited = time.monotonic() - began
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert waited >= 1.0 and 5 <= len(pauses) < 40  # it waited out the timeout, in steps
    assert sum(pauses) <= 1.0 + 1e-6                # and never slept past it
    for k, pause in enumerate(pauses[:-1]):  # the last one is cut to the time left
        base = min(0.005 * 2 ** k, 0.5)
        assert 0.5 * base <= pause <= 1.5 * base
    assert len({round(p / min(0.005 * 2 ** k, 0.5), 6) for k, p in enumerate(pauses[:-1])}) > 1  # jittered


def test_a_live_run_outlasts_a_lock_held_by_another_process(tmp_path):
    path = tmp_path / "runs.sqlite"
    with JobManager(path, max_concurrent=1, store_timeout=20) as jobs:
        assert jobs.store.timeout == 20
        handle = _paused(jobs, TINY)
        holder = _hold(path, "2")
        handle.resume()
        assert handle.wait(60) == "done"
        assert holder.wait(30) == 0
        info = jobs.store.get_run(handle.id)
        assert info.status == "done" and info.steps_done == info.total_steps
        assert len(jobs.store.metrics(handle.id)) == handle.records
    with pytest.raises(ValueError, match="store_timeout"):
        JobManager(jobs.store, store_timeout=3)


def test_the_default_wait_is_thirty_seconds():
    assert store_module.WAIT == 30.0
    import inspect
    assert inspect.signature(Store).parameters["timeout"].default == store_module.WAIT
