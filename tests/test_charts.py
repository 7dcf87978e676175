"""What the Vega charts of `explorer.views.charts` draw, read off the SVG that Vega renders (vl-convert),
and the one colour-blind-safe palette shared by the charts, the live sketches and the painted maps."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pandas as pd
import pytest

from explorer.views import charts, frames, paint, sketch
from explorer.experiments import lessons
from tests.colorvision import delta_e2000, simulate

vlc = pytest.importorskip("vl_convert")

RUNS = ("BP", "FA", "DFA")


def _records(run: str, epochs: int = 6) -> list[dict]:
    """A run's records: one per epoch, the accuracies rising and the losses falling, each run apart."""
    shift = RUNS.index(run) / 50
    return [{"step": 10 * e, "epoch": float(e), "train_loss": 0.7 / e + shift, "test_loss": 0.8 / e + shift,
             "train_acc": 0.5 + 0.05 * e + shift, "test_acc": 0.45 + 0.05 * e + shift} for e in range(1, epochs + 1)]


def _svg(spec: dict) -> str:
    """The chart as Vega draws it (the datasets a `SwapChart` swapped in as plain records)."""
    datasets = {name: t.to_dict("records") if isinstance(t, pd.DataFrame) else t
                for name, t in spec.get("datasets", {}).items()}
    return vlc.vegalite_to_svg({**spec, "datasets": datasets})


def _lines(svg: str) -> list[tuple[str, str, list[tuple[float, float]]]]:
    """(run, split, pixel points) of every line Vega drew."""
    out = []
    for label, d in re.findall(r'<path aria-label="([^"]*)"[^>]*aria-roledescription="line mark" d="([^"]*)"', svg):
        fields = dict(part.split(": ", 1) for part in label.split("; "))
        points = [(float(x), float(y)) for x, y in re.findall(r"[ML](-?[\d.]+),(-?[\d.]+)", d)]
        out.append((fields["run"], fields.get("split", ""), points))
    return out


def _assert_drawn_as_stored(svg: str, table: pd.DataFrame, measure: str) -> None:
    """Each drawn line's x increases, it has one point per stored value, and its y values are the
    stored ones (one linear map from value to pixel serves every line)."""
    lines = _lines(svg)
    rows = table[table["measure"] == measure]
    assert len(lines) == rows.groupby(["run", "split"]).ngroups
    pixels, values = [], []
    for run, split, points in lines:
        stored = rows[(rows["run"] == run) & (rows["split"] == split)].sort_values("epoch")
        xs = [x for x, _ in points]
        assert all(b > a for a, b in zip(xs, xs[1:])), f"{run} {split}: x goes back ({xs})"
        assert len(points) == len(stored), f"{run} {split}: {len(points)} points for {len(stored)} values"
        pixels += [y for _, y in points]
        values += stored["value"].tolist()
    slope, intercept = np.polyfit(values, pixels, 1)
    assert slope < 0    # larger values higher up
    assert np.allclose(np.polyval([slope, intercept], values), pixels, atol=0.6)


@pytest.mark.parametrize("measure", ["accuracy", "loss"])
def test_a_swapped_in_table_draws_each_line_from_its_own_values(measure):
    """Issue 12, item 3: the Playground swaps its whole table (loss and accuracy rows) into the
    accuracy chart at every repaint; the lines must still hold one measure, in epoch order."""
    first = frames.curves({run: _records(run, 3) for run in RUNS})
    later = frames.curves({run: _records(run, 6) for run in RUNS})
    chart = charts.SwapChart(None)
    make = lambda t: charts.learning_curves(t, measure, order=list(RUNS))  # noqa: E731
    chart.spec(first, key="look", make=make)
    swapped = chart.spec(later, key="look", make=make)
    _assert_drawn_as_stored(_svg(swapped), later, measure)


def test_wants_log_when_the_losses_span_three_decades():
    assert charts.wants_log([2.3, 0.5, 1e-3]) and charts.wants_log([0.1, 8e31])
    assert not charts.wants_log([2.3, 0.5, 0.01]) and not charts.wants_log([])
    assert not charts.wants_log([0.5, math.inf, math.nan, 0.0, -1.0, None])   # only finite positive values count


def _diverged() -> pd.DataFrame:
    bp = [{"step": e, "epoch": float(e), "train_loss": 2.3 / e, "test_loss": 2.4 / e} for e in range(1, 5)]
    ifa = [{"step": e, "epoch": float(e), "train_loss": v, "test_loss": v} for e, v in
           enumerate([2.3, 50.0, 8e31, math.inf], start=1)]
    return frames.curves({"BP": bp, "IFA": ifa})


def test_a_diverged_loss_gets_a_log_axis_unless_told_otherwise_and_accuracy_never():
    table = _diverged()
    scale = lambda **kw: charts.learning_curves(table, "loss", **kw).to_dict()["encoding"]["y"]["scale"]  # noqa: E731
    assert scale().get("type") == "log" and scale(log=True).get("type") == "log"
    assert scale(log=False).get("type") is None
    accuracy = frames.curves({"BP": [{"step": 1, "epoch": 1.0, "train_acc": 1e-6, "test_acc": 0.9}]})
    assert charts.learning_curves(accuracy, "accuracy", log=True).to_dict()["encoding"]["y"]["scale"].get("type") is None


def test_every_axis_label_is_a_short_number():
    """Issue 12, item 5: after a divergence the loss axis read "1.4999999999999…"."""
    table = _diverged()
    for log in (None, False):
        svg = _svg(charts.learning_curves(table, "loss", log=log).to_dict())
        labels = re.findall(r'<text[^>]*>([-\d.e+−,]+)</text>', svg)
        assert labels and all(len(label) <= 6 for label in labels), labels
    _assert_drawn_as_stored(_svg(charts.learning_curves(table[table["value"] < 1e3], "loss").to_dict()),
                            table[table["value"] < 1e3], "loss")
    long = frames.curves({"BP": [{"step": e, "epoch": float(e), "train_acc": 0.9, "test_acc": 0.9} for e in range(1, 101)]})
    assert "100" in re.findall(r'<text[^>]*>([-\d.e+]+)</text>', _svg(charts.learning_curves(long, "accuracy").to_dict()))


def test_the_weight_alignment_legend_leaves_out_a_rule_without_feedback():
    """Issue 12, item 8: BP was listed in the weight-alignment legend with no line."""
    layer = {"layer": "layers.0", "index": 1, "weight_cos": 0.5, "update_cos": 0.9}
    records = {"BP": [{"step": 1, "epoch": 1, "layers": [{"layer": "layers.0", "index": 1, "update_cos": 1.0}]}],
               "FA": [{"step": 1, "epoch": 1, "layers": [layer]}]}
    table = frames.alignment(records)
    for chart in (charts.alignment_chart(table, "weight", order=["BP", "FA"]),
                  charts.alignment_panels(table, "weight", order=["BP", "FA"])[0][1]):
        legend = re.findall(r'<text[^>]*>(BP|FA)</text>', _svg(chart.to_dict()))
        assert legend == ["FA"]
    [(layer, panel)] = charts.alignment_panels(table, "weight", order=["BP", "FA"])
    assert layer == "hidden layer 1" and panel.to_dict()["width"] == "container"


# --- one palette, colour-blind safe (issue 12, item 10) ----------------------------------------

COMPARISONS = {"BP, FA, DFA": ["BP", "FA", "DFA"], **{f"lesson {k}": lesson.labels()
                                                     for k, lesson in lessons.LESSONS.items()}}
MIN_DISTANCE = 10.0   # CIEDE2000; about 2.3 is a just-noticeable difference, 10 is plainly different


@pytest.mark.parametrize("name", list(COMPARISONS))
def test_runs_drawn_together_stay_apart_for_colour_blind_readers(name):
    labels = COMPARISONS[name][:len(charts.PALETTE)]   # beyond eight runs no palette keeps them all apart
    colors = charts.rule_colors(labels)
    assert len(set(colors)) == len(colors)
    for vision in (None, "deuteranopia", "protanopia"):
        seen = [c if vision is None else simulate(c, vision) for c in colors]
        for (a, ca), (b, cb) in itertools.combinations(zip(labels, seen), 2):
            assert delta_e2000(ca, cb) >= MIN_DISTANCE, f"{name}: {a} and {b} look alike ({vision or 'normal'})"


def test_the_class_colours_of_a_map_stay_apart_for_colour_blind_readers():
    first = charts.CLASS_COLORS[:8]
    for vision in (None, "deuteranopia", "protanopia"):
        seen = [c if vision is None else simulate(c, vision) for c in first]
        assert min(delta_e2000(a, b) for a, b in itertools.combinations(seen, 2)) >= MIN_DISTANCE


def test_each_rule_has_its_colour_in_the_charts_the_sketches_and_the_downloads():
    labels = ["BP", "FA", "DFA", "uSF", "brSF", "frSF"]
    vega = charts.learning_curves(frames.curves({r: _records("BP", 2) for r in labels}), "loss", order=labels)
    scale = vega.to_dict()["encoding"]["color"]["scale"]
    in_vega = dict(zip(scale["domain"], scale["range"]))
    drawn = dict(re.findall(r'aria-label="[^"]*run: ([^;"]+)[^"]*"[^>]*stroke="(#[0-9a-f]{6})"', _svg(vega.to_dict())))
    svg = sketch.curves_svg(frames.curves({r: _records("BP", 2) for r in labels}), "loss", order=labels)
    in_sketch = dict(re.findall(r'<path class="curve" data-run="([^"]+)" data-split="train" d="[^"]*" fill="none" '
                                r'stroke="(#[0-9a-f]{6})"', svg))
    assert in_vega == drawn == in_sketch == {label: charts.RULE_COLORS[label] for label in labels}


def test_the_painted_map_uses_the_class_colours_of_the_vega_map():
    grid = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 0.0], "x2": [1.0, 2.0], "y2": [1.0, 1.0],
                         "label": [0, 1], "confidence": [1.0, 1.0]}).iloc[:1]
    points = pd.DataFrame({"x": [0.5], "y": [0.5], "label": [1]})
    vega = charts.boundary_chart(grid, points).to_dict()
    scale = vega["layer"][1]["encoding"]["color"]["scale"]
    image = paint.boundary_image(grid, points, size=40)
    dot = "#%02x%02x%02x" % image.getpixel((20, 20))
    assert dict(zip(scale["domain"], scale["range"]))[1] == dot == charts.CLASS_COLORS[1]


@pytest.mark.parametrize("steps, marked", [(1, True), (59, True), (60, False)])
def test_alignment_and_norm_lines_mark_their_points_when_short_so_a_lone_point_shows(steps, marked):
    # a run that diverged after its first logged step has one point per layer: a line alone draws nothing
    layers = [{"layer": f"layers.{i}", "index": i + 1, "update_deg": 40.0 + i, "update_cos": 0.7,
               "grad_norm": 1.0, "bp_grad_norm": 2.0} for i in range(2)]
    records = {"FA": [{"step": s, "epoch": s / 10, "layers": layers} for s in range(1, steps + 1)]}
    panels = charts.alignment_panels(frames.alignment(records), "update") + charts.norms_panels(frames.norms(records))
    assert len(panels) == 4
    for _, chart in panels:
        spec = chart.to_dict()
        line = spec["layer"][0]["mark"] if "layer" in spec else spec["mark"]
        assert line["type"] == "line" and line.get("point", False) is marked


def _dash_swatches(svg: str) -> list[tuple[str, str]]:
    """(path, dash pattern) of each legend symbol drawn with a dash pattern."""
    symbols = re.findall(r'<g class="mark-symbol role-legend-symbol[^>]*>(.*?)</g>', svg, re.S)
    paths = [p for group in symbols for p in re.findall(r"<path [^>]*>", group) if "stroke-dasharray" in p]
    return [(re.search(r' d="([^"]*)"', p).group(1), re.search(r'stroke-dasharray="([^"]*)"', p).group(1))
            for p in paths]


@pytest.mark.parametrize("steps", [4, 80])   # lines with their points marked, and without
def test_a_dash_legend_draws_each_pattern_as_a_line_swatch(steps):
    records = {"FA": [{"step": s, "epoch": float(s), "train_loss": 1 / s, "test_loss": 1.2 / s,
                       "layers": [{"layer": "layers.0", "index": 1, "grad_norm": 1.0 + s, "bp_grad_norm": 2.0 + s}]}
                      for s in range(1, steps + 1)]}
    curves = _dash_swatches(_svg(charts.learning_curves(frames.curves(records), "loss").to_dict()))
    [(_, norms)] = charts.norms_panels(frames.norms(records))
    for swatches, dashes in ((curves, ["1,0", "5,3"]), (_dash_swatches(_svg(norms.to_dict())), ["1,0", "2,2"])):
        assert [dash for _, dash in swatches] == dashes
        assert all("A" not in d and "L" in d for d, _ in swatches), swatches   # a line, not a dot


def test_runs_that_diverge_at_one_step_get_their_labels_on_separate_lines():
    # three rules blown up by one wide feedback range all diverge at the first logged step
    recs = {run: [{"step": 1, "epoch": 0.05, "train_loss": 5.0, "test_loss": 6.0}] for run in ("BP", "FA", "IFA")}
    table, diverged = frames.curves(recs), {run: 0.05 for run in recs}
    vega = _svg(charts.learning_curves(table, "loss", diverged=diverged).to_dict())
    rows = [float(y) for y in re.findall(r'translate\([\d.]+,([\d.]+)\)"[^>]*>\w+ diverged</text>', vega)]
    live = sketch.curves_svg(table, "loss", diverged=diverged)
    lines = [float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)"[^>]*>\w+ diverged</text>', live)]
    for ys in (rows, lines):
        assert len(ys) == 3 and min(b - a for a, b in zip(sorted(ys), sorted(ys)[1:])) >= 11, ys  # 11 px font


def test_a_log_axis_labels_powers_of_ten_only():
    # a loss falling from 4 to 1e-5: Vega ticks every 1-9 multiple and, dropping overlapping labels,
    # used to show 4, 0.5, 0.06, 0.007, 8e-4 …
    recs = {"BP": [{"step": s, "epoch": float(s), "train_loss": 4.0 * 10.0 ** (-s / 10), "test_loss": 1.0}
                   for s in range(1, 57)]}
    svg = _svg(charts.learning_curves(frames.curves(recs), "loss", log=True).to_dict())
    y_axis = svg.split('aria-label="Y-axis')[1].split("</g></g>")[0]
    labels = [float(t.replace("−", "-")) for t in re.findall(r">([-\d.e+−]+)</text>", y_axis)]
    assert len(labels) >= 4, labels
    assert all(math.isclose(math.log10(v), round(math.log10(v)), abs_tol=1e-9) for v in labels), labels


def test_a_one_point_charts_lone_tick_is_a_short_number():
    # one logged point, at epoch 1/22: Vega's only x tick used to read 0.0454545
    table = frames.curves({"BP": [{"step": 1, "epoch": 1 / 22, "train_loss": 2.3, "test_loss": 2.3}]})
    svg = _svg(charts.learning_curves(table, "loss").to_dict())
    x_axis = svg.split('aria-label="X-axis')[1].split("</g></g>")[0]
    labels = re.findall(r">([-\d.e+−]+)</text>", x_axis)
    assert labels and all(len(label) <= 6 for label in labels), labels
    assert any(abs(float(label) - 1 / 22) < 5e-4 for label in labels), labels


def test_a_band_charts_epoch_axis_has_whole_epochs_and_its_legend_the_lines_colours():
    table = pd.DataFrame({"run": ["BP"] * 3, "epoch": [1, 2, 3], "mean": [0.9, 0.95, 0.97],
                          "low": [0.85, 0.9, 0.95], "high": [0.95, 0.99, 0.99], "n": [2, 2, 2]})
    spec = charts.band_chart(table, {"BP": 0.985}).to_dict()
    # a parity run of 3 epochs showed ticks 1.1, 1.2 …; the browser's Vega honours tickMinStep (seen in
    # Chromium: 1, 2, 3), vl-convert's does not, so the spec is what is checked here
    assert spec["layer"][0]["encoding"]["x"]["axis"]["tickMinStep"] == 1
    assert spec["layer"][0]["encoding"]["color"]["legend"]["symbolOpacity"] == 1


def test_one_point_sits_on_an_axis_from_zero_not_a_lone_tick_at_its_epoch():
    # a run that diverged at its first logged step: one record at epoch 1/22 = 0.04545…
    table = frames.curves({"BP": [{"step": 1, "epoch": 1 / 22, "train_loss": 2.3, "test_loss": 2.4,
                                   "train_acc": 0.1, "test_acc": 0.1}]})
    svg = _svg(charts.learning_curves(table, "loss").to_dict())
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert "0" in labels and not any("0455" in label for label in labels), labels


def test_a_divergence_label_ends_left_of_its_line_inside_the_plot():
    # a diverged run's curve ends at its line, often the plot's right edge, where the legend begins:
    # the label is written leftwards from the line (it ran into the legend's title)
    recs = [{"step": s, "epoch": s / 2, "train_loss": 1.0 / s, "test_loss": 1.0, "train_acc": 0.5, "test_acc": 0.5}
            for s in (1, 2, 3, 4)]
    svg = _svg(charts.learning_curves(frames.curves({"BP": recs}), "loss", diverged={"BP": 2.0}).to_dict())
    line_x = float(re.search(r'aria-roledescription="rule mark" transform="translate\(([\d.]+),', svg).group(1))
    label = re.search(r'<text aria-label="[^"]*text: BP diverged"[^>]*>', svg).group(0)
    assert 'text-anchor="end"' in label
    assert float(re.search(r'translate\(([\d.]+),', label).group(1)) < line_x
    live = sketch.curves_svg(frames.curves({"BP": recs}), "loss", diverged={"BP": 2.0})
    x1 = float(re.search(rf'<line x1="([\d.]+)"[^>]*stroke="{charts.DIVERGED_COLOR}"', live).group(1))
    text = re.search(r'<text x="([\d.]+)"[^>]*text-anchor="end"[^>]*>BP diverged', live)
    assert text and float(text.group(1)) < x1


def test_the_decision_regions_fill_the_map_edge_to_edge():
    """Drawn by Vega (vl-convert), the grid's cells cover the plot exactly: the axes span the grid,
    not rounded out to nice numbers or to zero (which left bands of white inside the frame)."""
    import vl_convert as vlc

    grid = pd.DataFrame({"x": [0.3, 1.3], "y": [0.3, 0.3], "x2": [1.3, 2.3], "y2": [1.3, 1.3],
                         "label": [0, 1], "confidence": [1.0, 1.0]})
    points = pd.DataFrame({"x": [0.5], "y": [0.5], "label": [1]})
    svg = vlc.vegalite_to_svg(charts.boundary_chart(grid, points, size=100).to_dict())
    rects = [tuple(float(v) for v in m) for m in
             re.findall(r'aria-roledescription="rect mark" d="M([-\d.e]+),([-\d.e]+)h([-\d.e]+)v([-\d.e]+)h', svg)]
    assert len(rects) == 2
    left, top = min(r[0] for r in rects), min(r[1] for r in rects)
    right, bottom = max(r[0] + r[2] for r in rects), max(r[1] + r[3] for r in rects)
    assert [round(v, 6) for v in (left, top, right, bottom)] == [0, 0, 100, 100]
