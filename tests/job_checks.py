"""In-process checks of the job manager for tests/test_jobs.py, with the figures they measure
(`python -m explorer stress` checks the store across processes, for users).

Each check returns a dict of figures with ``ok`` (the bar was met) and ``failures`` (what was not).

- `concurrent_runs`: runs submitted from several threads at once under a cap all finish, each
  with exactly the records it logged (as its ``on_metrics`` saw them), none mixed up with another.
- `killed_run`: a ``python -m explorer train`` process killed with SIGKILL mid-run; on reopening
  the run is ``interrupted`` and holds its records up to at most one second before the kill.
- `diverging_queue`: a run whose loss goes NaN is ``diverged`` at that step; the queue goes on.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from explorer.runs.jobs import JobManager
from explorer.runs.store import Store
from explorer.stress import tiny_config  # the one tiny run of this tool and `python -m explorer stress`

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the repository root


def _same(a: list[dict], b: list[dict]) -> bool:
    """Records equal, NaN included (compared as their JSON text, which round-trips floats exactly)."""
    return json.dumps(a) == json.dumps(b)


def _without_time(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time"} for r in records]


def concurrent_runs(path: str | os.PathLike, *, runs: int = 20, threads: int = 5, cap: int = 2,
                    timeout: float = 300.0) -> dict:
    """Submit ``runs`` tiny runs from ``threads`` threads at once to a manager capped at ``cap``.

    Run ``i`` has seed ``i % 4`` and rule bp or dfa by ``i % 2``: four distinct configs, each
    several times. The bar: every run ``done``; each run's stored records are exactly those its
    ``on_metrics`` received; runs of one config agree (time aside) and runs of different configs
    do not; never more than ``cap`` runs at once.

    Example:
        >>> import tempfile, os
        >>> folder = tempfile.TemporaryDirectory()
        >>> r = concurrent_runs(os.path.join(folder.name, "runs.sqlite"), runs=4, threads=2, cap=2)
        >>> r["ok"], r["done"], r["mismatched"], r["peak_concurrent"] <= 2
        (True, 4, 0, True)
    """
    if runs < 1 or threads < 1 or cap < 1:
        raise ValueError(f"runs, threads and cap must be at least 1, got {runs}, {threads}, {cap}")
    emitted: dict[int, list[dict]] = {i: [] for i in range(runs)}
    handles: dict[int, object] = {}
    positions: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)
    start = time.perf_counter()
    with JobManager(path, max_concurrent=cap) as jobs:
        def submit(worker: int) -> None:
            try:
                barrier.wait(timeout=60)
                for i in range(worker, runs, threads):
                    cfg = tiny_config(seed=i % 4, rule=("bp", "dfa")[i % 2])
                    handles[i] = jobs.submit(cfg, on_metrics=emitted[i].append)
                    positions.append(handles[i].position or 0)
            except BaseException as err:  # handed to the main thread, which raises it below
                errors.append(err)

        submitters = [threading.Thread(target=submit, args=(k,)) for k in range(threads)]
        for t in submitters:
            t.start()
        for t in submitters:
            t.join()
        if errors:
            raise errors[0]
        finished = jobs.wait_all(timeout)
        wall = time.perf_counter() - start
        peak = jobs.peak_active
        stored = {i: jobs.store.metrics(h.id) for i, h in handles.items()}
        statuses = {i: h.status for i, h in handles.items()}
    failures = []
    if not finished:
        failures.append(f"not all runs finished within {timeout:g} s")
    done = sum(s == "done" for s in statuses.values())
    if done != runs:
        failures.append(f"{runs - done} run(s) did not end done: {sorted(set(statuses.values()))}")
    mismatched = [i for i in range(runs) if not emitted[i] or not _same(stored[i], emitted[i])]
    if mismatched:
        failures.append(f"runs {mismatched} hold other records than they logged")
    by_config: dict[int, list[int]] = {}
    for i in range(runs):
        by_config.setdefault(i % 4, []).append(i)
    disagree = [k for k, members in by_config.items()
                if not all(_same(_without_time(stored[m]), _without_time(stored[members[0]])) for m in members)]
    if disagree:
        failures.append(f"runs of the same config differ (configs {disagree})")
    firsts = [_without_time(stored[m[0]]) for m in by_config.values()]
    collide = sum(_same(a, b) for j, a in enumerate(firsts) for b in firsts[j + 1:])
    if collide:
        failures.append("runs of different configs have the same records")
    if peak > cap:
        failures.append(f"{peak} runs trained at once, over the cap of {cap}")
    return {"ok": not failures, "failures": failures, "runs": runs, "threads": threads, "cap": cap,
            "done": done, "records": sum(len(r) for r in stored.values()),
            "records_logged": sum(len(r) for r in emitted.values()), "mismatched": len(mismatched),
            "peak_concurrent": peak, "longest_queue_position": max(positions, default=0),
            "seconds": round(wall, 2)}


def killed_run(path: str | os.PathLike, *, min_records: int = 20, delay: float = 0.37,
               timeout: float = 120.0) -> dict:
    """Start ``python -m explorer train --store PATH`` logging every step, wait until the store holds
    ``min_records`` records and ``delay`` s more, then SIGKILL it and reopen the store.

    The bar: the run is ``interrupted``; its records are steps 1, 2, … with none missing; the
    newest was logged, and the store last written, at most one second before the kill (records
    are logged every few ms and each write takes all those buffered, so every record older than
    that second is in the store). Figures: how many records, how long before the kill the newest
    stored record was logged and the store last written.
    """
    path = Path(path)
    if os.name == "nt":
        raise RuntimeError("the SIGKILL check needs a POSIX system")
    # One intra-op thread: on a busy machine PyTorch's spinning thread pool can slow a tiny step
    # a hundredfold, and this check is about the store, not about step speed.
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "explorer", "train", "--store", str(path), "--dataset", "digits",
           "--hidden", "16", "--epochs", "1000", "--log-every", "1", "--device", "cpu"]
    log = path.with_suffix(".train.log")
    failures: list[str] = []
    with open(log, "w") as err_file:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_file, env=env)
        try:
            deadline = time.monotonic() + timeout
            store = None
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the training process ended early (exit {proc.returncode}): "
                                       f"{log.read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the store showed no {min_records} records within {timeout:g} s")
                if store is None and path.exists():
                    store = Store(path)
                runs = store.list_runs() if store is not None else []
                if runs and runs[0].records >= min_records:
                    break
                time.sleep(0.05)
            store.close()
            time.sleep(delay)
            killed_at = time.time()
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    with Store(path) as store:  # reopening marks the run interrupted
        info = store.list_runs()[0]
        rows = store.metric_rows(info.id)
    steps = [record["step"] for _, _, record in rows]
    newest = killed_at - max(logged for _, logged, _ in rows)
    last_write = killed_at - info.heartbeat
    if info.status != "interrupted":
        failures.append(f"the killed run is {info.status}, not interrupted")
    if steps != list(range(1, len(steps) + 1)):
        failures.append("records are missing between the first and the last stored")
    if newest > 1.0:
        failures.append(f"the newest stored record was logged {newest:.2f} s before the kill (over 1 s)")
    if last_write > 1.0:
        failures.append(f"the store was last written {last_write:.2f} s before the kill (over 1 s)")
    return {"ok": not failures, "failures": failures, "status": info.status, "records": len(rows),
            "last_step": steps[-1] if steps else None, "newest_record_s_before_kill": round(newest, 3),
            "last_write_s_before_kill": round(last_write, 3), "error": info.error}


def diverging_queue(path: str | os.PathLike, timeout: float = 120.0) -> dict:
    """A run with learning rate 1e6 (its loss goes NaN) queued before a normal one, cap 1.

    The bar: the first is ``diverged`` at a step, every record it kept is finite and earlier;
    the second is ``done``.

    Example:
        >>> import tempfile, os
        >>> folder = tempfile.TemporaryDirectory()
        >>> r = diverging_queue(os.path.join(folder.name, "runs.sqlite"))
        >>> r["ok"], r["statuses"]
        (True, ['diverged', 'done'])
    """
    nan_run = tiny_config(optimizer={"name": "sgd", "lr": 1e6, "momentum": 0.9},
                          model={"name": "mlp", "hidden": [32], "activation": "relu"},
                          train={"epochs": 5, "batch_size": 64, "log_every": 1})
    with JobManager(path, max_concurrent=1) as jobs:
        bad, good = jobs.submit(nan_run), jobs.submit(tiny_config())
        bad.wait(timeout), good.wait(timeout)
        info = jobs.store.get_run(bad.id)
        kept = jobs.store.metrics(bad.id)
        statuses = [bad.status, good.status]
    failures = []
    if statuses != ["diverged", "done"]:
        failures.append(f"statuses {statuses}, expected diverged then done")
    if info.diverged_at is None or any(r["step"] >= info.diverged_at or not math.isfinite(r["train_loss"])
                                       for r in kept):
        failures.append("the diverged run has no step, or keeps records from that step on")
    return {"ok": not failures, "failures": failures, "statuses": statuses, "diverged_at": info.diverged_at,
            "records_kept": len(kept)}
