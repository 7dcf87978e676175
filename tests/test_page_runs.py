"""The Runs page, driven through Streamlit's AppTest: list, filter, select, overlay, download, open, delete."""

from __future__ import annotations

import io
import json
import re
import time

import pandas as pd
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from apptest_tools import APP, _elements, button, charts, run_until, text
from explorer.experiments import playground
from explorer.experiments.parity import ParitySetup
from explorer.runs import workspace as runs
from explorer.runs.store import Store

from pages import common

PLAYED = playground.PlaygroundSetup(data="circles", noise=0.1, samples=100, hidden="8", activation="relu",
                                    rules=("ifa", "bdfa"), lr=0.05, epochs=2, seed=4, device="cpu")


def _config(**sections) -> dict:
    cfg = {"data": {"name": "digits"}, "model": {"name": "mlp", "hidden": [16], "activation": "tanh"},
           "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "train": {"epochs": 1, "batch_size": 64},
           "seed": 0, "device": "cpu"}
    cfg.update(sections)
    return cfg


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """One store for the module: a BP/DFA comparison on digits, an FA run on moons and a Playground
    comparison (IFA and bDFA on circles, ReLU), finished."""
    path = tmp_path_factory.mktemp("runs") / "runs.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXPLORER_STORE", str(path))
        ws = runs.workspace(path)
        digits = ws.compare(_config(), [{"name": "bp"}, {"name": "dfa"}])
        moons = ws.compare(_config(data={"name": "moons", "samples": 200}, seed=1), [{"name": "fa"}])
        played = playground.start(PLAYED, ws)
        for comparison in (digits, moons, played):
            comparison.wait(timeout=60)
        yield ws


@pytest.fixture()
def downloads(monkeypatch):
    """What each download button would hand the browser: {url or deferred id: bytes or callable}."""
    files: dict = {}
    add, add_deferred = MediaFileManager.add, MediaFileManager.add_deferred

    def recording_add(self, data, mimetype, coordinates, file_name=None, is_for_static_download=False):
        url = add(self, data, mimetype, coordinates, file_name, is_for_static_download)
        files[url] = data
        return url

    def recording_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        file_id = add_deferred(self, data_callable, mimetype, coordinates, file_name, **kw)
        files[file_id] = data_callable
        return file_id

    monkeypatch.setattr(MediaFileManager, "add", recording_add)
    monkeypatch.setattr(MediaFileManager, "add_deferred", recording_deferred)
    return files


def _download(at, files, key) -> tuple[str, bytes]:
    download = next(b for b in at.get("download_button") if b.key == key)
    proto = download.proto
    data = files[proto.deferred_file_id] if proto.HasField("deferred_file_id") else files[proto.url]
    data = data() if callable(data) else data
    return download.label, data.encode() if isinstance(data, str) else bytes(data)


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/runs.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _table(at) -> pd.DataFrame:
    return at.dataframe[0].value


def _select(at, ids) -> AppTest:
    """Tick the table rows of ``ids`` (as a click on their checkboxes would) and rerun."""
    table = _table(at)
    rows = [int(table.index[table["id"] == i][0]) for i in ids]
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _by_rule(store: Store, name: str):
    return next(i for i in store.list_runs() if i.config["algorithm"]["name"] == name)


def test_the_table_lists_every_stored_run_and_the_filters_narrow_it(workspace):
    store = workspace.store
    at = _page()
    table = _table(at)
    assert table["id"].tolist() == [i.id for i in store.list_runs()]    # newest first, all of them
    fa = _by_rule(store, "fa")
    row = table[table["id"] == fa.id].iloc[0]
    assert (row["rule"], row["data"], row["status"]) == ("FA", "moons", "done")
    assert row["test_acc"] == f"{100 * store.metrics(fa.id)[-1]['test_acc']:.1f}%"
    cells = table.astype(str).values.ravel().tolist()
    assert "None" not in cells and "nan" not in cells                  # missing values read as a dash
    assert not [c for c in cells if re.fullmatch(r"-?\d*\.\d{5,}(e-?\d+)?", c)]   # no long decimals
    assert f"{len(table)} of {len(table)} runs shown" in text(at)

    at.multiselect(key="runs_data").set_value(["moons"]).run()
    assert _table(at)["id"].tolist() == [fa.id]
    assert "the filters hide" in text(at)
    at.multiselect(key="runs_data").set_value([]).run()
    at.multiselect(key="runs_rule").set_value(["bp", "dfa"]).run()
    assert set(_table(at)["rule"]) == {"BP", "DFA"}
    at.text_input(key="runs_q").set_value("dfa TANH").run()    # every word, any case
    assert _table(at)["id"].tolist() == [_by_rule(store, "dfa").id]
    at.multiselect(key="runs_status").set_value(["failed"]).run()
    assert _table(at).empty

    link = AppTest.from_file(APP, default_timeout=60)   # the filters travel in a link
    link.query_params["runs_data"] = "moons"
    link.switch_page("pages/runs.py")
    link.run()
    assert _table(link)["id"].tolist() == [fa.id]


def test_a_large_store_is_listed_up_to_a_limit_that_says_so(tmp_path, monkeypatch):
    path = tmp_path / "many.sqlite"
    monkeypatch.setenv("EXPLORER_STORE", str(path))    # the page opens the store this names
    store = runs.workspace(path).store
    for seed in range(105):
        store.finish_run(store.create_run(_config(seed=seed)), "cancelled")
    at = _page()
    assert len(_table(at)) == 100
    assert _table(at)["id"].tolist() == [i.id for i in store.list_runs(limit=100)]   # the newest
    assert "only the newest 100" in text(at) and "holds more" in text(at)
    at.selectbox(key="runs_limit").set_value(500).run()
    assert len(_table(at)) == 105 and "holds more" not in text(at)
    at.text_input(key="runs_q").set_value('"seed 104"').run()
    assert _table(at)["id"].tolist() == [i.id for i in store.list_runs() if i.config["seed"] == 104]


def test_a_failed_run_reads_in_plain_words_with_pythons_text_one_click_away(tmp_path, monkeypatch):
    path = tmp_path / "failed.sqlite"
    monkeypatch.setenv("EXPLORER_STORE", str(path))
    store = runs.workspace(path).store
    raw = "explorer.data.errors.DatasetNotFound: MNIST is not in /nowhere/MNIST/raw"
    run = store.create_run(_config(data={"name": "mnist", "root": "/nowhere"}))
    store.finish_run(run, "failed", error=raw)
    at = _page()
    assert _table(at).loc[0, "notes"] == "MNIST is not in /nowhere/MNIST/raw"    # not the class path
    at.text_input(key="runs_q").set_value("DatasetNotFound").run()      # the raw text is still searched
    assert _table(at)["id"].tolist() == [run]
    _select(at, [run])
    assert "**BP failed**: MNIST is not in /nowhere/MNIST/raw" in text(at)
    assert [c.value for c in at.code] == [raw]                          # Python's own words, in a closed box
    assert [e.label for e in at.expander] == ["BP: the error as Python reported it"]


def test_selecting_two_runs_overlays_both_and_downloads_what_the_store_holds(workspace, downloads):
    store = workspace.store
    bp, fa = _by_rule(store, "bp"), _by_rule(store, "fa")
    at = _select(_page(), [bp.id, fa.id])
    assert [h.value for h in at.subheader] == ["2 run(s) selected"]
    shown = {spec.get("title"): tables[0] for spec, tables in charts(at)}
    loss, accuracy = shown["Loss"], shown["Accuracy"]
    # Runs from two comparisons: their labels say how they differ, and each keeps its rule's colour.
    assert set(loss["run"]) == {"BP digits seed 0", "FA moons seed 1"} == set(accuracy["run"])
    for label, info in (("BP digits seed 0", bp), ("FA moons seed 1", fa)):
        test = accuracy[(accuracy["run"] == label) & (accuracy["split"] == "test")
                        & (accuracy["measure"] == "accuracy")]   # the chart picks its measure itself
        assert test["value"].tolist() == pytest.approx([r["test_acc"] for r in store.metrics(info.id)])

    _, csv = _download(at, downloads, "runs_csv")
    table = pd.read_csv(io.BytesIO(csv))
    assert table["run"].unique().tolist() == [bp.id, fa.id]
    for info in (bp, fa):
        records = store.metrics(info.id)
        mine = table[table["run"] == info.id]
        assert mine["step"].tolist() == [r["step"] for r in records]
        assert mine["train_loss"].tolist() == pytest.approx([r["train_loss"] for r in records])

    for info, label in ((bp, "BP digits seed 0"), (fa, "FA moons seed 1")):   # one file per run
        shown_label, config = _download(at, downloads, f"runs_config_{info.id}")
        assert shown_label == label and json.loads(config) == info.config

    for key, magic in (("runs_loss_png", b"\x89PNG\r\n\x1a\n"), ("runs_accuracy_svg", b"<svg")):
        assert _download(at, downloads, key)[1].startswith(magic)


def test_png_downloads_are_twice_the_chart_on_white(workspace, downloads):
    from PIL import Image

    at = _select(_page(), [_by_rule(workspace.store, "bp").id])
    for name in ("loss", "accuracy"):
        svg = _download(at, downloads, f"runs_{name}_svg")[1].decode()
        width, height = (float(re.search(rf'<svg[^>]* {a}="([\d.]+)"', svg)[1]) for a in ("width", "height"))
        png = Image.open(io.BytesIO(_download(at, downloads, f"runs_{name}_png")[1])).convert("RGBA")
        assert png.size == (round(2 * width), round(2 * height))             # 2x the chart's size
        w, h = png.size
        for corner in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)):
            assert png.getpixel(corner) == (255, 255, 255, 255)               # opaque white, not transparent


def _loss_scale(at) -> str:
    spec = next(spec for spec, _ in charts(at) if spec.get("title") == "Loss")
    return "log" if '"type": "log"' in json.dumps(spec) else "linear"


def test_the_loss_axis_control_sets_the_loss_charts_scale_and_goes_back(workspace):
    at = _select(_page(), [_by_rule(workspace.store, "bp").id])
    assert not at.checkbox, "the old log-scale checkbox is gone"
    axis = at.radio(key="runs_loss_axis")
    assert axis.value == "auto" and _loss_scale(at) == "linear"    # these losses span less than a decade
    for choice, scale in (("log", "log"), ("linear", "linear"), ("auto", "linear")):
        at.radio(key="runs_loss_axis").set_value(choice).run()
        assert not at.exception, [e.value for e in at.exception]
        assert _loss_scale(at) == scale, choice


def test_a_training_run_is_drawn_live_and_light_and_whole_once_it_ends(tmp_path, monkeypatch):
    """While a ticked run trains, the Runs page redraws its curves twice a second: plain SVG of at
    most `LIVE_POINTS` per curve, whatever the run has logged (a Vega chart of every record grew
    slower than the redraw interval and kept the page busy for good). Once it ends: Vega charts
    of the whole run, with their downloads."""
    from pages.common import LIVE_POINTS

    path = tmp_path / "live.sqlite"
    monkeypatch.setenv("EXPLORER_STORE", str(path))
    ws = runs.workspace(path)
    comparison = ws.compare(_config(train={"epochs": 300, "batch_size": 64}), [{"name": "dfa"}])
    store, [run] = ws.store, comparison.ids
    try:
        deadline = time.monotonic() + 60
        while len(store.metric_rows(run)) < LIVE_POINTS + 20:
            assert time.monotonic() < deadline, "the run logged too few records in a minute"
            time.sleep(0.1)
        comparison.pause()
        at = _select(_page(), [run])
        at.radio(key="runs_x").set_value("step").run()
        assert store.get_run(run).status == "paused" and not charts(at)         # no Vega chart while it goes
        assert not [b for b in at.get("download_button") if b.key.startswith("runs_loss")]
        [panel] = [m.value for m in at.markdown if "explorer-live" in m.value]   # one element, both charts
        assert re.findall(r'<svg class="explorer-live" data-title="([^"]+)"', panel) == ["Loss", "Accuracy"]
        loss = re.search(r'<svg class="explorer-live" data-title="Loss".*?</svg>', panel).group(0)
        assert ">step<" in loss                                                  # the x axis chosen
        paths = re.findall(r'<path class="curve" data-run="DFA" data-split="([^"]+)" d="([^"]+)"', loss)
        assert sorted(split for split, _ in paths) == ["test", "train"]
        assert max(len(re.findall(r"[\d.]+,[\d.]+", d)) for _, d in paths) <= LIVE_POINTS + 1
    finally:
        comparison.stop()
        comparison.wait(timeout=60)
    at.run()
    logged = len(store.metrics(run))
    [(spec, (table,))] = [(s, t) for s, t in charts(at) if s.get("title") == "Loss"]
    assert table[table["measure"] == "loss"].groupby("split").size().min() >= min(logged, 250) > LIVE_POINTS + 1
    assert spec["encoding"]["x"]["field"] == "step"                           # the x axis kept
    assert not any("explorer-live" in m.value for m in at.markdown)
    assert {b.key for b in at.get("download_button")} >= {"runs_loss_png", "runs_loss_svg", "runs_accuracy_png"}


def test_one_run_opens_on_train_with_its_comparison_and_setup(workspace, downloads):
    store = workspace.store
    dfa = _by_rule(store, "dfa")
    at = _select(_page(), [dfa.id])
    label, config = _download(at, downloads, "runs_config")
    assert label == "Config (JSON)" and json.loads(config) == dfa.config
    button(at, "Open on the Train page").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Train"
    assert at.query_params["group"] == dfa.group
    assert at.selectbox(key="rule1").value == "bp" and at.selectbox(key="rule2").value == "dfa"
    assert at.text_input(key="hidden").value == "16" and at.selectbox(key="act").value == "tanh"
    assert "BP**: finished" in text(at) and "DFA**: finished" in text(at)


def test_a_playground_comparison_opens_on_the_playground_with_its_setup(workspace):
    ifa = _by_rule(workspace.store, "ifa")
    at = _select(_page(), [ifa.id])
    assert not [b for b in at.button if b.label == "Open on the Train page"]   # whose controls cannot hold it
    button(at, "Open on the Playground page").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Playground" and at.query_params["play"] == ifa.group
    assert at.selectbox(key="pg_data").value == "circles" and at.slider(key="pg_noise_circles").value == 0.1
    assert at.multiselect(key="pg_rules").value == ["ifa", "bdfa"] and at.selectbox(key="pg_act").value == "relu"
    assert at.text_input(key="pg_hidden").value == "8"
    assert (at.number_input(key="pg_samples").value, at.number_input(key="pg_epochs").value) == (100, 2)
    assert (at.number_input(key="pg_lr").value, at.number_input(key="pg_seed").value) == (0.05, 4)


def test_the_train_page_says_when_the_runs_shown_are_not_its_controls_setup(workspace):
    ifa = _by_rule(workspace.store, "ifa")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["group"] = ifa.group
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    [note] = [i.value for i in at.info if "cannot hold" in i.value]
    assert "the setup below is not theirs" in note and "samples=100 has no control" in note
    [link] = [e for e in _elements(at._tree, "page_link") if e.proto.page == "playground"]
    assert "play=" + ifa.group in link.proto.query_string and "pg_data=circles" in link.proto.query_string
    # a comparison whose setup the controls do hold: no such note
    at.query_params["group"] = _by_rule(workspace.store, "dfa").group
    at.run()
    assert not [i for i in at.info if "cannot hold" in i.value]


def test_a_parity_experiments_runs_open_on_the_parity_page(tmp_path):
    setup = ParitySetup(k=1, base="digits", rules=("bp", "rf:relu"), seeds=1, epochs=1, hidden=8,
                        train_samples=64, test_samples=32)
    with Store(tmp_path / "runs.sqlite") as store:
        group = store.create_group(seed=0)
        for cfg in setup.configs():
            store.create_run(cfg.to_dict(), group=group)
        page, query = common.opening(list(reversed(store.list_runs(group=group))))
    assert page == "pages/parity.py" and query["parity"] == group
    assert query == common.parity_query(setup) | {"parity": group}


def test_delete_asks_first_then_removes_the_run_and_its_group(workspace):
    store = workspace.store
    extra = workspace.compare(_config(seed=5), [{"name": "usf"}])
    extra.wait(timeout=60)
    run, group = extra.ids[0], extra.group
    at = _select(_page(), [run])
    button(at, "Delete…").click().run()
    assert "cannot be undone" in text(at)
    assert store.get_run(run).status == "done"               # nothing deleted yet
    button(at, "Cancel").click().run()
    assert "cannot be undone" not in text(at) and store.get_run(run)

    button(at, "Delete…").click().run()
    button(at, "Yes, delete 1 run(s)").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Deleted 1 run(s)." in text(at)
    assert run not in [i.id for i in store.list_runs()]
    assert run not in _table(at)["id"].tolist()
    assert store.metrics(run) == []
    with pytest.raises(Exception):
        store.get_group(group)                                # its group went with its last run


def test_deleting_a_run_that_is_training_is_refused(workspace, held_while_building):
    store = workspace.store
    going = workspace.compare(_config(train={"epochs": 500, "batch_size": 64}, seed=7), [{"name": "bp"}])
    try:
        run = going.ids[0]
        at = _page()
        run_until(at, lambda a: store.get_run(run).status == "running", timeout=30)
        at = _select(at, [run])
        button(at, "Delete…").click().run()
        assert "still training" in text(at) and "stop it" in text(at)
        assert "Yes, delete" not in [b.label for b in at.button]   # no way past the refusal
        assert store.get_run(run).status == "running"
    finally:
        held_while_building.set()
        going.stop()
        going.wait(timeout=30)


def test_the_header_has_no_deploy_button():
    """A classroom app is not deployed from the projector: the toolbar hides developer options."""
    import tomllib
    from pathlib import Path

    from streamlit import config

    settings = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    mode = settings.get("client", {}).get("toolbarMode")
    assert mode in ("viewer", "minimal"), f"client.toolbarMode is {mode!r}: Streamlit shows Deploy"
    assert "client.toolbarMode" in config._config_options_template     # the option Streamlit reads
