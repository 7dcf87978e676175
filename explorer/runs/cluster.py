"""Tasks (`tasks.train_task`) on a Ray cluster, with this process as the driver and the only
writer of the run store.

Each task is one Ray task with its resource request (``RayOptions.cpus``, ``gpus``: a GPU or a
fraction of one). Workers send their messages to a small `relay.Relay` actor; the driver takes them from
it every 20 ms (``POLL``) and writes them through a `recorder.Recorder`, so the runs can be
followed live on the Runs page and in ``runs list`` like any other. A checkpoint (every
``checkpoint_every`` epochs) holds the worker until the driver has stored it; the relay keeps the
task's full trainer state beside it. A worker lost mid-task is retried by Ray (``max_retries``);
the retry resumes from the relay's last stored state, or from the start where there is none, and
the recorder drops what the retry sends again. Setting ``stop``, Ctrl-C, or a stop requested in the
store (the Runs page's Stop) cancels the tasks (``ray.cancel``) and marks their runs ``cancelled``
with what they stored. A task that fails, or whose worker is lost more often than Ray retries, ends
its runs ``failed`` with why.

Without ``address`` a local Ray instance is started (with ``local_cpus`` CPUs) and shut down at
the end; with one, the driver joins that cluster and leaves it running. Ray is imported only here.

Example (not run in the doctests: starting Ray takes seconds)::

    recorder = Recorder(store)
    run_tasks([Task("point-0", [(run_id, config)])], recorder, RayOptions(cpus=1))
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from explorer.runs import relay as relay_module
from explorer.runs.recorder import Recorder
from explorer.runs.tasks import Checkpoint, Sink, train_task

POLL = 0.02          # s between two looks at the relay and the tasks (a worker waits this long for a checkpoint to be stored)
HEARTBEAT_EVERY = 1.0  # s between two heartbeats of the runs still queued
CHECK_STOPS = 1.0    # s between two looks at the store's stop requests
CONFIRM_WAIT = 600.0  # s a worker waits for the driver to store its checkpoint before it gives up


class RayMissing(RuntimeError):
    """The Ray backend was asked for, and Ray is not installed."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how tasks run on Ray.

    ``address``: an existing cluster ("auto", "ray://head:10001", "10.0.0.1:6379"); None starts a
    local instance with ``local_cpus`` CPUs (None: all of this machine's). ``cpus`` and ``gpus``:
    each task's resource request (``gpus`` may be a fraction: 0.25 puts four tasks on a GPU).
    ``max_retries``: how often Ray runs a task again whose worker was lost. ``checkpoint_every``:
    epochs between stored checkpoints, the points a retry resumes from, and ``checkpoint_seconds``
    the least time between two (a checkpoint waits for the driver to store it: a lost worker
    costs at most about this much training, and short epochs do not pay a checkpoint each).

    Example:
        >>> RayOptions(gpus=0.5).gpus
        0.5
        >>> RayOptions(cpus=0)
        Traceback (most recent call last):
        ...
        ValueError: cpus (each task's CPUs) must be a number above 0, got 0
    """

    address: str | None = None
    cpus: float = 1.0
    gpus: float = 0.0
    max_retries: int = 3
    checkpoint_every: int = 1
    checkpoint_seconds: float = 60.0
    local_cpus: int | None = None

    def __post_init__(self) -> None:
        def number(name: str, value, low: float, strict: bool, what: str) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    value > low if strict else value >= low):
                raise ValueError(f"{name} ({what}) must be a number {'above' if strict else 'of at least'} "
                                 f"{low:g}, got {value!r}")

        number("cpus", self.cpus, 0, True, "each task's CPUs")
        number("gpus", self.gpus, 0, False, "each task's GPUs, or a fraction of one")
        number("checkpoint_seconds", self.checkpoint_seconds, 0, False, "the least time between two checkpoints")
        for name, low in (("max_retries", 0), ("checkpoint_every", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be a whole number of at least {low}, got {value!r}")
        if self.local_cpus is not None and (isinstance(self.local_cpus, bool) or not isinstance(self.local_cpus, int)
                                            or self.local_cpus < 1):
            raise ValueError(f"local_cpus must be a whole number of at least 1, got {self.local_cpus!r}")
        if self.address is not None and (not isinstance(self.address, str) or not self.address.strip()):
            raise ValueError(f"address must be a Ray address such as 'auto' or 'ray://head:10001', got {self.address!r}")


@dataclass
class Task:
    """One Ray task: ``runs`` ((run id, config) pairs, a grid point's seeds) under a ``key`` unique
    within the call."""
    key: str
    runs: list


def ray_module():
    """``ray``, or `RayMissing` saying how to install it."""
    try:
        import ray
    except ImportError as err:
        raise RayMissing("the Ray backend needs Ray: pip install 'ray==2.60.0' "
                         "(it is in requirements.txt)") from err
    return ray


def _get(ref, timeout: float = CONFIRM_WAIT):
    """``ray.get(ref)`` for a task that must keep its CPUs: a task blocked in ``ray.get`` or
    ``ray.wait`` lends them to the next pending task (measured: a third task started on a 2-CPU
    instance while a task waited for its relay), so this waits on the reference's future, which Ray
    completes from its own thread, and reads the value once it is there."""
    try:
        return ref.future().result(timeout)
    except TimeoutError:
        raise TimeoutError(f"no answer from the driver's relay within {timeout:g} s") from None


class RelaySink(Sink):
    """A worker's sink: messages go to the relay (`relay.Relay`) pickled, in order (one call each,
    not waited for); a checkpoint's trainer state goes beside it, and the checkpoint waits until
    the driver has stored it."""

    def __init__(self, relay) -> None:
        self.relay = relay
        self.last = None

    def send(self, message: Any) -> None:
        self.last = self.relay.put.remote(pickle.dumps(message))

    def checkpoint(self, message: Checkpoint) -> None:
        resume = None if message.resume is None else (message.task, message.step, message.resume)
        self.last = self.relay.put.remote(pickle.dumps(dataclasses.replace(message, resume=None)), resume)
        deadline = time.monotonic() + CONFIRM_WAIT
        while (_get(self.relay.stored.remote(message.task)) or -1) < message.step:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the driver did not store the checkpoint at step {message.step} "
                                   f"within {CONFIRM_WAIT:g} s")
            time.sleep(0.005)

    def resume_state(self, task: str) -> tuple[int, bytes] | None:
        return _get(self.relay.resume.remote(task))

    def flush(self) -> None:
        if self.last is not None:
            _get(self.last)  # the actor runs one caller's calls in order: all have arrived


def _remote_task(key: str, runs: list, relay, options: RayOptions) -> list:
    """What a Ray worker runs: the task, with torch using the CPUs it asked for."""
    from explorer.engine.device import use_threads

    use_threads(max(1, int(options.cpus)))
    return train_task(runs, RelaySink(relay), task=key, checkpoint_every=options.checkpoint_every,
                      checkpoint_seconds=options.checkpoint_seconds)


def run_tasks(tasks: Sequence[Task], recorder: Recorder, options: RayOptions = RayOptions(), *,
              stop: threading.Event | None = None, on_end: Callable[[str, str], None] | None = None) -> bool:
    """Run ``tasks`` on Ray, writing what they send through ``recorder``; return True if every
    task ran to its end, False if they were stopped. ``on_end(run, status)`` is called as each run
    ends. Ctrl-C cancels the tasks, marks their runs, shuts a local Ray down and is raised again."""
    ray = ray_module()
    with ray_session(options):
        return _run_on_relay(ray, tasks, recorder, options, stop, on_end)


def _run_on_relay(ray, tasks, recorder, options, stop, on_end) -> bool:
    """`run_tasks` on a running Ray: a relay for this call, the tasks, the driver's loop."""
    relay = None
    try:
        ray.cloudpickle.register_pickle_by_value(relay_module)  # its process needs neither explorer nor torch
        relay = ray.remote(num_cpus=0)(relay_module.Relay).remote()
        recorder.on_checkpoint = lambda task, step: relay.confirm.remote(task, step)
        remote = ray.remote(_remote_task).options(num_cpus=options.cpus, num_gpus=options.gpus,
                                                  max_retries=options.max_retries, retry_exceptions=False)
        flying = {remote.remote(t.key, [(run, _plain(c)) for run, c in t.runs], relay, options): t for t in tasks}
        return _drive(ray, relay, flying, recorder, stop, on_end)
    finally:
        if relay is not None:
            ray.kill(relay)


@contextlib.contextmanager
def ray_session(options: RayOptions = RayOptions()):
    """Ray for the duration of the block: the one already running, or the one of ``options``
    (`start_ray`), shut down at the end if this block started it. The sweep and reproduce enter it
    before they create their runs, so a cluster that cannot be reached leaves nothing queued.

    Example (not run: it starts Ray)::

        with ray_session(RayOptions(local_cpus=2)):
            run_tasks(tasks, recorder)
    """
    ray = ray_module()
    started = not ray.is_initialized()
    if started:
        start_ray(options)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def reachable(address: str, timeout: float = 5.0) -> None:
    """`ConnectionError` naming ``address`` if nothing answers there (``ray.init`` itself waits
    minutes on a wrong address). ``auto`` and ``local`` are left to Ray.

    Example:
        >>> reachable("127.0.0.1:1", timeout=1)
        Traceback (most recent call last):
        ...
        ConnectionError: --ray-address 127.0.0.1:1: nothing answers at 127.0.0.1 port 1 (is `ray start --head` running there, and the port open?)
    """
    target = address.removeprefix("ray://")
    if target in ("auto", "local") or ":" not in target:
        return
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return
    except ValueError:
        raise ConnectionError(f"--ray-address {address}: {port!r} is not a port number") from None
    except OSError:
        raise ConnectionError(f"--ray-address {address}: nothing answers at {host} port {port} "
                              "(is `ray start --head` running there, and the port open?)") from None


def start_ray(options: RayOptions = RayOptions()) -> None:
    """Join ``options.address`` (checked first with `reachable`), or start a local instance
    quietly (no dashboard) with ``options.local_cpus`` CPUs; `ray_session` does this for a block.
    Call ``ray.shutdown()`` when done.

    Example (not run: it starts Ray)::

        start_ray(RayOptions(local_cpus=2)); ...; ray.shutdown()
    """
    ray = ray_module()
    if options.address:
        reachable(options.address)
        ray.init(address=options.address, log_to_driver=False)
    else:
        cpus = options.local_cpus or os.cpu_count() or 1
        # the relay actor is one more worker process: without room for it, Ray stops an idle task
        # worker after each task, and the next task waits seconds for a new one to import torch
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False,
                 _system_config={"num_workers_soft_limit": cpus + 1})


def _plain(config) -> dict:
    """A config as a dict (it crosses to the workers as plain data)."""
    return config if isinstance(config, dict) else config.to_dict()


def _drive(ray, relay, flying: dict, recorder: Recorder, stop, on_end) -> bool:
    """The driver's loop: relay to store, finished tasks to final statuses, stops to cancels."""
    from ray.exceptions import RayError, RayTaskError, TaskCancelledError

    def drain() -> None:
        for blob in ray.get(relay.take.remote()):
            recorder.handle(pickle.loads(blob))  # noqa: S301 - our own workers' messages, as Ray itself pickles

    def ended(run: str, status: str, error: str | None = None) -> None:
        """A run whose task did not return: failed or cancelled, with what it stored."""
        recorder.fail(run, status, error)
        if on_end is not None:
            on_end(run, status)

    def returned(ends) -> None:
        """The runs of a task that returned, each with its own final status."""
        for end in ends:
            recorder.end(end)
            if on_end is not None:
                on_end(end.run, end.status)

    def cancel(refs) -> None:
        for ref in refs:
            ray.cancel(ref, force=True)
        finished = {}
        for ref in refs:  # wait until each is really gone, so nothing more arrives from it
            try:
                finished[ref] = ray.get(ref)  # it ended before the cancel reached it
            except RayError:  # cancelled, or failed on its way out: cancelled either way
                pass
        drain()
        for ref in refs:
            task = flying.pop(ref)
            if ref in finished:
                returned(finished[ref])
            else:
                for run, _ in task.runs:
                    ended(run, "cancelled")

    all_done = True
    looked = beat = 0.0
    try:
        while flying:
            if stop is not None and stop.is_set():
                cancel(list(flying))
                return False
            if recorder.store is not None and time.monotonic() - looked >= CHECK_STOPS:
                looked = time.monotonic()
                asked = recorder.store.stop_requests([run for t in flying.values() for run, _ in t.runs])
                stopping = [ref for ref, t in flying.items() if any(run in asked for run, _ in t.runs)]
                if stopping:
                    all_done = False
                    cancel(stopping)
                    continue
            done, _ = ray.wait(list(flying), num_returns=len(flying), timeout=POLL)
            drain()
            for ref in done:
                task = flying.pop(ref)
                try:
                    ends = ray.get(ref)
                except TaskCancelledError:
                    all_done = False
                    for run, _ in task.runs:
                        ended(run, "cancelled")
                    continue
                except RayTaskError as err:  # the task raised: its runs failed, with the task's error
                    cause = err.cause if getattr(err, "cause", None) is not None else err
                    for run, _ in task.runs:
                        ended(run, "failed", f"{type(cause).__name__}: {cause}".strip())
                    continue
                except RayError as err:  # its worker (or node) was lost more often than Ray retries
                    for run, _ in task.runs:
                        ended(run, "failed", f"its Ray worker was lost and the retries ran out ({type(err).__name__})")
                    continue
                drain()  # the task flushed before it returned: everything it sent is there
                returned(ends)
            queued = [run for t in flying.values() for run, _ in t.runs if recorder.starts.get(run, 0) == 0]
            if queued and recorder.store is not None and time.monotonic() - beat >= HEARTBEAT_EVERY:
                recorder.store.heartbeat(queued)
                beat = time.monotonic()
    except KeyboardInterrupt:
        cancel(list(flying))
        raise
    return all_done
