"""Stored runs as a table to browse: one row per run, filters, labels and curves for an overlay.

What the Runs page (and a notebook) needs beyond `explorer.runs.store`: a run in a few words
(`describe`), a table of runs (`runs_frame`), filtering by status, rule, dataset and free text
(`filter_runs`), legend labels that tell apart runs from different comparisons (`overlay_labels`),
a live reader of several runs at once (`Overlay`), whether a run may be deleted now (`refusal`),
stop requests for runs trained by any process (`stop_runs`), and the Train page's link to a group
(`train_query`). Nothing here imports Streamlit.

Example:
    >>> import os, tempfile
    >>> from explorer.runs.store import Store
    >>> folder = tempfile.TemporaryDirectory()
    >>> store = Store(os.path.join(folder.name, "runs.sqlite"))
    >>> a = store.create_run({"algorithm": {"name": "dfa"}})
    >>> b = store.create_run({"data": {"name": "moons"}, "model": {"hidden": [8]}})
    >>> infos = store.list_runs()
    >>> runs_frame(infos)[["rule", "data", "network"]].values.tolist()
    [['BP', 'moons', 'MLP 8 relu'], ['DFA', 'digits', 'MLP 64-64 relu']]
    >>> [i.id for i in filter_runs(infos, rules=["dfa"])] == [a]
    True
    >>> overlay_labels(infos)
    ['BP moons MLP 8 relu', 'DFA digits MLP 64-64 relu']
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Iterable, Mapping, Sequence
from urllib.parse import parse_qsl

import pandas as pd

from explorer.config import ConfigError
from explorer.config.labels import run_label, unique_labels
from explorer.runs.workspace import EXCEPTION_CLASS, Followed, failure_words
from explorer.runs.store import RunInfo, Store, StoreError, UnknownRun, owner_alive

COLUMNS = ["id", "group", "rule", "data", "network", "status", "progress", "steps", "test_acc", "test_loss",
           "created", "device", "notes"]


def _config(info_or_config: RunInfo | Mapping) -> Mapping:
    # Duck-typed on purpose: Streamlit reloads edited modules, so a cached store's rows may be of
    # an older RunInfo class than the one imported here. A run whose config cannot be used as
    # stored (damaged, or not a valid config: `RunInfo.problem`) is described from nothing, so a
    # section of the wrong type never reaches the describing code; its notes say what is wrong.
    if isinstance(info_or_config, Mapping):
        return info_or_config
    return {} if getattr(info_or_config, "problem", None) else info_or_config.config


def rule_name(config: RunInfo | Mapping) -> str:
    """The learning rule's name in a run's config (``"bp"`` when it names none).

    Example:
        >>> rule_name({"algorithm": {"name": "dfa"}}), rule_name({})
        ('dfa', 'bp')
    """
    return _config(config).get("algorithm", {}).get("name", "bp")


def dataset_name(config: RunInfo | Mapping) -> str:
    """The dataset's name in a run's config (``"digits"`` when it names none).

    Example:
        >>> dataset_name({"data": {"name": "moons", "noise": 0.1}}), dataset_name({})
        ('moons', 'digits')
    """
    return _config(config).get("data", {}).get("name", "digits")


def network(config: RunInfo | Mapping) -> str:
    """The network in a few words: its type, an MLP's hidden widths, the activation.

    Example:
        >>> network({"model": {"name": "mlp", "hidden": [32, 16], "activation": "tanh"}})
        'MLP 32-16 tanh'
        >>> network({"model": {"name": "lenet5"}})
        'LeNet5 relu'
    """
    model = _config(config).get("model", {})
    name = model.get("name", "mlp")
    words = [{"mlp": "MLP", "lenet5": "LeNet5", "tutorial_cnn": "CNN", "cifar_cnn": "CIFAR CNN"}.get(
        name, name.replace("resnet", "ResNet"))]
    if name == "mlp":
        words.append("-".join(str(w) for w in model.get("hidden", [64, 64])) or "linear")
    words.append(model.get("activation", "relu"))
    return " ".join(words)


MISSING = "–"  # what a table cell shows for a value that is not there (never a raw "None")


def readable(value) -> str:
    """A number as a person reads it in a table: thousands grouped, at most 3 significant digits,
    powers of ten for the very small; `MISSING` for None, NaN and infinities.

    Example:
        >>> readable(21820.4), readable(0.123456), readable(6e-14), readable(6.4e-5), readable(None)
        ('21,820', '0.123', '6e-14', '6.4e-5', '–')
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return MISSING if value is None else str(value)
    if not math.isfinite(value):
        return MISSING
    if isinstance(value, int) or abs(value) >= 999.5:
        return f"{value:,.0f}"
    if value == 0 or abs(value) >= 1e-3:
        return f"{value:.3g}"
    return re.sub(r"e([-+])0*(\d)", r"e\1\2", f"{value:.2g}")  # 6.4e-05 -> 6.4e-5


def percent(value) -> str:
    """A fraction as a percentage with one decimal; `MISSING` where there is none.

    Example:
        >>> percent(0.94718), percent(None), percent(float("nan"))
        ('94.7%', '–', '–')
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return f"{100 * value:.1f}%"
    return MISSING


def _notes(info: RunInfo) -> str:
    problem = getattr(info, "problem", None)
    if problem:
        return f"cannot be used as stored: {problem}"
    if info.status == "diverged":
        return f"diverged at step {info.diverged_at}" + (f": {info.error}" if info.error else "")
    if info.status == "failed":  # its message in plain words; the page's run view keeps the raw text
        words = failure_words(info.error)
        return words if len(words) <= 120 else words[:119] + "…"
    if info.error:
        return info.error if len(info.error) <= 120 else info.error[:119] + "…"
    return ""


def describe(info: RunInfo, final: Mapping | None = None) -> dict:
    """One run as a row of the runs table (see `COLUMNS`); ``final`` is its last metric record,
    whose test accuracy (`percent`) and loss (`readable`) fill those columns, as text a person
    reads (`MISSING` where it has none).

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> info = store.get_run(store.create_run({"algorithm": {"name": "fa"}, "seed": 3}))
        >>> row = describe(info, {"test_acc": 0.9})
        >>> row["rule"], row["status"], row["test_acc"], row["test_loss"]
        ('FA', 'queued', '90.0%', '–')
    """
    final = final or {}

    steps = f"{info.steps_done}/{info.total_steps}" if info.total_steps else str(info.steps_done)
    rule = "?" if getattr(info, "problem", None) else run_label(_config(info))
    return {"id": info.id, "group": info.group or "", "rule": rule, "data": dataset_name(info),
            "network": network(info), "status": info.status, "progress": info.progress, "steps": steps,
            "test_acc": percent(final.get("test_acc")), "test_loss": readable(final.get("test_loss")),
            "created": datetime.fromtimestamp(info.created), "device": info.device_name or info.device or "",
            "notes": _notes(info)}


def finals(store: Store, infos: Iterable[RunInfo]) -> dict[str, dict]:
    """Each run's last metric record (one small query per run), by run id; runs with none are left out.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> run = store.create_run({})
        >>> store.append_metrics(run, [{"step": 1, "test_acc": 0.2}, {"step": 2, "test_acc": 0.4}])
        >>> finals(store, store.list_runs())[run]["test_acc"]
        0.4
    """
    out = {}
    for info in infos:
        if info.records:
            last = store.metrics(info.id, after=info.records - 1)
            if last:
                out[info.id] = last[-1]
    return out


def runs_frame(infos: Sequence[RunInfo], final: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    """The runs as a table, one row per run in the order given, with the columns of `COLUMNS`;
    ``final`` maps run ids to their last records (see `finals`). See the module's example."""
    final = final or {}
    return pd.DataFrame([describe(info, final.get(info.id)) for info in infos], columns=COLUMNS)


def search_text(info: RunInfo) -> str:
    """What the free-text filter looks in besides the ids: status, rule, data, network, optimiser,
    seed, epochs, device, notes and the class of a failed run's exception (``DatasetNotFound``),
    lower-cased.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> info = store.get_run(store.create_run({"optimizer": {"name": "adam", "lr": 0.001}, "seed": 4}))
        >>> "adam lr 0.001" in search_text(info), "seed 4" in search_text(info)
        (True, True)
    """
    c = _config(info)
    opt = c.get("optimizer", {})
    parts = [info.status, rule_name(c), run_label(c), dataset_name(c), network(c),
             f"{opt.get('name', 'sgd')} lr {opt.get('lr', '')}", f"seed {c.get('seed', 0)}",
             f"epochs {c.get('train', {}).get('epochs', '')}", info.device_name or "", _notes(info),
             *EXCEPTION_CLASS.findall(info.error or "")]
    return " ".join(str(p) for p in parts).lower()


_TERMS = re.compile(r'"([^"]*)"|(\S+)')
_EDGE = r"[\w.\-]"
MIN_ID_PREFIX = 4  # a term this long or longer also finds the runs whose id or group id starts with it


def matches(haystack: str, query: str, ids: Sequence[str | None] = ()) -> bool:
    """Whether every term of ``query`` is found (case-insensitive): a word must begin a word of
    ``haystack`` (``dfa`` finds "dfa" but not "bdfa"), a "quoted phrase" must be whole words
    there (``"seed 1"`` is not in "seed 12"); a term of at least `MIN_ID_PREFIX` characters is
    also found at the start of one of ``ids`` (so ``3f9a`` finds run 3f9a0c1b…, but ``dfa``
    never finds an id by chance).

    Example:
        >>> matches("dfa mlp 64-64 tanh seed 12", "DFA 64 tanh")
        True
        >>> matches("bdfa seed 12", "dfa"), matches("dfa seed 12", '"seed 1"'), matches("dfa seed 12", '"seed 12"')
        (False, False, True)
        >>> matches("bp seed 0", "3f9a0c", ids=["3f9a0c1b2d4e5f60"]), matches("bp", "3f9", ids=["3f9a0c1b2d4e5f60"])
        (True, False)
    """
    haystack = haystack.lower()
    for phrase, word in _TERMS.findall(query.lower()):
        term = phrase.strip() or word
        if not term:
            continue
        pattern = rf"(?<!{_EDGE}){re.escape(term)}" + (rf"(?!{_EDGE})" if phrase else "")
        if re.search(pattern, haystack):
            continue
        if len(term) >= MIN_ID_PREFIX and any(i and i.startswith(term) for i in ids):
            continue
        return False
    return True


def filter_runs(infos: Iterable[RunInfo], *, statuses: Iterable[str] = (), rules: Iterable[str] = (),
                datasets: Iterable[str] = (), text: str = "") -> list[RunInfo]:
    """The runs that match every filter given: status in ``statuses``, rule name in ``rules``,
    dataset in ``datasets`` (an empty filter lets all through), and every term of ``text``
    (`matches`) in the run's `search_text`.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> a = store.create_run({"algorithm": {"name": "dfa"}, "seed": 1})
        >>> b = store.create_run({"algorithm": {"name": "bp"}, "seed": 2})
        >>> infos = store.list_runs()
        >>> [i.id == b for i in filter_runs(infos, rules=["bp", "fa"])]
        [True]
        >>> [i.id == a for i in filter_runs(infos, text='dfa "seed 1"')]
        [True]
        >>> filter_runs(infos, statuses=["done"])
        []
    """
    statuses, rules, datasets = set(statuses), set(rules), set(datasets)
    out = []
    for info in infos:
        if statuses and info.status not in statuses:
            continue
        if rules and rule_name(info) not in rules:
            continue
        if datasets and dataset_name(info) not in datasets:
            continue
        if text.strip() and not matches(search_text(info), text, (info.id, info.group)):
            continue
        out.append(info)
    return out


def options(infos: Iterable[RunInfo]) -> dict[str, list[str]]:
    """The rule names and datasets present among ``infos``, sorted: the choices of the filters.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> _ = store.create_run({"algorithm": {"name": "dfa"}}), store.create_run({"data": {"name": "xor"}})
        >>> options(store.list_runs())
        {'rules': ['bp', 'dfa'], 'datasets': ['digits', 'xor']}
    """
    infos = list(infos)
    return {"rules": sorted({rule_name(i) for i in infos}), "datasets": sorted({dataset_name(i) for i in infos})}


def _traits(config: Mapping) -> list[tuple[str, str]]:
    opt, train = config.get("optimizer", {}), config.get("train", {})
    return [("data", dataset_name(config)), ("network", network(config)),
            ("optimizer", opt.get("name", "sgd")), ("lr", f"lr {opt.get('lr', '?'):g}" if isinstance(
                opt.get("lr"), (int, float)) else "lr ?"),
            ("batch", f"batch {train.get('batch_size', 64)}"), ("epochs", f"{train.get('epochs', 10)} epochs"),
            ("seed", f"seed {config.get('seed', 0)}")]


def overlay_labels(infos: Sequence[RunInfo]) -> list[str]:
    """Legend labels for runs drawn together: each run's rule (`explorer.config.labels.run_label`, so it keeps its
    rule's colour), then the settings in which the selected runs differ (data, network,
    optimiser, learning rate, batch size, epochs, seed), then, where two labels still agree,
    the first characters of the run id. Always unique.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> for seed in (0, 1):
        ...     _ = store.create_run({"algorithm": {"name": "dfa"}, "seed": seed})
        >>> overlay_labels(list(reversed(store.list_runs())))
        ['DFA seed 0', 'DFA seed 1']
    """
    traits = [_traits(_config(info)) for info in infos]
    varying = {name for i, (name, _) in enumerate(traits[0] if traits else [])
               if len({t[i][1] for t in traits}) > 1}
    labels = [" ".join([run_label(_config(info))] + [v for name, v in t if name in varying])
              for info, t in zip(infos, traits)]
    counts = {label: labels.count(label) for label in labels}
    labels = [f"{label} #{info.id[:6]}" if counts[label] > 1 else label for label, info in zip(labels, infos)]
    return unique_labels(labels)


class Overlay(Followed):
    """Several stored runs (from any comparisons) followed together for one chart.

    ``records[label]`` holds every record read so far; `poll` reads only what is new, and the
    runs' rows. A run deleted meanwhile makes `poll` raise `explorer.runs.store.UnknownRun`.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> a, b = store.create_run({"seed": 0}), store.create_run({"seed": 1})
        >>> store.append_metrics(a, [{"step": 1, "epoch": 0.5, "train_loss": 2.0}])
        >>> overlay = Overlay(store, [a, b])
        >>> overlay.poll(), overlay.labels, overlay.finished
        (1, ['BP seed 0', 'BP seed 1'], False)
        >>> overlay.records["BP seed 0"][0]["train_loss"]
        2.0
    """

    def __init__(self, store: Store, run_ids: Sequence[str]) -> None:
        super().__init__(store, run_ids, overlay_labels([store.get_run(i) for i in run_ids]))


def refusal(info: RunInfo, label: str | None = None) -> str | None:
    """Why ``info`` may not be deleted now, in plain words; None if it may. A run is refused while
    a live process still trains it (queued, running or paused); one whose process has ended may go.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> run = store.create_run({})          # queued, owned by this (live) process
        >>> print(refusal(store.get_run(run), "BP"))
        BP is still waiting to train; stop it first (Stop, beside Delete) and delete it once it has ended.
        >>> store.finish_run(run, "cancelled")
        >>> refusal(store.get_run(run)) is None
        True
    """
    if not info.active or not owner_alive(info.owner_host, info.owner_pid, info.owner_token, info.heartbeat):
        return None
    doing = {"queued": "waiting to train", "running": "training", "paused": "paused, not finished"}[info.status]
    return (f"{label or 'Run ' + info.id} is still {doing}; "
            "stop it first (Stop, beside Delete) and delete it once it has ended.")


def stop_runs(store: Store, run_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Ask whoever trains these runs (this process or another: the ``train`` command, a sweep) to
    stop them (`Store.request_stop`); returns (ids asked, messages for runs that had already ended
    or are gone). A store that cannot be written raises its `StoreError`.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> going, ended = store.create_run({}), store.create_run({})
        >>> store.finish_run(ended, "done")
        >>> asked, notes = stop_runs(store, [going, ended])
        >>> asked == [going], notes == [f"Run {ended} had already ended (done)."]
        (True, True)
    """
    asked, notes = [], []
    for run_id in _queued_first(store, run_ids):
        try:
            if store.request_stop(run_id):
                asked.append(run_id)
            else:
                notes.append(f"Run {run_id} had already ended ({store.get_run(run_id).status}).")
        except UnknownRun as err:   # deleted meanwhile (another tab)
            notes.append(str(err))
    return asked, notes


def _queued_first(store: Store, run_ids: Sequence[str]) -> list[str]:
    """``run_ids`` with the queued runs first, otherwise in their order: asked after a running run,
    a queued one could start in between (a manager reads the requests once a second) and train
    before its own request is read."""
    def waiting(run_id: str) -> bool:
        try:
            return store.get_run(run_id).status == "queued"
        except UnknownRun:          # said by `request_stop`, in order
            return False

    return sorted(run_ids, key=lambda run_id: not waiting(run_id))


def delete_runs(store: Store, run_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Delete the runs (with their metrics, snapshots, checkpoints), and every group left without
    runs; returns (deleted ids, messages for the runs refused or already gone). Nothing is
    deleted if any run is refused by `refusal`.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> run = store.create_run({})
        >>> delete_runs(store, [run])[0]      # still queued by this process: refused
        []
        >>> store.finish_run(run, "cancelled")
        >>> delete_runs(store, [run])[0] == [run], store.list_runs()
        (True, [])
    """
    infos, problems = [], []
    for run_id in run_ids:
        try:
            infos.append(store.get_run(run_id))
        except StoreError as err:
            problems.append(str(err))
    refused = [r for r in (refusal(info) for info in infos) if r]
    if refused:
        return [], refused + problems
    deleted, groups = [], set()
    for info in infos:
        try:
            store.delete_run(info.id)
        except StoreError as err:  # changed since we looked (started again elsewhere)
            problems.append(str(err))
            continue
        deleted.append(info.id)
        if info.group:
            groups.add(info.group)
    for group in sorted(groups):
        if not store.list_runs(group=group, limit=1):
            try:
                store.delete_group(group)
            except StoreError:
                pass  # already gone, or a run was added to it meanwhile
    return deleted, problems


def train_query(infos: Sequence[RunInfo], *, strict: bool = False) -> dict[str, str]:
    """Query parameters that open a group on the Train page: ``group`` and, where the Train page
    has controls for every setting, the group's whole setup, so the controls show what ran.
    ``infos`` are the group's runs, oldest first. ``strict``: a setup the controls cannot hold
    raises its `ConfigError` (what the page has no control for) instead of leaving it out.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> group = store.create_group(seed=5)
        >>> for rule in ("bp", "fa"):
        ...     _ = store.create_run({"algorithm": {"name": rule}, "seed": 5, "model": {"hidden": [16]}}, group=group)
        >>> query = train_query(list(reversed(store.list_runs(group=group))))
        >>> query["group"] == group, query["rule2"], query["hidden"], query["seed"]
        (True, 'fa', '16', '5')
    """
    from explorer.views import urlstate

    if not infos or not infos[0].group:
        raise ValueError("train_query needs the runs of one group")
    group = infos[0].group
    if any(info.group != group for info in infos):
        raise ValueError("train_query needs the runs of one group, got runs of several")
    query = {"group": group}
    base = {k: v for k, v in infos[0].config.items() if k != "algorithm"}
    try:
        values = urlstate.params(base, [info.config.get("algorithm", {"name": "bp"}) for info in infos])
    except ConfigError:
        if strict:
            raise
        return query  # a setting the Train page has no control for: show the runs, keep the controls
    query.update(parse_qsl(urlstate.query_string(values)))
    return query


def config_json(info: RunInfo) -> str:
    """A run's config as a JSON file's text: what ``python -m explorer train --config`` reads.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> info = store.get_run(store.create_run({"seed": 9}))
        >>> json.loads(config_json(info)) == info.config
        True
    """
    return json.dumps(info.config, indent=2) + "\n"


__all__ = ["COLUMNS", "MISSING", "Overlay", "config_json", "dataset_name", "delete_runs", "describe", "filter_runs", "finals",
           "matches",
           "network", "options", "overlay_labels", "percent", "readable", "refusal", "rule_name", "runs_frame", "search_text",
           "train_query"]
