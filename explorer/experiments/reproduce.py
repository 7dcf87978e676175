"""Replay the catalogue: plan an entry's runs, train those not yet in the run store, and set what
they measured beside what the document published, with a verdict.

- `plan` lists every (entry, run, seed) at a scale as a `Planned` run with its validated config;
- `pending` keeps those the store has not finished ("done" or "diverged"): rerunning resumes;
- `run` trains the pending runs into the store, one after another or a few at once (one group per
  entry and seed, labelled "reproduce <id> <scale>"), skipping entries whose data is not on disk
  (`missing_data`), whose setting does not validate, or whose values no run measures (`quoted_only`);
- `results` reads the store only: one row per published value, with the mean and 95% confidence
  interval over seeds, a verdict ("reproduced", "differs", "not run") and, per entry, whether the
  runs come in the published order;
- `table_text` prints that table for a terminal (`report.write` makes Markdown with charts).

A stored run counts for a planned one when their configs are equal, leaving out where it ran
(``device``) and where its data lives (``data.root``): a run trained on a GPU, or with another data
folder, is the same experiment.

Example:
    >>> import os, tempfile
    >>> from explorer.experiments.catalogue import Entry, Published, Run, Scale
    >>> from explorer.runs.store import Store
    >>> entry = Entry("demo", "demo.txt", "Table 1", "BP on the digits", {"model": {"hidden": [8]},
    ...               "train": {"epochs": 2}, "device": "cpu"}, (Run("BP", {}),), (Published("BP", "test_acc", 90.0),),
    ...               tolerance=50.0, classroom=Scale({"train.epochs": 1}, "1 epoch instead of 2"),
    ...               smoke=Scale({"train.epochs": 1}, "1 epoch"))
    >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
    >>> [(p.entry_id, p.label, p.seed) for p in plan([entry], "smoke", seeds=2)]
    [('demo', 'BP', 0), ('demo', 'BP', 1)]
    >>> outcome = run([entry], "smoke", seeds=1, store=store, progress=False)
    >>> len(outcome.trained), len(pending(plan([entry], "smoke"), store))
    (1, 0)
    >>> row = results([entry], "smoke", 1, store).iloc[0]
    >>> row["verdict"], int(row["n"]), row["detail"]
    ('reproduced', 1, 'smoke scale: 1 epoch')
"""

from __future__ import annotations

import copy
import json
import math
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import pandas as pd
from scipy import stats

from explorer.config import ConfigError, DataConfig, RunConfig
from explorer.experiments.catalogue.entry import FOLDER_DATASETS, LOWER_IS_BETTER, Entry
from explorer.experiments.measures import UNRECORDED, measure, unit_of, words_of
from explorer.runs.store import RunInfo, Store

FINISHED = ("done", "diverged")  # a run with one of these statuses is not trained again
VERDICTS = ("reproduced", "differs", "not run")
DETAIL_WIDTH = 100  # characters of a verdict's detail that `table_text` shows
COLUMNS = ("id", "source", "ref", "run", "metric", "unit", "published", "approx", "at", "tolerance", "n", "mean",
           "ci95", "verdict", "detail", "order")


@dataclass(frozen=True)
class Planned:
    """One run to make: the entry, the run's label (as the published table names it), the seed and
    the validated config (at the planned scale)."""

    entry_id: str
    label: str
    seed: int
    config: RunConfig

    @property
    def epochs(self) -> int:
        return self.config.train.epochs


@dataclass
class Tick:
    """Where `run` stands, handed to a ``progress`` function after each step of the run in flight:
    the run (1-based) among ``runs`` pending, its store id, and the epochs trained over all runs."""

    run: int
    runs: int
    planned: Planned
    run_id: str
    epochs_done: float
    epochs_total: int


@dataclass
class Outcome:
    """What `run` did: every planned run, those it trained now (planned, store id, final status),
    how many were already finished, the entries it could not run (id -> why), and whether it was
    interrupted (the run in flight is then ``cancelled`` in the store; running again resumes)."""

    planned: list[Planned] = field(default_factory=list)
    trained: list[tuple[Planned, str, str]] = field(default_factory=list)
    skipped: int = 0
    not_run: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False


# ----------------------------------------------------------------------------------------------
# Planning


def _whole(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}", field=name)
    return value


def _seeds(seeds: int) -> range:
    return range(_whole(seeds, "seeds"))


def plan_entry(entry: Entry, scale: str, seeds: int = 1, root: str | None = None,
               device: str | None = None) -> list[Planned]:
    """`plan` for one entry (`ConfigError` names the entry, the run and the field)."""
    out = []
    for seed in _seeds(seeds):
        for label, cfg in entry.configs(scale, root=root, seed=seed, device=device):
            out.append(Planned(entry.id, label, seed, cfg))
    return out


def plan(entries: Iterable[Entry], scale: str, seeds: int = 1, root: str | None = None,
         device: str | None = None) -> list[Planned]:
    """Every run of ``entries`` at ``scale`` for seeds 0 … ``seeds`` − 1, entry by entry, seed by
    seed, run by run; the data of folder datasets is read from ``root``. A setting that does not
    validate raises `ConfigError` (nothing is planned).

    Example:
        >>> from explorer.experiments.catalogue import Entry, Published, Run, Scale
        >>> e = Entry("two", "x.txt", "Table 2", "two rules", {"train": {"epochs": 3}},
        ...           (Run("BP", {}), Run("DFA", {"algorithm.name": "dfa"})), (), 1.0,
        ...           Scale({"train.epochs": 2}, "2 epochs"), Scale({"train.epochs": 1}, "1 epoch"))
        >>> [(p.label, p.seed, p.config.algorithm.name, p.epochs) for p in plan([e], "classroom", seeds=2)]
        [('BP', 0, 'bp', 2), ('DFA', 0, 'dfa', 2), ('BP', 1, 'bp', 2), ('DFA', 1, 'dfa', 2)]
    """
    out: list[Planned] = []
    for entry in entries:
        out.extend(plan_entry(entry, scale, seeds, root, device))
    return out


def run_key(config: RunConfig | dict) -> str:
    """What makes two runs the same experiment: the config as canonical JSON, without ``device``
    and ``data.root``.

    Example:
        >>> a = {"seed": 1, "device": "cpu", "data": {"name": "mnist", "root": "/a"}}
        >>> run_key(a) == run_key({"seed": 1, "device": "cuda", "data": {"name": "mnist", "root": "/b"}})
        True
        >>> run_key(a) == run_key({**a, "seed": 2})
        False
    """
    d = config.to_dict() if isinstance(config, RunConfig) else copy.deepcopy(dict(config))
    d = json.loads(json.dumps(d))  # tuples as lists, as the store keeps them
    d.pop("device", None)
    if isinstance(d.get("data"), dict):
        d["data"].pop("root", None)
    return json.dumps(d, sort_keys=True)


def finished_runs(store: Store) -> dict[str, RunInfo]:
    """The store's finished runs ("done" or "diverged") by `run_key`, the newest where several share one."""
    out: dict[str, RunInfo] = {}
    for info in store.list_runs():  # newest first
        if info.status in FINISHED:
            out.setdefault(run_key(info.config), info)
    return out


def latest_runs(store: Store) -> dict[str, RunInfo]:
    """The store's newest run of every `run_key`, whatever its status."""
    out: dict[str, RunInfo] = {}
    for info in store.list_runs():  # newest first
        out.setdefault(run_key(info.config), info)
    return out


def pending(planned: Sequence[Planned], store: Store) -> list[Planned]:
    """The planned runs that have no finished ("done" or "diverged") run in the store with the same
    config (`run_key`): what is left to train. Cancelled, failed and interrupted runs train again.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> p = Planned("demo", "BP", 0, RunConfig.from_dict({"train": {"epochs": 1}}))
        >>> len(pending([p], store))
        1
        >>> run_id = store.create_run(p.config); store.finish_run(run_id, "done")
        >>> pending([p], store)
        []
    """
    done = finished_runs(store)
    return [p for p in planned if run_key(p.config) not in done]


# ----------------------------------------------------------------------------------------------
# Data on disk


def _data_configs(entry: Entry, root: str | None) -> list[DataConfig]:
    """The data of each of the entry's runs (a run may change the dataset's options), once each."""
    from explorer.config.schema import changed

    out: list[DataConfig] = []
    for run in entry.runs:
        try:
            data = changed(copy.deepcopy(entry.setting), run.changes).get("data", {})
        except ConfigError:  # a bad change: planning names it
            data = entry.setting.get("data", {})
        name = data.get("name", "digits")
        options = {k: v for k, v in data.items() if k != "name"}
        if root is not None and name in FOLDER_DATASETS:
            options["root"] = str(root)
        cfg = DataConfig(name, options)
        if cfg not in out:
            out.append(cfg)
    return out


def quoted_only(entry: Entry) -> str | None:
    """Why ``entry`` is not trained: every value it publishes is one that no training run measures
    (`measures.UNRECORDED`: a document quoting a kernel's bandwidth); None for the others.

    Example:
        >>> from explorer.experiments.catalogue import get
        >>> quoted_only(get("dipasquale-t3.26"))
        'not run: no training run measures a memory bandwidth; the document quotes these values for reference'
        >>> quoted_only(get("dipasquale-t3.28")) is None   # its accuracies are trained
        True
    """
    if entry.published and all(p.metric in UNRECORDED for p in entry.published):
        what = " and ".join(dict.fromkeys(words_of(p.metric) for p in entry.published))
        return f"not run: no training run measures a {what}; the document quotes these values for reference"
    return None


def missing_data(entry: Entry, root: str | None = None) -> str | None:
    """None if the entry's data is here (built in, generated, or its files in the data folder
    ``root``, else ``$EXPLORER_DATA``, else ``~/.explorer/data``), else "not run: in <folder>, put …"
    (the folder first: a table cuts the detail short, and the folder is what the reader must find).

    Example:
        >>> from explorer.experiments.catalogue import Entry, Published, Run, Scale
        >>> e = Entry("c", "x.txt", "Table 1", "CIFAR", {"data": {"name": "cifar10"}}, (Run("BP", {}),), (), 1.0,
        ...           Scale({}, "-"), Scale({}, "-"))
        >>> missing_data(e, "/nowhere")
        'not run: in /nowhere, put cifar-10-batches-py (data_batch_1 … data_batch_5, test_batch)'
        >>> missing_data(Entry("d", "x.txt", "T", "digits", {}, (Run("BP", {}),), (), 1.0, Scale({}, "-"),
        ...                    Scale({}, "-"))) is None
        True
    """
    from explorer.data.availability import missing
    from explorer.data.cifar import FOLDER as CIFAR_FOLDER
    from explorer.data.cifar import TEST_FILES, TRAIN_FILES
    from explorer.data.idx import IDX_SOURCES
    from explorer.data.vision import data_root

    cfg = next((c for c in _data_configs(entry, root) if missing(c) is not None), None)
    if cfg is None:
        return None
    name = cfg.name if cfg.name != "parity" else "mnist"
    folder = data_root(cfg)
    if name == "cifar10":
        what = f"{CIFAR_FOLDER} ({TRAIN_FILES[0]} … {TRAIN_FILES[-1]}, {', '.join(TEST_FILES)})"
    elif name in IDX_SOURCES:
        source = IDX_SOURCES[name]
        what = f"{source.folder}/raw ({', '.join(source.files)})"
    else:  # availability knows a dataset this does not: its own sentence
        return f"not run: {missing(cfg)}"
    return f"not run: in {folder}, put {what}"


def _planned_or_why(entry: Entry, scale: str, seeds: int, root: str | None,
                    device: str | None = None) -> tuple[str | None, list[Planned]]:
    """(None, the entry's planned runs), or (why it cannot run: values no run measures, data
    missing, a bad setting; [])."""
    why = quoted_only(entry) or missing_data(entry, root)
    if why is not None:
        return why, []
    try:
        return None, plan_entry(entry, scale, seeds, root, device)
    except ConfigError as err:
        return f"not run: its setting does not validate: {err}", []


# ----------------------------------------------------------------------------------------------
# Running


def group_label(entry_id: str, scale: str) -> str:
    """The label of the store groups `run` makes: "reproduce <id> <scale>".

    Example:
        >>> group_label("dp-3.1", "classroom")
        'reproduce dp-3.1 classroom'
    """
    return f"reproduce {entry_id} {scale}"


def _bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="reproduce", file=sys.stderr, dynamic_ncols=True,
                bar_format="{desc} {percentage:3.0f}%|{bar}| {n:.1f}/{total:.0f} epochs [{elapsed}<{remaining}]")


def run(entries: Iterable[Entry], scale: str = "classroom", seeds: int = 1, store: Store | str | None = None,
        root: str | None = None, device: str | None = None, progress: bool | Callable[[Tick], None] = True,
        on_run: Callable[[Planned, RunInfo], None] | None = None,
        stop: threading.Event | None = None, parallel: int = 1, ray=None) -> Outcome:
    """Train every pending run of ``entries`` at ``scale`` (seeds 0 … ``seeds`` − 1) into ``store``
    (a `Store`, a path, or None: the default store), one after another, or ``parallel`` at a time
    (a GPU trains several small networks at once faster than one by one; step times, the ``step_ms``
    metric, are then shared out and no longer each run's own); see the module docstring.

    Entries whose data is missing, or whose setting does not validate, are left out and named in
    ``Outcome.not_run``; the others still run. ``progress``: True draws a bar on standard error
    counting the epochs of all runs, with "run i/n" in its description; a function is called with
    a `Tick` (the newest run started) as the runs train. ``on_run(planned, info)`` is called as each
    run ends. Setting ``stop`` (or Ctrl-C) stops the runs in flight, which the store marks
    ``cancelled``; the outcome says ``interrupted`` (Ctrl-C is raised again after that). Running
    again resumes.

    ``ray`` (a `cluster.RayOptions`) trains the runs on a Ray cluster instead, one task per run,
    this process writing the store (``parallel`` is then the cluster's business and must stay 1).
    """
    entries = list(entries)
    parallel = _whole(parallel, "parallel")
    outcome = Outcome()
    todo: list[Planned] = []
    owned = not isinstance(store, Store)
    store = store if isinstance(store, Store) else Store(store)
    try:
        done = finished_runs(store)
        for entry in entries:
            why, planned = _planned_or_why(entry, scale, seeds, root, device)
            if why is not None:
                outcome.not_run[entry.id] = why
                continue
            outcome.planned.extend(planned)
            left = [p for p in planned if run_key(p.config) not in done]
            outcome.skipped += len(planned) - len(left)
            todo.extend(left)
        if ray is not None:
            if parallel != 1:
                raise ValueError("parallel: on Ray the cluster decides how many runs train at once; leave it at 1")
            _train_on_ray(todo, scale, store, outcome, progress, on_run, stop, ray)
        else:
            _train(todo, scale, store, outcome, progress, on_run, stop, parallel)
    finally:
        if owned:
            store.close()
    return outcome


def _train_on_ray(todo: list[Planned], scale: str, store: Store, outcome: Outcome, progress, on_run, stop,
                  options) -> None:
    """Train ``todo`` into ``store`` on Ray (`cluster.run_tasks`), one task per run (see `run`)."""
    from explorer.runs.cluster import ray_session

    if not todo:
        return
    with ray_session(options):  # reached before any run is stored: an address that fails leaves nothing
        _ray_runs(todo, scale, store, outcome, progress, on_run, stop, options)


def _ray_runs(todo: list[Planned], scale: str, store: Store, outcome: Outcome, progress, on_run, stop,
              options) -> None:
    from explorer.runs.cluster import Task, run_tasks
    from explorer.runs.recorder import Recorder

    total = sum(p.epochs for p in todo)
    bar = _bar(total) if progress is True else None
    groups: dict[tuple[str, int], str] = {}
    planned: dict[str, tuple[int, Planned]] = {}
    recorder = Recorder(store)
    for i, p in enumerate(todo, 1):
        key = (p.entry_id, p.seed)
        if key not in groups:
            groups[key] = store.create_group(p.seed, group_label(p.entry_id, scale))
        run = store.create_run(p.config, group=groups[key])
        recorder.add_run(run)
        planned[run] = (i, p)
    done_epochs = 0.0

    def on_end(run: str, status: str) -> None:
        nonlocal done_epochs
        i, p = planned[run]
        done_epochs += p.epochs
        outcome.trained.append((p, run, status))
        outcome.interrupted = outcome.interrupted or status == "cancelled"
        if bar is not None:
            bar.update(p.epochs)
        if callable(progress):
            progress(Tick(i, len(todo), p, run, done_epochs, total))
        if on_run is not None:
            on_run(p, store.get_run(run))

    try:
        run_tasks([Task(run, [(run, p.config)]) for run, (_, p) in planned.items()], recorder, options,
                  stop=stop, on_end=on_end)
    except KeyboardInterrupt:
        outcome.interrupted = True
        raise
    finally:
        if bar is not None:
            bar.close()


def _train(todo: list[Planned], scale: str, store: Store, outcome: Outcome, progress, on_run, stop,
           parallel: int = 1) -> None:
    """Train ``todo`` into ``store``, ``parallel`` runs at a time, in order (see `run`)."""
    from explorer.runs.jobs import JobManager

    if not todo:
        return
    total = sum(p.epochs for p in todo)
    bar = _bar(total) if progress is True else None
    tell = progress if callable(progress) else None
    groups: dict[tuple[str, int], str] = {}
    flying: list[tuple[int, Planned, Any]] = []   # (1-based index, planned, handle), oldest first
    done_epochs = 0.0
    started = 0

    def show(i: int, p: Planned, run_id: str) -> None:
        now = done_epochs + sum(q.epochs * h.steps_done / h.total_steps for _, q, h in flying if h.total_steps)
        if bar is not None:
            bar.update(now - bar.n)
        if tell is not None:
            tell(Tick(i, len(todo), p, run_id, now, total))

    def land(i: int, p: Planned, handle) -> None:
        nonlocal done_epochs
        flying.remove((i, p, handle))
        done_epochs += p.epochs
        outcome.trained.append((p, handle.id, handle.status))
        if handle.status == "cancelled":
            outcome.interrupted = True
        show(i, p, handle.id)
        if on_run is not None:
            on_run(p, store.get_run(handle.id))

    try:
        with JobManager(store, max_concurrent=parallel) as jobs:
            try:
                while True:
                    stopping = outcome.interrupted or (stop is not None and stop.is_set())
                    while not stopping and started < len(todo) and len(flying) < parallel:
                        p = todo[started]
                        started += 1
                        key = (p.entry_id, p.seed)
                        if key not in groups:
                            groups[key] = store.create_group(p.seed, group_label(p.entry_id, scale))
                        flying.append((started, p, jobs.submit(p.config, group=groups[key])))
                        if bar is not None:
                            bar.set_description(f"run {started}/{len(todo)}: {p.entry_id} {p.label} seed {p.seed}",
                                                refresh=False)
                    if not flying:
                        outcome.interrupted = outcome.interrupted or started < len(todo)
                        break
                    i, p, handle = flying[0]
                    if handle.wait(0.1) is not None:
                        land(i, p, handle)
                    else:
                        if stopping:
                            for _, _, h in flying:
                                h.stop()
                        newest = flying[-1]
                        show(newest[0], newest[1], newest[2].id)
                    for f in [f for f in flying if f[2].finished]:
                        land(*f)
            except KeyboardInterrupt:
                outcome.interrupted = True
                for _, _, h in flying:
                    h.stop()
                for i, p, h in list(flying):
                    h.wait()
                    land(i, p, h)
                raise
    finally:
        if bar is not None:
            bar.close()


# ----------------------------------------------------------------------------------------------
# Results


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better (accuracies; not errors, losses, NSE, angles, times).

    Example:
        >>> higher_is_better("test_acc"), higher_is_better("test_error"), higher_is_better("update_deg")
        (True, False, False)
    """
    return not (metric in LOWER_IS_BETTER or unit_of(metric) in ("°", "ms") or metric.endswith("error"))


def epoch_records(records: Sequence[dict]) -> list[dict]:
    """The records logged at the end of an epoch (whole ``epoch``), in order.

    Example:
        >>> [r["epoch"] for r in epoch_records([{"epoch": 0.5}, {"epoch": 1.0}, {"epoch": 1.5}, {"epoch": 2.0}])]
        [1.0, 2.0]
    """
    return [r for r in records if float(r.get("epoch", math.nan)).is_integer()]


def measured(records: Sequence[dict], metric: str, at: str | int) -> tuple[float, str]:
    """The value a published value is compared with, read from a run's ``records``, and a note
    ('' or why it is read elsewhere): ``at`` "final" is the last record with the metric, "best" the
    best over all records (highest accuracy, lowest error, loss, NSE, angle or time), an epoch the
    record at the end of that epoch (the last record, noted, when the run is shorter).

    Example:
        >>> recs = [{"epoch": 1.0, "test_acc": 0.5}, {"epoch": 1.5, "test_acc": 0.9}, {"epoch": 2.0, "test_acc": 0.7}]
        >>> measured(recs, "test_acc", "final"), measured(recs, "test_acc", "best"), measured(recs, "test_acc", 1)
        ((70.0, ''), (90.0, ''), (50.0, ''))
        >>> measured(recs, "test_acc", 5)
        (70.0, 'epoch 5 is past the run (2 epochs): its last record')
        >>> measured([], "test_acc", "final")
        (nan, 'no records')
    """
    values = [(r, measure(r, metric)) for r in records]
    values = [(r, v) for r, v in values if not math.isnan(v)]
    if not values:
        return math.nan, "no records" if not records else f"no {metric} in the records"
    if at == "final":
        return values[-1][1], ""
    if at == "best":
        pick = max if higher_is_better(metric) else min
        return pick(v for _, v in values), ""
    at_epoch = [v for r, v in values if float(r.get("epoch", math.nan)) == float(at)]
    if at_epoch:
        return at_epoch[-1], ""
    last = max(float(r.get("epoch", 0.0)) for r, _ in values)
    return values[-1][1], f"epoch {at} is past the run ({last:g} epochs): its last record"


def ci95(values: Sequence[float]) -> float:
    """Half-width of the 95% Student-t confidence interval of the mean; NaN for fewer than 2 values.

    Example:
        >>> round(ci95([1.0, 2.0, 3.0]), 3)   # t(0.975, 2) × 1 / √3
        2.484
        >>> ci95([1.0])
        nan
    """
    n = len(values)
    if n < 2:
        return math.nan
    return float(stats.t.ppf(0.975, n - 1) * pd.Series(values).std(ddof=1) / math.sqrt(n))


def _difference(diff: float, unit: str) -> str:
    if unit == "%":
        return f"by {diff:+.3g} points" if abs(diff) < 0.1 else f"by {diff:+.1f} points"
    return f"by {diff:+.3g}{unit}"


def order_agrees(published: Sequence[float], measured_means: Sequence[float]) -> str:
    """"agrees" if the runs measured come in the published order (every pair the document ranks,
    ties left out, ranks the same way), "differs" if not, "-" when no pair of measured runs is ranked.

    Example:
        >>> order_agrees([90, 80, 70], [85, 75, 74]), order_agrees([90, 80], [70, 75]), order_agrees([90], [1])
        ('agrees', 'differs', '-')
        >>> order_agrees([90, 90], [70, 75])   # the document does not rank them
        '-'
    """
    pairs = [(p, m) for p, m in zip(published, measured_means) if not math.isnan(m)]
    ranked = [(p1 > p2, m1 > m2) for i, (p1, m1) in enumerate(pairs) for p2, m2 in pairs[i + 1:] if p1 != p2]
    if not ranked:
        return "-"
    return "agrees" if all(want == got for want, got in ranked) else "differs"


def results(entries: Iterable[Entry], scale: str, seeds: int, store: Store, root: str | None = None) -> pd.DataFrame:
    """One row per published value of ``entries``: the columns of `COLUMNS`; reads the store only.

    ``n`` counts the seeds (0 … ``seeds`` − 1) with a finished run that measured the value (a
    diverged run is left out of the mean, and ``detail`` says how many diverged); ``mean`` and
    ``ci95`` (the 95% Student-t half-width, NaN for one seed) are over them. The verdict is
    "reproduced" when |mean − published| ≤ tolerance, else "differs" (``detail``: "by −3.2
    points"), or "not run" (``detail`` says why). Below full scale, ``detail`` says what the scale
    shrinks. ``order`` tells, per entry and metric, whether the runs come in the published order.
    """
    done, latest = finished_runs(store), latest_runs(store)
    rows: list[dict] = []
    for entry in entries:
        rows.extend(_entry_rows(entry, scale, seeds, store, root, done, latest))
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    return df


def _entry_rows(entry: Entry, scale: str, seeds: int, store: Store, root: str | None,
                done: dict[str, RunInfo], latest: dict[str, RunInfo]) -> list[dict]:
    shrinks = entry.scale(scale)
    scale_note = f"{scale} scale: {shrinks.shrinks}" if shrinks is not None else ""
    why, infos, planned = _stored(entry, scale, seeds, root, done)
    records: dict[str, list[dict]] = {}
    rows = []
    for pub in entry.published:
        tolerance = pub.tolerance if pub.tolerance is not None else entry.tolerance
        row = {"id": entry.id, "source": entry.source, "ref": entry.ref, "run": pub.run, "metric": pub.metric,
               "unit": unit_of(pub.metric), "published": pub.value, "approx": pub.approx, "at": pub.at,
               "tolerance": tolerance, "n": 0, "mean": math.nan, "ci95": math.nan, "verdict": "not run",
               "detail": "", "order": "-"}
        runs = infos.get(pub.run, [])
        if why is not None:
            row["detail"] = why
        elif not runs:
            row["detail"] = _unfinished([latest.get(run_key(p.config)) for p in planned if p.label == pub.run],
                                        entry.id, scale)
        else:
            values, notes = [], []
            diverged = sum(info.status == "diverged" for info in runs)
            for info in runs:
                if info.status != "done":
                    continue
                if info.id not in records:
                    records[info.id] = store.metrics(info.id)
                at = scaled_epoch(entry, pub.run, scale, pub.at) if isinstance(pub.at, int) else pub.at
                value, note = measured(records[info.id], pub.metric, at)
                if not math.isnan(value):
                    values.append(value)
                if note:
                    notes.append(note)
            notes = list(dict.fromkeys(notes))
            if diverged:
                notes.insert(0, f"{diverged} of {len(runs)} seeds diverged")
            if len(runs) < seeds:
                notes.insert(0, f"{len(runs)} of {seeds} seeds run")
            row["n"] = len(values)
            if values:
                mean = float(sum(values) / len(values))
                row["mean"], row["ci95"] = mean, ci95(values)
                diff = mean - pub.value
                if abs(diff) <= tolerance + 1e-9 * max(1.0, abs(pub.value)):
                    row["verdict"] = "reproduced"
                else:
                    row["verdict"] = "differs"
                    notes.insert(0, _difference(diff, row["unit"]))
            else:
                row["verdict"] = "differs" if diverged else "not run"
                notes.insert(0, "nothing measured")
            if scale_note:
                notes.append(scale_note)
            row["detail"] = "; ".join(notes)
        rows.append(row)
    _add_order(rows)
    return rows


def _stored(entry: Entry, scale: str, seeds: int, root: str | None,
            done: dict[str, RunInfo]) -> tuple[str | None, dict[str, list[RunInfo]], list[Planned]]:
    """(why the entry cannot run or None, {run label: its finished runs, seed by seed}, the planned runs)."""
    why, planned = _planned_or_why(entry, scale, seeds, root)
    infos: dict[str, list[RunInfo]] = {}
    for p in planned:
        info = done.get(run_key(p.config))
        if info is not None:
            infos.setdefault(p.label, []).append(info)
    return why, infos, planned


def _unfinished(found: list[RunInfo | None], entry_id: str, scale: str) -> str:
    """Why a run has no finished seed: training now, or how its last try ended, or never tried."""
    tried = [info for info in found if info is not None]
    if any(info.active for info in tried):
        return "not run yet: training now"
    if tried:
        last = max(tried, key=lambda info: info.updated)
        return f"not run: its last run was {last.status}" + (f" ({last.error})" if last.error else "") + \
            f"; python -m explorer reproduce {entry_id} --scale {scale} runs it again"
    return f"not run: no finished run in the store (python -m explorer reproduce {entry_id} --scale {scale})"


def stored_runs(entry: Entry, scale: str, seeds: int, store: Store, root: str | None = None) -> dict[str, list[RunInfo]]:
    """The finished runs of ``entry`` at ``scale`` in ``store``: {run label: runs, one per seed found}.

    Example:
        >>> import os, tempfile
        >>> from explorer.experiments.catalogue import Entry, Run, Scale
        >>> e = Entry("e", "x.txt", "T", "t", {"train": {"epochs": 1}}, (Run("BP", {}),), (), 1.0, Scale({}, "-"),
        ...           Scale({}, "-"))
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> run_id = store.create_run(plan([e], "smoke")[0].config); store.finish_run(run_id, "done")
        >>> [info.id == run_id for info in stored_runs(e, "smoke", 1, store)["BP"]]
        [True]
    """
    return _stored(entry, scale, seeds, root, finished_runs(store))[1]


def primary_metric(entry: Entry) -> str:
    """The metric an entry's curves show: the one most of its published values use (test accuracy without any).

    Example:
        >>> from explorer.experiments.catalogue import Entry, Published, Run, Scale
        >>> e = Entry("e", "x.txt", "T", "t", {}, (Run("BP", {}),), (Published("BP", "test_error", 2.0),), 1.0,
        ...           Scale({}, "-"), Scale({}, "-"))
        >>> primary_metric(e)
        'test_error'
    """
    metrics = [p.metric for p in entry.published]
    return max(dict.fromkeys(metrics), key=metrics.count) if metrics else "test_acc"


def curves(entry: Entry, scale: str, seeds: int, store: Store, root: str | None = None,
           metric: str | None = None) -> pd.DataFrame:
    """Each run's ``metric`` (default: `primary_metric`) at the end of every epoch, over the seeds
    found in the store (diverged runs left out): columns run, epoch, mean, ci95, low, high, n.

    Example:
        >>> import os, tempfile
        >>> from explorer.experiments.catalogue import Entry, Run, Scale
        >>> e = Entry("e", "x.txt", "T", "t", {"train": {"epochs": 1}}, (Run("BP", {}),), (), 1.0, Scale({}, "-"),
        ...           Scale({}, "-"))
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> run_id = store.create_run(plan([e], "smoke")[0].config)
        >>> store.append_metrics(run_id, [{"step": 5, "epoch": 0.5, "test_acc": 0.2}, {"step": 10, "epoch": 1.0, "test_acc": 0.4}])
        >>> store.finish_run(run_id, "done")
        >>> curves(e, "smoke", 1, store)[["run", "epoch", "mean", "n"]].to_dict(orient="records")
        [{'run': 'BP', 'epoch': 1, 'mean': 40.0, 'n': 1}]
    """
    metric = metric or primary_metric(entry)
    rows = []
    for label, infos in stored_runs(entry, scale, seeds, store, root).items():
        for info in infos:
            if info.status != "done":
                continue
            for r in epoch_records(store.metrics(info.id)):
                value = measure(r, metric)
                if not math.isnan(value):
                    rows.append({"run": label, "epoch": int(r["epoch"]), "value": value})
    columns = ["run", "epoch", "mean", "ci95", "low", "high", "n"]
    if not rows:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(rows)
    out = []
    for (label, epoch), group in table.groupby(["run", "epoch"], sort=False):
        values = list(group["value"])
        mean, ci = float(sum(values) / len(values)), ci95(values)
        half = 0.0 if math.isnan(ci) else ci
        out.append({"run": label, "epoch": int(epoch), "mean": mean, "ci95": ci, "low": mean - half,
                    "high": mean + half, "n": len(values)})
    return pd.DataFrame(out, columns=columns)


def _run_setting(entry: Entry, label: str, scale: str) -> dict:
    """Run ``label``'s setting at ``scale`` as a dict (not validated)."""
    from explorer.config.schema import changed

    run = next(r for r in entry.runs if r.label == label)
    extra = entry.scale(scale)
    return changed(copy.deepcopy(entry.setting), {**run.changes, **(extra.changes if extra is not None else {})})


def run_epochs(entry: Entry, label: str, scale: str) -> int:
    """The epochs run ``label`` of ``entry`` trains at ``scale`` (read from the setting, without validating it).

    Example:
        >>> from explorer.experiments.catalogue import Entry, Run, Scale
        >>> e = Entry("e", "x.txt", "T", "t", {"train": {"epochs": 10}}, (Run("A", {}), Run("B", {"train.epochs": 20})),
        ...           (), 1.0, Scale({"train.epochs": 3}, "3 epochs"), Scale({}, "-"))
        >>> run_epochs(e, "B", "full"), run_epochs(e, "B", "classroom"), run_epochs(e, "A", "smoke")
        (20, 3, 10)
    """
    return int(_run_setting(entry, label, scale).get("train", {}).get("epochs", RunConfig().train.epochs))


def _stage_ends(setting: dict) -> list[int]:
    """The epochs that end each iteration of a ``restarts`` schedule (the last one the run's end)."""
    epochs = int(setting.get("train", {}).get("epochs", RunConfig().train.epochs))
    schedule = setting.get("optimizer", {}).get("schedule") or {}
    starts = schedule.get("milestones", []) if schedule.get("name") == "restarts" else []
    return [int(m) for m in starts] + [epochs]  # a milestone m: the rate changes after m epochs


def scaled_epoch(entry: Entry, label: str, scale: str, at: int) -> int:
    """The epoch at ``scale`` where a value published at the end of epoch ``at`` is read: where
    ``at`` ends the k-th iteration of a ``restarts`` schedule and the scale keeps the iterations
    (fewer epochs each), the end of the scale's k-th iteration; otherwise ``at`` itself.

    Example:
        >>> from explorer.experiments.catalogue import Entry, Run, Scale
        >>> full = {"train": {"epochs": 400}, "optimizer": {"schedule": {"name": "restarts", "milestones": [200],
        ...                                                               "lrs": [1e-4], "from": "best"}}}
        >>> small = {"train.epochs": 4, "optimizer.schedule.milestones": [2]}
        >>> e = Entry("e", "x.txt", "T", "t", full, (Run("BP", {}),), (), 1.0, Scale(small, "2 + 2"), Scale(small, "-"))
        >>> scaled_epoch(e, "BP", "classroom", 200), scaled_epoch(e, "BP", "classroom", 400), scaled_epoch(e, "BP", "full", 200)
        (2, 4, 200)
    """
    full, here = _stage_ends(_run_setting(entry, label, "full")), _stage_ends(_run_setting(entry, label, scale))
    if len(full) > 1 and len(full) == len(here) and at in full:
        return here[full.index(at)]
    return at


def published_points(entry: Entry, scale: str, metric: str | None = None) -> pd.DataFrame:
    """Where a chart marks the published values of ``metric`` (default: `primary_metric`): columns
    run, epoch, published, approx, text. A value read at an epoch sits at that epoch (at the
    scale's last epoch when the scale's runs are shorter); "final" and "best" at the last epoch.

    Example:
        >>> from explorer.experiments.catalogue import Entry, Published, Run, Scale
        >>> e = Entry("e", "x.txt", "T", "t", {"train": {"epochs": 10}}, (Run("BP", {}),),
        ...           (Published("BP", "test_acc", 90.0), Published("BP", "test_acc", 80.0, approx=True, at=5)), 1.0,
        ...           Scale({"train.epochs": 3}, "3 epochs"), Scale({"train.epochs": 1}, "1 epoch"))
        >>> published_points(e, "full")[["epoch", "published", "text"]].to_dict(orient="records")
        [{'epoch': 10, 'published': 90.0, 'text': '90%'}, {'epoch': 5, 'published': 80.0, 'text': '≈80%'}]
        >>> list(published_points(e, "classroom")["epoch"])
        [3, 3]
    """
    metric = metric or primary_metric(entry)
    rows = []
    for p in entry.published:
        if p.metric != metric:
            continue
        last = run_epochs(entry, p.run, scale)
        epoch = min(scaled_epoch(entry, p.run, scale, p.at), last) if isinstance(p.at, int) else last
        rows.append({"run": p.run, "epoch": int(epoch), "published": p.value, "approx": p.approx, "text": p.text()})
    return pd.DataFrame(rows, columns=["run", "epoch", "published", "approx", "text"])


def _add_order(rows: list[dict]) -> None:
    """Fill ``order`` for the rows of one entry, per (metric, at)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["metric"], str(row["at"])), []).append(row)
    for group in groups.values():
        verdict = order_agrees([r["published"] for r in group], [r["mean"] for r in group])
        for r in group:
            r["order"] = verdict


# ----------------------------------------------------------------------------------------------
# Text


def value_text(value: float, unit: str, approx: bool = False) -> str:
    """A value as the table prints it: 3 significant figures or 2 decimals, its unit, "≈" if read off a plot.

    Example:
        >>> value_text(91.5623, "%"), value_text(0.01234, ""), value_text(52.0, "%", approx=True)
        ('91.56%', '0.0123', '≈52%')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    text = f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) >= 1 else f"{value:.3g}"
    return f"{'≈' if approx else ''}{text}{unit}"


def measured_text(mean: float, ci: float, unit: str) -> str:
    """"mean ± CI" (just the mean for one seed; "-" when nothing was measured).

    Example:
        >>> measured_text(91.234, 0.51, "%"), measured_text(91.2, float("nan"), "%"), measured_text(float("nan"), 1, "%")
        ('91.23 ± 0.51%', '91.2%', '-')
    """
    if math.isnan(mean):
        return "-"
    if math.isnan(ci):
        return value_text(mean, unit)
    return f"{value_text(mean, '')} ± {value_text(ci, '')}{unit}"


def table_text(df: pd.DataFrame) -> str:
    """The `results` table for a terminal: entry, run, metric, published | measured (mean ± 95% CI,
    seeds) | verdict and its detail (cut at `DETAIL_WIDTH` characters; `to_json` has it whole), order.

    Example:
        >>> df = pd.DataFrame([{"id": "demo", "source": "x", "ref": "Table 1", "run": "BP", "metric": "test_acc",
        ...     "unit": "%", "published": 90.0, "approx": False, "at": "final", "tolerance": 1.0, "n": 1,
        ...     "mean": 88.0, "ci95": float("nan"), "verdict": "differs", "detail": "by -2.0 points", "order": "-"}])
        >>> print(table_text(df))
        entry  ref      run  metric    published  measured  n  verdict  detail          order
        demo   Table 1  BP   test_acc  90%        88%       1  differs  by -2.0 points  -
    """
    if df.empty:
        return "(no published values)"
    shown = pd.DataFrame({
        "entry": df["id"], "ref": df["ref"], "run": df["run"],
        "metric": [m if at == "final" else f"{m} @{at}" for m, at in zip(df["metric"], df["at"])],
        "published": [value_text(v, u, a) for v, u, a in zip(df["published"], df["unit"], df["approx"])],
        "measured": [measured_text(m, c, u) for m, c, u in zip(df["mean"], df["ci95"], df["unit"])],
        "n": df["n"].astype(int).astype(str), "verdict": df["verdict"],
        "detail": [d if len(d) <= DETAIL_WIDTH else d[:DETAIL_WIDTH - 1] + "…" for d in df["detail"]],
        "order": df["order"],
    })
    widths = {c: max(len(c), *(len(str(v)) for v in shown[c])) for c in shown.columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in shown.columns).rstrip()]
    for _, r in shown.iterrows():
        lines.append("  ".join(str(r[c]).ljust(widths[c]) for c in shown.columns).rstrip())
    return "\n".join(lines)


def to_json(df: pd.DataFrame) -> list[dict]:
    """The `results` rows as JSON-ready dicts (NaN as None).

    Example:
        >>> to_json(pd.DataFrame([{"id": "a", "mean": float("nan"), "n": 0}]))
        [{'id': 'a', 'mean': None, 'n': 0}]
    """
    out = []
    for rec in df.to_dict(orient="records"):
        row: dict[str, Any] = {}
        for k, v in rec.items():
            if isinstance(v, float) and math.isnan(v):
                v = None
            elif hasattr(v, "item"):
                v = v.item()
            row[k] = v
        out.append(row)
    return out


__all__ = ["COLUMNS", "FINISHED", "Outcome", "Planned", "Tick", "ci95", "curves", "finished_runs", "group_label",
           "measured", "missing_data", "order_agrees", "pending", "plan", "plan_entry", "primary_metric",
           "published_points", "quoted_only", "results", "run", "run_key", "stored_runs", "table_text", "to_json", "VERDICTS",
           "measured_text", "value_text"]
