"""``python -m explorer stress``: check the fault-tolerance claims of the run store and the jobs.

Each check prints PASS, FAIL or SKIP (with the reason) and a line of what it measured; the command
exits 1 when a check fails. Every check works on the run ids it made itself, so a folder used
before (older runs, runs left damaged by an earlier check) is fine and is itself part of the test:
run it twice on one ``--folder`` and the second run checks a reused store.

- ``processes``: several processes train short runs into one store at once; every run is stored
  ``done`` with exactly the records its process logged, none missing, none twice.
- ``sigkill``: a ``python -m explorer train`` process is killed with SIGKILL mid-run; its run (found
  by the id the process printed) is ``interrupted`` with its records, steps 1, 2, … up to the kill.
- ``checkpoint-kill``: a process writing large checkpoints is killed again and again, mid-write;
  every checkpoint stored loads afterwards and holds what was written.
- ``damaged``: a config that is not JSON, a config that does not validate, a metric row that is
  not JSON, an empty and a truncated checkpoint blob: the store lists the runs as damaged, says so
  for the config, skips the row, raises its own `StoreError` for the blobs; ``runs list`` and
  ``runs show`` say so without a traceback.
- ``full-disk``: a run trains into a store on a small tmpfs that fills up (in a private mount
  namespace, where the machine allows one; else SKIP with the reason): the run ends ``failed`` with
  the real cause, its earlier records are kept, the command line says "error: …" and no traceback.
- ``held-lock``: another process holds the store's write lock for a while; a writer allowed to wait
  longer succeeds, one allowed less fails with the store's error naming the lock, and so does the
  command line's ``--lock-wait``.
- ``divergence``: every rule of the registry at a hostile setting (learning rate 10, feedback
  weights ±100) ends ``diverged`` at a step, with its earlier records kept.

Example:
    >>> [c.name for c in CHECKS]
    ['processes', 'sigkill', 'checkpoint-kill', 'damaged', 'full-disk', 'held-lock', 'divergence']
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from explorer.config.bounds import MAX_LR
from explorer.config.registry import RULES
from explorer.runs.jobs import JobManager
from explorer.runs.store import Store, StoreError

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
STORE_NAME = "stress.sqlite"  # the store every check shares under --folder (older runs in it are left alone)


def tiny_config(seed: int = 0, rule: str = "bp", **sections) -> dict:
    """A run of a second or less: an MLP with 8 hidden units, one epoch of ``digits`` on the CPU.

    Example:
        >>> tiny_config(3, "dfa")["algorithm"], tiny_config()["train"]
        ({'name': 'dfa'}, {'epochs': 1, 'batch_size': 64})
    """
    cfg = {"data": {"name": "digits"}, "model": {"name": "mlp", "hidden": [8], "activation": "tanh"},
           "algorithm": {"name": rule}, "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
           "train": {"epochs": 1, "batch_size": 64}, "seed": seed, "device": "cpu"}
    cfg.update(sections)
    return cfg


@dataclass
class Result:
    """One check's outcome: ``status`` PASS, FAIL or SKIP; ``detail`` what it measured (or why it
    was skipped); ``failures`` what did not hold."""

    name: str
    status: str
    detail: str
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        """The check as the report prints it.

        Example:
            >>> Result("sigkill", "FAIL", "1 run", ["it is running"]).line()
            'FAIL sigkill: 1 run\\n     - it is running'
        """
        took = f" ({self.seconds:g} s)" if self.seconds else ""
        return "\n".join([f"{self.status:<4} {self.name}: {self.detail}{took}", *(f"     - {f}" for f in self.failures)])


def verdict(name: str, detail: str, failures: list[str]) -> Result:
    return Result(name, "FAIL" if failures else "PASS", detail, failures)


class Skip(Exception):
    """Raised by a check that cannot run here; the message says why."""


@dataclass(frozen=True)
class Scale:
    """How much each check does: ``quick`` for the tests (seconds), the default for a person (a minute or two)."""

    processes: int
    runs_per_process: int
    kill_records: int
    checkpoint_mb: int
    checkpoint_kills: int
    lock_hold_s: float


FULL = Scale(processes=3, runs_per_process=4, kill_records=40, checkpoint_mb=16, checkpoint_kills=4, lock_hold_s=3.0)
QUICK = Scale(processes=2, runs_per_process=1, kill_records=5, checkpoint_mb=8, checkpoint_kills=1, lock_hold_s=1.0)


def _child_env() -> dict:
    """The environment of a child process: this package importable, one intra-op thread (on a busy
    machine PyTorch's spinning thread pool can slow a tiny step a hundredfold)."""
    return dict(os.environ, OMP_NUM_THREADS="1", EXPLORER_DEBUG="0",
                PYTHONPATH=os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")])))


def _python(code: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], env=_child_env(), **kw)


def _wait_for(condition: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    """Poll ``condition`` until it holds; a `RuntimeError` saying ``what`` after ``timeout`` s or
    when ``proc`` ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the child process ended (exit {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} within {timeout:g} s")
        time.sleep(0.05)


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc`` if it still runs, and reap it."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


# processes -----------------------------------------------------------------------------------------


def process_worker(path: str, runs: int, seed: int) -> None:
    """A child of `processes`: train ``runs`` tiny runs one after another into ``path``; print
    {run id: records logged} as JSON."""
    logged: dict[str, int] = {}
    with JobManager(path, max_concurrent=1) as jobs:
        for i in range(runs):
            count = [0]
            handle = jobs.submit(tiny_config(seed * 100 + i, ("bp", "dfa")[i % 2],
                                             train={"epochs": 1, "batch_size": 64, "log_every": 2}),
                                 on_metrics=lambda record, count=count: count.__setitem__(0, count[0] + 1))
            if handle.wait(300) != "done":
                raise RuntimeError(f"run {handle.id} ended {handle.status}")
            logged[handle.id] = count[0]
    print(json.dumps(logged))


def check_processes(path: Path, scale: Scale) -> Result:
    procs = [_python(f"from explorer.stress import process_worker; process_worker({str(path)!r}, "
                     f"{scale.runs_per_process}, {k})", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in range(scale.processes)]
    logged: dict[str, int] = {}
    failures = []
    for k, proc in enumerate(procs):
        out, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            failures.append(f"process {k} ended with exit {proc.returncode}: {err.strip()[-300:]}")
            continue
        logged.update(json.loads(out.strip().splitlines()[-1]))
    expected = scale.processes * scale.runs_per_process
    if not failures and len(logged) != expected:
        failures.append(f"{len(logged)} distinct run ids for {expected} runs")
    stored = 0
    with Store(path) as store:
        for run_id, count in logged.items():
            info = store.get_run(run_id)
            steps = [r["step"] for r in store.metrics(run_id)]
            stored += len(steps)
            if info.status != "done":
                failures.append(f"run {run_id} is {info.status}, not done")
            if len(steps) != count:
                failures.append(f"run {run_id}: {len(steps)} records stored of {count} logged")
            if len(set(steps)) != len(steps) or steps != sorted(steps):
                failures.append(f"run {run_id}: records duplicated or out of order")
    return verdict("processes", f"{scale.processes} processes × {scale.runs_per_process} runs on one store: "
                                f"{stored} of {sum(logged.values())} logged records stored", failures)


# sigkill -------------------------------------------------------------------------------------------


def check_sigkill(path: Path, scale: Scale) -> Result:
    cmd = [sys.executable, "-m", "explorer", "train", "--store", str(path), "--dataset", "digits", "--hidden", "16",
           "--epochs", "1000", "--log-every", "1", "--device", "cpu"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_child_env(), text=True)
    try:
        first = proc.stdout.readline()  # "run <id> (in <store>)": the run is known by its own id
        if not first.startswith("run "):
            raise RuntimeError(f"the training process printed {first!r}, not its run id")
        run_id = first.split()[1]
        with Store(path) as store:
            seen = [0]

            def enough() -> bool:
                seen[0] = store.get_run(run_id).records
                return seen[0] >= scale.kill_records

            _wait_for(enough, 300, f"{scale.kill_records} records of run {run_id}", proc)
    finally:
        _kill(proc)
        proc.stdout.close()
    with Store(path) as store:  # opening it marks the run of the dead process interrupted
        info = store.get_run(run_id)
        steps = [r["step"] for r in store.metrics(run_id)]
    failures = []
    if info.status != "interrupted":
        failures.append(f"the killed run {run_id} is {info.status}, not interrupted")
    if steps != list(range(1, len(steps) + 1)):
        failures.append("its records are not steps 1, 2, … without a gap")
    if len(steps) < seen[0]:
        failures.append(f"{len(steps)} records kept of {seen[0]} stored before the kill")
    return verdict("sigkill", f"run {run_id} killed after {seen[0]} records: {info.status}, "
                              f"{len(steps)} records kept (steps 1-{steps[-1] if steps else 0})", failures)


# checkpoint-kill -----------------------------------------------------------------------------------


def checkpoint_state(step: int, mb: int) -> dict[str, torch.Tensor]:
    """The checkpoint `checkpoint_writer` stores at ``step``: ``mb`` MiB of float32, each value the step.

    Example:
        >>> s = checkpoint_state(3, 1)
        >>> s["w"].numel() * 4 == 2**20, float(s["w"][-1])
        (True, 3.0)
    """
    return {"w": torch.full((mb * 2**18,), float(step)), "b": torch.arange(8.0) + step}


def checkpoint_writer(path: str, run_id: str, mb: int, progress: str, most: int = 50) -> None:
    """A child of `check_checkpoint_kill`: store checkpoints of ``run_id`` at the steps after those
    stored, ``most`` of them, until killed; "begin N" goes to ``progress`` before the write of step
    N, "end N" after it."""
    with Store(path) as store:
        first = max(store.checkpoint_steps(run_id), default=0) + 1
        for step in range(first, first + most):
            state = checkpoint_state(step, mb)
            Path(progress).write_text(f"begin {step}")
            store.save_checkpoint(run_id, step, state)
            Path(progress).write_text(f"end {step}")


def _writing(progress: str) -> int:
    """The step whose write ``progress`` says has begun (0: none).

    Example:
        >>> _writing("begin 3"), _writing("end 3"), _writing("")
        (3, 0, 0)
    """
    return int(progress.split()[1]) if progress.startswith("begin ") else 0


def _progress(file: Path) -> str:
    try:
        return file.read_text()
    except OSError:
        return ""


def check_checkpoint_kill(path: Path, scale: Scale, scratch: Path) -> Result:
    with Store(path) as store:
        run_id = store.create_run(tiny_config())
    progress = scratch / f"checkpoints-{run_id}.txt"
    midwrite, failures = 0, []
    for kill in range(scale.checkpoint_kills):
        progress.write_text("")
        with Store(path) as store:
            first = max(store.checkpoint_steps(run_id), default=0) + 1  # the step the writer starts at
        proc = _python(f"from explorer.stress import checkpoint_writer; checkpoint_writer({str(path)!r}, "
                       f"{run_id!r}, {scale.checkpoint_mb}, {str(progress)!r})", stderr=subprocess.PIPE)
        try:
            # the kill, as soon as a write begins after one stored: "begin N" for N past the first
            _wait_for(lambda: _writing(_progress(progress)) > first, 300, "a second checkpoint write", proc)
        finally:
            _kill(proc)
            proc.stderr.close()
        midwrite += _progress(progress).startswith("begin")
    loaded = 0
    with Store(path) as store:
        steps = store.checkpoint_steps(run_id)
        for step in steps:
            try:
                state = store.checkpoint(run_id, step)
            except StoreError as err:
                failures.append(f"the checkpoint of step {step} does not load: {err}")
                continue
            if not all(torch.equal(state[k], v) for k, v in checkpoint_state(step, scale.checkpoint_mb).items()):
                failures.append(f"the checkpoint of step {step} holds other values than were written")
            loaded += 1
        store.finish_run(run_id, "cancelled")
        store.delete_run(run_id)  # its checkpoints are large: the folder does not grow run after run
    if not steps:
        failures.append("no checkpoint was stored")
    return verdict("checkpoint-kill", f"{scale.checkpoint_kills} SIGKILL(s) of a process writing {scale.checkpoint_mb} "
                                      f"MiB checkpoints, {midwrite} mid-write: {loaded} of {len(steps)} checkpoints "
                                      f"load with their values", failures)


# damaged -------------------------------------------------------------------------------------------


def _cli(*argv: str) -> tuple[int, str, str]:
    """The command line in this process: (exit code, standard output, standard error)."""
    from explorer import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def check_damaged(path: Path, scale: Scale) -> Result:
    with Store(path) as store:
        not_json, invalid, empty_blob, cut_blob = (store.create_run(tiny_config(seed)) for seed in range(4))
        store.append_metrics(not_json, [{"step": 1, "train_loss": 2.0}, {"step": 2, "train_loss": 1.5}])
        for run_id in (empty_blob, cut_blob):
            store.save_checkpoint(run_id, 1, checkpoint_state(1, 1))
        for run_id in (not_json, invalid, empty_blob, cut_blob):
            store.finish_run(run_id, "done")
    with sqlite3.connect(path) as c:
        c.execute("UPDATE runs SET config = ? WHERE id = ?", ("{not json", not_json))
        c.execute("UPDATE runs SET config = ? WHERE id = ?", (json.dumps({"train": {"epochs": -1}}), invalid))
        c.execute("UPDATE metrics SET record = ? WHERE run_id = ? AND step = 1", ("{cut", not_json))
        c.execute("UPDATE checkpoints SET state = ? WHERE run_id = ?", (b"", empty_blob))
        c.execute("UPDATE checkpoints SET state = substr(state, 1, length(state) / 2) WHERE run_id = ?", (cut_blob,))
    c.close()
    failures = []
    with Store(path) as store:
        listed = {info.id: info for info in store.list_runs()}
        if not getattr(listed.get(not_json), "damaged", False):
            failures.append("a run whose config is not JSON is not listed as damaged")
        if not getattr(listed.get(invalid), "problem", None):
            failures.append("a run whose config does not validate is listed without its problem")
        records = store.metrics(not_json)
        if [r["step"] for r in records] != [2] or getattr(records, "skipped", None) != 1:
            failures.append(f"a metric row that is not JSON: read back {len(records)} records, "
                            f"skipped {getattr(records, 'skipped', '?')}, not 1 and 1")
        for what, run_id in (("an empty", empty_blob), ("a truncated", cut_blob)):
            try:
                store.checkpoint(run_id, 1)
                failures.append(f"{what} checkpoint blob loads")
            except StoreError:
                pass
            except Exception as err:  # the point of the check: anything but the store's own error fails it
                failures.append(f"{what} checkpoint blob raises {type(err).__name__}, not StoreError")
    for argv, code_wanted, words in ((("runs", "list", "--store", str(path)), 0, "DAMAGED"),
                                     (("runs", "show", invalid, "--store", str(path)), 2, "does not validate"),
                                     (("runs", "show", not_json, "--store", str(path)), 2, "not JSON")):
        code, out, err = _cli(*argv)
        if code != code_wanted or words not in out + err or "Traceback" in out + err:
            failures.append(f"`{' '.join(argv[:3])}` exits {code} (wanted {code_wanted}) without saying "
                            f"{words!r}: {(err or out).strip()[-200:]!r}")
    return verdict("damaged", "a config not JSON, a config not valid, a metric row not JSON, an empty and a "
                              "truncated checkpoint: listed, said, skipped, StoreError", failures)


# full-disk -----------------------------------------------------------------------------------------


def full_disk_worker(folder: str, spare_kb: int, out: str) -> None:
    """A child of `check_full_disk`, inside its own mount namespace with a small tmpfs on ``folder``:
    fill the tmpfs but ``spare_kb``, train a long run into a store there with the command line,
    then free the space, copy the store's files into ``out`` (the tmpfs goes with the namespace)
    and print what the command line said, as JSON."""
    path = Path(folder) / "full.sqlite"
    Store(path).close()
    filler = Path(folder) / "filler"
    stat = os.statvfs(folder)
    filler.write_bytes(b"\0" * max(stat.f_bavail * stat.f_frsize - spare_kb * 1024, 0))
    code, out_text, err = _cli("train", "--store", str(path), "--dataset", "digits", "--hidden", "64",
                               "--epochs", "200", "--log-every", "1", "--device", "cpu")
    filler.unlink()
    for file in Path(folder).glob("full.sqlite*"):
        shutil.copy(file, Path(out) / file.name)
    run_id = out_text.split()[1] if out_text.startswith("run ") else None
    print(json.dumps({"code": code, "stderr": err[-2000:], "run": run_id}))


def _namespace_prefix() -> list[str]:
    """The command that runs a child in a private mount namespace (where it may mount a tmpfs that
    no one else sees and that goes away with it); `Skip` where the machine has none."""
    if sys.platform != "linux" or shutil.which("unshare") is None:
        raise Skip("needs Linux with unshare(1) to mount a private tmpfs")
    prefix = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--mount"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise Skip(f"this machine allows no private mount namespace ({probe.stderr.strip() or probe.returncode})")
    return prefix


def check_full_disk(path: Path, scale: Scale, scratch: Path) -> Result:
    prefix = _namespace_prefix()
    mount, out = scratch / "tmpfs", scratch / "copied"
    mount.mkdir(exist_ok=True)
    out.mkdir(exist_ok=True)
    code = f"from explorer.stress import full_disk_worker; full_disk_worker({str(mount)!r}, 256, {str(out)!r})"
    script = 'mount -t tmpfs -o size=4m tmpfs "$1" || exit 97; exec "$2" -c "$3"'
    proc = subprocess.run([*prefix, "sh", "-c", script, "sh", str(mount), sys.executable, code],
                          capture_output=True, text=True, env=_child_env(), timeout=600)
    if proc.returncode == 97:
        raise Skip(f"a tmpfs cannot be mounted here: {proc.stderr.strip()[-200:]}")
    if proc.returncode != 0:
        return verdict("full-disk", "a run on a full 4 MiB tmpfs",
                       [f"the worker crashed (exit {proc.returncode}): {proc.stderr.strip()[-400:]}"])
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    if r["run"] is None:
        return verdict("full-disk", "a run on a full 4 MiB tmpfs", [f"no run was started: {r['stderr'][-300:]!r}"])
    with Store(out / "full.sqlite") as store:  # opened later, by another process, with room again
        info = store.get_run(r["run"])
        records = len(store.metrics(r["run"]))
    failures = []
    if r["code"] == 0 or "Traceback" in r["stderr"] or "error:" not in r["stderr"]:
        failures.append(f"the command line exits {r['code']} with {r['stderr'].strip()[-200:]!r}, not one "
                        f"'error:' line")
    if "full" not in r["stderr"]:
        failures.append("the command line does not say the disk is full")
    # The run ends failed with the cause where the store took that last write; where the full disk
    # refused even that, the next opening marks it interrupted and says it recorded no cause.
    error = info.error or ""
    if info.status not in ("failed", "interrupted") or not ("full" in error or "no cause" in error):
        failures.append(f"the run is stored {info.status} ({error!r}), not failed with the full disk as cause "
                        f"nor interrupted without an invented one")
    if not records:
        failures.append("no record of the run was kept")
    return verdict("full-disk", f"a run on a 4 MiB tmpfs that fills up: {info.status} ({error[:90]}…), "
                                f"{records} records kept, exit {r['code']}", failures)


# held-lock -----------------------------------------------------------------------------------------


LOCK_HOLDER = """
import sqlite3, sys, time
from pathlib import Path
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
Path(sys.argv[2]).write_text("held")
time.sleep(float(sys.argv[3]))
c.execute("ROLLBACK")
"""


HELD_UNTIL_ENDED_S = 600.0  # a lock holder's hold when it is ended once the case is decided


def check_held_lock(path: Path, scale: Scale, scratch: Path) -> Result:
    with Store(path) as store:
        victim, finished = store.create_run(tiny_config()), store.create_run(tiny_config())
        store.finish_run(finished, "done")
    failures = []
    hold = scale.lock_hold_s
    signal_file = scratch / f"lock-{victim}.txt"
    waits: dict[str, float] = {}
    for case in ("short wait", "command line", "long wait"):
        signal_file.unlink(missing_ok=True)
        # The writers that must give up face a lock held until they have (a starved machine can take
        # longer than ``hold`` to start the command line); the one that must wait, a lock held ``hold`` s.
        held_for = hold if case == "long wait" else HELD_UNTIL_ENDED_S
        holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(path), str(signal_file), str(held_for)],
                                  stderr=subprocess.PIPE, text=True)
        try:
            _wait_for(signal_file.exists, 60, "the lock held by the other process", holder)
            start = time.monotonic()
            if case == "short wait":
                try:
                    with Store(path, timeout=hold / 5) as store:
                        store.finish_run(victim, "cancelled")
                    failures.append(f"a write allowed {hold / 5:g} s succeeded while another process held the lock")
                except StoreError as err:
                    if "lock" not in str(err):
                        failures.append(f"the store's error does not name the lock: {err}")
            elif case == "command line":
                code, _, err = _cli("runs", "delete", finished, "--store", str(path), "--lock-wait", f"{hold / 5:g}")
                if code != 2 or "lock" not in err or "Traceback" in err:
                    failures.append(f"`runs delete --lock-wait` exits {code}: {err.strip()[-200:]!r}")
            else:
                with Store(path, timeout=hold + 30) as store:
                    store.finish_run(victim, "cancelled")
                    if store.get_run(victim).status != "cancelled":
                        failures.append("a write that waited out the lock is not stored")
            waits[case] = time.monotonic() - start
        except StoreError as err:
            failures.append(f"{case}: {err}")
        finally:
            if case != "long wait":
                holder.terminate()  # its lock goes with it
            holder.wait(timeout=hold + 60)
            holder.stderr.close()
    return verdict("held-lock", f"another process holds the write lock: a writer allowed {hold / 5:g} s gives up "
                                f"after {waits.get('short wait', float('nan')):.2f} s; with the lock held {hold:g} s, "
                                f"one allowed {hold + 30:g} s succeeds after {waits.get('long wait', float('nan')):.2f} s",
                   failures)


# divergence ----------------------------------------------------------------------------------------


HOSTILE_LR = 10.0
HOSTILE_FEEDBACK = 100.0
LAST_LAYER_LR = MAX_LR  # a rule that trains the last layer only (random features) explodes at the largest rate


def hostile_config(rule: str) -> dict:
    """A run of ``rule`` that explodes: learning rate 10, feedback weights uniform in ±100 where the
    rule has feedback matrices (uSF: its scale 100), the largest learning rate for random features;
    the default divergence thresholds.

    Example:
        >>> hostile_config("dfa")["algorithm"]
        {'name': 'dfa', 'feedback_init': {'name': 'uniform', 'low': -100.0, 'high': 100.0}}
        >>> hostile_config("usf")["algorithm"], hostile_config("rf")["optimizer"]["lr"]
        ({'name': 'usf', 'scale': 100.0}, 1000000.0)
    """
    algorithm: dict = {"name": rule}
    if RULES[rule].feedback:
        algorithm["feedback_init"] = {"name": "uniform", "low": -HOSTILE_FEEDBACK, "high": HOSTILE_FEEDBACK}
    if "scale" in RULES[rule].options:
        algorithm["scale"] = HOSTILE_FEEDBACK
    lr = LAST_LAYER_LR if not RULES[rule].shallow and not RULES[rule].gated else HOSTILE_LR
    return tiny_config(rule=rule, algorithm=algorithm, model={"name": "mlp", "hidden": [32], "activation": "relu"},
                       optimizer={"name": "sgd", "lr": lr, "momentum": 0.9},
                       train={"epochs": 3, "batch_size": 32, "log_every": 1})


def check_divergence(path: Path, scale: Scale) -> Result:
    from explorer.config import RunConfig

    if "diverge" not in RunConfig.from_dict({}).to_dict().get("train", {}) and \
            not hasattr(RunConfig.from_dict({}).train, "diverge"):
        raise Skip("this build marks only a non-finite loss as diverged (no train.diverge threshold)")
    failures, outcome = [], {}
    with JobManager(path, max_concurrent=2) as jobs:
        handles = {rule: jobs.submit(hostile_config(rule)) for rule in RULES}
        for rule, handle in handles.items():
            handle.wait(600)
        for rule, handle in handles.items():
            info = jobs.store.get_run(handle.id)
            kept = [r["step"] for r in jobs.store.metrics(handle.id)]
            outcome[rule] = info.status
            if info.status != "diverged" or info.diverged_at is None:
                failures.append(f"{rule} ({handle.id}) ends {info.status}, not diverged")
            elif any(step > info.diverged_at for step in kept):
                failures.append(f"{rule} keeps records after the step it diverged at")
    diverged = sum(s == "diverged" for s in outcome.values())
    return verdict("divergence", f"{diverged} of {len(RULES)} rules at a hostile setting (lr {HOSTILE_LR:g}, feedback "
                                 f"±{HOSTILE_FEEDBACK:g}; random features lr {LAST_LAYER_LR:g}) end diverged", failures)


# the command ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """A check: its name, its function, whether it takes a scratch folder of its own, and whether
    it must run alone (the others run at once, several processes on the store together)."""

    name: str
    run: Callable[..., Result]
    scratch: bool = False
    alone: bool = False


CHECKS = (Check("processes", check_processes), Check("sigkill", check_sigkill),
          Check("checkpoint-kill", check_checkpoint_kill, scratch=True),
          Check("damaged", check_damaged, alone=True),  # the command line in this process
          Check("full-disk", check_full_disk, scratch=True),
          Check("held-lock", check_held_lock, scratch=True, alone=True),  # holds the store's lock
          Check("divergence", check_divergence, alone=True))


def _run_one(check: Check, path: Path, scale: Scale, root: Path) -> Result:
    """One check; one that raises fails with the error as its reason, one that raises `Skip` is skipped."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"{check.name}-", dir=root) as scratch:
        try:
            result = check.run(*((path, scale, Path(scratch)) if check.scratch else (path, scale)))
        except Skip as why:
            result = Result(check.name, "SKIP", str(why))
        except Exception as err:  # a check that breaks is a failed check, said in one line
            result = Result(check.name, "FAIL", "the check could not finish",
                            [f"{type(err).__name__}: {' '.join(str(err).split())[:400]}"])
    result.seconds = round(time.monotonic() - start, 1)
    return result


def run_checks(folder: str | os.PathLike | None = None, *, quick: bool = False, only: tuple[str, ...] = (),
               report: Callable[[Result], None] | None = None) -> list[Result]:
    """Run the checks (``only`` those named, if given) on the store ``STORE_NAME`` in ``folder``
    (default: a fresh temporary folder); the `Result` of each goes to ``report`` as it comes. The
    checks that may share the store run at once, then the others one by one."""
    from concurrent.futures import ThreadPoolExecutor

    scale = QUICK if quick else FULL
    chosen = [c for c in CHECKS if not only or c.name in only]
    with tempfile.TemporaryDirectory(prefix="explorer-stress-") as temp:
        root = Path(folder) if folder is not None else Path(temp)
        root.mkdir(parents=True, exist_ok=True)
        path = root / STORE_NAME
        Store(path).close()  # made (or brought up to date) once, before the checks open it together
        together = [c for c in chosen if not c.alone]
        results = {}
        with ThreadPoolExecutor(max_workers=max(len(together), 1)) as pool:
            futures = {c.name: pool.submit(_run_one, c, path, scale, root) for c in together}
            for name, future in futures.items():
                results[name] = future.result()
                if report:
                    report(results[name])
        for check in chosen:
            if check.alone:
                results[check.name] = _run_one(check, path, scale, root)
                if report:
                    report(results[check.name])
    return [results[c.name] for c in chosen]


def summary(results: list[Result]) -> str:
    """The last line of the report.

    Example:
        >>> summary([Result("a", "PASS", ""), Result("b", "SKIP", "no tmpfs")])
        '1 passed, 0 failed, 1 skipped'
    """
    count = {s: sum(r.status == s for r in results) for s in ("PASS", "FAIL", "SKIP")}
    return f"{count['PASS']} passed, {count['FAIL']} failed, {count['SKIP']} skipped"
