"""The Ray backend on a local Ray instance (2 CPUs): the same records as the local backend, a
worker killed mid-task retried with nothing lost or duplicated, cancel, stop requests from the
store, failures named, no more tasks at once than CPUs, reproduce, the command line. (Ray started
and shut down by the backend itself, and a wrong address: `test_cluster_start.py`.)

Nothing races the clock: a worker is killed, or a sweep stopped, while it waits for the driver to
store its checkpoint (`cluster.RelaySink.checkpoint`), which the driver does only after the test's
hook (a `Recorder` subclass) has acted.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import threading

import pytest
import torch

ray = pytest.importorskip("ray")

from explorer.cli import main  # noqa: E402
from explorer.runs.cluster import RayOptions, Task, run_tasks  # noqa: E402
from explorer.runs.recorder import Recorder  # noqa: E402
from explorer.runs.store import Store  # noqa: E402
from explorer.runs.sweep import sweep  # noqa: E402
from explorer.runs.tasks import Checkpoint, Records  # noqa: E402

BASE = {"model": {"hidden": [16]}, "train": {"epochs": 3, "batch_size": 64}, "device": "cpu"}
GRID = {"algorithm.name": ["bp", "dfa", "brsf"]}   # brsf's seeds cannot be stacked: a task each
IGNORED = {"time"}  # wall time: the one field that differs between two runs of one config


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module (starting one takes seconds); shut down after."""
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    assert not ray.is_initialized()


@pytest.fixture()
def one_thread():
    """torch on one thread, as each Ray task of one CPU is (sums over threads can round apart)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def stored(store: Store) -> dict:
    """(grid config without the seed's group, seed) -> (status, records without wall times, final weights)."""
    out = {}
    for info in store.list_runs():
        cfg = info.run_config()
        records = [{k: v for k, v in r.items() if k not in IGNORED} for r in store.metrics(info.id)]
        out[(cfg.algorithm.name, cfg.seed)] = (info.status, records, store.checkpoint(info.id))
    return out


def assert_same_runs(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        (status_a, records_a, weights_a), (status_b, records_b, weights_b) = a[key], b[key]
        assert status_a == status_b == "done", key
        assert records_a == records_b, f"{key}: the records differ"
        assert [r["step"] for r in records_b] == sorted({r["step"] for r in records_b}), f"{key}: steps repeated"
        assert sorted(weights_a) == sorted(weights_b)
        assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a), f"{key}: the final weights differ"


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    """The reference: the sweep on the local backend, torch on one thread, into its own store."""
    path = tmp_path_factory.mktemp("local") / "runs.sqlite"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = sweep(BASE, GRID, seeds=2, progress=False, store=path)
    finally:
        torch.set_num_threads(before)
    with Store(path) as store:
        return result, stored(store)


def test_a_sweep_on_ray_gives_the_local_backends_records_run_for_run(local_ray, local_sweep, tmp_path):
    path = tmp_path / "runs.sqlite"
    told = []
    result = sweep(BASE, GRID, seeds=2, progress=told.append, backend="ray", store=path)
    local_result, local_runs = local_sweep
    with Store(path) as store:
        runs = stored(store)
        infos = store.list_runs()
    assert len(runs) == 6
    assert_same_runs(local_runs, runs)
    assert result.table.equals(local_result.table)
    assert sorted(told) == [3.0] * 6  # each run's epochs, as it finished
    assert {i.steps_done for i in infos} == {i.total_steps for i in infos}
    assert len({i.group for i in infos}) == 2  # a group per seed


class KillOnCheckpoint(Recorder):
    """Kills the worker of ``run`` (SIGKILL) once its task's checkpoint after ``epoch`` epochs is
    stored (the worker is waiting for that, or a few steps past it); once only."""

    def __init__(self, store, run_of_task, epoch: int) -> None:
        super().__init__(store)
        self.run_of_task, self.epoch, self.killed = run_of_task, epoch, None

    def handle(self, message) -> None:
        super().handle(message)  # stored, and the worker told it may go on: a retry resumes from here
        if isinstance(message, Checkpoint) and self.killed is None and message.task in self.run_of_task:
            run = self.run_of_task[message.task]
            if message.step == self.epoch * self.total_steps[run] // 3:
                self.killed = int(self.workers[run].rsplit(":", 1)[1])
                os.kill(self.killed, signal.SIGKILL)


def planned(store: Store, seeds=(0,), rule: str = "dfa") -> tuple[list[Task], dict]:
    tasks, run_of_task = [], {}
    for seed in seeds:
        cfg = {**BASE, "algorithm": {"name": rule}, "seed": seed}
        run = store.create_run(cfg)
        tasks.append(Task(f"t{seed}", [(run, cfg)]))
        run_of_task[f"t{seed}"] = run
    return tasks, run_of_task


def reference(cfg: dict) -> tuple[list[dict], dict]:
    """The records (without wall times) and final weights of ``cfg`` trained here, start to end."""
    from explorer.runs.recorder import RecorderSink
    from explorer.runs.store import tensors_from_bytes
    from explorer.runs.tasks import ListSink, train_task

    recorder, weights = Recorder(None), ListSink()
    recorder.add_run("r")
    sink = RecorderSink(recorder)
    sink.checkpoint = weights.send  # keep the checkpoints' weights aside
    train_task([("r", cfg)], sink, checkpoint_every=None)
    final = tensors_from_bytes(weights.messages[-1].weights["r"])
    records = json.loads(json.dumps(recorder.records["r"]))  # as the store gives them back (its NaN compares equal)
    return [{k: v for k, v in r.items() if k not in IGNORED} for r in records], final


def test_a_worker_killed_mid_task_is_retried_and_the_run_ends_whole(local_ray, tmp_path, one_thread):
    with Store(tmp_path / "runs.sqlite") as store:
        tasks, run_of_task = planned(store)
        recorder = KillOnCheckpoint(store, run_of_task, epoch=1)
        for run in run_of_task.values():
            recorder.add_run(run)
        assert run_tasks(tasks, recorder, RayOptions(max_retries=2, checkpoint_seconds=0)) is True
        run = run_of_task["t0"]
        assert recorder.killed is not None and recorder.starts[run] == 2  # killed, then started again
        assert recorder.resumed[run] == recorder.total_steps[run] // 3  # from the checkpoint after epoch 1
        assert store.get_run(run).status == "done"
        records = [{k: v for k, v in r.items() if k not in IGNORED} for r in store.metrics(run)]
        expected, weights = reference(tasks[0].runs[0][1])
        assert records == expected  # nothing lost, nothing twice, the same numbers as a run never killed
        final = store.checkpoint(run)
        assert all(torch.equal(final[k], weights[k]) for k in weights)
        assert not [i for i in store.list_runs() if i.active]


def test_a_task_whose_retries_run_out_fails_with_why(local_ray, tmp_path):
    with Store(tmp_path / "runs.sqlite") as store:
        tasks, run_of_task = planned(store)
        recorder = KillOnCheckpoint(store, run_of_task, epoch=1)
        for run in run_of_task.values():
            recorder.add_run(run)
        run_tasks(tasks, recorder, RayOptions(max_retries=0, checkpoint_seconds=0))
        info = store.get_run(run_of_task["t0"])
        assert info.status == "failed"
        assert "worker was lost" in info.error
        assert info.records > 0  # what it logged before it was lost stays


class StopOnCheckpoint(Recorder):
    """Sets ``stop`` (or asks the store to stop the run) at the first checkpoint after epoch 1, and
    holds that checkpoint back, so that its worker waits there until the driver cancels it."""

    def __init__(self, store, stop: threading.Event | None = None) -> None:
        super().__init__(store)
        self.stop, self.asked = stop, None

    def handle(self, message) -> None:
        if isinstance(message, Checkpoint) and self.asked is None and message.step > 0 and message.weights:
            run = next(iter(message.weights))
            if self.total_steps.get(run) and message.step < self.total_steps[run]:
                self.asked = run
                if self.stop is not None:
                    self.stop.set()
                else:
                    assert self.store.request_stop(run)
                return  # not stored: its worker waits for it until the driver cancels the task
        super().handle(message)


def test_stop_cancels_every_task_and_marks_the_runs_cancelled(local_ray, tmp_path):
    stop = threading.Event()
    with Store(tmp_path / "runs.sqlite") as store:
        tasks, run_of_task = planned(store, seeds=range(5))
        recorder = StopOnCheckpoint(store, stop)
        for run in run_of_task.values():
            recorder.add_run(run)
        assert run_tasks(tasks, recorder, RayOptions(checkpoint_seconds=0), stop=stop) is False
        infos = {i.id: i for i in store.list_runs()}
        assert {i.status for i in infos.values()} == {"cancelled"}
        asked = infos[recorder.asked]
        assert asked.records > 0 and asked.steps_done < asked.total_steps  # stopped mid-run, its records kept


def test_a_stop_asked_in_the_store_cancels_that_runs_task_only(local_ray, tmp_path):
    with Store(tmp_path / "runs.sqlite") as store:
        tasks, run_of_task = planned(store, seeds=(0, 1))
        recorder = StopOnCheckpoint(store)
        for run in run_of_task.values():
            recorder.add_run(run)
        assert run_tasks(tasks, recorder, RayOptions(checkpoint_seconds=0)) is False
        statuses = {run: store.get_run(run).status for run in run_of_task.values()}
        assert statuses[recorder.asked] == "cancelled"
        assert [s for run, s in statuses.items() if run != recorder.asked] == ["done"]


def test_a_task_that_raises_fails_its_runs_with_the_error(local_ray, tmp_path):
    with Store(tmp_path / "runs.sqlite") as store:
        cfg = {**BASE, "train": {"epochs": 1, "batch_size": 5000}}  # more than the digits' training samples
        run = store.create_run(cfg)
        recorder = Recorder(store)
        recorder.add_run(run)
        run_tasks([Task("t", [(run, cfg)])], recorder, RayOptions())
        info = store.get_run(run)
        assert info.status == "failed"
        assert "train.batch_size must be at most" in info.error


def test_the_sweep_command_on_ray_fills_the_store(local_ray, tmp_path, capsys):
    config, grid, path = tmp_path / "base.json", tmp_path / "grid.json", tmp_path / "runs.sqlite"
    config.write_text('{"model": {"hidden": [8]}, "train": {"epochs": 1, "batch_size": 128}, "device": "cpu"}')
    grid.write_text('{"algorithm.name": ["bp", "dfa"]}')
    code = main(["sweep", "--config", str(config), "--grid", str(grid), "--seeds", "2", "--backend", "ray",
                 "--store", str(path), "--out", str(tmp_path / "sweep.csv")])
    assert code == 0
    assert main(["runs", "list", "--store", str(path)]) == 0
    listed = capsys.readouterr()
    assert listed.out.count("done") == 4 and f"runs stored in {path}" in listed.err
    assert (tmp_path / "sweep.csv").read_text().count("\n") > 4


def test_a_ray_flag_without_the_ray_backend_is_refused(tmp_path, capsys):
    code = main(["sweep", "--config", "x.json", "--grid", "y.json", "--ray-address", "auto",
                 "--store", str(tmp_path / "runs.sqlite")])
    assert code == 2
    assert "--ray-address goes with --backend ray" in capsys.readouterr().err
    assert main(["reproduce", "--ray-gpus", "0.5", "--store", str(tmp_path / "runs.sqlite")]) == 2
    assert "--ray-gpus goes with --backend ray" in capsys.readouterr().err
    assert main(["reproduce", "--backend", "ray", "--parallel", "2", "--store", str(tmp_path / "runs.sqlite")]) == 2
    assert "--parallel: on Ray the cluster decides" in capsys.readouterr().err
    assert not (tmp_path / "runs.sqlite").exists()  # refused before anything was opened or trained


@pytest.mark.parametrize("options, message", [
    ({"cpus": 0}, "cpus (each task's CPUs) must be a number above 0"),
    ({"gpus": -1}, "gpus (each task's GPUs, or a fraction of one) must be a number of at least 0"),
    ({"max_retries": 1.5}, "max_retries must be a whole number"),
    ({"address": " "}, "address must be a Ray address"),
])
def test_ray_options_are_checked_at_the_door(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        RayOptions(**options)


def test_reproduce_on_ray_trains_each_run_once_into_the_store_and_resumes(local_ray, tmp_path, one_thread):
    from explorer.experiments import reproduce as rp
    from explorer.experiments.catalogue import Entry, Run, Scale

    setting = {"data": {"name": "random", "samples": 256, "features": 16}, "model": {"name": "mlp", "hidden": [8]},
               "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "train": {"epochs": 2, "batch_size": 64},
               "device": "cpu"}
    entry = Entry("demo", "000_demo.txt", "Table 9.9", "BP and DFA", setting,
                  (Run("BP", {}), Run("DFA", {"algorithm.name": "dfa"})), (), 2.5,
                  Scale({}, "as published"), Scale({"train.epochs": 1}, "1 epoch"))
    ticks = []
    with Store(tmp_path / "runs.sqlite") as store:
        first = rp.run([entry], "classroom", seeds=2, store=store, progress=ticks.append, ray=RayOptions())
        assert sorted((p.label, p.seed, status) for p, _, status in first.trained) == [
            ("BP", 0, "done"), ("BP", 1, "done"), ("DFA", 0, "done"), ("DFA", 1, "done")]
        assert [t.epochs_done for t in ticks] == [2.0, 4.0, 6.0, 8.0]  # each run's epochs as it finished
        for p, run, _ in first.trained:  # each run's records are those of the run trained here
            records = [{k: v for k, v in r.items() if k not in IGNORED} for r in store.metrics(run)]
            assert records == reference(p.config.to_dict())[0], p.label
        second = rp.run([entry], "classroom", seeds=2, store=store, progress=False, ray=RayOptions())
        assert second.trained == [] and second.skipped == 4
        assert len(store.list_runs()) == 4


class Intervals(Recorder):
    """Keeps, per run, the wall times (on its worker) of its first and last logged records."""

    def __init__(self) -> None:
        super().__init__(None)
        self.spans: dict[str, list[float]] = {}

    def handle(self, message) -> None:
        if isinstance(message, Records) and message.logged:
            span = self.spans.setdefault(message.run, [math.inf, -math.inf])
            span[0], span[1] = min(span[0], *message.logged), max(span[1], *message.logged)
        super().handle(message)


def test_tasks_never_train_more_at_once_than_the_cpus_they_asked_for(local_ray):
    """A task waiting on the relay (its resume state, a checkpoint) must not lend its CPU to the
    next task: three one-CPU tasks on two CPUs train two at a time."""
    recorder = Intervals()
    tasks = []
    for seed in range(3):
        cfg = {**BASE, "train": {"epochs": 150, "batch_size": 64}, "seed": seed}
        recorder.add_run(f"r{seed}")
        tasks.append(Task(f"t{seed}", [(f"r{seed}", cfg)]))
    assert run_tasks(tasks, recorder, RayOptions(checkpoint_seconds=0)) is True
    spans = list(recorder.spans.values())
    assert len(spans) == 3
    most = max(sum(start <= t <= end for start, end in spans) for t in (s for s, _ in spans))
    assert most <= 2, f"{most} tasks trained at once on 2 CPUs: {spans}"
