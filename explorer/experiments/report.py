"""The reproduction report: a README.md-style Markdown file with one PNG chart per entry.

`write` reads the run store only (`reproduce.results`, `reproduce.curves`): for every entry, the
published | measured (mean ± 95% CI over seeds) | verdict table, whether the runs come in the
published order, what the scale shrinks, and a chart of the curves (test accuracy, or the metric
the entry publishes) per run, mean over seeds with its 95% band, with the published values marked
as points at their epoch ("final" and "best" ones at the last epoch; "≈" for values read off a plot).

Example:
    >>> import os, tempfile
    >>> from explorer.experiments.catalogue import Entry, Published, Run, Scale
    >>> from explorer.runs.store import Store
    >>> entry = Entry("demo", "demo.txt", "Table 1", "BP", {"train": {"epochs": 1}}, (Run("BP", {}),),
    ...               (Published("BP", "test_acc", 90.0),), 1.0, Scale({}, "-"), Scale({}, "-"))
    >>> folder = tempfile.mkdtemp()
    >>> path = write([entry], "smoke", 1, Store(os.path.join(folder, "runs.sqlite")), os.path.join(folder, "out"))
    >>> path.name, "| demo |" in path.read_text() or "demo" in path.read_text()
    ('README.md', True)
"""

from __future__ import annotations

import math
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

import altair as alt
import pandas as pd

from explorer.experiments import reproduce as rp
from explorer.experiments.catalogue import document_name, short_document_name
from explorer.experiments.catalogue.entry import Entry
from explorer.experiments.measures import unit_of, words_of
from explorer.runs.store import Store
from explorer.views.charts import colors, flat_where_unknown, number_axis, wants_log

WIDTH, HEIGHT = 420, 260  # each chart's plotting area, in pixels (the PNG adds axes and legend)
# A page sizes a chart's element to the spec's height and fits everything into it: the element is
# this tall so that the title, the axis and the legend (runs, then the two kinds of published mark)
# fit around a plot of about HEIGHT (at HEIGHT, the title and the legend's last line were cut off).
PAGE_HEIGHT = HEIGHT + 160
EXACT, APPROX = "as printed", "≈ read off a plot"  # the legend of the published points


def metric_title(metric: str) -> str:
    """An axis title for a metric: its words and its unit (`explorer.experiments.measures`).

    Example:
        >>> metric_title("test_acc"), metric_title("update_deg"), metric_title("nse")
        ('test accuracy (%)', "update angle to BP's (°)", 'normalised squared error')
    """
    unit = unit_of(metric).strip()
    return words_of(metric) + (f" ({unit})" if unit else "")


def _epoch_ticks(*tables: pd.DataFrame, most: int = 10):
    """Every whole epoch the ``tables`` span, as the axis's ticks, when there are at most ``most``
    (else left to Vega). Given, not left to ``tickMinStep``: the PNG renderer ignores it and
    printed "1 2 2" under a two-epoch run.

    Example:
        >>> _epoch_ticks(pd.DataFrame({"epoch": [0.5, 1.0, 2.0]}))
        [1, 2]
    """
    columns = [pd.to_numeric(t["epoch"], errors="coerce") for t in tables if "epoch" in t.columns]
    epochs = pd.concat(columns).dropna() if columns else pd.Series(dtype=float)
    if epochs.empty:
        return alt.Undefined
    low, high = math.ceil(epochs.min()), math.floor(epochs.max())
    return list(range(low, high + 1)) if 0 < high - low + 1 <= most else alt.Undefined


def entry_chart(entry: Entry, curves: pd.DataFrame, points: pd.DataFrame, metric: str | None = None) -> alt.Chart:
    """One entry's chart: each run's mean curve over epochs with its 95% band (from
    `reproduce.curves`) and its published values as points (from `reproduce.published_points`),
    filled for values printed in the document and hollow, with "≈" in the legend, for values read
    off a plot. The published points are in the chart's data (a layer of its own) even when no run
    has been made yet.

    Example:
        >>> from explorer.experiments.catalogue import Entry, Published, Run, Scale
        >>> e = Entry("e", "x.txt", "T", "t", {}, (Run("BP", {}),), (Published("BP", "test_acc", 90.0),), 1.0,
        ...           Scale({}, "-"), Scale({}, "-"))
        >>> spec = entry_chart(e, pd.DataFrame(columns=["run", "epoch", "mean", "low", "high", "n"]),
        ...                    rp.published_points(e, "full")).to_dict()
        >>> [row["published"] for d in spec["datasets"].values() for row in d if "published" in row]
        [90.0]
    """
    metric = metric or rp.primary_metric(entry)
    labels = [r.label for r in entry.runs]
    scale = colors(labels)
    title = metric_title(metric)
    x = alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d", values=_epoch_ticks(curves, points)),
              scale=alt.Scale(zero=False))
    y_scale = alt.Scale(zero=False)
    if unit_of(metric) == "%" and len(curves):  # a band never leaves 0 … 100%
        curves = curves.assign(low=curves["low"].clip(0, 100), high=curves["high"].clip(0, 100))
    values = [*curves["mean"], *points["published"]] if len(curves) else list(points["published"])
    logged = unit_of(metric) != "%" and wants_log(values) and min(values) > 0  # e.g. an error falling to 1e-11
    if logged:
        y_scale = alt.Scale(type="log")
        if len(curves):
            curves = curves.assign(low=curves["low"].where(curves["low"] > 0, curves["mean"]))
    points = points.assign(kind=[APPROX if a else EXACT for a in points["approx"]])
    color = alt.Color("run:N", title="run", scale=scale, legend=alt.Legend(symbolOpacity=1, symbolType="circle"))
    layers = []
    if len(curves):
        base = alt.Chart(curves).encode(x=x)
        layers.append(flat_where_unknown(base).mark_area(opacity=0.18).encode(
            y=alt.Y("low:Q", title=title, scale=y_scale, axis=number_axis(log=logged)), y2="high:Q",
            color=color))
        layers.append(base.mark_line(point=alt.OverlayMarkDef(size=18)).encode(
            y=alt.Y("mean:Q", title=title, scale=y_scale), color=color,
            tooltip=["run:N", "epoch:Q", alt.Tooltip("mean:Q", format=".2f"), "n:Q"]))
    shape = alt.Shape("kind:N", title="published", scale=alt.Scale(domain=[EXACT, APPROX], range=["diamond", "circle"]))
    # a layer of no rows leaves Vega an infinite extent to warn about: only the kinds printed here
    kinds = [(k, filled) for k, filled in ((EXACT, True), (APPROX, False)) if (points["kind"] == k).any()]
    for kind, filled in kinds or [(EXACT, True)]:
        layers.append(alt.Chart(points[points["kind"] == kind]).mark_point(size=150, strokeWidth=2.5, filled=filled).encode(
            x=x, y=alt.Y("published:Q", title=title, scale=y_scale, axis=number_axis(log=logged)), color=color,
            shape=shape, tooltip=["run:N", alt.Tooltip("text:N", title="published"), "epoch:Q"]))
    subtitle = entry.title if len(entry.title) <= 80 else entry.title[:79].rsplit(" ", 1)[0] + " …"
    return alt.layer(*layers).properties(width=WIDTH, height=HEIGHT, title=alt.TitleParams(
        f"{entry.id}: {entry.ref}", subtitle=subtitle, anchor="start"))


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(df: pd.DataFrame) -> str:
    """The `reproduce.results` rows as a Markdown table: run | metric | published | measured | n | verdict | detail.

    Example:
        >>> df = pd.DataFrame([{"run": "BP", "metric": "test_acc", "at": "best", "unit": "%", "published": 91.5,
        ...     "approx": True, "mean": 90.0, "ci95": 0.4, "n": 3, "verdict": "differs", "detail": "by -1.5 points"}])
        >>> print(markdown_table(df))
        | run | metric | published | measured (mean ± 95% CI) | seeds | verdict | detail |
        |---|---|---|---|---|---|---|
        | BP | test_acc (best) | ≈91.5% | 90 ± 0.4% | 3 | differs | by -1.5 points |
    """
    lines = ["| run | metric | published | measured (mean ± 95% CI) | seeds | verdict | detail |",
             "|---|---|---|---|---|---|---|"]
    for _, r in df.iterrows():
        metric = r["metric"] if r["at"] == "final" else f"{r['metric']} ({'epoch ' if isinstance(r['at'], int) else ''}{r['at']})"
        cells = [r["run"], metric, rp.value_text(r["published"], r["unit"], bool(r["approx"])),
                 rp.measured_text(r["mean"], r["ci95"], r["unit"]), int(r["n"]), r["verdict"], r["detail"]]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def order_summary(rows: pd.DataFrame) -> str:
    """One entry's ``order`` column in a few words: the verdict, or one per metric where they differ.

    Example:
        >>> rows = pd.DataFrame({"metric": ["train_acc", "test_acc", "test_acc"], "order": ["agrees", "differs", "differs"]})
        >>> order_summary(rows), order_summary(rows[1:]), order_summary(rows.assign(order="-"))
        ('train_acc: agrees, test_acc: differs', 'differs', '-')
    """
    ranked = dict.fromkeys((m, o) for m, o in zip(rows["metric"], rows["order"]) if o != "-")
    if len({o for _, o in ranked}) <= 1:
        return next((o for _, o in ranked), "-")
    return ", ".join(f"{m}: {o}" for m, o in ranked)


def file_name(entry_id: str) -> str:
    """The PNG file of an entry's chart.

    Example:
        >>> file_name("dp-3.1")
        'dp-3.1.png'
    """
    return re.sub(r"[^a-z0-9.-]", "-", entry_id) + ".png"


def _counts(df: pd.DataFrame) -> str:
    counts = df["verdict"].value_counts()
    return ", ".join(f"{int(counts.get(v, 0))} {v}" for v in rp.VERDICTS)


def write(entries: Iterable[Entry], scale: str, seeds: int, store: Store, out_dir: str | os.PathLike,
          root: str | None = None, charts: bool = True) -> Path:
    """Write ``out_dir``/README.md and one PNG per entry (`file_name`); returns the Markdown's path.
    Reads the store only: entries with no runs get their table (verdict "not run") and a chart of
    the published values alone. ``charts=False`` leaves the PNGs out."""
    entries = list(entries)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = rp.results(entries, scale, seeds, store, root)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# Reproduction at {scale} scale", "",
             f"{len(entries)} entries, {seeds} seed(s) each, read from the run store {store.path} on {now}. "
             f"Published values: {_counts(df) if len(df) else 'none'}.", "",
             "Measured is the mean over seeds with its 95% confidence interval (Student's t); a value counts as "
             "reproduced when it is within the entry's tolerance of the published one. \"≈\" marks values read off "
             "a plot. \"order\" says whether the runs come in the order the document ranks them.", ""]
    if len(df):
        lines += ["| entry | document | ref | published values | reproduced | differs | not run | order |",
                  "|---|---|---|---|---|---|---|---|"]
        for entry in entries:
            rows = df[df["id"] == entry.id]
            v = rows["verdict"].value_counts()
            order = order_summary(rows)
            lines.append(f"| [{entry.id}](#{entry.id.replace('.', '')}) | {_cell(short_document_name(entry.source))} | {_cell(entry.ref)} | "
                         f"{len(rows)} | {int(v.get('reproduced', 0))} | {int(v.get('differs', 0))} | "
                         f"{int(v.get('not run', 0))} | {order} |")
        lines.append("")
    for entry in entries:
        rows = df[df["id"] == entry.id]
        lines += [f"## {entry.id}", "", f"**{_cell(entry.title)}**: {document_name(entry.source)}, {entry.ref}; dataset {entry.dataset}; "
                  f"tolerance {entry.tolerance:g}.", ""]
        shrinks = entry.scale(scale)
        if shrinks is not None:
            lines += [f"At {scale} scale: {shrinks.shrinks}.", ""]
        if len(rows):
            lines += [markdown_table(rows), ""]
            orders = {f"{m}" for m, o in zip(rows["metric"], rows["order"]) if o != "-"}
            for metric in sorted(orders):
                o = rows[rows["metric"] == metric]["order"].iloc[0]
                lines += [f"Order of the runs by {metric}: {o} with the document.", ""]
        else:
            lines += ["(no published values)", ""]
        if entry.notes:
            lines += [f"Notes: {entry.notes}", ""]
        if charts:
            metric = rp.primary_metric(entry)
            chart = entry_chart(entry, rp.curves(entry, scale, seeds, store, root, metric),
                                rp.published_points(entry, scale, metric), metric)
            chart.save(str(out / file_name(entry.id)))
            lines += [f"![{entry.id}: {metric_title(metric)} per epoch]({file_name(entry.id)})", ""]
    path = out / "README.md"
    path.write_text("\n".join(lines))
    return path


__all__ = ["HEIGHT", "PAGE_HEIGHT", "WIDTH", "entry_chart", "file_name", "markdown_table", "metric_title",
           "order_summary", "write"]
