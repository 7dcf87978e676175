"""What every notebook widget shares: offline charts, runs followed from the store, the thread
that keeps a widget live, and error labels placed next to the controls.

Example:
    >>> from explorer.views import charts, frames
    >>> view = chart_view(charts.learning_curves(frames.curves({}), "loss", order=["BP"]))
    >>> "https://esm.sh" in view._esm          # Vega's JavaScript travels with the widget
    False
"""

from __future__ import annotations

import html
import threading
from typing import Callable, Mapping, Sequence

import altair as alt
import ipywidgets as widgets
import pandas as pd
import traitlets

from explorer.config import RunConfig
from explorer.runs.workspace import Followed
from explorer.runs.store import RunView, UnknownRun

# -- Charts ------------------------------------------------------------------------------------


def offline_charts() -> None:
    """Render every Altair chart of this notebook without the internet.

    `alt.JupyterChart` (an anywidget) normally imports Vega, Vega-Lite and vega-embed from a CDN
    when a chart is first drawn. In offline mode its JavaScript is bundled once, in Python, by
    ``vl-convert-python`` (``vl_convert.javascript_bundle``): the bundle (about 0.9 MB) travels
    with each chart widget and the browser fetches nothing. The widgets of this package always
    make their charts this way; this call also routes plain charts (``display(chart)``) through
    offline `alt.JupyterChart` (Altair's "jupyter" renderer with ``offline=True``).
    """
    alt.JupyterChart.enable_offline()
    alt.renderers.enable("jupyter", offline=True)


def chart_view(chart: alt.TopLevelMixin) -> alt.JupyterChart:
    """``chart`` as an offline `alt.JupyterChart`; update it later by setting its ``.chart``."""
    # Cheap once offline; needed again if a renderer switched JupyterChart back to the CDN (a
    # widget takes the class's JavaScript when it is made).
    alt.JupyterChart.enable_offline()
    return alt.JupyterChart(chart)


# -- Runs followed from the store ----------------------------------------------------------------


class Runs(Followed):
    """Stored runs followed live, each under a legend label: their records so far (``records``,
    label -> list), their rows (``infos``) and configs. `poll` reads only what is new.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> run = store.create_run({"algorithm": {"name": "dfa"}})
        >>> store.append_metrics(run, [{"step": 1}])
        >>> runs = Runs([store.open_run(run)])
        >>> runs.labels, runs.poll(), runs.poll(), runs.statuses()
        (['DFA'], 1, 0, ['queued'])
    """

    def __init__(self, views: Sequence[RunView], labels: Sequence[str] | None = None) -> None:
        if not views:
            raise ValueError("no runs to follow")
        super().__init__(views[0].store, [v.id for v in views], labels)

    def diverged_at(self, x: str = "epoch") -> dict[str, float]:
        """Label -> where each diverged run diverged, as a ``x`` ("step" or "epoch") value."""
        out = {}
        for label, info, records in zip(self.labels, self.infos, self.lists):
            if info.status == "diverged" and info.diverged_at is not None:
                per_step = records[-1]["epoch"] / records[-1]["step"] if records and records[-1]["step"] else None
                if x == "step":
                    out[label] = float(info.diverged_at)
                elif per_step is not None:
                    out[label] = info.diverged_at * per_step
        return out


def _views(source) -> list[RunView]:
    """The runs in ``source`` (see `follow`) as fresh readers, so widgets never share a cursor."""
    from explorer.runs import workspace as runs_module
    from explorer.runs.jobs import RunHandle
    from explorer.runs.workspace import Comparison

    if isinstance(source, Runs):
        return [RunView(v.store, v.id) for v in source.views]
    if isinstance(source, Comparison):
        return [RunView(source.store, i) for i in source.ids]
    if isinstance(source, RunView):
        return [RunView(source.store, source.id)]
    if isinstance(source, RunHandle):
        return [source.view()]
    if isinstance(getattr(source, "runs", None), Runs):  # a widget that trains or follows runs
        return _views(source.runs)
    if isinstance(source, str):
        try:
            return [runs_module.open(source)]
        except UnknownRun:
            try:
                return _views(runs_module.workspace().comparison(source))
            except UnknownRun:
                raise UnknownRun(f"no run or group {source} in the run store "
                                 f"{runs_module.workspace().store.path}") from None
    if isinstance(source, Sequence):
        return [v for item in source for v in _views(item)]
    if getattr(source, "runs", "absent") is None:
        raise ValueError(f"{type(source).__name__} has no runs yet: start it first")
    raise TypeError(f"cannot follow a {type(source).__name__}: give a run (explorer.runs.workspace.open(id)), a run or "
                    "group id, a Comparison, a widget that trains runs, or a list or dict of these")


def follow(source, labels: Sequence[str] | None = None) -> Runs:
    """Fresh `Runs` over ``source``: a stored run (`RunView`, from ``explorer.runs.workspace.open(id)``), a
    run or group id, a `RunHandle`, a `runs.Comparison`, a widget with runs (`TrainerWidget`), a
    list of these, or a dict {label: run} that names each run's legend entry.

    Example:
        >>> follow(42)
        Traceback (most recent call last):
        ...
        TypeError: cannot follow a int: give a run (explorer.runs.workspace.open(id)), a run or group id, ...
    """
    if isinstance(source, Mapping):
        views = []
        for label, item in source.items():
            found = _views(item)
            if len(found) != 1:
                raise ValueError(f"{label!r} names {len(found)} runs; each label names one run")
            views += found
        return Runs(views, list(map(str, source)))
    return Runs(_views(source), labels)


STATUS_ORDER = ("failed", "diverged", "interrupted", "cancelled", "done")  # the overall verdict, worst first


def overall_status(statuses: Sequence[str]) -> str:
    """One word for a group of runs: running / paused / queued while any is active, else the
    worst final status (failed, diverged, interrupted, cancelled, done).

    Example:
        >>> overall_status(["done", "running"]), overall_status(["done", "diverged"]), overall_status([])
        ('running', 'diverged', 'ready')
    """
    if not statuses:
        return "ready"
    for active in ("running", "paused", "queued"):
        if active in statuses:
            return active
    for final in STATUS_ORDER:
        if final in statuses:
            return final
    return statuses[0]


# -- The live thread ---------------------------------------------------------------------------


class Live:
    """Calls ``tick()`` on a daemon thread every ``interval`` s until it returns False (the runs
    ended) or `stop` is called (the widget closed). An exception in ``tick`` ends the thread and
    goes to ``on_error`` (the widget shows it); nothing is swallowed.

    Example:
        >>> ticks = []
        >>> live = Live(lambda: ticks.append(1) or len(ticks) < 3, interval=0.01)
        >>> live.start(); live.join(5); len(ticks), live.running
        (3, False)
    """

    def __init__(self, tick: Callable[[], bool], *, interval: float = 0.5,
                 on_error: Callable[[BaseException], None] | None = None, name: str = "explorer-widget") -> None:
        self.tick = tick
        self.interval = interval
        self.on_error = on_error
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (stopping a previous one first)."""
        self.stop()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(self._stop,), name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end and wait for it (unless called from the thread itself)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end on its own; `TimeoutError` after ``timeout`` s."""
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"still live after {timeout:g} s")

    def _loop(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                if not self.tick():
                    return
                stop.wait(self.interval)
        except Exception as err:  # shown by the widget, not lost on a thread
            if self.on_error is None:
                raise
            self.on_error(err)


# -- Messages next to the controls --------------------------------------------------------------


def message_html(text: str, kind: str = "error") -> str:
    """``text`` as a small coloured line for an `ipywidgets.HTML` ("" for no text)."""
    if not text:
        return ""
    color = {"error": "#c0392b", "warning": "#b9770e", "info": "#555"}[kind]
    return f'<span style="color:{color}">{html.escape(text)}</span>'


def error_label() -> widgets.HTML:
    """An empty HTML line that shows an error when its value is set (see `message_html`)."""
    return widgets.HTML("")


def cell_text(column: str, value, percents: Sequence[str] = ()) -> str:
    """A table cell as a person reads it: accuracies (a column ending in ``acc``, or one of
    ``percents``) as percentages with one decimal, other numbers by `explorer.views.run_table.readable`
    (21,820; 0.372; 6e-14), a dash for what is missing, text as it is.

    Example:
        >>> cell_text("test_acc", 0.9472), cell_text("mean", 0.5, ["mean"]), cell_text("loss", None)
        ('94.7%', '50.0%', '–')
    """
    from explorer.views.run_table import percent, readable

    if isinstance(value, str):
        return value
    return percent(value) if column.endswith("acc") or column in percents else readable(value)


def table_html(rows: Sequence[Mapping], columns: Sequence[str], headers: Mapping[str, str] | None = None,
               percents: Sequence[str] = ()) -> str:
    """A small HTML table of ``rows`` (dicts), each cell by `cell_text`; ``headers`` renames columns.

    Example:
        >>> html_ = table_html([{"rule": "BP", "test_acc": 0.9472, "loss": 6e-14, "lr": None}],
        ...                    ["rule", "test_acc", "loss", "lr"], {"test_acc": "test acc."})
        >>> [cell.split("<")[0] for cell in html_.split("<td>")[1:]], "test acc." in html_
        (['BP', '94.7%', '6e-14', '–'], True)
    """
    headers = headers or {}
    head = "".join(f"<th>{html.escape(headers.get(c, c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell_text(c, r.get(c), percents))}</td>" for c in columns)
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def readable_frame(frame: pd.DataFrame, percents: Sequence[str] = ()) -> pd.DataFrame:
    """``frame`` with every cell as `cell_text` writes it: a table to show, not to compute with.

    Example:
        >>> readable_frame(pd.DataFrame({"rule": ["BP"], "mean": [0.8123], "published": [None]}),
        ...                ["mean", "published"]).values.tolist()
        [['BP', '81.2%', '–']]
    """
    return pd.DataFrame({c: [cell_text(c, None if _missing(v) else v, percents) for v in frame[c]]
                         for c in frame.columns}, index=frame.index)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)


# -- A widget that draws runs followed from the store --------------------------------------------


class Following(widgets.VBox):
    """A widget that follows runs on its `Live` thread (``self._live``): `wait` and `close`."""

    def wait(self, timeout: float | None = None):
        """Block until the runs have ended and their last records are drawn (`TimeoutError`)."""
        self._live.join(timeout)
        return self

    def close(self) -> None:
        """Stop the live thread (the runs go on) and close the widget."""
        live = getattr(self, "_live", None)  # absent if the widget failed while being made
        if live is not None:
            live.stop()
        super().close()


class RunsWidget(Following):
    """Base of the widgets that draw runs (live or finished): it follows ``run`` (see `follow`) on
    a `Live` thread, sets ``status`` and ``records`` and calls `draw` when records arrive. The
    thread ends when the runs end or the widget is closed. ``config`` / ``configs`` are the
    displayed runs' configs.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> run = store.create_run({"algorithm": {"name": "fa"}})
        >>> store.append_metrics(run, [{"step": 1}, {"step": 2}]); store.finish_run(run, "done")
        >>> class Count(RunsWidget):
        ...     def draw(self):
        ...         self.children = [widgets.Label(f"{self.records} records of {', '.join(self.runs.labels)}")]
        ...
        >>> w = Count(store.open_run(run)); w.follow_live()
        >>> w.children[0].value, w.status, w.config.algorithm.name
        ('2 records of FA', 'done', 'fa')
    """

    status = traitlets.Unicode("")
    records = traitlets.Int(0)
    error = traitlets.Unicode("")

    def __init__(self, run, labels: Sequence[str] | None = None, *, interval: float = 0.5, **kwargs) -> None:
        self.runs = follow(run, labels)
        self.error_line = error_label()
        self._draw_lock = threading.RLock()  # the live thread and a control's callback take turns
        self._live = Live(self._tick, interval=interval, on_error=self._on_thread_error,
                          name=f"explorer-{type(self).__name__}")
        super().__init__(**kwargs)

    @property
    def configs(self) -> list[RunConfig]:
        """The configs of the runs on screen, in order."""
        return list(self.runs.configs)

    @property
    def config(self) -> RunConfig:
        """The first run's config: ``explorer.train(widget.config)`` trains it again."""
        return self.runs.configs[0]

    def follow_live(self) -> None:
        """Draw what is stored now, then keep drawing from the thread while the runs go on."""
        self._tick(first=True)
        if not self.runs.finished:
            self._live.start()

    def _tick(self, first: bool = False) -> bool:
        new = self.runs.poll()
        self.status = overall_status(self.runs.statuses())
        if new or first:
            self.records = sum(len(r) for r in self.runs.lists)
            with self._draw_lock:
                self.draw()
        return not self.runs.finished

    def draw(self) -> None:
        """Redraw from ``self.runs.records`` (on the live thread or after a control changed)."""
        raise NotImplementedError

    def redraw(self, *_) -> None:
        """`draw`, with an error shown in the widget instead of lost in a callback."""
        try:
            self.error_line.value = ""
            with self._draw_lock:
                self.draw()
        except Exception as err:
            self._on_thread_error(err)

    def _on_thread_error(self, err: BaseException) -> None:
        self.error = f"{type(err).__name__}: {err}"
        self.error_line.value = message_html(self.error)
