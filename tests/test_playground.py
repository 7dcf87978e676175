"""The Playground's library: the decision-boundary grid against hand-built classifiers whose
boundaries are known, the weights stored every epoch and picked up as a run trains (checked
against the same run trained here), and the setup's checks."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from explorer.experiments import playground
from explorer.config import ConfigError
from explorer.experiments.playground import Boundary, LiveBoundaries, PlaygroundSetup, extent
from explorer.runs.workspace import Workspace
from explorer.engine.trainer import Trainer

LINEAR = {"data": {"name": "moons", "samples": 200}, "model": {"name": "mlp", "hidden": []},
          "algorithm": {"name": "bp"}, "device": "cpu"}


def _centres(grid):
    return (grid["x"] + grid["x2"]).to_numpy() / 2, (grid["y"] + grid["y2"]).to_numpy() / 2


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("a, b, c", [(1.0, 0.0, 0.0), (0.3, -2.0, 0.5), (-1.5, 1.5, -0.25)])
def test_the_grid_of_a_linear_softmax_classifier_is_its_half_planes(a, b, c):
    # Logits (a x + b y + c, -(a x + b y + c)): class 0 where a x + b y + c > 0, with probability
    # softmax = sigmoid(2 |a x + b y + c|).
    boundary = Boundary(LINEAR, resolution=30)
    grid = boundary.grid({"layers.0.weight": torch.tensor([[a, b], [-a, -b]]), "layers.0.bias": torch.tensor([c, -c])})
    x, y = _centres(grid)
    z = a * x + b * y + c
    decided = np.abs(z) > 1e-6
    assert decided.mean() > 0.95
    assert (grid["label"].to_numpy()[decided] == np.where(z > 0, 0, 1)[decided]).all()
    np.testing.assert_allclose(grid["confidence"].to_numpy(), _sigmoid(2 * np.abs(z)), rtol=1e-5)
    assert set(grid["label"]) == {0, 1}  # the line crosses the painted area


def test_the_grid_of_a_logistic_classifier_under_bce_is_the_sign_of_its_logit():
    boundary = Boundary({**LINEAR, "train": {"loss": "bce"}}, resolution=25)
    w, bias = torch.tensor([[0.7, -1.2]]), torch.tensor([0.3])
    grid = boundary.grid({"layers.0.weight": w, "layers.0.bias": bias})
    x, y = _centres(grid)
    z = 0.7 * x - 1.2 * y + 0.3
    assert (grid["label"].to_numpy() == (z > 0)).all()
    np.testing.assert_allclose(grid["confidence"].to_numpy(), _sigmoid(np.abs(z)), rtol=1e-5)


def test_the_grid_tiles_a_square_around_every_point_and_a_live_model_paints_as_its_state_dict():
    boundary = Boundary({**LINEAR, "model": {"name": "mlp", "hidden": [8]}}, resolution=20)
    grid, points = boundary.grid(), boundary.points()
    assert len(grid) == 400 and len(points) == 200 and set(points["split"]) == {"train", "test"}
    width, height = grid["x2"] - grid["x"], grid["y2"] - grid["y"]
    np.testing.assert_allclose(width, width.iloc[0]), np.testing.assert_allclose(height, width.iloc[0])
    x0, x1, y0, y1 = boundary.extent
    assert math.isclose(grid["x"].min(), x0) and math.isclose(grid["x2"].max(), x1)
    assert math.isclose(grid["y"].min(), y0) and math.isclose(grid["y2"].max(), y1)
    assert len(grid.drop_duplicates(["x", "y"])) == 400
    assert x0 < points["x"].min() and points["x"].max() < x1 and y0 < points["y"].min() and points["y"].max() < y1
    assert extent(torch.tensor([[0.0, 0.0], [4.0, 2.0]]), margin=0.0) == (0.0, 4.0, -1.0, 3.0)

    other = Boundary({**LINEAR, "model": {"name": "mlp", "hidden": [8]}, "seed": 5}, resolution=20)
    live = other.built.model  # a live model (another seed's weights)
    from_model = boundary.grid(live)
    assert not from_model["label"].equals(grid["label"]) or not from_model["confidence"].equals(grid["confidence"])
    assert from_model.equals(boundary.grid(live.state_dict()))


def test_a_run_stores_its_weights_every_epoch_and_the_live_boundary_paints_them_as_it_trains(tmp_path):
    setup = PlaygroundSetup(data="circles", samples=120, train_share=0.5, hidden="8", rules=("dfa",), lr=0.2,
                            batch_size=20, epochs=3, device="cpu")
    base, rules = setup.comparison()
    per_epoch = 60 // 20
    with Workspace(tmp_path / "runs.sqlite") as ws:   # the shared kind: no weights stored but at the end
        comparison = ws.compare(base, rules, paused=True, checkpoint_every=playground.CHECKPOINT_EVERY)
        live = LiveBoundaries(comparison, resolution=12)
        [initial] = live.refresh()
        assert initial.step is None and initial.title == "DFA · initial weights"
        local = Trainer({**base, "algorithm": rules[0]})  # the same run, trained here step by step
        assert initial.grid.equals(live.boundaries[0].grid(local.built.model))
        seen = [initial.grid]
        for epoch in (1, 2, 3):
            comparison.step(per_epoch)
            deadline = time.monotonic() + 30
            while per_epoch * epoch not in ws.store.checkpoint_steps(comparison.ids[0]):
                assert time.monotonic() < deadline
                time.sleep(0.02)
            [painted] = live.refresh()
            assert (painted.step, painted.epoch, painted.title) == (per_epoch * epoch, epoch, f"DFA · epoch {epoch}")
            assert live.refresh()[0].grid is painted.grid  # nothing new: nothing recomputed
            for _ in range(per_epoch):
                local.step()
            expected = Boundary({**base, "algorithm": rules[0]}, resolution=12).grid(local.built.model)
            assert np.allclose(painted.grid["confidence"], expected["confidence"], atol=1e-5)
            assert (painted.grid["label"] == expected["label"]).mean() > 0.99
            seen.append(painted.grid)
        comparison.wait(timeout=30)
        assert ws.store.checkpoint_steps(comparison.ids[0]) == [3, 6, 9]
    # The confidence moved every epoch: the picture follows the training.
    assert all(not a["confidence"].equals(b["confidence"]) for a, b in zip(seen, seen[1:]))
    spec = live.specs()[0]
    assert spec["description"] == "DFA · epoch 3" and [len(t) for t in spec["datasets"].values()] == [144, 60]


def test_the_setup_becomes_a_comparison_and_refuses_bad_fields_by_name():
    base, rules = PlaygroundSetup(data="spiral", classes=3, noise=0.2, train_share=0.7, hidden="12, 6",
                                  rules=("bp", "bdfa", "fp"), seed=4).comparison()
    assert base["data"] == {"name": "spiral", "samples": 500, "test_fraction": 0.3, "seed": 4, "noise": 0.2,
                            "classes": 3}
    assert base["model"]["hidden"] == [12, 6] and base["seed"] == 4
    # each rule's options at the registry's defaults (bdfa's and fp's used to be required, and set here)
    assert rules == [{"name": "bp"}, {"name": "bdfa", "block_size": 1}, {"name": "fp", "bp_depth": 0}]
    assert Boundary({**base, "algorithm": rules[1]}, resolution=4).points()["label"].nunique() == 3
    assert PlaygroundSetup(rules=("fp",), extra={"fp": {"bp_depth": 1}}).comparison()[1] == [{"name": "fp", "bp_depth": 1}]

    assert PlaygroundSetup().problems() == {}
    # A linear classifier suits BP and FA; DFA needs a hidden layer: the field is model.hidden, so the
    # problem is filed under the widths, in the page's words.
    assert PlaygroundSetup(hidden="").problems() == {
        "hidden": "hidden widths: rule 'dfa' needs at least 1 hidden layer"}
    # NTK's network has one hidden layer: the default two are refused beside the widths as well
    [(where, words)] = PlaygroundSetup(rules=("bp", "ntk")).problems().items()
    assert where == "hidden" and words.startswith("hidden widths: 'ntk' is defined for an MLP with 1 hidden layer")
    # a rule's own option is told with the rule's label, beside the rules
    assert PlaygroundSetup(rules=("bp", "fp"), extra={"fp": {"bp_depth": 5}}).problems() == {
        "rules": "rules (FP): top layers trained by BP must be at most the number of hidden layers (2), got 5"}
    assert set(PlaygroundSetup(lr=-1.0, batch_size=0, train_share=0.99).problems()) == {"lr", "batch_size",
                                                                                      "train_share"}
    assert PlaygroundSetup(lr=-1.0).problems()["lr"] == "learning rate must be greater than 0, got -1.0"
    with pytest.raises(ConfigError, match=r"^rules: at most 4") as caught:
        PlaygroundSetup(rules=("bp", "fa", "dfa", "ifa", "usf")).comparison()
    assert caught.value.field == "rules"
    with pytest.raises(ConfigError, match=r"^hidden widths: rule 'dfa' needs") as caught:
        PlaygroundSetup(hidden="").comparison()
    assert caught.value.field == "rules[2].model.hidden"      # the config's field, beside the page's words


def test_the_widths_are_read_by_the_one_width_parser():
    from explorer.views.urlstate import parse_widths

    for text in ("16,16", "16, 8", "3x8", "", "8 8"):
        assert PlaygroundSetup(hidden=text).widths() == parse_widths(text)
    for text, words in (("8,x", "must be whole numbers"), ("0,4", "every layer needs at least 1 unit"),
                        ("9x4", "at most 8 layers of at most 512 units")):
        with pytest.raises(ConfigError) as caught:
            PlaygroundSetup(hidden=text).widths()
        assert caught.value.field == "model.hidden" and words in str(caught.value)


def test_a_comparison_read_back_into_the_setup_is_the_setup_and_what_the_page_cannot_hold_is_refused():
    from explorer.config import RunConfig
    from explorer.runs.workspace import comparison_configs

    setup = PlaygroundSetup(data="gaussians", classes=4, noise=0.4, hidden="", rules=("bp", "fa"), epochs=3,
                            optimizer="adam", lr=0.01, seed=7, device="cpu")
    assert PlaygroundSetup.of(comparison_configs(*setup.comparison())) == setup   # "" hidden: a linear classifier
    for config, words in [({"model": {"name": "cifar_cnn"}, "data": {"name": "moons"}}, "not cifar_cnn on moons"),
                          ({"data": {"name": "digits"}}, "not mlp on digits"),
                          ({"data": {"name": "moons", "samples": 100}, "optimizer": {"name": "sgd", "lr": 0.1,
                                                                                      "momentum": 0.5}},
                           "settings the page has no control for")]:
        with pytest.raises(ConfigError, match=words):
            PlaygroundSetup.of([RunConfig.from_dict({**config, "algorithm": {"name": "bp"}})])
    # a rule's option away from its default: the page runs every rule at its defaults
    options = PlaygroundSetup(rules=("bdfa",), extra={"bdfa": {"block_size": 2}})
    with pytest.raises(ConfigError, match="no control for"):
        PlaygroundSetup.of(comparison_configs(*options.comparison()))
