"""The driver's side of a task (`tasks.train_task`): its messages written into the run store, the
one writer whatever trained the runs (this thread, or Ray workers on other machines).

A retried task sends again what it had sent since the checkpoint it resumed from; the recorder
keeps each run's records in step order and drops what it already holds (records at or before the
last stored step, snapshots of an epoch already stored), so a retry never duplicates anything.
Without a store (``Recorder(None)``) it only keeps the records, for a sweep's tables.

Example:
    >>> from explorer.runs.tasks import Records
    >>> rec = Recorder(None)
    >>> rec.add_run("a")
    >>> rec.handle(Records("a", [{"step": 1}, {"step": 2}], [0.0, 0.0], 2))
    >>> rec.handle(Records("a", [{"step": 2}, {"step": 3}], [0.0, 0.0], 3))   # a retry resent step 2
    >>> [r["step"] for r in rec.records["a"]]
    [1, 2, 3]
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from explorer.engine.representations import Snapshot as RepresentationSnapshot
from explorer.runs.store import tensors_from_bytes
from explorer.runs.tasks import Checkpoint, Ended, Probe, Records, Sink, Snapshot, Started


class Recorder:
    """Writes tasks' messages into ``store`` (a `Store`, or None to keep records only), and keeps
    every run's records (``records``), its last stored step, and how many times it was started
    (``starts``: more than one means its task was retried). ``on_checkpoint(task, step)`` is called
    once a checkpoint is stored (the Ray backend lets the worker go on then)."""

    def __init__(self, store, on_checkpoint: Callable[[str, int], None] | None = None) -> None:
        self.store = store
        self.on_checkpoint = on_checkpoint
        self.records: dict[str, list[dict]] = {}
        self.last_step: dict[str, int] = {}
        self.starts: dict[str, int] = {}
        self.steps_done: dict[str, int] = {}
        self.total_steps: dict[str, int] = {}
        self.workers: dict[str, str] = {}   # run: host:pid training it now
        self.resumed: dict[str, int | None] = {}  # run: the step its latest start resumed from
        self.ended: dict[str, Ended] = {}
        self._snapshot_epochs: dict[str, set[int]] = {}

    def add_run(self, run: str) -> None:
        """Expect messages about ``run`` (created in the store by the caller, queued)."""
        self.records[run], self.last_step[run], self.starts[run] = [], 0, 0
        self._snapshot_epochs[run] = set()

    def handle(self, message: Any) -> None:
        """Write one message (`tasks.Started`, `Records`, `Checkpoint`, `Snapshot`, `Probe`)."""
        kind = type(message)
        if kind is Records:
            self._records(message)
        elif kind is Started:
            self._started(message)
        elif kind is Checkpoint:
            if self.store is not None:
                for run, blob in message.weights.items():
                    weights = tensors_from_bytes(blob, f"checkpoint of run {run} at step {message.step}")
                    self.store.save_checkpoint(run, message.step, weights)
            if self.on_checkpoint is not None:
                self.on_checkpoint(message.task, message.step)
        elif kind is Snapshot:
            if message.epoch not in self._snapshot_epochs[message.run]:
                self._snapshot_epochs[message.run].add(message.epoch)
                if self.store is not None:
                    layers = tensors_from_bytes(message.layers, f"snapshot of run {message.run} at epoch {message.epoch}")
                    self.store.add_snapshot(message.run, RepresentationSnapshot(message.epoch, message.step, layers))
        elif kind is Probe:
            if self.store is not None:
                self.store.set_probe(message.run, tensors_from_bytes(message.tensors, f"probe of run {message.run}"))
        else:
            raise TypeError(f"a task sent a message of an unknown kind: {kind.__name__}")

    def _started(self, m: Started) -> None:
        self.starts[m.run] += 1
        self.total_steps[m.run], self.workers[m.run], self.resumed[m.run] = m.total_steps, m.worker, m.resumed
        if self.store is None:
            return
        if self.starts[m.run] == 1:
            self.store.start_run(m.run)
        self.store.update_progress(m.run, total_steps=m.total_steps, device=m.device, device_name=m.device_name)

    def _records(self, m: Records) -> None:
        keep = [(r, t) for r, t in zip(m.records, m.logged) if r["step"] > self.last_step[m.run]]
        self.steps_done[m.run] = max(m.steps_done, self.steps_done.get(m.run, 0))
        if not keep:
            return
        if self.store is not None:
            self.store.append_metrics(m.run, [r for r, _ in keep], logged=[t for _, t in keep],
                                      steps_done=self.steps_done[m.run])
        self.records[m.run].extend(r for r, _ in keep)
        self.last_step[m.run] = keep[-1][0]["step"]

    def end(self, ended: Ended) -> None:
        """Give a run its final status, from what its task returned."""
        self.ended[ended.run] = ended
        if self.store is not None:
            self.store.finish_run(ended.run, ended.status, diverged_at=ended.diverged_at, error=ended.reason,
                                  steps_done=ended.steps_done)

    def fail(self, run: str, status: str, error: str | None = None) -> None:
        """End a run whose task did not return (``failed`` with why, or ``cancelled``) with the records
        it stored."""
        steps = self.steps_done.get(run, 0)
        self.ended[run] = Ended(run, status, steps, None, error)
        if self.store is not None:
            self.store.finish_run(run, status, error=error if status == "failed" else None, steps_done=steps)


class RecorderSink(Sink):
    """A task's sink on the driver's own thread (the local backend): each message is written at
    once; setting ``stop`` ends the task before its next step.

    Example:
        >>> from explorer.runs.tasks import train_task
        >>> rec = Recorder(None); rec.add_run("a")
        >>> [e.status for e in train_task([("a", {"model": {"hidden": [8]}, "train": {"epochs": 1}})], RecorderSink(rec))]
        ['done']
        >>> rec.records["a"][-1]["epoch"]
        1.0
    """

    def __init__(self, recorder: Recorder, stop: threading.Event | None = None) -> None:
        self.recorder, self.stop = recorder, stop

    def send(self, message: Any) -> None:
        self.recorder.handle(message)

    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()
