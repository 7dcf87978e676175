"""The live SVG curves (`explorer.views.sketch`): drawn to scale, styled like the Vega charts, safe labels."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from explorer.views import charts, frames
from explorer.views.sketch import alignment_svgs, band_svg, curves_svg, norms_svgs, ticks

SVG = "{http://www.w3.org/2000/svg}"


def _table() -> pd.DataFrame:
    rows = []
    for run, scale in (("BP", 1.0), ("DFA", 1.5)):
        for split, shift in (("train", 0.0), ("test", 0.1)):
            for i in range(1, 8):
                rows.append((run, i, i / 2, split, "loss", scale * 2.3 / i + shift))
    return pd.DataFrame(rows, columns=["run", "step", "epoch", "split", "measure", "value"])


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))


def _points(path: ET.Element) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in re.findall(r"([-\d.]+),([-\d.]+)", path.get("d"))]


def _axis(root: ET.Element, horizontal: bool, log: bool = False):
    """Pixel -> value along one axis, fitted from its first and last tick labels (read off the
    drawing); ``log``: the labels are powers of ten at even distances."""
    number = re.compile(r"-?[\d.]+(e[-+]?\d+)?")
    texts = [t for t in root.iter(f"{SVG}text") if number.fullmatch(t.text or "")]
    if horizontal:
        labels = [(float(t.get("x")), float(t.text)) for t in texts if t.get("text-anchor") == "middle"]
    else:  # a y label's baseline sits 4 px below its grid line
        labels = [(float(t.get("y")) - 4, float(t.text)) for t in texts if t.get("text-anchor") == "end"]
    if log:
        labels = [(p, math.log10(v)) for p, v in labels]
    (p0, v0), (p1, v1) = labels[0], labels[-1]
    linear = lambda pixel: v0 + (pixel - p0) * (v1 - v0) / (p1 - p0)  # noqa: E731
    return (lambda pixel: 10 ** linear(pixel)) if log else linear


def test_each_curve_is_drawn_to_scale_against_the_axes_it_labels():
    df = _table()
    root = _parse(curves_svg(df, "loss"))
    x_of, y_of = _axis(root, True), _axis(root, False)
    curves = root.findall(f"{SVG}path[@class='curve']")
    assert sorted((c.get("data-run"), c.get("data-split")) for c in curves) == \
        [("BP", "test"), ("BP", "train"), ("DFA", "test"), ("DFA", "train")]
    for curve in curves:
        rows = df[(df["run"] == curve.get("data-run")) & (df["split"] == curve.get("data-split"))]
        drawn = _points(curve)
        assert len(drawn) == len(rows)
        for (px, py), (_, row) in zip(drawn, rows.iterrows()):
            assert x_of(px) == pytest.approx(row["epoch"], abs=0.02)
            assert y_of(py) == pytest.approx(row["value"], abs=0.02)


def test_the_look_follows_the_vega_chart_colours_dashes_title_and_legend():
    df = _table()
    svg = curves_svg(df, "loss", order=["DFA", "BP"])
    root = _parse(svg)
    vega = charts.learning_curves(df, "loss", order=["DFA", "BP"]).to_dict()
    color = dict(zip(vega["encoding"]["color"]["scale"]["domain"], vega["encoding"]["color"]["scale"]["range"]))
    for curve in root.findall(f"{SVG}path[@class='curve']"):
        assert curve.get("stroke") == color[curve.get("data-run")]
        assert (curve.get("stroke-dasharray") is not None) == (curve.get("data-split") == "test")
    assert root.get("data-title") == "Loss" == vega["title"]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts[0] == "Loss" and {"DFA", "BP", "train", "test", "epoch", "loss"} <= set(texts)
    assert texts.index("DFA") < texts.index("BP")   # the legend keeps the given order


def test_a_diverged_run_is_marked_where_it_diverged():
    df = _table()
    root = _parse(curves_svg(df, "loss", diverged={"DFA": 2.5}))
    x_of = _axis(root, True)
    red = [line for line in root.iter(f"{SVG}line") if line.get("stroke") == charts.DIVERGED_COLOR]
    assert len(red) == 1 and x_of(float(red[0].get("x1"))) == pytest.approx(2.5, abs=0.02)
    assert "DFA diverged" in [t.text for t in root.iter(f"{SVG}text")]


def test_labels_are_escaped_and_empty_or_flat_tables_still_draw():
    df = _table().assign(run=lambda d: d["run"].replace({"BP": 'BP <b>"&'}))
    root = _parse(curves_svg(df, "loss"))
    assert 'BP <b>"&' in {c.get("data-run") for c in root.findall(f"{SVG}path[@class='curve']")}
    empty = _parse(curves_svg(df.iloc[:0], "accuracy"))
    assert empty.findall(f"{SVG}path[@class='curve']") == []
    flat = df.assign(value=0.5)
    for curve in _parse(curves_svg(flat, "loss")).findall(f"{SVG}path[@class='curve']"):
        assert all(math.isfinite(v) for point in _points(curve) for v in point)


def test_one_point_after_a_first_step_sits_on_an_axis_of_round_ticks_from_zero():
    # one step of 22 an epoch: epoch 1/22 = 0.04545…; the axis used to be that one tick, "0.04545"
    df = pd.DataFrame({"run": ["BP"], "step": [1], "epoch": [1 / 22], "split": ["train"], "measure": ["loss"],
                       "value": [2.3]})
    root = _parse(curves_svg(df, "loss"))
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "middle" and t.text != "epoch"]
    assert labels[0] == "0" and len(labels) >= 3, labels
    assert all(len(label) <= 4 for label in labels), labels   # 0, 0.01, 0.02 …: no 0.04545
    [curve] = root.findall(f"{SVG}path[@class='curve']")
    (x, _), = _points(curve)
    to_value = _axis(root, horizontal=True)
    assert to_value(x) == pytest.approx(1 / 22, abs=0.002)   # drawn where it is on that axis


def test_a_measure_that_is_not_drawn_is_refused_by_name():
    with pytest.raises(ValueError, match="measure"):
        curves_svg(_table(), "lr")


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (0.013, 0.087), (1.0, 60.0), (-3.2, 7.9), (2.3, 2.31)])
def test_ticks_are_round_evenly_spaced_and_cover_the_range(low, high):
    found = ticks(low, high)
    assert 2 <= len(found) <= 11
    steps = {round(b - a, 9) for a, b in zip(found, found[1:])}
    assert len(steps) == 1
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1.0, 2.0, 5.0)
    assert found[0] >= low - 1e-9 and found[-1] <= high + 1e-9
    assert found[0] - low < step and high - found[-1] < step   # no room left for another tick


def _records() -> dict[str, list[dict]]:
    """Two runs' logged records over two hidden layers, as the trainer writes them."""
    runs = {}
    for run, tilt in (("FA", 0.0), ("DFA", 10.0)):
        runs[run] = [{"step": step, "epoch": step / 10, "layers": [
            {"layer": name, "index": index, "update_cos": math.cos(math.radians(80 - 5 * step + tilt + index)),
             "update_deg": 80 - 5 * step + tilt + index, "signal_cos": 0.5, "signal_deg": 60.0,
             "weight_cos": math.nan, "weight_deg": math.nan,
             "grad_norm": 10.0 ** (-step - index), "bp_grad_norm": 10.0 ** -index}
            for index, name in ((2, "layers.1"), (1, "layers.0"))]} for step in range(1, 6)]
    return runs


@pytest.mark.parametrize("unit", ["deg", "cos"])
def test_alignment_is_one_panel_per_layer_drawn_to_scale_with_the_right_angle_marked(unit):
    table = frames.alignment(_records())
    svgs = alignment_svgs(table, "update", unit=unit, order=["FA", "DFA"])
    roots = [_parse(svg) for svg in svgs]
    assert [r.get("data-title") for r in roots] == ["hidden layer 1", "hidden layer 2"]   # layer order, not row order
    for root, index in zip(roots, (1, 2)):
        x_of, y_of = _axis(root, True), _axis(root, False)
        curves = root.findall(f"{SVG}path[@class='curve']")
        assert sorted(c.get("data-run") for c in curves) == ["DFA", "FA"]
        for curve in curves:
            rows = table[(table["run"] == curve.get("data-run")) & (table["index"] == index)
                         & (table["kind"] == "update")]
            drawn = _points(curve)
            assert [round(x_of(px)) for px, _ in drawn] == rows["step"].tolist()
            assert [y_of(py) for _, py in drawn] == pytest.approx(rows[unit].tolist(), abs=0.01 if unit == "cos" else 0.5)
        [mark] = root.findall(f"{SVG}line[@class='mark']")
        assert y_of(float(mark.get("y1"))) == pytest.approx(90.0 if unit == "deg" else 0.0, abs=1e-6)
        labels = [float(t.text) for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
        assert (min(labels), max(labels)) == ((0.0, 180.0) if unit == "deg" else (-1.0, 1.0))  # fixed axis
    assert alignment_svgs(table, "weight") == []   # no run measured it: no panel
    with pytest.raises(ValueError, match="unit"):
        alignment_svgs(table, unit="rad")


def test_norms_are_drawn_on_a_log_scale_rule_solid_and_backprop_dotted():
    table = frames.norms(_records())
    svgs = norms_svgs(table, order=["FA", "DFA"])
    assert len(svgs) == 2
    root = _parse(svgs[0])
    assert root.get("data-title") == "hidden layer 1"
    y_of = _axis(root, False, log=True)
    for curve in root.findall(f"{SVG}path[@class='curve']"):
        gradient = curve.get("data-split")
        rows = table[(table["run"] == curve.get("data-run")) & (table["index"] == 1) & (table["gradient"] == gradient)]
        assert [y_of(py) for _, py in _points(curve)] == pytest.approx(rows["norm"].tolist(), rel=0.03)
        assert (curve.get("stroke-dasharray") is not None) == (gradient == "backprop")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"rule", "backprop", "FA", "DFA"} <= set(texts)


def test_a_band_is_shaded_between_its_low_and_high_with_the_mean_and_the_published_value():
    band = pd.DataFrame({"run": ["BP"] * 3 + ["DFA"] * 3, "epoch": [1.0, 2.0, 3.0] * 2,
                         "mean": [0.55, 0.7, 0.8, 0.5, 0.6, 0.65], "low": [0.5, 0.62, 0.75, 0.45, 0.5, 0.6],
                         "high": [0.6, 0.78, 0.85, 0.55, 0.7, 0.7], "n": [3] * 6})
    root = _parse(band_svg(band, {"BP": 0.95, "DFA": 0.7}, order=["BP", "DFA"]))
    x_of, y_of = _axis(root, True), _axis(root, False)
    colors = dict(zip(["BP", "DFA"], charts.rule_colors(["BP", "DFA"])))
    assert len(root.findall(f"{SVG}path[@class='band']")) == 2
    for shade in root.findall(f"{SVG}path[@class='band']"):
        rows = band[band["run"] == shade.get("data-run")]
        drawn = [(x_of(px), y_of(py)) for px, py in _points(shade)]
        expected = list(zip(rows["epoch"], rows["high"])) + list(zip(rows["epoch"], rows["low"]))[::-1]
        assert drawn == [pytest.approx(p, abs=0.01) for p in expected]   # along the top, back along the bottom
        assert shade.get("fill") == colors[shade.get("data-run")]
    for curve in root.findall(f"{SVG}path[@class='curve']"):
        rows = band[band["run"] == curve.get("data-run")]
        assert [y_of(py) for _, py in _points(curve)] == pytest.approx(rows["mean"].tolist(), abs=0.01)
    lines = {line.get("data-run"): line for line in root.findall(f"{SVG}line[@class='reference']")}
    assert {run: y_of(float(line.get("y1"))) for run, line in lines.items()} == \
        {"BP": pytest.approx(0.95, abs=0.01), "DFA": pytest.approx(0.7, abs=0.01)}
    assert all(line.get("stroke") == colors[run] for run, line in lines.items())


# --- nothing but finite numbers reaches the drawing (issue 12, item 4) -------------------------

GEOMETRY = ("d", "points", "x", "y", "x1", "x2", "y1", "y2", "width", "height")


def _numbers(svg: str) -> list[str]:
    """Every number-like token of every geometry attribute of every element."""
    tokens = []
    for element in _parse(svg).iter():
        for name in GEOMETRY:
            value = element.get(name)
            if value is not None and value != "100%":
                tokens += [t for t in re.split(r"[MLHVZmlhvz,\s]+", value) if t]
    return tokens


def _assert_finite(svg: str) -> None:
    tokens = _numbers(svg)
    assert tokens, "nothing drawn at all"
    bad = [t for t in tokens if not re.fullmatch(r"-?\d+(\.\d+)?", t) or not math.isfinite(float(t))]
    assert not bad, f"not finite numbers in the SVG: {bad[:5]}"


NAN, INF = float("nan"), float("inf")


def _band(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["run", "epoch", "mean", "low", "high", "n"])


BANDS = {
    # one seed so far: frames.band gives NaN edges (no t interval from one value)
    "single seed": _band([("DFA", 1.0, 0.6, NAN, NAN, 1), ("DFA", 2.0, 0.7, NAN, NAN, 1)]),
    "seeds at different epochs": _band([("BP", 1.0, 0.6, 0.5, 0.7, 3), ("BP", 2.0, 0.7, 0.6, 0.8, 3),
                                        ("BP", 3.0, 0.72, NAN, NAN, 1), ("DFA", 1.0, 0.55, 0.4, 0.7, 2)]),
    "first row NaN": _band([("DFA", 1.0, 0.6, NAN, NAN, 1), ("DFA", 2.0, 0.7, 0.6, 0.8, 2),
                            ("DFA", 3.0, 0.75, 0.7, 0.8, 2)]),
    "a diverged seed": _band([("FA", 1.0, INF, -INF, INF, 2), ("FA", 2.0, NAN, NAN, NAN, 2)]),
}


@pytest.mark.parametrize("case", list(BANDS))
def test_a_band_never_draws_a_number_that_is_not_finite(case):
    svg = band_svg(BANDS[case], {"DFA": 0.7, "BP": NAN}, order=["BP", "DFA", "FA"])
    _assert_finite(svg)


def test_a_band_is_shaded_only_where_two_seeds_or_more_give_its_edges_and_breaks_at_a_gap():
    band = _band([("DFA", e, 0.5 + e / 10, 0.4 + e / 10, 0.6 + e / 10, 1 if e == 3 else 2) for e in range(1, 6)])
    band.loc[band["n"] == 1, ["low", "high"]] = NAN
    root = _parse(band_svg(band))
    x_of = _axis(root, True)
    shaded = [sorted({round(x_of(px), 3) for px, _ in _points(p)}) for p in root.findall(f"{SVG}path[@class='band']")]
    assert shaded == [[1.0, 2.0], [4.0, 5.0]]     # not across epoch 3, where one seed is all there is
    curve = root.find(f"{SVG}path[@class='curve']")
    assert [round(x_of(px), 3) for px, _ in _points(curve)] == [1.0, 2.0, 3.0, 4.0, 5.0]   # the mean is drawn


def _curves(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [(run, i + 1, float(i + 1), "train", "loss", v) for run, vs in values.items() for i, v in enumerate(vs)]
    return pd.DataFrame(rows, columns=["run", "step", "epoch", "split", "measure", "value"])


CURVES = {
    "a diverged run": {"BP": [2.3, 1.0, 0.5, 0.3], "IFA": [2.3, 40.0, 8e31, INF]},
    "NaN inside": {"DFA": [2.0, NAN, 1.0, 0.8]},
    "unequal lengths": {"BP": [2.0, 1.0, 0.5, 0.4, 0.3], "FA": [2.0]},
    "only NaN": {"FA": [NAN, NAN]},
    "zero and negative": {"BP": [1.0, 0.0, -1.0, 0.5]},
}


@pytest.mark.parametrize("log", [None, False, True])
@pytest.mark.parametrize("case", list(CURVES))
def test_curves_never_draw_a_number_that_is_not_finite(case, log):
    _assert_finite(curves_svg(_curves(CURVES[case]), "loss", log=log, diverged={"IFA": 3.0, "FA": NAN}))


def test_a_line_breaks_where_its_value_is_missing_instead_of_joining_across():
    root = _parse(curves_svg(_curves({"DFA": [2.0, 1.5, NAN, 1.0, 0.8]}), "loss", log=False))
    d = root.find(f"{SVG}path[@class='curve']").get("d")
    assert d.count("M") == 2 and len(_points(root.find(f"{SVG}path[@class='curve']"))) == 4


def test_a_loss_that_spans_many_decades_gets_a_log_axis_with_round_labels():
    root = _parse(curves_svg(_curves(CURVES["a diverged run"]), "loss"))
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert labels and all(math.log10(float(label)).is_integer() and len(label) <= 5 for label in labels), labels
    assert any(t.text == "loss (log scale)" for t in root.iter(f"{SVG}text"))
    y_of = _axis(root, False, log=True)
    bp = next(p for p in root.findall(f"{SVG}path[@class='curve']") if p.get("data-run") == "BP")
    assert [y_of(py) for _, py in _points(bp)] == pytest.approx([2.3, 1.0, 0.5, 0.3], rel=0.05)
    linear = _parse(curves_svg(_curves(CURVES["a diverged run"]), "loss", log=False))
    assert not any("(log scale)" in (t.text or "") for t in linear.iter(f"{SVG}text"))
    accuracy = _curves({"BP": [1e-6, 0.5, 1.0]}).assign(measure="accuracy")
    assert "(log scale)" not in curves_svg(accuracy, "accuracy", log=True)   # an accuracy is never log


def test_every_tick_label_is_a_short_number():
    for values in ({"BP": [1.4999999999999, 1.5000000001]}, {"BP": [2.3, 0.1]}, {"BP": [3e-14, 6e-14]}):
        root = _parse(curves_svg(_curves(values), "loss", log=False))
        numbers = [t.text for t in root.iter(f"{SVG}text") if re.fullmatch(r"[-\d.e+]+", t.text or "")]
        assert numbers and all(len(n.lstrip("-")) <= 6 for n in numbers), numbers


def test_the_legend_lists_only_the_runs_that_have_a_line():
    """BP has no weight alignment (no feedback matrix): it is not in that chart's legend."""
    table = frames.alignment(_records())
    svg = alignment_svgs(table, "update", order=["BP", "FA", "DFA"])[0]
    texts = [t.text for t in _parse(svg).iter(f"{SVG}text")]
    assert "FA" in texts and "DFA" in texts and "BP" not in texts


def test_a_curve_of_one_point_is_drawn_as_a_dot_where_its_value_is():
    """After the first Step a run has one record; a path through one point draws nothing."""
    one = [{"step": 1, "epoch": 0.05, "train_loss": 2.0, "test_loss": 2.5, "train_acc": 0.1, "test_acc": 0.1}]
    svg = curves_svg(frames.curves({"BP": one}), "loss")
    dots = re.findall(r'<circle class="lone" data-run="BP" cx="([\d.]+)" cy="([\d.]+)"', svg)
    assert len(dots) == 2  # train and test
    assert float(dots[0][1]) != float(dots[1][1])  # drawn at their own values: 2.0 and 2.5 differ
