"""A comparison's whole setup as flat parameters: what the Train page's controls hold and its URL carries.

The Train page has one control per parameter below, keyed by the parameter's name and bound to the
URL's query string, so a link reproduces the setup. This module turns those flat values into the
configs of a comparison (`configs`) and back (`params`), and reads them from query strings
(`parse`, every value a string). Only values that differ from `DEFAULTS` travel in a link.

The rules to compare sit in four slots, ``rule1`` … ``rule4`` ("none" leaves a slot empty); a
slot's options are ``r1_<option>`` for every option of the registry (`explorer.config.registry.OPTIONS`:
``r1_block_size``, ``r1_connections``, …; only the ones its rule takes are read), at the registry's
defaults, and ``r1_shallow`` (train the output layer only). ``maps`` keeps hidden representations
of a fixed probe set at about ten checkpoints (for the Representations page). The feedback
initialiser ``fb_*`` is shared by the rules that have feedback matrices. ``hide`` lists controls a
teacher hides in a shared link (classroom mode); ``group`` is the id of the runs shown.

The advanced settings: ``sched`` (the learning-rate schedule, `SCHEDULE_PARAMS` says which of
``sched_step``, ``sched_gamma``, ``sched_miles``, ``sched_lrs`` and ``sched_from`` each one reads),
``reduce`` (the loss over a batch: mean or sum), ``crop`` and ``flip`` (augmentation), read for
image datasets only (`takes_images`), ``resize`` (``32x32``), read for the image datasets read from
files (`takes_resize`), and ``dropout``, read for the networks that take it (`takes_dropout`). At their defaults they
leave the config as a link without them always meant: no schedule, the mean, no augmentation, no
resizing, no dropout.

A `ConfigError` about a setup is told in the page's words beside its control (`explain`, from the
error's ``.field``); hidden widths typed as text are read by `parse_widths`, the one reader of them
that the Train page, the Playground, the notebook widgets and the command line share.

Example:
    >>> base, rules = configs({"rule2": "bdfa", "r2_block_size": 2, "hidden": "32,32,32", "lr": 0.1})
    >>> [r["name"] for r in rules], rules[1]["block_size"], base["model"]["hidden"], base["optimizer"]["lr"]
    (['bp', 'bdfa'], 2, [32, 32, 32], 0.1)
    >>> query_string(params(base, rules))
    'hidden=32%2C32%2C32&rule2=bdfa&lr=0.1&r2_block_size=2'
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, Sequence
from urllib.parse import urlencode

from explorer.config import (ACTIVATIONS, DEFAULT_LR, DEVICES, INIT_PARAMS, LOSSES, MODEL_OPTIONS, OPTIMIZERS,
                             ConfigError, RunConfig)
from explorer.config.registry import FORWARD_INITS
from explorer.config.dataset_options import DATASET_OPTIONS, IMAGE_DATASETS, RESIZABLE
from explorer.config.registry import OPTIONS, RULES, rule_spec
from explorer.config.schedule import RESTART_FROM, SCHEDULES
from explorer.config.bounds import MAX_LAYERS
from explorer.config.schema import REDUCTIONS
from explorer.views.links import say

SLOTS = 4
NONE = "none"
INIT_FIELDS = ("low", "high", "mean", "std", "gain")
RULE_FIELDS = (*OPTIONS, "shallow")   # r{i}_<field>: every rule option of the registry, and "shallow"
CONTROLS = ("data", "model", "rules", "init", "feedback", "optimizer", "training", "seed", "device")

# The default comparison lasts long enough to watch it learn (27 s from the click to the end in the
# app on a 2-core machine: 500 epochs of the built-in digits); Pause or Stop end it sooner.
DEFAULT_EPOCHS = 500
# Where the page's default for an option is not the registry's. uSF's scale: the registry leaves it
# out (each layer's forward-init std), which a number box cannot show; the page has always started
# it at 1 (B = sign(W)), and a link without r{i}_scale keeps meaning that.
PAGE_OPTION_DEFAULTS = {"scale": 1.0}


def option_default(option: str) -> Any:
    """The default of parameter ``r{i}_<option>``: the registry's, with None (the rule's own) as
    "none" for a choice, "" for a text and NaN for a number, unless the page sets its own
    (`PAGE_OPTION_DEFAULTS`).

    Example:
        >>> option_default("block_size"), option_default("sign_refresh"), option_default("scale")
        (1, 'none', 1.0)
    """
    if option in PAGE_OPTION_DEFAULTS:
        return PAGE_OPTION_DEFAULTS[option]
    default = OPTIONS[option].default
    if default is None:
        return _LEFT_OUT.get(OPTIONS[option].kind, math.nan)
    return default


_LEFT_OUT = {"choice": NONE, "text": ""}   # a parameter's value for an option left to the rule


def option_choices(option: str) -> list[str]:
    """The values a choice option's control offers ("none" for the rule's own).

    Example:
        >>> option_choices("sign_refresh"), option_choices("variant")
        (['none', 'init', 'epoch', 'step'], ['gaussian', 'relu', 'linear'])
    """
    return [NONE if c is None else c for c in OPTIONS[option].choices]


# Every parameter and its default; the type of the default is the parameter's type.
DEFAULTS: dict[str, Any] = {
    "data": "digits", "data_root": "",
    "model": "mlp", "hidden": "64,64", "act": "relu",
    **{f"rule{i}": NONE for i in range(1, SLOTS + 1)},
    "init": "default", **{f"init_{f}": math.nan for f in INIT_FIELDS},
    "fb": "default", **{f"fb_{f}": math.nan for f in INIT_FIELDS},
    "opt": "sgd", "lr": 0.05, "momentum": 0.9, "wd": 0.0, "bm": False,
    "batch": 64, "epochs": DEFAULT_EPOCHS, "loss": "cross_entropy", "seed": 0, "device": "auto", "maps": True,
    "sched": NONE, "sched_step": 100, "sched_gamma": 0.1, "sched_miles": "", "sched_lrs": "", "sched_from": "best",
    "reduce": "mean", "crop": 0, "flip": False, "dropout": 0.0, "resize": "",
    "hide": "", "group": "",
}
DEFAULTS["rule1"], DEFAULTS["rule2"] = "bp", "dfa"
for _i in range(1, SLOTS + 1):
    DEFAULTS.update({f"r{_i}_{option}": option_default(option) for option in OPTIONS})
    DEFAULTS[f"r{_i}_shallow"] = False

# What the Train page calls each parameter's control: errors are told in these words (`explain`).
RULE_OPTION_LABELS = {**{name: option.label for name, option in OPTIONS.items()},
                      "shallow": "shallow (hidden layers frozen)"}
INIT_LABELS = {"init": "forward init", "fb": "feedback init"}
# What an empty box of an initialiser's parameter means, written in it: one who picks uniform sees what to type
INIT_PLACEHOLDERS = {"low": "required, e.g. -0.05", "high": "required, e.g. 0.05", "std": "required, e.g. 0.05",
                     "mean": "0 if left empty", "gain": "the initialiser's own if left empty"}
LABELS: dict[str, str] = {
    "data": "Dataset", "data_root": "data folder", "model": "Network", "hidden": "hidden widths", "act": "activation",
    **{f"rule{i}": f"Rule {i}" for i in range(1, SLOTS + 1)},
    **{f"r{i}_{f}": label for i in range(1, SLOTS + 1) for f, label in RULE_OPTION_LABELS.items()},
    **INIT_LABELS, **{f"{p}_{f}": f"{INIT_LABELS[p]}: {f}" for p in INIT_LABELS for f in INIT_FIELDS},
    "opt": "optimiser", "lr": "learning rate", "momentum": "momentum", "wd": "weight decay",
    "bm": "Batch Manhattan (sign of the update)", "batch": "batch size", "epochs": "epochs", "loss": "loss",
    "seed": "seed", "device": "device", "maps": "keep hidden maps", "hide": "hidden controls", "group": "runs shown",
    "sched": "learning-rate schedule", "sched_step": "schedule: epochs per step", "sched_gamma": "schedule: factor",
    "sched_miles": "schedule: milestone epochs", "sched_lrs": "schedule: rate from each milestone",
    "sched_from": "schedule: restart from", "reduce": "loss over a batch", "crop": "random crop: zero padding",
    "flip": "random horizontal flip", "dropout": "dropout", "resize": "resize inputs",
}
# What the advanced settings do, in the words of their help (the Train page's and the notebook form's).
LOSS_WORDS = {"cross_entropy": "softmax outputs, cross-entropy", "bce": "binary cross-entropy (two classes)",
              "bce_multi": "a sigmoid per class, binary cross-entropy against the one-hot label",
              "mse": "squared error against the one-hot label",
              "mse_sigmoid": "a sigmoid per class, squared error against the one-hot label"}
HELP = {
    "loss": "; ".join(f"{name}: {LOSS_WORDS.get(name, name)}" for name in LOSSES),
    "sched": "none: a constant rate; step: the rate times the factor every k epochs; multistep: times the factor "
             "at each milestone epoch; restarts: from each milestone the next of its rates, the optimiser's state "
             "cleared, and training goes on from the best (or the last) weights so far",
    "sched_step": "the rate is multiplied by the factor every this many epochs",
    "sched_gamma": "what the rate is multiplied by at each step, in (0, 1]",
    "sched_miles": "epochs (counted from 0) where the rate changes, separated by commas",
    "sched_lrs": "the rate from each milestone on, one per milestone, separated by commas",
    "sched_from": "best: the weights of the best test accuracy so far; last: the weights as they are",
    "reduce": "mean: the loss averaged over the batch; sum: summed over it (and over the output units for "
              "bce_multi, mse and mse_sigmoid), as some papers train: the steps are then about batch-size times "
              "larger, so lower the learning rate to match; the curves show the mean either way",
    "resize": "height x width in pixels (bilinear, at load), e.g. 32x32 for LeNet-5's inputs; empty: as stored",
    "crop": "pad each training image with this many zero pixels, then crop it back at a random place; 0: no crop",
    "flip": "mirror each training image left to right with probability 1/2",
    "dropout": "the probability of zeroing each hidden unit in training (after each hidden activation; the "
               "CNNs' fully connected layers), from 0 (none) to below 1",
}
# The learning-rate schedules a link can name ("none": a constant rate) and the parameter of each
# field a schedule reads (`explorer.config.schedule`); a schedule ignores the others' parameters.
SCHEDULE_FIELDS = {"sched_step": "step_size", "sched_gamma": "gamma", "sched_miles": "milestones",
                   "sched_lrs": "lrs", "sched_from": "from"}
SCHEDULE_PARAMS = {"step": ("sched_step", "sched_gamma"), "multistep": ("sched_miles", "sched_gamma"),
                   "restarts": ("sched_miles", "sched_lrs", "sched_from")}
SCHEDULE_CHOICES = [NONE, *(name for name in SCHEDULE_PARAMS if name in SCHEDULES)]
# What a choice parameter may hold (besides the rules' and the options'); a link with another value
# is refused by name (`refusals`).
CHOICES: dict[str, Sequence[str]] = {
    "data": [name for name in DATASET_OPTIONS if name != "parity"], "model": list(MODEL_OPTIONS),
    "act": ACTIVATIONS, "opt": OPTIMIZERS, "loss": LOSSES, "device": DEVICES, "init": list(FORWARD_INITS),
    "fb": list(INIT_PARAMS), "sched": SCHEDULE_CHOICES, "sched_from": list(RESTART_FROM), "reduce": REDUCTIONS,
    **{f"rule{i}": [NONE, *RULES] for i in range(1, SLOTS + 1)},
    **{f"r{i}_{o}": option_choices(o) for i in range(1, SLOTS + 1) for o in OPTIONS if OPTIONS[o].kind == "choice"}}
# Config fields (outside a rule's own) and the parameter that sets each.
FIELD_PARAMS = {"data": "data", "data.name": "data", "data.root": "data_root", "model.name": "model",
                "model.hidden": "hidden", "model.activation": "act", "optimizer.name": "opt", "optimizer.lr": "lr",
                "optimizer.momentum": "momentum", "optimizer.weight_decay": "wd", "optimizer.batch_manhattan": "bm",
                "train.epochs": "epochs", "train.batch_size": "batch", "train.loss": "loss", "seed": "seed",
                "device": "device", "init.name": "init", "algorithm.feedback_init.name": "fb",
                **{f"init.{f}": f"init_{f}" for f in INIT_FIELDS},
                **{f"algorithm.feedback_init.{f}": f"fb_{f}" for f in INIT_FIELDS},
                "optimizer.schedule": "sched", "optimizer.schedule.name": "sched",
                **{f"optimizer.schedule.{f}": p for p, f in SCHEDULE_FIELDS.items()},
                "train.reduction": "reduce", "train.augment": "crop", "train.augment.crop_padding": "crop",
                "train.augment.flip": "flip", "model.dropout": "dropout", "data.resize": "resize"}

MAP_SAMPLES = 500   # probe samples whose hidden representations are kept for the maps
MAP_CHECKPOINTS = 10


def snapshot_epochs(epochs: int) -> list[int]:
    """The epochs at which hidden representations are kept for the Representations page: before
    training and about `MAP_CHECKPOINTS` times after, evenly spread, always including the last.

    Example:
        >>> snapshot_epochs(5), snapshot_epochs(30)[:4], snapshot_epochs(30)[-1]
        ([0, 1, 2, 3, 4, 5], [0, 3, 6, 9], 30)
    """
    every = max(1, round(epochs / MAP_CHECKPOINTS))
    return sorted({*range(0, epochs + 1, every), epochs})


def parse_widths(text: str, field: str = "model.hidden") -> list[int]:
    """Hidden layer widths typed as text: ``64,64``, ``64, 64`` or ``64 64``, or ``20x64`` for 20
    layers of 64; empty for none (a linear model). What is not whole numbers is a `ConfigError`
    about ``field``; the config checks the widths themselves (at least 1, not too many).

    Example:
        >>> parse_widths("64,64"), parse_widths("64, 32"), parse_widths("3x16"), parse_widths(" ")
        ([64, 64], [64, 32], [16, 16, 16], [])
        >>> parse_widths("64,,64")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: model.hidden has an empty width between commas: '64,,64'; write widths like 64,64
        >>> parse_widths("64,x")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: model.hidden must be whole numbers separated by commas, like 64,64, or 20x64 for 20 layers of 64; got '64,x'
    """
    text = str(text).strip()
    if text and re.search(r"(^|,)\s*(,|$)", text):   # 64,,64 is not 64,64
        raise ConfigError(f"{field} has an empty width between commas: {text!r}; write widths like 64,64",
                          field=field)
    repeated = re.fullmatch(r"([0-9]+)\s*[x×]\s*([0-9]+)", text)
    if repeated:
        if int(repeated.group(1)) > MAX_LAYERS:   # refused before the list is made: 10000000000x64
            raise ConfigError(f"{field}: at most {MAX_LAYERS} hidden layers, got {repeated.group(1)}", field=field)
        return [int(repeated.group(2))] * int(repeated.group(1))
    parts = [p for p in re.split(r"[,\s]+", text) if p]
    if not all(re.fullmatch(r"[0-9]+", p) for p in parts):
        raise ConfigError(f"{field} must be whole numbers separated by commas, like 64,64, or 20x64 for "
                          f"20 layers of 64; got {text!r}", field=field)
    return [int(p) for p in parts]


def format_widths(widths: Sequence[int], sep: str = ",") -> str:
    """The text `parse_widths` reads back: ``20x64`` for four or more equal layers.

    Example:
        >>> format_widths([64, 64]), format_widths([64, 32], ", "), format_widths([16] * 5)
        ('64,64', '64, 32', '5x16')
    """
    if len(widths) >= 4 and len(set(widths)) == 1:
        return f"{len(widths)}x{widths[0]}"
    return sep.join(map(str, widths))


def parse_numbers(text: str, field: str, kind: type = int) -> list:
    """A list typed as text, ``30, 60`` or ``30 60`` (``kind``: int for epochs, float for rates);
    empty for none. What does not read as such numbers is a `ConfigError` about ``field``.

    Example:
        >>> parse_numbers("30, 60", "optimizer.schedule.milestones"), parse_numbers("0.1 1e-3", "x", float)
        ([30, 60], [0.1, 0.001])
        >>> parse_numbers("30,sixty", "optimizer.schedule.milestones")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: optimizer.schedule.milestones must be whole numbers separated by commas, like 30,60; got '30,sixty'
    """
    parts = [p for p in re.split(r"[,\s]+", str(text).strip()) if p]
    try:
        if kind is int:
            if not all(re.fullmatch(r"[0-9]+", p) for p in parts):
                raise ValueError
            return [int(p) for p in parts]
        values = [float(p) for p in parts]
    except ValueError:
        words = "whole numbers separated by commas, like 30,60" if kind is int else \
            "numbers separated by commas, like 0.01,0.001"
        raise ConfigError(f"{field} must be {words}; got {text!r}", field=field) from None
    return values


def format_numbers(values: Sequence[float]) -> str:
    """The text `parse_numbers` reads back.

    Example:
        >>> format_numbers([30, 60]), format_numbers([0.01, 1e-05])
        ('30,60', '0.01,1e-05')
    """
    return ",".join(repr(v) if isinstance(v, float) else str(v) for v in values)


def parse_resize(text: str, field: str = "data.resize") -> list[int] | None:
    """The input size typed as text: ``32x32``, ``32,32`` or ``32`` (square); None for empty (no
    resizing). Anything else is a `ConfigError` about ``field``.

    Example:
        >>> parse_resize("32x32"), parse_resize("28, 32"), parse_resize("32"), parse_resize("")
        ([32, 32], [28, 32], [32, 32], None)
        >>> parse_resize("big")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: data.resize must be a height and a width in pixels, like 32x32 (or 32 for a square); got 'big'
    """
    text = str(text).strip()
    if not text:
        return None
    found = re.fullmatch(r"([0-9]+)(?:\s*(?:[x×,]|\s)\s*([0-9]+))?", text)
    if not found:
        raise ConfigError(f"{field} must be a height and a width in pixels, like 32x32 (or 32 for a square); "
                          f"got {text!r}", field=field)
    return [int(found.group(1)), int(found.group(2) or found.group(1))]


def takes_images(data: str) -> bool:
    """Whether dataset ``data`` is one of images, the ones that augmentation and resizing act on
    (the page offers them for these only; for the others their parameters are not read).

    Example:
        >>> takes_images("mnist"), takes_images("moons")
        (True, False)
    """
    return data in IMAGE_DATASETS


def takes_resize(data: str) -> bool:
    """Whether dataset ``data`` can be resized: the image datasets read from files (the page offers
    resizing for these only; for the others ``resize`` is not read).

    Example:
        >>> takes_resize("mnist"), takes_resize("digits")
        (True, False)
    """
    return data in RESIZABLE


def takes_dropout(model: str) -> bool:
    """Whether network ``model`` takes dropout (the MLP, and the CNNs in their fully connected
    layers; not the ResNets): the page offers it for these only, and for the others ``dropout`` is
    not read.

    Example:
        >>> takes_dropout("lenet5"), takes_dropout("resnet18")
        (True, False)
    """
    return "dropout" in MODEL_OPTIONS.get(model, ())


def _schedule(v: Mapping[str, Any]) -> dict | None:
    name = v["sched"]
    if name == NONE:
        return None
    schedule: dict[str, Any] = {"name": name}
    for param in SCHEDULE_PARAMS.get(name, ()):
        field, value = SCHEDULE_FIELDS[param], v[param]
        if param == "sched_miles":
            value = parse_numbers(value, f"optimizer.schedule.{field}")
        elif param == "sched_lrs":
            value = parse_numbers(value, f"optimizer.schedule.{field}", float)
        schedule[field] = value
    return schedule


def _init(values: Mapping[str, Any], prefix: str) -> dict:
    name = values[prefix]
    spec = {"name": name}
    for field in INIT_PARAMS.get(name, ()):
        value = values.get(f"{prefix}_{field}", math.nan)
        if _is_nan(value):
            continue  # unset: the initialiser's own default (or its error naming the field)
        spec[field] = value
    return spec


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _full(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: not a setup parameter (known: {', '.join(DEFAULTS)})", field=unknown[0])
    return {**DEFAULTS, **values}


def configs(values: Mapping[str, Any]) -> tuple[dict, list[dict]]:
    """(base config dict without its algorithm, the algorithm dicts of the filled slots) from flat
    values (missing ones take `DEFAULTS`). A slot's options are those its rule takes (the registry's
    `RuleSpec.options`), "none" or NaN leaving one to the rule. Errors name the parameter, or the
    config field (``model.hidden``); `runs.comparison_configs` validates the rest."""
    v = _full(values)
    data: dict[str, Any] = {"name": v["data"]}
    if v["data_root"]:
        data["root"] = v["data_root"]
    images = takes_images(v["data"])
    size = parse_resize(v["resize"]) if takes_resize(v["data"]) else None
    if size is not None:
        data["resize"] = size
    model: dict[str, Any] = {"name": v["model"], "activation": v["act"]}
    if v["model"] == "mlp":
        model["hidden"] = parse_widths(v["hidden"])
    if v["dropout"] != 0 and takes_dropout(v["model"]):
        model["dropout"] = v["dropout"]
    optimizer = {"name": v["opt"], "lr": v["lr"], "weight_decay": v["wd"], "batch_manhattan": v["bm"]}
    if v["opt"] in ("sgd", "rmsprop"):
        optimizer["momentum"] = v["momentum"]
    schedule = _schedule(v)
    if schedule is not None:
        optimizer["schedule"] = schedule
    train: dict[str, Any] = {"epochs": v["epochs"], "batch_size": v["batch"], "loss": v["loss"]}
    if v["reduce"] != "mean":
        train["reduction"] = v["reduce"]
    if images and (v["crop"] or v["flip"]):
        train["augment"] = {"crop_padding": v["crop"], "flip": v["flip"]}
    base = {"data": data, "model": model, "init": _init(v, "init"), "optimizer": optimizer,
            "train": train, "seed": v["seed"]}
    if v["device"] != "auto":
        base["device"] = v["device"]
    if v["maps"]:
        base["train"].update(snapshots=snapshot_epochs(v["epochs"]), snapshot_samples=MAP_SAMPLES)
    rules = []
    for i in range(1, SLOTS + 1):
        if v[f"rule{i}"] == NONE:
            continue
        spec = rule_spec(v[f"rule{i}"], f"rule{i}")
        rule: dict[str, Any] = {"name": spec.key}
        for option in spec.options:
            value = v[f"r{i}_{option}"]
            if not _left_out(option, value):   # sign_refresh "none": plain FA, B as drawn
                rule[option] = value
        if spec.shallow and v[f"r{i}_shallow"]:
            rule["train_hidden"] = False
        if v["fb"] != "default" and spec.feedback:
            rule["feedback_init"] = _init(v, "fb")
        rules.append(rule)
    return base, rules


def params(base: RunConfig | Mapping, rules: Sequence[Mapping]) -> dict[str, Any]:
    """The flat values of a comparison (base config + algorithm dicts) that differ from `DEFAULTS`:
    the inverse of `configs`. Settings the Train page has no control for raise `ConfigError`; an
    option another rule takes, or a feedback initialiser given to a rule without feedback matrices,
    is ignored (as the config ignores it)."""
    d = base.to_dict() if isinstance(base, RunConfig) else dict(base)
    if len(rules) > SLOTS:
        raise ConfigError(f"rules: at most {SLOTS} rules fit the Train page, got {len(rules)}", field="rules")
    data, model = dict(d.get("data", {"name": "digits"})), d.get("model", {"name": "mlp"})
    opt, train = d.get("optimizer", {"name": "sgd"}), d.get("train", {})
    v: dict[str, Any] = {"data": data.pop("name", "digits"), "data_root": data.pop("root", "")}
    if data.get("resize") is not None:
        v["resize"] = "x".join(str(n) for n in data.pop("resize"))
    data.pop("resize", None)
    if data:
        key, value = next(iter(data.items()))
        raise ConfigError(f"the dataset's option {key}={value!r} has no control on the Train page", field=f"data.{key}")
    v.update({"model": model.get("name", "mlp"), "act": model.get("activation", "relu"),
              "opt": opt.get("name", "sgd"), "lr": opt.get("lr", DEFAULT_LR[opt.get("name", "sgd")]),
              "momentum": opt.get("momentum", 0.9), "wd": opt.get("weight_decay", 0.0),
              "bm": opt.get("batch_manhattan", False), "batch": train.get("batch_size", 64),
              "epochs": train.get("epochs", 10), "loss": train.get("loss", "cross_entropy"),
              "seed": d.get("seed", 0), "device": d.get("device", "auto"), "maps": bool(train.get("snapshots"))})
    if "hidden" in model:
        v["hidden"] = ",".join(str(w) for w in model["hidden"])
    v["dropout"] = float(model.get("dropout") or 0.0)
    v["reduce"] = train.get("reduction", "mean")
    augment = train.get("augment") or {}
    v["crop"], v["flip"] = augment.get("crop_padding", 0), augment.get("flip", False)
    _put_schedule(v, opt.get("schedule"))
    _put_init(v, "init", d.get("init", {"name": "default"}))
    specs = [rule_spec(rule.get("name", "bp"), f"rules[{k}].algorithm.name") for k, rule in enumerate(rules)]
    feedbacks = [rule["feedback_init"] for rule, spec in zip(rules, specs) if "feedback_init" in rule and spec.feedback]
    if any(f != feedbacks[0] for f in feedbacks):
        raise ConfigError("rules: the Train page gives every rule the same feedback initialiser", field="rules")
    if feedbacks:
        _put_init(v, "fb", feedbacks[0])
    for i in range(1, SLOTS + 1):
        v[f"rule{i}"] = NONE
    for i, (rule, spec) in enumerate(zip(rules, specs), start=1):
        v[f"rule{i}"] = spec.key
        for option in spec.options:
            v[f"r{i}_{option}"] = _option_value(rule, option, i)
        if spec.shallow and rule.get("train_hidden") is False:
            v[f"r{i}_shallow"] = True
    return {k: v[k] for k in DEFAULTS if k in v and not _same(v[k], DEFAULTS[k])}


def _left_out(option: str, value: Any) -> bool:
    return _is_nan(value) or value == _LEFT_OUT.get(OPTIONS[option].kind)


def _option_value(rule: Mapping, option: str, slot: int) -> Any:
    """Rule ``slot``'s ``option`` as its parameter holds it (left out: the registry's default)."""
    value = rule.get(option, OPTIONS[option].default)
    if value is not None:
        return value
    if OPTIONS[option].kind in _LEFT_OUT:
        return _LEFT_OUT[OPTIONS[option].kind]
    if not _is_nan(DEFAULTS[f"r{slot}_{option}"]):
        field = f"rules[{slot - 1}].algorithm.{option}"
        raise ConfigError(f"{field}: the Train page has no control for leaving it out "
                          f"({OPTIONS[option].help})", field=field)
    return math.nan


def _put_schedule(v: dict, schedule: Mapping | str | None) -> None:
    if schedule is None or schedule == NONE or schedule == {"name": NONE}:
        return
    name = schedule.get("name") if isinstance(schedule, Mapping) else None
    if name not in SCHEDULE_PARAMS:
        raise ConfigError(f"optimizer.schedule: the Train page has no control for schedule {name!r}",
                          field="optimizer.schedule")
    v["sched"] = name
    for param in SCHEDULE_PARAMS[name]:
        field = SCHEDULE_FIELDS[param]
        if field not in schedule:
            continue
        value = schedule[field]
        v[param] = format_numbers(value) if param in ("sched_miles", "sched_lrs") else value


def _put_init(v: dict, prefix: str, spec: Mapping | str) -> None:
    spec = {"name": spec} if isinstance(spec, str) else spec
    v[prefix] = spec.get("name", "default")
    for field in INIT_FIELDS:
        if field in spec:
            v[f"{prefix}_{field}"] = float(spec[field])
    if "inner" in spec:
        raise ConfigError(f"{prefix}: the Train page has no control for a sign-concordant initialiser's inner one",
                          field=prefix)


def _same(a: Any, b: Any) -> bool:
    if _is_nan(a) and _is_nan(b):
        return True
    return a == b and type(a) is type(b) or (isinstance(b, float) and isinstance(a, int) and a == b
                                             and not isinstance(a, bool))


def differs(param: str, value: Any) -> bool:
    """Whether ``value`` of ``param`` differs from its default (what then travels in a link).

    Example:
        >>> differs("sched", "step"), differs("crop", 0), differs("init_low", float("nan"))
        (True, False, False)
    """
    return not _same(value, DEFAULTS[param])


def parse(query: Mapping[str, str]) -> dict[str, Any]:
    """Flat values from a URL's query parameters (strings), typed like `DEFAULTS`; the parameter
    is named in the error (its ``.field``) when a value does not parse.

    Example:
        >>> parse({"lr": "0.1", "bm": "true", "rule3": "fa"})
        {'lr': 0.1, 'bm': True, 'rule3': 'fa'}
        >>> parse({"epochs": "ten"})
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: epochs: expected a whole number, got 'ten'
    """
    out: dict[str, Any] = {}
    for key, text in query.items():
        if key not in DEFAULTS:
            raise ConfigError(f"{key}: not a setup parameter (known: {', '.join(DEFAULTS)})", field=key)
        kind = type(DEFAULTS[key])
        try:
            if kind is bool:
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                out[key] = text.lower() in ("true", "1")
            elif kind is int:
                out[key] = int(text)
            elif kind is float:
                out[key] = float(text)
            else:
                out[key] = text
        except ValueError:
            what = {bool: "true or false", int: "a whole number", float: "a number"}[kind]
            raise ConfigError(f"{key}: expected {what}, got {text!r}", field=key) from None
    return out


def query(values: Mapping[str, Any]) -> dict[str, str]:
    """The values that differ from `DEFAULTS`, as query-parameter strings (`parse` reads them back).

    Example:
        >>> query({"lr": 0.1, "epochs": DEFAULT_EPOCHS, "bm": True, "init_low": float("nan")})
        {'lr': '0.1', 'bm': 'true'}
    """
    def text(v: Any) -> str:
        return str(v).lower() if isinstance(v, bool) else f"{v:g}" if isinstance(v, float) else str(v)
    return {k: text(v) for k, v in values.items() if k not in DEFAULTS or not _same(v, DEFAULTS[k])}


def query_string(values: Mapping[str, Any]) -> str:
    """``values`` (those that differ from `DEFAULTS`) as a URL query string, booleans as true/false."""
    return urlencode(query(values))


def refusals(query: Mapping[str, str]) -> dict[str, str]:
    """The values of a link (query parameters, strings) that the page cannot take, each with the
    reason in the page's words (`read_link_value`). Other parameters are not looked at; `screen`
    is the whole door.

    Example:
        >>> for param, words in refusals({"reduce": "max", "epochs": "ten", "lr": "0.1", "crop": "4"}).items():
        ...     print(param, words)
        reduce The link's reduce='max' was not used: loss over a batch must be one of mean, sum
        epochs The link's epochs='ten' was not used: epochs: expected a whole number (allowed: at least 1 and at most 1000000)
    """
    out = {}
    for key, text in query.items():
        if key not in DEFAULTS:
            continue
        try:
            read_link_value(key, text)
        except ConfigError as err:
            out[key] = f"The link's {key}={text!r} was not used: {say(LABELS[key], err.problem)}"
    return out


# A number's own range is probed in a setup where it is read and nothing else can refuse it: the
# initialiser family that reads the field, its partner bound wide open; the schedule that reads it.
def _probe_context(key: str) -> dict[str, Any]:
    from explorer.config.bounds import MAX_MAGNITUDE

    prefix, _, field = key.partition("_")
    if prefix in ("init", "fb") and field in INIT_FIELDS:
        family = next(name for name, fields in INIT_PARAMS.items() if field in fields)
        partner = {"low": ("high", MAX_MAGNITUDE), "high": ("low", -MAX_MAGNITUDE)}.get(field)
        return {prefix: family, **({f"{prefix}_{partner[0]}": partner[1]} if partner else {})}
    if key in ("sched_step", "sched_gamma"):
        return {"sched": "step"}
    if key in ("crop", "flip"):
        return {"data": "mnist"}
    return {}


def _own_problem(key: str, value: Any) -> str | None:
    """Why ``value`` is outside ``key``'s own declared range (the registry's or the config's
    bounds), in the page's words; None if it is inside. A value whose trouble is another setting
    (a bound that depends on the network) is not refused here."""
    slot = slot_of(key)
    if slot is not None and key.startswith("r"):
        option = key.split("_", 1)[1]
        if option in OPTIONS and OPTIONS[option].kind in ("int", "float"):
            try:
                OPTIONS[option].read(value, option)
            except ConfigError as err:
                return err.problem
        return None
    from explorer.data.shapes import PastTheData
    from explorer.runs.workspace import comparison_configs

    values = {**_probe_context(key), key: value}
    try:
        comparison_configs(*configs(values))
    except PastTheData:
        return None   # the dataset's bound, not the value's own: told beside the control
    except ConfigError as err:
        param, words = explain(err, values)
        if param == key:
            return words[len(LABELS[key]):].lstrip(": ") if words.startswith(LABELS[key]) else words
    return None


def allowed(key: str) -> str:
    """The range a number parameter takes, from the bounds the registry and the config declare
    (probed at both ends, so the words are theirs): "" for other parameters.

    Example:
        >>> allowed("lr"), allowed("r2_block_size"), allowed("momentum")
        ('greater than 0 and at most 1e+06', 'at least 1 and at most 1024', 'at least 0 and at most 0.999999')
    """
    kind = type(DEFAULTS[key])
    if kind not in (int, float):
        return ""
    ends = []
    for probe in ((-10**30, 10**30) if kind is int else (-1e300, 1e300)):
        problem = _own_problem(key, probe)
        if problem and problem.startswith("must be "):
            ends.append(problem[len("must be "):].split(", got")[0])
    return " and ".join(ends)


def read_link_value(key: str, text: str) -> Any:
    """The value a link's ``key=text`` gives the Train page's control, or a `ConfigError` (its
    ``.field`` the parameter) saying why the page cannot use it: not of the control's type, not
    finite, not one of the choices, or outside the number's declared range (the allowed range
    said). Text controls take any text (the setup check tells what is wrong with it).

    Example:
        >>> read_link_value("lr", "0.1"), read_link_value("rule2", "fa")
        (0.1, 'fa')
        >>> read_link_value("lr", "-1")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: lr: must be greater than 0, got -1 (allowed: greater than 0 and at most 1e+06)
        >>> read_link_value("r2_block_size", "0")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: r2_block_size: must be at least 1, got 0 (allowed: at least 1 and at most 1024)
    """
    try:
        value = parse({key: text})[key]
    except ConfigError as err:   # the text is quoted in the message that names the parameter
        span = allowed(key) if key in DEFAULTS else ""
        raise ConfigError(f"{key}: {err.problem.split(', got ')[0]}{f' (allowed: {span})' if span else ''}",
                          field=key) from None
    if isinstance(value, float) and not math.isfinite(value):
        span = allowed(key)
        raise ConfigError(f"{key}: expected a finite number{f' ({span})' if span else ''}, got {text!r}", field=key)
    if key in CHOICES:
        if value not in CHOICES[key]:
            raise ConfigError(f"{key}: must be one of {', '.join(CHOICES[key])}", field=key)
        return value
    if type(DEFAULTS[key]) in (int, float):
        problem = _own_problem(key, value)
        if problem:
            span = allowed(key)
            raise ConfigError(f"{key}: {problem}{f' (allowed: {span})' if span else ''}", field=key)
    return value


def link_params() -> dict[str, Any]:
    """The Train page's parameters for `explorer.views.links.screen`: each read by `read_link_value`."""
    from explorer.views.links import Param

    def label(key: str) -> str:   # a rule's option is named with its slot, as the page's errors name it
        slot = slot_of(key)
        return f"Rule {slot}: {LABELS[key]}" if slot is not None and not key.startswith("rule") else LABELS[key]

    return {key: Param(label(key), lambda text, key=key: read_link_value(key, text)) for key in DEFAULTS}


# --- A refused setup, placed and told in a front end's words ---------------------------------------

def located(err: ConfigError) -> tuple[int | None, str, str]:
    """(the index of the rule the error is about, or None; its field within one config; the problem
    without the field) of a `ConfigError`, read from its ``.field`` (``rules[1].algorithm.block_size``:
    rule 1, ``algorithm.block_size``). A list index at the end of the field is dropped
    (``model.hidden[0]`` is about ``model.hidden``). Every front end places an error with this.

    Example:
        >>> from explorer.runs.workspace import comparison_configs
        >>> try:
        ...     comparison_configs({}, [{"name": "bp"}, {"name": "bdfa", "block_size": 0}])
        ... except ConfigError as err:
        ...     located(err)
        (1, 'algorithm.block_size', 'must be at least 1, got 0')
        >>> located(ConfigError("model.hidden[1] must be at least 1, got 0", field="model.hidden[1]"))
        (None, 'model.hidden', 'must be at least 1, got 0')
    """
    field, index = err.field or "", None
    ruled = re.match(r"(?:rules|configs)\[(\d+)\]", field)
    if ruled:
        index = int(ruled.group(1))
        field = field[len(ruled.group(0)):].lstrip(".")
    return index, re.sub(r"(\[\d+\])+$", "", field), err.problem


def plain(problem: str, field: str) -> str:
    """``problem`` without the config's section names of ``field``'s siblings: "must be less than
    init.high" about ``init.low`` reads "must be less than high".

    Example:
        >>> plain("must be less than init.high, got low=0.5 >= high=-0.5", "init.low")
        'must be less than high, got low=0.5 >= high=-0.5'
    """
    return problem.replace(field.rsplit(".", 1)[0] + ".", "") if "." in field else problem


def explain(err: ConfigError, values: Mapping[str, Any] = {}) -> tuple[str | None, str]:
    """A `ConfigError` about a setup (from `configs` or `runs.comparison_configs`) in the Train page's
    words: (the parameter whose control it is about, or None; the message). The parameter comes from
    the error's ``.field``: a config field (``optimizer.lr``: ``lr``), a rule's own field
    (``rules[1].algorithm.block_size``: that rule's slot among ``values``' filled ones, ``r2_block_size``)
    or a parameter itself (``rule3``); the message says the control's label (`LABELS`) and the problem.

    Example:
        >>> from explorer.runs.workspace import comparison_configs
        >>> def refused(values):
        ...     try:
        ...         comparison_configs(*configs(values))
        ...     except ConfigError as err:
        ...         return explain(err, values)
        >>> refused({"rule2": "bdfa", "r2_block_size": 0})
        ('r2_block_size', 'Rule 2: hidden layers per block must be at least 1, got 0')
        >>> refused({"rule2": "none", "rule3": "fp", "r3_bp_depth": 5, "hidden": "8,8"})
        ('r3_bp_depth', 'Rule 3: top layers trained by BP must be at most the number of hidden layers (2), got 5')
        >>> refused({"init": "uniform", "init_low": 0.5, "init_high": -0.5})
        ('init_low', 'forward init: low must be less than high, got low=0.5 >= high=-0.5')
        >>> refused({"lr": 0.0}), refused({"hidden": "64,x"})[0]
        (('lr', 'learning rate must be greater than 0, got 0'), 'hidden')
    """
    index, field, problem = located(err)
    problem = plain(problem, field)
    if field in DEFAULTS:   # this module's own errors name the parameter
        return field, say(LABELS[field], problem)
    if field in FIELD_PARAMS:
        param = FIELD_PARAMS[field]
        return param, say(LABELS[param], problem)
    if field == "rules":
        return "rules", say("rules", problem)
    if field.startswith("algorithm.") and index is not None:
        filled = _filled_slots(values)
        slot = filled[index] if index < len(filled) else index + 1
        option = {"algorithm.name": None, "algorithm.train_hidden": "shallow"}.get(field, field[len("algorithm."):])
        if option is None or f"r{slot}_{option}" not in LABELS:
            return f"rule{slot}", f"Rule {slot}: {problem}"
        return f"r{slot}_{option}", f"Rule {slot}: {say(LABELS[f'r{slot}_{option}'], problem)}"
    return None, str(err)


def options_not_taken(values: Mapping[str, Any]) -> dict[str, str]:
    """The options among ``values`` that their rule or initialiser does not take (``r2_bp_depth``
    for DFA, ``init_std`` for a uniform init), each with why: the page shows no control for them,
    so a link's value would ride along unused, and come back unasked when the choice changes.

    Example:
        >>> options_not_taken({"rule2": "dfa", "r2_bp_depth": 5, "rule3": "fp", "r3_bp_depth": 1})
        {'r2_bp_depth': 'Rule 2 (dfa) takes no top layers trained by BP'}
        >>> options_not_taken({"init": "uniform", "init_low": -0.1, "init_std": 0.3, "fb_gain": 2.0})
        {'init_std': 'forward init (uniform) takes no std', 'fb_gain': 'feedback init (default) takes no gain'}
    """
    v = {**DEFAULTS, **values}
    out = {}
    for key in values:
        prefix, _, field = key.partition("_")
        if prefix in INIT_LABELS and field in INIT_FIELDS and field not in INIT_PARAMS[v[prefix]]:
            out[key] = f"{INIT_LABELS[prefix]} ({v[prefix]}) takes no {field}"
            continue
        slot = slot_of(key)
        if slot is None or key == f"rule{slot}":
            continue
        field, rule = key[len(f"r{slot}_"):], v[f"rule{slot}"]
        spec = RULES.get(rule)
        taken = spec is not None and (field in spec.options or (field == "shallow" and spec.shallow))
        if not taken:
            out[key] = f"Rule {slot} ({rule}) takes no {RULE_OPTION_LABELS.get(field, field)}"
    return out


def slot_of(param: str | None) -> int | None:
    """The rule slot a parameter belongs to (``rule3``, ``r3_block_size``: 3), else None.

    Example:
        >>> slot_of("rule3"), slot_of("r2_block_size"), slot_of("lr"), slot_of(None)
        (3, 2, None, None)
    """
    found = re.fullmatch(r"rule(\d+)|r(\d+)_[a-z_]+", param or "")
    slot = int(found.group(1) or found.group(2)) if found else 0
    return slot if 1 <= slot <= SLOTS else None


def _filled_slots(values: Mapping[str, Any]) -> list[int]:
    v = {**DEFAULTS, **values}
    return [i for i in range(1, SLOTS + 1) if v[f"rule{i}"] != NONE]


__all__ = ["CONTROLS", "DEFAULTS", "options_not_taken", "LABELS", "explain", "located", "say", "slot_of", "SLOTS", "NONE", "configs", "params",
           "parse", "parse_widths", "format_widths", "query", "query_string", "option_default", "option_choices",
           "parse_numbers", "format_numbers", "parse_resize", "takes_images", "takes_resize", "takes_dropout", "refusals", "differs",
           "read_link_value", "allowed", "link_params",
           "CHOICES", "HELP",
           "SCHEDULE_CHOICES", "SCHEDULE_PARAMS", "LOSSES", "OPTIMIZERS", "RULES"]
