"""Runs: every stored run in one table. Filter it, select several runs to overlay their curves,
open a comparison on the Train page, stop runs still training (in this process or another: the
``train`` command, a sweep), download metrics, configs and charts, delete what is done.

The filters are bound to the URL (``?runs_rule=DFA&runs_q=seed+3``), so a link shows the same
list. Rows are picked with the table's own checkboxes.
"""

from __future__ import annotations

import hashlib
from typing import Callable

import altair as alt

import streamlit as st

from explorer.views import charts, frames, links, run_table
from explorer.runs import export
from explorer.config.labels import rule_label
from explorer.runs.store import STATUSES, StoreError, UnknownRun
from pages import common

LIMITS = (100, 500, 2000, 10000)
CONFIRM = "runs_confirm_delete"   # the run ids a pending delete is waiting to have confirmed
FLASH = "runs_flash"              # a message to show once, after a delete


def _store():
    return common.workspace().store


def _multiselect(column, label: str, options: list[str], key: str, **kw) -> list[str]:
    # Keep values chosen earlier (or from a link) selectable even if no listed run has them now.
    earlier = st.session_state.get(key) or st.query_params.get_all(key)
    chosen = [v for v in dict.fromkeys(earlier) if v not in options]
    return column.multiselect(label, list(options) + chosen, key=key, bind="query-params", **kw)


def _link_params() -> dict[str, links.Param]:
    """What the page reads from a link (`common.door`): its filters."""
    from explorer.config.dataset_options import DATASET_OPTIONS
    from explorer.config.registry import RULES

    return {"runs_limit": links.Param("newest", links.choice_reader([str(n) for n in LIMITS])),
            "runs_status": links.Param("status", links.choice_reader(STATUSES), many=True),
            "runs_rule": links.Param("rule", links.choice_reader([rule_label({"name": r}) for r in RULES]), many=True),
            "runs_data": links.Param("dataset", links.choice_reader(DATASET_OPTIONS), many=True),
            "runs_q": links.Param("search")}


def _listed():
    """Draw the filters; return (runs listed, runs shown after filtering, whether the store holds
    more than the limit, the limit)."""
    cols = st.columns([2, 2, 2, 3, 1.2])
    limit = cols[4].selectbox("newest", LIMITS, key="runs_limit", bind="query-params",
                              help="How many of the newest runs are read from the store")
    listed = _store().list_runs(limit=limit + 1)
    more, listed = len(listed) > limit, listed[:limit]
    present = run_table.options(listed)
    statuses = _multiselect(cols[0], "status", list(STATUSES), "runs_status", placeholder="any status")
    rules = _multiselect(cols[1], "rule", present["rules"], "runs_rule", placeholder="any rule",
                         format_func=lambda r: rule_label({"name": r}))
    datasets = _multiselect(cols[2], "dataset", present["datasets"], "runs_data", placeholder="any dataset")
    text = cols[3].text_input("search", key="runs_q", bind="query-params",
                              placeholder='e.g. dfa tanh "seed 3" adam 3f9a',
                              help="Every term must match: a word matches the start of a word in the run's "
                                   "rule, data, network, optimiser and learning rate, seed, epochs, status, "
                                   "device; a \"quoted phrase\" matches whole words; 4 or more characters "
                                   "also match the start of a run or group id.")
    shown = run_table.filter_runs(listed, statuses=statuses, rules=rules, datasets=datasets, text=text)
    return listed, shown, more, limit


def _caption(listed, shown, more: bool, limit: int) -> None:
    words = f"{len(shown)} of {len(listed)} runs shown"
    if more:
        words += (f"; only the newest {limit} are read from the store, which holds more: raise **newest** "
                  "to list older runs")
    elif len(shown) < len(listed):
        words += f"; the filters hide {len(listed) - len(shown)}"
    st.caption(words + ". Tick rows to compare, open, stop, download or delete them.")


COLUMN_CONFIG = {
    "id": st.column_config.TextColumn("run", help="the run's id", width=80),
    "rule": st.column_config.TextColumn("rule", width=120),
    "data": st.column_config.TextColumn("data", width=65),
    "network": st.column_config.TextColumn("network", width=110),
    "status": st.column_config.TextColumn("status", width=75),
    "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent",
                                                width=90),
    "test_acc": st.column_config.TextColumn("test acc.", help="at the last logged step", width=70),
    "test_loss": st.column_config.TextColumn("test loss", help="at the last logged step", width=70),
    "created": st.column_config.DatetimeColumn("created", format="MM-DD HH:mm", width=90,
                                               help="when the run was asked for, month-day hour:minute "
                                                    "(a queued run has not started)"),
    "notes": st.column_config.TextColumn("notes", help="why a run ended early"),
}
# The columns on screen, all within the page's width at 1400 px (the group, steps and device are
# in the search and the run's config instead).
SHOWN = list(COLUMN_CONFIG)


def _table(shown) -> list[str]:
    """The runs table; the ids of the rows ticked."""
    frame = run_table.runs_frame(shown, run_table.finals(_store(), shown))
    # The table's key follows the runs listed, so a row picked always means the run it showed.
    digest = hashlib.sha1(",".join(frame["id"]).encode()).hexdigest()[:12]
    event = st.dataframe(frame, key=f"runs_table_{digest}", on_select="rerun", selection_mode="multi-row",
                         hide_index=True, column_config=COLUMN_CONFIG, column_order=SHOWN,
                         width="stretch")
    rows = [r for r in event.selection.rows if 0 <= r < len(frame)]
    return [frame["id"].iloc[r] for r in rows]


def _forget(groups) -> None:
    """Drop the session's cached views of groups whose runs changed; stop showing a group now empty."""
    cache = st.session_state.get("comparisons", {})
    for group in groups:
        cache.pop(group, None)
    current = st.session_state.get("group")
    if current in groups and not _store().list_runs(group=current, limit=1):
        common.remember_group(None)


def _delete(overlay: run_table.Overlay) -> None:
    ids = overlay.ids
    pending = st.session_state.get(CONFIRM)
    if pending is not None and pending != ids:
        st.session_state.pop(CONFIRM)   # the selection changed: ask again
        pending = None
    if pending is None:
        return
    with st.container(border=True):
        names = "\n".join(f"- **{label}** ({info.id}, {info.status})"
                          for label, info in zip(overlay.labels, overlay.infos))
        st.warning(f"Delete {len(ids)} run(s) with their metrics, snapshots and checkpoints? "
                   f"This cannot be undone.\n\n{names}")
        yes, no, _ = st.columns([1.4, 1, 3])
        if yes.button(f"Yes, delete {len(ids)} run(s)", type="primary", key="runs_delete_yes"):
            st.session_state.pop(CONFIRM)
            deleted, problems = run_table.delete_runs(_store(), ids)
            _forget({info.group for info in overlay.infos if info.group})
            if deleted:
                st.session_state[FLASH] = f"Deleted {len(deleted)} run(s)."
            if problems:
                st.session_state[FLASH + "_error"] = "Not deleted: " + " ".join(problems)
            st.rerun()
        if no.button("Cancel", key="runs_delete_no"):
            st.session_state.pop(CONFIRM)
            st.rerun()


def _opening(group: str) -> tuple[str, dict]:
    """The page that holds ``group``'s setup, and its address (`common.opening`)."""
    return common.opening(list(reversed(_store().list_runs(group=group))))


def _open(page: str, query: dict) -> None:
    if page == "pages/train.py":
        common.remember_group(query["group"])
    common.open_on(page, query)


STOPPED = "Stop asked for {n} run(s); the process that trains them stops them within a few seconds."


def _stop(overlay: run_table.Overlay, column) -> None:
    """The Stop button: a stop request in the store for each selected active run, which the process
    that trains it (this app, the ``train`` command, a sweep) reads and obeys (`Store.request_stop`)."""
    active = [info.id for info in overlay.infos if info.active]
    asked = [info.id for info in overlay.infos if info.active and info.stop_requested is not None]
    if not active:
        tip = "none of the selected runs is queued, running or paused"
    elif len(asked) == len(active):
        tip = "asked already; the process that trains them stops them within a few seconds"
    else:
        tip = ("stop the selected runs that are queued, running or paused, whichever process trains them; "
               "they end cancelled with what they logged")
    if not column.button("Stop", key="runs_stop", icon=":material/stop:", disabled=not active, width="stretch",
                         help=tip):
        return
    try:
        stopped, notes = run_table.stop_runs(_store(), active)
    except StoreError as err:
        st.error(f"Not stopped: {err}")
        return
    if stopped:
        st.success(STOPPED.format(n=len(stopped)))
    if notes:
        st.info(" ".join(notes))


def _actions(overlay: run_table.Overlay) -> None:
    store, ids = _store(), overlay.ids
    pairs = list(zip(overlay.labels, overlay.infos))
    groups = list(dict.fromkeys(info.group for info in overlay.infos if info.group))
    c = st.columns(5)   # open, stop, delete, metrics, config
    if len(groups) == 1:
        page, query = _opening(groups[0])
        title = common.PAGE_TITLES[page]
        if c[0].button(f"Open on the {title} page", key="runs_open", width="stretch",
                       help=f"show this comparison (all its runs) and its setup on the {title} page, the page "
                            "whose controls hold it"):
            _open(page, query)
    elif groups:
        with c[0].popover("Open on its page", width="stretch",
                          help="the selected runs belong to several comparisons: pick one"):
            for group in groups:
                page, query = _opening(group)
                names = ", ".join(label for label, info in pairs if info.group == group)
                if st.button(f"{names} (group {group[:8]}…), on the {common.PAGE_TITLES[page]} page",
                             key=f"runs_open_{group}", width="stretch"):
                    _open(page, query)
    else:
        c[0].button("Open on the Train page", key="runs_open", disabled=True, width="stretch",
                    help="these runs were started outside a comparison (e.g. from the command line)")
    if c[2].button("Delete…", key="runs_delete", width="stretch", help="asks before it deletes anything"):
        refused = [r for r in (run_table.refusal(info, label) for label, info in pairs) if r]
        if refused:
            st.session_state.pop(CONFIRM, None)
            st.error("Not deleted. " + " ".join(refused))
        else:
            st.session_state[CONFIRM] = ids
    c[3].download_button("Metrics (CSV)", lambda: export.runs_table(store, ids).to_csv(index=False),
                         file_name=f"run-{ids[0]}.csv" if len(ids) == 1 else "runs-metrics.csv", mime="text/csv",
                         key="runs_csv", on_click="ignore", width="stretch",
                         help="every logged record of the selected runs, one row each")
    config_help = "the run's config: `python -m explorer train --config` reads it"
    if len(ids) == 1:
        c[4].download_button("Config (JSON)", run_table.config_json(overlay.infos[0]),
                             file_name=f"config-{ids[0]}.json", mime="application/json", key="runs_config",
                             on_click="ignore", width="stretch", help=config_help)
    else:
        with c[4].popover("Config (JSON)", width="stretch", help="one config file per run"):
            for label, info in pairs:
                st.download_button(label, run_table.config_json(info), file_name=f"config-{info.id}.json",
                                   mime="application/json", key=f"runs_config_{info.id}", on_click="ignore",
                                   width="stretch", help=config_help)
    _stop(overlay, c[1])
    _delete(overlay)


def _chart_downloads(chart: Callable[[], alt.Chart], name: str, where) -> None:
    """PNG and SVG buttons for the chart ``chart()`` builds (`export.picture`: 2x, on white); it is
    built and rendered only when one is pressed."""
    a, b, _ = where.columns([1, 1, 3])
    for column, (fmt, mime) in zip((a, b), export.PICTURES.items()):
        column.download_button(fmt.upper(), lambda fmt=fmt: export.picture(chart(), fmt), file_name=f"runs-{name}.{fmt}",
                               mime=mime, key=f"runs_{name}_{fmt}", on_click="ignore")


def _curves(overlay: run_table.Overlay) -> None:
    """The selected runs' curves: live while any trains, Vega charts with downloads once all ended."""
    common.run_problems(overlay.labels, overlay.infos)
    left, mid, _ = st.columns([2, 3, 2])
    x = left.radio("x axis", ["epoch", "step"], horizontal=True, key="runs_x")
    log = common.loss_axis("runs_loss_axis", mid)
    for measure, column in common.curves(overlay, "runs", x=x, log=log).items():
        _chart_downloads(lambda m=measure: charts.learning_curves(
            frames.curves(frames.thinned(overlay.records)), m, x=x, order=overlay.labels,
            diverged=overlay.diverged(x), log=log if m == "loss" else None), measure, column)


def _overlay(ids: list[str]) -> run_table.Overlay | None:
    """The selected runs, kept in the session so each poll reads only new records."""
    cached = st.session_state.get("runs_overlay")
    if cached is None or cached.ids != ids:
        cached = run_table.Overlay(_store(), ids)
        st.session_state["runs_overlay"] = cached
    try:
        cached.poll()
    except UnknownRun:
        st.session_state.pop("runs_overlay", None)
        st.warning("A selected run was deleted meanwhile (perhaps in another tab).")
        return None
    return cached


def _live(overlay: run_table.Overlay) -> None:
    def poll() -> bool:
        try:
            overlay.poll()
        except UnknownRun:
            st.warning("A selected run was deleted meanwhile (perhaps in another tab).")
            return False
        return True

    common.refreshing(poll, lambda: overlay.finished, lambda: _curves(overlay))


st.title("Runs")
common.door("runs", _link_params())
st.caption("Every run in the store. Tick rows to overlay their curves, open a comparison on the Train page, "
           "stop runs still training, download metrics, configs and charts, or delete runs you no longer need.")
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH))
if FLASH + "_error" in st.session_state:
    st.error(st.session_state.pop(FLASH + "_error"))
try:
    listed, shown, more, limit = _listed()
except StoreError as err:
    st.error(f"The run store cannot be read: {err}")
    st.stop()
if not listed:
    st.info("No runs stored yet. Start some on the **Train** page; they appear here.")
    st.stop()
_caption(listed, shown, more, limit)
if st.button("Refresh", key="runs_refresh", icon=":material/refresh:", help="read statuses and new runs again"):
    pass  # the click itself reruns the page
selected = _table(shown)
if not selected:
    st.info("Tick one or more rows in the table (the boxes at the left) to overlay their loss and accuracy curves.")
    st.session_state.pop(CONFIRM, None)
    st.session_state.pop("runs_overlay", None)
    st.stop()
found = _overlay(selected)
if found is not None:
    st.subheader(f"{len(selected)} run(s) selected")
    _actions(found)
    _live(found)
