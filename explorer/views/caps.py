"""Caps a host puts on a shared server: how long one run may train, and how many runs it takes at once.

The app may be a classroom's shared server, reached by links anyone can edit. Whoever hosts it sets
five caps (`Caps`), which the app reads (`load`) whenever it starts runs, from environment variables,
which win, or from a small TOML file (``$EXPLORER_CAPS``, else ``~/.explorer/caps.toml`` when it exists), section
``[caps]``:

==========================  ========================  ===============  ===========================
environment variable        TOML key                  default          what it caps
==========================  ========================  ===============  ===========================
``EXPLORER_MAX_STEPS``      ``max_steps``             2,000,000        training steps of one run
``EXPLORER_MAX_SECONDS``    ``max_seconds``           14,400 (4 h)     wall time of one run, paused
                                                                       time included
``EXPLORER_SESSION_RUNS``   ``session_runs``          60               runs one browser session
                                                                       has queued or training
``EXPLORER_TOTAL_RUNS``     ``total_runs``            240              runs queued or training on
                                                                       the server, all sessions
``EXPLORER_MAX_PAUSED``     ``max_paused``            900 (15 min)     time a paused run keeps its
                                                                       worker while others wait
==========================  ========================  ===============  ===========================

A run past ``max_steps`` is refused before it starts (`check_steps`, a `CapError` about
``train.epochs``, so the page tells it beside its epochs control); a start past a count is refused
(`check_counts`). A run still training when its wall time is up is stopped by the server's
`Guard` and kept as ``cancelled``, its error text saying which cap stopped it; so is a run left
paused (no step taken) for ``max_paused`` seconds while other runs wait in the queue, which is what a
closed tab leaves behind: a paused run holds its worker. Every refusal names
the cap and how the host raises it. The defaults let a laptop train any classroom setup (the Train
page's default is 11,000 steps; the Parity page's 60 runs fit one session), while no link can hold a
shared server for more than four hours a run.

Example:
    >>> caps = load(environ={"EXPLORER_MAX_STEPS": "1000"}, path=None)
    >>> caps.max_steps, caps.max_seconds
    (1000, 14400.0)
    >>> from explorer.config import RunConfig
    >>> check_steps([RunConfig.from_dict({"train": {"epochs": 100}})], caps)
    Traceback (most recent call last):
    ...
    explorer.views.caps.CapError: train.epochs: 100 epochs of 22 steps make 2,200 training steps; this server trains at most 1,000 steps per run (its host can raise EXPLORER_MAX_STEPS)
"""

from __future__ import annotations

import logging
import os
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from explorer.config import ConfigError, RunConfig


class CapError(ConfigError):
    """A run or a start past one of the server's caps; ``.field`` is the setting that reaches it
    (``train.epochs``), or None for a count of runs."""


class CapsFileError(ValueError):
    """The host's caps are not readable: the message names the variable or the file and the key."""


@dataclass(frozen=True)
class Caps:
    """The server's caps (see the module's table): steps and seconds per run, runs per session and
    in all (queued or training)."""

    max_steps: int = 2_000_000
    max_seconds: float = 4 * 3600.0
    session_runs: int = 60
    total_runs: int = 240
    max_paused: float = 900.0


# cap (its TOML key) -> (its environment variable, its type)
SOURCES = {"max_steps": ("EXPLORER_MAX_STEPS", int), "max_seconds": ("EXPLORER_MAX_SECONDS", float),
           "session_runs": ("EXPLORER_SESSION_RUNS", int), "total_runs": ("EXPLORER_TOTAL_RUNS", int),
           "max_paused": ("EXPLORER_MAX_PAUSED", float)}


def _positive(raw: object, where: str, kind: type) -> int | float:
    try:
        value = kind(raw) if not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        value = None
    if value is None or not value > 0 or value != value or value == float("inf"):
        raise CapsFileError(f"{where} must be a {'whole ' if kind is int else ''}number greater than 0, got {raw!r}")
    return value


def default_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """The caps file: ``$EXPLORER_CAPS``, else ``~/.explorer/caps.toml`` if it exists, else None."""
    environ = os.environ if environ is None else environ
    if environ.get("EXPLORER_CAPS"):
        return Path(environ["EXPLORER_CAPS"]).expanduser()
    home = Path.home() / ".explorer" / "caps.toml"
    return home if home.exists() else None


def load(environ: Mapping[str, str] | None = None, path: str | os.PathLike | None | bool = True) -> Caps:
    """The caps this server runs with: defaults, then the TOML file's ``[caps]`` (``path``; True:
    `default_file`; None: no file), then the environment variables. A value that is not a positive
    number, an unknown key or an unreadable file raise `CapsFileError` naming it.

    Example:
        >>> load(environ={"EXPLORER_SESSION_RUNS": "0"}, path=None)
        Traceback (most recent call last):
        ...
        explorer.views.caps.CapsFileError: EXPLORER_SESSION_RUNS must be a whole number greater than 0, got '0'
    """
    environ = os.environ if environ is None else environ
    values: dict[str, int | float] = {}
    file = default_file(environ) if path is True else (Path(path) if path else None)
    if file is not None:
        try:
            table = tomllib.loads(file.read_text(encoding="utf-8")).get("caps", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise CapsFileError(f"the caps file {file} cannot be read: {err}") from None
        if not isinstance(table, dict):
            raise CapsFileError(f"the caps file {file}: [caps] must be a table")
        for key, raw in table.items():
            if key not in SOURCES:
                raise CapsFileError(f"the caps file {file}: unknown key caps.{key} (known: {', '.join(SOURCES)})")
            values[key] = _positive(raw, f"caps.{key} in {file}", SOURCES[key][1])
    for key, (variable, kind) in SOURCES.items():
        if environ.get(variable, "").strip():
            values[key] = _positive(environ[variable].strip(), variable, kind)
    return Caps(**values)


def raise_words(cap: str) -> str:
    """How the host raises ``cap`` ("its host can raise EXPLORER_MAX_STEPS")."""
    return f"its host can raise {SOURCES[cap][0]}"


def steps_of(config: RunConfig) -> int:
    """The training steps ``config`` asks for, from its dataset's shape (nothing is loaded): whole
    batches of the training split, every epoch.

    Example:
        >>> steps_of(RunConfig.from_dict({"train": {"epochs": 3, "batch_size": 64}}))   # 1,438 digits to train on
        66
    """
    from explorer.data.shapes import shape_of

    return config.train.epochs * max(shape_of(config.data).train // config.train.batch_size, 0)


def check_steps(configs: Sequence[RunConfig], caps: Caps) -> None:
    """`CapError` about ``train.epochs`` if a config asks for more than ``caps.max_steps`` steps."""
    for config in configs:
        steps = steps_of(config)
        if steps > caps.max_steps:
            per_epoch = steps // config.train.epochs
            raise CapError(f"train.epochs: {config.train.epochs:,} epochs of {per_epoch:,} steps make {steps:,} "
                           f"training steps; this server trains at most {caps.max_steps:,} steps per run "
                           f"({raise_words('max_steps')})", field="train.epochs")


def check_counts(new: int, session: int, total: int, caps: Caps) -> None:
    """`CapError` if ``new`` more runs would take this session past ``caps.session_runs`` (it has
    ``session`` queued or training) or the server past ``caps.total_runs`` (``total`` in all).

    Example:
        >>> check_counts(9, 55, 100, Caps())
        Traceback (most recent call last):
        ...
        explorer.views.caps.CapError: 9 more runs would make 64 queued or training in this session; this server takes at most 60 per session (its host can raise EXPLORER_SESSION_RUNS); wait for some to end, or stop them
    """
    if session + new > caps.session_runs:
        raise CapError(f"{new} more run{'s' if new != 1 else ''} would make {session + new} queued or training in "
                       f"this session; this server takes at most {caps.session_runs} per session "
                       f"({raise_words('session_runs')}); wait for some to end, or stop them")
    if total + new > caps.total_runs:
        raise CapError(f"{new} more run{'s' if new != 1 else ''} would make {total + new} queued or training on "
                       f"this server, for every session together; it takes at most {caps.total_runs} "
                       f"({raise_words('total_runs')}); wait for some to end")


def stop_words(cap: str, caps: Caps) -> str:
    """The error text a run stopped by a cap keeps in the store."""
    if cap == "max_seconds":
        return (f"stopped by the server: it trained for its longest time, {caps.max_seconds:g} s "
                f"({raise_words('max_seconds')})")
    if cap == "max_paused":
        return (f"stopped by the server: it stayed paused for {caps.max_paused:g} s while other runs waited "
                f"for a worker ({raise_words('max_paused')})")
    return f"stopped by the server: it reached {caps.max_steps:,} steps ({raise_words('max_steps')})"


class Guard:
    """A thread that watches a job manager's runs on a worker and stops any past its wall time or
    its steps, or paused too long while others wait; the stopped run ends ``cancelled`` and its
    error text says which cap stopped it (`stop_words`). One per job manager (`guard`). ``clock``:
    seconds (tests may pass their own, and call `check` themselves with a long ``every``)."""

    def __init__(self, jobs, caps: Caps, every: float = 0.5, clock=time.monotonic) -> None:
        self.jobs, self.caps, self.every, self.clock = jobs, caps, every, clock
        self._seen: dict[str, float] = {}      # run id -> when it was first seen on a worker
        self._held: dict[str, tuple[int, float]] = {}  # paused run id -> (its steps, when first seen so)
        self._stopping: dict[str, str] = {}    # run id -> the cap it was stopped by, until it ends
        self._halt = threading.Event()
        self.stopped: dict[str, str] = {}      # run id -> the words recorded
        self.last_error: str | None = None     # why the last look failed, until one succeeds
        self._thread = threading.Thread(target=self._loop, name="explorer-caps", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._halt.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._halt.wait(self.every):
            try:
                self.check()
                self.last_error = None
            except Exception as err:   # noqa: BLE001 - a store hiccup must not end the guard; next round retries
                # kept and logged, not swallowed: a guard that keeps failing is a server without caps
                if self.last_error is None:
                    logging.getLogger(__name__).warning("the caps guard could not check the runs: %s", err)
                self.last_error = f"{type(err).__name__}: {err}"

    def check(self) -> None:
        """One look: stop runs past a cap, and record why for those that have ended since."""
        now = self.clock()
        active = set(self.jobs.active())
        waiting = bool(active) and bool(self.jobs.queued())
        for run_id in active:
            if run_id in self._stopping:
                continue
            start = self._seen.setdefault(run_id, now)
            handle = self.jobs.handle(run_id)
            cap = ("max_seconds" if now - start > self.caps.max_seconds else
                   "max_steps" if handle.steps_done > self.caps.max_steps else
                   "max_paused" if waiting and self._paused_for(handle, now) > self.caps.max_paused else None)
            if cap is not None:
                self._stopping[run_id] = cap
                handle.stop()
        for run_id, cap in list(self._stopping.items()):
            handle = self.jobs.handle(run_id)
            if not handle.finished:
                continue
            del self._stopping[run_id]
            if handle.status == "cancelled":   # it did not end otherwise in the meantime
                words = stop_words(cap, self.caps)
                self.jobs.store.finish_run(run_id, "cancelled", error=words, steps_done=handle.steps_done)
                self.stopped[run_id] = words
        for run_id in set(self._seen) - active - set(self._stopping):
            del self._seen[run_id]
            self._held.pop(run_id, None)

    def _paused_for(self, handle, now: float) -> float:
        """How long ``handle`` has been paused without taking a step (0 if it is not paused): a
        single step restarts the count, as a student stepping through a run is still there."""
        if handle.status != "paused":
            self._held.pop(handle.id, None)
            return 0.0
        steps, since = self._held.get(handle.id, (None, now))
        if steps != handle.steps_done:
            steps, since = handle.steps_done, now
        self._held[handle.id] = steps, since
        return now - since


_guards: dict[int, Guard] = {}
_guards_lock = threading.Lock()


def guard(jobs, caps: Caps) -> Guard:
    """The `Guard` of ``jobs`` (started on first use, one per job manager), watching for ``caps``
    from now on.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.jobs import JobManager
        >>> jobs = JobManager(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> guard(jobs, Caps()) is guard(jobs, Caps())
        True
        >>> jobs.close()
    """
    with _guards_lock:
        found = _guards.get(id(jobs))
        if found is None or found.jobs is not jobs:
            found = _guards[id(jobs)] = Guard(jobs, caps)
        found.caps = caps
        return found


__all__ = ["Caps", "CapError", "CapsFileError", "Guard", "SOURCES", "check_counts", "check_steps", "guard", "load",
           "raise_words", "steps_of", "stop_words"]
