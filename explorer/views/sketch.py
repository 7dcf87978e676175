"""Live charts as small inline SVG, for the redraws while runs train: learning curves (the Train
page) and, per hidden layer, alignment and gradient norms (the Alignment page).

A Vega chart costs the browser about 78 ms of CPU per redraw on a 2-core machine, even with its
data swapped in place; the Train page redraws two of them 2.3 times a second, on the cores the
runs train on. The same curves as a plain SVG string, drawn with ``st.markdown(svg,
unsafe_allow_html=True)``, cost far less (measured, Chromium's CPU while the Train page polled:
0.46-0.58 cores with the two Vega charts, 0.32-0.38 with these, 0.22 with no charts). ``st.html``
would skip the markdown parser, but Streamlit 1.67 left it a loading skeleton in a live fragment.
Once the runs end, pages draw `charts.learning_curves` (tooltips, every point). `live_panel` puts a
status text and the charts into one element, since each element a fragment re-emits costs the
browser a pass of its own.

The look follows `charts.learning_curves`: one colour per rule (`charts.rule_colors`), train solid
and test dashed, a red dashed rule where a run diverged, the measure as the title.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"run": ["BP", "BP"], "epoch": [0.5, 1.0], "split": ["train", "train"],
    ...                    "measure": ["loss", "loss"], "value": [1.2, 0.8]})
    >>> svg = curves_svg(df, "loss")
    >>> svg.startswith('<svg class="explorer-live" data-title="Loss"'), svg.count('class="curve"')
    (True, 1)
"""

from __future__ import annotations

import math
from html import escape
from typing import Mapping, Sequence

import pandas as pd

from explorer.views.charts import DIVERGED_COLOR, DIVERGED_LINE, log_axis, rule_colors, run_order
from explorer.config.labels import number_text

WIDTH = 480                               # the viewBox width; the SVG stretches to its column
LEFT, RIGHT, TOP, BOTTOM = 48, 84, 28, 36   # margins: y labels, legend, title, x labels
PANEL_WIDTH = 360                         # one small panel per hidden layer
DASHES = {"train": None, "test": "5,3"}
NORM_DASHES = {"rule": None, "backprop": "2,2"}  # as `charts.norms_chart`
FONT = 'font-family="sans-serif" font-size="11" fill="#444"'


def ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round values (1, 2 or 5 times a power of ten apart) from ``low`` to ``high``.

    Example:
        >>> ticks(0.0, 1.0)
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    """
    if not high > low:
        return [low]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9)
    return [round(i * step, 12) for i in range(first, math.floor(high / step + 1e-9) + 1)]


def _label(value: float) -> str:
    return number_text(value)


def curves_svg(df: pd.DataFrame, measure: str = "loss", *, x: str = "epoch", order: Sequence[str] | None = None,
               diverged: Mapping[str, float] | None = None, log: bool | None = None, height: int = 260) -> str:
    """Train (solid) and test (dashed) curves of ``measure`` per run from `frames.curves` rows, as
    one ``<svg>`` element: each curve a ``<path class="curve" data-run=… data-split=…>``, the
    title in ``data-title``. ``diverged`` maps a run to the ``x`` where it diverged. ``log``: a
    log-scale loss axis (None: by itself, `charts.wants_log`; an accuracy is never log).

    Example:
        >>> df = pd.DataFrame({"run": ["IFA"] * 3, "epoch": [1, 2, 3], "split": ["train"] * 3,
        ...                    "measure": ["loss"] * 3, "value": [2.3, 40.0, 8e31]})
        >>> svg = curves_svg(df, "loss")
        >>> "(log scale)" in svg, ">1e+28<" in svg, "1.49999" in svg
        (True, True, False)
    """
    if measure not in ("loss", "accuracy"):
        raise ValueError(f"measure must be 'loss' or 'accuracy', got {measure!r}")
    keep = (df["measure"] == measure).to_numpy()
    curves = _group(df, keep, ("run", "split"), x, "value")
    labels = list(order) if order is not None else list(dict.fromkeys(run for run, _ in curves))
    logged = log_axis(measure, [v for curve in curves.values() for _, v in curve], log)
    return lines_svg(curves, title=measure.capitalize(), x_label=x, y_label=measure + (" (log scale)" if logged else ""),
                     runs=labels, dashes=DASHES, diverged=diverged, log=logged, height=height)


def alignment_svgs(df: pd.DataFrame, kind: str = "update", *, unit: str = "deg", x: str = "step",
                   order: Sequence[str] | None = None, height: int = 220) -> list[str]:
    """`charts.alignment_chart` drawn live: one SVG per hidden layer (in layer order, titled with
    the layer's name) of each run's ``kind`` alignment from `frames.alignment` rows, on the same
    fixed axis (0-180° or -1..1) with the 90° (or 0) line dashed.

    Example:
        >>> df = pd.DataFrame({"run": ["DFA"] * 2, "step": [1, 2], "layer": ["layers.0"] * 2, "index": [1, 1],
        ...                    "kind": ["update"] * 2, "cos": [0.1, 0.5], "deg": [84.3, 60.0]})
        >>> [svg.count('class="curve"') for svg in alignment_svgs(df)]
        [1]
    """
    if unit not in ("deg", "cos"):
        raise ValueError(f"unit must be 'deg' or 'cos', got {unit!r}")
    keep = (df["kind"] == kind).to_numpy()
    labels = run_order(df, order)
    return [lines_svg(curves, title=layer, x_label=x, y_label="degrees" if unit == "deg" else "cosine",
                      runs=labels, dashes={kind: None}, domain=(0.0, 180.0) if unit == "deg" else (-1.0, 1.0),
                      y_ticks=[30.0 * i for i in range(7)] if unit == "deg" else None,
                      marks=(90.0 if unit == "deg" else 0.0,), height=height, width=PANEL_WIDTH)
            for layer, curves in _by_layer(df, keep, ("run", "kind"), x, unit)]


def norms_svgs(df: pd.DataFrame, *, x: str = "step", order: Sequence[str] | None = None,
               height: int = 220) -> list[str]:
    """`charts.norms_chart` drawn live: one SVG per hidden layer of each run's gradient norm from
    `frames.norms` rows on a log scale, the rule's own solid and backprop's dotted.

    Example:
        >>> df = pd.DataFrame({"run": ["DFA"] * 2, "step": [1, 1], "layer": ["layers.0"] * 2, "index": [1, 1],
        ...                    "gradient": ["rule", "backprop"], "norm": [0.01, 1.0]})
        >>> 'data-split="backprop"' in norms_svgs(df)[0]
        True
    """
    return [lines_svg(curves, title=layer, x_label=x, y_label="gradient norm (log scale)", runs=run_order(df, order),
                      dashes=NORM_DASHES, log=True, height=height, width=PANEL_WIDTH)
            for layer, curves in _by_layer(df, slice(None), ("run", "gradient"), x, "norm")]


def band_svg(df: pd.DataFrame, references: Mapping[str, float] | None = None, *, measure: str = "test accuracy",
             order: Sequence[str] | None = None, height: int = 280, width: int = 2 * WIDTH) -> str:
    """`charts.band_chart` drawn live: each run's mean over seeds (a line) and 95% band (shaded)
    per epoch from `frames.band` rows, and each published value in ``references`` dashed in the
    run's colour. Twice as wide as a learning curve: it spans the page.

    Example:
        >>> df = pd.DataFrame({"run": ["BP"] * 2, "epoch": [1.0, 2.0], "mean": [0.6, 0.8], "low": [0.5, 0.7],
        ...                    "high": [0.7, 0.9], "n": [3, 3]})
        >>> svg = band_svg(df, {"BP": 0.95})
        >>> svg.count('class="band"'), svg.count('class="reference"'), svg.count('class="curve"')
        (1, 1, 1)
    """
    labels = run_order(df, order) if len(df) else list(references or {})
    lines: dict[tuple[str, str], list[tuple[float, float]]] = {}
    bands: dict[str, list[tuple[float, float, float]]] = {}
    for run, at, mean, low, high in zip(*(df[name].tolist() for name in ("run", "epoch", "mean", "low", "high"))):
        lines.setdefault((run, "mean"), []).append((at, mean))
        bands.setdefault(run, []).append((at, low, high))
    return lines_svg(lines, title=measure.capitalize(), x_label="epoch", y_label=measure, runs=labels,
                     dashes={"mean": None}, bands=bands, references=references, height=height, width=width)


def _group(df: pd.DataFrame, keep, keys: tuple[str, str], x: str, y: str) -> dict[tuple, list[tuple[float, float]]]:
    """(key pair) -> [(x, y), …] of the kept rows, in row order."""
    # Plain lists and a dict rather than pandas' filtering and groupby: this runs at every live
    # redraw, on the interpreter the training threads need (pandas took 2.9 ms of a 3.7 ms draw).
    columns = (df[name].to_numpy()[keep].tolist() for name in (*keys, x, y))
    curves: dict[tuple, list[tuple[float, float]]] = {}
    for a, b, at, value in zip(*columns):
        curves.setdefault((a, b), []).append((at, value))
    return curves


def _by_layer(df: pd.DataFrame, keep, keys: tuple[str, str], x: str, y: str):
    """[(layer, {(key pair): [(x, y), …]})] of the kept rows, in layer order (one pass, plain lists)."""
    columns = (df[name].to_numpy()[keep].tolist() for name in ("index", "layer", *keys, x, y))
    layers: dict[tuple, dict[tuple, list[tuple[float, float]]]] = {}
    for index, layer, a, b, at, value in zip(*columns):
        layers.setdefault((index, layer), {}).setdefault((a, b), []).append((at, value))
    return [(layer, curves) for (_, layer), curves in sorted(layers.items(), key=lambda item: item[0][0])]


def lines_svg(lines: Mapping[tuple[str, str], Sequence[tuple[float, float]]], *, title: str, x_label: str,
              y_label: str, runs: Sequence[str], dashes: Mapping[str, str | None],
              domain: tuple[float, float] | None = None, y_ticks: Sequence[float] | None = None,
              log: bool = False, marks: Sequence[float] = (),
              bands: Mapping[str, Sequence[tuple[float, float, float]]] | None = None,
              references: Mapping[str, float] | None = None,
              diverged: Mapping[str, float] | None = None, height: int = 260, width: int = WIDTH) -> str:
    """The drawing under every live chart: ``lines`` maps (run, style) to its (x, y) points, each
    drawn as ``<path class="curve" data-run=run data-split=style>`` in the run's colour
    (`charts.rule_colors` over ``runs``) with the style's dash from ``dashes`` (a legend entry per
    run and per style). ``domain`` fixes the y axis (``y_ticks`` its labelled values); ``log`` draws
    y on a log scale (values > 0);
    ``marks`` are y values marked by a dashed line; ``bands`` map a run to its (x, low, high) points,
    shaded in its colour (``<path class="band">``); ``references`` map a run to a value drawn as a
    dashed line in its colour (``<line class="reference">``); ``diverged`` maps a run to the x where
    it diverged.

    Example:
        >>> svg = lines_svg({("BP", "train"): [(0, 1.0), (1, 0.5)]}, title="Loss", x_label="epoch",
        ...                 y_label="loss", runs=["BP"], dashes={"train": None})
        >>> svg.count('<path class="curve"'), 'data-title="Loss"' in svg
        (1, True)
    """
    color = dict(zip(runs, rule_colors(list(runs))))
    lines = {key: _finite(curve, log) for key, curve in lines.items()}
    bands = {run: _band_pieces(band, log) for run, band in (bands or {}).items()}
    references = {run: v for run, v in (references or {}).items() if _drawable(v, log)}
    if log:
        lines = {key: [(a, None if b is None else math.log10(b)) for a, b in curve] for key, curve in lines.items()}
        bands = {run: [[(a, math.log10(lo), math.log10(hi)) for a, lo, hi in piece] for piece in pieces]
                 for run, pieces in bands.items()}
        references = {run: math.log10(v) for run, v in references.items()}
    drawn = {run for (run, _), curve in lines.items() if any(b is not None for _, b in curve)}
    drawn |= {run for run, band in bands.items() if band} | set(references)
    legend_runs = [run for run in runs if run in drawn]
    longest = max((len(str(name)) for name in [*legend_runs, *(dashes if len(dashes) > 1 else ())]), default=0)
    right, bottom = width - max(RIGHT, 44 + 7 * longest), height - BOTTOM  # room for the legend's words
    points = [(a, b) for curve in lines.values() for a, b in curve if b is not None]
    points += [(at, v) for pieces in bands.values() for piece in pieces for at, low, high in piece
               for v in (low, high)]
    diverged = {run: at for run, at in (diverged or {}).items() if _drawable(at, False)}
    xs = [at for at, _ in points] + list(diverged.values())
    ys = [v for _, v in points] + list(references.values())
    x_lo, x_hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x_hi == x_lo:   # one point (a first Step: epoch 0.04545): from 0 to it, the ticks are round numbers
        x_lo, x_hi = min(0.0, x_lo), (x_hi if x_hi > 0 else 1.0)
    y_lo, y_hi = domain if domain is not None else (min(ys), max(ys)) if ys else (0.0, 1.0)
    x_ticks = ticks(x_lo, x_hi)
    y_ticks = list(y_ticks) if y_ticks is not None else _decades(y_lo, y_hi) if log else ticks(y_lo, y_hi)
    x_lo, x_hi = min(x_lo, x_ticks[0]), max(x_hi, x_ticks[-1])
    y_lo, y_hi = min(y_lo, y_ticks[0]), max(y_hi, y_ticks[-1])

    def px(value: float) -> float:
        return LEFT + (right - LEFT) * ((value - x_lo) / (x_hi - x_lo) if x_hi > x_lo else 0.5)

    def py(value: float) -> float:
        return bottom - (bottom - TOP) * ((value - y_lo) / (y_hi - y_lo) if y_hi > y_lo else 0.5)

    parts = [f'<svg class="explorer-live" data-title="{escape(title)}" viewBox="0 0 {width} {height}" width="100%" '
             f'height="{height}" role="img" aria-label="{escape(title)} per {escape(x_label)}, live">',
             f'<text x="{LEFT}" y="16" font-family="sans-serif" font-size="13" font-weight="bold" fill="#222">'
             f'{escape(title)}</text>']
    for t in y_ticks:
        parts.append(f'<line x1="{LEFT}" x2="{right}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#e6e6e6"/>'
                     f'<text x="{LEFT - 6}" y="{py(t) + 4:.1f}" text-anchor="end" {FONT}>'
                     f'{_label(10 ** t if log else t)}</text>')
    for t in x_ticks:
        parts.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{bottom}" y2="{bottom + 4}" stroke="#888"/>'
                     f'<text x="{px(t):.1f}" y="{bottom + 16}" text-anchor="middle" {FONT}>{_label(t)}</text>')
    parts.append(f'<line x1="{LEFT}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="#888"/>'
                 f'<text x="{(LEFT + right) / 2:.0f}" y="{height - 4}" text-anchor="middle" {FONT}>{escape(x_label)}</text>'
                 f'<text x="12" y="{(TOP + bottom) / 2:.0f}" text-anchor="middle" transform="rotate(-90 12 '
                 f'{(TOP + bottom) / 2:.0f})" {FONT}>{escape(y_label)}</text>')
    for run, band in ((run, piece) for run, pieces in bands.items() for piece in pieces):
        if band:
            edge = [(a, high) for a, _, high in band] + [(a, low) for a, low, _ in reversed(band)]
            outline = " L".join(f"{px(a):.1f},{py(b):.1f}" for a, b in edge)
            parts.append(f'<path class="band" data-run="{escape(str(run))}" d="M{outline} Z" '
                         f'fill="{color.get(run, "#888")}" fill-opacity="0.2" stroke="none"/>')
    for run, value in references.items():
        parts.append(f'<line class="reference" data-run="{escape(str(run))}" x1="{LEFT}" x2="{right}" '
                     f'y1="{py(value):.1f}" y2="{py(value):.1f}" stroke="{color.get(run, "#888")}" '
                     f'stroke-dasharray="6,3"/>')
    for mark in marks:
        parts.append(f'<line class="mark" x1="{LEFT}" x2="{right}" y1="{py(mark):.1f}" y2="{py(mark):.1f}" '
                     f'stroke="#222" stroke-dasharray="4,4"/>')
    for (run, style), curve in lines.items():
        path = _path([(px(a), None if b is None else py(b)) for a, b in curve])
        if not path:
            continue
        dash = f' stroke-dasharray="{dashes[style]}"' if dashes.get(style) else ""
        parts.append(f'<path class="curve" data-run="{escape(str(run))}" data-split="{escape(str(style))}" '
                     f'd="{path}" fill="none" stroke="{color.get(run, "#888")}" stroke-width="2"{dash}/>')
        for a, b in _lone(curve):  # a path through one point draws nothing: a run's first point is a dot
            parts.append(f'<circle class="lone" data-run="{escape(str(run))}" cx="{px(a):.1f}" cy="{py(b):.1f}" '
                         f'r="3" fill="{color.get(run, "#888")}"/>')
    # a line of text each, as `charts.learning_curves`: left of the line, which a diverged run's
    # curve ends at (often the chart's right edge, beside the legend)
    for row, (run, at) in enumerate(diverged.items()):
        parts.append(f'<line x1="{px(at):.1f}" x2="{px(at):.1f}" y1="{TOP}" y2="{bottom}" stroke="{DIVERGED_COLOR}" '
                     f'stroke-dasharray="2,2"/><text x="{px(at) - 4:.1f}" y="{TOP + 12 + DIVERGED_LINE * row}" text-anchor="end" '
                     f'font-family="sans-serif" font-size="11" fill="{DIVERGED_COLOR}">{escape(str(run))} '
                     'diverged</text>')
    legend = [(escape(str(run)), color[run], None) for run in legend_runs]
    legend += [(escape(style), "#666", dash) for style, dash in dashes.items()] if len(dashes) > 1 else []
    for i, (name, stroke, dash) in enumerate(legend):
        y = TOP + 8 + 18 * i
        parts.append(f'<line x1="{right + 14}" x2="{right + 34}" y1="{y}" y2="{y}" stroke="{stroke}" stroke-width="2"'
                     + (f' stroke-dasharray="{dash}"' if dash else "") + f'/><text x="{right + 40}" y="{y + 4}" {FONT}>{name}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _drawable(value, log: bool) -> bool:
    """A number a chart can place: finite (and positive on a log scale)."""
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value) and (not log or value > 0)


def _finite(curve: Sequence[tuple[float, float]], log: bool) -> list[tuple[float, float | None]]:
    """A curve's points in x order, a point that cannot be drawn (NaN, ±inf, ≤ 0 on a log scale)
    kept as a gap (y None): the line breaks there rather than joining across it."""
    out = [(a, b if _drawable(b, log) else None) for a, b in curve if _drawable(a, False)]
    return sorted(out, key=lambda point: point[0])


def _band_pieces(band: Sequence[tuple[float, float, float]], log: bool) -> list[list[tuple[float, float, float]]]:
    """A band's stretches of two or more points (x order) where both edges can be drawn: a point
    of a single seed has no band (NaN edges), and the band breaks there.

    Example:
        >>> nan = float("nan")
        >>> [len(p) for p in _band_pieces([(1, 0, 1), (2, 0, 1), (3, nan, nan), (4, 0, 1), (5, 0, 1), (6, 0, 1)], False)]
        [2, 3]
    """
    pieces: list[list[tuple[float, float, float]]] = [[]]
    for point in sorted((p for p in band if _drawable(p[0], False)), key=lambda p: p[0]):
        if _drawable(point[1], log) and _drawable(point[2], log):
            pieces[-1].append(point)
        elif pieces[-1]:
            pieces.append([])
    return [piece for piece in pieces if len(piece) >= 2]


def _path(points: Sequence[tuple[float, float | None]]) -> str:
    """An SVG path through ``points`` (pixels), broken where y is None; "" if nothing to draw.

    Example:
        >>> _path([(0, 1), (2, 3), (4, None), (6, 7), (8, 9)])
        'M0.0,1.0 L2.0,3.0 M6.0,7.0 L8.0,9.0'
    """
    out, pen_down = [], False
    for a, b in points:
        if b is None:
            pen_down = False
            continue
        out.append(f"{'L' if pen_down else 'M'}{a:.1f},{b:.1f}")
        pen_down = True
    return " ".join(out)


def _lone(points: Sequence[tuple[float, float | None]]) -> list[tuple[float, float]]:
    """The points of ``points`` with no drawn neighbour (y None on both sides, or the ends).

    Example:
        >>> _lone([(0, 1)]), _lone([(0, 1), (1, None), (2, 3), (3, 4)])
        ([(0, 1)], [(0, 1)])
    """
    drawn = [b is not None for _, b in points]
    return [p for i, p in enumerate(points) if drawn[i] and not (i > 0 and drawn[i - 1])
            and not (i + 1 < len(points) and drawn[i + 1])]


def _decades(low: float, high: float) -> list[float]:
    """Whole powers of ten (as exponents) covering ``low``..``high`` (exponents too)."""
    first, last = math.floor(low), math.ceil(high)
    step = max(1, math.ceil((last - first) / 5))
    return [float(e) for e in range(first, last + 1, step)] if last > first else [float(first), float(first + 1)]


def live_panel(status: str, charts: Sequence[str]) -> str:
    """``status`` (Markdown) above ``charts`` (SVG strings) side by side, as one Markdown string for
    ``st.markdown(…, unsafe_allow_html=True)``: the charts are one HTML block that wraps on narrow
    screens. One element rather than one per part: a Streamlit fragment's rerun costs the browser a
    React pass for each element it sends (measured on the Train page: status and two charts as
    three elements, 0.12 cores of Chromium; as one, 0.095; a page with no charts at all, 0.09).

    Example:
        >>> panel = live_panel("**BP**: training", ["<svg></svg>", "<svg></svg>"])
        >>> panel.splitlines()[0], panel.count('<div style="flex')
        ('**BP**: training', 2)
    """
    # a blank line ends the Markdown paragraph
    return f"{status}\n\n{panels(charts)}"


def panels(charts: Sequence[str], min_width: int = 320) -> str:
    """``charts`` (SVG strings) side by side, wrapping on narrow screens, as one line of HTML (so
    that Markdown keeps it one block).

    Example:
        >>> panels(["<svg></svg>"] * 3).count('<div style="flex:1 1 320px')
        3
    """
    boxes = "".join(f'<div style="flex:1 1 {min_width}px;min-width:0">{chart}</div>' for chart in charts)
    return f'<div class="explorer-live-panel" style="display:flex;flex-wrap:wrap;gap:1rem">{boxes}</div>'
