"""Lazy baselines: random features keep the hidden layer frozen; ntk is backprop on the gated network."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from explorer import ConfigError, RunConfig, Trainer, compute_updates
from explorer.engine.build import build
from explorer.models import GatedMLP, MLP
from explorer.rules import Rule
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


def test_ntk_is_plain_backprop_on_the_gated_network():
    built = build(lazy_config({"name": "ntk"}))
    assert type(built.model) is GatedMLP and type(built.rule) is Rule
    assert type(build(lazy_config({"name": "bp"})).model) is MLP
    first = built.model.layers[0]
    assert torch.equal(first.weight0, first.weight.detach()) and torch.equal(first.bias0, first.bias.detach())
    assert not first.weight0.requires_grad and "layers.0.weight0" not in dict(built.model.named_parameters())


def gated_by_hand(x, W, b, W0, b0, V, c):
    """The gated network in plain torch: ``(x W.T + b) ⊙ 1[x W0.T + b0 > 0]``, then the output layer."""
    return ((x @ W.T + b) * ((x @ W0.T + b0) > 0).to(x.dtype)) @ V.T + c


def test_ntk_update_is_the_gradient_of_the_gated_network_computed_by_hand():
    built = build(lazy_config({"name": "ntk"}, hidden=(16,)))
    state = built.model.state_dict()
    g = torch.Generator().manual_seed(5)
    state["layers.0.weight"] = state["layers.0.weight"] + 0.3 * torch.randn(state["layers.0.weight"].shape, generator=g)
    state["layers.0.bias"] = state["layers.0.bias"] + 0.3 * torch.randn(state["layers.0.bias"].shape, generator=g)
    built.model.load_state_dict(state)  # the live weights move away from their frozen copy
    x, y = built.data.x_train[:32], built.data.y_train[:32]
    params = {k: state[k].double().requires_grad_(True) for k in
              ("layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias")}
    logits = gated_by_hand(x.flatten(1).double(), params["layers.0.weight"], params["layers.0.bias"],
                           state["layers.0.weight0"].double(), state["layers.0.bias0"].double(),
                           params["layers.1.weight"], params["layers.1.bias"])
    expected = dict(zip(params, torch.autograd.grad(F.cross_entropy(logits, y), list(params.values()))))
    got = compute_updates(built, x, y)
    assert set(got) == set(expected)
    for k in expected:
        torch.testing.assert_close(got[k].double(), expected[k], rtol=1e-4, atol=1e-7, msg=k)
    relu_logits = F.relu(x.flatten(1) @ state["layers.0.weight"].T + state["layers.0.bias"]) @ \
        state["layers.1.weight"].T + state["layers.1.bias"]
    assert not torch.allclose(built.model(x), relu_logits, atol=1e-3)  # the gate is not the live ReLU


def test_ntk_training_follows_the_gated_network_and_keeps_the_copy_frozen():
    trainer = Trainer(lazy_config({"name": "ntk"}))
    layer = trainer.built.model.layers[0]
    w0, b0 = layer.weight.detach().clone(), layer.bias.detach().clone()
    trainer.run()
    model = trainer.built.model
    assert torch.equal(layer.weight0, w0) and torch.equal(layer.bias0, b0)  # the copy stays frozen
    assert not torch.equal(layer.weight.detach(), w0)                       # the weights learn
    x = trainer.built.data.x_test.flatten(1)
    out = model.layers[1]
    expected = gated_by_hand(x, layer.weight.detach(), layer.bias.detach(), w0, b0,
                             out.weight.detach(), out.bias.detach())
    with torch.no_grad():
        torch.testing.assert_close(model(trainer.built.data.x_test), expected, rtol=1e-5, atol=1e-5)
        relu_net = F.relu(x @ layer.weight.T + layer.bias) @ out.weight.T + out.bias
    assert not torch.allclose(expected, relu_net, atol=1e-3)  # not simply a ReLU network


def test_a_stored_ntk_state_loads_into_a_fresh_gated_network():
    trained = Trainer(lazy_config({"name": "ntk"}))
    trained.run()
    fresh = build(lazy_config({"name": "ntk"}, seed=9))
    fresh.model.load_state_dict(trained.built.model.state_dict())
    x = fresh.data.x_test[:50]
    with torch.no_grad():
        torch.testing.assert_close(fresh.model(x), trained.built.model(x), rtol=0, atol=0)


@pytest.mark.parametrize("d,field", [
    (lazy_config({"name": "rf"}, hidden=(8, 8)), "model.hidden"),
    (lazy_config({"name": "ntk"}, hidden=(8, 8)), "model.hidden"),
    (lazy_config({"name": "ntk"}, activation="tanh"), "model.activation"),
    (lazy_config({"name": "rf", "variant": "linear"}, activation="relu"), "model.activation"),
    (lazy_config({"name": "rf", "variant": "cosine"}), "algorithm.variant"),
    (lazy_config({"name": "ntk", "feedback_init": {"name": "bogus"}}), "algorithm.feedback_init"),
])
def test_lazy_baselines_refuse_what_does_not_fit(d, field):
    with pytest.raises(ConfigError, match=field) as info:
        RunConfig.from_dict(d)
    assert info.value.field.startswith(field)


def test_the_gated_network_alone_refuses_more_than_one_hidden_layer():
    with pytest.raises(ConfigError, match="model.hidden"):
        GatedMLP((4,), (8, 8), 3)
