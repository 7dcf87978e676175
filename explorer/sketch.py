"""Live learning curves as a small inline SVG, for the redraws while runs train.

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

from .charts import DIVERGED_COLOR, rule_colors

WIDTH = 480                               # the viewBox width; the SVG stretches to its column
LEFT, RIGHT, TOP, BOTTOM = 48, 84, 28, 36   # margins: y labels, legend, title, x labels
DASHES = {"train": None, "test": "5,3"}
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
    return f"{value:g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.0e}"


def curves_svg(df: pd.DataFrame, measure: str = "loss", *, x: str = "epoch", order: Sequence[str] | None = None,
               diverged: Mapping[str, float] | None = None, height: int = 260) -> str:
    """Train (solid) and test (dashed) curves of ``measure`` per run from `frames.curves` rows, as
    one ``<svg>`` element: each curve a ``<path class="curve" data-run=… data-split=…>``, the
    title in ``data-title``. ``diverged`` maps a run to the ``x`` where it diverged."""
    if measure not in ("loss", "accuracy"):
        raise ValueError(f"measure must be 'loss' or 'accuracy', got {measure!r}")
    # Plain lists and a dict rather than pandas' filtering and groupby: this runs at every live
    # redraw, on the interpreter the training threads need (pandas took 2.9 ms of a 3.7 ms draw).
    keep = (df["measure"] == measure).to_numpy()
    columns = (df[name].to_numpy()[keep].tolist() for name in ("run", "split", x, "value"))
    curves: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for run, split, at, value in zip(*columns):
        curves.setdefault((run, split), []).append((at, value))
    labels = list(order) if order is not None else list(dict.fromkeys(run for run, _ in curves))
    color = dict(zip(labels, rule_colors(labels)))
    title = measure.capitalize()
    right, bottom = WIDTH - RIGHT, height - BOTTOM
    points = [point for curve in curves.values() for point in curve]
    xs = [at for at, _ in points] + list((diverged or {}).values())
    x_lo, x_hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    y_lo, y_hi = (min(v for _, v in points), max(v for _, v in points)) if points else (0.0, 1.0)
    x_ticks, y_ticks = ticks(x_lo, x_hi), ticks(y_lo, y_hi)
    x_lo, x_hi = min(x_lo, x_ticks[0]), max(x_hi, x_ticks[-1])
    y_lo, y_hi = min(y_lo, y_ticks[0]), max(y_hi, y_ticks[-1])

    def px(value: float) -> float:
        return LEFT + (right - LEFT) * ((value - x_lo) / (x_hi - x_lo) if x_hi > x_lo else 0.5)

    def py(value: float) -> float:
        return bottom - (bottom - TOP) * ((value - y_lo) / (y_hi - y_lo) if y_hi > y_lo else 0.5)

    parts = [f'<svg class="explorer-live" data-title="{title}" viewBox="0 0 {WIDTH} {height}" width="100%" '
             f'height="{height}" role="img" aria-label="{title} per {escape(x)}, live">',
             f'<text x="{LEFT}" y="16" font-family="sans-serif" font-size="13" font-weight="bold" fill="#222">{title}</text>']
    for t in y_ticks:
        parts.append(f'<line x1="{LEFT}" x2="{right}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#e6e6e6"/>'
                     f'<text x="{LEFT - 6}" y="{py(t) + 4:.1f}" text-anchor="end" {FONT}>{_label(t)}</text>')
    for t in x_ticks:
        parts.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{bottom}" y2="{bottom + 4}" stroke="#888"/>'
                     f'<text x="{px(t):.1f}" y="{bottom + 16}" text-anchor="middle" {FONT}>{_label(t)}</text>')
    parts.append(f'<line x1="{LEFT}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="#888"/>'
                 f'<text x="{(LEFT + right) / 2:.0f}" y="{height - 4}" text-anchor="middle" {FONT}>{escape(x)}</text>'
                 f'<text x="12" y="{(TOP + bottom) / 2:.0f}" text-anchor="middle" transform="rotate(-90 12 '
                 f'{(TOP + bottom) / 2:.0f})" {FONT}>{measure}</text>')
    for (run, split), curve in curves.items():
        path = " L".join(f"{px(a):.1f},{py(b):.1f}" for a, b in curve)
        dash = f' stroke-dasharray="{DASHES[split]}"' if DASHES.get(split) else ""
        parts.append(f'<path class="curve" data-run="{escape(str(run))}" data-split="{escape(str(split))}" '
                     f'd="M{path}" fill="none" stroke="{color.get(run, "#888")}" stroke-width="2"{dash}/>')
    for run, at in (diverged or {}).items():
        parts.append(f'<line x1="{px(at):.1f}" x2="{px(at):.1f}" y1="{TOP}" y2="{bottom}" stroke="{DIVERGED_COLOR}" '
                     f'stroke-dasharray="2,2"/><text x="{px(at) + 4:.1f}" y="{TOP + 12}" font-family="sans-serif" '
                     f'font-size="11" fill="{DIVERGED_COLOR}">{escape(str(run))} diverged</text>')
    legend = [(escape(str(run)), color[run], None) for run in labels]
    legend += [(split, "#666", dash) for split, dash in DASHES.items()]
    for i, (name, stroke, dash) in enumerate(legend):
        y = TOP + 8 + 18 * i
        parts.append(f'<line x1="{right + 14}" x2="{right + 34}" y1="{y}" y2="{y}" stroke="{stroke}" stroke-width="2"'
                     + (f' stroke-dasharray="{dash}"' if dash else "") + f'/><text x="{right + 40}" y="{y + 4}" {FONT}>{name}</text>')
    parts.append("</svg>")
    return "".join(parts)


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
    boxes = "".join(f'<div style="flex:1 1 320px;min-width:0">{chart}</div>' for chart in charts)
    # a blank line ends the Markdown paragraph; the HTML block must stay on one line to stay one block
    return f'{status}\n\n<div class="explorer-live-panel" style="display:flex;flex-wrap:wrap;gap:1rem">{boxes}</div>'
