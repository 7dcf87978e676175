"""Background runs: a job manager that trains off the caller's thread and streams into the store.

`JobManager.submit` validates a config, stores the run as ``queued`` and returns a `RunHandle` at
once; at most ``max_concurrent`` runs train at a time, each on a worker thread, and the others wait
in a queue and know their place in it (`RunHandle.position`). Between every two training steps a
run looks at its controls, so pause, resume, single step and stop act within one step (and so
within one logging interval). A stopped run is ``cancelled`` with its records; a run whose loss
goes non-finite is ``diverged`` at that step; an exception inside a run makes it ``failed`` with the
error text; in every case the manager goes on with the queue.

When the store itself fails (a full disk, a lock held past the store's wait), the run ends
``failed`` with that error, and with the number of records it could not store: the final status is
a one-row update, which often still fits where a batch of records did not. If even that write
fails, the handle keeps the whole story (``error``, ``exception``) and `JobManager.close` tries the
write once more; failing that, the store marks the run ``interrupted`` when next opened, saying
that it recorded no cause rather than guessing one.

Metric records are buffered in memory and written by one flusher thread every ``flush_interval``
seconds (0.1 … 1, default 0.25): at most ten writes a second per run, and a record reaches the
store at most ``flush_interval`` seconds after it was logged, whatever the length of a step. The
same write carries the run's progress and heartbeat. Anyone can follow a run from another thread or
process with ``Store.open_run(id)``, and stop it from there with ``Store.request_stop(id)``: the
flusher looks for such requests once a second and stops those runs as `RunHandle.stop` would.

Why threads, not processes: a step spends its time inside PyTorch kernels, which release the GIL,
so runs on worker threads progress together; a thread starts at once, shares the already loaded
libraries and datasets, and needs no pickling of configs, records or errors between processes
(spawned processes, the only kind CUDA allows, take seconds each to import torch). A crash that kills
the process takes its runs with it; the store marks them ``interrupted`` when it is next opened.

Example:
    >>> import os, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "runs.sqlite")
    >>> with JobManager(path, max_concurrent=1) as jobs:
    ...     handle = jobs.submit({"model": {"hidden": [8]}, "train": {"epochs": 1}, "device": "cpu"})
    ...     handle.wait(timeout=60)
    'done'
    >>> view = Store(path).open_run(handle.id)   # from anywhere that has the id
    >>> view.status, len(view.metrics()) > 0, view.info.steps_done == view.info.total_steps
    ('done', True, True)
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import traceback
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from explorer.config import ConfigError, RunConfig
from explorer.runs.store import RunView, Store, StoreError

if TYPE_CHECKING:  # imported where a run is built: torch loads only when something trains
    from explorer.engine.trainer import Trainer

HEARTBEAT_EVERY = 1.0  # s between heartbeats of a run with nothing new to write
STOP_CHECK_EVERY = 1.0  # s between looks at the store for stop requests (`Store.request_stop`)


def _whole(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, got {value!r}")
    return value


class RunHandle:
    """The manager's grip on one run: its live status and progress, and its controls.

    ``status`` is one of the store's statuses; ``position`` is the run's place in the queue
    (1 = next to start) while queued, else None. `pause`, `resume`, `step` and `stop` return at
    once; the run obeys before its next training step. `wait` blocks until the run has its final
    status and returns it. `view` attaches a store reader (`store.RunView`).
    """

    def __init__(self, manager: JobManager, run_id: str, config: RunConfig, group: str | None,
                 on_metrics: Callable[[dict], None] | None, checkpoint_every: int | None = None) -> None:
        self.id = run_id
        self.config = config
        self.group = group
        self.checkpoint_every = checkpoint_every  # epochs between stored weights (None: at the end only)
        self._manager = manager
        self._on_metrics = on_metrics
        self._cond = threading.Condition()
        self._paused = False
        self._stop = False
        self._steps = 0          # single steps allowed while paused
        self._status = "queued"
        self._done = threading.Event()
        self._buffer: list[tuple[float, dict]] = []
        self._buffer_lock = threading.Lock()
        self._write_lock = threading.Lock()   # one writer of this run's records at a time
        self._last_write = 0.0
        self._sealed = False
        self._ending = False      # its final status is being written: no longer counted as active
        self._flush_error: StoreError | None = None
        self.steps_done = 0
        self.total_steps: int | None = None
        self.records = 0
        self.diverged_at: int | None = None
        self.error: str | None = None
        self.exception: BaseException | None = None
        self.notes: dict[str, str] = {}  # field: how the run differs from its config (`Trainer.notes`)

    def __repr__(self) -> str:
        return f"RunHandle({self.id!r}, status={self.status!r}, steps={self.steps_done}/{self.total_steps})"

    @property
    def status(self) -> str:
        return self._status

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    @property
    def held(self) -> bool:
        """Paused, or told to take a few steps and then wait (`step`): the controls' state, which a
        run shows in the store only once it has taken those steps."""
        return self._paused and not self._stop

    @property
    def position(self) -> int | None:
        return self._manager.position(self.id)

    # Controls -----------------------------------------------------------------------------

    def pause(self) -> None:
        """Hold the run before its next step (a queued run starts paused)."""
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        """Let a paused run go on."""
        with self._cond:
            self._paused, self._steps = False, 0
            self._cond.notify_all()

    def step(self, n: int = 1) -> None:
        """Pause the run and let it take ``n`` more training steps."""
        _whole(n, "n", 1)
        with self._cond:
            self._paused = True
            self._steps += n
            self._cond.notify_all()

    def stop(self) -> None:
        """Stop the run: it ends ``cancelled`` with the records it logged (a queued one never starts)."""
        if self._manager._dequeue(self):
            return
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> str | None:
        """Block until the run is final and return its status (None if ``timeout`` s passed first)."""
        return self._status if self._done.wait(timeout) else None

    def view(self) -> RunView:
        """A store reader attached to this run."""
        return self._manager.store.open_run(self.id)

    # Used by the manager's threads ----------------------------------------------------------

    def _collect(self, record: dict) -> None:
        """The trainer's ``on_metrics``: buffer the record with its wall time, then pass it on."""
        with self._buffer_lock:
            self._buffer.append((time.time(), record))
            self.records += 1
        if self._on_metrics is not None:
            self._on_metrics(record)

    def _finish(self, status: str, error: str | None = None) -> None:
        self.error = error
        self._status = status
        self._done.set()


_open_managers: weakref.WeakSet[JobManager] = weakref.WeakSet()


@atexit.register
def _stop_at_exit() -> None:
    """When the interpreter exits with runs still training (a script or notebook ends without
    `JobManager.close`), stop them, kept ``cancelled`` with their records, and join the threads:
    a worker thread still inside a torch kernel as the interpreter goes aborts the process
    ("terminate called without an active exception", status 134)."""
    for manager in list(_open_managers):
        try:
            manager.close(cancel=True)
        except StoreError as err:   # the store went first (a deleted folder): said, and the next one closed
            print(f"explorer: at exit, runs in {manager.store.path} could not be stopped cleanly: {err}",
                  file=sys.stderr)


class JobManager:
    """Runs trainings in the background, ``max_concurrent`` at a time, into a `Store`.

    ``store`` is a `Store` (left open at `close`) or a path (default: `store.default_path`; the
    manager opens and closes it, with ``store_timeout``: how long in all a write waits for another
    writer to let go of the store, `Store`'s ``timeout``). ``checkpoint_every`` (epochs) stores the weights and feedback
    matrices every so many epochs; they are always stored when a run ends, unless it failed.
    ``threads_per_run`` is how many threads torch's CPU kernels use in each run (default: the
    usable cores shared out among ``max_concurrent`` runs, `device.threads_per_run`), set on the
    worker threads only. Use it as a context manager, or call `close`.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> jobs = JobManager(os.path.join(folder.name, "runs.sqlite"), max_concurrent=1)
        >>> cfg = {"model": {"hidden": [8]}, "train": {"epochs": 1}, "device": "cpu"}
        >>> first, second = jobs.submit(cfg), jobs.submit(cfg)
        >>> second.position is not None   # waiting: 1 if the first has started, else 2
        True
        >>> second.stop(); second.wait(timeout=60)
        'cancelled'
        >>> jobs.close()
        >>> first.status
        'done'
    """

    def __init__(self, store: Store | str | os.PathLike | None = None, *, max_concurrent: int = 2,
                 flush_interval: float = 0.25, checkpoint_every: int | None = None,
                 threads_per_run: int | None = None, store_timeout: float | None = None) -> None:
        from explorer.engine.device import threads_per_run as share_cores

        _whole(max_concurrent, "max_concurrent", 1)
        if threads_per_run is not None:
            _whole(threads_per_run, "threads_per_run", 1)
        if (isinstance(flush_interval, bool) or not isinstance(flush_interval, (int, float))
                or not 0.1 <= flush_interval <= 1.0):
            raise ValueError(f"flush_interval must be between 0.1 and 1 seconds, got {flush_interval!r}")
        if checkpoint_every is not None:
            _whole(checkpoint_every, "checkpoint_every", 1)
        self._owns_store = not isinstance(store, Store)
        if isinstance(store, Store):
            if store_timeout is not None:
                raise ValueError("store_timeout goes with a store path; an open Store keeps its own timeout")
            self.store = store
        else:
            self.store = Store(store) if store_timeout is None else Store(store, timeout=store_timeout)
        self.max_concurrent = max_concurrent
        self.flush_interval = float(flush_interval)
        self.checkpoint_every = checkpoint_every
        self.threads_per_run = threads_per_run or share_cores(max_concurrent)
        self._lock = threading.Condition()
        self._queue: deque[RunHandle] = deque()
        self._active: dict[str, RunHandle] = {}
        self._handles: dict[str, RunHandle] = {}
        self._closing = False
        self._closed = threading.Event()
        self.peak_active = 0  # the most runs that trained at once
        self._unrecorded: dict[str, tuple[str, int | None]] = {}  # run: (error, steps) the store refused
        self._workers = [threading.Thread(target=self._work, name=f"explorer-run-{i}", daemon=True)
                         for i in range(max_concurrent)]
        self._flusher = threading.Thread(target=self._flush_loop, name="explorer-flush", daemon=True)
        for t in (*self._workers, self._flusher):
            t.start()
        _open_managers.add(self)

    def __enter__(self) -> JobManager:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(cancel=exc_type is not None)

    # Submitting ---------------------------------------------------------------------------

    def submit(self, config: RunConfig | Mapping, *, group: str | None = None,
               on_metrics: Callable[[dict], None] | None = None, checkpoint_every: int | None = None,
               paused: bool = False) -> RunHandle:
        """Validate ``config`` (`ConfigError` names the field), store it as a queued run, return its
        handle. ``on_metrics(record)`` is called on the run's thread with each record as it is logged.
        ``paused``: the run is held before its first step (until `RunHandle.step` or `resume`).
        ``checkpoint_every`` (epochs) overrides the manager's for this run: the Playground repaints
        its boundaries from weights stored every epoch, on the same manager as every other run."""
        if checkpoint_every is not None:
            _whole(checkpoint_every, "checkpoint_every", 1)
        cfg = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
        with self._lock:
            if self._closing:
                raise RuntimeError("this job manager is closed; start a new one to submit runs")
        run_id = self.store.create_run(cfg, group=group)
        handle = RunHandle(self, run_id, cfg, group, on_metrics,
                           self.checkpoint_every if checkpoint_every is None else checkpoint_every)
        handle._paused = paused  # before it is queued: pausing after would race its first steps
        with self._lock:
            if self._closing:
                self.store.finish_run(run_id, "cancelled")
                handle._finish("cancelled")
                raise RuntimeError("this job manager closed while the run was submitted; it was cancelled")
            self._handles[run_id] = handle
            self._queue.append(handle)
            self._lock.notify_all()
        return handle

    def submit_group(self, configs: Sequence[RunConfig | Mapping], *, label: str | None = None,
                     on_metrics: Callable[[dict], None] | None = None,
                     checkpoint_every: int | None = None, paused: bool = False) -> list[RunHandle]:
        """Runs started together to compare them (rules, usually): all must have the same seed, so
        they start from the same forward weights and see the same minibatches. They share a group id.

        Example:
            >>> import os, tempfile
            >>> folder = tempfile.TemporaryDirectory()
            >>> with JobManager(os.path.join(folder.name, "runs.sqlite")) as jobs:
            ...     runs = jobs.submit_group([{"algorithm": {"name": rule}, "model": {"hidden": [8]},
            ...                                "train": {"epochs": 1}, "device": "cpu"} for rule in ("bp", "dfa")])
            ...     [r.wait(timeout=60) for r in runs], runs[0].group == runs[1].group
            (['done', 'done'], True)
        """
        if isinstance(configs, (str, bytes, Mapping)) or not isinstance(configs, Sequence) or not configs:
            raise ValueError("configs must be a non-empty list of run configs")
        cfgs = []
        for i, c in enumerate(configs):
            try:
                cfgs.append(c if isinstance(c, RunConfig) else RunConfig.from_dict(c))
            except ConfigError as err:
                raise err.within(f"configs[{i}]") from err
        seeds = sorted({c.seed for c in cfgs})
        if len(seeds) > 1:
            raise ConfigError(f"seed: runs of a group share one seed (same forward weights, same minibatches); "
                              f"got seeds {', '.join(map(str, seeds))}", field="seed")
        group = self.store.create_group(cfgs[0].seed, label)
        return [self.submit(c, group=group, on_metrics=on_metrics, checkpoint_every=checkpoint_every, paused=paused)
                for c in cfgs]

    # Looking on ---------------------------------------------------------------------------

    def handle(self, run_id: str) -> RunHandle:
        """The handle of a run this manager was given; `KeyError` for any other id."""
        with self._lock:
            if run_id not in self._handles:
                raise KeyError(f"run {run_id!r} was not submitted to this job manager")
            return self._handles[run_id]

    def position(self, run_id: str) -> int | None:
        """1 for the next run to start, 2 for the one after…; None when not waiting."""
        with self._lock:
            for i, h in enumerate(self._queue):
                if h.id == run_id:
                    return i + 1
        return None

    def queued(self) -> list[str]:
        """Ids of the waiting runs, next first."""
        with self._lock:
            return [h.id for h in self._queue]

    def active(self) -> list[str]:
        """Ids of the runs on a worker (running or paused). A run leaves this list before its final
        status reaches the store, so whoever reads that status and then asks here finds it gone."""
        with self._lock:
            return [run_id for run_id, h in self._active.items() if not h._ending]

    def wait_all(self, timeout: float | None = None) -> bool:
        """Block until no run is queued or active; False if ``timeout`` s passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._queue or self._active:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def close(self, cancel: bool = False) -> None:
        """Finish every queued and active run (or, with ``cancel``, stop them: ``cancelled``),
        then stop the threads and close the store if the manager opened it."""
        with self._lock:
            if self._closed.is_set():
                return
            self._closing = True
            self._lock.notify_all()
            handles = list(self._queue) + list(self._active.values())
        if cancel:
            for h in handles:
                h.stop()
        for t in self._workers:
            t.join()
        self._closed.set()
        self._flusher.join()
        for run_id, (error, steps) in list(self._unrecorded.items()):  # one more try, the disk may have room
            try:
                self.store.finish_run(run_id, "failed", error=error, steps_done=steps)
                del self._unrecorded[run_id]
            except StoreError:
                pass  # still refused: the store will mark it interrupted, with no cause invented
        if self._owns_store:
            self.store.close()

    # The threads --------------------------------------------------------------------------

    def _dequeue(self, handle: RunHandle) -> bool:
        """Take a waiting run out of the queue as cancelled; False if it is not waiting."""
        with self._lock:
            if handle not in self._queue:
                return False
            self._queue.remove(handle)
            self._lock.notify_all()
        self.store.finish_run(handle.id, "cancelled")
        handle._finish("cancelled")
        return True

    def _work(self) -> None:
        from explorer.engine.allocator import release_freed_memory
        from explorer.engine.device import use_threads

        use_threads(self.threads_per_run)
        while True:
            with self._lock:
                while not self._queue and not self._closing:
                    self._lock.wait()
                if not self._queue:
                    return
                handle = self._queue.popleft()
                self._active[handle.id] = handle
                self.peak_active = max(self.peak_active, len(self._active))
            try:
                self._run(handle)
            finally:
                with self._lock:
                    del self._active[handle.id]
                    if not self._active and not self._queue:
                        # Nothing trains now: what the runs' steps kept goes back to the kernel,
                        # under the lock, so whoever `wait_all` wakes finds it already given back.
                        release_freed_memory()
                    self._lock.notify_all()

    def _run(self, handle: RunHandle) -> None:
        """Train one run to its end and give it its final status in the store."""
        import torch

        from explorer.engine.device import describe
        from explorer.engine.trainer import Trainer

        trainer = None
        store = self.store
        try:
            store.start_run(handle.id)
            handle._status = "running"
            trainer = Trainer(handle.config, on_metrics=handle._collect)
            handle.notes = dict(trainer.notes)
            handle.total_steps = trainer.total_steps
            store.update_progress(handle.id, steps_done=0, total_steps=trainer.total_steps,
                                  device=str(trainer.built.device), device_name=describe(trainer.built.device, threads=torch.get_num_threads()))
            snapshots = self._store_snapshots(handle, trainer, 0)
            stopped = False
            while not trainer.finished:
                if not self._next_step(handle, trainer):
                    stopped = True
                    break
                trainer.step()
                handle.steps_done = trainer.steps_done
                snapshots = self._store_snapshots(handle, trainer, snapshots)
                every = handle.checkpoint_every
                if (every and trainer.steps_done % trainer.steps_per_epoch == 0
                        and trainer.epoch % every == 0 and not trainer.finished):
                    store.save_checkpoint(handle.id, trainer.steps_done, trainer.built.model.state_dict())
                if handle._flush_error is not None:
                    raise handle._flush_error
            result = trainer.result()
            status = "cancelled" if stopped else result.status
            self._flush(handle, force=True, seal=True)
            store.save_checkpoint(handle.id, trainer.steps_done, trainer.built.model.state_dict())
            handle._ending = True
            store.finish_run(handle.id, status, diverged_at=result.diverged_at if status == "diverged" else None,
                             steps_done=trainer.steps_done, error=result.reason if status == "diverged" else None)
            handle.diverged_at = result.diverged_at if status == "diverged" else None
            handle._finish(status)
        except Exception as err:  # the run failed: record why, in the store and on the handle
            handle.exception = err
            self._record_failure(handle, err, None if trainer is None else trainer.steps_done)

    def _record_failure(self, handle: RunHandle, err: Exception, steps: int | None) -> None:
        """End a run ``failed`` with ``err``'s text: its buffered records first, then the status (a
        small update, tried even when the records could not be written, so that a full disk is
        recorded as the cause). What the store refuses is kept on the handle and retried at `close`."""
        text = "".join(traceback.format_exception_only(type(err), err)).strip()
        try:
            self._flush(handle, force=True, seal=True)
        except StoreError as flush_err:
            if not isinstance(err, StoreError):  # else the store's first error already says why
                text = f"{text}; then storing its records failed: {flush_err}"
        with handle._buffer_lock:
            lost = len(handle._buffer)  # left in the buffer by a failed write, now or before
        if lost:
            text = f"{text} ({lost} record{'s' if lost != 1 else ''} not stored)"
        handle._ending = True
        try:
            self.store.finish_run(handle.id, "failed", error=text, steps_done=steps)
        except StoreError as store_err:  # the store refuses even that: say so on the handle
            self._unrecorded[handle.id] = (text, steps)
            handle.exception = store_err
            text = (f"{text}; the store could not record this failure either" if isinstance(err, StoreError)
                    else f"{text}; and the store could not record it: {store_err}")
        handle._finish("failed", text)

    def _next_step(self, handle: RunHandle, trainer: Trainer) -> bool:
        """Wait while the run is paused (noting it in the store, and leaving the wait out of the
        trainer's clock: a record's ``time`` and a page's samples/s count training); False if it was stopped."""
        with handle._cond:
            hold = handle._paused and not handle._stop and handle._steps == 0
        if hold:
            held_since = time.perf_counter()
            self._flush(handle, force=True)
            self.store.set_status(handle.id, "paused")
            handle._status = "paused"
            with handle._cond:
                while handle._paused and not handle._stop and handle._steps == 0:
                    handle._cond.wait()
            trainer.leave_out(time.perf_counter() - held_since)
        with handle._cond:
            if handle._stop:
                return False
            if handle._paused:
                handle._steps -= 1
            resumed = not handle._paused and handle._status == "paused"
        if resumed:
            self.store.set_status(handle.id, "running")
            handle._status = "running"
        return True

    def _store_snapshots(self, handle: RunHandle, trainer, done: int) -> int:
        """Write the trainer's snapshots taken since the first ``done`` (the probe's inputs, labels
        and extras with the first)."""
        for snapshot in trainer.snapshots[done:]:
            if done == 0 and trainer.probe is not None:
                probe = trainer.probe
                self.store.set_probe(handle.id, {"x": probe.x, "y": probe.y, **probe.extras})
            self.store.add_snapshot(handle.id, snapshot)
            done += 1
        return done

    def _flush(self, handle: RunHandle, force: bool = False, seal: bool = False) -> None:
        """Write the run's buffered records with its progress and heartbeat. Without ``force`` (the
        flusher's timer) a run with nothing new is written only once every `HEARTBEAT_EVERY` s. A
        failed write keeps the records buffered and is raised on the run's thread. After a ``seal``
        (the run's last flush) the timer writes nothing more for the run."""
        with handle._write_lock:
            if handle._sealed:
                return
            handle._sealed = seal
            with handle._buffer_lock:
                batch, handle._buffer = handle._buffer, []
            now = time.time()
            if not batch and not force and now - handle._last_write < HEARTBEAT_EVERY:
                return
            try:
                self.store.append_metrics(handle.id, [r for _, r in batch], logged=[t for t, _ in batch],
                                          steps_done=handle.steps_done)
            except StoreError as err:
                with handle._buffer_lock:
                    handle._buffer[:0] = batch
                handle._flush_error = err
                if force:
                    raise
                return
            handle._last_write = now

    def _stop_requested(self, handles: Sequence[RunHandle]) -> None:
        """Stop the runs among ``handles`` that someone asked the store to stop (`Store.request_stop`,
        from a page or another process). A store that cannot be read now is asked again next time."""
        live = [h for h in handles if not h._stop and not h._ending and not h.finished]
        if not live:
            return
        try:
            asked = self.store.stop_requests([h.id for h in live])
        except StoreError:
            return
        for handle in live:
            if handle.id in asked:
                try:
                    handle.stop()
                except StoreError as err:  # a queued run left the queue; its "cancelled" could not be written
                    handle.exception = err
                    if not handle.finished:  # the store marks it interrupted when next opened
                        handle._finish("cancelled", f"stopped, but the store could not record it: {err}")

    def _flush_loop(self) -> None:
        beats = stops = 0.0
        while not self._closed.wait(self.flush_interval):
            with self._lock:
                running = list(self._active.values())
                queue = list(self._queue)
                waiting = [h.id for h in queue]
            if time.time() - stops >= STOP_CHECK_EVERY:
                self._stop_requested(running + queue)
                stops = time.time()
            for handle in running:
                if handle.status in ("running", "paused"):
                    self._flush(handle)
            if waiting and time.time() - beats >= HEARTBEAT_EVERY:
                try:
                    self.store.heartbeat(waiting)
                except StoreError as err:  # a queued run has no thread to raise it on: keep it on each
                    for run_id in waiting:
                        self._handles[run_id]._flush_error = err
                beats = time.time()
