"""Convolutional and residual networks under each rule that applies to them; deep MLPs; feedback
as model state."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from explorer import ConfigError, compute_updates
from explorer.engine.build import build
from explorer.data import Dataset
from tests.conftest import small_config


def images(channels=1, side=28, n=8, classes=10, seed=0) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, channels, side, side, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    return Dataset("images", x, y, x[:4], y[:4], classes)


def built_for(model: str, rule: str, data: Dataset, **algorithm):
    cfg = small_config(model={"name": model}, algorithm={"name": rule, **algorithm})
    return build(cfg, data=data)


def surrogate_fa_updates(built, x, y):
    """FA by an independent route: every layer after the first computes
    ``conv(x, B) + [conv(x.detach(), W) - conv(x.detach(), B)]`` — the value is the layer's own
    output, the input-gradient goes through B and the weight-gradient is δ.T h."""
    layers = built.structure.layers
    originals = {}
    for layer in layers[1:]:
        def forward(x, layer=layer):
            op = (lambda inp, w: F.linear(inp, w)) if isinstance(layer, torch.nn.Linear) else \
                (lambda inp, w: F.conv2d(inp, w, None, layer.stride, layer.padding))
            B = layer.feedback
            out = op(x, B) + (op(x.detach(), layer.weight) - op(x.detach(), B))
            if layer.bias is not None:
                out = out + layer.bias.view(1, -1, *([1] * (out.dim() - 2)))
            return out
        originals[layer] = layer.forward
        layer.forward = forward
    try:
        model = built.model
        model.zero_grad(set_to_none=True)
        loss = built.loss_fn(model(x), y)
        grads = dict(zip([n for n, _ in built.trainable()],
                         torch.autograd.grad(loss, [p for _, p in built.trainable()])))
    finally:
        for layer in originals:
            del layer.forward
    return grads


@pytest.mark.parametrize("model,shape", [("tutorial_cnn", (1, 28, 28)), ("lenet5", (1, 28, 28)),
                                         ("resnet20", (3, 16, 16))])
def test_fa_on_conv_nets_matches_an_independent_surrogate(model, shape):
    data = images(shape[0], shape[1])
    built = built_for(model, "fa", data, feedback_init={"name": "uniform", "low": -0.3, "high": 0.3})
    built.model.train()  # BatchNorm on batch statistics in both computations
    x, y = data.x_train, data.y_train
    expected = surrogate_fa_updates(built, x, y)
    got = compute_updates(built, x, y)
    assert set(got) == set(expected)
    for name in expected:
        scale = expected[name].abs().max().item()
        torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-5 * scale, msg=name)
    bp = compute_updates(built_for(model, "bp", data), x, y)
    hidden = [n for n in got if n.endswith("weight") and not n.startswith(built.structure.names[-1])]
    assert any(not torch.allclose(got[n], bp[n]) for n in hidden), "FA must differ from BP below the top"


def test_dfa_on_a_cnn_projects_the_error_onto_each_block_output():
    data = images()
    built = built_for("tutorial_cnn", "dfa", data)
    net, x, y = built.model, data.x_train, data.y_train
    # Independent DFA: run the blocks by hand with the graph cut between them.
    h, outs = x, []
    for conv, pool in zip(net.convs, net.pools):
        out = pool(net.act(conv(h)))
        outs.append(out)
        h = out.detach()
    h = h.flatten(1)
    for fc in net.fcs[:-1]:
        out = net.act(fc(h))
        outs.append(out)
        h = out.detach()
    logits = net.fcs[-1](h)
    e, = torch.autograd.grad(built.loss_fn(logits, y), logits, retain_graph=True)
    owners = list(net.convs) + list(net.fcs[:-1])
    for out, owner in zip(outs, owners):
        assert owner.feedback.shape == (10, out[0].numel())
        g = (e @ owner.feedback).view_as(out)
        gw, gb = torch.autograd.grad(out, [owner.weight, owner.bias], g, retain_graph=True)
        got = compute_updates(built, x, y)
        name = built.structure.names[built.structure.layers.index(owner)]
        torch.testing.assert_close(got[f"{name}.weight"], gw, rtol=1e-4, atol=1e-7)
        torch.testing.assert_close(got[f"{name}.bias"], gb, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("model,rule,algorithm", [
    ("mlp", "dfa", {}), ("mlp", "sdfa", {"connections": 2}), ("mlp", "bdfa", {"block_size": 1}),
    ("mlp", "fp", {"bp_depth": 1}), ("lenet5", "dfa", {}), ("resnet20", "dfa", {})])
def test_the_one_pass_direct_feedback_gives_the_updates_of_the_staged_one(model, rule, algorithm):
    # Two routes to the same signals: one autograd pass with the error injected at its source
    # (what trains), and one autograd call per stage with the sources read in between (ifa's way).
    data = images(channels=3, side=32) if model == "resnet20" else images()
    if model == "mlp":
        cfg = small_config(model={"name": "mlp", "hidden": [12, 10, 8, 6]}, algorithm={"name": rule, **algorithm})
        built = build(cfg, data=data)
    else:
        built = built_for(model, rule, data, **algorithm)
    one_pass = compute_updates(built, data.x_train, data.y_train)
    built.rule.staged = True
    staged = compute_updates(built, data.x_train, data.y_train)
    assert sorted(one_pass) == sorted(staged)
    for name in one_pass:
        torch.testing.assert_close(one_pass[name], staged[name], rtol=1e-5, atol=1e-8, msg=name)
    assert any(g.abs().sum() > 0 for n, g in one_pass.items() if n.startswith(built.hidden_names[0]))


@pytest.mark.parametrize("model,shape", [("tutorial_cnn", (1, 28, 28)), ("lenet5", (1, 28, 28)),
                                         ("cifar_cnn", (3, 32, 32)), ("resnet20", (3, 32, 32)),
                                         ("resnet18", (3, 32, 32))])
@pytest.mark.parametrize("rule", ["bp", "fa", "usf", "frsf", "brsf", "dfa", "sdfa", "ssdfa"])
def test_every_applicable_rule_gives_an_update_for_every_parameter(model, shape, rule):
    if model in ("cifar_cnn", "resnet18") and rule not in ("bp", "fa", "dfa"):
        pytest.skip("the large networks run the three representative rules only")
    data = images(shape[0], shape[1], n=4)
    options = {"connections": 3} if rule == "sdfa" else {}
    built = built_for(model, rule, data, **options)
    before = {k: v.clone() for k, v in built.model.state_dict().items()}
    grads = compute_updates(built, data.x_train, data.y_train)
    params = dict(built.model.named_parameters())
    assert set(grads) == set(params)
    for name, g in grads.items():
        assert g.shape == params[name].shape, name
        assert torch.isfinite(g).all(), name
    # Every learnable map receives a non-zero update (the stem and the first layer included).
    for name in built.structure.names:
        assert grads[f"{name}.weight"].abs().sum() > 0, name
    after = built.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "compute_updates changed the model"


@pytest.mark.parametrize("model", ["resnet56", "resnet34"])
def test_deep_resnets_build_and_run_dfa(model):
    data = images(3, 16, n=2)
    built = built_for(model, "dfa", data)
    assert built.model(data.x_train).shape == (2, 10)
    grads = compute_updates(built, data.x_train, data.y_train)
    assert grads[f"{built.structure.names[0]}.weight"].abs().sum() > 0


@pytest.mark.parametrize("model,side,fits", [("lenet5", 8, False), ("lenet5", 27, False), ("lenet5", 28, True),
                                            ("tutorial_cnn", 15, False), ("tutorial_cnn", 16, True)])
def test_a_network_too_big_for_the_images_is_refused_by_name(model, side, fits):
    data = images(1, side, n=4)
    if fits:
        assert build(small_config(model={"name": model}), data=data).model(data.x_train).shape == (4, 10)
    else:
        with pytest.raises(ConfigError, match=f"model.name.*{side}×{side}"):
            build(small_config(model={"name": model}), data=data)


def test_a_conv_net_on_flat_inputs_is_refused():
    with pytest.raises(ConfigError, match="model.name.*image"):
        build(small_config(model={"name": "tutorial_cnn"},
                           data={"name": "random", "samples": 10, "features": 5}))


def test_a_hundred_layer_mlp_trains_under_dfa_blocked_dfa_and_feedback_propagation():
    hidden = [16] * 100
    for algorithm in ({"name": "dfa"}, {"name": "fp", "bp_depth": 3}, {"name": "bdfa", "block_size": 25}):
        built = build(small_config(model={"name": "mlp", "hidden": hidden, "activation": "tanh"},
                                   algorithm=algorithm))
        assert len(built.structure.layers) == 101
        grads = compute_updates(built, built.data.x_train[:8], built.data.y_train[:8])
        assert grads["layers.0.weight"].abs().sum() > 0  # the signal reaches the first layer
    # Blocked DFA, blocks of 25 from the output side: the top block reads e (10 rows), the others
    # read the δ of a 16-wide layer.
    layers = built.model.layers
    assert [tuple(layers[i].feedback.shape) for i in (99, 75, 74, 0)] == [(10, 16), (10, 16), (16, 16), (16, 16)]


def test_usf_without_a_scale_and_zero_forward_weights_is_refused():
    with pytest.raises(ConfigError, match="algorithm.scale"):
        build(small_config(algorithm={"name": "usf"}, init={"name": "zeros"}))


@pytest.mark.parametrize("algorithm", [{"name": "fa"}, {"name": "dfa"}, {"name": "bdfa", "block_size": 1},
                                       {"name": "sdfa", "connections": 2}, {"name": "frsf"}])
def test_feedback_is_saved_and_restored_with_the_weights(algorithm):
    a = build(small_config(algorithm=algorithm, seed=1))
    b = build(small_config(algorithm=algorithm, seed=2))
    state = a.model.state_dict()
    feedback = [k for k in state if k.endswith(".feedback")]
    assert feedback, "the rule's feedback matrices belong to the state dict"
    assert any(not torch.equal(state[k], b.model.state_dict()[k]) for k in feedback)
    b.model.load_state_dict(state)
    x, y = a.data.x_train[:16], a.data.y_train[:16]
    ga, gb = compute_updates(a, x, y), compute_updates(b, x, y)
    for k in ga:
        torch.testing.assert_close(ga[k], gb[k], rtol=0, atol=0)
