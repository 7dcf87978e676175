"""AppTest of the Playground page: BP trained on moons from the page, its decision boundary repainted
while it trains and, at the end, agreeing with the data; side-by-side boundaries for several rules;
refused inputs that name their field and start nothing."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import time

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from apptest_tools import _elements, app_on, button, charts, set_widget
from explorer.views import frames
from explorer.runs import workspace as runs
from tests.test_charts import _assert_drawn_as_stored, _svg
from explorer.runs.store import FINAL, Store
from explorer.config.labels import run_label


@pytest.fixture
def page(store_path):
    return app_on("pages/playground.py"), store_path


def _runs(path) -> list:
    with Store(path) as store:
        return store.list_runs()


def _boundaries(at) -> list[tuple[str, object, object]]:
    """(title, grid table, points table) of each boundary chart on the page, left to right."""
    out = []
    for spec, tables in charts(at):
        grid = next((t for t in tables if "confidence" in t.columns), None)
        if grid is not None:
            points = next(t for t in tables if "confidence" not in t.columns)
            out.append((spec.get("description"), grid, points))
    return out


def _pictures(at, side: int = 40) -> list[tuple[str, np.ndarray]]:
    """(title, label of each cell in the grid's order) of each boundary painted as a PNG while the
    runs train, read off the picture: on moons, a cell is class 1 (orange) where red outweighs blue
    in most of its pixels (the dots blur a few cells: 98 % read right on a fresh BP network)."""
    out = []
    for markdown in at.markdown:
        for alt, data in re.findall(r'<img class="explorer-boundary" alt="([^"]*)" width="\d+" height="\d+" '
                                    r'src="data:image/png;base64,([^"]+)"', markdown.value):
            image = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"), dtype=int)
            cell = image.shape[0] // side
            blocks = image[:cell * side, :cell * side].reshape(side, cell, side, cell, 3)
            blue_over_red = np.median(blocks[..., 2] - blocks[..., 0], axis=(1, 3))  # the dots barely count
            out.append((html.unescape(alt), (blue_over_red < 0).astype(int)[::-1].ravel()))  # bottom row first
    return out


def _vega_specs(at) -> list[dict]:
    """Every Vega-Lite chart on the page as one spec, its tables back in as datasets (to render)."""
    out = []
    for element in _elements(at._tree, "vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        spec["datasets"] = {d.name: pa.ipc.open_stream(io.BytesIO(d.data.data)).read_pandas()
                            for d in element.proto.datasets}
        out.append(spec)
    return out


def _cell_labels(grid, points) -> np.ndarray:
    """The label of the grid cell each point lies in."""
    xs, ys = np.sort(grid["x"].unique()), np.sort(grid["y"].unique())
    i = np.clip(np.searchsorted(xs, points["x"].to_numpy(), side="right") - 1, 0, len(xs) - 1)
    j = np.clip(np.searchsorted(ys, points["y"].to_numpy(), side="right") - 1, 0, len(ys) - 1)
    table = grid.set_index(["x", "y"])["label"]
    return table.loc[list(zip(xs[i], ys[j]))].to_numpy()


def _train(at, path, rules, **numbers):
    at.multiselect(key="pg_rules").set_value(rules)
    at.selectbox(key="pg_device").set_value("cpu")
    for key, value in numbers.items():
        at.number_input(key=key).set_value(value)
    at.run()
    assert not [w.value for w in at.warning]
    button(at, "Train").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "play" in at.query_params


def test_bp_on_moons_repaints_its_boundary_while_it_trains_and_ends_agreeing_with_the_data(page):
    at, path = page
    _train(at, path, ["bp"], pg_samples=300, pg_epochs=100)
    seen = []  # (title, labels) of each repaint, as someone watching the page would see them
    live = 0   # repaints seen as pictures (while it trained) rather than as the Vega chart
    deadline = time.monotonic() + 120
    while True:
        pictures = _pictures(at)
        if pictures:
            assert _boundaries(at) == []    # while it trains: a light picture, not the Vega chart
            [(title, labels)] = pictures
            live += 1
        else:
            [(title, grid, points)] = _boundaries(at)
            labels = grid["label"].to_numpy().copy()
        seen.append((title, labels))
        runs = _runs(path)
        if runs and all(r.status in FINAL for r in runs) and title.endswith("epoch 100") and not pictures:
            break
        assert time.monotonic() < deadline, seen[-1][0]
        time.sleep(0.3)  # about as often as the page itself repaints
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    [run] = _runs(path)
    assert run.status == "done"

    titles = list(dict.fromkeys(t for t, _ in seen))
    assert titles[0].startswith("BP · ") and len(titles) >= 2 and live >= 1, titles
    epochs = [float(t.split("epoch ")[1]) for t in titles if "epoch " in t]
    assert epochs == sorted(epochs) and epochs[-1] == 100  # repainted forward in time, ending at the end
    distinct = {labels.tobytes() for _, labels in seen}
    assert len(distinct) >= 2  # the predicted labels changed as it trained
    first, last = seen[0][1], seen[-1][1]
    assert (first != last).mean() > 0.02

    # After training, the regions agree with the data: most points lie in a cell of their own class.
    [(_, grid, points)] = _boundaries(at)
    assert len(grid) == 40 * 40 and set(grid["label"]) == {0, 1}
    assert ((grid["confidence"] >= 0.5) & (grid["confidence"] <= 1)).all()
    assert len(points) == 240  # the training points: a train share of 0.8 of 300
    agreement = (_cell_labels(grid, points) == points["label"].to_numpy()).mean()
    assert agreement > 0.9, agreement
    # Every point lies inside the painted area.
    assert grid["x"].min() < points["x"].min() and grid["x2"].max() > points["x"].max()
    assert grid["y"].min() < points["y"].min() and grid["y2"].max() > points["y"].max()

    # The figure under the boundary is the run's last test accuracy in the store.
    with Store(path) as store:
        final = store.metrics(run.id)[-1]
        assert store.checkpoint_steps(run.id) == [15 * e for e in range(1, 101)]  # weights at every epoch
    assert f"test accuracy {final['test_acc']:.3f}" in " ".join(c.value for c in at.caption)


def test_rules_are_painted_side_by_side(page):
    at, path = page
    _train(at, path, ["bp", "fa", "dfa"], pg_samples=200, pg_epochs=5)
    deadline = time.monotonic() + 60
    while not (len(_runs(path)) == 3 and all(r.status in FINAL for r in _runs(path))):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    at.run()
    painted = _boundaries(at)
    assert [t for t, _, _ in painted] == ["BP · epoch 5", "FA · epoch 5", "DFA · epoch 5"]
    jobs = runs.workspace(path).jobs   # the Train page's job manager: one queue for every page's runs
    assert sorted(jobs.handle(r.id).id for r in _runs(path)) == sorted(r.id for r in _runs(path))
    # One toy and one seed: the same points under every boundary, but each rule its own regions.
    assert all(p.equals(painted[0][2]) for _, _, p in painted)
    assert len({g["label"].to_numpy().tobytes() + g["confidence"].to_numpy().tobytes() for _, g, _ in painted}) == 3

    # Issue 12, item 3: at each repaint the accuracy chart is given the whole table (loss rows too);
    # it draws each rule's accuracy, one point per epoch, x increasing, at the stored values.
    at.run()
    [accuracy] = [spec for spec in _vega_specs(at) if spec.get("title") == "Accuracy"]
    with Store(path) as store:
        stored = {run_label(r.config): store.metrics(r.id) for r in _runs(path)}
    table = frames.curves({label: [r for r in records if float(r["epoch"]).is_integer()]
                           for label, records in stored.items()})
    _assert_drawn_as_stored(_svg(accuracy), table, "accuracy")


def _beside(at, key: str) -> list[str]:
    """The warnings drawn right under the widget keyed ``key`` (in its spot, before the next control)."""
    for column in at.columns:
        children = list(column.children.values())
        keys = [getattr(c, "key", None) for c in children]
        if key in keys:
            i = keys.index(key) + 1
            return [c.value for c in children[i:i + 1] if getattr(c, "type", None) == "warning"]
    raise AssertionError(f"no widget keyed {key!r}")


@pytest.mark.parametrize("widget, value, beside, words", [
    ("pg_hidden", "16,x", "pg_hidden", "hidden widths must be whole numbers separated by commas"),
    # the NTK baseline needs one hidden layer; 16,16 has two: the config's field is model.hidden
    ("pg_rules", ["bp", "ntk"], "pg_hidden", "hidden widths: 'ntk' is defined for an MLP with 1 hidden layer"),
    ("pg_lr", 0.0, "pg_lr", "learning rate must be greater than 0, got 0.0"),
])
def test_bad_input_is_told_beside_its_control_and_starts_nothing(page, widget, value, beside, words):
    at, path = page
    set_widget(at, widget, value)
    at.run()
    [warning] = [w.value for w in at.warning]
    assert warning.startswith(words), warning
    assert _beside(at, beside) == [warning]
    assert button(at, "Train").disabled
    at.run()
    assert _runs(path) == [] and "play" not in at.query_params


def test_the_rules_are_named_by_the_registry(page):
    from explorer.config.registry import RULES

    at, _ = page
    rules = at.multiselect(key="pg_rules")
    assert rules.options == [spec.label for spec in RULES.values()]
    assert all(f"**{spec.label}**: {spec.name}" in rules.help for spec in RULES.values())

def test_a_link_made_before_the_registry_keeps_its_rules(store_path):
    # the selected rules travel in the link by their words; five of them were named otherwise
    at = app_on("pages/playground.py", pg_rules=["BP (backprop)", "sparse DFA", "FA", "NTK (linearised)"])
    assert at.multiselect(key="pg_rules").value == ["bp", "sdfa", "fa", "ntk"]
    assert app_on("pages/playground.py", pg_rules=["sDFA", "RF"]).multiselect(key="pg_rules").value == ["sdfa", "rf"]
