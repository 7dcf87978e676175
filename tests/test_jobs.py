"""Background runs: the cap and the queue, controls, divergence, failures, flushing, attaching, a kill."""

from __future__ import annotations

import math
import threading
import time

import pytest
import torch

from explorer.engine.build import build
from explorer.config import ConfigError
from explorer.runs.export import runs_table
from explorer.runs.jobs import JobManager
from explorer.runs.store import Store
from tests.job_checks import concurrent_runs, diverging_queue, killed_run
from explorer.engine.trainer import evaluate

from conftest import small_config

TINY = small_config(model={"name": "mlp", "hidden": [8]}, train={"epochs": 1})
LONG = small_config(model={"name": "mlp", "hidden": [8]}, train={"epochs": 300})  # stopped long before its end


def wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_twenty_runs_from_five_threads_with_a_cap_of_two_all_finish_with_their_own_records(tmp_path):
    r = concurrent_runs(tmp_path / "runs.sqlite", runs=20, threads=5, cap=2)
    assert r["failures"] == [] and r["ok"]
    assert r["done"] == 20 and r["mismatched"] == 0 and r["peak_concurrent"] == 2
    assert r["records"] == r["records_logged"] == 20 * 7  # digits, one epoch: steps 1, 4, 8, …, 20, 22
    assert r["longest_queue_position"] >= 10  # most runs waited in the queue


def test_a_run_whose_loss_goes_nan_is_diverged_and_the_queue_goes_on(tmp_path):
    r = diverging_queue(tmp_path / "runs.sqlite")
    assert r["failures"] == [] and r["statuses"] == ["diverged", "done"]
    assert r["diverged_at"] is not None and r["records_kept"] == r["diverged_at"] - 1  # log_every 1


def test_a_training_process_killed_mid_run_leaves_an_interrupted_run_with_its_records(tmp_path):
    r = killed_run(tmp_path / "runs.sqlite")
    assert r["failures"] == [] and r["status"] == "interrupted"
    assert r["records"] >= 20 and r["last_step"] == r["records"]
    assert r["newest_record_s_before_kill"] <= 1.0 and r["last_write_s_before_kill"] <= 1.0
    assert "ended while the run was running" in r["error"]


def test_queued_runs_know_their_position_and_a_stopped_one_never_starts(tmp_path):
    with JobManager(tmp_path / "runs.sqlite", max_concurrent=1) as jobs:
        first = jobs.submit(LONG)
        wait_until(lambda: first.steps_done > 0)
        second, third = jobs.submit(TINY), jobs.submit(TINY)
        assert (first.position, second.position, third.position) == (None, 1, 2)
        assert jobs.queued() == [second.id, third.id] and jobs.active() == [first.id]
        second.stop()
        assert second.wait(5) == "cancelled" and third.position == 1
        assert jobs.store.get_run(second.id).status == "cancelled" and jobs.store.metrics(second.id) == []
        first.stop()
        assert first.wait(60) == "cancelled" and third.wait(60) == "done"


def test_a_group_submitted_paused_takes_no_step_until_told(tmp_path):
    with JobManager(tmp_path / "runs.sqlite", max_concurrent=2) as jobs:
        runs = jobs.submit_group([LONG, LONG | {"algorithm": {"name": "dfa"}}], paused=True)
        wait_until(lambda: all(r.status == "paused" for r in runs))
        time.sleep(0.3)
        assert [r.steps_done for r in runs] == [0, 0]  # held before the first step, not soon after
        for r in runs:
            r.step(1)
        wait_until(lambda: all(r.steps_done == 1 for r in runs))
        time.sleep(0.2)
        assert [r.steps_done for r in runs] == [1, 1] and {r.status for r in runs} == {"paused"}
        for r in runs:
            r.stop()
        assert [r.wait(60) for r in runs] == ["cancelled", "cancelled"]


def test_pause_single_step_resume_and_stop_act_before_the_next_step(tmp_path):
    with JobManager(tmp_path / "runs.sqlite", max_concurrent=1) as jobs:
        run = jobs.submit(LONG)
        view = jobs.store.open_run(run.id)
        wait_until(lambda: run.steps_done >= 10)
        asked_at = run.steps_done
        run.pause()
        wait_until(lambda: view.status == "paused")
        held = run.steps_done
        assert held <= asked_at + 1  # at most the step under way when asked
        time.sleep(0.3)
        assert run.steps_done == held and run.status == "paused" and view.info.steps_done == held
        run.step(3)
        wait_until(lambda: run.steps_done == held + 3)
        time.sleep(0.2)
        assert run.steps_done == held + 3 and view.status == "paused"
        run.resume()
        wait_until(lambda: run.steps_done > held + 10 and view.status == "running")
        run.stop()
        assert run.wait(60) == "cancelled"
        info = view.info
        assert info.status == "cancelled" and 0 < info.steps_done < info.total_steps
        assert len(view.metrics()) == run.records == info.records > 0
        assert jobs.store.checkpoint_steps(run.id) == [info.steps_done]
        with pytest.raises(ValueError, match="n must be"):
            run.step(0)


def test_time_held_paused_is_left_out_of_the_records_time(tmp_path):
    # a page's samples/s is a record's samples over its time: a pause must not read as a slow run
    with JobManager(tmp_path / "runs.sqlite", max_concurrent=1) as jobs:
        began = time.perf_counter()
        run = jobs.submit(TINY, paused=True)
        wait_until(lambda: run.status == "paused")
        time.sleep(3.0)
        run.resume()
        assert run.wait(120) == "done"
        wall = time.perf_counter() - began
        last = jobs.store.open_run(run.id).final()
    assert 0 < last["time"] <= wall - 2.5, (last["time"], wall)


def test_a_queued_run_that_was_paused_starts_paused(tmp_path):
    with JobManager(tmp_path / "runs.sqlite", max_concurrent=1) as jobs:
        run = jobs.submit(TINY)
        run.pause()
        view = jobs.store.open_run(run.id)
        wait_until(lambda: view.status == "paused")
        assert run.steps_done == 0
        run.resume()
        assert run.wait(60) == "done"


def test_an_exception_inside_a_run_makes_it_failed_with_the_error_and_the_queue_goes_on(tmp_path):
    def boom(record):
        if record["step"] >= 12:
            raise RuntimeError(f"boom at step {record['step']}")

    bad_layer = small_config(model={"name": "mlp", "hidden": [8]},
                             train={"epochs": 1, "snapshots": [0], "snapshot_layers": ["nope"]})
    with JobManager(tmp_path / "runs.sqlite", max_concurrent=1) as jobs:
        crashing = jobs.submit(TINY, on_metrics=boom)
        unbuildable = jobs.submit(bad_layer)
        fine = jobs.submit(TINY)
        assert [crashing.wait(60), unbuildable.wait(60), fine.wait(60)] == ["failed", "failed", "done"]
        info = jobs.store.get_run(crashing.id)
        assert info.error == "RuntimeError: boom at step 12" and isinstance(crashing.exception, RuntimeError)
        assert [r["step"] for r in jobs.store.metrics(crashing.id)] == [1, 4, 8, 12]  # what it logged stays
        assert "train.snapshot_layers: 'nope' is not a hidden layer" in jobs.store.get_run(unbuildable.id).error
        assert isinstance(unbuildable.exception, ConfigError)
        assert jobs.store.checkpoint_steps(crashing.id) == []


def test_records_reach_the_store_within_the_flush_interval_and_never_more_than_ten_times_a_second(tmp_path):
    cfg = LONG | {"train": {"epochs": 300, "log_every": 1}}
    with JobManager(tmp_path / "runs.sqlite", max_concurrent=1, flush_interval=0.1) as jobs:
        writes: list[tuple[float, list[float]]] = []
        append = jobs.store.append_metrics

        def spy(run_id, records, *, logged=None, steps_done=None):
            append(run_id, records, logged=logged, steps_done=steps_done)
            writes.append((time.time(), list(logged)))

        jobs.store.append_metrics = spy
        run = jobs.submit(cfg)
        wait_until(lambda: len(writes) >= 8 and run.records >= 20)
        run.stop()
        assert run.wait(60) == "cancelled"
    delays = [written - t for written, logged in writes for t in logged]
    assert len(delays) == run.records and max(delays) < 1.0
    gaps = [b[0] - a[0] for a, b in zip(writes, writes[1:-1])]  # the last write (the run's end) is forced
    assert gaps and min(gaps) >= 0.099


def test_a_reader_attached_by_id_follows_a_run_live_from_another_thread(tmp_path):
    cfg = LONG | {"train": {"epochs": 300, "log_every": 1}}
    path = tmp_path / "runs.sqlite"
    seen, live = [], []
    with JobManager(path, max_concurrent=1) as jobs:
        run = jobs.submit(cfg)

        def follow():
            with Store(path) as other:  # its own store object, as another tab or process would have
                view = other.open_run(run.id)
                while True:
                    # records first: the status read after them is at least as new (a record and its
                    # progress are written together), so a record seen never pairs with progress 0
                    seen.extend(view.new_metrics())
                    info = view.info
                    if info.status == "running" and seen:
                        live.append(info.progress)
                    if info.status in ("done", "failed", "diverged", "cancelled"):
                        seen.extend(view.new_metrics())
                        return
                    time.sleep(0.05)

        reader = threading.Thread(target=follow)
        reader.start()
        wait_until(lambda: len(set(live)) >= 2)  # it sees records, and progress, while the run trains
        run.stop()
        reader.join(60)
        assert run.wait(1) == "cancelled" and not reader.is_alive()
        stored = [r["step"] for r in jobs.store.metrics(run.id)]
    assert [r["step"] for r in seen] == stored == list(range(1, len(stored) + 1))
    assert 0 < live[0] < live[-1] < 1  # progress grew while it watched


def test_a_run_can_store_its_weights_more_often_than_the_managers_default(tmp_path):
    cfg = small_config(model={"name": "mlp", "hidden": [8]}, train={"epochs": 3})
    with JobManager(tmp_path / "runs.sqlite") as jobs:
        often, plain = jobs.submit(cfg, checkpoint_every=1), jobs.submit(cfg)
        every_other = jobs.submit_group([cfg], checkpoint_every=2)[0]
        assert [r.wait(60) for r in (often, plain, every_other)] == ["done"] * 3
        assert jobs.store.checkpoint_steps(often.id) == [22, 44, 66]
        assert jobs.store.checkpoint_steps(plain.id) == [66]          # at the end only
        assert jobs.store.checkpoint_steps(every_other.id) == [44, 66]
        with pytest.raises(ValueError, match="checkpoint_every"):
            jobs.submit(cfg, checkpoint_every=0)


def test_a_finished_run_stores_weights_feedback_and_snapshots_that_restore_it(tmp_path):
    cfg = small_config(model={"name": "mlp", "hidden": [8]}, algorithm={"name": "dfa"},
                       train={"epochs": 2, "snapshots": [0, 2], "snapshot_samples": 50})
    with JobManager(tmp_path / "runs.sqlite", checkpoint_every=1) as jobs:
        run = jobs.submit(cfg)
        assert run.wait(60) == "done"
        store = jobs.store
        assert store.checkpoint_steps(run.id) == [22, 44]
        state = store.checkpoint(run.id)
        assert "layers.0.feedback" in state
        restored = build(cfg)
        restored.model.load_state_dict(state)
        loss, acc = evaluate(restored, restored.data.x_test, restored.data.y_test)
        final = store.open_run(run.id).final()
        assert math.isclose(loss, final["test_loss"], rel_tol=1e-6) and acc == final["test_acc"]
        snaps = store.snapshots(run.id)
        assert [(s.epoch, s.step) for s in snaps] == [(0, 0), (2, 44)]
        assert snaps[1].layers["layers.0"].shape == (50, 8) and store.probe(run.id)["y"].shape == (50,)
        assert not torch.equal(snaps[0].layers["layers.0"], snaps[1].layers["layers.0"])


def test_a_group_shares_its_seed_and_exports_as_one_table(tmp_path):
    with JobManager(tmp_path / "runs.sqlite") as jobs:
        with pytest.raises(ConfigError, match="seed: runs of a group share one seed"):
            jobs.submit_group([TINY, TINY | {"seed": 1}])
        with pytest.raises(ConfigError, match=r"configs\[1\]: optimizer.lr"):
            jobs.submit_group([TINY, TINY | {"optimizer": {"name": "sgd", "lr": 0}}])
        assert jobs.store.list_runs() == []
        every_step = TINY | {"model": {"name": "mlp", "hidden": [8, 8]}, "train": {"epochs": 1, "log_every": 1},
                             "seed": 3}  # two hidden layers: FA and DFA differ
        runs = jobs.submit_group([every_step | {"algorithm": {"name": rule}} for rule in ("bp", "fa", "dfa")],
                                 label="cmp")
        assert [r.wait(60) for r in runs] == ["done"] * 3 and len({r.group for r in runs}) == 1
        assert jobs.store.get_group(runs[0].group).seed == 3
        table = runs_table(jobs.store, [r.id for r in runs])
    assert list(table["rule"].unique()) == ["bp", "fa", "dfa"] and len(table) == 3 * 22
    first, last = table[table["step"] == 1], table[table["step"] == 22]
    assert first["layers.0.update_cos"].iloc[0] > 0.999  # bp against itself
    assert first["train_loss"].nunique() == 1  # same seed: same weights, same first batch, whatever the rule
    assert last["train_loss"].nunique() == 3  # then the rules part ways


def test_close_with_cancel_stops_running_and_queued_runs(tmp_path):
    jobs = JobManager(tmp_path / "runs.sqlite", max_concurrent=1)
    running, waiting = jobs.submit(LONG), jobs.submit(LONG)
    wait_until(lambda: running.steps_done > 0)
    jobs.close(cancel=True)
    assert (running.status, waiting.status) == ("cancelled", "cancelled")
    with Store(tmp_path / "runs.sqlite") as store:
        assert [r.status for r in store.list_runs()] == ["cancelled", "cancelled"]
    with pytest.raises(RuntimeError, match="closed"):
        jobs.submit(TINY)


@pytest.mark.parametrize("threads", [1, 2])
def test_each_run_trains_with_its_share_of_threads_and_the_callers_threads_keep_theirs(tmp_path, threads):
    before = torch.get_num_threads()
    with JobManager(tmp_path / "runs.sqlite", max_concurrent=1, threads_per_run=threads) as jobs:
        handle = jobs.submit(TINY)
        assert handle.wait(timeout=60) == "done"
        name = jobs.store.list_runs()[0].device_name
    # the worker read its own count from torch while it trained, and the store says it to the user
    assert name == f"CPU ({threads} thread{'s' if threads > 1 else ''})"
    assert torch.get_num_threads() == before
    fresh = []
    later = threading.Thread(target=lambda: fresh.append(torch.get_num_threads()))
    later.start(); later.join()
    assert fresh == [before]  # threads that start later keep the process's default


def test_runs_sharing_the_cores_default_to_one_thread_each(tmp_path):
    import os

    cores = len(os.sched_getaffinity(0))
    with JobManager(tmp_path / "runs.sqlite", max_concurrent=2 * cores) as jobs:
        assert jobs.submit(TINY).wait(timeout=60) == "done"
        assert jobs.store.list_runs()[0].device_name == "CPU (1 thread)"


def test_bad_arguments_are_refused_by_name(tmp_path):
    path = tmp_path / "runs.sqlite"
    for kwargs, name in (({"max_concurrent": 0}, "max_concurrent"), ({"flush_interval": 0.05}, "flush_interval"),
                         ({"flush_interval": 2}, "flush_interval"), ({"checkpoint_every": 0}, "checkpoint_every"),
                         ({"threads_per_run": 0}, "threads_per_run"), ({"threads_per_run": 1.5}, "threads_per_run")):
        with pytest.raises(ValueError, match=name):
            JobManager(path, **kwargs)
    with JobManager(path) as jobs:
        with pytest.raises(ConfigError, match="model.hidden"):
            jobs.submit(small_config(model={"name": "mlp", "hidden": [0]}))
        assert jobs.store.list_runs() == []
        with pytest.raises(KeyError, match="not submitted to this job manager"):
            jobs.handle("0123456789abcdef")


def test_a_run_leaves_the_active_list_before_its_final_status_is_stored(tmp_path, monkeypatch):
    """Whoever reads a final status in the store and then counts the active runs (the app's sidebar)
    must not count that run: done or failed."""
    from explorer.engine import trainer

    with JobManager(tmp_path / "runs.sqlite", max_concurrent=1) as jobs:
        seen, real_finish = [], jobs.store.finish_run

        def finish(run_id, status, **kw):
            seen.append((status, run_id in jobs.active()))
            real_finish(run_id, status, **kw)

        monkeypatch.setattr(jobs.store, "finish_run", finish)
        assert jobs.submit(small_config()).wait(timeout=120) == "done"
        def failing(config, **kw):
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 40000000000 bytes")

        monkeypatch.setattr(trainer, "Trainer", failing)
        assert jobs.submit(small_config()).wait(timeout=120) == "failed"
    assert seen == [("done", False), ("failed", False)]


def test_a_script_that_ends_while_a_run_trains_exits_cleanly_with_the_run_cancelled(tmp_path):
    """No `close`: the interpreter's exit stops the run and joins its thread, rather than killing
    the thread inside a torch kernel (which aborts the process with status 134)."""
    import subprocess
    import sys

    script = tmp_path / "leave.py"
    script.write_text(
        "import sys, time\n"
        "from explorer.runs.jobs import JobManager\n"
        "jobs = JobManager(sys.argv[1], max_concurrent=1)\n"
        "run = jobs.submit({'model': {'hidden': [256, 256]}, 'train': {'epochs': 500}, 'device': 'cpu'})\n"
        "deadline = time.monotonic() + 120\n"
        "while run.steps_done < 3 and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        "print(run.id)\n", encoding="utf-8")
    path = tmp_path / "runs.sqlite"
    done = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "terminate called" not in done.stderr
    info = Store(path).get_run(done.stdout.strip())
    assert info.status == "cancelled" and 3 <= info.steps_done < info.total_steps
