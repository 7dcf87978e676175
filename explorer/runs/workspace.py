"""The runs of this process, shared by every front end: one store, one job manager, live readers.

A `Workspace` is what the app's pages, the notebook widgets and scripts talk to. `compare` starts
one run per learning rule from one base config (same seed, so the same forward weights and
minibatches) as a group; a `Comparison` follows the group's runs, hands out their new records
incrementally (each record is read from the store once) and steers them: pause, step, resume, stop.
A group started by another process, or one that has ended, is followed the same way, read-only.

`workspace()` gives the process's shared workspace (made on first use); `open(id)` a reader of one
stored run.

Example:
    >>> import os, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> with Workspace(os.path.join(folder.name, "runs.sqlite")) as ws:
    ...     comparison = ws.compare({"model": {"hidden": [16]}, "train": {"epochs": 1}, "device": "cpu"},
    ...                             [{"name": "bp"}, {"name": "dfa"}])
    ...     comparison.wait(timeout=60)
    ...     again = ws.comparison(comparison.group)       # found again by its id (a reload, another tab)
    ...     comparison.labels, comparison.statuses(), again.labels
    (['BP', 'DFA'], ['done', 'done'], ['BP', 'DFA'])
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Mapping, Sequence

from explorer.config import ConfigError, RunConfig
from explorer.config.labels import run_label, unique_labels
from explorer.runs.jobs import JobManager, RunHandle
from explorer.runs.store import FINAL, RunInfo, RunView, Store, UnknownRun, check_id

MAX_RULES = 4


def _base_dict(base: RunConfig | Mapping) -> dict:
    d = base.to_dict() if isinstance(base, RunConfig) else dict(base)
    d.pop("algorithm", None)
    return d


def comparison_configs(base: RunConfig | Mapping, algorithms: Sequence[Mapping]) -> list[RunConfig]:
    """One validated config per algorithm dict, all with ``base``'s data, network, init, optimiser,
    training and seed. An error names the rule: its ``.field`` is ``rules[1].algorithm.block_size``.

    Example:
        >>> [c.algorithm.name for c in comparison_configs({"seed": 3}, [{"name": "bp"}, {"name": "fa"}])]
        ['bp', 'fa']
        >>> try:
        ...     comparison_configs({}, [{"name": "bp"}, {"name": "bdfa", "block_size": 0}])
        ... except ConfigError as err:
        ...     print(err.field, "|", err)
        rules[1].algorithm.block_size | rules[1]: algorithm.block_size must be at least 1, got 0
    """
    if isinstance(algorithms, (str, bytes, Mapping)) or not isinstance(algorithms, Sequence) or not algorithms:
        raise ConfigError("rules: choose at least one learning rule", field="rules")
    if len(algorithms) > MAX_RULES:
        raise ConfigError(f"rules: compare at most {MAX_RULES} rules at once, got {len(algorithms)}", field="rules")
    d = _base_dict(base)
    configs = []
    for i, algorithm in enumerate(algorithms):
        try:
            configs.append(RunConfig.from_dict({**d, "algorithm": dict(algorithm)}))
        except ConfigError as err:
            raise err.within(f"rules[{i}]") from err
    # a batch past the training set, from the dataset's shape (nothing loaded), as the trainer would
    from explorer.data.shapes import check_batch, shape_of

    first = configs[0]
    check_batch(first.train.batch_size, shape_of(first.data).train, first.data.name)
    return configs


def status_message(label: str, info: RunInfo) -> str:
    """What happened to a run that diverged, failed or was interrupted, in words a student
    understands ("" for the others). Markdown: the run's name in bold. A failure's raw error text
    is not in it (`failure_words` says why in plain words; ``info.error`` keeps the detail).

    Example:
        >>> from types import SimpleNamespace
        >>> status_message("DFA", SimpleNamespace(status="diverged", diverged_at=12,
        ...                error="loss 3.2e+25 > 1e+06 × start 2.3 (the first step's loss)"))[:66]
        '**DFA diverged at step 12** (loss 3.2e+25 > 1e+06 × start 2.3 (the'

        >>> status_message("BP", SimpleNamespace(status="failed", diverged_at=None,
        ...                error="RuntimeError: DefaultCPUAllocator: can't allocate memory: you tried to allocate 40000000000 bytes."))
        '**BP failed**: not enough memory for this network (it asked for 40 GB); try smaller hidden widths or a smaller batch.'
    """
    if getattr(info, "damaged", False):
        return (f"**{label} cannot be read**: its row in the run store is damaged ({info.problem}); "
                "what else it stored is kept.")
    if info.status == "diverged":
        why = f"({info.error})" if info.error else "(its loss became infinite or not-a-number)"
        return (f"**{label} diverged at step {info.diverged_at}** {why}, so training stopped there. The "
                "curves show it up to that step. Try a smaller learning rate or smaller initial weights.")
    if info.status == "failed":
        return f"**{label} failed**: {failure_words(info.error)}"
    if info.status == "interrupted":
        return f"**{label} was interrupted**: the process training it stopped; its records up to then are kept."
    return ""


EXCEPTION_CLASS = re.compile(r"^(?:[a-z_]\w*\.)*([A-Z]\w*): ", re.MULTILINE)  # its module, then the class
_ASKED = re.compile(r"(?:tried to allocate|Tried to allocate)\s+([\d.]+)\s*(bytes|[KMGT]i?B)")
_UNIT = {"bytes": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def failure_words(error: str | None) -> str:
    """Why a run failed, in plain words, from its raw error text (`RunInfo.error`): running out of
    memory is said as such, with the size asked for; any other error is its own message without
    the exception's class and the C++ source position.

    Example:
        >>> failure_words("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 8 GiB total)")
        'not enough memory for this network (it asked for 2.1 GB); try smaller hidden widths or a smaller batch.'
        >>> failure_words("ValueError: mat1 and mat2 shapes cannot be multiplied (64x10 and 12x3)")
        'mat1 and mat2 shapes cannot be multiplied (64x10 and 12x3)'
        >>> failure_words("explorer.data.errors.DatasetNotFound: MNIST is not in /data/MNIST/raw")
        'MNIST is not in /data/MNIST/raw'
        >>> failure_words(None)
        'an error stopped it'
    """
    if not error:
        return "an error stopped it"
    if "out of memory" in error or "can't allocate memory" in error or error.startswith("MemoryError"):
        asked = _ASKED.search(error)
        size = f" (it asked for {_size(float(asked.group(1)) * _UNIT[asked.group(2)])})" if asked else ""
        return f"not enough memory for this network{size}; try smaller hidden widths or a smaller batch."
    last = error.strip().splitlines()[-1]
    last = EXCEPTION_CLASS.sub("", last)
    return re.sub(r"^\[enforce fail at [^\]]*\]\s*", "", last) or error


def _size(n: float) -> str:
    """Bytes for people: ``_size(4e10) == "40 GB"``, ``_size(2.5e6) == "2.5 MB"``."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.2g} {unit}"
    return f"{n:.0f} bytes"


class Followed:
    """Stored runs followed together, each under a legend label: their rows (``infos``), configs,
    and every record read so far (``records``, label -> list; ``lists`` in run order). `poll` reads
    only what is new. Any stored runs will do; `Comparison` is a group of them with controls.

    Example:
        >>> import os, tempfile
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> a, b = store.create_run({"algorithm": {"name": "dfa"}}), store.create_run({})
        >>> store.append_metrics(a, [{"step": 1}])
        >>> runs = Followed(store, [a, b])
        >>> runs.labels, runs.poll(), runs.poll(), runs.statuses(), runs.finished
        (['DFA', 'BP'], 1, 0, ['queued', 'queued'], False)
    """

    def __init__(self, store: Store, run_ids: Sequence[str], labels: Sequence[str] | None = None) -> None:
        if not run_ids:
            raise ValueError("no runs to follow")
        if labels is not None and len(labels) != len(run_ids):
            raise ValueError(f"{len(labels)} labels for {len(run_ids)} runs")
        self.store = store
        self.ids = [check_id(i) for i in run_ids]
        self.views = [RunView(store, i) for i in self.ids]   # fresh readers: each record is read once
        self.infos: list[RunInfo] = [store.get_run(i) for i in self.ids]
        self.configs = [info.run_config() for info in self.infos]  # `DamagedRun` names a run that cannot be read
        self.labels = unique_labels(list(labels) if labels is not None else [run_label(c) for c in self.configs])
        self.lists: list[list[dict]] = [[] for _ in self.ids]
        self.records: dict[str, list[dict]] = dict(zip(self.labels, self.lists))

    def __len__(self) -> int:
        return len(self.ids)

    def poll(self) -> int:
        """Read the runs' rows, then their new records; the number of new records. (Rows first: a
        run seen final here has written every record it will write.) A run deleted meanwhile makes
        it raise `UnknownRun`."""
        self.infos = [self.store.get_run(i) for i in self.ids]
        new = 0
        for records, view in zip(self.lists, self.views):
            fresh = view.new_metrics()
            records.extend(fresh)
            new += len(fresh)
        return new

    @property
    def skipped(self) -> int:
        """Stored metric rows that could not be read as records, left out of ``records`` (all runs)."""
        return sum(view.skipped for view in self.views)

    def diverged(self, x: str = "epoch") -> dict[str, float]:
        """Label -> the ``x`` ("epoch" or "step") of the last record read, for each run that
        diverged (where its curves end, and a chart marks it)."""
        return {label: (records[-1].get(x, 0) if records else 0)
                for label, records, info in zip(self.labels, self.lists, self.infos) if info.status == "diverged"}

    def statuses(self) -> list[str]:
        """Each run's status as last polled."""
        return [info.status for info in self.infos]

    @property
    def finished(self) -> bool:
        """Every run has its final status (as last polled)."""
        return all(s in FINAL for s in self.statuses())

    @property
    def progress(self) -> float:
        """Mean fraction of the steps done (a run not yet built counts 0; a finished one 1)."""
        parts = [1.0 if info.status in FINAL else (info.progress or 0.0) for info in self.infos]
        return sum(parts) / len(parts)


class Comparison(Followed):
    """The runs of one group, in the order they were started, followed live from the store.

    ``records[label]`` holds every record read so far; `poll` reads only what is new. Controls act
    on the runs this process trains; on anyone else's they raise `RuntimeError`.
    """

    def __init__(self, store: Store, group: str, infos: Sequence[RunInfo], handles: Mapping[str, RunHandle]):
        super().__init__(store, [info.id for info in infos])
        self.group = group
        self._handles = dict(handles)

    def __repr__(self) -> str:
        return f"Comparison({self.group!r}, {dict(zip(self.labels, self.statuses()))})"

    @property
    def config(self) -> RunConfig:
        """The first run's config (the base and the first rule)."""
        return self.configs[0]

    @property
    def controllable(self) -> bool:
        """This process trains the group's runs that are still active, so the controls reach them."""
        return all(i in self._handles for i, info in zip(self.ids, self.infos) if info.active)

    @property
    def held(self) -> bool:
        """Every run still going is paused, or stepping and then pausing (`step`), by this process's
        controls: what a page's Pause/Resume button follows (the store says "running" while a
        stepped run takes its step)."""
        going = [self._handles.get(i) for i, info in zip(self.ids, self.infos) if info.active]
        return bool(going) and all(h is not None and h.held for h in going)

    def _handles_or_raise(self) -> list[RunHandle]:
        if not self.controllable:
            raise RuntimeError("these runs are trained by another process (or another app server); "
                               "they can be watched here but not steered")
        return [self._handles[i] for i, info in zip(self.ids, self.infos) if info.active]

    def pause(self) -> None:
        for h in self._handles_or_raise():
            h.pause()

    def resume(self) -> None:
        for h in self._handles_or_raise():
            h.resume()

    def step(self, n: int = 1) -> None:
        """Every active run takes ``n`` more steps, then waits."""
        for h in self._handles_or_raise():
            h.step(n)

    def stop(self) -> None:
        for h in self._handles_or_raise():
            h.stop()

    def wait(self, timeout: float | None = None, poll: float = 0.1) -> None:
        """Poll until every run is final (`TimeoutError` after ``timeout`` s)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() or not self.finished:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"group {self.group} still has runs going after {timeout:g} s: {self!r}")
            time.sleep(poll)


class Workspace:
    """A store and the job manager that trains into it: one per process is the rule (`workspace`).

    ``max_concurrent`` runs train at once (default 4, so a comparison of four rules runs side by
    side); the rest queue. ``store_timeout``: how long in all a write waits for another writer to
    let go of the store (`Store`'s ``timeout``, default `store.WAIT`).
    """

    def __init__(self, path: str | os.PathLike | None = None, *, max_concurrent: int = 4,
                 flush_interval: float = 0.25, checkpoint_every: int | None = None,
                 store_timeout: float | None = None) -> None:
        self.store = Store(path) if store_timeout is None else Store(path, timeout=store_timeout)
        self.jobs = JobManager(self.store, max_concurrent=max_concurrent, flush_interval=flush_interval,
                               checkpoint_every=checkpoint_every)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(cancel=exc_type is not None)

    def close(self, cancel: bool = False) -> None:
        self.jobs.close(cancel=cancel)
        self.store.close()

    def compare(self, base: RunConfig | Mapping, algorithms: Sequence[Mapping], *, label: str | None = None,
                paused: bool = False, checkpoint_every: int | None = None) -> Comparison:
        """Start one run per algorithm dict (see `comparison_configs`) as a group; with ``paused``
        they wait for `Comparison.step` or `Comparison.resume`. ``checkpoint_every`` (epochs
        between stored weights) overrides the job manager's for these runs."""
        configs = comparison_configs(base, algorithms)
        handles = self.jobs.submit_group(configs, label=label, checkpoint_every=checkpoint_every, paused=paused)
        return self.comparison(handles[0].group)

    def comparison(self, group: str) -> Comparison:
        """The group's runs, followed from the store (`UnknownRun` if the store has none)."""
        check_id(group, "group id")
        infos = list(reversed(self.store.list_runs(group=group)))
        if not infos:
            raise UnknownRun(f"no runs of group {group} in {self.store.path}")
        handles = {}
        for info in infos:
            try:
                handles[info.id] = self.jobs.handle(info.id)
            except KeyError:
                pass  # started by another process: followed read-only
        return Comparison(self.store, group, infos, handles)

    def open(self, run_id: str) -> RunView:
        """A reader of one stored run."""
        check_id(run_id)
        self.store.get_run(run_id)  # UnknownRun now rather than on first read
        return RunView(self.store, run_id)


_shared: dict[str, Workspace] = {}
_shared_lock = threading.Lock()


def workspace(path: str | os.PathLike | None = None) -> Workspace:
    """The process's workspace on ``path`` (default: ``$EXPLORER_STORE`` or ``~/.explorer/runs.sqlite``),
    made on first use and shared by every caller after: one job manager per store, so every page's
    runs wait in one queue for the same cores.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "runs.sqlite")
        >>> workspace(path) is workspace(path)
        True
    """
    from explorer.runs.store import default_path

    key = os.path.abspath(os.fspath(path if path is not None else default_path()))
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Workspace(key)
        return _shared[key]


def activity() -> tuple[int, int]:
    """(runs training, runs waiting) over every shared workspace of this process.

    Example:
        >>> training, waiting = activity()
        >>> training >= 0 and waiting >= 0
        True
    """
    with _shared_lock:
        managers = [ws.jobs for ws in _shared.values()]
    return sum(len(m.active()) for m in managers), sum(len(m.queued()) for m in managers)


def open(run_id: str, path: str | os.PathLike | None = None) -> RunView:  # noqa: A001 (explorer.runs.workspace.open)
    """A reader of the stored run ``run_id`` in the shared workspace's store.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "runs.sqlite")
        >>> open("0123456789abcdef", path)
        Traceback (most recent call last):
        ...
        explorer.runs.store.UnknownRun: no run 0123456789abcdef in ...runs.sqlite
    """
    return workspace(path).open(run_id)


__all__ = ["Comparison", "Followed", "Workspace", "activity", "status_message", "failure_words", "comparison_configs", "open", "workspace", "MAX_RULES"]
