"""The Train page's advanced settings as link parameters (`explorer.views.urlstate`): the learning-rate
schedule, the loss over a batch, augmentation, resizing and dropout. Each builds the config typed
here by hand, goes through a link and back, leaves the link at its default, and a bad value is
refused by its parameter's name."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from explorer.config import ConfigError
from explorer.runs.workspace import comparison_configs
from explorer.views import urlstate
from test_front_end_library import test_a_refused_setup_is_placed_by_its_field_in_the_page_words as placed_by_its_field


def test_a_link_without_the_new_parameters_builds_the_config_it_always_built():
    base, rules = urlstate.configs({})
    assert rules == [{"name": "bp"}, {"name": "dfa"}]
    assert base == {"data": {"name": "digits"}, "model": {"name": "mlp", "activation": "relu", "hidden": [64, 64]},
                    "init": {"name": "default"},
                    "optimizer": {"name": "sgd", "lr": 0.05, "weight_decay": 0.0, "batch_manhattan": False,
                                  "momentum": 0.9},
                    "train": {"epochs": 500, "batch_size": 64, "loss": "cross_entropy",
                              "snapshots": list(range(0, 501, 50)), "snapshot_samples": 500},
                    "seed": 0}


SETTINGS = [
    ({"sched": "step", "sched_step": 5, "sched_gamma": 0.5}, "optimizer", "schedule",
     {"name": "step", "step_size": 5, "gamma": 0.5}),
    ({"sched": "step"}, "optimizer", "schedule", {"name": "step", "step_size": 100, "gamma": 0.1}),
    ({"sched": "multistep", "sched_miles": "30,60", "sched_gamma": 0.2}, "optimizer", "schedule",
     {"name": "multistep", "milestones": [30, 60], "gamma": 0.2}),
    ({"sched": "restarts", "sched_miles": "3,5", "sched_lrs": "0.01,0.001", "sched_from": "last"},
     "optimizer", "schedule", {"name": "restarts", "milestones": [3, 5], "lrs": [0.01, 0.001], "from": "last"}),
    ({"sched": "restarts", "sched_miles": "4", "sched_lrs": "0.01"}, "optimizer", "schedule",
     {"name": "restarts", "milestones": [4], "lrs": [0.01], "from": "best"}),
    ({"reduce": "sum"}, "train", "reduction", "sum"),
    ({"loss": "bce_multi", "reduce": "sum"}, "train", "loss", "bce_multi"),
    ({"loss": "mse_sigmoid"}, "train", "loss", "mse_sigmoid"),
    ({"data": "mnist", "crop": 4, "flip": True}, "train", "augment", {"crop_padding": 4, "flip": True}),
    ({"data": "mnist", "crop": 2}, "train", "augment", {"crop_padding": 2, "flip": False}),
    ({"flip": True}, "train", "augment", {"crop_padding": 0, "flip": True}),   # the built-in digits are images
    ({"dropout": 0.25}, "model", "dropout", 0.25),
    ({"data": "mnist", "resize": "32x32"}, "data", "resize", [32, 32]),
    ({"data": "mnist", "resize": "28x32"}, "data", "resize", [28, 32]),
]


@pytest.mark.parametrize("values, section, key, expected", SETTINGS)
def test_each_setting_builds_its_config_and_comes_back_through_a_link(values, section, key, expected):
    base, rules = urlstate.configs(values)
    assert base[section][key] == expected
    checked = comparison_configs(base, rules)                  # the engine takes it as it is
    assert checked[0].to_dict()[section][key] == expected
    back = urlstate.params(checked[0], [c.algorithm.to_dict() for c in checked])
    link = urlstate.parse(dict(parse_qsl(urlstate.query_string(back))))
    assert comparison_configs(*urlstate.configs(link)) == checked
    assert {k: v for k, v in link.items() if k in values} == {k: v for k, v in values.items()
                                                              if urlstate.differs(k, v)}


@pytest.mark.parametrize("param, default", [("sched", "none"), ("reduce", "mean"), ("crop", 0), ("flip", False),
                                            ("dropout", 0.0), ("resize", ""), ("sched_gamma", 0.1)])
def test_a_setting_put_back_to_its_default_leaves_the_link(param, default):
    assert urlstate.DEFAULTS[param] == default and type(urlstate.DEFAULTS[param]) is type(default)
    assert urlstate.query({param: default, "lr": 0.1}) == {"lr": "0.1"}


def test_settings_for_images_are_not_read_for_other_data():
    base, _ = urlstate.configs({"data": "moons", "crop": 4, "flip": True, "resize": "32x32", "model": "mlp"})
    assert "resize" not in urlstate.configs({"resize": "32x32"})[0]["data"]   # the built-in digits: not resized
    assert "augment" not in base["train"] and base["data"] == {"name": "moons"}
    assert urlstate.takes_images("cifar10") and not urlstate.takes_images("spiral")
    assert urlstate.takes_resize("kmnist") and not urlstate.takes_resize("digits")


def test_a_schedule_reads_its_own_fields_only():
    base, _ = urlstate.configs({"sched": "step", "sched_miles": "3,x", "sched_lrs": "?", "sched_step": 7})
    assert base["optimizer"]["schedule"] == {"name": "step", "step_size": 7, "gamma": 0.1}
    base, _ = urlstate.configs({"sched": "none", "sched_step": 7})
    assert "schedule" not in base["optimizer"]


@pytest.mark.parametrize("values, param, words", [
    ({"sched": "step", "sched_gamma": 2.0}, "sched_gamma", "schedule: factor must be at most 1, got 2"),
    ({"sched": "step", "sched_step": 0}, "sched_step", "schedule: epochs per step must be at least 1, got 0"),
    ({"sched": "multistep"}, "sched_miles", "schedule: milestone epochs must be a non-empty list of epochs, got []"),
    ({"sched": "multistep", "sched_miles": "3,x"}, "sched_miles",
     "schedule: milestone epochs must be whole numbers separated by commas, like 30,60; got '3,x'"),
    ({"sched": "multistep", "sched_miles": "4,4"}, "sched_miles",
     "schedule: milestone epochs must not repeat an epoch"),
    ({"crop": -1}, "crop", "random crop: zero padding must be at least 0, got -1"),
    ({"data": "mnist", "resize": "big"}, "resize", "resize inputs must be a height and a width in pixels"),
])
def test_a_refused_setting_is_told_by_its_parameter_in_the_page_words(values, param, words):
    placed_by_its_field(values, param, words)


def test_a_link_value_the_page_cannot_take_is_named():
    found = urlstate.refusals({"sched": "weekly", "reduce": "max", "crop": "four", "flip": "perhaps",
                               "dropout": "half", "lr": "0.1", "sched_from": "first", "unknown": "x"})
    assert set(found) == {"sched", "reduce", "crop", "flip", "dropout", "sched_from"}
    assert found["sched"].startswith("The link's sched='weekly' was not used: "
                                     "learning-rate schedule must be one of none, step")
    assert found["crop"].startswith("The link's crop='four' was not used: random crop: zero padding: expected a whole "
                                    "number (allowed: at least 0 and at most 1024)")
    assert found["flip"] == ("The link's flip='perhaps' was not used: random horizontal flip: expected true or false")
    assert urlstate.refusals({"sched": "multistep", "sched_miles": "30,60", "reduce": "sum", "crop": "4"}) == {}


def test_a_schedule_the_page_has_no_control_for_is_refused_by_field():
    with pytest.raises(ConfigError) as caught:
        urlstate.params({"optimizer": {"name": "sgd", "schedule": {"name": "cosine"}}}, [{"name": "bp"}])
    assert caught.value.field == "optimizer.schedule"


def test_an_initialisers_empty_box_says_required_exactly_where_the_config_requires_it():
    from explorer.config import INIT_PARAMS
    from explorer.config.schema import InitSpec

    for name, fields in INIT_PARAMS.items():
        full = {"low": -0.1, "high": 0.1, "mean": 0.0, "std": 0.1, "gain": 1.0}
        for field in fields:
            if field == "inner":
                continue
            others = {f: full[f] for f in fields if f not in (field, "inner")}
            try:
                InitSpec.from_dict({"name": name, **others})
                required = False
            except ConfigError as err:
                required = err.field == f"init.{field}"
            assert urlstate.INIT_PLACEHOLDERS[field].startswith("required") is required, (name, field)
