"""The Representations page, driven through Streamlit's AppTest as a user would."""

from __future__ import annotations

import json

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from apptest_tools import APP, _elements, app_workspace, charts, run_until, text
from explorer.views import maps
from explorer.views.embed import embed

SAMPLES = 80
BASE = {"model": {"hidden": [16, 8], "activation": "tanh"}, "optimizer": {"name": "sgd", "lr": 0.1},
        "train": {"epochs": 2, "snapshots": [0, 1, 2], "snapshot_samples": SAMPLES}, "device": "cpu"}
UNEVEN = {**BASE, "train": {"epochs": 4, "snapshots": [0, 1, 4], "snapshot_samples": SAMPLES}}  # index != epoch
PARITY = {"data": {"name": "parity", "base": "digits", "k": 2}, "model": {"hidden": [12]},
          "train": {"epochs": 1, "snapshots": [0, 1], "snapshot_samples": SAMPLES}, "device": "cpu"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One store for the module: BP and DFA with maps, a parity run, and a run that kept no maps."""
    with app_workspace(tmp_path_factory.mktemp("representations") / "runs.sqlite") as ws:
        groups = {"rules": ws.compare(BASE, [{"name": "bp"}, {"name": "dfa"}]),
                  "parity": ws.compare(PARITY, [{"name": "bp"}]),
                  "uneven": ws.compare(UNEVEN, [{"name": "bp"}]),
                  "bare": ws.compare({"model": {"hidden": [8]}, "train": {"epochs": 1}, "device": "cpu"},
                                     [{"name": "bp"}])}
        for found in groups.values():
            found.wait(timeout=120)
        maps.shared(ws.store).tsne.update(n_iter=60, early_exaggeration_iter=30)  # a quick t-SNE
        yield ws, groups


def _page(group: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["group"] = group
    at.switch_page("pages/representations.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _title(spec) -> str:
    title = spec.get("title", "")
    return title.get("text", "") if isinstance(title, dict) else str(title)


def _maps(at) -> dict[str, object]:
    """The map tables on the page, by the run named first in their titles."""
    return {_title(spec).split(" · ")[0]: tables[0] for spec, tables in charts(at) if _title(spec).count(" · ") >= 3}


def _titles(at) -> list[str]:
    """Each map's title and, after a newline, its subtitle (which checkpoint it shows)."""
    return [f"{_title(spec)}\n{spec['title'].get('subtitle', '')}" if isinstance(spec.get("title"), dict)
            else _title(spec) for spec, _ in charts(at)]


def _snapshot_maps(ws, run_id, layer):
    return embed(ws.store.snapshots(run_id), "pca", layer=layer)


def test_pca_maps_of_two_runs_side_by_side_move_with_the_checkpoint(trained):
    ws, groups = trained
    found = groups["rules"]
    at = _page(found.group)
    assert at.selectbox(key="rep_left").value == found.ids[0]
    assert at.selectbox(key="rep_right").value == found.ids[1]
    shown = _maps(at)
    assert list(shown) == ["BP", "DFA"]
    slider = at.slider(key="rep_epoch")
    assert slider.max == 2.0 and slider.value == 2.0   # opens at the last checkpoint
    for label, run_id in zip(found.labels, found.ids):
        table = shown[label]
        probe = ws.store.probe(run_id)
        assert len(table) == len(probe["y"]) == SAMPLES
        assert table.sort_values("index")["class"].tolist() == [str(int(v)) for v in probe["y"]]
        expected = _snapshot_maps(ws, run_id, "layers.1")[2]
        assert np.allclose(table[["x", "y"]].to_numpy(), expected, atol=1e-5)
    assert not np.allclose(shown["BP"][["x", "y"]], shown["DFA"][["x", "y"]])   # the rules taught differently

    slider.set_value(0.0).run()
    start = _maps(at)
    assert np.allclose(start["BP"][["x", "y"]], start["DFA"][["x", "y"]])  # same forward weights at epoch 0
    assert not np.allclose(start["BP"][["x", "y"]], shown["BP"][["x", "y"]])
    assert "epoch 0\n" in _titles(at)[0]

    at.slider(key="rep_epoch").set_value(0.5).run()   # between checkpoints: halfway from one map to the next
    half = _maps(at)["BP"][["x", "y"]].to_numpy()
    pca = _snapshot_maps(ws, found.ids[0], "layers.1")
    assert np.allclose(half, (pca[0] + pca[1]) / 2, atol=1e-5)
    assert "epoch 0.5\n" in _titles(at)[0]

    at.selectbox(key="rep_view").set_value("layers.0").run()
    assert np.allclose(_maps(at)["BP"][["x", "y"]], (_snapshot_maps(ws, found.ids[0], "layers.0")[0]
                                                     + _snapshot_maps(ws, found.ids[0], "layers.0")[1]) / 2, atol=1e-5)


def test_play_moves_the_map_through_the_checkpoints(trained):
    ws, groups = trained
    at = _page(groups["rules"].group)
    next(b for b in at.button if b.label == "Play").click().run()
    assert at.slider(key="rep_epoch").value == 0.0            # from the start
    at.run()
    assert at.slider(key="rep_epoch").value == pytest.approx(0.2)
    assert "epoch 0.2\n" in _titles(at)[0]
    next(b for b in at.button if b.label == "Pause").click().run()
    paused = at.slider(key="rep_epoch").value
    at.run()
    assert at.slider(key="rep_epoch").value == paused and "Play" in [b.label for b in at.button]


def test_tsne_appears_after_asking_and_is_kept(trained):
    ws, groups = trained
    found = groups["rules"]
    mapper = maps.shared(ws.store)
    at = _page(found.group)
    assert not any("t-SNE" in t for t in _titles(at))
    before = mapper.computed
    at.radio(key="rep_method").set_value("tsne").run()
    run_until(at, lambda a: len([t for t in _titles(a) if "t-SNE" in t]) == 2 and "computing" not in text(a)
              and "being computed" not in text(a), timeout=60)
    assert mapper.computed - before == 6   # three checkpoints of each run
    first = _maps(at)
    for label, run_id in zip(found.labels, found.ids):
        job = mapper.request(run_id, "layers.1", "tsne")
        assert np.allclose(first[label][["x", "y"]], job.maps[-1])
        assert len(first[label]) == SAMPLES

    at.radio(key="rep_method").set_value("pca").run()
    assert all("PCA" in t for t in _titles(at) if " · " in str(t))
    at.radio(key="rep_method").set_value("tsne").run()
    again = _maps(at)
    assert mapper.computed - before == 6   # kept: nothing computed again
    assert all(np.array_equal(first[k][["x", "y"]], again[k][["x", "y"]]) for k in first)


def test_brushing_an_area_lists_and_shows_its_samples(trained):
    ws, groups = trained
    at = _page(groups["rules"].group)
    assert "Drag over the map" in text(at)
    table = _maps(at)["BP"]
    x0, x1 = np.quantile(table["x"], [0.2, 0.7])
    y0, y1 = np.quantile(table["y"], [0.1, 0.9])
    inside = table[table.x.between(x0, x1) & table.y.between(y0, y1)]
    assert 0 < len(inside) < len(table)
    chart = _elements(at._tree, "vega_lite_chart")[0]
    assert list(chart.proto.selection_mode) == ["brush"]
    states = at._tree.get_widget_states()
    brushed = states.widgets.add()
    brushed.id = chart.proto.id
    brushed.string_value = json.dumps({"selection": {"brush": {"x": [x1, x0], "y": [y0, y1]}}})
    at._run(states)
    assert not at.exception, [e.value for e in at.exception]
    assert f"**{len(inside)} samples** in the brushed area" in text(at)
    images = at.get("image")
    assert len(images) == 1 and images[0].captions == inside["class"].tolist()[:60]   # the samples, drawn
    listed = at.dataframe[0].value
    assert sorted(listed["index"]) == sorted(inside["index"])
    assert listed["class"].tolist() == inside.set_index("index").loc[listed["index"], "class"].tolist()


def test_parity_is_coloured_by_parity_or_by_a_slot_and_has_per_digit_maps(trained):
    ws, groups = trained
    found = groups["parity"]
    at = _page(found.group)
    assert at.selectbox(key="rep_colour").options == ["parity", "digit 1", "digit 2"]
    assert at.selectbox(key="rep_right").value == "none" and list(_maps(at)) == ["BP"]
    probe = ws.store.probe(found.ids[0])
    at.selectbox(key="rep_colour").set_value("digit 2").run()
    spec, tables = charts(at)[0]
    assert spec["encoding"]["color"]["field"] == "digit 2"
    table = tables[0].sort_values("index")
    assert table["digit 2"].tolist() == [str(int(d)) for d in probe["slot_digits"][:, 1]]
    assert table["parity"].tolist() == ["odd" if int(v) else "even" for v in probe["y"]]

    at.selectbox(key="rep_view").set_value("layers.0 · digit 1 alone").run()
    assert not at.exception
    assert "digit 1 alone" in _titles(at)[0] and "epoch 1\n" in _titles(at)[0]
    assert len(_maps(at)["BP"]) == SAMPLES and not at.slider   # kept at one checkpoint: the end
    assert "end of training" in text(at)


def test_the_maps_of_a_run_in_training_appear_as_it_goes(trained):
    ws, _ = trained
    found = ws.compare(BASE, [{"name": "fa"}], paused=True)
    try:
        at = run_until(_page(found.group), lambda a: "FA" in _maps(a), timeout=30)
        assert "epoch 0\n" in _titles(at)[0] and not at.slider        # one map so far: before training
        found.resume()
        run_until(at, lambda a: len(a.slider) == 1, timeout=60)   # a second map: the slider appears, at the end
        found.wait(timeout=60)
        run_until(at, lambda a: len(a.slider) == 1 and a.slider(key="rep_epoch").max == 2.0, timeout=10)
        assert at.slider(key="rep_epoch").value == 2.0 and "epoch 2\n" in _titles(at)[0]   # follows the end
    finally:
        if not found.finished:
            found.stop()


def test_a_run_without_maps_says_how_to_get_them(trained, tmp_path, monkeypatch):
    ws, groups = trained
    at = _page(groups["bare"].group)
    assert at.selectbox(key="rep_left").value == groups["bare"].ids[0]
    assert "keep hidden maps" in text(at) and not charts(at)
    other = groups["rules"].ids[1]
    at.selectbox(key="rep_left").set_value(other).run()   # any stored run can be chosen
    assert list(_maps(at)) == ["DFA"]

    monkeypatch.setenv("EXPLORER_STORE", str(tmp_path / "empty.sqlite"))
    st.cache_resource.clear()
    empty = AppTest.from_file(APP, default_timeout=60)
    empty.switch_page("pages/representations.py").run()
    assert not empty.exception
    assert "No runs with hidden maps yet" in text(empty) and "keep hidden maps" in text(empty)
    st.cache_resource.clear()


def test_the_slider_is_in_epochs_and_each_title_names_the_checkpoint_on_screen(trained):
    """Checkpoints at epochs 0, 1 and 4: the slider says an epoch (it said a checkpoint's index, 0-2)
    and the map drawn is that epoch's stored map."""
    ws, groups = trained
    run = groups["uneven"].ids[0]
    pca = _snapshot_maps(ws, run, "layers.1")
    at = _page(groups["uneven"].group)
    slider = at.slider(key="rep_epoch")
    assert (slider.min, slider.max, slider.value) == (0.0, 4.0, 4.0)
    for epoch, checkpoint in ((4.0, 2), (1.0, 1), (0.0, 0), (4.0, 2)):   # moved, and put back
        at.slider(key="rep_epoch").set_value(epoch).run()
        title = _titles(at)[0]
        assert title.startswith(f"BP · hidden layer 2 · PCA · epoch {epoch:g}\n")
        assert f"checkpoint {checkpoint + 1} of 3" in title
        drawn = _maps(at)["BP"].sort_values("index")[["x", "y"]].to_numpy()
        assert np.allclose(drawn, pca[checkpoint], atol=1e-5)
    at.slider(key="rep_epoch").set_value(2.5).run()   # between epochs 1 and 4: half way
    assert "between the checkpoints at epochs 1 and 4" in _titles(at)[0]
    assert np.allclose(_maps(at)["BP"].sort_values("index")[["x", "y"]], (pca[1] + pca[2]) / 2, atol=1e-5)


def test_an_epoch_not_computed_yet_is_said_plainly(trained):
    """t-SNE with one of three maps made: at the slider's last epoch the map shows epoch 0 and says so."""
    ws, groups = trained
    run = groups["uneven"].ids[0]
    mapper = maps.shared(ws.store)
    key = (run, "layers.1", "tsne")
    partial = maps.MapJob(key, [0, 1, 4], [s.step for s in ws.store.snapshots(run)])
    made = _snapshot_maps(ws, run, "layers.1")[0] * 0.5
    partial.add(made)
    partial.queued = True   # held: still "being computed"
    mapper._jobs[key] = partial
    try:
        at = _page(groups["uneven"].group)
        at.radio(key="rep_method").set_value("tsne").run()
        assert at.slider(key="rep_epoch").value == 4.0
        title = _titles(at)[0]
        assert title.startswith("BP · hidden layer 2 · t-SNE · epoch 0\n")
        assert "epoch 4 not computed yet, showing epoch 0 (1 of 3 maps ready)" in title
        assert np.allclose(_maps(at)["BP"].sort_values("index")[["x", "y"]], made, atol=1e-6)
        at.slider(key="rep_epoch").set_value(0.0).run()
        assert "checkpoint 1 of 3" in _titles(at)[0] and "not computed" not in _titles(at)[0]
    finally:
        mapper._jobs.pop(key, None)


def test_each_map_fills_its_square_frame(trained):
    """The axes fit the points drawn (a small margin), one span for both: no empty frame, equal aspect."""
    ws, groups = trained
    at = _page(groups["rules"].group)
    for at_epoch in (2.0, 0.0):
        at.slider(key="rep_epoch").set_value(at_epoch).run()
        for spec, tables in charts(at):
            points = tables[0][["x", "y"]].to_numpy()
            low, high = points.min(0), points.max(0)
            domains = [np.array(spec["encoding"][axis]["scale"]["domain"]) for axis in ("x", "y")]
            spans = [d[1] - d[0] for d in domains]
            assert spec["width"] == spec["height"] and spans[0] == pytest.approx(spans[1])
            wide = int(np.argmax(high - low))   # the points reach across the frame along their wider axis
            margin = (domains[wide][1] - high[wide]) / (high[wide] - low[wide])
            assert domains[wide][0] == pytest.approx(low[wide] - margin * (high[wide] - low[wide]))
            assert 0 < margin <= 0.05
            for d, lo, hi in zip(domains, low, high):   # every point inside, centred
                assert d[0] < lo and hi < d[1] and (d[0] + d[1]) / 2 == pytest.approx((lo + hi) / 2)


def test_runs_of_one_rule_started_in_the_same_minute_read_apart_in_the_picker(trained):
    ws, groups = trained
    at = _page(groups["parity"].group)   # the other groups' runs are listed by rule, data and time
    options = at.selectbox(key="rep_left").options
    assert len(set(options)) == len(options), options
    digits_bp = [groups[name].ids[0] for name in ("rules", "uneven")]
    labels = [o for o in options if o.startswith("BP · digits")]
    created = {ws.store.get_run(i).created // 60 for i in digits_bp}
    if len(created) == 1:   # made in one minute (nearly always): told apart by their ids
        assert sorted(label[-6:] for label in labels) == sorted(i[:6] for i in digits_bp), labels
