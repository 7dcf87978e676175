"""Altair charts, shared by the Streamlit app and the notebook widgets.

Every chart takes a tidy table from `explorer.views.frames` (or the Playground's boundary tables)
and returns an Altair chart; nothing here trains or measures. Colour has one meaning everywhere:
each rule keeps its colour on every chart (`colors`), so BP is the same blue on the loss curve,
the alignment panel and the parity bands; the classes of a map or a toy have theirs (`class_scale`).

Example:
    >>> from explorer.views import frames
    >>> recs = [{"step": s, "epoch": s / 10, "train_loss": 1 / s, "test_loss": 1.1 / s, "train_acc": 0.5,
    ...          "test_acc": 0.5} for s in (1, 2, 3)]
    >>> chart = learning_curves(frames.curves({"BP": recs, "DFA": recs}), "loss")
    >>> spec = chart.to_dict()
    >>> spec["encoding"]["color"]["scale"]["domain"]
    ['BP', 'DFA']
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import altair as alt
import pandas as pd

# Tables of a few thousand rows are normal here (embeddings, long runs); Altair's default cap of
# 5,000 rows would turn them into an error, so it is lifted for the charts built by this module.
alt.data_transformers.disable_max_rows()

# One colour-blind-safe categorical palette: Okabe & Ito's eight colours (Okabe & Ito 2008, "Color
# Universal Design"; Wong 2011, Nature Methods 8:441), made to stay apart for readers with protanopia
# and deuteranopia. Yellow comes last: thin on white, it is the hardest to see.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#d55e00", "#56b4e9", "#cc79a7", "#000000", "#f0e442")
BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, BLACK, YELLOW = PALETTE
# Each rule's own colour. The rules drawn together most (BP, FA, DFA; the sign-symmetric uSF, brSF
# and frSF beside them; IFA and BDFA beside DFA) each have a colour of their own; rules that are
# rarely drawn together share one, and `rule_colors` gives the second of them a free colour.
RULE_COLORS = {
    "BP": BLUE, "FA": ORANGE, "DFA": GREEN, "IFA": VERMILLION, "BDFA": SKY, "FP": PURPLE, "sDFA": BLACK,
    "ssDFA": YELLOW, "uSF": PURPLE, "brSF": SKY, "frSF": VERMILLION, "RF": BLACK, "NTK": PURPLE, "Shallow": BLACK,
}
# After the eight: Paul Tol's muted colours that differ most from them (more than eight runs at
# once cannot all stay apart for every reader).
SPARE_COLORS = ["#882255", "#999933", "#44aa99", "#332288", "#888888", "#ddcc77", "#aa4499", "#117733"]
# The classes of a 2-D toy or a digit map: the same eight, then two of Tol's.
CLASS_COLORS = (BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILLION, YELLOW, BLACK, "#882255", "#999933")
DIVERGED_COLOR = "#d62728"


def colors(labels: Sequence[str], shown: Sequence[str] | None = None) -> alt.Scale:
    """A colour scale over ``labels``: each gets its `rule_colors` colour. With ``shown`` the
    scale (and so the legend) holds only those labels, each still in its colour among ``labels``.

    Example:
        >>> colors(["BP", "DFA", "BDFA block 2", "BDFA block 4"]).to_dict()["range"]
        ['#0072b2', '#009e73', '#56b4e9', '#e69f00']
    """
    color = dict(zip(labels, rule_colors(labels)))
    shown = list(labels) if shown is None else list(shown)
    return alt.Scale(domain=shown, range=[color.get(label, "#888888") for label in shown])


def class_scale(values: pd.Series) -> alt.Scale:
    """The colour scale of the classes in ``values`` (`CLASS_COLORS`): class label i in colour i
    (as `explorer.views.paint` paints it), other values (words) in the same colours by sort order.

    Example:
        >>> class_scale(pd.Series([2, 0, 2])).to_dict()
        {'domain': [0, 2], 'range': ['#0072b2', '#009e73']}
    """
    if not pd.api.types.is_integer_dtype(values):
        return alt.Scale(range=list(CLASS_COLORS))
    domain = sorted(int(v) for v in set(values))
    return alt.Scale(domain=domain, range=[CLASS_COLORS[v % len(CLASS_COLORS)] for v in domain])


def rule_colors(labels: Sequence[str]) -> list[str]:
    """One colour per label: its rule's (`RULE_COLORS`, by the label's first word), unless an
    earlier label holds it; the others take the first colour of the palette no label holds, then
    the spares. So a comparison of up to eight runs never repeats a colour.

    Example:
        >>> rule_colors(["DFA", "DFA seed 2", "BP"])
        ['#009e73', '#e69f00', '#0072b2']
    """
    own = [RULE_COLORS.get(str(label).replace(",", " ").split(" ")[0]) for label in labels]
    out: list[str | None] = []
    taken: set[str] = set()
    for color in own:
        keep = color is not None and color not in taken
        out.append(color if keep else None)
        taken.update([color] if keep else [])
    free = (c for c in [*PALETTE, *SPARE_COLORS * (1 + len(labels) // len(SPARE_COLORS))] if c not in taken)
    return [color or next(free) for color in out]


def wants_log(values) -> bool:
    """Whether a loss axis should be logarithmic: its finite positive values span three decades or
    more (a diverging run next to a converging one; a loss falling to the float floor).

    Example:
        >>> wants_log([0.9, 0.5, 0.3]), wants_log([2.3, 0.1, 8e31]), wants_log([float("inf"), 1.0, 0.0])
        (False, True, False)
    """
    kept = [float(v) for v in values if v is not None and math.isfinite(v) and v > 0]
    return bool(kept) and max(kept) / min(kept) >= 1e3


def log_axis(measure: str, values, log: bool | None) -> bool:
    """Whether a chart of ``measure`` draws y on a log scale: never for an accuracy; for a loss,
    ``log`` if given, else `wants_log` of its values.

    Example:
        >>> log_axis("loss", [1.0, 1e-6], None), log_axis("loss", [1.0, 1e-6], False), log_axis("accuracy", [1e-6, 1], True)
        (True, False, False)
    """
    if measure == "accuracy":
        return False
    return wants_log(values) if log is None else bool(log)


def run_order(df: pd.DataFrame, order: Sequence[str] | None) -> list[str]:
    """The runs of a table in the order to draw them: ``order`` if given, else as they first appear.

    Example:
        >>> run_order(pd.DataFrame({"run": ["DFA", "BP", "DFA"]}), None)
        ['DFA', 'BP']
    """
    return list(order) if order is not None else list(dict.fromkeys(df["run"]))


# Every axis's numbers: 0.25, 100, 12345 as they are, very large or small ones as 8e+31 or 6e-14,
# fractions to three figures (the lone tick of a one-point chart at epoch 1/22 reads 0.0455); never
# 1.4999999999999. A label expression rather than a format: Vega trims a format's precision to the
# tick step (so "~g" writes 100 as "1e+2").
NUMBER_LABELS = ("abs(datum.value) >= 1e5 || (abs(datum.value) < 1e-3 && datum.value != 0) ? "
                 "format(datum.value, '.2~e') : abs(datum.value) < 1 ? format(datum.value, '.3~g') : "
                 "format(datum.value, '.6~g')")


# On a log axis Vega puts a tick at every 1–9 multiple of each power of ten, then drops the labels
# that overlap, which leaves 4, 0.5, 0.06, 0.007 …: only the powers of ten are labelled instead.
DECADE = "abs(log(datum.value) / LN10 - round(log(datum.value) / LN10)) < 1e-6"


def number_axis(log: bool = False, **kw) -> alt.Axis:
    """An axis whose numbers read as `NUMBER_LABELS` says; on a ``log`` scale, only powers of ten
    are labelled (1e-5, 1e-4, … 0.1, 1, 10).

    Example:
        >>> number_axis(log=True).to_dict()["labelExpr"].startswith("abs(log(datum.value)")
        True
    """
    return alt.Axis(labelExpr=f"{DECADE} ? ({NUMBER_LABELS}) : ''" if log else NUMBER_LABELS, **kw)


DIVERGED_LINE = 14  # pixels between the "… diverged" labels of a chart
FEW_POINTS = 60  # a line with fewer points than this marks each one: a lone point shows, and a sparse line reads


def dash_legend(**style) -> alt.Legend:
    """The legend of a line's dash pattern (train solid, test dashed), drawn as short black line
    swatches: on lines that mark their points (`dotted`) Vega-Lite draws every entry as the same
    filled dot, and the legend cannot tell the patterns apart."""
    return alt.Legend(symbolType="stroke", symbolStrokeColor="black", symbolFillColor="transparent",
                      symbolSize=300, symbolStrokeWidth=1.5, **style)


def dotted(df: pd.DataFrame, series: Sequence[str], live: bool = False) -> bool:
    """Whether lines drawn from ``df`` mark their points: not while live (`learning_curves`), and
    only where its longest line (the rows of one ``series`` key) has under `FEW_POINTS` points.

    Example:
        >>> dotted(pd.DataFrame({"run": ["FA"], "layer": ["layers.0"]}), ["run", "layer"])
        True
        >>> dotted(pd.DataFrame({"run": ["FA"] * 80, "layer": ["layers.0"] * 80}), ["run", "layer"])
        False
    """
    return not live and (df.empty or int(df.groupby(list(series)).size().max()) < FEW_POINTS)


def single_x(df: pd.DataFrame, x: str) -> bool:
    """Whether ``df``'s rows share one ``x`` value: `learning_curves` then runs its x axis from 0
    (part of a chart's look, as `dotted` is).

    Example:
        >>> single_x(pd.DataFrame({"epoch": [0.5, 0.5]}), "epoch")
        True
    """
    return df[x].nunique() == 1


def learning_curves(df: pd.DataFrame, measure: str = "loss", *, x: str = "epoch",
                    order: Sequence[str] | None = None, diverged: Mapping[str, float] | None = None,
                    log: bool | None = None, height: int = 260, live: bool = False) -> alt.Chart:
    """Train (solid) and test (dashed) curves of one measure ("loss" or "accuracy") per run, from
    `frames.curves`. ``diverged`` maps a run to the ``x`` value where it diverged: a red rule and a
    label mark the spot. ``log``: a log-scale loss axis (None: by itself, `wants_log`; an accuracy
    is never log). Values that are not finite (or not positive, on a log axis) are not drawn.
    ``live``: a chart redrawn while runs train, without tooltips or point
    marks; the browser evaluates a tooltip for every point at every redraw, and a moving chart is
    not read by hovering (measured: the two charts of the Train page cost the browser about half
    as much CPU per redraw without them).

    The chart picks its measure's rows itself (a Vega filter), so the whole table may be swapped
    in at a redraw (`SwapChart`) without the other measure's values joining the lines.

    Example:
        >>> from explorer.views import frames
        >>> recs = [{"step": s, "epoch": s, "train_loss": 10.0 ** -s, "test_loss": 1.0, "train_acc": 0.5,
        ...          "test_acc": 0.5} for s in (1, 2, 3, 4)]
        >>> learning_curves(frames.curves({"BP": recs}), "loss").to_dict()["encoding"]["y"]["scale"]["type"]
        'log'
    """
    if measure not in ("loss", "accuracy"):
        raise ValueError(f"measure must be 'loss' or 'accuracy', got {measure!r}")
    mine = df[df["measure"] == measure]
    logged = log_axis(measure, mine["value"], log)
    shown = f"datum.measure === '{measure}' && isFinite(datum.value)" + (" && datum.value > 0" if logged else "")
    scale = alt.Scale(type="log") if logged else alt.Scale(zero=False)
    # one point (a run that diverged at its first logged step): from 0 to it, as the live sketch
    # draws it, not a lone tick at 0.0455
    x_scale = alt.Scale(domainMin=0) if single_x(mine, x) else alt.Undefined
    encoding = dict(
        x=alt.X(f"{x}:Q", title=x, axis=number_axis(), scale=x_scale),
        y=alt.Y("value:Q", title=measure + (" (log scale)" if logged else ""), scale=scale,
                axis=number_axis(log=logged)),
        color=alt.Color("run:N", title="rule", scale=colors(run_order(df, order))),
        strokeDash=alt.StrokeDash("split:N", title="data", scale=alt.Scale(domain=["train", "test"],
                                                                            range=[[1, 0], [5, 3]]),
                                  legend=dash_legend()),
        order=alt.Order(f"{x}:Q"),
    )
    if not live:
        encoding["tooltip"] = ["run:N", "split:N", alt.Tooltip(f"{x}:Q", format=".2f"),
                               alt.Tooltip("value:Q", format=".4~g")]
    lines = (alt.Chart(df).transform_filter(shown)
             .mark_line(point=dotted(mine, ["run", "split"], live)).encode(**encoding))
    chart = lines
    if diverged:
        # one line of text per run, down from the top: runs that diverge at the same step (often the
        # first ones logged) would otherwise print their labels over each other
        marks = pd.DataFrame({"run": list(diverged), x: list(diverged.values()),
                              "text": [f"{run} diverged" for run in diverged],
                              "row": [8 + DIVERGED_LINE * i for i in range(len(diverged))]})
        rule = alt.Chart(marks).mark_rule(color=DIVERGED_COLOR, strokeDash=[2, 2]).encode(x=f"{x}:Q")
        # left of the line: a diverged run's curve ends there, often at the chart's right edge, beside the legend
        text = alt.Chart(marks).mark_text(color=DIVERGED_COLOR, align="right", dx=-4, baseline="top").encode(
            x=f"{x}:Q", y=alt.Y("row:Q", scale=None, axis=None), text="text:N")
        chart = alt.layer(lines, rule, text)
    return chart.properties(height=height, title=measure.capitalize())


def alignment_chart(df: pd.DataFrame, kind: str = "update", *, unit: str = "deg", x: str = "step",
                    order: Sequence[str] | None = None, height: int = 200, live: bool = False) -> alt.FacetChart:
    """One panel per hidden layer: the ``kind`` alignment ("update", "signal" or "weight") of each
    run over training, from `frames.alignment`, in degrees (``unit="deg"``, the 90° line marked:
    below it the rule's update points with the gradient) or as a cosine (the 0 line marked).
    The legend lists the runs that have this alignment (BP has no feedback matrix, so no weight
    alignment). ``live``: without tooltips, as in `learning_curves`. `alignment_panels` draws the
    same panels as separate charts, to lay out across a page.

    Example:
        >>> from explorer.views import frames
        >>> recs = [{"step": 1, "epoch": 1, "layers": [{"layer": "layers.0", "index": 1, "weight_cos": 0.5}]}]
        >>> spec = alignment_chart(frames.alignment({"BP": [], "FA": recs}), "weight", order=["BP", "FA"]).to_dict()
        >>> spec["spec"]["layer"][0]["encoding"]["color"]["scale"]["domain"]   # no BP: it has no line
        ['FA']
    """
    data = _kind(df, kind, unit)
    return alt.layer(*_alignment_marks(data, kind, unit, x, order, live), data=data).properties(
        height=height, width=220).facet(column=alt.Column("layer:N", title=None, sort=alt.SortField("index")))


def alignment_panels(df: pd.DataFrame, kind: str = "update", *, unit: str = "deg", x: str = "step",
                     order: Sequence[str] | None = None, height: int = 400,
                     live: bool = False) -> list[tuple[str, alt.LayerChart]]:
    """`alignment_chart`'s panels as (layer, chart) pairs in layer order, each chart as wide as
    the place it is drawn in (``width="container"``), its legend underneath (a narrow column has
    no room beside the plot); the page writes the layer's name above it.

    Example:
        >>> from explorer.views import frames
        >>> recs = [{"step": 1, "epoch": 1, "layers": [{"layer": f"layers.{i}", "index": i + 1, "update_cos": 0.5}
        ...                                           for i in (1, 0)]}]
        >>> [layer for layer, _ in alignment_panels(frames.alignment({"FA": recs}))]
        ['hidden layer 1', 'hidden layer 2']
    """
    data = _kind(df, kind, unit)
    return [(layer, alt.layer(*_alignment_marks(part, kind, unit, x, order, live, PANEL_LEGEND), data=part).properties(
        height=height, width="container")) for layer, part in _layers(data)]


def _kind(df: pd.DataFrame, kind: str, unit: str) -> pd.DataFrame:
    if unit not in ("deg", "cos"):
        raise ValueError(f"unit must be 'deg' or 'cos', got {unit!r}")
    return df[df["kind"] == kind]


def _layers(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(layer, its rows) in layer order."""
    return [(str(part["layer"].iloc[0]), part) for _, part in df.groupby("index", sort=True)]


def _shown(df: pd.DataFrame, order: Sequence[str] | None) -> alt.Scale:
    """The colour scale of the runs that have rows in ``df``, in their colours among all of ``order``."""
    labels = run_order(df, order)
    return colors(labels, shown=[label for label in labels if label in set(df["run"])])


# A panel's legend, under the plot: beside it, long labels left the plot a sliver.
PANEL_LEGEND_STYLE = dict(orient="bottom", columns=1, title=None, labelLimit=300)
PANEL_LEGEND = alt.Legend(**PANEL_LEGEND_STYLE)


def _alignment_marks(data: pd.DataFrame, kind: str, unit: str, x: str, order, live: bool,
                     legend: alt.Legend | None = None) -> list[alt.Chart]:
    title = f"{kind} alignment ({'degrees' if unit == 'deg' else 'cosine'})"
    domain = [0, 180] if unit == "deg" else [-1, 1]
    lines = alt.Chart().mark_line(point=dotted(data, ["run", "layer"], live)).encode(
        x=alt.X(f"{x}:Q", title=x, axis=number_axis()),
        y=alt.Y(f"{unit}:Q", title=title, scale=alt.Scale(domain=domain), axis=number_axis()),
        color=alt.Color("run:N", title="rule", scale=_shown(data, order), legend=legend or alt.Undefined),
        tooltip=alt.Undefined if live else ["run:N", "layer:N", alt.Tooltip(f"{x}:Q"),
                                            alt.Tooltip(f"{unit}:Q", format=".3f")],
    )
    reference = alt.Chart().mark_rule(color="black", strokeDash=[4, 4]).encode(
        y=alt.datum(90 if unit == "deg" else 0))
    return [lines, reference]


def norms_chart(df: pd.DataFrame, *, x: str = "step", order: Sequence[str] | None = None,
                height: int = 200, live: bool = False) -> alt.FacetChart:
    """Per-layer gradient norms on a log scale, from `frames.norms`: the rule's update (solid) and
    backprop's gradient on the same batch (dotted). Norms that shrink layer by layer are vanishing
    gradients; norms that grow by orders of magnitude are exploding ones. ``live``: without
    tooltips, as in `learning_curves`. `norms_panels`: the panels as separate charts."""
    return _norm_lines(df, x, order, live).properties(data=df, height=height, width=220).facet(
        column=alt.Column("layer:N", title=None, sort=alt.SortField("index")))


def norms_panels(df: pd.DataFrame, *, x: str = "step", order: Sequence[str] | None = None, height: int = 400,
                 live: bool = False) -> list[tuple[str, alt.Chart]]:
    """`norms_chart`'s panels as (layer, chart) pairs, as `alignment_panels`."""
    return [(layer, _norm_lines(part, x, order, live, PANEL_LEGEND).properties(data=part, height=height,
                                                                               width="container"))
            for layer, part in _layers(df)]


def _norm_lines(df: pd.DataFrame, x: str, order, live: bool, legend: alt.Legend | None = None) -> alt.Chart:
    return alt.Chart().mark_line(point=dotted(df, ["run", "layer", "gradient"], live)).encode(
        x=alt.X(f"{x}:Q", title=x, axis=number_axis()),
        y=alt.Y("norm:Q", title="gradient norm (log scale)", scale=alt.Scale(type="log"),
                axis=number_axis(log=True)),
        color=alt.Color("run:N", title="rule", scale=_shown(df, order), legend=legend or alt.Undefined),
        strokeDash=alt.StrokeDash("gradient:N", scale=alt.Scale(domain=["rule", "backprop"], range=[[1, 0], [2, 2]]),
                                  legend=dash_legend(**(PANEL_LEGEND_STYLE if legend else {}))),
        tooltip=alt.Undefined if live else ["run:N", "layer:N", "gradient:N", alt.Tooltip("norm:Q", format=".3e")],
    )


def flat_where_unknown(chart: alt.Chart) -> alt.Chart:
    """``chart`` (a band's, with fields low, high and mean) with the band flat on the mean where
    it is not known (one seed; seeds still training): a band of nothing but NaN drew paths with
    null points and left Vega an infinite extent to warn about.

    Example:
        >>> spec = flat_where_unknown(alt.Chart(pd.DataFrame())).mark_area().to_dict()
        >>> [t["as"] for t in spec["transform"]]
        ['low', 'high']
    """
    return chart.transform_calculate(**{side: f"isValid(datum.{side}) && isFinite(datum.{side}) ? "
                                              f"datum.{side} : datum.mean" for side in ("low", "high")})


def band_chart(df: pd.DataFrame, references: Mapping[str, float] | None = None, *, measure: str = "test accuracy",
               order: Sequence[str] | None = None, height: int = 280) -> alt.Chart:
    """Mean (line) and 95% confidence band (area) per run over epochs, from `frames.band`; each
    published value in ``references`` (run label -> value) is a dashed line in the run's colour."""
    labels = run_order(df, order) if len(df) else list(references or {})
    scale = colors(labels)
    # whole epochs on the axis (not 1.1, 1.2 …), and the legend in the lines' colours, not the bands' pale ones
    base = alt.Chart(df).encode(x=alt.X("epoch:Q", axis=number_axis(tickMinStep=1)),
                                color=alt.Color("run:N", title="rule", scale=scale, legend=alt.Legend(symbolOpacity=1)))
    area = flat_where_unknown(base).mark_area(opacity=0.2).encode(
        y=alt.Y("low:Q", title=measure, scale=alt.Scale(zero=False), axis=number_axis()), y2="high:Q")
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
    scale = class_scale(pd.concat([grid["label"], points["label"]]))
    # the axes span exactly the grid (no rounding out to nice numbers, no zero): the regions fill the plot
    exact = alt.Scale(nice=False, zero=False)
    regions = alt.Chart(grid).mark_rect().encode(
        x=alt.X("x:Q", axis=None, scale=exact), x2="x2:Q", y=alt.Y("y:Q", axis=None, scale=exact), y2="y2:Q",
        color=alt.Color("label:N", scale=scale, legend=None),
        opacity=alt.Opacity("confidence:Q", scale=alt.Scale(domain=[0, 1], range=[0.05, 0.6]), legend=None),
    )
    dots = alt.Chart(points).mark_circle(size=18, stroke="white", strokeWidth=0.5, opacity=1).encode(
        x="x:Q", y="y:Q", color=alt.Color("label:N", scale=scale, title="class"))
    return alt.layer(regions, dots).properties(width=size, height=size, title=title)


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
