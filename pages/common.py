"""What the pages share: the process's workspace, the runs a session is looking at, live views.

Pages stay thin: widgets, then calls into `explorer`, then `explorer.views.charts`. This module holds the
few Streamlit-side habits they have in common, so each is written once:

- `workspace()`: one store and job manager for the whole server (``st.cache_resource``).
- `current_group()` / `remember_group()`: the comparison a session looks at. It lives in the
  session and in the URL (``?group=…``), so a reload or a link in another tab finds the run again.
- `comparison()`: that group's runs, read incrementally from the store (each record read once).
- `live()`: a fragment that re-draws more than twice a second while runs are going and stops polling
  when they have all ended.
- `door()`: a link's query parameters checked before any control is drawn: every value the page
  cannot use is named in a message, and the address is rewritten to what is used
  (`explorer.views.links`).
- `start_runs()`: every start goes through the server's caps (`explorer.views.caps`): steps per
  run, runs per session and in all; a guard thread stops runs past their wall time.
"""

from __future__ import annotations

import gc
import re
import time
from typing import Callable, Sequence

import streamlit as st

from explorer.views import caps as server_caps
from explorer.views import frames, links
from explorer.runs import workspace as runs
from explorer.config import ConfigError
from explorer.runs.store import InvalidId, StoreError, UnknownRun, check_id, default_path

REFRESH_S = 0.45  # live views poll this often: at least twice a second, and (measured) cheap enough
FIRST_POINT_WAIT_S = 0.5  # a run just started logs its first record within this, usually
# Points per curve while runs train. A redraw's cost in the browser grows with the points past
# about 100 (measured in Chromium: 100 and 50 cost the same, 250 half as much again); a finished
# run is drawn with `frames.thin`'s default.
LIVE_POINTS = 100


def leave_pages_folder_mode() -> None:
    """Streamlit treats a folder named ``pages/`` beside the main script as an old-style multipage
    app (every file a page, ``common`` included) until the first script run calls
    ``st.navigation``; on a fresh server the first session's first run would run that way, through
    ``app.py`` or, opened at a page's address, through that page alone. ``app.py`` and `door` (which
    every page calls first) turn that run around here: switch the mode off and rerun, through
    ``app.py`` and its ``st.navigation``.

    Never called while this module is imported: a rerun is an exception, and an import that raises
    fails for every session importing it at that moment (a second browser opening a fresh server
    at once saw "cannot import name 'common' from 'pages'").

    Once per process, as a fresh server needs: nothing else turns the mode back on in a server,
    but Streamlit's `AppTest` turns it on before each of its runs, and a rerun there would drop
    the click the run carries.

    >>> leave_pages_folder_mode()  # outside a script run the mode is never on: nothing happens
    """
    global _left_pages_folder_mode
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not _left_pages_folder_mode:
        _left_pages_folder_mode = True
        PagesManager.uses_pages_directory = False
        st.rerun()


_left_pages_folder_mode = False


# Imported once per server: what is loaded by now (torch, pandas, altair…) lives as long as the
# server, so keep it out of the garbage collector's full passes, which otherwise walk it all and
# hold the interpreter while training threads wait.
gc.freeze()

STATUS_WORDS = {
    "queued": "waiting for a free worker",
    "running": "training",
    "paused": "paused",
    "done": "finished",
    "cancelled": "stopped",
    "interrupted": "interrupted (the server stopped while it trained)",
    "failed": "failed",
}


def workspace() -> runs.Workspace:
    """The server's workspace: its run store (``$EXPLORER_STORE`` or ``~/.explorer/runs.sqlite``) and
    the job manager that trains into it, shared by every session; its runs watched by the caps'
    guard (`caps`)."""
    found = _workspace(str(default_path()))
    server_caps.guard(found.jobs, caps())
    return found


def caps() -> server_caps.Caps:
    """The caps whoever hosts this server set (`explorer.views.caps.load`: environment variables, or
    the caps file), read at each use (a few microseconds), so a host's change applies to the next
    start. Caps that cannot be read stop every page with the reason: a server does not quietly
    run without the limits its host asked for."""
    try:
        return server_caps.load()
    except server_caps.CapsFileError as err:
        st.error(f"This server's caps cannot be read, so nothing runs until its host fixes them: {err}")
        st.stop()


MY_RUNS = "my_runs"   # the ids of the runs this session started (for the caps per session)


def start_runs(configs: Sequence, start: Callable[[], Sequence[str]]):
    """Start runs through the server's caps: ``configs`` (the `RunConfig`s about to start) are
    checked against the steps per run and this session's and the server's counts of runs queued or
    training (`explorer.views.caps.CapError`, naming the cap and how the host raises it); then
    ``start()`` starts them and returns their ids, kept as this session's."""
    limits = caps()
    server_caps.check_steps(configs, limits)
    jobs = workspace().jobs
    going = set(jobs.active()) | set(jobs.queued())
    mine = st.session_state.setdefault(MY_RUNS, [])
    server_caps.check_counts(len(configs), sum(1 for i in mine if i in going), len(going), limits)
    ids = list(start())
    mine[:] = [i for i in mine if i in going] + ids
    return ids


def plain(text: str) -> str:
    """``text``, which may quote a link's own words, made safe to show as Markdown: no link
    (``[x](…)``, ``<…>``, nor a bare address, which the renderer would link by itself: an invisible
    word joiner goes into ``http://``, ``www.`` and after ``@``), no maths (``$``), no coloured
    text (``:red[…]``). Everything else reads as written.
    """
    text = text.replace("\\", "\\\\")
    text = re.sub(r"(?i)(https?:|ftp:)//", "\\1\u2060//", text)
    text = re.sub(r"(?i)www\.", lambda m: m.group(0)[:3] + "\u2060.", text).replace("@", "@\u2060")
    text = text.replace("](", "]\\(").replace("<", "\\<").replace("$", "\\$")
    return re.sub(r":(\w+)\[", r":\1\\[", text)


def stored_id(kind: str, many: bool = False) -> Callable[[str], str]:
    """A reader of a ``kind`` ("run" or "group") id in a link, for `door`: refused, with the reason,
    when it is not an id or this server's store has no such run or group. ``many``: ids joined by
    commas (the Parity page's one group per seed)."""
    def read(text: str) -> str:
        store = workspace().store
        for one in text.split(",") if many else [text]:
            try:
                check_id(one, f"{kind} id")
                store.get_group(one) if kind == "group" else store.get_run(one)
            except UnknownRun:
                raise links.Refused(f"this server's store has no {kind} {one}") from None
            except StoreError as err:
                raise links.Refused(str(err)) from None
        return text
    return read


def judged(read: Callable[[str], object], judge: Callable[[object], str | None]) -> Callable[[str], object]:
    """A reader for `door`: ``read`` the text, then refuse the value if ``judge(value)`` finds a
    problem (a page's setup telling a value outside the range it declares)."""
    def reader(text: str):
        value = read(text)
        problem = judge(value)
        if problem:
            raise links.Refused(problem)
        return value
    return reader


def hide_reader(groups: Sequence[str]) -> Callable[[str], str]:
    """A reader of ``hide`` (control groups a classroom link folds away, joined by commas)."""
    def read(text: str) -> str:
        names = [g for g in text.split(",") if g]
        unknown = [g for g in names if g not in groups]
        if unknown:
            words = (f"names no group of controls of this page ({', '.join(map(repr, unknown))}); "
                     f"the groups are {', '.join(groups)}")
            known = ",".join(g for g in names if g in groups)
            if known:   # the groups it does name are hidden; the others said
                raise links.PartlyRefused(words, known, known)
            raise links.Refused(words)
        return text
    return read


def door(page: str, params: dict[str, links.Param],
         check: Callable[[dict], dict[str, str]] | None = None) -> dict[str, str]:
    """Check the link page ``page`` was opened with before any control is drawn (`links.screen`):
    values the page cannot use are named in a warning at the top, and the address is rewritten
    to what is used (a repeated parameter: its last valid value), then the page runs again on it,
    so every control starts from the address. Returns parameter -> its messages on the run right
    after (for pages that also tell them beside the control), else {}. The warning stays until the
    page is next opened. Caps the host set wrong stop the page here, before anything is drawn (`caps`)."""
    leave_pages_folder_mode()
    caps()
    # Only what came with the page's opening (a link, a switch from another page) is screened. On a
    # rerun of the same page the address holds what the controls set in this session, and the page
    # tells a value it cannot use beside its control ("Check this setting"), not as a link's.
    opening = st.session_state.get("door_page") != page
    st.session_state["door_page"] = page
    query = {key: st.query_params.get_all(key) for key in st.query_params.to_dict()} if opening else {}
    found = links.screen(query, params, check)
    told = st.session_state.setdefault("door_told", {})
    fresh = st.session_state.setdefault("door_fresh", set())
    if opening and not found.changed:
        told.pop(page, None)      # a new opening with nothing refused: an older link's words go
    if found.changed:
        told[page] = found.messages(), found.by_param()
        fresh.add(page)
        _rewrite(query, found, params)
        st.rerun()
    messages, by_param = told.get(page, ([], {}))
    if messages:
        st.warning("**Not used from this link** (the address now shows what is used):\n"
                   + "\n".join(f"- {plain(m)}" for m in messages))
    if page in fresh:
        fresh.discard(page)
        return by_param
    return {}


def _rewrite(query: dict[str, list[str]], found: links.Screened, params: dict[str, links.Param]) -> None:
    """The address holds ``found.used`` only. A parameter bound to a control of an earlier run of
    this page is rewritten the way Streamlit itself clears an invalid bound value."""
    from streamlit.errors import StreamlitAPIException
    from streamlit.runtime.state.session_state_proxy import get_session_state

    for key, given in query.items():
        used = found.used.get(key)
        if used == given:
            continue
        if key in params and not used:
            st.session_state.pop(key, None)   # not what the session remembers either (``group``)
        value = (used if params[key].many else used[0]) if used else None
        try:
            if value is None:
                del st.query_params[key]
            else:
                st.query_params[key] = value
        except StreamlitAPIException:   # bound to a control: its own binding's way round
            with get_session_state().query_params() as qp:
                qp.remove_param(key)
                if value is not None:
                    qp.set_with_no_forward_msg(key, value)
                    qp._send_query_param_msg()


@st.cache_resource(show_spinner=False)
def _workspace(path: str) -> runs.Workspace:
    return runs.workspace(path)


def shown(param: str) -> str | None:
    """What this session looks at under ``param`` (a group id, or several joined by commas): the URL's
    value if it has one, else the session's, which goes back into the address (after a visit to
    another page, whose link carries no parameters)."""
    from_url = st.query_params.get(param)
    if from_url:
        st.session_state[param] = from_url
    value = st.session_state.get(param)
    if value and not from_url:
        st.query_params[param] = value
    return value or None


def show(param: str, value: str | None) -> None:
    """Look at ``value`` under ``param`` from now on (None: at nothing), in the session and the URL."""
    if value:
        st.session_state[param] = st.query_params[param] = value
    else:
        st.session_state.pop(param, None)
        st.query_params.pop(param, None)


def current_group() -> str | None:
    """The group id this session looks at (``?group=…``)."""
    return shown("group")


def open_on_train(query: dict) -> None:
    """Switch to the Train page showing exactly the setup ``query`` (its parameters; the page's
    defaults for the rest). The values its controls kept from an earlier visit in this session are
    dropped first: they would fill in whatever the query leaves out. The runs shown (``group``) stay."""
    open_on("pages/train.py", query)


# The session keys of each page's controls, dropped before the page opens on a setup of its own.
CONTROL_PREFIXES = {"pages/parity.py": "par_", "pages/playground.py": "pg_"}
PAGE_TITLES = {"pages/train.py": "Train", "pages/playground.py": "Playground", "pages/parity.py": "Parity"}


def open_on(page: str, query: dict) -> None:
    """Switch to ``page`` (one of `PAGE_TITLES`) showing exactly ``query``, whatever the session set
    on its controls before."""
    if page == "pages/train.py":
        from explorer.views.urlstate import DEFAULTS

        stale = [key for key in DEFAULTS if key != "group"]
    else:
        stale = [key for key in st.session_state if str(key).startswith(CONTROL_PREFIXES[page])]
    for key in stale:
        st.session_state.pop(key, None)
    st.switch_page(page, query_params=query)


def opening(infos) -> tuple[str, dict]:
    """Where a stored comparison opens (``infos``: its runs, oldest first): (page, address) of the
    first page whose controls hold its whole setup, the runs shown there: Train, else the
    Playground, else Parity. Where none does, Train with the runs only (it says why there).

    Example:
        >>> import os, tempfile
        >>> from explorer.experiments.playground import PlaygroundSetup
        >>> from explorer.runs.store import Store
        >>> from explorer.runs.workspace import comparison_configs
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> group = store.create_group(seed=0)
        >>> for cfg in comparison_configs(*PlaygroundSetup(data="xor", rules=("bp", "dfa")).comparison()):
        ...     _ = store.create_run(cfg.to_dict(), group=group)
        >>> page, query = opening(list(reversed(store.list_runs(group=group))))
        >>> page, query["play"] == group, query["pg_data"], query["pg_rules"]
        ('pages/playground.py', True, 'xor', ['BP', 'DFA'])
    """
    from explorer.experiments.parity import ParitySetup
    from explorer.experiments.playground import PlaygroundSetup
    from explorer.views.run_table import train_query

    query = train_query(infos)
    if len(query) > 1:
        return "pages/train.py", query
    group, configs = infos[0].group, [info.run_config() for info in infos]
    for page, read, make, param in (("pages/playground.py", PlaygroundSetup.of, playground_query, "play"),
                                    ("pages/parity.py", ParitySetup.of, parity_query, "parity")):
        try:
            return page, make(read(configs)) | {param: group}
        except ConfigError:
            continue
    return "pages/train.py", query


def playground_query(setup) -> dict:
    """The Playground page's address for ``setup`` (a `PlaygroundSetup`): every setting its controls hold.

    Example:
        >>> from explorer.experiments.playground import PlaygroundSetup
        >>> q = playground_query(PlaygroundSetup(data="spiral", noise=0.3, rules=("bp", "fa"), lr=0.05))
        >>> q["pg_data"], q["pg_noise_spiral"], q["pg_rules"], q["pg_lr"]
        ('spiral', '0.3', ['BP', 'FA'], '0.05')
    """
    from explorer.config.registry import RULES
    from explorer.experiments.playground import CLASS_TOYS

    query = {"pg_data": setup.data, "pg_share": f"{setup.train_share:g}", "pg_samples": str(setup.samples),
             "pg_hidden": setup.hidden, "pg_act": setup.activation, "pg_rules": [RULES[r].label for r in setup.rules],
             "pg_opt": setup.optimizer, "pg_lr": f"{setup.lr:g}", "pg_batch": str(setup.batch_size),
             "pg_epochs": str(setup.epochs), "pg_seed": str(setup.seed), "pg_device": setup.device}
    if setup.noise is not None:
        query[f"pg_noise_{setup.data}"] = f"{setup.noise:g}"
    if setup.data in CLASS_TOYS:
        query["pg_classes"] = str(setup.classes)
    return query


def parity_query(setup) -> dict:
    """The Parity page's address for ``setup`` (a `ParitySetup`): every setting its controls hold.

    Example:
        >>> from explorer.experiments.parity import ParitySetup
        >>> q = parity_query(ParitySetup(k=1, rules=("bp", "rf:relu"), optimizers={"adadelta": 1.0}))
        >>> q["par_k"], q["par_rules"], q["par_opts"], q["par_lr_adadelta"]
        ('1', ['BP', 'RF relu'], ['adadelta'], '1')
    """
    from explorer.config.labels import rule_label
    from explorer.experiments.parity import parity_rule

    query = {"par_k": str(setup.k), "par_base": setup.base,
             "par_rules": [rule_label(parity_rule(r).algorithm) for r in setup.rules],
             "par_opts": list(setup.optimizers), "par_seeds": str(setup.seeds), "par_epochs": str(setup.epochs),
             "par_hidden": str(setup.hidden), "par_batch": str(setup.batch_size)}
    query |= {f"par_lr_{name}": f"{lr:g}" for name, lr in setup.optimizers.items()}
    query |= {key: str(n) for key, n in (("par_train", setup.train_samples), ("par_test", setup.test_samples)) if n}
    return query


def open_on_parity(setup) -> None:
    """Switch to the Parity page showing exactly ``setup``, whatever the session set there before."""
    open_on("pages/parity.py", parity_query(setup))


def remember_group(group: str | None) -> None:
    """Look at ``group`` from now on (None: at nothing), in the session and in the URL."""
    show("group", group)


def comparison(group: str | None = None) -> runs.Comparison | None:
    """The runs of ``group`` (default: `current_group`), kept in the session between reruns so that
    each poll reads only new records; None, with a message, if there is nothing to show."""
    group = group or current_group()
    if not group:
        return None
    cache = st.session_state.setdefault("comparisons", {})
    if group not in cache:
        try:
            cache[group] = workspace().comparison(group)
        except (InvalidId, UnknownRun) as err:
            st.warning(f"The link names runs this server does not have: {err}")
            return None
    found = cache[group]
    return found if _poll(found) else None


def _poll(found: runs.Comparison) -> bool:
    """Read what is new; False, with a message, if the runs were deleted meanwhile (on the Runs
    page, perhaps by another session)."""
    try:
        found.poll()
    except UnknownRun as err:
        st.session_state.get("comparisons", {}).pop(found.group, None)
        st.warning(f"These runs were deleted: {err}")
        return False
    return True


def live(draw: Callable[[runs.Comparison], None], group: str | None = None,
         found: runs.Comparison | None = None) -> None:
    """Draw ``draw(comparison)`` now, and again every `REFRESH_S` seconds while any run is going.
    Give ``found`` (from `comparison`) when the page drew its buttons from it: the view then goes
    on from that look, and if the runs have ended since, the whole page is drawn again at once (so
    Train, Stop and the sidebar never stay live for runs that have ended)."""
    found = found if found is not None else comparison(group)
    if found is None:
        st.info("No runs yet. Start one on the **Train** page (or open a run from **Runs**).")
        return
    going = not found.finished
    deadline = time.monotonic() + FIRST_POINT_WAIT_S
    while going and not any(found.records.values()) and not found.finished and time.monotonic() < deadline:
        time.sleep(0.05)  # a run just started: draw its first point now rather than a poll later
        if not _poll(found):
            return

    refreshing(lambda: _poll(found), lambda: found.finished, lambda: draw(found), going=going)


def refreshing(poll: Callable[[], bool | int | None], finished: Callable[[], bool], draw: Callable[[], None],
               going: bool | None = None) -> None:
    """``draw()`` now, and (after ``poll()``) again every `REFRESH_S` seconds in a fragment while
    ``finished()`` is false; when it turns true, once more as a whole page, so that the view stops
    polling and the page's buttons follow. ``going``: whether the page around was drawn with the
    runs going (default: ``not finished()`` now); runs that ended since make the page redraw at
    once. ``poll()`` returning False skips a drawing."""
    going = not finished() if going is None else going

    @st.fragment(run_every=REFRESH_S if going else None)
    def view() -> None:
        if poll() is False:
            return
        draw()
        if going and finished():
            st.rerun()

    view()


def swapped_spec(name: str, *tables, key: object, make: Callable) -> dict:
    """The Vega-Lite spec of this session's chart ``name`` (`charts.SwapChart`): built by
    ``make(*tables)`` when ``key`` (what decides the chart's look) changes, else the last spec
    with ``tables`` swapped in. Draw it with ``st.vega_lite_chart``."""
    from explorer.views.charts import SwapChart

    chart = st.session_state.setdefault("swapped_charts", {}).setdefault(name, SwapChart(None))
    return chart.spec(*tables, key=key, make=make)


def live_records(found: runs.Followed, labels: Sequence[str] | None = None) -> dict[str, list[dict]]:
    """The records of ``found``'s runs to draw, under ``labels`` (default: theirs): `LIVE_POINTS`
    per curve while they train, more once they have ended."""
    thinned = frames.thinned(found.records, LIVE_POINTS) if not found.finished else frames.thinned(found.records)
    return dict(zip(labels if labels is not None else found.labels, thinned.values()))


MEASURES = ("loss", "accuracy")


def curves(found: runs.Followed, key: str, *, labels: Sequence[str] | None = None, x: str = "epoch",
           log: bool | None = None, status: str = "") -> dict:
    """The loss and accuracy curves of ``found``'s runs under ``labels`` (default: theirs), with
    ``status`` (Markdown) above. While any run trains: plain SVG of `LIVE_POINTS` per curve in one
    element (`explorer.views.sketch`), whose redraw costs the same however long the runs are. Once
    all have ended: Vega charts side by side, each drawn from the session's spec with the new data
    swapped in (`swapped_spec`). A measure without rows (a regression has no accuracy) gets no
    chart. ``x``: "epoch" or "step"; ``log``: the loss axis (`loss_axis`); ``key``: the charts'
    widget keys start with it.

    Returns measure -> the column its Vega chart is in, for buttons under it ({} while live).

    Example (in a page): ``for measure, column in curves(found, "runs", x="step").items(): ...``
    """
    from explorer.views import charts, sketch

    labels = list(labels) if labels is not None else list(found.labels)
    table = frames.curves(live_records(found, labels))
    named = dict(zip(found.labels, labels))
    diverged = {named.get(own, own): at for own, at in found.diverged(x).items()}
    shown = [m for m in MEASURES if not table.empty and (table["measure"] == m).any()]
    if not found.finished and shown:   # redrawn twice a second
        svgs = [sketch.curves_svg(table, m, x=x, order=labels, diverged=diverged, log=log if m == "loss" else None)
                for m in shown]
        st.markdown(sketch.live_panel(status, svgs) if status else sketch.panels(svgs), unsafe_allow_html=True)
        return {}
    if status:
        st.markdown(status)
    if not shown:
        st.caption("These runs logged no points." if found.finished else
                   "The first points appear after the first logged step.")
        return {}
    columns = {}
    for column, measure in zip(st.columns(2), shown):
        part = table[table["measure"] == measure]
        scale = log if measure == "loss" else None
        # what decides the chart's look: a change builds it again, else only the data is swapped in
        look = (tuple(labels), x, tuple(sorted(diverged.items())), charts.dotted(part, ["run", "split"]),
                charts.log_axis(measure, part["value"], scale), charts.single_x(part, x))
        spec = swapped_spec(f"{key} {' '.join(found.ids)} {measure}", part, key=look,
                            make=lambda t, m=measure, lg=scale: charts.learning_curves(
                                t, m, x=x, order=labels, diverged=diverged, log=lg))
        column.vega_lite_chart(spec=spec, key=f"{key}_{measure}_chart")
        columns[measure] = column
    return columns


class Classroom:
    """A page's classroom links. ``?hide=a,b`` names groups of controls (among ``groups``) that the
    link folds into a closed "Settings fixed by this link" box; `box` says where a group's
    controls go, and `share` draws the box that builds such a link from the address bar."""

    def __init__(self, groups: Sequence[str]) -> None:
        self.groups = tuple(groups)
        self.hidden = {h for h in st.query_params.get("hide", "").split(",") if h in self.groups}
        self._locked = None

    def layout(self, cells: Sequence[Sequence[str]], per_row: int = 3) -> dict:
        """Each shown group's column. ``cells`` are the groups drawn one above the other in a column,
        in reading order; the cells with a group the link shows fill rows of ``per_row`` columns, so a
        hidden group leaves no gap. A hidden group has no column: `box` puts it in the closed box."""
        shown = [cell for cell in cells if any(group not in self.hidden for group in cell)]
        columns = {}
        for start in range(0, len(shown), per_row):
            for cell, column in zip(shown[start:start + per_row], st.columns(per_row)):
                columns.update((group, column) for group in cell if group not in self.hidden)
        return columns

    def box(self, group: str, column=None):
        """``column``, or the closed box (made at the first hidden group) if the link hides ``group``."""
        if group not in self.hidden:
            return column
        if self._locked is None:
            self._locked = st.expander("Settings fixed by this link", expanded=False)
        return self._locked

    def share(self, runs_param: str) -> None:
        """"Share this setup": the page's address with the chosen groups hidden, and without the
        runs shown (``runs_param``) unless asked, so that each student starts their own."""
        from urllib.parse import urlencode

        with st.expander("Share this setup"):
            st.caption("The address bar holds the whole setup and the runs shown. Hide controls for a class link:")
            hide = st.multiselect("controls to hide", self.groups, default=sorted(self.hidden))
            with_runs = st.checkbox("link to the runs shown too (otherwise each student starts their own)",
                                    value=False)
            # every value of a repeated parameter (one per rule chosen): to_dict() keeps only the last
            pairs = [(k, v) for k in st.query_params.to_dict() if k != "hide" and (with_runs or k != runs_param)
                     for v in st.query_params.get_all(k)]
            if hide:
                pairs.append(("hide", ",".join(hide)))
            here, text = (st.context.url or "").split("?")[0], urlencode(pairs)
            st.code(f"{here}?{text}" if text else here, language=None)


def show_problems(setup, spots: dict) -> dict[str, str]:
    """``setup.problems()`` (field -> message), each shown right under the control it is about
    (``spots[field]``, else ``spots["setup"]``); an empty dict when the setup can start."""
    problems = setup.problems()
    for name, message in problems.items():
        spots.get(name, spots["setup"]).warning(plain(message))
    return problems


def diverged_message(label: str, info) -> str:
    """Plain words for a run that diverged, failed or was interrupted, or that the server stopped
    at a cap (`explorer.views.caps.Guard`: cancelled with the reason); "" for the others."""
    if info.status == "cancelled" and info.error:
        return f"**{label}** was {info.error}"
    return runs.status_message(label, info)


def run_problems(labels: Sequence[str], infos: Sequence, where=st) -> None:
    """An error box for each run that diverged, failed or was interrupted, in plain words; under a
    failed one, the error's own text in a closed box (for whoever reports it)."""
    for label, info in zip(labels, infos):
        message = diverged_message(label, info)
        if message:
            where.error(message)
        if info.status == "failed" and info.error:
            where.expander(f"{label}: the error as Python reported it").code(info.error, language=None)


def config_error(err: ConfigError | StoreError | ValueError) -> None:
    """Show a refused input the way every page does."""
    st.error(plain(f"Not started: {err}"))


@st.cache_resource(show_spinner=False)
def server_device() -> str:
    """What "auto" trains on here, in words ("CPU", or the GPU's name; with a GPU, auto keeps a
    network whose step is small on the CPU: `explorer.engine.device.auto_device`)."""
    from explorer.engine.device import choose_device, describe

    device = choose_device("auto")
    return describe(device) + ("" if device.type == "cpu" else " (small networks: CPU)")


def sidebar() -> None:
    """The sidebar every page shares: the device and how busy the server is. Drawn after the page
    (app.py), so that it counts the runs as the page last saw them: a run whose end the page shows
    is no longer counted (`explorer.runs.jobs.JobManager.active`)."""
    workspace()
    active, queued = runs.activity()
    st.sidebar.caption(f"Device: **{server_device()}**  \nTraining now: {active} run(s), {queued} waiting")


LOSS_AXES = {"auto": None, "linear": False, "log": True}


def loss_axis(key: str, where=st) -> bool | None:
    """The "loss axis" control every page with a loss chart offers: None (auto: log by itself when
    the losses span several decades, see `explorer.views.charts.wants_log`), False (linear) or True (log).
    Pass the result as the ``log`` of `explorer.views.charts.learning_curves` / `explorer.views.sketch.curves_svg`."""
    choice = where.radio("loss axis", list(LOSS_AXES), horizontal=True, key=key,
                         help="auto: a log scale when the losses span several decades (after a divergence)")
    return LOSS_AXES[choice]
