"""explorer.views.maps: the maps the Representations page draws, and the probe inputs stored with a run."""

from __future__ import annotations

import threading
import time

import numpy as np
import importlib

import pytest
import torch

from explorer.views import maps
from explorer.engine.build import build
from explorer.config import ConfigError

embed_module = importlib.import_module("explorer.views.embed")  # the module (explorer.views.embed is also a function)
from explorer.views.embed import clustered, embed
from explorer.engine.representations import Probe, Snapshot
from explorer.runs.workspace import Workspace
from explorer.runs.store import Store


def _wait(job, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not job.done:
        assert time.monotonic() < deadline, f"{job!r} not done in {timeout} s"
        time.sleep(0.05)
    return job


@pytest.fixture()
def store(tmp_path):
    with Store(tmp_path / "runs.sqlite") as s:
        yield s


def _fake_run(store, n=40, checkpoints=3, seed=0):
    """A stored run with clustered 'hidden representations' that drift from one checkpoint to the next."""
    run = store.create_run({})
    x, labels = clustered(n, 6, clusters=4, seed=seed)
    store.set_probe(run, {"y": torch.tensor(labels)})
    rng = np.random.RandomState(seed)
    for e in range(checkpoints):
        x = x + rng.normal(0, 0.5, x.shape).astype(np.float32)
        store.add_snapshot(run, Snapshot(e, 10 * e, {"layers.0": torch.tensor(x)}))
    return run


def test_probe_inputs_are_stored_with_the_snapshots(tmp_path):
    """jobs.py stores the probe's inputs (x) beside its labels: the samples a brush picks can be shown."""
    cfg = {"model": {"hidden": [8]}, "train": {"epochs": 1, "snapshots": [0, 1], "snapshot_samples": 30},
           "device": "cpu"}
    with Workspace(tmp_path / "runs.sqlite") as ws:
        found = ws.compare(cfg, [{"name": "bp"}])
        found.wait(timeout=60)
        probe = ws.store.probe(found.ids[0])
    expected = Probe.of(build({**cfg, "algorithm": {"name": "bp"}}).data, 30)
    assert sorted(probe) == ["x", "y"]
    assert probe["x"].shape == (30, 1, 8, 8)
    assert torch.equal(probe["x"], expected.x) and torch.equal(probe["y"], expected.y)


def test_colours_name_the_class_or_the_parity_and_each_slot():
    slots = torch.tensor([[3, 4], [2, 2], [7, 0]])
    parity = maps.colours({"y": slots.sum(1) % 2, "slot_digits": slots})
    assert list(parity) == ["parity", "digit 1", "digit 2"]
    assert parity["parity"].tolist() == ["odd", "even", "odd"]
    assert parity["digit 2"].tolist() == ["4", "2", "0"]
    assert maps.colours({"y": torch.tensor([9, 1])})["class"].tolist() == ["9", "1"]
    target = maps.colours({"y": torch.linspace(0, 1, 10).unsqueeze(1)})["target"]
    assert target[0] == "q1" and target[-1] == "q5"
    with pytest.raises(ConfigError, match="no labels"):
        maps.colours({})


def test_a_fractional_position_lies_between_two_consecutive_maps():
    job = maps.MapJob(("r", "l", "pca"), epochs=[0, 2, 6], steps=[0, 20, 60])
    rng = np.random.RandomState(0)
    first, second, third = (rng.normal(size=(5, 2)).astype(np.float32) for _ in range(3))
    for m in (first, second, third):
        job.add(m)
    assert np.array_equal(job.at(1), second)
    assert np.allclose(job.at(0.25), 0.75 * first + 0.25 * second)
    assert np.allclose(job.at(1.5), (second + third) / 2)
    assert np.array_equal(job.at(7), third) and np.array_equal(job.at(-1), first)
    assert job.epoch_at(1.5) == 4.0


def test_inside_picks_exactly_the_points_in_the_brushed_rectangle():
    rng = np.random.RandomState(1)
    table = maps.points(rng.uniform(-1, 1, (200, 2)), {"class": np.array(["a", "b"] * 100)})
    picked = maps.inside(table, {"x": [0.5, -0.2], "y": [-0.4, 0.3]})
    mask = (table.x.between(-0.2, 0.5)) & (table.y.between(-0.4, 0.3))
    assert 0 < len(picked) < 200
    assert picked["index"].tolist() == table[mask]["index"].tolist()
    assert len(maps.inside(table, {"x": [0.0, 1.0]})) == int((table.x >= 0).sum())
    assert maps.inside(table, maps.brush_of({"selection": {"brush": {}}})).empty


def test_samples_are_shown_as_images_or_as_features():
    x = torch.randn(6, 1, 4, 3)
    images = maps.sample_images(x, [5, 0])
    assert [im.shape for im in images] == [(4, 3), (4, 3)]
    assert images[0].min() == 0 and images[0].max() == 255
    order = np.argsort(x[5, 0].flatten().numpy())
    assert (np.diff(images[0].flatten()[order].astype(int)) >= 0).all()   # brighter where the input is larger
    features = maps.sample_features(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), [1])
    assert features.values.tolist() == [[1, 3.0, 4.0]]


def test_tsne_one_checkpoint_at_a_time_is_embeds_tsne():
    x, _ = clustered(60, 5, clusters=3)
    mats = [x, 1.1 * x + 0.3, 0.9 * x]
    options = {"perplexity": 10, "n_iter": 30, "early_exaggeration_iter": 20}
    whole = embed(mats, "tsne", **options)
    steps = [scaled for scaled, _ in maps.tsne_steps(mats, **options)]
    assert all(np.array_equal(a, b) for a, b in zip(whole, steps))


def test_pca_is_ready_at_once_and_tsne_is_made_once_per_checkpoint(store):
    run = _fake_run(store)
    mapper = maps.Mapper(store, tsne={"n_iter": 40, "early_exaggeration_iter": 20})
    try:
        pca = mapper.request(run, "layers.0", "pca")
        assert pca.done and pca.epochs == [0, 1, 2] and pca.steps == [0, 10, 20]
        expected = embed(store.snapshots(run), "pca", layer="layers.0")
        assert all(np.allclose(a, b) for a, b in zip(pca.maps, expected))
        assert not np.allclose(pca.maps[0], pca.maps[2])

        tsne = _wait(mapper.request(run, "layers.0", "tsne"))
        assert tsne.error is None and tsne.ready == 3 and mapper.computed == 3
        assert mapper.request(run, "layers.0", "tsne") is tsne and mapper.computed == 3   # cached
        before = [m.copy() for m in tsne.maps]

        # The run stores one more checkpoint and ends: only that one is computed, from the last map.
        store.add_snapshot(run, Snapshot(3, 30, {"layers.0": store.snapshots(run)[-1].layers["layers.0"] * 1.5}))
        assert mapper.request(run, "layers.0", "tsne").total == 3   # not read again before REFRESH_S
        store.finish_run(run, "done")
        time.sleep(maps.REFRESH_S + 0.05)
        again = _wait(mapper.request(run, "layers.0", "tsne"))
        assert again is tsne and again.ready == 4 and mapper.computed == 4
        assert all(np.array_equal(a, b) for a, b in zip(before, again.maps))
        assert mapper.request(run, "layers.0", "pca").total == 4
    finally:
        mapper.close()


def test_a_training_run_is_read_again_only_when_it_has_taken_a_snapshot(store, monkeypatch):
    monkeypatch.setattr(maps, "REFRESH_S", 0.01)
    run = store.create_run({"train": {"epochs": 2, "snapshots": [0, 1, 2]}})
    store.start_run(run)
    store.update_progress(run, steps_done=0, total_steps=20)
    layer = {"layers.0": torch.randn(10, 3)}
    store.set_probe(run, {"y": torch.zeros(10, dtype=torch.long)})
    store.add_snapshot(run, Snapshot(0, 0, layer))
    mapper = maps.Mapper(store)
    try:
        first = mapper.source(run)
        assert len(first.snapshots) == 1
        store.update_progress(run, steps_done=5)
        time.sleep(0.02)
        assert mapper.source(run) is first           # no epoch ended: nothing new, nothing read
        store.add_snapshot(run, Snapshot(1, 10, layer))
        store.update_progress(run, steps_done=10)
        time.sleep(0.02)
        assert len(mapper.source(run).snapshots) == 2
        assert mapper.request(run, "layers.0", "pca").epochs == [0, 1]
    finally:
        mapper.close()


def test_errors_are_kept_and_named(store, monkeypatch):
    run = _fake_run(store)
    mapper = maps.Mapper(store, tsne={"n_iter": 20, "early_exaggeration_iter": 10})
    try:
        with pytest.raises(ConfigError, match="not a map this run offers"):
            mapper.request(run, "layers.9", "pca")
        with pytest.raises(ConfigError, match="method must be one of"):
            mapper.request(run, "layers.0", "umap")

        def broken(*args, **kwargs):
            raise RuntimeError("openTSNE ran out of memory")

        monkeypatch.setattr(embed_module, "_tsne_continue", broken)
        job = _wait(mapper.request(run, "layers.0", "tsne"))
        assert job.ready == 1 and job.error == "RuntimeError: openTSNE ran out of memory"

        bad = store.create_run({})
        store.set_probe(bad, {"y": torch.zeros(4, dtype=torch.long)})
        store.add_snapshot(bad, Snapshot(0, 0, {"layers.0": torch.full((4, 3), float("nan"))}))
        with pytest.raises(ConfigError, match="non-finite"):
            mapper.request(bad, "layers.0", "pca")
    finally:
        mapper.close()


def test_per_digit_views_of_a_parity_mlp_add_up_to_its_first_layer(tmp_path):
    cfg = {"data": {"name": "parity", "base": "digits", "k": 2}, "model": {"hidden": [12], "activation": "tanh"},
           "train": {"epochs": 1, "snapshots": [0, 1], "snapshot_samples": 50}, "device": "cpu"}
    with Workspace(tmp_path / "runs.sqlite") as ws:
        found = ws.compare(cfg, [{"name": "dfa"}])
        found.wait(timeout=60)
        run = found.ids[0]
        mapper = maps.Mapper(ws.store)
        source = mapper.source(run)
        assert maps.views(source) == ["layers.0", "layers.0 · digit 1 alone", "layers.0 · digit 2 alone"]
        assert list(maps.colours(source.probe)) == ["parity", "digit 1", "digit 2"]
        alone = [mapper.checkpoints(source, f"layers.0 · digit {j} alone") for j in (1, 2)]
        assert [[s.epoch for s in a] for a in alone] == [[1], [1]]   # where the weights were kept: the end
        bias = ws.store.checkpoint(run)["layers.0.bias"]
        total = alone[0][0].layers["layers.0 · digit 1 alone"] + alone[1][0].layers["layers.0 · digit 2 alone"]
        assert torch.allclose(torch.tanh(total + bias), source.snapshots[-1].layers["layers.0"], atol=1e-5)
        job = mapper.request(run, "layers.0 · digit 2 alone", "pca")
        assert job.total == 1 and job.at(0).shape == (50, 2)
        mapper.close()


def test_the_maps_of_two_runs_are_made_in_turn_checkpoint_by_checkpoint(store, monkeypatch):
    """Two runs' t-SNE asked for together: the second run's first map comes before the first run's
    last (it used to wait for all of the first run's), so both panels show progress from the start."""
    first, second = _fake_run(store, checkpoints=4), _fake_run(store, checkpoints=4, seed=1)
    asked = threading.Event()
    fresh = embed_module._tsne_fresh

    def held(*args, **kwargs):   # the first map waits until both runs have been asked for
        assert asked.wait(30), "the second run was never asked for"
        return fresh(*args, **kwargs)

    monkeypatch.setattr(embed_module, "_tsne_fresh", held)
    mapper = maps.Mapper(store, workers=1, tsne={"n_iter": 20, "early_exaggeration_iter": 10})
    try:
        jobs = [mapper.request(run, "layers.0", "tsne") for run in (first, second)]
        asked.set()
        for job in jobs:
            _wait(job)
        made = [(run, epoch) for run, _, _, epoch in mapper.made]
        assert sorted(made) == sorted((run, e) for run in (first, second) for e in range(4))
        assert made.index((second, 0)) < made.index((first, 3))
        assert made == [(run, e) for e in range(4) for run in (first, second)]   # in turn
    finally:
        mapper.close()


def test_tsne_options_are_checked_and_name_the_option(store):
    assert maps.tsne_options({"n_iter": 50, "perplexity": 10}) == {**maps.TSNE_OPTIONS, "n_iter": 50, "perplexity": 10.0}
    for given, field in (({"n_iter": 0}, "tsne.n_iter"), ({"perplexity": -1.0}, "tsne.perplexity"),
                         ({"perplexity": True}, "tsne.perplexity"), ({"seed": 1.5}, "tsne.seed"),
                         ({"iterations": 9}, "tsne.iterations")):
        with pytest.raises(ConfigError, match=field.replace(".", r"\.")) as err:
            maps.tsne_options(given)
        assert err.value.field == field
    with pytest.raises(ConfigError, match="tsne.n_iter"):
        maps.Mapper(store, workers=0, tsne={"n_iter": -5})   # checked before any work


def test_one_shared_mapper_per_store_and_t_sne_options(store):
    default, quick = maps.shared(store), maps.shared(store, {"n_iter": 40})
    assert maps.shared(store) is default and maps.shared(store, {"n_iter": 40}) is quick and quick is not default
    assert quick.tsne["n_iter"] == 40 and default.tsne == maps.TSNE_OPTIONS
    assert maps.shared(store, {"n_iter": maps.TSNE_OPTIONS["n_iter"]}) is default   # the defaults, spelt out


def _job(epochs, maps_ready, n=4, method="tsne"):
    job = maps.MapJob(("run", "layers.1", method), epochs, [10 * e for e in epochs])
    rng = np.random.RandomState(0)
    for _ in range(maps_ready):
        job.add(rng.normal(size=(n, 2)))
    return job


def test_run_map_draws_the_map_at_the_epoch_coloured_and_titled():
    job = _job([0, 2, 4], 2)
    probe = {"y": torch.tensor([3, 1, 3, 0])}
    drawn = maps.run_map(job, probe, label="DFA", colour="digit 1", epoch=1.0, size=300)   # no such colouring
    assert drawn.colour == "class" and drawn.table["class"].tolist() == ["3", "1", "3", "0"]
    assert np.allclose(drawn.table[["x", "y"]], (job.maps[0] + job.maps[1]) / 2)          # half way, as the slider
    spec = drawn.chart.to_dict()
    assert spec["title"]["text"] == "DFA · hidden layer 2 · t-SNE · epoch 1"
    assert spec["title"]["subtitle"] == "between the checkpoints at epochs 0 and 2"
    assert spec["encoding"]["color"]["field"] == "class" and spec["width"] == spec["height"] == 300
    late = maps.run_map(job, probe, label="DFA", colour="class", epoch=4.0).chart.to_dict()["title"]
    assert late["text"].endswith("epoch 2") and "not computed yet" in late["subtitle"]
    assert late["subtitleColor"] != spec["title"]["subtitleColor"]                      # said in another colour


def test_job_lines_say_how_the_maps_are_coming():
    assert maps.job_lines(_job([0, 1], 0), "BP") == [
        ("info", "t-SNE of BP: computing in the background (0 of 2 checkpoints)…")]
    assert maps.job_lines(_job([0, 1], 1), "BP")[0][0] == "note"
    assert maps.job_lines(_job([0, 1], 2), "BP") == []
    failed = _job([0, 1], 1)
    failed.error = "RuntimeError: out of memory"
    assert maps.job_lines(failed, "BP") == [("error", "t-SNE of BP failed: RuntimeError: out of memory")]
    assert maps.job_lines(_job([], 0, method="pca"), "BP")[0][1].startswith("This view needs the run's weights")


def test_the_brush_is_drawn_by_dragging_and_the_wheel_is_left_to_the_page():
    """Vega's interval selection zooms the brush on the mouse wheel unless told not to: a student
    scrolling past a brushed map resized the brush to the whole map and picked every sample."""
    t = maps.points(np.array([[0.0, 0.0], [4.0, 1.0]]), {"class": np.array(["0", "1"])})
    params = maps.map_chart(t, color="class", title="BP").to_dict()["params"]
    brush = next(p for p in params if p["name"] == "brush")
    assert brush["select"]["type"] == "interval" and brush["select"].get("zoom") is False
