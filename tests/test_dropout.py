"""``model.dropout``: the masks against an independent count and a hand-computed DFA step, eval mode,
one mask per training step, stacked seeds, and the door."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from explorer import ConfigError, RunConfig, train
from explorer.engine.build import build
from explorer.engine.seeds import SeedsTrainer
from explorer.engine.trainer import Trainer
from explorer.models import MLP, Dropout, build_model, held_masks
from explorer.config import ModelConfig
from tests.conftest import small_config
from tests.test_seeds import assert_same_history


def test_half_the_units_drop_and_the_rest_double():
    net = MLP((20,), (400,), 3, "relu", dropout=0.5)
    net.drops[0].generators = [torch.Generator().manual_seed(0)]
    x = torch.randn(50, 20, generator=torch.Generator().manual_seed(1))
    seen = {}
    net.taps[0].handler = lambda tap, h: seen.setdefault("h", h)
    net.train()(x)
    dropped = seen["h"]
    full = torch.relu(x @ net.layers[0].weight.T + net.layers[0].bias).detach()  # computed here, not by the net
    live = full != 0
    zeroed = (dropped == 0) & live
    share = zeroed.sum().item() / live.sum().item()
    assert 0.47 < share < 0.53  # 10,000-odd live units: a share off by 3 points is 6 standard deviations
    kept = (dropped != 0)
    assert torch.allclose(dropped[kept], 2 * full[kept])


def test_eval_mode_is_deterministic_and_drops_nothing():
    net = MLP((6,), (16, 8), 3, "tanh", dropout=0.7)
    plain = MLP((6,), (16, 8), 3, "tanh")
    plain.load_state_dict(net.state_dict())  # dropout holds no state: the same keys
    x = torch.randn(4, 6)
    net.eval()
    assert torch.equal(net(x), net(x))
    assert torch.allclose(net(x), plain.eval()(x))
    net.train()
    assert not torch.allclose(net(x), plain(x))


def test_zero_dropout_is_the_identity_and_leaves_the_config_as_it_was():
    assert Dropout(0.0).train()(torch.ones(3)).tolist() == [1.0, 1.0, 1.0]
    assert "dropout" not in RunConfig.from_dict({}).to_dict()["model"]
    cfg = RunConfig.from_dict({"model": {"name": "mlp", "hidden": [8], "dropout": 0.25}})
    assert cfg.model.dropout == 0.25 and RunConfig.from_dict(cfg.to_dict()) == cfg


def test_a_dfa_step_with_dropout_is_the_hand_computed_one():
    p, lr = 0.5, 0.1
    cfg = small_config(data={"name": "random", "samples": 16, "features": 4, "classes": 3},
                       model={"name": "mlp", "hidden": [6], "activation": "tanh", "dropout": p},
                       algorithm={"name": "dfa"}, optimizer={"name": "sgd", "lr": lr, "momentum": 0.0},
                       train={"epochs": 1, "batch_size": 16})
    trainer = Trainer(cfg)
    model = trainer.built.model
    trainer.built.model.drops[0].generators = [torch.Generator().manual_seed(42)]
    twin = torch.Generator().manual_seed(42)
    w1, b1 = model.layers[0].weight.detach().clone(), model.layers[0].bias.detach().clone()
    w2, b2 = model.layers[1].weight.detach().clone(), model.layers[1].bias.detach().clone()
    feedback = model.layers[0].feedback.detach().clone()  # (classes, hidden)
    order = torch.randperm(16, generator=torch.Generator().manual_seed(trainer.generators[0].initial_seed()))
    x, y = trainer.built.data.x_train[order], trainer.built.data.y_train[order]
    trainer.step()  # the first step is a logging step: the backprop reference runs too, on the same mask

    mask = (torch.rand(16, 6, generator=twin) >= p).float() / (1 - p)
    a1 = x @ w1.T + b1
    h = torch.tanh(a1) * mask
    out = h @ w2.T + b2
    e = (torch.softmax(out, 1) - F.one_hot(y, 3).float()) / 16
    delta = (e @ feedback) * mask * (1 - torch.tanh(a1) ** 2)
    expected = {"layers.0.weight": w1 - lr * delta.T @ x, "layers.0.bias": b1 - lr * delta.sum(0),
                "layers.1.weight": w2 - lr * e.T @ h, "layers.1.bias": b2 - lr * e.sum(0)}
    for name, value in model.state_dict().items():
        if name in expected:
            assert torch.allclose(value, expected[name], atol=1e-6), name
    assert (mask == 0).any() and (mask != 0).any()


@pytest.mark.parametrize("rule", ["dfa", "fa", "ifa"])
def test_one_mask_per_step_whether_or_not_the_step_is_measured(rule):
    # a logging step runs the rule and backprop on the batch; an unheld mask would be drawn twice there
    base = small_config(model={"name": "mlp", "hidden": [16, 8], "activation": "tanh", "dropout": 0.3},
                        algorithm={"name": rule}, train={"epochs": 1, "batch_size": 64})
    often = Trainer(base | {"train": base["train"] | {"log_every": 1}})
    rarely = Trainer(base | {"train": base["train"] | {"log_every": 10**6}})
    for _ in range(4):
        often.step(), rarely.step()
    for (name, a), b in zip(often.built.model.state_dict().items(), rarely.built.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_masks_are_held_within_a_step_only():
    net = MLP((4,), (32,), 3, dropout=0.5)
    x = torch.ones(8, 4)
    with held_masks(net):
        assert torch.equal(net(x), net(x))
    assert not torch.equal(net(x), net(x))


def test_a_run_with_dropout_is_reproducible_and_differs_from_one_without():
    cfg = small_config(model={"name": "mlp", "hidden": [16], "activation": "relu", "dropout": 0.5},
                       algorithm={"name": "dfa"}, train={"epochs": 1, "batch_size": 128})
    a, b = train(cfg), train(cfg)
    assert a.final["test_loss"] == b.final["test_loss"]
    plain = train(cfg | {"model": cfg["model"] | {"dropout": 0.0}})
    assert plain.final["test_loss"] != a.final["test_loss"]


def test_stacked_seeds_with_dropout_match_their_own_runs():
    cfgs = [RunConfig.from_dict(small_config(model={"name": "mlp", "hidden": [16, 8], "activation": "tanh",
                                                    "dropout": 0.4}, algorithm={"name": "dfa"},
                                             train={"epochs": 1, "batch_size": 256, "log_every": 3}, seed=s))
            for s in (0, 1)]
    stacked = SeedsTrainer(cfgs).run_all()
    for cfg, result in zip(cfgs, stacked):
        assert_same_history(result.history, train(cfg).history)


def test_cnn_drops_after_its_fully_connected_hidden_layers():
    net = build_model(ModelConfig.from_dict({"name": "tutorial_cnn", "dropout": 0.5}), (1, 28, 28), 10)
    assert [d.p for d in net.drops] == [0.5, 0.5] and len(net.fcs) == 3
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(net.eval()(x), net(x)) and not torch.equal(net.train()(x), net(x))
    built = build(small_config(model={"name": "mlp", "hidden": [8], "dropout": 0.5}))
    assert built.model.drops[0].generators is not None  # seeded from the run's seed


@pytest.mark.parametrize("model,field", [
    ({"name": "mlp", "dropout": 1.0}, "model.dropout"), ({"name": "mlp", "dropout": -0.1}, "model.dropout"),
    ({"name": "mlp", "dropout": "half"}, "model.dropout"), ({"name": "resnet20", "dropout": 0.5}, "model.dropout"),
])
def test_bad_dropout_is_refused_naming_the_field(model, field):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({"model": model})
    assert err.value.field == field


def test_ntk_refuses_dropout():
    with pytest.raises(ConfigError, match="gated") as err:
        RunConfig.from_dict({"model": {"name": "mlp", "hidden": [16], "dropout": 0.5}, "algorithm": {"name": "ntk"}})
    assert err.value.field == "model.dropout"



def test_alignment_outside_the_trainer_gives_the_rule_and_backprop_one_mask():
    # fp with every hidden layer under backprop is backprop, measured by a second pass: their
    # cosine is 1 only if both passes drop the same units
    from explorer.engine.build import build
    from explorer.engine.metrics import alignment

    built = build({"model": {"hidden": [32], "dropout": 0.5}, "algorithm": {"name": "fp", "bp_depth": 1},
                   "device": "cpu"})
    built.model.train()
    rows = alignment(built, built.data.x_train[:64], built.data.y_train[:64])
    assert rows[0]["update_cos"] == pytest.approx(1.0, abs=1e-6)
