"""A task: the runs of one grid point (its seeds, stacked into one network where they can be)
trained to the end, with everything worth keeping told to a `Sink` as messages.

The same task runs on the caller's thread (the local backend) and inside a Ray worker (the Ray
backend, `explorer.runs.cluster`); only the sink differs. The messages carry plain Python values
and bytes (tensors go through `store.tensors_to_bytes`), so they cross process and machine
boundaries as they are, and the driver that receives them (`recorder.Recorder`) is the only writer
of the run store.

Example:
    >>> told = ListSink()
    >>> cfg = {"model": {"hidden": [8]}, "train": {"epochs": 1}, "device": "cpu"}
    >>> ends = train_task([("a", cfg), ("b", {**cfg, "seed": 1})], told)
    >>> [(e.run, e.status) for e in ends]
    [('a', 'done'), ('b', 'done')]
    >>> sorted({type(m).__name__ for m in told.messages})
    ['Checkpoint', 'Records', 'Started']
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

FLUSH_EVERY = 0.25  # s between two sends of a task's buffered records (the job manager's cadence)


@dataclass
class Started:
    """A run's trainer is built (sent again by each retry of its task)."""
    run: str
    total_steps: int
    device: str
    device_name: str
    notes: dict = field(default_factory=dict)
    worker: str = ""   # host:pid of the process that trains it
    resumed: int | None = None  # the checkpoint's step a retry resumed from (None: from the start)


@dataclass
class Records:
    """Metric records logged since the last message, with their wall times and the steps done."""
    run: str
    records: list
    logged: list
    steps_done: int


@dataclass
class Checkpoint:
    """Each run's weights at an epoch's end (``weights``: run -> `tensors_to_bytes` blob) and the
    task's whole trainer state to resume from (``resume``), which a transport may keep aside."""
    task: str
    step: int
    weights: dict
    resume: bytes | None = None


@dataclass
class Snapshot:
    run: str
    epoch: int
    step: int
    layers: bytes


@dataclass
class Probe:
    run: str
    tensors: bytes


@dataclass
class Ended:
    """How a run ended (what the task returns, one per run)."""
    run: str
    status: str                 # done | diverged | cancelled
    steps_done: int
    diverged_at: int | None = None
    reason: str | None = None


class Sink:
    """Where a task's messages go. `send` may be asynchronous; `checkpoint` returns once the
    checkpoint is stored, so that a retried task can resume from it; `stopped` is asked between
    steps; `resume_state` is the state a retried task starts from (None: from the start)."""

    def send(self, message: Any) -> None:
        raise NotImplementedError

    def checkpoint(self, message: Checkpoint) -> None:
        self.send(message)

    def stopped(self) -> bool:
        return False

    def resume_state(self, task: str) -> tuple[int, bytes] | None:
        return None

    def flush(self) -> None:
        """Return once everything sent so far has arrived."""


class ListSink(Sink):
    """Keeps the messages in a list (tests, and a look at what a task says)."""

    def __init__(self) -> None:
        self.messages: list = []

    def send(self, message: Any) -> None:
        self.messages.append(message)


def stacks(configs: Sequence) -> bool:
    """Whether these runs (one grid point's seeds) train as one stacked network.

    Example:
        >>> from explorer.config import RunConfig
        >>> stacks([RunConfig.from_dict({"seed": s}) for s in (0, 1)]), stacks([RunConfig.from_dict({})])
        (True, False)
    """
    from explorer.engine.seeds import stackable

    return len(configs) > 1 and stackable(configs[0]) is None


def train_task(runs: Sequence[tuple[str, Mapping | Any]], sink: Sink, *, task: str = "task",
               checkpoint_every: int | None = 1, checkpoint_seconds: float = 0.0,
               progress: Callable[[int, int], None] | None = None) -> list[Ended]:
    """Train ``runs`` ((run id, config) pairs: one run, or the seeds of one grid point, which then
    train as one stacked network: `seeds.stackable`) to the end, telling ``sink`` as it goes;
    return how each ended. The weights are
    checkpointed every ``checkpoint_every`` epochs (None: at the end only), and no sooner than
    ``checkpoint_seconds`` after the last checkpoint (short epochs are not worth one each); where
    the sink holds a state of this ``task`` (a retry), training resumes from it."""
    from explorer.config import ConfigError, RunConfig
    from explorer.engine.seeds import stackable

    pairs = [(run, c if isinstance(c, RunConfig) else RunConfig.from_dict(c)) for run, c in runs]
    if not pairs:
        raise ValueError("runs: a task needs at least one (run id, config) pair")
    if len(pairs) > 1 and not stacks([c for _, c in pairs]):
        raise ConfigError(f"seeds cannot be stacked: {stackable(pairs[0][1])}; give each run its own task",
                          field="seeds")
    import os
    import socket

    import torch

    from explorer.engine.allocator import release_freed_memory
    from explorer.engine.device import describe
    from explorer.engine.seeds import SeedsTrainer
    from explorer.engine.trainer import Trainer
    from explorer.runs.store import tensors_from_bytes, tensors_to_bytes

    ids = [run for run, _ in pairs]
    buffers: list[list[tuple[float, dict]]] = [[] for _ in ids]

    def collect(*args) -> None:
        s, record = args if len(args) == 2 else (0, args[0])
        buffers[s].append((time.time(), record))

    trainer = (SeedsTrainer([c for _, c in pairs], on_metrics=collect) if len(pairs) > 1
               else Trainer(pairs[0][1], on_metrics=collect))
    resume = sink.resume_state(task)
    if resume is not None:
        trainer.restore(tensors_from_bytes(resume[1], f"resume state of task {task}"))
    device = trainer.built.device
    worker = f"{socket.gethostname()}:{os.getpid()}"
    for run in ids:
        sink.send(Started(run, trainer.total_steps, str(device), describe(device, threads=torch.get_num_threads()),
                          dict(trainer.notes), worker, None if resume is None else resume[0]))

    def flush() -> None:
        for s, run in enumerate(ids):
            if buffers[s]:
                batch, buffers[s] = buffers[s], []
                sink.send(Records(run, [r for _, r in batch], [t for t, _ in batch], trainer.steps_done))

    def store_weights() -> None:
        flush()
        model = trainer.built.model
        weights = {run: tensors_to_bytes(model.seed(s) if len(ids) > 1 else model.state_dict(), "weights")
                   for s, run in enumerate(ids)}
        state = None if trainer.finished else tensors_to_bytes(trainer.checkpoint_state(), "resume state")
        sink.checkpoint(Checkpoint(task, trainer.steps_done, weights, state))

    snapshots = _send_snapshots(trainer, ids, sink, 0)
    last = kept = time.monotonic()
    stopped = False
    while not trainer.finished:
        if sink.stopped():
            stopped = True
            break
        trainer.step()
        snapshots = _send_snapshots(trainer, ids, sink, snapshots)
        if progress is not None:
            progress(trainer.steps_done, trainer.total_steps)
        if (checkpoint_every and trainer.steps_done % trainer.steps_per_epoch == 0 and not trainer.finished
                and trainer.epoch % checkpoint_every == 0 and time.monotonic() - kept >= checkpoint_seconds):
            store_weights()
            last = kept = time.monotonic()
        elif time.monotonic() - last >= FLUSH_EVERY:
            flush()
            last = time.monotonic()
    store_weights()
    sink.flush()
    release_freed_memory()  # what the steps kept goes back to the kernel before the worker's next task
    ends = []
    for s, (run, result) in enumerate(zip(ids, trainer.results())):
        status = "cancelled" if stopped else result.status
        ends.append(Ended(run, status, trainer.steps_done, result.diverged_at if status == "diverged" else None,
                          result.reason if status == "diverged" else None))
    return ends


def _send_snapshots(trainer, ids: list[str], sink: Sink, done: int) -> int:
    """Send the trainer's snapshots taken since the first ``done`` (the probe with the first)."""
    from explorer.runs.store import tensors_to_bytes

    for snapshot in trainer.snapshots[done:]:
        if done == 0 and trainer.probe is not None:
            probe = trainer.probe
            sink.send(Probe(ids[0], tensors_to_bytes({"x": probe.x, "y": probe.y, **probe.extras}, "probe")))
        sink.send(Snapshot(ids[0], snapshot.epoch, snapshot.step, tensors_to_bytes(snapshot.layers, "snapshot")))
        done += 1
    return done
