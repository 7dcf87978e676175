"""The notebook widgets, headless: buttons clicked from Python, traits read back.

Each widget trains (or reads) tiny runs on the embedded digits in a workspace of its own, so the
file runs in well under a minute on two cores.
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import math
import re
import shutil
import threading
import time
from urllib.parse import urlparse

import altair as alt
import ipywidgets as widgets
import numpy as np
import pytest

from conftest import epochs_lasting, small_config
from explorer import RunConfig
from explorer.runs.workspace import Workspace
from explorer.widgets import AlignmentWidget, EmbeddingWidget, ParityWidget, TrainerWidget, follow
from explorer.views import maps
from explorer.views.embed import embed

SNAPSHOTS = {"epochs": 2, "batch_size": 64, "snapshots": [0, 1, 2], "snapshot_samples": 120}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    path = tmp_path_factory.mktemp("widgets") / "runs.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXPLORER_STORE", str(path))  # run ids given as text are looked up here, not in ~/.explorer
        with Workspace(path) as workspace:
            yield workspace


@pytest.fixture(scope="module")
def finished(ws):
    """A finished BP-and-DFA group with snapshots, as another session would have left it."""
    group = ws.compare(small_config(train=SNAPSHOTS), [{"name": "bp"}, {"name": "dfa"}])
    group.wait(timeout=120)
    assert group.statuses() == ["done", "done"]
    return group


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def chart_rows(view: alt.JupyterChart) -> int:
    """Rows of data the chart widget holds (what the browser draws)."""
    return sum(len(rows) for rows in view.spec.get("datasets", {}).values())


# -- TrainerWidget -------------------------------------------------------------------------------


def test_the_metric_traits_follow_each_step_from_the_live_thread_and_train_runs_on_to_the_end(ws):
    # Held, not raced: two single steps, each seen from the live thread before the next is taken,
    # then Train lets the runs go on to their end (about a second of training, alone).
    cfg = small_config(train={"epochs": 8, "batch_size": 32})
    epochs = epochs_lasting(cfg, 1.0)
    w = TrainerWidget(cfg | {"train": {"epochs": epochs, "batch_size": 32}}, rules=["bp", "dfa"], workspace=ws,
                      interval=0.05)
    seen = []  # (step, thread name) at every change of the step trait
    w.observe(lambda change: seen.append((change["new"], threading.current_thread().name)), "step")
    assert (w.status, w.step, w.records, w.latest) == ("ready", 0, 0, {})
    assert chart_rows(w.loss_chart) == 0

    for n in (1, 2):
        w.take_steps(1)
        wait_for(lambda: w.step == n and w.status == "paused")
        assert w.form.dataset.disabled  # the controls describe the runs: locked
    w.play.click()  # Train on held runs: they go on
    assert w.status in ("queued", "running", "paused")
    w.wait(timeout=120)

    total = w.runs.infos[0].total_steps
    assert w.status == "done" and w.progress == 1.0 and w.bar.value == 1.0
    assert w.step == total > 0 and w.epoch == epochs
    assert sorted(w.latest) == ["BP", "DFA"]
    assert all(0.0 <= v["test_acc"] <= 1.0 and math.isfinite(v["train_loss"]) for v in w.latest.values())
    assert w.records == sum(len(r) for r in w.runs.lists) > 4
    steps = [s for s, _ in seen]
    assert steps[:2] == [1, 2] and steps[-1] == total and steps == sorted(steps)   # it moved, live, in order
    assert {name for _, name in seen} == {"explorer-trainer"}        # set from the background thread
    assert chart_rows(w.loss_chart) > 0 and chart_rows(w.accuracy_chart) > 0
    assert "DFA" in w.table.value and not w.form.dataset.disabled
    assert not w._live.running
    cells = re.findall(r"<td>([^<]*)</td>", w.table.value)
    speed = cells[-1]                                              # samples/s: grouped digits, no e+04
    assert re.fullmatch(r"\d{1,3}(,\d{3})*", speed) and "e+" not in w.table.value and "None" not in cells
    assert "<th>samples/s</th>" in w.table.value and "%" in w.table.value   # accuracies as percentages


def test_stop_ends_the_runs_and_the_thread(ws):
    w = TrainerWidget(small_config(train={"epochs": 200, "batch_size": 16}), rules=["dfa"], workspace=ws,
                      interval=0.05)
    w.play.click()
    wait_for(lambda: w.step > 0)
    w.stop_button.click()
    w.wait(timeout=60)
    assert w.status == "cancelled"
    assert 0 < w.step < w.runs.infos[0].total_steps
    assert not w._live.running


def test_pause_holds_the_runs_and_step_advances_them(ws):
    w = TrainerWidget(small_config(train={"epochs": 50, "batch_size": 16, "log_every": 5}), rules=["bp"],
                      workspace=ws, interval=0.05)
    w.steps_per_click.value = 10
    w.step_button.click()                      # nothing going yet: starts paused, takes 10 steps
    wait_for(lambda: w.status == "paused" and w.runs.infos[0].steps_done == 10 and w.step == 10)
    time.sleep(0.3)
    assert w.runs.infos[0].steps_done == 10    # held
    w.step_button.click()
    wait_for(lambda: w.runs.infos[0].steps_done == 20 and w.step == 20)
    w.steps_per_click.value = 3                # between two logging steps (every 5): step is the run's, 23
    w.step_button.click()
    wait_for(lambda: w.runs.infos[0].steps_done == 23 and w.status == "paused")
    wait_for(lambda: w.step == 23)
    w.play.click()                             # resume
    wait_for(lambda: w.step > 23)
    w.pause_button.click()
    wait_for(lambda: w.status == "paused")
    w.stop()
    w.wait(timeout=60)
    assert w.status == "cancelled"


def test_a_diverged_run_is_explained_in_words_and_marked_on_the_curves(ws):
    # lr 10: BP's loss passes 1e6 × its start after a few logged steps (train.diverge), so it has a curve to end
    w = TrainerWidget(small_config(optimizer={"name": "sgd", "lr": 10, "momentum": 0.9},
                                   model={"name": "mlp", "hidden": [32], "activation": "relu"},
                                   train={"epochs": 5, "batch_size": 64, "log_every": 1}),
                      rules=["bp", "dfa"], workspace=ws, interval=0.05)
    w.play.click()
    w.wait(timeout=60)
    assert w.status == "diverged"
    step = w.runs.infos[0].diverged_at
    assert f"BP diverged at step {step}" in w.messages.value and "smaller learning rate" in w.messages.value
    marks = [layer for layer in w.loss_chart.spec["layer"] if layer["mark"]["type"] == "rule"]
    assert marks, "the diverged run's step is marked on the loss chart"
    assert w.runs.records["BP"] and all(r["step"] < step for r in w.runs.records["BP"])  # its curve ends before


@pytest.mark.parametrize("cfg, rules", [
    (small_config(), None),
    (small_config(algorithm={"name": "dfa", "feedback_init": {"name": "uniform", "low": -0.5, "high": 0.5}},
                  init={"name": "normal", "mean": 0.0, "std": 0.05}, seed=7), None),
    (small_config(algorithm={"name": "bdfa", "block_size": 2}, model={"name": "mlp", "hidden": [8] * 6},
                  optimizer={"name": "adam", "lr": 0.003, "batch_manhattan": True}), None),
    (small_config(data={"name": "random", "samples": 300, "features": 12, "classes": 3},
                  train={"epochs": 3, "batch_size": 16, "log_every": 4, "snapshots": [0, 3], "snapshot_samples": 50},
                  algorithm={"name": "usf", "scale": 0.5}, init={"name": "kaiming", "gain": 2.0}), None),
    (small_config(algorithm={"name": "fa", "sign_refresh": "epoch"}, optimizer={"name": "sgd", "lr": 0.1,
                  "momentum": 0.5, "nesterov": True}), ["fa", {"name": "fp", "bp_depth": 1}, "sdfa"]),
    # the advanced settings: schedules, the summed loss, augmentation, dropout, resizing
    (small_config(optimizer={"name": "sgd", "lr": 0.1, "schedule": {"name": "step", "step_size": 3, "gamma": 0.5}},
                  train={"epochs": 4, "batch_size": 32, "loss": "bce_multi", "reduction": "sum",
                         "augment": {"crop_padding": 2, "flip": True}}, model={"name": "mlp", "hidden": [16],
                                                                               "dropout": 0.25}), None),
    (small_config(optimizer={"name": "adam", "lr": 0.01,
                             "schedule": {"name": "multistep", "milestones": [2, 5], "gamma": 0.2}}), ["bp", "dfa"]),
    (small_config(data={"name": "mnist", "root": "/nowhere", "resize": [32, 32]}, model={"name": "lenet5"},
                  train={"epochs": 1, "augment": {"crop_padding": 0, "flip": True}}), None),
])
def test_config_round_trips(cfg, rules):
    config = RunConfig.from_dict(cfg)
    w = TrainerWidget(config, rules=rules)
    assert w.config == config
    if rules is not None:
        names = [r if isinstance(r, str) else r["name"] for r in rules]
        assert [c.algorithm.name for c in w.configs] == names
        assert all(c.with_values({"algorithm": None}) == config.with_values({"algorithm": None})
                   for c in w.configs)
    assert TrainerWidget(config.to_dict(), rules=rules).configs == w.configs  # a dict does as well


def test_trainer_widget_on_a_stored_finished_run(ws, finished):
    view = ws.open(finished.ids[1])
    w = TrainerWidget(run=view)
    assert w.config == view.info.run_config()
    assert w.status == "done" and list(w.latest) == ["DFA"]
    assert w.records == len(view.metrics()) and w.step == view.info.total_steps
    assert chart_rows(w.loss_chart) > 0 and not w._live.running
    both = TrainerWidget(run=finished)
    assert [c.algorithm.name for c in both.configs] == ["bp", "dfa"] and both.configs == finished.configs


def test_alignment_widget_on_a_stored_run_and_its_controls(ws, finished):
    w = AlignmentWidget(ws.open(finished.ids[1]))
    assert w.config == finished.configs[1] and w.status == "done" and not w._live.running
    degrees = w.angles["DFA"]
    assert sorted(degrees) == ["hidden layer 1", "hidden layer 2"] and all(0 <= d <= 180 for d in degrees.values())
    rows = chart_rows(w.alignment_chart)
    w.unit.value = "cos"
    assert all(-1 <= c <= 1 for c in w.angles["DFA"].values())
    assert math.isclose(w.angles["DFA"]["hidden layer 1"], math.cos(math.radians(degrees["hidden layer 1"])), abs_tol=1e-6)
    w.kind.value = "weight"
    assert w.angles["DFA"] and chart_rows(w.alignment_chart) == rows  # same rows, another kind
    assert chart_rows(w.norms_chart) > 0
    labelled = AlignmentWidget({"backprop": finished.ids[0], "direct FA": ws.open(finished.ids[1])})
    assert labelled.runs.labels == ["backprop", "direct FA"] and set(labelled.angles) == {"backprop", "direct FA"}


def test_embedding_widget_on_a_stored_run(ws, finished):
    w = EmbeddingWidget(finished)
    assert w.config == finished.configs[0] and w.status == "done"
    assert w.layer.options == (("hidden layer 1", "layers.0"), ("hidden layer 2", "layers.1"))  # words a person reads
    assert w.layer.value == "layers.1" and w.layer.label == "hidden layer 2"
    assert w.color.options == ("class",) and w.method.options == (("PCA", "pca"), ("t-SNE", "tsne"))
    assert [e for _, e in w.checkpoint.options] == [0, 1, 2] and w.epoch == 2
    assert w.points == 120 and len(w.charts) == 2
    pca = embed(ws.store.snapshots(finished.ids[0]), "pca", layer="layers.1")   # computed apart from the widget
    last = w.table(0)
    assert np.allclose(last.sort_values("index")[["x", "y"]], pca[2], atol=1e-5)
    w.checkpoint.value = 0
    first = w.table(0)
    assert w.epoch == 0 and np.allclose(first.sort_values("index")[["x", "y"]], pca[0], atol=1e-5)
    assert not first[["x", "y"]].equals(last[["x", "y"]])  # the map moved with training
    assert first["class"].tolist() == [str(int(v)) for v in ws.store.probe(finished.ids[0])["y"]]
    assert chart_rows(w.charts[0]) == 120
    # A brush drawn in the browser comes back as a selection: the samples inside it are listed.
    x0, x1 = sorted(first["x"])[10], sorted(first["x"])[-10]
    w.charts[0]._vl_selections = {"brush": {"value": {"x": [x0, x1], "y": [-1e9, 1e9]}, "store": []}}
    assert w.selected == first[first["x"].between(x0, x1)]["index"].tolist()
    assert 0 < len(w.selected) < 120 and f"<b>{len(w.selected)} samples</b> in the brushed area" in w.selection.value
    # ... and shown as images: each the probe's input, as the store holds it
    from PIL import Image

    probe = ws.store.probe(finished.ids[0])["x"]
    images = [c for c in w.samples.children if isinstance(c, widgets.Image)]
    assert len(images) == min(len(w.selected), 60)
    for image, index in zip(images[:5], w.selected):
        shown = np.asarray(Image.open(io.BytesIO(image.value))).astype(float)
        pixels = probe[index, 0].float().numpy()
        assert np.corrcoef(shown.ravel(), pixels.ravel())[0, 1] > 0.999   # same picture, rescaled to 0-255
    w.charts[0]._vl_selections = {}
    assert w.selected == [] and "Drag over a map" in w.selection.value


def test_embedding_widget_makes_its_maps_with_the_apps_mapper(ws, finished):
    """The t-SNE maps are the process's `maps.Mapper`'s: made there once per checkpoint, and found
    there by a second widget (and by the Representations page) without being made again."""
    w = EmbeddingWidget(finished, n_iter=40)
    mapper = w.mapper
    assert mapper is maps.shared(ws.store, {"n_iter": 40})
    w.method.value = "tsne"
    w.wait(timeout=240)   # the live thread ends once every map asked for is drawn
    assert not w.computing and not w.error and w.points == 120
    made = [m for m in mapper.made if m[0] in finished.ids and m[1] == "layers.1" and m[2] == "tsne"]
    assert sorted(made) == sorted((run, "layers.1", "tsne", e) for run in finished.ids for e in (0, 1, 2))
    for i, run in enumerate(finished.ids):
        job = mapper.request(run, "layers.1", "tsne")
        assert job.done and np.array_equal(w.table(i).sort_values("index")[["x", "y"]].to_numpy(), job.maps[-1])
    assert "t-SNE · epoch 2" in w.charts[0].chart.to_dict()["title"]["text"]
    before = mapper.computed
    again = EmbeddingWidget(finished, method="tsne", n_iter=40).wait(timeout=60)
    assert mapper.computed == before and np.array_equal(again.table(1), w.table(1))


def _page_chart(source, job, label, colour, epoch, size):
    """The map the Representations page draws, built with the calls pages/representations.py makes."""
    colouring = maps.colours(source.probe)
    colour = colour if colour in colouring else next(iter(colouring))
    coords, shown, line = maps.shown_at(job, epoch)
    table = maps.points(coords, colouring)
    title = f"{label} · {maps.view_label(job.key[1])} · {maps.METHODS[job.key[2]]} · epoch {maps.epoch_text(shown)}"
    return maps.map_chart(table, color=colour, title=title, subtitle=line, warn=abs(shown - epoch) > 1e-9, size=size)


def test_embedding_widget_colours_and_titles_its_maps_as_the_representations_page(ws, finished):
    w = EmbeddingWidget(finished)
    w.checkpoint.value = 1
    for i, (run, label) in enumerate(zip(finished.ids, finished.labels)):
        job = w.mapper.request(run, "layers.1", "pca")
        page = _page_chart(w.mapper.source(run), job, label, "class", 1, w.size).to_dict()
        drawn = w.charts[i].chart.to_dict()
        assert drawn["encoding"]["color"] == page["encoding"]["color"]   # same field, same scale
        assert drawn == page                                            # and everything else: one function draws both


def test_embedding_widget_draws_what_the_representations_page_draws(ws, finished):
    """The app's page itself (AppTest) on the same runs: the same points, colours and titles."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from apptest_tools import APP, charts

    st.cache_resource.clear()   # the page's workspace: on this module's store
    try:
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params["group"] = finished.group
        at.switch_page("pages/representations.py").run()
        assert not at.exception, [e.value for e in at.exception]
        page = charts(at)
        w = EmbeddingWidget(finished, size=page[0][0]["width"])
        assert len(page) == len(w.charts) == 2
        for (spec, tables), chart, i in zip(page, w.charts, range(2)):
            drawn = chart.chart.to_dict()
            assert spec["title"] == drawn["title"] and spec["title"]["text"].startswith(finished.labels[i])
            assert spec["encoding"] == drawn["encoding"]           # colour field and scale, axes' frames
            assert spec["mark"] == drawn["mark"] and spec["width"] == drawn["width"]
            assert tables[0].equals(w.table(i).astype(tables[0].dtypes.to_dict()))
    finally:
        st.cache_resource.clear()


@pytest.fixture(scope="module")
def parity_run(ws):
    group = ws.compare({"data": {"name": "parity", "base": "digits", "k": 2}, "model": {"hidden": [12]},
                        "train": {"epochs": 1, "snapshots": [0, 1], "snapshot_samples": 80}, "device": "cpu"},
                       [{"name": "bp"}])
    group.wait(timeout=120)
    return group


def test_embedding_widget_offers_the_pages_parity_colourings_and_per_digit_maps(ws, parity_run):
    w = EmbeddingWidget(parity_run, color="digit 2")
    assert w.color.options == ("parity", "digit 1", "digit 2") and w.color.value == "digit 2"
    assert [label for label, _ in w.layer.options] == ["hidden layer 1", "hidden layer 1 · digit 1 alone",
                                                      "hidden layer 1 · digit 2 alone"]
    probe = ws.store.probe(parity_run.ids[0])
    table = w.table(0).sort_values("index")
    assert table["digit 2"].tolist() == [str(int(d)) for d in probe["slot_digits"][:, 1]]
    assert table["parity"].tolist() == ["odd" if int(v) else "even" for v in probe["y"]]
    spec = w.charts[0].chart.to_dict()
    assert spec["encoding"]["color"]["field"] == "digit 2"
    w.layer.value = "layers.0 · digit 1 alone"   # kept at the end of training only: one checkpoint
    assert [e for _, e in w.checkpoint.options] == [1] and w.points == 80
    assert w.charts[0].chart.to_dict()["title"]["text"] == "BP · hidden layer 1 · digit 1 alone · PCA · epoch 1"
    with pytest.raises(ValueError, match="color must be one of the page's colourings"):
        EmbeddingWidget(parity_run, color="digit_1")


def test_embedding_widget_says_when_a_run_has_no_snapshots(ws):
    group = ws.compare(small_config(), [{"name": "bp"}])
    group.wait(timeout=60)
    w = EmbeddingWidget(group.ids[0])
    assert "No snapshots" in w.note.value and w.points == 0


def test_closing_a_widget_stops_its_thread(ws):
    trainer = TrainerWidget(small_config(train={"epochs": 200, "batch_size": 16}), rules=["dfa"], workspace=ws)
    trainer.play.click()
    wait_for(lambda: trainer.step > 0)
    watcher = AlignmentWidget(trainer, interval=0.05)
    assert watcher._live.running
    watcher.close()
    assert not watcher._live.running
    trainer.close()
    assert not trainer._live.running
    trainer.stop()                      # the run itself goes on until stopped
    trainer.comparison.wait(timeout=60)
    assert trainer.comparison.statuses() == ["cancelled"]


def test_follow_needs_runs():
    with pytest.raises(ValueError, match="no runs yet"):
        follow(TrainerWidget(small_config()))


def test_charts_render_offline_even_after_a_renderer_went_online(finished):
    alt.JupyterChart.enable_offline(False)  # what alt.renderers.enable("jupyter") does
    try:
        views = [*AlignmentWidget(finished).children, *TrainerWidget(run=finished).children]
        charts = [v for v in views if isinstance(v, alt.JupyterChart)]
        charts += [c for box in TrainerWidget(run=finished).children if hasattr(box, "children")
                   for c in box.children if isinstance(c, alt.JupyterChart)]
        assert len(charts) >= 3
        for chart in charts:
            assert "esm.sh" not in chart._esm and 'from "https://' not in chart._esm
            assert "vega-lite" in chart._esm.lower() and len(chart._esm) > 100_000  # the bundle itself
    finally:
        alt.JupyterChart.enable_offline()


PAGE = """<!doctype html><html><body><script type="module">
try {
  const esm = await (await fetch("/esm.js")).text();
  const widget = await import(URL.createObjectURL(new Blob([esm], {type: "text/javascript"})));
  const drawn = [];
  for (const state of await (await fetch("/states.json")).json()) {
    const el = document.createElement("div");
    document.body.appendChild(el);
    const model = {get: k => state[k], set: (k, v) => { state[k] = v; }, save_changes: () => {}, on: () => {}};
    await widget.default.render({model, el});   // what anywidget does with a JupyterChart in Jupyter
    drawn.push(el.querySelectorAll("svg path, svg line, svg circle").length);
  }
  window.drawn = drawn;
} catch (err) {
  window.failed = String(err);
}
</script></body></html>"""


def test_charts_draw_in_a_browser_with_the_network_cut_off(finished):
    """The chart widgets' JavaScript (the offline bundle) draws their specs in Chromium while every
    request that leaves the page is refused (and recorded)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium here (apt-get install chromium)")
    trainer, alignment = TrainerWidget(run=finished), AlignmentWidget(finished)
    views = [trainer.loss_chart, alignment.alignment_chart, alignment.norms_chart]
    assert len({v._esm for v in views}) == 1
    states = [{"spec": v.spec, "embed_options": v.embed_options, "debounce_wait": v.debounce_wait,
               "max_wait": v.max_wait, "_vl_selections": v._vl_selections, "_params": v._params,
               "local_tz": "UTC"} for v in views]
    files = {"/": ("text/html", PAGE), "/esm.js": ("text/javascript", views[0]._esm),
             "/states.json": ("application/json", json.dumps(states))}
    outside = []

    def serve(route):
        url = urlparse(route.request.url)
        if url.netloc == "widgets.test" and url.path in files:
            kind, body = files[url.path]
            route.fulfill(status=200, content_type=kind, body=body)
        else:
            outside.append(route.request.url)
            route.abort()

    def draw_in_chromium():
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.on("pageerror", lambda err: errors.append(str(err)))
                page.route("**/*", serve)
                page.goto("http://widgets.test/")
                page.wait_for_function("window.drawn !== undefined || window.failed !== undefined", timeout=30_000)
                return page.evaluate("[window.drawn, window.failed]")
            finally:
                browser.close()

    errors = []
    # Playwright's sync API refuses a thread with a running asyncio loop (which other tests in the
    # same process may leave behind), so it gets a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        drawn, failed = pool.submit(draw_in_chromium).result()
    assert failed is None and errors == [] and outside == []
    assert len(drawn) == 3 and all(n > 10 for n in drawn)  # every chart drew its marks


def test_the_parity_widget_starts_from_the_parity_pages_default():
    from explorer.experiments.parity import ParitySetup
    from explorer.widgets.parity import ParityWidget

    widget = ParityWidget()
    try:
        assert [c.to_dict() for c in widget.configs] == [c.to_dict() for c in ParitySetup().configs()]
    finally:
        widget.close()


def test_number_boxes_keep_what_is_typed_and_a_refused_value_is_named_and_starts_nothing(ws):
    # A bounded box clamped a typed 0 to 1 without a word; now the value stays and is refused.
    from explorer.widgets.parity import ParityWidget

    before = len(ws.store.list_runs())
    w = TrainerWidget(small_config(), rules=["bp"], workspace=ws)
    for typed in (0, 100_001):
        w.steps_per_click.value = typed
        w.step_button.click()
        assert w.steps_per_click.value == typed and w.comparison is None
        assert w.error == f"steps: a whole number from 1 to 100,000, got {typed}"
        assert "steps: a whole number" in w.form.errors["general"].value
    p = ParityWidget({"data": {"name": "parity", "base": "digits"}, "device": "cpu"}, workspace=ws)
    p.k.value = 0
    assert p.start() is None and p.k.value == 0
    assert "k: between 1 and 10 digits per sample, got 0" in p.errors["data"].value
    p.k.value, p.seeds.value = 3, 21
    assert p.start() is None and p.seeds.value == 21 and p.errors["data"].value == ""
    assert "seeds: at most 20 here, got 21" in p.errors["train"].value
    assert len(ws.store.list_runs()) == before


def test_the_buttons_say_what_they_do_without_an_emoji_font():
    # Emoji (⏸ ⏭ ⏹) showed as empty boxes on machines without an emoji font: words, and
    # FontAwesome icons, which Jupyter ships.
    w = TrainerWidget({"device": "cpu"})
    p = ParityWidget({"data": {"name": "parity", "base": "digits"}, "device": "cpu"})
    buttons = {b.description: b.icon for b in (w.play, w.pause_button, w.step_button, w.stop_button,
                                                 p.play, p.stop_button)}
    assert buttons == {"Train": "play", "Pause": "pause", "Step": "step-forward", "Stop": "stop", "Run": "play"}
    assert all(ord(ch) < 0x2000 for text in buttons for ch in text)


def test_the_loss_axis_toggle_sets_the_loss_charts_scale():
    w = TrainerWidget({"device": "cpu"})

    def scale() -> str:
        return "log" if '"type": "log"' in json.dumps(w.loss_chart.chart.to_dict()) else "linear"

    assert w.loss_axis.value is None and scale() == "linear"     # auto, with nothing to plot yet
    w.loss_axis.value = True
    assert scale() == "log"
    w.loss_axis.value = False
    assert scale() == "linear"


def test_one_blas_thread_holds_until_the_last_concurrent_tsne_ends():
    from threadpoolctl import threadpool_info

    from explorer.views.blas_threads import one_blas_thread

    def blas_threads() -> set[int]:
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}

    before = blas_threads()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with one_blas_thread():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second():
        first_in.wait(10)
        with one_blas_thread():
            second_in.set()
            first_out.wait(10)
            seen["after the first ended"] = blas_threads()   # threadpoolctl per thread would be back to several
    threads = [threading.Thread(target=f) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen["after the first ended"] == {1}
    assert blas_threads() == before                                # all restored once both ended


def test_the_widgets_colour_each_rule_as_the_app_does():
    from explorer.views import charts

    w = TrainerWidget({"device": "cpu"}, rules=["bp", "fa", "dfa"])
    labels = ["BP", "FA", "DFA"]
    for view in (w.loss_chart, w.accuracy_chart):
        scales = [enc["scale"] for enc in _encodings(view.chart.to_dict()) if enc.get("field") == "run"
                  and "scale" in enc]
        assert scales and all(s["domain"] == labels and s["range"] == charts.rule_colors(labels) for s in scales)


def _encodings(spec):
    """Every ``color`` encoding in a Vega-Lite spec, layers included."""
    if isinstance(spec, dict):
        if isinstance(spec.get("encoding"), dict) and "color" in spec["encoding"]:
            yield spec["encoding"]["color"]
        for value in spec.values():
            yield from _encodings(value)
    elif isinstance(spec, list):
        for value in spec:
            yield from _encodings(value)
