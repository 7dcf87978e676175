"""Reproduce: the catalogue of published experiments, each run here beside its published values.

Pick a document and an entry (a published table or figure), a scale and a number of seeds; the page
shows the entry's setting, its published values ("≈" where read off a plot) and whether its data
is here. **Run** trains the runs the store does not hold finished yet (`explorer.experiments.reproduce`
plans them; the server's job manager trains them off the script thread), live; then the curves of
every run (mean over seeds, published values marked) and the table published | measured | verdict.

The address holds ``?entry=<id>&scale=<scale>&seeds=<n>``, so a teacher's link opens the same view
(and the runs the server's store already holds for it); ``&hide=catalogue,size`` folds the
catalogue's and the size's controls into a closed box, as on the other pages. A link naming no
entry, scale or seed count the page has says which parameter, and shows the catalogue instead.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import streamlit as st

from explorer.config import DEVICES, ConfigError
from explorer.config.labels import number_text
from explorer.experiments import catalogue
from explorer.experiments import report
from explorer.experiments import reproduce as rp
from explorer.experiments.catalogue.entry import FOLDER_DATASETS
from explorer.experiments.measures import measure, unit_of, words_of
from explorer.runs.store import StoreError
from explorer.runs.sweep import summarise
from explorer.runs.workspace import Followed
from explorer.views import frames, links, sketch
from pages import common

SCALE_ORDER = ("classroom", "smoke", "full")
SCALE_WORDS = {"classroom": "classroom: minutes on a laptop CPU", "smoke": "smoke: seconds, a check that it runs",
               "full": "full: the document's own setting"}
MAX_SEEDS = 10
KEEP = {"bind": "query-params"}
ALL = "all documents"
CONTROL_GROUPS = ("catalogue", "size")   # what a classroom link can fold away (?hide=…)


def _documents() -> dict[str, str]:
    """Each document of the catalogue (its ``source``) -> its name in the filter, in catalogue order."""
    return catalogue.document_names()


def _entry_id(text: str) -> str:
    """An entry id from a link; refused, with the closest ids, when the catalogue has none."""
    if text not in catalogue.CATALOGUE:
        try:
            catalogue.get(text)
        except catalogue.EntryNotFound as err:
            raise links.Refused(f"names no entry of the catalogue: {err}") from None
        raise links.Refused("names no entry of the catalogue by this exact id")
    return text


def _link_params() -> dict[str, links.Param]:
    """What the page reads from a link (`common.door`): a link naming no entry, scale or seed count
    the page has says which parameter, and the catalogue is shown instead."""
    documents = _documents()
    return {"entry": links.Param("entry", _entry_id),
            "scale": links.Param("scale", links.choice_reader(SCALE_ORDER)),
            "seeds": links.Param("seeds", links.int_reader(1, MAX_SEEDS)),
            "rp_doc": links.Param("document", links.choice_reader([ALL, *documents.values()])),
            "rp_search": links.Param("search"), "rp_root": links.Param("data folder"),
            "rp_device": links.Param("device", links.choice_reader(DEVICES)),
            "hide": links.Param("hidden controls", common.hide_reader(CONTROL_GROUPS))}


def _matches(entry: catalogue.Entry, words: str) -> bool:
    """Every word of the search is somewhere in the entry's id, reference, title, dataset, runs or notes."""
    hay = " ".join([entry.id, entry.ref, entry.title, entry.dataset, entry.notes,
                    *(run.label for run in entry.runs)]).lower()
    return all(word in hay for word in words.lower().split())


def _pick_entry(where) -> catalogue.Entry | None:
    """The filter (document, search) and the entry picked, drawn in ``where``; None, with a message,
    if none matches."""
    documents = _documents()
    left, middle, right = where.columns([2, 2, 3])
    doc = left.selectbox("document", [ALL, *documents], format_func=lambda s: documents.get(s, s),
                         key="rp_doc", **KEEP)
    words = middle.text_input("search", key="rp_search", placeholder="table, rule, dataset…", **KEEP)
    ids = [e.id for e in catalogue.CATALOGUE.values() if (doc == ALL or e.source == doc) and _matches(e, words)]
    # ``?entry=`` is bound by hand: a bound selectbox would write its label into the address, not the id.
    linked = st.query_params.get("entry")
    if linked in catalogue.CATALOGUE and linked != st.session_state.get("rp_entry_linked"):
        st.session_state["entry"] = linked   # a new link (or the address edited): it wins over the session
    current = st.session_state.get("entry")
    if current in catalogue.CATALOGUE and current not in ids:
        ids.insert(0, current)   # the entry shown stays listed whatever the filter
    if not ids:
        right.info("No entry of the catalogue matches this filter." if catalogue.CATALOGUE else
                   "The catalogue is empty.")
        return None
    if current not in ids:
        st.session_state.pop("entry", None)
    chosen = right.selectbox("entry", ids, key="entry",
                             format_func=lambda i: f"{catalogue.CATALOGUE[i].ref}: {catalogue.CATALOGUE[i].title}")
    st.query_params["entry"] = st.session_state["rp_entry_linked"] = chosen
    return catalogue.CATALOGUE[chosen]


def _published_table(entry: catalogue.Entry) -> pd.DataFrame:
    """The entry's published values as the document gives them ("≈": read off a plot)."""
    return pd.DataFrame([{"run": p.run, "metric": words_of(p.metric), "published": p.text(),
                          "read at": p.at if isinstance(p.at, str) else f"epoch {p.at}",
                          "tolerance": f"±{number_text(entry.tolerance if p.tolerance is None else p.tolerance)}"}
                         for p in entry.published], columns=["run", "metric", "published", "read at", "tolerance"])


def _cost(entry: catalogue.Entry, scale: str, planned: list) -> None:
    """What runs at this scale: the cost of ``full``, what the smaller scales shrink."""
    epochs = sorted({p.config.train.epochs for p in planned})
    size = f"{len(planned)} run(s) of {'/'.join(map(str, epochs))} epoch(s) on {entry.dataset}"
    if scale == "full":
        st.warning(f"**Full scale is the document's own setting**: {size}. On a laptop CPU that can take hours "
                   "(the whole catalogue takes about an hour on one GPU); classroom scale shows the same "
                   "comparison in minutes.")
    else:
        st.caption(f"**{scale.capitalize()} scale** ({size}) shrinks the document's setting: "
                   f"{entry.scale(scale).shrinks}.")


def _setting(entry: catalogue.Entry, scale: str) -> None:
    """The runs' changes, the scale's, the document's own setting, and the entry's notes."""
    with st.expander("The setting"):
        runs = pd.DataFrame([{"run": r.label, "changes": json.dumps(r.changes)} for r in entry.runs])
        st.dataframe(runs, hide_index=True, width="stretch", key="rp_runs")
        if scale != "full":
            st.caption(f"At {scale} scale, every run also takes: `{json.dumps(entry.scale(scale).changes)}`")
        st.caption("The document's own setting (full scale), before each run's changes:")
        st.json(entry.setting, expanded=True)
    if entry.notes:
        st.caption(entry.notes)


def _stored(planned: list, store) -> list:
    """For each planned run, its run in the store (`reproduce.run_key`: a finished one first, else
    one still going, else the latest) or None."""
    wanted = [rp.run_key(p.config) for p in planned]
    rank = {status: 0 for status in rp.FINISHED} | {"queued": 1, "running": 1, "paused": 1}
    best: dict[str, object] = {}
    for info in store.list_runs():   # newest first
        key = rp.run_key(info.config)
        if key in wanted and (key not in best or rank.get(info.status, 2) < rank.get(best[key].status, 2)):
            best[key] = info
    return [best.get(key) for key in wanted]


def _submit(entry: catalogue.Entry, scale: str, todo: list) -> None:
    """Queue ``todo`` on the server's job manager: one group per seed (a group shares its seed)."""
    jobs = common.workspace().jobs

    def start() -> list[str]:
        return [h.id for seed in sorted({p.seed for p in todo})
                for h in jobs.submit_group([p.config for p in todo if p.seed == seed],
                                           label=rp.group_label(entry.id, scale))]
    common.start_runs([p.config for p in todo], start)


def _followed(ids: list[str], labels: list[str]) -> Followed:
    """The runs shown, kept in the session so that each poll reads only new records."""
    cache = st.session_state.setdefault("rp_followed", {})
    key = tuple(ids)
    if key not in cache:
        cache.clear()
        cache[key] = Followed(common.workspace().store, ids, labels)
    return cache[key]


def _metrics(entry: catalogue.Entry) -> list[str]:
    """The metrics the curves show: each one the entry publishes, in order (test accuracy if none)."""
    return list(dict.fromkeys(p.metric for p in entry.published)) or ["test_acc"]


def _band(by_run: dict[str, list[list[dict]]], metric: str) -> pd.DataFrame:
    """Mean and 95% interval over seeds of ``metric`` (`measures.measure`, in its unit) at every
    record (the seeds of a run log at the same steps): run, epoch, mean, low, high, n."""
    rows = [(run, float(r["epoch"]), metric, value) for run, seeds in by_run.items() for records in seeds
            for r in records if "epoch" in r and not math.isnan(value := measure(r, metric))]
    band = summarise(pd.DataFrame(rows, columns=["run", "epoch", "metric", "value"]), ["run"])
    band = band.sort_values(["run", "epoch"], kind="stable").reset_index(drop=True)
    if unit_of(metric) == "%":
        band["low"], band["high"] = band["low"].clip(lower=0.0), band["high"].clip(upper=100.0)
    return band[["run", "epoch", "mean", "low", "high", "n"]]


def _status(planned: list, followed: Followed) -> None:
    """How far the entry's runs are (a bar over all their steps), which ones train and at which epoch."""
    infos = followed.infos
    counts: dict[str, int] = {}
    for info in infos:
        word = common.STATUS_WORDS.get(info.status, info.status)
        counts[word] = counts.get(word, 0) + 1
    words = ", ".join(f"{n} {w}" for w, n in counts.items())
    now = [f"{label}: epoch {(info.progress or 0.0) * p.config.train.epochs:.1f}/{p.config.train.epochs}"
           for p, label, info in zip(planned, followed.labels, infos) if info.status == "running"]
    st.progress(min(1.0, followed.progress), text=" · ".join([f"{len(infos)} runs: {words}", *now]))
    common.run_problems(followed.labels, infos)


def _draw(entry: catalogue.Entry, scale: str, planned: list, followed: Followed) -> None:
    _status(planned, followed)
    order = [run.label for run in entry.runs]
    by_run: dict[str, list[list[dict]]] = {}
    for p, label in zip(planned, followed.labels):
        by_run.setdefault(p.label, []).append(followed.records[label])
    pictures = []
    metrics = _metrics(entry)
    places = st.columns(2) if followed.finished and len(metrics) > 1 else [st.container()]
    for i, metric in enumerate(metrics):
        band = _band(by_run, metric)
        if not followed.finished:   # a live chart's cost grows with its points (`common.LIVE_POINTS`)
            band = pd.DataFrame([row for _, rows in band.groupby("run", sort=False)
                                 for row in frames.thin(rows.to_dict("records"), common.LIVE_POINTS)],
                                columns=band.columns)
        points = rp.published_points(entry, scale, metric)
        if not followed.finished:
            if not band.empty:
                references = dict(zip(points["run"][::-1], points["published"][::-1]))   # the first per run
                pictures.append(sketch.band_svg(band, references, measure=report.metric_title(metric), order=order))
        elif band.empty:
            places[i % len(places)].caption(f"{report.metric_title(metric)}: no run has a record at the end of an epoch.")
        else:
            places[i % len(places)].altair_chart(report.entry_chart(entry, band, points, metric),
                                                 key=f"rp_chart_{metric}", height=report.PAGE_HEIGHT)
    if pictures:
        st.markdown(sketch.panels(pictures), unsafe_allow_html=True)
    if pictures or followed.finished:
        st.caption("Lines: each run's mean over seeds; shaded: 95% confidence interval of the mean (two seeds "
                   "or more); " + ("dashed: the published values." if not followed.finished else
                                   "marks: the published values at their epoch (final and best ones at the last "
                                   "epoch; hollow: read off a plot, ≈)."))
    elif not followed.finished:
        st.caption("The curves appear at the end of the first epoch.")


def _results(entry: catalogue.Entry, scale: str, seeds: int, root: str | None) -> None:
    """The side-by-side table, read from the store."""
    table = rp.results([entry], scale, seeds, common.workspace().store, root=root)
    if table.empty:
        st.caption("This entry publishes no number to compare with.")
        return
    shown = pd.DataFrame({
        "run": table["run"], "metric": [words_of(m) for m in table["metric"]],
        "published": [rp.value_text(r.published, r.unit, bool(r.approx)) for r in table.itertuples()],
        "measured": [rp.measured_text(r.mean, r.ci95, r.unit) for r in table.itertuples()],
        "seeds": table["n"].astype(int),
        "verdict": table["verdict"], "detail": table["detail"]})
    st.dataframe(shown, hide_index=True, width="stretch", key="rp_results")
    order = [o for o in table.get("order", pd.Series(dtype=str)).unique() if o and o != "-"]
    if order:
        st.caption(f"Order of the runs by the published metric: **{order[0]}** with the document's.")


st.title("Reproduce")
st.caption("Every published table and figure of the source documents, run here at the scale you choose, with "
           "the published values beside the measured ones.")
common.door("reproduce", _link_params())
classroom = common.Classroom(CONTROL_GROUPS)
entry = _pick_entry(classroom.box("catalogue", st.container()))
if entry is None:
    st.stop()
st.subheader(f"{entry.ref}: {entry.title}")
st.caption(f"{_documents().get(entry.source, entry.source)} · data: {entry.dataset} · `{entry.id}`")
st.markdown("**Published values**")
st.dataframe(_published_table(entry), hide_index=True, width="stretch", key="rp_published")

a, b, c, d = classroom.box("size", st.container()).columns(4)
scale = a.selectbox("scale", SCALE_ORDER, key="scale", **KEEP, help="; ".join(SCALE_WORDS.values()))
seeds = int(b.number_input("seeds", value=1, step=1, key="seeds", **KEEP,
                           help="each run is trained once per seed (0, 1, …); the table gives the mean and its 95% "
                                "confidence interval (two seeds or more)"))
root = c.text_input("data folder", key="rp_root", placeholder="$EXPLORER_DATA or ~/.explorer/data", **KEEP,
                    help="the folder holding MNIST/raw, notMNIST/raw, cifar-10-batches-py …").strip() or None
device = d.selectbox("device", DEVICES, key="rp_device", **KEEP)

try:
    if seeds > MAX_SEEDS:   # a page cap, not the catalogue's (the control takes any number typed: it is told here)
        raise ConfigError(f"seeds: at most {MAX_SEEDS} on this page, got {seeds}", field="seeds")
    planned = rp.plan([entry], scale, seeds=seeds, root=root, device=None if device == "auto" else device)
except ConfigError as err:
    common.config_error(err)
    st.stop()
quoted = rp.quoted_only(entry)
if not quoted:   # an entry that is not trained has no cost to tell
    _cost(entry, scale, planned)
store = common.workspace().store
absent = quoted or rp.missing_data(entry, root)
stored = _stored(planned, store)
going = any(info is not None and info.active for info in stored)
if absent:
    (st.info if quoted else st.warning)(absent)
else:
    st.caption(f"Data: {entry.dataset}, " + ("found in the data folder." if entry.dataset in FOLDER_DATASETS
                                            else "built in (or generated): nothing to download."))
    waiting = {(p.label, p.seed) for p in rp.pending(planned, store)}
    todo = [p for p, info in zip(planned, stored)
            if (p.label, p.seed) in waiting and not (info is not None and info.active)]
    left, right, _ = st.columns([1, 1, 4])
    if left.button("Run", type="primary", disabled=not todo or going, width="stretch",
                   help=(f"trains the {len(todo)} of {len(planned)} runs not finished in the store; finished "
                         "runs are not run again") if todo else "every run is finished in the store (or training)"):
        try:
            _submit(entry, scale, todo)
        except (ConfigError, StoreError, ValueError) as err:
            common.config_error(err)
        else:
            st.rerun()
    if right.button("Stop", disabled=not going, width="stretch"):
        jobs = common.workspace().jobs
        for info in stored:
            if info is not None and info.active:
                try:
                    jobs.handle(info.id).stop()
                except KeyError:
                    pass   # trained by another process (the command line): watched here, not steered
        st.rerun()
    if not todo and not going:
        st.caption(f"All {len(planned)} runs of this entry at {scale} scale are finished in the store.")

_setting(entry, scale)

shown = [(p, info) for p, info in zip(planned, stored) if info is not None]
if shown:
    followed = _followed([info.id for _, info in shown], [f"{p.label} · seed {p.seed}" for p, _ in shown])
    kept = [p for p, _ in shown]
    common.refreshing(followed.poll, lambda: followed.finished, lambda: _draw(entry, scale, kept, followed), going=going)
elif not absent:
    st.info(f"Press **Run** to train the {len(planned)} run(s) of this entry at {scale} scale.")

st.subheader("Published beside measured")
_results(entry, scale, seeds, root)
