"""Driven by the registry: every rule on every network it fits builds, trains a step, survives JSON
and is named by its one label; and the registry is what validation reads."""

from __future__ import annotations

import json

import pytest
import torch

from explorer.config import ConfigError, RunConfig
from explorer.config.labels import rule_label
from explorer.config.registry import ALL_NETWORKS, OPTIONS, RULES, option_defaults
from explorer.data import Dataset
from explorer.engine.build import build
from explorer.engine.trainer import Trainer

# Small images each convolutional network takes (LeNet-5's two 5×5 convolutions need 28×28).
IMAGES = {"lenet5": (1, 28, 28), "tutorial_cnn": (1, 16, 16)}
SMALL_IMAGES = (1, 12, 12)
CLASSES = 3


def tiny_data(input_shape: tuple[int, ...]) -> Dataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, *input_shape, generator=g)
    y = torch.arange(12) % CLASSES
    return Dataset("tiny", x[:8], y[:8], x[8:], y[8:], num_classes=CLASSES)


def config(rule: str, network: str) -> RunConfig:
    model = ({"name": "mlp", "hidden": [6], "activation": "relu"} if network == "mlp"
             else {"name": network, "activation": "relu"})
    return RunConfig.from_dict({
        "data": {"name": "random", "samples": 8, "test_samples": 4, "features": 5, "classes": CLASSES},
        "model": model, "algorithm": {"name": rule},
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0},
        "train": {"epochs": 1, "batch_size": 4}, "seed": 0, "device": "cpu"})


PAIRS = [(rule, network) for rule, spec in RULES.items() for network in ALL_NETWORKS if spec.fits(network)]


def test_every_rule_fits_at_least_the_mlp_and_every_network_has_rules():
    assert all(spec.fits("mlp") for spec in RULES.values())
    assert {network for _, network in PAIRS} == set(ALL_NETWORKS)


@pytest.mark.parametrize("rule,network", PAIRS, ids=[f"{r}-{n}" for r, n in PAIRS])
def test_every_rule_on_every_network_it_fits_builds_trains_a_step_round_trips_and_is_labelled(rule, network):
    cfg = config(rule, network)
    assert RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    label = rule_label(cfg.to_dict()["algorithm"])
    assert RULES[rule].label in label

    shape = (5,) if network == "mlp" else IMAGES.get(network, SMALL_IMAGES)
    trainer = Trainer(cfg, built=build(cfg, "cpu", tiny_data(shape)))
    before = {name: p.detach().clone() for name, p in trainer.built.trainable()}
    trainer.step()
    assert trainer.steps_done == 1 and len(trainer.history) == 1  # the first step is logged
    assert torch.isfinite(torch.tensor(trainer.history[0]["train_loss"]))
    moved = [name for name, p in trainer.built.trainable() if not torch.equal(p.detach(), before[name])]
    assert moved, "one step changed no trainable parameter"


@pytest.mark.parametrize("rule", list(RULES))
def test_validation_fills_in_each_rule_s_options_from_the_registry(rule):
    options = dict(option_defaults(rule))
    hidden = [6] if RULES[rule].hidden_layers[1] == 1 else [6, 6]
    cfg = RunConfig.from_dict({"algorithm": {"name": rule}, "model": {"name": "mlp", "hidden": hidden,
                                                                      "activation": "relu"}})
    for name in OPTIONS:
        assert getattr(cfg.algorithm, name) == options.get(name), name


@pytest.mark.parametrize("network", [n for n in ALL_NETWORKS if n != "mlp"])
def test_a_rule_that_does_not_fit_a_network_is_refused_naming_the_rule(network):
    for rule, spec in RULES.items():
        if spec.fits(network):
            continue
        with pytest.raises(ConfigError) as err:
            RunConfig.from_dict({"algorithm": {"name": rule}, "model": {"name": network}})
        assert err.value.field == "algorithm.name"
