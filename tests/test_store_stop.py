"""Stop requests through the store: schema 1 -> 2, `Store.request_stop` / `stop_requests`, the job
manager obeying them from any process, and the Runs page's Stop button (AppTest)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time

import pytest

from conftest import small_config
from explorer.runs import store as store_module
from explorer.runs.jobs import JobManager
from explorer.runs.store import InvalidId, Store, StoreError, UnknownRun, process_token

TINY = small_config(model={"name": "mlp", "hidden": [8]}, train={"epochs": 1})


def _v1_store(path) -> tuple[str, str]:
    """A store as version 1 wrote it (the first migration only), with a finished run that logged two
    records and a running one owned by this process; their ids."""
    done, going = "0123456789abcdef", "fedcba9876543210"
    now = time.time()
    with sqlite3.connect(path) as c:
        store_module.MIGRATIONS[0](c)
        c.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        for run, status in ((done, "done"), (going, "running")):
            c.execute("INSERT INTO runs (id, config, status, created, updated, version, steps_done, records, "
                      "owner_host, owner_pid, owner_token, heartbeat) VALUES (?, ?, ?, ?, ?, '0.1', 8, 2, ?, ?, ?, ?)",
                      (run, json.dumps(TINY), status, now, now, socket.gethostname(), os.getpid(),
                       process_token(), now))
        c.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)",
                      [(done, i + 1, 4 * (i + 1), now, json.dumps({"step": 4 * (i + 1)})) for i in range(2)])
    return done, going


def test_a_version_1_store_migrates_with_its_runs_intact(tmp_path):
    path = tmp_path / "runs.sqlite"
    done, going = _v1_store(path)
    with Store(path) as store:
        assert store_module.schema_version() == 2
        with sqlite3.connect(path) as c:
            assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
            assert "stop_requested" in [r[1] for r in c.execute("PRAGMA table_info(runs)")]
        infos = {i.id: i for i in store.list_runs()}
        assert set(infos) == {done, going}
        assert (infos[done].status, infos[done].steps_done, infos[done].config["seed"]) == ("done", 8, 0)
        assert infos[going].status == "running"                   # its owner (this process) lives
        assert all(i.stop_requested is None and not i.damaged for i in infos.values())
        assert store.metrics(done) == [{"step": 4}, {"step": 8}]
        assert store.request_stop(going) and store.stop_requests([done, going]) == {going}
    with Store(path) as again:                                    # opened again: nothing left to migrate
        assert again.get_run(going).stop_requested is not None


def test_a_request_is_kept_for_an_active_run_and_refused_for_an_ended_one(tmp_path):
    with Store(tmp_path / "runs.sqlite") as store:
        queued, running, paused, ended = (store.create_run(TINY) for _ in range(4))
        store.start_run(running)
        store.set_status(paused, "paused")
        store.finish_run(ended, "done")
        before = time.time()
        assert [store.request_stop(r) for r in (queued, running, paused)] == [True, True, True]
        first = store.get_run(running).stop_requested
        assert before <= first <= time.time()
        assert store.get_run(running).to_dict()["stop_requested"] is not None
        assert store.request_stop(running) and store.get_run(running).stop_requested == first   # kept
        assert store.request_stop(ended) is False                  # ended: nothing written
        assert store.get_run(ended).stop_requested is None
        assert store.stop_requests([queued, running, paused, ended, ended]) == {queued, running, paused}
        assert store.stop_requests([]) == set()
        with pytest.raises(UnknownRun):
            store.request_stop("00000000000000aa")
        with pytest.raises(InvalidId):
            store.request_stop("1; DROP TABLE runs")
        with pytest.raises(InvalidId):
            store.stop_requests([queued, "nope"])
        with pytest.raises(ValueError):
            store.stop_requests(queued)                            # one id, not a list of them
        many = [store_module.new_id() for _ in range(40000)] + [paused]   # past SQLite's parameter limit
        assert store.stop_requests(many) == {paused}


def test_the_job_manager_stops_runs_asked_from_another_store(tmp_path):
    path = tmp_path / "runs.sqlite"
    with JobManager(path, max_concurrent=1, flush_interval=0.1) as jobs:
        first = jobs.submit(TINY, paused=True)              # held before each step: nothing races the clock
        waiting = jobs.submit(TINY)                         # queued behind it
        first.step(2)
        deadline = time.monotonic() + 60
        while not (first.steps_done == 2 and first.status == "paused" and first._steps == 0):
            assert time.monotonic() < deadline, first
            time.sleep(0.02)
        other = Store(path)                                 # as the Runs page in another process would
        try:
            # the queued run first (as JobManager.close does): asked second, a flusher look between the
            # two writes would stop the first run and start the queued one
            assert other.request_stop(waiting.id) and other.request_stop(first.id)
            assert first.wait(timeout=60) == "cancelled"
            assert waiting.wait(timeout=60) == "cancelled"
            stopped, never = other.get_run(first.id), other.get_run(waiting.id)
            assert (stopped.status, stopped.steps_done) == ("cancelled", 2)
            assert (never.status, never.steps_done, never.started) == ("cancelled", 0, None)
            assert other.checkpoint_steps(first.id) == [2]   # its weights kept, as a stop from the handle keeps them
            assert other.request_stop(first.id) is False
        finally:
            other.close()
        assert jobs.queued() == [] and jobs.active() == []


def test_an_unreadable_store_does_not_stop_the_flusher(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    with JobManager(path, max_concurrent=1, flush_interval=0.1) as jobs:
        calls = []

        def locked(run_ids):
            calls.append(list(run_ids))
            raise StoreError("the run store is locked by another writer")

        with monkeypatch.context() as mp:
            mp.setattr(jobs.store, "stop_requests", locked)
            handle = jobs.submit(TINY, paused=True)
            deadline = time.monotonic() + 30
            while len(calls) < 2:                           # asked again after a failed look
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert handle.status in ("queued", "running", "paused") and not handle.finished
        with Store(path) as other:
            other.request_stop(handle.id)
        assert handle.wait(timeout=60) == "cancelled"


# The Runs page -------------------------------------------------------------------------------


def _page():
    from streamlit.testing.v1 import AppTest

    from apptest_tools import APP

    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/runs.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _select(at, ids):
    table = at.dataframe[0].value
    rows = [int(table.index[table["id"] == i][0]) for i in ids]
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture()
def page_store(tmp_path, monkeypatch):
    """The store the page opens ($EXPLORER_STORE), with a running run (owned by this test, as if a
    `train` command trained it) and a finished one."""
    path = tmp_path / "runs.sqlite"
    monkeypatch.setenv("EXPLORER_STORE", str(path))
    store = Store(path)
    running, ended = store.create_run(TINY), store.create_run(small_config(seed=1))
    store.start_run(running)
    store.finish_run(ended, "done")
    yield store, running, ended
    store.finish_run(running, "cancelled")
    store.close()


def test_the_stop_button_writes_a_request_for_the_selected_active_runs(page_store):
    from apptest_tools import button, text

    store, running, ended = page_store
    at = _select(_page(), [running, ended])
    assert not button(at, "Stop").disabled
    button(at, "Stop").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Stop asked for 1 run(s); the process that trains them stops them within a few seconds." in text(at)
    assert store.stop_requests([running, ended]) == {running}
    assert store.get_run(running).status == "running"           # its process stops it, not the page

    at = _select(_page(), [ended])
    assert button(at, "Stop").disabled                           # nothing to stop


def test_a_store_error_on_stop_is_said_not_raised(page_store, monkeypatch):
    from apptest_tools import button, text

    store, running, _ = page_store

    def locked(self, run_id):
        raise StoreError(f"the run store {self.path} is locked by another writer (waited 30 s)")

    with monkeypatch.context() as mp:
        mp.setattr(Store, "request_stop", locked)
        at = _select(_page(), [running])
        button(at, "Stop").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert [e.value for e in at.error] and "locked by another writer" in at.error[0].value
        assert "Stop asked" not in text(at)
    assert store.stop_requests([running]) == set()
