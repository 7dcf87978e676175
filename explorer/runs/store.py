"""The run store: every run, its config, status, metric records, snapshots and checkpoints, in SQLite.

One file (``~/.explorer/runs.sqlite`` unless ``$EXPLORER_STORE`` or ``Store(path)`` says otherwise)
opened in WAL mode, so readers in other threads, processes and browser tabs see a run's records
while it trains. The file carries a schema version in its ``meta`` table and is brought up to date
by ``MIGRATIONS`` when opened. Tensors (snapshots, checkpoints of weights and feedback matrices)
are stored with ``torch.save`` and read with ``torch.load(weights_only=True)``, which never
unpickles arbitrary objects.

Every run records the process that owns it (host, pid, process start time) and a heartbeat; when a
store opens, runs still ``queued``, ``running`` or ``paused`` whose process has ended are marked
``interrupted``, and what they logged stays.

Faults are reported, never crash a reader and never lose what was stored: a run row that cannot be
read as written (a config that is not JSON, a column of the wrong type) is listed with
`RunInfo.damaged` and a `RunInfo.damage` that says what is wrong (its raw text kept in
``raw_config``); `RunInfo.problem` says that, or why a readable config does not validate, and
`RunInfo.run_config` raises `DamagedRun` naming the run and the field. Metric rows that are not JSON records are skipped and
counted (`Records.skipped`). A damaged blob (empty, truncated, not tensors) is a `StoreError` naming
the run and the checkpoint, snapshot or probe. A write that finds the store locked by another
writer waits with retries and jittered exponential backoff for up to ``Store(timeout=...)``
seconds in all; a full disk is said as such.

Example:
    >>> import os, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> store = Store(os.path.join(folder.name, "runs.sqlite"))
    >>> run = store.create_run({"model": {"hidden": [8]}, "train": {"epochs": 1}})
    >>> store.append_metrics(run, [{"step": 4, "train_loss": 2.1}, {"step": 8, "train_loss": 1.7}])
    >>> store.finish_run(run, "done")
    >>> view = store.open_run(run)
    >>> view.status, [r["step"] for r in view.metrics()]
    ('done', [4, 8])
    >>> store.close()
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
import random
import re
import secrets
import socket
import sqlite3
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from explorer.config import RunConfig

if TYPE_CHECKING:  # torch is imported where tensors are read or written: listing runs needs none
    import torch

APPLICATION = "explorer-runs"           # meta.application of every run store
STATUSES = ("queued", "running", "paused", "done", "diverged", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running", "paused")  # a process owns the run and may still change it
FINAL = ("done", "diverged", "failed", "cancelled", "interrupted")
STALE_AFTER = 30.0  # s without a heartbeat after which a run owned on another host counts as dead
WAIT = 30.0         # s a write waits in all, by default, for another writer to let go of the store
MAX_WAIT = 86400.0  # s, the longest wait a store accepts (SQLite counts its busy wait in int milliseconds)
ID_PATTERN = re.compile(r"[0-9a-f]{16}")


class StoreError(RuntimeError):
    """The run store cannot do what was asked; the message says why in plain words."""


class InvalidId(StoreError, ValueError):
    """A run or group id from outside (a URL, the command line) is malformed."""


class UnknownRun(StoreError, LookupError):
    """No run (or group) with this id is in the store."""


class DamagedRun(StoreError):
    """A stored run's config cannot be used: it is not JSON, not a mapping, or does not validate.
    ``run`` is the run's id, ``field`` the dotted config field at fault (``"config"`` when the whole
    text is unreadable)."""

    def __init__(self, message: str, *, run: str, field: str) -> None:
        super().__init__(message)
        self.run = run
        self.field = field


def default_path() -> Path:
    """``$EXPLORER_STORE`` if set, else ``~/.explorer/runs.sqlite``.

    Example:
        >>> default_path().name
        'runs.sqlite'
    """
    env = os.environ.get("EXPLORER_STORE")
    return Path(env).expanduser() if env else Path.home() / ".explorer" / "runs.sqlite"


def new_id() -> str:
    """A fresh random id: 16 lowercase hex characters (runs and groups alike).

    Example:
        >>> len(new_id()), check_id(new_id()) is not None
        (16, True)
    """
    return secrets.token_hex(8)


def check_id(value: Any, what: str = "run id") -> str:
    """``value`` if it is a well-formed id (16 lowercase hex characters), else `InvalidId`.

    Ids from URLs and the command line pass through here before they reach a query.

    Example:
        >>> check_id("3f9a0c1b2d4e5f60")
        '3f9a0c1b2d4e5f60'
        >>> check_id("1; DROP TABLE runs")
        Traceback (most recent call last):
        ...
        explorer.runs.store.InvalidId: run id must be 16 lowercase hex characters (like 3f9a0c1b2d4e5f60), got '1; DROP TABLE runs'
    """
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        shown = repr(value) if not isinstance(value, str) or len(value) <= 40 else repr(value[:40] + "…")
        raise InvalidId(f"{what} must be 16 lowercase hex characters (like 3f9a0c1b2d4e5f60), got {shown}")
    return value


# ----------------------------------------------------------------------------------------------
# Who owns a run: host, pid and the process's start time (so a reused pid is not mistaken for it).


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process from Linux's /proc; None where there is no /proc."""
    if not os.path.isdir("/proc/self"):
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return ("gone", "")
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], fields[19]


def process_token() -> str:
    """This process's start time as the kernel counts it ('' where unknown)."""
    stat = _proc_stat(os.getpid())
    return stat[1] if stat else ""


def owner_alive(host: str | None, pid: int | None, token: str | None, heartbeat: float | None,
                now: float | None = None) -> bool:
    """Whether the process that owns a run still lives: on this host, by its pid (and start time);
    on another host, by a heartbeat younger than `STALE_AFTER` seconds.

    Example:
        >>> owner_alive(socket.gethostname(), os.getpid(), process_token(), None)
        True
        >>> owner_alive("elsewhere", 1, "", heartbeat=0.0)
        False
    """
    now = time.time() if now is None else now
    if not _fits("time", heartbeat):
        heartbeat = None  # a damaged heartbeat: no sign of life
    if not _fits("int", pid) or not 0 < pid < 2**31:
        pid = None
    if host != socket.gethostname() or pid is None or os.name == "nt":
        return heartbeat is not None and now - heartbeat < STALE_AFTER
    stat = _proc_stat(pid)
    if stat is not None:
        state, start = stat
        return state not in ("gone", "Z", "X") and (not token or start == token)
    try:
        os.kill(pid, 0)  # signal 0: a check only, nothing is sent
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ----------------------------------------------------------------------------------------------
# Schema and migrations. MIGRATIONS[v] takes a store from version v to v + 1 inside one
# transaction; version 0 is an empty file. Append, never edit, once a version has shipped.


def _migrate_0_to_1(c: sqlite3.Connection) -> None:
    c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    c.execute("INSERT INTO meta VALUES ('application', ?)", (APPLICATION,))
    c.execute("""CREATE TABLE groups (
        id TEXT PRIMARY KEY, seed INTEGER NOT NULL, label TEXT, created REAL NOT NULL)""")
    statuses = ", ".join(f"'{s}'" for s in STATUSES)
    c.execute(f"""CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        group_id TEXT REFERENCES groups(id) ON DELETE CASCADE,
        config TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ({statuses})),
        diverged_at INTEGER,
        error TEXT,
        created REAL NOT NULL, started REAL, finished REAL, updated REAL NOT NULL,
        device TEXT, device_name TEXT, version TEXT NOT NULL,
        steps_done INTEGER NOT NULL DEFAULT 0, total_steps INTEGER, records INTEGER NOT NULL DEFAULT 0,
        owner_host TEXT, owner_pid INTEGER, owner_token TEXT, heartbeat REAL)""")
    c.execute("CREATE INDEX runs_by_group ON runs (group_id)")
    c.execute("CREATE INDEX runs_by_created ON runs (created)")
    c.execute("""CREATE TABLE metrics (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL, step INTEGER NOT NULL, logged REAL NOT NULL, record TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)) WITHOUT ROWID""")
    c.execute("""CREATE TABLE snapshots (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL, epoch INTEGER NOT NULL, step INTEGER NOT NULL, layers BLOB NOT NULL,
        PRIMARY KEY (run_id, seq))""")
    c.execute("""CREATE TABLE probes (
        run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE, tensors BLOB NOT NULL)""")
    c.execute("""CREATE TABLE checkpoints (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL, created REAL NOT NULL, state BLOB NOT NULL,
        PRIMARY KEY (run_id, step))""")


def _migrate_1_to_2(c: sqlite3.Connection) -> None:
    # When someone (a page, another process) asked the run's owner to stop it; NULL: never asked.
    c.execute("ALTER TABLE runs ADD COLUMN stop_requested REAL")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_0_to_1, _migrate_1_to_2]
_TABLES = {0: (), 1: ("meta", "groups", "runs", "metrics", "snapshots", "probes", "checkpoints")}  # by version
_TABLES[2] = _TABLES[1]  # version 2 added a column, no table


def schema_version() -> int:
    """The schema version this library writes: the number of migrations.

    Example:
        >>> schema_version() >= 1
        True
    """
    return len(MIGRATIONS)


# ----------------------------------------------------------------------------------------------
# Tensors in and out, never through pickle.


def tensors_to_bytes(tensors: Mapping[str, torch.Tensor], what: str = "tensors") -> bytes:
    """``{name: tensor}`` as bytes (``torch.save``), on the CPU, each tensor compacted.

    Example:
        >>> import torch
        >>> blob = tensors_to_bytes({"w": torch.ones(2, 3)})
        >>> tensors_from_bytes(blob)["w"].shape
        torch.Size([2, 3])
    """
    import torch

    if not isinstance(tensors, Mapping):
        raise ValueError(f"{what} must be a mapping of names to tensors, got {type(tensors).__name__}")
    out = {}
    for name, t in tensors.items():
        if not isinstance(name, str) or not isinstance(t, torch.Tensor):
            raise ValueError(f"{what}[{name!r}] must be a tensor under a string name, got {type(t).__name__}")
        out[name] = t.detach().to("cpu").clone()
    buf = io.BytesIO()
    torch.save(out, buf)
    return buf.getvalue()


def tensors_from_bytes(blob: bytes, what: str = "tensors") -> dict[str, torch.Tensor]:
    """The ``{name: tensor}`` of `tensors_to_bytes`, loaded with ``weights_only=True`` on the CPU:
    anything but plain tensors (a pickled object, a damaged blob) is a `StoreError` naming
    ``what``, never run.

    Example:
        >>> import torch
        >>> tensors_from_bytes(tensors_to_bytes({"w": torch.ones(2)})[:100], "checkpoint of run r at step 3")
        Traceback (most recent call last):
        ...
        explorer.runs.store.StoreError: checkpoint of run r at step 3 is damaged (100 bytes) and cannot be read: PytorchStreamReader failed reading zip archive: failed finding central directory
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise StoreError(f"{what} is damaged: the store holds {type(blob).__name__} there, not bytes")
    if not len(blob):
        raise StoreError(f"{what} is damaged: it is empty (0 bytes)")
    import torch

    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols: the reason below says it
            warnings.simplefilter("ignore")
            out = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception as err:  # EOFError, PytorchStreamReader's RuntimeError, UnpicklingError, ...
        reason = _load_error(err)
        if reason.startswith("Unsupported global"):
            raise StoreError(f"{what}: not a plain file of tensors; refused to load it ({reason})") from err
        raise StoreError(f"{what} is damaged ({len(blob)} bytes) and cannot be read: {reason}") from err
    if not isinstance(out, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in out.items()):
        raise StoreError(f"{what}: expected a mapping of names to tensors, found {type(out).__name__}")
    return out


def _busy(err: sqlite3.Error) -> bool:
    """The error says another connection holds a lock the operation needs (SQLITE_BUSY, _LOCKED)."""
    text = str(err)
    return "locked" in text or "busy" in text


def _load_error(err: Exception) -> str:
    """The useful sentence of an error from ``torch.load`` (its advice about ``weights_only=False``
    and its notes on miniz left out)."""
    text = str(err)
    unpickler = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    first = (unpickler.group(1) if unpickler else (text.strip().splitlines() or [""])[0]).strip()
    first = re.split(r"\. (?:This is an internal|Please use|Please file)", first)[0].rstrip(".")
    return first or type(err).__name__


# ----------------------------------------------------------------------------------------------


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunInfo:
    """One run's row: config (a dict), status, timestamps (Unix seconds), device, progress, owner;
    ``damage`` says what in the row could not be read as it was written (then ``damaged`` is true,
    ``config`` is ``{}`` and the stored text is in ``raw_config``), and ``problem`` why the config
    cannot be used: that damage, or the reason it does not validate (None when it can).

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> store = Store(os.path.join(folder.name, "runs.sqlite"))
        >>> info = store.get_run(store.create_run({"seed": 2}))
        >>> info.status, info.config["seed"], info.active, info.problem, sorted(info.to_dict())[:3]
        ('queued', 2, True, None, ['config', 'created', 'damaged'])
    """

    id: str
    group: str | None
    config: dict
    status: str
    diverged_at: int | None
    error: str | None
    created: float
    started: float | None
    finished: float | None
    updated: float
    device: str | None
    device_name: str | None
    version: str
    steps_done: int
    total_steps: int | None
    records: int
    owner_host: str | None
    owner_pid: int | None
    owner_token: str | None
    heartbeat: float | None
    stop_requested: float | None = None  # when a stop was asked for (`Store.request_stop`); None: never
    damage: str | None = None      # what in the row cannot be read as it was written (None: nothing)
    raw_config: str | None = None  # the stored config text, kept when it is not a JSON object
    _config_text: str | None = field(default=None, repr=False, compare=False)  # as stored: `problem`'s cache key

    @property
    def damaged(self) -> bool:
        """The row cannot be read as it was written (see ``damage``)."""
        return self.damage is not None

    @functools.cached_property
    def problem(self) -> str | None:
        """Why the run's config cannot be used as stored: the row's ``damage``, or the reason its
        config does not validate (checked when first asked); None when it can."""
        if self.damage is not None:
            return self.damage
        if self._config_text is not None and len(self._config_text) <= 65536:  # the cache keeps short texts only
            return _validation_problem(self._config_text)
        return _config_problem(self.config)

    @property
    def active(self) -> bool:
        """Still queued, running or paused."""
        return self.status in ACTIVE

    @property
    def finished_ok(self) -> bool:
        """Trained to its last step."""
        return self.status == "done"

    @property
    def progress(self) -> float | None:
        """Fraction of its steps done (None until the run has been built)."""
        return None if not self.total_steps else self.steps_done / self.total_steps

    def run_config(self) -> RunConfig:
        """The config as a `RunConfig` (validated again); `DamagedRun` naming the run and the field
        when the stored config is unreadable or does not validate.

        Example:
            >>> import os, tempfile
            >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
            >>> run = store.create_run({})
            >>> store.get_run(run).run_config().seed
            0
            >>> with sqlite3.connect(store.path) as c:
            ...     _ = c.execute("UPDATE runs SET config = ?", (json.dumps({"train": {"epochs": -1}}),))
            >>> info = store.get_run(run)
            >>> info.damaged, info.problem.startswith("its config does not validate: train.epochs")
            (False, True)
            >>> try:
            ...     info.run_config()
            ... except DamagedRun as err:
            ...     print(err.run == run, err.field, "|", str(err).split(": ", 1)[1])
            True train.epochs | its config does not validate: train.epochs must be at least 1, got -1
        """
        from explorer.config import ConfigError

        if self.damaged:
            raise DamagedRun(f"run {self.id}: {self.damage}", run=self.id,
                             field="config" if self.raw_config is not None else "row")
        try:
            return RunConfig.from_dict(self.config)
        except ConfigError as err:
            raise DamagedRun(f"run {self.id}: its config does not validate: {err}", run=self.id,
                             field=err.field or "config") from err

    def to_dict(self) -> dict:
        """A JSON-ready dict; times as ISO 8601 (UTC)."""
        return {"id": self.id, "group": self.group, "status": self.status, "config": self.config,
                "created": _iso(self.created), "started": _iso(self.started), "finished": _iso(self.finished),
                "updated": _iso(self.updated), "diverged_at": self.diverged_at, "error": self.error,
                "device": self.device, "device_name": self.device_name, "version": self.version,
                "steps_done": self.steps_done, "total_steps": self.total_steps, "records": self.records,
                "stop_requested": _iso(self.stop_requested), "problem": self.problem, "damaged": self.damaged,
                **({"raw_config": self.raw_config} if self.raw_config is not None else {})}


_RUN_COLUMNS = ("id, group_id, config, status, diverged_at, error, created, started, finished, updated, device, "
                "device_name, version, steps_done, total_steps, records, owner_host, owner_pid, owner_token, "
                "heartbeat, stop_requested")


# What each column of a run row must hold: (kind, value used in its place when it holds something else).
_COLUMN_KINDS = {"group_id": ("id", None), "diverged_at": ("int", None), "error": ("text", None),
                 "created": ("time", 0.0), "started": ("time", None), "finished": ("time", None),
                 "updated": ("time", 0.0), "device": ("text", None), "device_name": ("text", None),
                 "version": ("text", "?"), "steps_done": ("int", 0), "total_steps": ("int", None),
                 "records": ("int", 0), "owner_host": ("text", None), "owner_pid": ("int", None),
                 "owner_token": ("text", None), "heartbeat": ("time", None),
                 "stop_requested": ("time", None)}


def _fits(kind: str, value: Any) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "time":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
            and 0 <= value < 1e11  # a Unix time before the year 5138
    if kind == "id":
        return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None
    return isinstance(value, str)


def _config_problem(config: Mapping) -> str | None:
    """Why a config dict does not validate (None when it does)."""
    from explorer.config import ConfigError

    try:
        RunConfig.from_dict(config)
    except ConfigError as err:
        return f"its config does not validate: {err}"
    return None


@functools.lru_cache(maxsize=4096)
def _validation_problem(text: str) -> str | None:
    """`_config_problem` of a stored config's text, remembered: a page that lists the runs every
    second validates each config once."""
    return _config_problem(json.loads(text))


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _info(row: tuple) -> RunInfo:
    """A run row as a `RunInfo`, whatever the file holds: a config that is not a JSON object, or a
    column of the wrong type, makes a ``damaged`` row with its ``damage`` said (and never raises)."""
    names = [n.strip() for n in _RUN_COLUMNS.split(",")]
    values = dict(zip(names, row))
    problems: list[str] = []
    raw = values["config"]
    config: Any = None
    if isinstance(raw, str):
        try:
            config = json.loads(raw)
        except ValueError as err:
            problems.append(f"its config is not JSON ({err}); the stored text is kept in raw_config")
    else:
        problems.append(f"its config is {type(raw).__name__}, not JSON text")
    if not problems and not isinstance(config, dict):
        problems.append(f"its config is a JSON {type(config).__name__}, not an object of fields")
    raw_config = None
    if problems:
        raw_config = raw if isinstance(raw, str) else _shown(raw)
        config = {}
    status = values["status"]
    if status not in STATUSES:
        problems.append(f"its status {_shown(status)} is not one of {', '.join(STATUSES)}")
        status = "failed"  # a status no page knows: shown as a failure, the problem says why
    for name, (kind, fallback) in _COLUMN_KINDS.items():
        value = values[name]
        if value is None and fallback is None:
            continue
        if not _fits(kind, value):
            problems.append(f"its column {name} holds {_shown(value)}")
            values[name] = fallback
    return RunInfo(values["id"], values["group_id"], config, status, *(values[n] for n in names[4:]),
                   damage="; ".join(problems) or None, raw_config=raw_config,
                   _config_text=None if problems else raw)


class Records(list):
    """A list of metric records (or of `Store.metric_rows`' tuples) that also says how many stored
    rows were unreadable and left out (``skipped``: not JSON, or not a record with a whole-number
    ``step``) and the sequence number of the last row read, skipped or not (``last``).

    Example:
        >>> rows = Records([{"step": 1}], skipped=2, last=3)
        >>> rows == [{"step": 1}], rows.skipped, rows.last
        (True, 2, 3)
    """

    def __init__(self, items=(), *, skipped: int = 0, last: int = 0) -> None:
        super().__init__(items)
        self.skipped = skipped
        self.last = last


def _record(text: Any) -> dict | None:
    """A stored metric record, or None when the row does not hold one."""
    try:
        record = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    step = record.get("step")
    return record if isinstance(step, int) and not isinstance(step, bool) else None


@dataclass(frozen=True)
class GroupInfo:
    """Runs started together to compare rules: they share ``seed``."""

    id: str
    seed: int
    label: str | None
    created: float


def _store_path(path: str | os.PathLike | None) -> Path:
    """The run store's path, checked before SQLite sees it: a folder, a device or a pipe, a name the
    system refuses (too long, a NUL byte, an unknown ~user) is a `StoreError` that says so.

    Example:
        >>> _store_path("/dev/null")
        Traceback (most recent call last):
        ...
        explorer.runs.store.StoreError: run store /dev/null is not a regular file (a device, a pipe or a socket); give the path of an SQLite file
    """
    if path is None:
        try:
            path = default_path()
        except (RuntimeError, ValueError, OSError) as err:  # $EXPLORER_STORE names an unknown ~user
            raise StoreError(f"$EXPLORER_STORE ({os.environ.get('EXPLORER_STORE', '')[:200]!r}) is not a usable "
                             f"path ({err})") from err
    try:
        chosen = Path(path)
        if "\0" in str(chosen):
            raise ValueError("it holds a NUL character")
        chosen = chosen.expanduser()
        folder, exists, regular = chosen.is_dir(), chosen.exists(), chosen.is_file()
    except (OSError, RuntimeError, ValueError, TypeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise StoreError(f"run store {str(path)[:200]!r}: not a usable path ({reason})") from err
    if folder:
        raise StoreError(f"run store {chosen} is a folder; give the path of a file, e.g. {chosen / 'runs.sqlite'}")
    if exists and not regular:
        raise StoreError(f"run store {chosen} is not a regular file (a device, a pipe or a socket); "
                         "give the path of an SQLite file")
    return chosen


class Store:
    """The run store at ``path`` (default: `default_path`), safe to share between threads
    (each thread gets its own connection) and processes (WAL).

    ``timeout`` is how long, in seconds and in all, an operation waits for another writer (another
    process, or a thread of this one) to let go of the store: a write retries with jittered
    exponential backoff (5 ms doubling to 0.5 s) until then, and only then is it a `StoreError`
    that names the lock and the wait. The default, `WAIT` (30 s), outlasts any write of a live run
    and the pauses of a busy classroom server.

    Opening checks the file: one that is not SQLite, an SQLite database of something else, or a
    store from a newer schema is a `StoreError`; an older store is migrated. Then runs whose
    owning process has ended are marked ``interrupted`` (`recover`).

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> with Store(os.path.join(folder.name, "runs.sqlite")) as store:
        ...     run = store.create_run({"train": {"epochs": 1}})
        ...     store.get_run(run).status
        'queued'
    """

    def __init__(self, path: str | os.PathLike | None = None, *, timeout: float = WAIT) -> None:
        if (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                or not 0 <= timeout <= MAX_WAIT):
            raise ValueError(f"timeout must be a number of seconds from 0 to {MAX_WAIT:g} (a day), got {timeout!r}")
        self.timeout = float(timeout)
        self._local = threading.local()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._lock = threading.Lock()
        self._closed = False
        self.path = _store_path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"cannot create the folder of the run store {self.path}: {err.strerror}") from err
        try:
            self._open()
            self.recover()
        except BaseException:  # close what was opened, then let the error through
            self.close()
            raise

    # Connections and transactions ------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"the run store {self.path} is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                       check_same_thread=False)
            except sqlite3.Error as err:
                raise self._error(err, "opening") from err
            with self._lock:
                # Threads come and go (a web server may run each page refresh on a new one): close
                # the connections of threads that have ended, which nothing can be using any more.
                ended = [c for t, c in self._connections if not t.is_alive()]
                self._connections = [(t, c) for t, c in self._connections if t.is_alive()]
                self._connections.append((threading.current_thread(), conn))
            for c in ended:
                c.close()
            self._local.conn = conn
            try:
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable across process crashes
            except sqlite3.Error as err:
                raise self._error(err, "opening") from err
        return conn

    def _error(self, err: sqlite3.Error, action: str) -> StoreError:
        text = str(err)
        if _busy(err):
            return StoreError(f"the run store {self.path} is locked by another writer (waited {self.timeout:g} s "
                              f"while {action}); try again when it is done, or give a longer wait "
                              f"(Store(timeout=...))")
        if "full" in text:
            return StoreError(f"the disk holding the run store {self.path} is full ({text}, while {action}); "
                              f"free some space, or choose a store on another disk with --store / EXPLORER_STORE")
        if "malformed" in text:
            return StoreError(f"the run store {self.path} is damaged ({text}, while {action}); sqlite3's "
                              f"`.recover` command can copy out what is still readable, or choose another "
                              f"store with --store / EXPLORER_STORE")
        if "not a database" in text:
            return StoreError(f"{self.path} is not an explorer run store: the file is not an SQLite database "
                              f"(or is damaged): {text}")
        if "readonly" in text or "unable to open" in text:
            return StoreError(f"cannot write the run store {self.path} ({text}); check the file's permissions "
                              f"or choose another with --store / EXPLORER_STORE")
        return StoreError(f"run store {self.path}: {action} failed: {text}")

    def _begin_write(self, conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, retried while another writer holds the store: jittered exponential
        backoff (5 ms doubling to 0.5 s, each pause times 0.5 … 1.5) until ``timeout`` s have passed
        in all; then the last "locked" error goes through. SQLite's own busy wait is off meanwhile,
        so the wait is ours to pace, and back on (``timeout``) for the statements that follow."""
        start = time.monotonic()
        pause = 0.005
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as err:
                    left = self.timeout - (time.monotonic() - start)
                    if not _busy(err) or left <= 0:
                        raise
                time.sleep(min(left, pause * random.uniform(0.5, 1.5)))
                pause = min(pause * 2, 0.5)
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")

    @contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE) so it never deadlocks on upgrade,
        after waiting out another writer (`_begin_write`)."""
        conn = self._conn()
        try:
            self._begin_write(conn)
            try:
                yield conn
            except BaseException:  # undo the transaction, then let the error through
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # SQLite already rolled back (a full disk, an I/O error): the first error says why
            raise self._error(err, action) from err

    @contextmanager
    def _read(self, action: str) -> Iterator[sqlite3.Connection]:
        """One read transaction: a consistent snapshot while writers go on."""
        conn = self._conn()
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
        except sqlite3.Error as err:
            raise self._error(err, action) from err

    def _open(self) -> None:
        conn = self._conn()
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlite3.Error as err:
            raise self._error(err, "opening") from err
        with self._read("opening") as c:
            version = self._version(c)
        if version == schema_version():
            return
        with self._write("upgrading its schema") as c:
            version = self._version(c)  # again, under the write lock: another process may have done it
            for v in range(version, schema_version()):
                MIGRATIONS[v](c)
                c.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(v + 1),))

    def _version(self, c: sqlite3.Connection) -> int:
        tables = sorted(r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        if not tables:
            return 0
        meta = dict(c.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
        if meta.get("application") != APPLICATION:
            raise StoreError(f"{self.path} is an SQLite database but not an explorer run store (its tables: "
                             f"{', '.join(tables)}); choose another file with --store / EXPLORER_STORE")
        raw = meta.get("schema_version", "")
        if not isinstance(raw, str) or not raw.isdigit():
            raise StoreError(f"{self.path}: the run store's schema version is unreadable ({raw!r})")
        version = int(raw)
        if version > schema_version():
            raise StoreError(f"{self.path} was written by a newer explorer (store schema version {version}; this "
                             f"explorer reads up to {schema_version()}); upgrade explorer to open it")
        missing = [t for t in _TABLES[min(version, max(_TABLES))] if t not in tables]
        if missing:
            raise StoreError(f"{self.path}: the run store is damaged: its table{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(missing)} {'are' if len(missing) > 1 else 'is'} missing")
        return version

    def close(self) -> None:
        """Close every thread's connection; using the store afterwards is a `StoreError`."""
        self._closed = True
        with self._lock:
            connections, self._connections = self._connections, []
        for _, conn in connections:
            conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # Runs ----------------------------------------------------------------------------------

    def create_group(self, seed: int, label: str | None = None) -> str:
        """A new group of runs sharing ``seed``; returns its id.

        Example:
            >>> import os, tempfile
            >>> folder = tempfile.TemporaryDirectory()
            >>> store = Store(os.path.join(folder.name, "runs.sqlite"))
            >>> g = store.create_group(seed=3, label="bp vs dfa")
            >>> store.get_group(g).seed
            3
        """
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a whole number of at least 0, got {seed!r}")
        if label is not None and not isinstance(label, str):
            raise ValueError(f"label must be text, got {type(label).__name__}")
        group = new_id()
        with self._write("creating a group") as c:
            c.execute("INSERT INTO groups VALUES (?, ?, ?, ?)", (group, seed, label, time.time()))
        return group

    def get_group(self, group_id: str) -> GroupInfo:
        """The group with this id; `UnknownRun` if there is none."""
        check_id(group_id, "group id")
        with self._read("reading a group") as c:
            row = c.execute("SELECT id, seed, label, created FROM groups WHERE id = ?", (group_id,)).fetchone()
        if row is None:
            raise UnknownRun(f"no group {group_id} in {self.path}")
        return GroupInfo(*row)

    def create_run(self, config: RunConfig | Mapping, *, group: str | None = None) -> str:
        """Store a new ``queued`` run owned by this process; returns its id. The config is
        validated first (`ConfigError`); in a group it must have the group's seed.

        Example:
            >>> import os, tempfile
            >>> folder = tempfile.TemporaryDirectory()
            >>> store = Store(os.path.join(folder.name, "runs.sqlite"))
            >>> g = store.create_group(seed=0)
            >>> run = store.create_run({"algorithm": {"name": "dfa"}}, group=g)
            >>> store.get_run(run).group == g
            True
        """
        from explorer._version import __version__
        from explorer.config import ConfigError

        cfg = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
        if group is not None:
            seed = self.get_group(group).seed
            if cfg.seed != seed:
                raise ConfigError(f"seed: runs of group {group} share seed {seed}; this config has seed {cfg.seed}",
                                  field="seed")
        run = new_id()
        now = time.time()
        with self._write("creating a run") as c:
            c.execute("INSERT INTO runs (id, group_id, config, status, created, updated, version, owner_host, "
                      "owner_pid, owner_token, heartbeat) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
                      (run, group, json.dumps(cfg.to_dict()), now, now, __version__, socket.gethostname(),
                       os.getpid(), process_token(), now))
        return run

    def _update(self, run_id: str, action: str, sql: str, args: Sequence) -> None:
        check_id(run_id)
        with self._write(action) as c:
            if c.execute(f"UPDATE runs SET {sql} WHERE id = ?", (*args, run_id)).rowcount == 0:
                raise UnknownRun(f"no run {run_id} in {self.path}")

    def start_run(self, run_id: str) -> None:
        """Mark a run ``running``, owned by this process, started now."""
        now = time.time()
        self._update(run_id, "starting a run", "status = 'running', started = ?, updated = ?, heartbeat = ?, "
                     "owner_host = ?, owner_pid = ?, owner_token = ?",
                     (now, now, now, socket.gethostname(), os.getpid(), process_token()))

    def update_progress(self, run_id: str, *, steps_done: int | None = None, total_steps: int | None = None,
                        device: str | None = None, device_name: str | None = None) -> None:
        """Set the given progress fields (and the heartbeat)."""
        fields = {"steps_done": steps_done, "total_steps": total_steps, "device": device, "device_name": device_name}
        given = {k: v for k, v in fields.items() if v is not None}
        now = time.time()
        sets = "".join(f"{k} = ?, " for k in given)
        self._update(run_id, "updating a run", f"{sets}updated = ?, heartbeat = ?", (*given.values(), now, now))

    def set_status(self, run_id: str, status: str) -> None:
        """Move an active run between ``queued``, ``running`` and ``paused``."""
        if status not in ACTIVE:
            raise ValueError(f"status must be one of {', '.join(ACTIVE)} (final ones go through finish_run), "
                             f"got {status!r}")
        now = time.time()
        self._update(run_id, "changing a run's status", "status = ?, updated = ?, heartbeat = ?", (status, now, now))

    def finish_run(self, run_id: str, status: str, *, diverged_at: int | None = None,
                   error: str | None = None, steps_done: int | None = None) -> None:
        """Give a run its final status: ``done``, ``diverged`` (at step ``diverged_at``), ``failed``
        (with the ``error`` text), ``cancelled`` or ``interrupted``."""
        if status not in FINAL:
            raise ValueError(f"status must be one of {', '.join(FINAL)}, got {status!r}")
        if (status == "diverged") != (diverged_at is not None):
            raise ValueError("diverged_at must be given exactly when status is 'diverged'")
        if status == "failed" and not error:
            raise ValueError("error: a failed run needs its error text")
        now = time.time()
        extra = "" if steps_done is None else "steps_done = ?, "
        args = () if steps_done is None else (steps_done,)
        self._update(run_id, "finishing a run", f"{extra}status = ?, diverged_at = ?, error = ?, finished = ?, "
                     "updated = ?, heartbeat = ?", (*args, status, diverged_at, error, now, now, now))

    def request_stop(self, run_id: str) -> bool:
        """Ask the process that owns an active (queued, running or paused) run to stop it: the
        request is written into the run's row (``stop_requested``, the time asked) and that process
        (a `jobs.JobManager`, whichever process it lives in) reads it within a second or two and
        stops the run, which ends ``cancelled`` with its records. True when asked; False, writing
        nothing, when the run has already ended. `InvalidId` for a malformed id, `UnknownRun` for
        one not in the store. Asking again keeps the first request's time.

        Example:
            >>> import os, tempfile
            >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
            >>> run = store.create_run({})
            >>> store.request_stop(run), run in store.stop_requests([run])
            (True, True)
            >>> store.finish_run(run, "cancelled")
            >>> store.request_stop(run)          # already ended: nothing to stop
            False
        """
        check_id(run_id)
        active = ", ".join(f"'{s}'" for s in ACTIVE)
        with self._write("asking a run to stop") as c:
            changed = c.execute(f"UPDATE runs SET stop_requested = COALESCE(stop_requested, ?) "
                                f"WHERE id = ? AND status IN ({active})", (time.time(), run_id)).rowcount
            if not changed:
                self._require(c, run_id)
        return bool(changed)

    def stop_requests(self, run_ids: Sequence[str]) -> set[str]:
        """Which of these runs someone has asked to stop (`request_stop`), in one query.

        Example:
            >>> import os, tempfile
            >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
            >>> a, b = store.create_run({}), store.create_run({})
            >>> _ = store.request_stop(b)
            >>> store.stop_requests([a, b]) == {b}, store.stop_requests([])
            (True, set())
        """
        if isinstance(run_ids, str):
            raise ValueError("run_ids must be a list of run ids, not one id")
        ids = list(dict.fromkeys(check_id(r) for r in run_ids))
        if not ids:
            return set()
        with self._read("reading stop requests") as c:
            # One query: the ids go in as a JSON array (no limit on how many, unlike SQL parameters).
            rows = c.execute("SELECT id FROM runs WHERE id IN (SELECT value FROM json_each(?)) "
                             "AND stop_requested IS NOT NULL", (json.dumps(ids),)).fetchall()
        return {row[0] for row in rows}

    def heartbeat(self, run_ids: Sequence[str]) -> None:
        """Note that the owners of these runs are alive (one write for all)."""
        ids = [check_id(r) for r in run_ids]
        if ids:
            now = time.time()
            with self._write("writing a heartbeat") as c:
                c.executemany("UPDATE runs SET heartbeat = ? WHERE id = ?", [(now, r) for r in ids])

    def append_metrics(self, run_id: str, records: Sequence[Mapping], *, logged: Sequence[float] | None = None,
                       steps_done: int | None = None) -> None:
        """Append metric records (each a JSON-able dict with an integer ``step``) after those stored,
        in one transaction; ``logged`` gives each one's wall time (default: now). Also the heartbeat
        and, if given, the steps done. NaN and infinities are kept as such.

        Example:
            >>> import os, tempfile
            >>> folder = tempfile.TemporaryDirectory()
            >>> store = Store(os.path.join(folder.name, "runs.sqlite"))
            >>> run = store.create_run({})
            >>> store.append_metrics(run, [{"step": 1, "loss": float("nan")}])
            >>> store.metrics(run)
            [{'step': 1, 'loss': nan}]
        """
        check_id(run_id)
        now = time.time()
        logged = [now] * len(records) if logged is None else list(logged)
        if len(logged) != len(records):
            raise ValueError(f"logged: {len(logged)} times for {len(records)} records")
        rows = []
        for i, record in enumerate(records):
            if not isinstance(record, Mapping):
                raise ValueError(f"records[{i}] must be a dict, got {type(record).__name__}")
            step = record.get("step")
            if isinstance(step, bool) or not isinstance(step, int):
                raise ValueError(f"records[{i}].step must be a whole number, got {step!r}")
            try:
                text = json.dumps(record)
            except (TypeError, ValueError) as err:
                raise ValueError(f"records[{i}] is not JSON-able: {err}") from err
            rows.append((step, logged[i], text))
        with self._write("writing metrics") as c:
            last = c.execute("SELECT records FROM runs WHERE id = ?", (run_id,)).fetchone()
            if last is None:
                raise UnknownRun(f"no run {run_id} in {self.path}")
            c.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)",
                          [(run_id, last[0] + 1 + i, *row) for i, row in enumerate(rows)])
            extra = "" if steps_done is None else ", steps_done = ?"
            c.execute(f"UPDATE runs SET records = records + ?, updated = ?, heartbeat = ?{extra} WHERE id = ?",
                      (len(rows), now, now, *(() if steps_done is None else (steps_done,)), run_id))

    def add_snapshot(self, run_id: str, snapshot) -> None:
        """Store a `representations.Snapshot` (epoch, step, {layer: activations})."""
        check_id(run_id)
        blob = tensors_to_bytes(snapshot.layers, "snapshot.layers")
        with self._write("writing a snapshot") as c:
            self._require(c, run_id)
            seq = c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM snapshots WHERE run_id = ?", (run_id,)).fetchone()[0]
            c.execute("INSERT INTO snapshots VALUES (?, ?, ?, ?, ?)", (run_id, seq, snapshot.epoch, snapshot.step, blob))

    def set_probe(self, run_id: str, tensors: Mapping[str, torch.Tensor]) -> None:
        """Store the probe set of a run's snapshots (``{"x": inputs, "y": labels, "slot_digits": ...}``)."""
        check_id(run_id)
        blob = tensors_to_bytes(tensors, "probe")
        with self._write("writing a probe") as c:
            self._require(c, run_id)
            c.execute("INSERT OR REPLACE INTO probes VALUES (?, ?)", (run_id, blob))

    def save_checkpoint(self, run_id: str, step: int, state_dict: Mapping[str, torch.Tensor]) -> None:
        """Store a model's ``state_dict()`` (weights and buffers such as feedback matrices) at ``step``.

        Example:
            >>> import os, tempfile
            >>> folder = tempfile.TemporaryDirectory()
            >>> store = Store(os.path.join(folder.name, "runs.sqlite"))
            >>> run = store.create_run({})
            >>> import torch
            >>> store.save_checkpoint(run, 10, torch.nn.Linear(3, 2).state_dict())
            >>> sorted(store.checkpoint(run))
            ['bias', 'weight']
        """
        check_id(run_id)
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step must be a whole number of at least 0, got {step!r}")
        blob = tensors_to_bytes(state_dict, "state_dict")
        with self._write("writing a checkpoint") as c:
            self._require(c, run_id)
            c.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?)", (run_id, step, time.time(), blob))

    def _require(self, c: sqlite3.Connection, run_id: str) -> None:
        if c.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise UnknownRun(f"no run {run_id} in {self.path}")

    def delete_run(self, run_id: str) -> None:
        """Delete a run with its metrics, snapshots and checkpoints. A run still owned by a live
        process is refused (stop it first)."""
        info = self.get_run(run_id)
        if info.active and owner_alive(info.owner_host, info.owner_pid, info.owner_token, info.heartbeat):
            raise StoreError(f"run {run_id} is {info.status} in process {info.owner_pid} on {info.owner_host}; "
                             "stop it before deleting it")
        with self._write("deleting a run") as c:
            c.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def delete_group(self, group_id: str) -> int:
        """Delete a group and all its runs (none may be live); returns how many runs went."""
        self.get_group(group_id)
        runs = self.list_runs(group=group_id)
        for info in runs:
            if info.active and owner_alive(info.owner_host, info.owner_pid, info.owner_token, info.heartbeat):
                raise StoreError(f"run {info.id} of group {group_id} is {info.status}; stop it before deleting the group")
        with self._write("deleting a group") as c:
            c.execute("DELETE FROM groups WHERE id = ?", (group_id,))
        return len(runs)

    def recover(self) -> list[str]:
        """Mark ``interrupted`` every queued, running or paused run whose owning process has ended;
        returns their ids. Their records, snapshots and checkpoints stay. (Called on opening.)"""
        with self._read("looking for interrupted runs") as c:
            rows = c.execute("SELECT id, owner_host, owner_pid, owner_token, heartbeat FROM runs "
                             "WHERE status IN ('queued', 'running', 'paused')").fetchall()
        now = time.time()
        dead = [row[0] for row in rows if not owner_alive(*row[1:], now=now)]
        if not dead:
            return []
        with self._write("marking interrupted runs") as c:
            for run in dead:
                row = c.execute("SELECT status, owner_host, owner_pid, owner_token, heartbeat, steps_done, "
                                "updated FROM runs WHERE id = ?", (run,)).fetchone()
                if row is None or row[0] not in ACTIVE or owner_alive(*row[1:5], now=now):
                    continue  # changed since we looked
                # What the store knows, no more: the process is gone and the run has no final status.
                # Why (a crash, a kill, a full disk that refused the final write) it cannot tell.
                last = f", last written {_iso(row[6])}" if _fits("time", row[6]) else ""
                error = (f"its process (pid {row[2]} on {row[1]}) ended while the run was {row[0]}, "
                         f"after step {row[5]}{last}; it recorded no cause")
                c.execute("UPDATE runs SET status = 'interrupted', error = ?, finished = ?, updated = ? WHERE id = ?",
                          (error, now, now, run))
        return dead

    # Reading -------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunInfo:
        """The run's row; `InvalidId` for a malformed id, `UnknownRun` if absent."""
        check_id(run_id)
        with self._read("reading a run") as c:
            row = c.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise UnknownRun(f"no run {run_id} in {self.path}")
        return _info(row)

    def list_runs(self, *, group: str | None = None, status: str | None = None,
                  limit: int | None = None) -> list[RunInfo]:
        """Runs, newest first; only a group's or a status's if given.

        Example:
            >>> import os, tempfile
            >>> folder = tempfile.TemporaryDirectory()
            >>> store = Store(os.path.join(folder.name, "runs.sqlite"))
            >>> a, b = store.create_run({}), store.create_run({})
            >>> [r.id for r in store.list_runs()] == [b, a]
            True
        """
        where, args = [], []
        if group is not None:
            where.append("group_id = ?")
            args.append(check_id(group, "group id"))
        if status is not None:
            if status not in STATUSES:
                raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
            where.append("status = ?")
            args.append(status)
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC, rowid DESC"
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValueError(f"limit must be a whole number of at least 1, got {limit!r}")
            sql += f" LIMIT {limit}"
        with self._read("listing runs") as c:
            return [_info(row) for row in c.execute(sql, args)]

    def metrics(self, run_id: str, *, after: int = 0) -> Records:
        """The run's metric records in the order logged; only those after the first ``after``.
        Rows that do not hold a record are left out and counted (`Records`)."""
        rows = self.metric_rows(run_id, after=after)
        return Records([record for _, _, record in rows], skipped=rows.skipped, last=rows.last)

    def metric_rows(self, run_id: str, *, after: int = 0) -> Records:
        """(sequence number from 1, wall time logged, record) of the records after the first ``after``;
        a row that is not a JSON record with a whole-number ``step`` is skipped and counted, a wall
        time that is not a number is None.

        Example:
            >>> import os, tempfile
            >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
            >>> run = store.create_run({})
            >>> store.append_metrics(run, [{"step": 1}, {"step": 2}, {"step": 3}])
            >>> with sqlite3.connect(store.path) as c:
            ...     _ = c.execute("UPDATE metrics SET record = '{not json' WHERE seq = 2")
            >>> rows = store.metrics(run)
            >>> rows, rows.skipped, rows.last
            ([{'step': 1}, {'step': 3}], 1, 3)
        """
        check_id(run_id)
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ValueError(f"after must be a whole number of at least 0, got {after!r}")
        with self._read("reading metrics") as c:
            rows = c.execute("SELECT seq, logged, record FROM metrics WHERE run_id = ? AND seq > ? ORDER BY seq",
                             (run_id, after)).fetchall()
        out = Records(last=rows[-1][0] if rows else after)
        for seq, logged, text in rows:
            record = _record(text)
            if record is None:
                out.skipped += 1
                continue
            out.append((seq, logged if _fits("time", logged) else None, record))
        return out

    def snapshots(self, run_id: str):
        """The run's snapshots (`representations.Snapshot`), in the order taken."""
        from explorer.engine.representations import Snapshot

        check_id(run_id)
        with self._read("reading snapshots") as c:
            rows = c.execute("SELECT epoch, step, layers FROM snapshots WHERE run_id = ? ORDER BY seq",
                             (run_id,)).fetchall()
        return [Snapshot(epoch, step, tensors_from_bytes(blob, f"snapshot of run {run_id} at step {step}"))
                for epoch, step, blob in rows]

    def probe(self, run_id: str) -> dict[str, torch.Tensor] | None:
        """The probe inputs, labels and extras stored with the run's snapshots, or None."""
        check_id(run_id)
        with self._read("reading a probe") as c:
            row = c.execute("SELECT tensors FROM probes WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else tensors_from_bytes(row[0], f"probe of run {run_id}")

    def checkpoint_steps(self, run_id: str) -> list[int]:
        """The steps at which checkpoints of the run were stored."""
        check_id(run_id)
        with self._read("reading checkpoints") as c:
            return [r[0] for r in c.execute("SELECT step FROM checkpoints WHERE run_id = ? ORDER BY step", (run_id,))]

    def checkpoint(self, run_id: str, step: int | None = None) -> dict[str, torch.Tensor]:
        """The ``state_dict`` stored at ``step`` (default: the latest), ready for ``load_state_dict``."""
        check_id(run_id)
        with self._read("reading a checkpoint") as c:
            if step is None:
                row = c.execute("SELECT step, state FROM checkpoints WHERE run_id = ? ORDER BY step DESC LIMIT 1",
                                (run_id,)).fetchone()
            else:
                row = c.execute("SELECT step, state FROM checkpoints WHERE run_id = ? AND step = ?",
                                (run_id, step)).fetchone()
        if row is None:
            at = "" if step is None else f" at step {step}"
            raise UnknownRun(f"run {run_id} has no checkpoint{at} in {self.path}")
        return tensors_from_bytes(row[1], f"checkpoint of run {run_id} at step {row[0]}")

    def open_run(self, run_id: str) -> RunView:
        """Attach to a run by id (from any thread or process) to follow it; see `RunView`."""
        self.get_run(run_id)
        return RunView(self, run_id)


class RunView:
    """A reader attached to one run: its status, progress and records so far, live.

    `new_metrics` returns only the records that arrived since its last call, so a page that polls
    it draws each record once.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> store = Store(os.path.join(folder.name, "runs.sqlite"))
        >>> run = store.create_run({})
        >>> view = store.open_run(run)
        >>> store.append_metrics(run, [{"step": 1}])
        >>> [r["step"] for r in view.new_metrics()], view.new_metrics()
        ([1], [])
    """

    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.id = check_id(run_id)
        self._seen = 0
        self.skipped = 0  # stored rows `new_metrics` left out as unreadable (`Records.skipped`)

    @property
    def info(self) -> RunInfo:
        """The run's row as it is now."""
        return self.store.get_run(self.id)

    @property
    def status(self) -> str:
        return self.info.status

    @property
    def finished(self) -> bool:
        """The run has its final status."""
        return self.info.status in FINAL

    @property
    def progress(self) -> float | None:
        """Fraction of its steps done (None until built)."""
        return self.info.progress

    def metrics(self) -> Records:
        """Every record so far (unreadable rows left out and counted: `Records`)."""
        return self.store.metrics(self.id)

    def new_metrics(self) -> list[dict]:
        """The records stored since the previous call (all of them the first time); unreadable rows
        are left out and counted in ``skipped``."""
        rows = self.store.metric_rows(self.id, after=self._seen)
        self._seen = rows.last
        self.skipped += rows.skipped
        return [record for _, _, record in rows]

    def final(self) -> dict:
        """The last readable record ({} if none)."""
        rows = self.store.metrics(self.id, after=max(self.info.records - 1, 0))
        if not rows:  # the last row is unreadable, or the row count is off: look through them all
            rows = self.store.metrics(self.id)
        return rows[-1] if rows else {}

    def snapshots(self):
        return self.store.snapshots(self.id)

    def checkpoint(self, step: int | None = None) -> dict[str, torch.Tensor]:
        return self.store.checkpoint(self.id, step)

    def wait(self, timeout: float | None = None, poll: float = 0.2) -> RunInfo:
        """Poll until the run is final (or ``timeout`` s pass: then `TimeoutError`); its row."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self.info
            if info.status in FINAL:
                return info
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"run {self.id} is still {info.status} after {timeout:g} s")
            time.sleep(poll)
