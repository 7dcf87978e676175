"""The notebook's setup form (`explorer.widgets.controls.SetupForm`): its rule options come from the
registry, and a refused value is told beside its section, placed by the error's ``.field``."""

from __future__ import annotations

import html
import re

import pytest

from conftest import small_config
from explorer.config import ConfigError, RunConfig
from explorer.config.registry import OPTIONS, RULES
from explorer.runs.workspace import Workspace, comparison_configs
from explorer.widgets.controls import SECTIONS, SetupForm, section_of
from explorer.widgets.trainer import TrainerWidget
from test_front_end_library import rule_at_other_values


def _form(**sections) -> SetupForm:
    cfg = RunConfig.from_dict(small_config(algorithm={"name": "dfa"}, **sections))
    return SetupForm(cfg, [cfg.algorithm.to_dict()])


def test_every_rule_option_of_the_registry_has_a_control_shown_while_its_rule_is_chosen():
    form = _form()
    assert set(form.rules.options) == {(key, name) for key, spec in RULES.items() for name in spec.options}
    for (key, name), control in form.rules.options.items():
        assert control.description == f"{RULES[key].label}: {OPTIONS[name].label}"
        assert control.tooltip == OPTIONS[name].help
        assert control.layout.display == "none"            # dfa alone is chosen: no options shown
    form.rules.names.value = ["bp", "bdfa", "fa"]
    shown = {k for k, c in form.rules.options.items() if c.layout.display != "none"}
    assert shown == {("bdfa", "block_size"), ("fa", "sign_refresh")}


@pytest.mark.parametrize("key", list(RULES))
def test_every_rule_goes_through_the_form_with_its_options(key):
    layers = 1 if RULES[key].hidden_layers[1] == 1 else 3
    cfg = RunConfig.from_dict(small_config(model={"name": "mlp", "hidden": [8] * layers, "activation": "relu"}))
    rules = [{"name": "bp"}, rule_at_other_values(key)] if key != "bp" else [{"name": "bp"}]
    form = SetupForm(cfg, rules)
    assert form.configs() == comparison_configs(cfg.with_values({"algorithm": None}), rules)
    # and at the registry's defaults (an option left out is the same as its default)
    form = SetupForm(cfg, [{"name": key}])
    assert form.configs() == comparison_configs(cfg.with_values({"algorithm": None}), [{"name": key}])


def test_an_option_left_to_the_rule_stays_left_out():
    form = _form()
    form.rules.names.value = ["usf"]
    assert form.rules.options["usf", "scale"].value == ""       # each layer's forward-init std
    assert form.algorithms() == [{"name": "usf"}] and form.configs()[0].algorithm.scale is None
    form.rules.options["usf", "scale"].value = "0.25"
    assert form.configs()[0].algorithm.scale == 0.25
    form.rules.names.value = ["fa"]
    assert form.algorithms() == [{"name": "fa"}]                 # sign_refresh: the rule's default, plain FA
    form.rules.options["fa", "sign_refresh"].value = "epoch"
    assert form.configs()[0].algorithm.sign_refresh == "epoch"


def test_controls_change_the_config():       # replaces tests/test_widgets.py::test_controls_change_the_config
    w = TrainerWidget(small_config())
    w.form.hidden.value = "3x12"
    w.form.optimizer.lr.value = 0.2
    w.form.seed.value = 5
    w.form.rules.names.value = ["dfa", "bdfa"]
    w.form.rules.options["bdfa", "block_size"].value = 2
    w.form.feedback.name.value = "uniform"
    w.form.feedback.fields["low"].value, w.form.feedback.fields["high"].value = -0.25, 0.25
    bp_like, bdfa = w.configs
    assert bp_like.model.hidden == (12, 12, 12) and bp_like.optimizer.lr == 0.2 and bp_like.seed == 5
    assert bdfa.algorithm.block_size == 2 and bdfa.algorithm.feedback_init.high == 0.25
    w.form.optimizer.name.value = "adam"      # chosen by hand: its usual learning rate
    assert w.config.optimizer.lr == 0.001 and w.config.optimizer.momentum == 0.0


def _set(control, value):
    return lambda f: setattr(control(f), "value", value)


@pytest.mark.parametrize("change, section, words", [
    (lambda f: (setattr(f.feedback.name, "value", "uniform"), setattr(f.feedback.fields["low"], "value", 1.0)),
     "feedback", "feedback init: low must be less than high, got low=1 >= high=0.1"),
    (_set(lambda f: f.hidden, "wide"), "model", "hidden widths must be whole numbers separated by commas"),
    (_set(lambda f: f.hidden, "8, 0"), "model", "hidden widths must be at least 1, got 0"),
    (_set(lambda f: f.optimizer.lr, 0.0), "optimizer", "learning rate must be greater than 0, got 0"),
    (_set(lambda f: f.rules.names, []), "rules", "rules to compare: choose at least one learning rule"),
    (_set(lambda f: f.batch_size, 0), "train", "batch size must be at least 1, got 0"),
    (_set(lambda f: f.batch_size, 100_000), "train",     # digits: 1,797 images less the 359 held out
     "batch size must be at most the 1,438 training samples of 'digits', got 100,000"),
    (lambda f: (setattr(f.rules.names, "value", ["bp", "bdfa"]),
                setattr(f.rules.options["bdfa", "block_size"], "value", 0)),
     "rules", "BDFA: hidden layers per block must be at least 1, got 0"),
    (lambda f: (setattr(f.rules.names, "value", ["usf"]), setattr(f.rules.options["usf", "scale"], "value", "-1")),
     "rules", "uSF: scale of sign(W) must be greater than 0, got -1"),
    (_set(lambda f: f.rules.names, ["bp", "ntk"]), "model", "hidden widths: 'ntk' is defined for an MLP with 1 hidden"),
    (lambda f: (setattr(f.model, "value", "lenet5"), setattr(f.rules.names, "value", ["bp", "ifa"])),
     "rules", "IFA: 'ifa' is defined for mlp"),    # the advanced settings
    (lambda f: (setattr(f.optimizer.schedule.name, "value", "step"),
                setattr(f.optimizer.schedule.fields["gamma"], "value", 2.0)),
     "optimizer", "schedule: factor must be at most 1, got 2"),
    (lambda f: setattr(f.optimizer.schedule.name, "value", "multistep"),
     "optimizer", "schedule: milestone epochs must be a non-empty list of epochs"),
    (lambda f: (setattr(f.optimizer.schedule.name, "value", "multistep"),
                setattr(f.optimizer.schedule.fields["milestones"], "value", "3,x")),
     "optimizer", "schedule: milestone epochs must be whole numbers separated by commas"),
    (_set(lambda f: f.crop, -1), "train", "random crop: zero padding must be at least 0, got -1"),
    (_set(lambda f: f.dropout, 1.0), "model", "dropout must be at most"),
    (lambda f: (setattr(f.dataset, "value", "mnist"), setattr(f.resize, "value", "big")),
     "data", "resize inputs must be a height and a width in pixels"),
])
def test_a_refused_value_is_told_beside_its_section_in_the_form_words(change, section, words):
    form = _form()
    change(form)
    assert form.check() is None
    assert form.message.startswith(words), form.message
    assert [s for s, label in form.errors.items() if label.value] == [section]
    assert html.escape(words) in form.errors[section].value
    assert not re.search(r"rules\[|algorithm\.|optimizer\.|train\.|model\.", form.message)   # the form's words


def test_fewer_epochs_drop_the_snapshots_past_the_new_end():
    form = _form(train={"epochs": 10, "batch_size": 64, "snapshots": [0, 5, 10]})
    form.epochs.value = 3
    assert form.check() is not None, form.message
    assert [c.train.snapshots for c in form.configs()] == [(0,)]
    form.epochs.value = 10                             # put back: the config's own snapshots again
    assert form.configs()[0].train.snapshots == (0, 5, 10)


def test_a_refused_value_starts_nothing(tmp_path):
    with Workspace(tmp_path / "runs.sqlite") as ws:
        w = TrainerWidget(small_config(algorithm={"name": "dfa"}), workspace=ws)
        w.form.optimizer.lr.value = 0.0
        w.play.click()
        assert w.error == "learning rate must be greater than 0, got 0"
        assert w.form.errors["optimizer"].value and w.status == "ready" and w.comparison is None
        assert ws.store.list_runs() == []


def test_section_of_reads_the_field():
    assert section_of(ConfigError("rules[1]: algorithm.block_size …", field="rules[1].algorithm.block_size")) == "rules"
    assert section_of(ConfigError("x", field="rules[0].algorithm.feedback_init.low")) == "feedback"
    assert section_of(ConfigError("x", field="data.samples")) == "data"        # no control: its section
    assert section_of(ConfigError("x", field="seed")) == "train"
    assert section_of(ConfigError("no field")) == "general"
    assert {section_of(ConfigError("x", field=f)) for f in ("data", "model.hidden[2]", "init.gain", "optimizer.nesterov",
                                                             "train.log_every")} <= set(SECTIONS)


# The advanced settings: schedule, loss over a batch, augmentation, resizing, dropout -------------

def test_the_advanced_controls_build_the_config_typed_here():
    form = _form()
    form.optimizer.schedule.name.value = "multistep"
    form.optimizer.schedule.fields["milestones"].value = "6, 2"
    form.optimizer.schedule.fields["gamma"].value = 0.5
    form.reduction.value, form.crop.value, form.flip.value, form.dropout.value = "sum", 2, True, 0.25
    [config] = form.configs()
    d = config.to_dict()
    assert d["optimizer"]["schedule"] == {"name": "multistep", "milestones": [2, 6], "gamma": 0.5}
    assert d["train"]["reduction"] == "sum" and d["train"]["augment"] == {"crop_padding": 2, "flip": True}
    assert d["model"]["dropout"] == 0.25
    form.optimizer.schedule.name.value = "step"     # the step schedule reads its own fields only
    form.optimizer.schedule.fields["step_size"].value = 4
    assert form.configs()[0].to_dict()["optimizer"]["schedule"] == {"name": "step", "step_size": 4, "gamma": 0.5}
    shown = {k for k, c in form.optimizer.schedule.fields.items() if c.layout.display != "none"}
    assert shown == {"step_size", "gamma"}
    # back to the defaults: the config the form started from
    form.optimizer.schedule.name.value = "none"
    form.reduction.value, form.crop.value, form.flip.value, form.dropout.value = "mean", 0, False, 0.0
    assert form.configs() == [RunConfig.from_dict(small_config(algorithm={"name": "dfa"}))]


def test_augmentation_and_resizing_are_greyed_out_with_the_reason_where_they_do_not_apply():
    form = _form()                                   # the built-in digits: images, not resizable
    assert not form.crop.disabled and not form.flip.disabled and form.resize.disabled
    assert form.why_not.value == "resizing: for mnist, fashion_mnist, kmnist, notmnist, cifar10"
    form.crop.value, form.resize.value = 3, "32x32"
    assert form.configs()[0].data.to_dict() == {"name": "digits"}     # resize not read for the digits
    form.dataset.value = "moons"
    assert form.crop.disabled and form.flip.disabled
    assert form.why_not.value.startswith("augmentation: for image datasets; moons is not one")
    assert form.configs()[0].train.augment is None                    # and augmentation not read
    form.lock(True)
    form.lock(False)
    assert form.crop.disabled                                          # unlocking keeps the reason
    form.dataset.value = "mnist"
    assert not form.crop.disabled and not form.resize.disabled and form.why_not.value == ""
    form.dropout.value, form.model.value = 0.5, "resnet20"        # the ResNets take no dropout
    assert form.dropout.disabled and form.no_dropout.value == "dropout: for the MLP and the CNNs; resnet20 takes none"
    assert "dropout" not in form.base()["model"]
    form.model.value = "lenet5"
    assert not form.dropout.disabled and form.base()["model"]["dropout"] == 0.5
    assert form.base()["data"]["resize"] == [32, 32] and form.base()["train"]["augment"]["crop_padding"] == 3
