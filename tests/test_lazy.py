"""Lazy baselines: random features keep the hidden layer frozen; ntk gates with a frozen copy."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from explorer import ConfigError, RunConfig, Trainer
from explorer.engine.build import build
from tests.conftest import small_config


def lazy_config(algorithm, activation="relu", hidden=(64,), **kw):
    return small_config(model={"name": "mlp", "hidden": list(hidden), "activation": activation},
                        algorithm=algorithm, train={"epochs": 2, "batch_size": 64}, **kw)


@pytest.mark.parametrize("variant,activation", [("gaussian", "relu"), ("relu", "relu"), ("linear", "linear")])
def test_random_features_train_only_the_output_layer(variant, activation):
    trainer = Trainer(lazy_config({"name": "rf", "variant": variant}, activation))
    start = {k: v.clone() for k, v in trainer.built.model.state_dict().items()}
    result = trainer.run()
    end = trainer.built.model.state_dict()
    assert torch.equal(start["layers.0.weight"], end["layers.0.weight"])
    assert torch.equal(start["layers.0.bias"], end["layers.0.bias"])
    assert not torch.equal(start["layers.1.weight"], end["layers.1.weight"])
    assert result.final["test_acc"] > 0.5


def test_gaussian_random_features_are_drawn_with_variance_one_over_fan_in():
    built = build(lazy_config({"name": "rf", "variant": "gaussian"}, hidden=(2000,)))
    w = built.model.layers[0].weight.detach()
    assert w.mean().item() == pytest.approx(0.0, abs=0.01 / math.sqrt(64))
    assert w.std().item() == pytest.approx(1 / math.sqrt(64), rel=0.02)  # digits: 64 inputs


def test_ntk_gates_come_from_the_frozen_initial_copy():
    trainer = Trainer(lazy_config({"name": "ntk"}))
    layer = trainer.built.model.layers[0]
    w0, b0 = layer.weight.detach().clone(), layer.bias.detach().clone()
    trainer.run()
    model = trainer.built.model
    assert torch.equal(layer.weight0, w0) and torch.equal(layer.bias0, b0)  # the copy stays frozen
    assert not torch.equal(layer.weight.detach(), w0)                       # the weights learn
    x = trainer.built.data.x_test.flatten(1)
    W, b = layer.weight.detach(), layer.bias.detach()
    out = model.layers[1]
    gated = (x @ W.T + b) * ((x @ w0.T + b0) > 0)
    expected = gated @ out.weight.detach().T + out.bias.detach()
    with torch.no_grad():
        torch.testing.assert_close(model(trainer.built.data.x_test), expected, rtol=1e-5, atol=1e-5)
        relu_net = F.relu(x @ W.T + b) @ out.weight.detach().T + out.bias.detach()
    assert not torch.allclose(expected, relu_net, atol=1e-3)  # not simply a ReLU network


@pytest.mark.parametrize("d,field", [
    (lazy_config({"name": "rf"}, hidden=(8, 8)), "algorithm.name"),
    (lazy_config({"name": "ntk"}, activation="tanh"), "model.activation"),
    (lazy_config({"name": "rf", "variant": "linear"}, activation="relu"), "model.activation"),
    (lazy_config({"name": "rf", "variant": "cosine"}), "algorithm.variant"),
    (lazy_config({"name": "dfa", "variant": "relu"}), "algorithm.variant"),
    (lazy_config({"name": "ntk", "feedback_init": {"name": "default"}}), "algorithm.feedback_init"),
])
def test_lazy_baselines_refuse_what_does_not_fit(d, field):
    with pytest.raises(ConfigError, match=field):
        RunConfig.from_dict(d)
