"""Altair charts, shared by the Streamlit app and the notebook widgets.

Every chart takes a tidy table from `explorer.frames` (or the embedding and boundary tables of the
pages) and returns an Altair chart; nothing here trains or measures. Colour has one meaning
everywhere: each rule keeps its colour on every chart (`colors`), so BP is the same blue on the
loss curve, the alignment panel and the t-SNE page.

Example:
    >>> from explorer import frames
    >>> recs = [{"step": s, "epoch": s / 10, "train_loss": 1 / s, "test_loss": 1.1 / s, "train_acc": 0.5,
    ...          "test_acc": 0.5} for s in (1, 2, 3)]
    >>> chart = learning_curves(frames.curves({"BP": recs, "DFA": recs}), "loss")
    >>> spec = chart.to_dict()
    >>> spec["encoding"]["color"]["scale"]["domain"]
    ['BP', 'DFA']
"""

from __future__ import annotations

import io
from typing import Mapping, Sequence

import altair as alt
import pandas as pd

# Tables of a few thousand rows are normal here (embeddings, long runs); Altair's default cap of
# 5,000 rows would turn them into an error, so it is lifted for the charts built by this module.
alt.data_transformers.disable_max_rows()

# One colour per rule, in the order of ALGORITHMS.md (Tableau 10, then its lighter half).
RULE_COLORS = {
    "BP": "#4c78a8", "FA": "#f58518", "DFA": "#e45756", "IFA": "#72b7b2", "BDFA": "#54a24b", "FP": "#eeca3b",
    "sDFA": "#b279a2", "ssDFA": "#ff9da6", "uSF": "#9d755d", "frSF": "#bab0ac", "brSF": "#2f4b7c",
    "RF": "#8cd17d", "NTK": "#499894",
}
SPARE_COLORS = ["#79706e", "#d37295", "#fabfd2", "#b6992d", "#f1ce63", "#86bcb6", "#e15759", "#a0cbe8"]
CLASS_SCHEME = "tableau10"
# Vega's "tableau10" scheme, for pictures painted outside Vega (`explorer.paint`)
CLASS_COLORS = ("#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6",
                "#9d755d", "#bab0ac")
DIVERGED_COLOR = "#d62728"


def colors(labels: Sequence[str]) -> alt.Scale:
    """A colour scale over ``labels``: each gets its `rule_colors` colour.

    Example:
        >>> colors(["BP", "DFA", "BDFA block 2", "BDFA block 4"]).to_dict()["range"]
        ['#4c78a8', '#e45756', '#54a24b', '#79706e']
    """
    return alt.Scale(domain=list(labels), range=rule_colors(labels))


def rule_colors(labels: Sequence[str]) -> list[str]:
    """One colour per label: its rule's (the label's first word); a second label of the same rule,
    or an unknown one, takes a spare colour.

    Example:
        >>> rule_colors(["DFA", "DFA seed 2"])
        ['#e45756', '#79706e']
    """
    taken: set[str] = set()
    spare = iter(SPARE_COLORS * (1 + len(labels) // len(SPARE_COLORS)))
    out = []
    for label in labels:
        color = RULE_COLORS.get(str(label).split(" ")[0])
        if color is None or color in taken:
            color = next(c for c in spare if c not in taken)
        taken.add(color)
        out.append(color)
    return out


def run_order(df: pd.DataFrame, order: Sequence[str] | None) -> list[str]:
    """The runs of a table in the order to draw them: ``order`` if given, else as they first appear.

    Example:
        >>> run_order(pd.DataFrame({"run": ["DFA", "BP", "DFA"]}), None)
        ['DFA', 'BP']
    """
    return list(order) if order is not None else list(dict.fromkeys(df["run"]))


def learning_curves(df: pd.DataFrame, measure: str = "loss", *, x: str = "epoch",
                    order: Sequence[str] | None = None, diverged: Mapping[str, float] | None = None,
                    log: bool = False, height: int = 260, live: bool = False) -> alt.Chart:
    """Train (solid) and test (dashed) curves of one measure ("loss" or "accuracy") per run, from
    `frames.curves`. ``diverged`` maps a run to the ``x`` value where it diverged: a red rule and a
    label mark the spot. ``live``: a chart redrawn while runs train, without tooltips or point
    marks; the browser evaluates a tooltip for every point at every redraw, and a moving chart is
    not read by hovering (measured: the two charts of the Train page cost the browser about half
    as much CPU per redraw without them)."""
    if measure not in ("loss", "accuracy"):
        raise ValueError(f"measure must be 'loss' or 'accuracy', got {measure!r}")
    data = df[df["measure"] == measure]
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    encoding = dict(
        x=alt.X(f"{x}:Q", title=x),
        y=alt.Y("value:Q", title=measure, scale=scale),
        color=alt.Color("run:N", title="rule", scale=colors(run_order(df, order))),
        strokeDash=alt.StrokeDash("split:N", title="data", scale=alt.Scale(domain=["train", "test"],
                                                                            range=[[1, 0], [5, 3]])),
    )
    if not live:
        encoding["tooltip"] = ["run:N", "split:N", alt.Tooltip(f"{x}:Q", format=".2f"),
                               alt.Tooltip("value:Q", format=".4f")]
    lines = alt.Chart(data).mark_line(point=not live and len(data) < 60).encode(**encoding)
    chart = lines
    if diverged:
        marks = pd.DataFrame({"run": list(diverged), x: list(diverged.values()),
                              "text": [f"{run} diverged" for run in diverged]})
        rule = alt.Chart(marks).mark_rule(color=DIVERGED_COLOR, strokeDash=[2, 2]).encode(x=f"{x}:Q")
        text = alt.Chart(marks).mark_text(color=DIVERGED_COLOR, align="left", dx=4, dy=8, baseline="top").encode(
            x=f"{x}:Q", y=alt.value(0), text="text:N")
        chart = alt.layer(lines, rule, text)
    return chart.properties(height=height, title=measure.capitalize())


def alignment_chart(df: pd.DataFrame, kind: str = "update", *, unit: str = "deg", x: str = "step",
                    order: Sequence[str] | None = None, height: int = 200, live: bool = False) -> alt.FacetChart:
    """One panel per hidden layer: the ``kind`` alignment ("update", "signal" or "weight") of each
    run over training, from `frames.alignment`, in degrees (``unit="deg"``, the 90° line marked:
    below it the rule's update points with the gradient) or as a cosine (the 0 line marked).
    ``live``: without tooltips, as in `learning_curves`."""
    if unit not in ("deg", "cos"):
        raise ValueError(f"unit must be 'deg' or 'cos', got {unit!r}")
    data = df[df["kind"] == kind]
    title = f"{kind} alignment ({'degrees' if unit == 'deg' else 'cosine'})"
    domain = [0, 180] if unit == "deg" else [-1, 1]
    lines = alt.Chart().mark_line().encode(
        x=alt.X(f"{x}:Q", title=x),
        y=alt.Y(f"{unit}:Q", title=title, scale=alt.Scale(domain=domain)),
        color=alt.Color("run:N", title="rule", scale=colors(run_order(df, order))),
        tooltip=alt.Undefined if live else ["run:N", "layer:N", alt.Tooltip(f"{x}:Q"),
                                            alt.Tooltip(f"{unit}:Q", format=".3f")],
    )
    reference = alt.Chart().mark_rule(color="black", strokeDash=[4, 4]).encode(
        y=alt.datum(90 if unit == "deg" else 0))
    return alt.layer(lines, reference, data=data).properties(height=height, width=220).facet(
        column=alt.Column("layer:N", title=None, sort=alt.SortField("index")))


def norms_chart(df: pd.DataFrame, *, x: str = "step", order: Sequence[str] | None = None,
                height: int = 200, live: bool = False) -> alt.FacetChart:
    """Per-layer gradient norms on a log scale, from `frames.norms`: the rule's update (solid) and
    backprop's gradient on the same batch (dotted). Norms that shrink layer by layer are vanishing
    gradients; norms that grow by orders of magnitude are exploding ones. ``live``: without
    tooltips, as in `learning_curves`."""
    lines = alt.Chart().mark_line().encode(
        x=alt.X(f"{x}:Q", title=x),
        y=alt.Y("norm:Q", title="gradient norm", scale=alt.Scale(type="log")),
        color=alt.Color("run:N", title="rule", scale=colors(run_order(df, order))),
        strokeDash=alt.StrokeDash("gradient:N", scale=alt.Scale(domain=["rule", "backprop"],
                                                                range=[[1, 0], [2, 2]])),
        tooltip=alt.Undefined if live else ["run:N", "layer:N", "gradient:N", alt.Tooltip("norm:Q", format=".3e")],
    )
    return lines.properties(data=df, height=height, width=220).facet(
        column=alt.Column("layer:N", title=None, sort=alt.SortField("index")))


def embedding_chart(df: pd.DataFrame, *, color: str = "label", title: str = "", brush: bool = True,
                    domain: Sequence[float] | None = None, height: int = 360) -> alt.Chart:
    """A 2-D map of a hidden layer (columns x, y and ``color``), one point per probe sample. With
    ``brush`` an interval selection named "brush" lets the reader pick an area; ``domain`` fixes
    both axes (pass the union over checkpoints so points move instead of the axes)."""
    if color not in df.columns:
        raise ValueError(f"color must be a column of the table ({', '.join(map(str, df.columns))}), got {color!r}")
    scale = alt.Scale(domain=list(domain)) if domain is not None else alt.Scale(zero=False)
    chart = alt.Chart(df).mark_circle(size=14, opacity=0.75).encode(
        x=alt.X("x:Q", scale=scale, axis=None),
        y=alt.Y("y:Q", scale=scale, axis=None),
        color=alt.Color(f"{color}:N", title=color, scale=alt.Scale(scheme=CLASS_SCHEME)),
        tooltip=[c for c in ("index", color) if c in df.columns],
    ).properties(height=height, title=title)
    if brush:
        chart = chart.add_params(alt.selection_interval(name="brush"))
    return chart


def band_chart(df: pd.DataFrame, references: Mapping[str, float] | None = None, *, measure: str = "test accuracy",
               order: Sequence[str] | None = None, height: int = 280) -> alt.Chart:
    """Mean (line) and 95% confidence band (area) per run over epochs, from `frames.band`; each
    published value in ``references`` (run label -> value) is a dashed line in the run's colour."""
    labels = run_order(df, order) if len(df) else list(references or {})
    scale = colors(labels)
    base = alt.Chart(df).encode(x=alt.X("epoch:Q"), color=alt.Color("run:N", title="rule", scale=scale))
    area = base.mark_area(opacity=0.2).encode(y=alt.Y("low:Q", title=measure, scale=alt.Scale(zero=False)),
                                              y2="high:Q")
    line = base.mark_line(point=True).encode(
        y="mean:Q", tooltip=["run:N", "epoch:Q", alt.Tooltip("mean:Q", format=".3f"), "n:Q"])
    layers = [area, line]
    if references:
        refs = pd.DataFrame({"run": list(references), "published": list(references.values())})
        layers.append(alt.Chart(refs).mark_rule(strokeDash=[6, 3]).encode(
            y="published:Q", color=alt.Color("run:N", scale=scale),
            tooltip=["run:N", alt.Tooltip("published:Q", title="published")]))
    return alt.layer(*layers).properties(height=height)


def boundary_chart(grid: pd.DataFrame, points: pd.DataFrame, *, title: str = "", size: int = 240) -> alt.Chart:
    """A 2-D classifier's decision regions (``grid``: x, y, x2, y2, label, confidence) under the
    data (``points``: x, y, label); a region's opacity is the network's confidence."""
    regions = alt.Chart(grid).mark_rect().encode(
        x=alt.X("x:Q", axis=None), x2="x2:Q", y=alt.Y("y:Q", axis=None), y2="y2:Q",
        color=alt.Color("label:N", scale=alt.Scale(scheme=CLASS_SCHEME), legend=None),
        opacity=alt.Opacity("confidence:Q", scale=alt.Scale(domain=[0, 1], range=[0.05, 0.6]), legend=None),
    )
    dots = alt.Chart(points).mark_circle(size=18, stroke="white", strokeWidth=0.5, opacity=1).encode(
        x="x:Q", y="y:Q", color=alt.Color("label:N", scale=alt.Scale(scheme=CLASS_SCHEME), title="class"))
    return alt.layer(regions, dots).properties(width=size, height=size, title=title)


def bar_chart(df: pd.DataFrame, value: str, *, title: str = "", order: Sequence[str] | None = None) -> alt.Chart:
    """One bar per run (columns run and ``value``), in the rules' colours: costs and final scores."""
    labels = run_order(df, order)
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("run:N", sort=labels, title=None), y=alt.Y(f"{value}:Q", title=title or value),
        color=alt.Color("run:N", scale=colors(labels), legend=None),
        tooltip=["run:N", alt.Tooltip(f"{value}:Q", format=".3g")],
    )


class SwapChart:
    """An Altair chart made into a Vega-Lite spec once; each redraw swaps its new tables in.

    Building and validating an Altair chart takes 50-150 ms of CPU here (a 2-core CPU), far more
    than the data it shows; a live view that rebuilds four charts twice a second would spend most
    of a core on it. ``make(*tables)`` builds the chart; it runs again only when ``key`` changes
    (pass whatever decides the chart's structure: its labels, its reference lines) or when the
    tables cannot be told apart. Each dataset of the spec is matched to the one table of
    ``tables`` with the same columns; datasets the chart made itself (reference lines) stay as
    they are. Draw the spec with ``st.vega_lite_chart`` (which takes the tables as Arrow).

    Example:
        >>> import pandas as pd
        >>> band = pd.DataFrame({"run": ["BP"], "epoch": [1.0], "mean": [0.5], "low": [0.4], "high": [0.6], "n": [3]})
        >>> chart = SwapChart(lambda t: band_chart(t, {"BP": 0.8}))
        >>> first = chart.spec(band)
        >>> later = chart.spec(pd.concat([band, band.assign(epoch=2.0)]))   # no Altair this time
        >>> sorted(len(t) for t in later["datasets"].values()), later["layer"] == first["layer"]
        ([1, 2], True)
    """

    def __init__(self, make) -> None:
        self.make = make
        self._template: dict | None = None
        self._tables: dict[str, int] = {}   # dataset name -> index of the table it shows
        self._key: object = None

    def spec(self, *tables: pd.DataFrame, key: object = None, make=None) -> dict:
        """The chart of ``tables``; ``make`` (default: the one given at creation) builds it when
        ``key`` differs from the last one's."""
        if self._template is None or key != self._key:
            spec = (make or self.make)(*tables).to_dict()
            matched = _match_datasets(spec.get("datasets", {}), tables)
            if matched is None:
                self._template = None
                return spec
            self._template, self._tables, self._key = spec, matched, key
            if make is not None:
                self.make = make
        datasets = dict(self._template.get("datasets", {}))
        datasets.update({name: tables[i] for name, i in self._tables.items()})
        return {**self._template, "datasets": datasets}


def _match_datasets(datasets: Mapping[str, list], tables: Sequence[pd.DataFrame]) -> dict[str, int] | None:
    """Dataset name -> index of the table with its columns; None if a dataset is empty or could be
    more than one table."""
    columns = [frozenset(map(str, t.columns)) for t in tables]
    out = {}
    for name, values in datasets.items():
        if not values:
            return None
        found = [i for i, c in enumerate(columns) if c == frozenset(values[0])]
        if len(found) > 1:
            return None
        if found:
            out[name] = found[0]
    return out if len(set(out.values())) == len(tables) else None


def to_bytes(chart: alt.TopLevelMixin, fmt: str = "png") -> bytes:
    """The chart as a PNG or SVG file's bytes, rendered offline (vl-convert), for downloads.

    Example:
        >>> svg = to_bytes(bar_chart(pd.DataFrame({"run": ["BP"], "ms": [1.0]}), "ms"), "svg")
        >>> svg[:4]
        b'<svg'
    """
    if fmt not in ("png", "svg"):
        raise ValueError(f"fmt must be 'png' or 'svg', got {fmt!r}")
    buffer = io.BytesIO() if fmt == "png" else io.StringIO()
    chart.save(buffer, format=fmt)
    value = buffer.getvalue()
    return value if isinstance(value, bytes) else value.encode()
