"""A comparison's whole setup as flat parameters: what the Train page's controls hold and its URL carries.

The Train page has one control per parameter below, keyed by the parameter's name and bound to the
URL's query string, so a link reproduces the setup. This module turns those flat values into the
configs of a comparison (`configs`) and back (`params`), and reads them from query strings
(`parse`, every value a string). Only values that differ from `DEFAULTS` travel in a link.

The rules to compare sit in four slots, ``rule1`` … ``rule4`` ("none" leaves a slot empty); a
slot's options are ``r1_block_size``, ``r1_connections``, … (only the ones its rule takes are read).
``maps`` keeps hidden representations of a
fixed probe set at about ten checkpoints (for the Representations page). The feedback initialiser ``fb_*`` is shared by the rules that have feedback matrices. ``hide`` lists
controls a teacher hides in a shared link (classroom mode); ``group`` is the id of the runs shown.

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

from explorer.config import (
    DEFAULT_LR,
    INIT_PARAMS,
    LOSSES,
    OPTIMIZERS,
    RULE_OPTIONS,
    RULES,
    ConfigError,
    RunConfig,
)

SLOTS = 4
NONE = "none"
INIT_FIELDS = ("low", "high", "mean", "std", "gain")
RULE_FIELDS = ("block_size", "bp_depth", "connections", "sign_refresh", "scale", "variant", "shallow")
CONTROLS = ("data", "model", "rules", "init", "feedback", "optimizer", "training", "seed", "device")

# The default comparison lasts long enough to watch it learn (27 s from the click to the end in the
# app on a 2-core machine: 500 epochs of the built-in digits); Pause or Stop end it sooner.
DEFAULT_EPOCHS = 500
# Every parameter and its default; the type of the default is the parameter's type.
DEFAULTS: dict[str, Any] = {
    "data": "digits", "data_root": "",
    "model": "mlp", "hidden": "64,64", "act": "relu",
    **{f"rule{i}": NONE for i in range(1, SLOTS + 1)},
    "init": "default", **{f"init_{f}": math.nan for f in INIT_FIELDS},
    "fb": "default", **{f"fb_{f}": math.nan for f in INIT_FIELDS},
    "opt": "sgd", "lr": 0.05, "momentum": 0.9, "wd": 0.0, "bm": False,
    "batch": 64, "epochs": DEFAULT_EPOCHS, "loss": "cross_entropy", "seed": 0, "device": "auto", "maps": True,
    "hide": "", "group": "",
}
DEFAULTS["rule1"], DEFAULTS["rule2"] = "bp", "dfa"
for _i in range(1, SLOTS + 1):
    DEFAULTS.update({f"r{_i}_block_size": 1, f"r{_i}_bp_depth": 0, f"r{_i}_connections": 1,
                     f"r{_i}_sign_refresh": NONE, f"r{_i}_scale": 1.0, f"r{_i}_variant": "gaussian",
                     f"r{_i}_shallow": False})

_RULE_OPTION_OF = {**RULE_OPTIONS, "shallow": None}

# What the Train page calls each parameter's control: errors are told in these words (`explain`).
RULE_OPTION_LABELS = {"block_size": "hidden layers per block", "bp_depth": "top layers trained by BP",
                      "connections": "non-zeros per feedback column", "sign_refresh": "make B sign-concordant",
                      "scale": "scale of sign(W)", "variant": "features", "shallow": "shallow (hidden layers frozen)"}
INIT_LABELS = {"init": "forward init", "fb": "feedback init"}
LABELS: dict[str, str] = {
    "data": "Dataset", "data_root": "data folder", "model": "Network", "hidden": "hidden widths", "act": "activation",
    **{f"rule{i}": f"Rule {i}" for i in range(1, SLOTS + 1)},
    **{f"r{i}_{f}": label for i in range(1, SLOTS + 1) for f, label in RULE_OPTION_LABELS.items()},
    **INIT_LABELS, **{f"{p}_{f}": f"{INIT_LABELS[p]}: {f}" for p in INIT_LABELS for f in INIT_FIELDS},
    "opt": "optimiser", "lr": "learning rate", "momentum": "momentum", "wd": "weight decay",
    "bm": "Batch Manhattan (sign of the update)", "batch": "batch size", "epochs": "epochs", "loss": "loss",
    "seed": "seed", "device": "device", "maps": "keep hidden maps", "hide": "hidden controls", "group": "runs shown",
}
# Config fields (outside the algorithm) and the parameter that sets each.
FIELD_PARAMS = {"data.name": "data", "data.root": "data_root", "model.name": "model", "model.hidden": "hidden",
                "model.activation": "act", "optimizer.name": "opt", "optimizer.lr": "lr",
                "optimizer.momentum": "momentum", "optimizer.weight_decay": "wd", "optimizer.batch_manhattan": "bm",
                "train.epochs": "epochs", "train.batch_size": "batch", "train.loss": "loss", "seed": "seed",
                "device": "device", "init.name": "init", "algorithm.feedback_init.name": "fb",
                **{f"init.{f}": f"init_{f}" for f in INIT_FIELDS},
                **{f"algorithm.feedback_init.{f}": f"fb_{f}" for f in INIT_FIELDS}}

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


def _widths(text: str, name: str) -> list[int]:
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        widths = [int(p) for p in parts]
    except ValueError:
        raise ConfigError(f"{name}: layer widths are whole numbers separated by commas, like 64,64; "
                          f"got {text!r}") from None
    return widths


def _init(values: Mapping[str, Any], prefix: str) -> dict:
    name = values[prefix]
    spec = {"name": name}
    for field in INIT_PARAMS.get(name, ()):
        value = values.get(f"{prefix}_{field}", math.nan)
        if isinstance(value, float) and math.isnan(value):
            continue  # unset: the initialiser's own default (or its error naming the field)
        spec[field] = value
    return spec


def _full(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: not a setup parameter (known: {', '.join(DEFAULTS)})")
    return {**DEFAULTS, **values}


def configs(values: Mapping[str, Any]) -> tuple[dict, list[dict]]:
    """(base config dict without its algorithm, the algorithm dicts of the filled slots) from flat
    values (missing ones take `DEFAULTS`). Errors name the parameter; `runs.comparison_configs`
    validates the rest and names the config field."""
    v = _full(values)
    data: dict[str, Any] = {"name": v["data"]}
    if v["data_root"]:
        data["root"] = v["data_root"]
    model: dict[str, Any] = {"name": v["model"], "activation": v["act"]}
    if v["model"] == "mlp":
        model["hidden"] = _widths(v["hidden"], "hidden")
    optimizer = {"name": v["opt"], "lr": v["lr"], "weight_decay": v["wd"], "batch_manhattan": v["bm"]}
    if v["opt"] in ("sgd", "rmsprop"):
        optimizer["momentum"] = v["momentum"]
    base = {"data": data, "model": model, "init": _init(v, "init"), "optimizer": optimizer,
            "train": {"epochs": v["epochs"], "batch_size": v["batch"], "loss": v["loss"]}, "seed": v["seed"]}
    if v["device"] != "auto":
        base["device"] = v["device"]
    if v["maps"]:
        base["train"].update(snapshots=snapshot_epochs(v["epochs"]), snapshot_samples=MAP_SAMPLES)
    rules = []
    for i in range(1, SLOTS + 1):
        name = v[f"rule{i}"]
        if name == NONE:
            continue
        if name not in RULES:
            raise ConfigError(f"rule{i}: unknown learning rule {name!r} (choose from {', '.join(RULES)})")
        rule: dict[str, Any] = {"name": name}
        for field in RULE_FIELDS:
            owner = _RULE_OPTION_OF[field]
            if owner == name and v[f"r{i}_{field}"] != NONE:  # sign_refresh "none": plain FA, B as drawn
                rule[field] = v[f"r{i}_{field}"]
        if v[f"r{i}_shallow"]:
            rule["train_hidden"] = False
        if v["fb"] != "default" and name not in ("bp", "rf", "ntk", "usf"):
            rule["feedback_init"] = _init(v, "fb")
        rules.append(rule)
    return base, rules


def params(base: RunConfig | Mapping, rules: Sequence[Mapping]) -> dict[str, Any]:
    """The flat values of a comparison (base config + algorithm dicts) that differ from `DEFAULTS`:
    the inverse of `configs`. Settings the Train page has no control for raise `ConfigError`."""
    d = base.to_dict() if isinstance(base, RunConfig) else dict(base)
    if len(rules) > SLOTS:
        raise ConfigError(f"rules: at most {SLOTS} rules fit the Train page, got {len(rules)}")
    data, model = dict(d.get("data", {"name": "digits"})), d.get("model", {"name": "mlp"})
    opt, train = d.get("optimizer", {"name": "sgd"}), d.get("train", {})
    v: dict[str, Any] = {"data": data.pop("name", "digits"), "data_root": data.pop("root", "")}
    if data:
        raise ConfigError(f"data.{next(iter(data))}: the Train page has no control for this dataset option")
    v.update({"model": model.get("name", "mlp"), "act": model.get("activation", "relu"),
              "opt": opt.get("name", "sgd"), "lr": opt.get("lr", DEFAULT_LR[opt.get("name", "sgd")]),
              "momentum": opt.get("momentum", 0.9), "wd": opt.get("weight_decay", 0.0),
              "bm": opt.get("batch_manhattan", False), "batch": train.get("batch_size", 64),
              "epochs": train.get("epochs", 10), "loss": train.get("loss", "cross_entropy"),
              "seed": d.get("seed", 0), "device": d.get("device", "auto"), "maps": bool(train.get("snapshots"))})
    if "hidden" in model:
        v["hidden"] = ",".join(str(w) for w in model["hidden"])
    _put_init(v, "init", d.get("init", {"name": "default"}))
    feedbacks = [r["feedback_init"] for r in rules if "feedback_init" in r]
    if any(f != feedbacks[0] for f in feedbacks):
        raise ConfigError("rules: the Train page gives every rule the same feedback initialiser")
    if feedbacks:
        _put_init(v, "fb", feedbacks[0])
    for i in range(1, SLOTS + 1):
        v[f"rule{i}"] = NONE
    for i, rule in enumerate(rules, start=1):
        v[f"rule{i}"] = rule["name"]
        for field in RULE_FIELDS:
            if field in rule:
                v[f"r{i}_{field}"] = rule[field]
        if rule.get("train_hidden") is False:
            v[f"r{i}_shallow"] = True
    return {k: v[k] for k in DEFAULTS if k in v and not _same(v[k], DEFAULTS[k])}


def _put_init(v: dict, prefix: str, spec: Mapping | str) -> None:
    spec = {"name": spec} if isinstance(spec, str) else spec
    v[prefix] = spec.get("name", "default")
    for field in INIT_FIELDS:
        if field in spec:
            v[f"{prefix}_{field}"] = float(spec[field])
    if "inner" in spec:
        raise ConfigError(f"{prefix}: the Train page has no control for a sign-concordant initialiser's inner one")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is type(b) or (isinstance(b, float) and isinstance(a, int) and a == b
                                             and not isinstance(a, bool))


def parse(query: Mapping[str, str]) -> dict[str, Any]:
    """Flat values from a URL's query parameters (strings), typed like `DEFAULTS`; the parameter
    is named in the error when a value does not parse.

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
            raise ConfigError(f"{key}: not a setup parameter (known: {', '.join(DEFAULTS)})")
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
            raise ConfigError(f"{key}: expected {what}, got {text!r}") from None
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


def explain(message: str, values: Mapping[str, Any] = {}) -> tuple[str | None, str]:
    """A `ConfigError` message about a setup (from `configs` or `runs.comparison_configs`) in the
    Train page's words: (the parameter whose control it is about, or None; the message). Config
    field names become control labels (`LABELS`); a rule's own setting is named with its slot
    ("Rule 3 · …", the slot found among ``values``' filled ones); "…, got x" becomes "… (got x)".

    Example:
        >>> explain("rules[0]: init.low must be less than init.high, got low=0.5 >= high=-0.5")
        ('init_low', 'forward init: low must be less than high (got low=0.5 >= high=-0.5)')
        >>> explain("rules[1]: algorithm.bp_depth must be at most 2, got 5", {"rule2": "none", "rule3": "fp"})
        ('r3_bp_depth', 'Rule 3 · top layers trained by BP must be at most 2 (got 5)')
        >>> explain("rules[0]: optimizer.lr must be greater than 0, got 0")
        ('lr', 'learning rate must be greater than 0 (got 0)')
        >>> explain("hidden: layer widths are whole numbers separated by commas, like 64,64; got '64,x'")
        ('hidden', "hidden widths: layer widths are whole numbers separated by commas, like 64,64; got '64,x'")
    """
    index, rest = None, message
    ruled = re.match(r"rules\[(\d+)\]: (.*)", message, re.S)
    if ruled:
        index, rest = int(ruled.group(1)), ruled.group(2)
    rest = re.sub(r",? got (.*)$", r" (got \1)", rest, flags=re.S) if ", got " in rest else rest
    field = re.match(r"[a-z_]+(?:\.[a-z_]+)*", rest)
    field = field.group(0) if field else ""
    param = FIELD_PARAMS.get(field)
    if param is not None and param.split("_")[0] in INIT_LABELS:   # forward or feedback init: its fields by name
        prefix = field.rsplit(".", 1)[0] + "."
        return param, f"{INIT_LABELS[param.split('_')[0]]}: {rest.replace(prefix, '')}"
    if param is not None:
        return param, LABELS[param] + rest[len(field):]
    if field.startswith("algorithm.") and index is not None:
        slot = _filled_slots(values)[index] if index < len(_filled_slots(values)) else index + 1
        option = {"name": "", "train_hidden": "shallow"}.get(field[len("algorithm."):], field[len("algorithm."):])
        param = f"r{slot}_{option}" if option else f"rule{slot}"
        name = f"Rule {slot} · {LABELS[param]}" if param in LABELS and option else f"Rule {slot}"
        return param, name + rest[len(field):]
    head = rest.split(":", 1)[0]
    if head in LABELS:
        return head, LABELS[head] + rest[len(head):]
    return None, rest


def _filled_slots(values: Mapping[str, Any]) -> list[int]:
    v = {**DEFAULTS, **values}
    return [i for i in range(1, SLOTS + 1) if v[f"rule{i}"] != NONE]


__all__ = ["CONTROLS", "DEFAULTS", "LABELS", "explain", "SLOTS", "NONE", "configs", "params", "parse", "query", "query_string",
           "LOSSES", "OPTIMIZERS"]
