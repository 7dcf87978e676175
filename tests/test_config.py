"""RunConfig: the JSON contract round-trips, and every bad field is refused by name."""

from __future__ import annotations

import json

import pytest

from explorer import ConfigError, RunConfig

ISSUE_EXAMPLE = {
    "data": {"name": "digits"},
    "model": {"name": "mlp", "hidden": [64, 64], "activation": "tanh"},
    "algorithm": {"name": "dfa", "feedback_init": {"name": "uniform", "low": -0.1, "high": 0.1}},
    "init": {"name": "default"},
    "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0, "batch_manhattan": False},
    "train": {"epochs": 3, "batch_size": 64, "loss": "cross_entropy"},
    "seed": 0,
}


def test_issue_example_round_trips_exactly():
    d = RunConfig.from_dict(ISSUE_EXAMPLE).to_dict()
    assert d == ISSUE_EXAMPLE
    assert json.loads(json.dumps(d)) == d


@pytest.mark.parametrize("d", [
    {},
    {"algorithm": {"name": "bdfa", "block_size": 3, "train_hidden": False}},
    {"algorithm": {"name": "fp", "bp_depth": 1}, "model": {"name": "mlp", "hidden": [8, 8, 8]}},
    {"algorithm": {"name": "sdfa", "connections": 2, "feedback_init": {"name": "normal", "mean": 0.1, "std": 0.5}}},
    {"algorithm": {"name": "fa", "sign_refresh": "epoch", "feedback_init": {"name": "lillicrap"}}},
    {"algorithm": {"name": "fa", "feedback_init": {"name": "sign_concordant", "inner": {"name": "xavier", "gain": 2}}}},
    {"algorithm": {"name": "usf", "scale": 0.01}},
    {"init": {"name": "kaiming", "gain": 1.5}, "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.5, "nesterov": True}},
    {"optimizer": {"name": "adadelta", "lr": 1.0, "weight_decay": 1e-3, "batch_manhattan": True}},
    {"model": {"name": "tutorial_cnn", "pool": False}, "data": {"name": "mnist", "root": "/data", "train_samples": 100}},
    {"model": {"name": "resnet20"}, "train": {"loss": "mse", "log_every": 5}, "device": "cpu"},
    {"train": {"cuda_graph": "off"}, "device": "cuda"},
])
def test_from_dict_to_dict_is_a_fixed_point(d):
    cfg = RunConfig.from_dict(d)
    again = RunConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert again.to_dict() == cfg.to_dict()
    # Everything the user wrote is kept as written.
    for section, value in d.items():
        if isinstance(value, dict):
            for key, v in value.items():
                assert cfg.to_dict()[section][key] == v, (section, key)


def test_with_values_changes_only_the_named_fields_and_validates():
    cfg = RunConfig.from_dict(ISSUE_EXAMPLE)
    new = cfg.with_values({"optimizer.lr": 0.2, "algorithm.name": "bp", "algorithm.feedback_init": None})
    assert new.optimizer.lr == 0.2 and new.algorithm.name == "bp" and new.model == cfg.model
    with pytest.raises(ConfigError, match="optimizer.lr"):
        cfg.with_values({"optimizer.lr": 0})


BAD = [
    ({"data": {"name": "imagenet"}}, "data.name"),
    ({"data": {"name": "digits", "samples": 5}}, "data.samples"),
    ({"data": {"name": "random", "classes": 1}}, "data.classes"),
    ({"data": {"name": "digits", "test_fraction": 1.5}}, "data.test_fraction"),
    ({"model": {"name": "mlp", "hidden": [64, 0]}}, "model.hidden[1]"),
    ({"model": {"name": "mlp", "hidden": "64"}}, "model.hidden"),
    ({"model": {"name": "mlp", "activation": "gelu"}}, "model.activation"),
    ({"model": {"name": "vgg"}}, "model.name"),
    ({"model": {"name": "lenet5", "pool": True}}, "model.pool"),
    ({"algorithm": {"name": "rprop"}}, "algorithm.name"),
    ({"algorithm": {"name": "bdfa", "block_size": 0}}, "algorithm.block_size"),
    ({"algorithm": {"name": "fp", "bp_depth": 5}, "model": {"name": "mlp", "hidden": [8, 8]}}, "algorithm.bp_depth"),
    ({"algorithm": {"name": "sdfa", "connections": 0}}, "algorithm.connections"),
    ({"algorithm": {"name": "fa", "sign_refresh": "daily"}}, "algorithm.sign_refresh"),
    ({"algorithm": {"name": "usf", "scale": -1}}, "algorithm.scale"),
    ({"algorithm": {"name": "dfa", "train_hidden": "no"}}, "algorithm.train_hidden"),
    ({"algorithm": {"name": "dfa", "feedback_init": {"name": "uniform", "low": 0.1, "high": 0.1}}}, "algorithm.feedback_init.low"),
    ({"algorithm": {"name": "dfa", "feedback_init": {"name": "uniform", "low": 0.5, "high": -0.5}}}, "algorithm.feedback_init.low"),
    ({"algorithm": {"name": "dfa", "feedback_init": {"name": "uniform", "high": 1}}}, "algorithm.feedback_init.low"),
    ({"algorithm": {"name": "dfa", "feedback_init": {"name": "normal", "std": 0}}}, "algorithm.feedback_init.std"),
    ({"algorithm": {"name": "dfa", "feedback_init": {"name": "normal", "std": float("nan")}}}, "algorithm.feedback_init.std"),
    ({"algorithm": {"name": "dfa", "feedback_init": {"name": "uniform", "low": float("-inf"), "high": 1}}}, "algorithm.feedback_init.low"),
    ({"algorithm": {"name": "dfa", "feedback_init": {"name": "he"}}}, "algorithm.feedback_init.name"),
    ({"algorithm": {"name": "dfa", "feedback_init": {"name": "xavier", "std": 1}}}, "algorithm.feedback_init.std"),
    ({"algorithm": {"name": "dfa", "feedback_init": {"name": "sign_concordant"}}}, "algorithm.feedback_init.name"),
    # another rule's option, another optimiser's option: checked (then ignored when valid)
    ({"algorithm": {"name": "dfa", "block_size": 0}}, "algorithm.block_size"),
    ({"algorithm": {"name": "bp", "feedback_init": {"name": "he"}}}, "algorithm.feedback_init.name"),
    ({"algorithm": {"name": "usf", "feedback_init": {"name": "normal", "std": -1}}}, "algorithm.feedback_init.std"),
    ({"optimizer": {"name": "adam", "momentum": 1.5}}, "optimizer.momentum"),
    ({"optimizer": {"name": "adam", "nesterov": "yes"}}, "optimizer.nesterov"),
    ({"algorithm": {"name": "ifa"}, "model": {"name": "tutorial_cnn"}}, "algorithm.name"),
    ({"algorithm": {"name": "bdfa", "block_size": 2}, "model": {"name": "resnet20"}}, "algorithm.name"),
    ({"init": {"name": "sign_concordant"}}, "init.name"),
    ({"init": {"name": "fan_in", "gain": 0}}, "init.gain"),
    ({"init": {"name": "uniform", "low": "a", "high": 1}}, "init.low"),
    ({"optimizer": {"name": "lbfgs"}}, "optimizer.name"),
    ({"optimizer": {"name": "sgd", "lr": -0.1}}, "optimizer.lr"),
    ({"optimizer": {"name": "sgd", "lr": float("inf")}}, "optimizer.lr"),
    ({"optimizer": {"name": "sgd", "momentum": 1.0}}, "optimizer.momentum"),
    ({"optimizer": {"name": "sgd", "momentum": 0, "nesterov": True}}, "optimizer.nesterov"),
    ({"optimizer": {"name": "sgd", "weight_decay": -1}}, "optimizer.weight_decay"),
    ({"optimizer": {"batch_manhattan": 1}}, "optimizer.batch_manhattan"),
    ({"train": {"epochs": 0}}, "train.epochs"),
    ({"train": {"epochs": 2.5}}, "train.epochs"),
    ({"train": {"batch_size": -4}}, "train.batch_size"),
    ({"train": {"loss": "hinge"}}, "train.loss"),
    ({"train": {"loss": "bce"}, "data": {"name": "random", "classes": 3}}, "train.loss"),
    ({"train": {"lr": 0.1}}, "train.lr"),
    ({"train": {"cuda_graph": "on"}}, "train.cuda_graph"),
    ({"train": {"cuda_graph": False}}, "train.cuda_graph"),
    ({"seed": -1}, "seed"),
    ({"seed": "zero"}, "seed"),
    ({"device": "tpu"}, "device"),
    ({"colour": "red"}, "colour"),
    ({"model": [1, 2]}, "model"),
]


@pytest.mark.parametrize("d,field", BAD, ids=[f for _, f in BAD])
def test_bad_field_is_refused_by_name(d, field):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict(d)
    assert err.value.field == field
    assert field in str(err.value)


@pytest.mark.parametrize("algorithm,kept", [
    ({"name": "bdfa"}, {"block_size": 1}),                       # the rule's own option, at its default
    ({"name": "fp"}, {"bp_depth": 0}),
    ({"name": "sdfa"}, {"connections": 1}),
    ({"name": "rf"}, {"variant": "gaussian"}),
    ({"name": "dfa", "block_size": 2, "bp_depth": 1, "scale": 0.5}, {}),  # other rules' options: dropped
    ({"name": "bp", "feedback_init": {"name": "uniform", "low": -1, "high": 1}}, {}),  # no feedback matrices
    ({"name": "usf", "feedback_init": "xavier", "scale": 0.5}, {"scale": 0.5}),
    ({"name": "fa", "connections": 3, "feedback_init": "lillicrap"}, {"feedback_init": {"name": "lillicrap"}}),
])
def test_a_rule_keeps_its_own_options_filled_in_and_drops_the_others(algorithm, kept):
    cfg = RunConfig.from_dict({"algorithm": algorithm, "model": {"name": "mlp", "hidden": [8], "activation": "relu"}})
    assert cfg.to_dict()["algorithm"] == {"name": algorithm["name"], **kept}
    assert RunConfig.from_dict(cfg.to_dict()) == cfg


def test_an_optimiser_ignores_the_momentum_and_nesterov_it_does_not_take():
    base = RunConfig.from_dict({"optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.5, "nesterov": True}})
    adam = base.with_values({"optimizer.name": "adam"}).optimizer
    assert (adam.momentum, adam.nesterov) == (0.0, None)
    assert "nesterov" not in adam.to_dict() and adam.to_dict()["momentum"] == 0.0
    rmsprop = base.with_values({"optimizer.name": "rmsprop"}).optimizer
    assert (rmsprop.momentum, rmsprop.nesterov) == (0.5, None)  # rmsprop takes momentum, not nesterov
    sgd = base.optimizer
    assert (sgd.momentum, sgd.nesterov) == (0.5, True)


def test_bad_input_does_not_change_an_existing_config():
    cfg = RunConfig.from_dict(ISSUE_EXAMPLE)
    before = cfg.to_dict()
    with pytest.raises(ConfigError):
        cfg.with_values({"train.epochs": -1})
    assert cfg.to_dict() == before


@pytest.mark.parametrize("text, quoted", [
    ('{"train": {"epochs": true}}', "train.epochs must be a whole number, got true"),
    ('{"optimizer": {"lr": false}}', "optimizer.lr must be a number, got false"),
    ('{"model": {"hidden": null}}', "model.hidden must be a list of layer widths, got null"),
    ('{"train": {"epochs": "ten"}}', "train.epochs must be a whole number, got 'ten'"),
])
def test_a_refused_value_is_quoted_as_the_config_file_writes_it(text, quoted):
    """A JSON config's true, false and null come back in the message as written, not as Python's
    True, False and None."""
    with pytest.raises(ConfigError) as refused:
        RunConfig.from_dict(json.loads(text))
    assert str(refused.value) == quoted
