"""The controls that describe a run, as ipywidgets: they read a `RunConfig` in and give one back.

`SetupForm` holds the Train page's controls (dataset, network, rules to compare, forward and
feedback initialisers, optimiser, training, seed). It is set from a config and a list of rules and
returns one validated `RunConfig` per rule; whatever the form does not show (dataset options,
``train.log_every``, snapshots, a rule's extra options) is carried over from the config it was set
from, so ``SetupForm(cfg, [cfg.algorithm.to_dict()]).configs() == [cfg]``. A `ConfigError` is shown
next to the section whose field it names.

Example:
    >>> form = SetupForm(RunConfig.from_dict({"algorithm": {"name": "dfa"}, "seed": 3}), [{"name": "dfa"}])
    >>> form.rules.names.value = ["bp", "dfa"]
    >>> [(c.algorithm.name, c.seed) for c in form.configs()]
    [('bp', 3), ('dfa', 3)]
    >>> form.optimizer.lr.value = 0.0
    >>> form.check() is None, form.errors["optimizer"].value != ""
    (True, True)
"""

from __future__ import annotations

import copy
import re
from typing import Any, Mapping, Sequence

import ipywidgets as widgets

from explorer.config import (
    ACTIVATIONS,
    DEFAULT_LR,
    DEVICES,
    INIT_PARAMS,
    LOSSES,
    MODEL_OPTIONS,
    OPTIMIZERS,
    RULES,
    ConfigError,
    RunConfig,
)
from explorer.config.dataset_options import DATASET_OPTIONS
from explorer.runs.workspace import comparison_configs
from explorer.widgets.common import error_label, message_html

WIDE = {"description_width": "initial"}
RULE_DEFAULT = "rule's default"       # feedback initialiser left to the rule (no feedback_init)
NO_FEEDBACK = ("bp", "rf", "ntk", "usf")  # rules that take no feedback_init
RULE_OPTION = {"bdfa": ("block_size", "BDFA block size"), "fp": ("bp_depth", "FP: hidden layers by BP"),
               "sdfa": ("connections", "sDFA connections")}
# Where a ConfigError's field is shown: the first prefix it starts with.
SECTION_OF = (("algorithm.feedback_init", "feedback"), ("algorithm", "rules"), ("rules", "rules"),
              ("data", "data"), ("model", "model"), ("init", "init"), ("optimizer", "optimizer"),
              ("train", "train"), ("seed", "train"), ("device", "train"))
SECTIONS = ("data", "model", "rules", "init", "feedback", "optimizer", "train", "general")


def section_of(message: str) -> str:
    """The form section a `ConfigError` message is about (by the field it names), else "general".

    Example:
        >>> section_of("rules[1]: algorithm.block_size is required"), section_of("optimizer.lr must be ...")
        ('rules', 'optimizer')
        >>> section_of("rules[0]: algorithm.feedback_init.low must be less than ..."), section_of("odd")
        ('feedback', 'general')
    """
    rest = re.sub(r"^(rules|configs)\[\d+\]: ", "", message)
    for prefix, section in SECTION_OF:
        if rest.startswith(prefix) and (len(rest) == len(prefix) or rest[len(prefix)] in ".:[ "):
            return section
    return "general"


def parse_widths(text: str) -> list[int]:
    """Hidden layer widths typed as ``64, 64`` or ``20x64`` (20 layers of 64); empty: none.

    Example:
        >>> parse_widths("64, 32"), parse_widths("3x16"), parse_widths(" ")
        ([64, 32], [16, 16, 16], [])
    """
    text = text.strip()
    m = re.fullmatch(r"(\d+)\s*[x×]\s*(\d+)", text)
    if m:
        return [int(m.group(2))] * int(m.group(1))
    parts = [p for p in re.split(r"[,\s]+", text) if p]
    if not all(p.isdigit() for p in parts):
        raise ConfigError(f"model.hidden must be layer widths like '64, 64' or '20x64' (20 layers of 64), got {text!r}")
    return [int(p) for p in parts]


def format_widths(widths: Sequence[int]) -> str:
    """The text `parse_widths` reads back: ``20x64`` for four or more equal layers.

    Example:
        >>> format_widths([64, 64]), format_widths([16] * 5)
        ('64, 64', '5x16')
    """
    if len(widths) >= 4 and len(set(widths)) == 1:
        return f"{len(widths)}x{widths[0]}"
    return ", ".join(map(str, widths))


def _number_or_text(text: str) -> Any:
    """A typed number, or the text itself (the config then says the field is not a number)."""
    try:
        return float(text)
    except ValueError:
        return text


class InitControl:
    """An initialiser (forward or feedback weights): its family and, where it has them, its range
    (uniform: low, high; normal: mean, std; the scaled families: gain, empty for the default).
    With ``rule_default`` the first choice leaves the initialiser to the rule (None).

    Example:
        >>> c = InitControl("feedback init", {"name": "uniform", "low": -0.5, "high": 0.5}, rule_default=True)
        >>> c.get()
        {'name': 'uniform', 'low': -0.5, 'high': 0.5}
        >>> c.name.value = RULE_DEFAULT; c.get() is None
        True
    """

    def __init__(self, description: str, spec: Mapping | None, *, rule_default: bool = False,
                 forward: bool = False) -> None:
        names = [n for n in INIT_PARAMS if not (forward and n == "sign_concordant")]
        self.name = widgets.Dropdown(options=([RULE_DEFAULT] if rule_default else []) + names,
                                     description=description, style=WIDE)
        self.fields = {"low": widgets.FloatText(-0.1, description="low", layout={"width": "150px"}),
                       "high": widgets.FloatText(0.1, description="high", layout={"width": "150px"}),
                       "mean": widgets.FloatText(0.0, description="mean", layout={"width": "150px"}),
                       "std": widgets.FloatText(0.1, description="std", layout={"width": "150px"}),
                       "gain": widgets.Text("", description="gain", placeholder="default",
                                            layout={"width": "150px"})}
        self.box = widgets.HBox([self.name, *self.fields.values()])
        self._initial: dict = {}
        self.name.observe(lambda _: self._show_fields(), "value")
        self.set(spec)

    def set(self, spec: Mapping | None) -> None:
        self._initial = copy.deepcopy(dict(spec)) if spec else {}
        for key, field in self.fields.items():
            if key in self._initial:
                field.value = "" if self._initial[key] is None else (
                    str(self._initial[key]) if key == "gain" else self._initial[key])
        self.name.value = self._initial.get("name", "default") if spec else self.name.options[0]
        self._show_fields()

    def get(self) -> dict | None:
        name = self.name.value
        if name == RULE_DEFAULT:
            return None
        d = copy.deepcopy(self._initial) if self._initial.get("name") == name else {"name": name}
        for key in INIT_PARAMS[name]:
            if key == "gain":
                text = self.fields["gain"].value.strip()
                d.pop("gain", None)
                if text:
                    d["gain"] = _number_or_text(text)
            elif key in self.fields:
                d[key] = self.fields[key].value
        return d

    def _show_fields(self) -> None:
        shown = INIT_PARAMS.get(self.name.value, ())
        for key, field in self.fields.items():
            field.layout.display = None if key in shown else "none"

    @property
    def controls(self) -> list[widgets.Widget]:
        return [self.name, *self.fields.values()]


class OptimizerControl:
    """Optimiser, learning rate, momentum (SGD and RMSprop), weight decay and Batch Manhattan.
    Choosing another optimiser by hand puts its usual learning rate in.

    Example:
        >>> c = OptimizerControl({"name": "sgd", "lr": 0.1, "momentum": 0.5})
        >>> c.get()["lr"], c.get()["momentum"]
        (0.1, 0.5)
        >>> c.name.value = "adam"; c.get()
        {'name': 'adam', 'lr': 0.001, 'weight_decay': 0.0, 'batch_manhattan': False}
    """

    def __init__(self, spec: Mapping) -> None:
        self.name = widgets.Dropdown(options=OPTIMIZERS, description="optimiser", style=WIDE)
        self.lr = widgets.FloatText(0.05, description="learning rate", style=WIDE, layout={"width": "210px"})
        self.momentum = widgets.FloatText(0.9, description="momentum", style=WIDE, layout={"width": "180px"})
        self.weight_decay = widgets.FloatText(0.0, description="weight decay", style=WIDE, layout={"width": "200px"})
        self.batch_manhattan = widgets.Checkbox(False, description="Batch Manhattan (sign of the gradient)",
                                                style=WIDE, indent=False)
        self.box = widgets.HBox([self.name, self.lr, self.momentum, self.weight_decay, self.batch_manhattan])
        self._initial: dict = {}
        self._setting = False
        self.name.observe(self._on_name, "value")
        self.set(spec)

    def set(self, spec: Mapping) -> None:
        self._setting = True
        try:
            self._initial = copy.deepcopy(dict(spec))
            self.name.value = spec.get("name", "sgd")
            self.lr.value = spec.get("lr", DEFAULT_LR[self.name.value])
            self.momentum.value = spec.get("momentum", 0.9 if self.name.value == "sgd" else 0.0)
            self.weight_decay.value = spec.get("weight_decay", 0.0)
            self.batch_manhattan.value = bool(spec.get("batch_manhattan", False))
        finally:
            self._setting = False
        self._show_fields()

    def _on_name(self, change) -> None:
        if not self._setting:  # a person chose another optimiser: start from its usual settings
            self.lr.value = DEFAULT_LR[change["new"]]
            self.momentum.value = 0.9 if change["new"] == "sgd" else 0.0
        self._show_fields()

    def _show_fields(self) -> None:
        self.momentum.layout.display = None if self.name.value in ("sgd", "rmsprop") else "none"

    def get(self) -> dict:
        name = self.name.value
        d = {"name": name, "lr": self.lr.value, "weight_decay": self.weight_decay.value,
             "batch_manhattan": self.batch_manhattan.value}
        if name in ("sgd", "rmsprop"):
            d["momentum"] = self.momentum.value
        if name == "sgd" and self._initial.get("name") == "sgd" and "nesterov" in self._initial:
            d["nesterov"] = self._initial["nesterov"]
        return d

    @property
    def controls(self) -> list[widgets.Widget]:
        return [self.name, self.lr, self.momentum, self.weight_decay, self.batch_manhattan]


class RulesControl:
    """The rules to compare (up to four, in order) and the options the chosen ones need; the
    feedback initialiser is shared by the rules that have feedback matrices.

    Example:
        >>> c = RulesControl([{"name": "bp"}, {"name": "bdfa", "block_size": 3}])
        >>> c.get({"name": "uniform", "low": -0.1, "high": 0.1})
        [{'name': 'bp'}, {'name': 'bdfa', 'block_size': 3, 'feedback_init': {'name': 'uniform', 'low': -0.1, 'high': 0.1}}]
    """

    def __init__(self, algorithms: Sequence[Mapping]) -> None:
        self.names = widgets.TagsInput(allowed_tags=list(RULES), allow_duplicates=False)
        self.options = {rule: widgets.BoundedIntText(1, min=0, max=10_000, description=text, style=WIDE,
                                                     layout={"width": "240px"})
                        for rule, (_, text) in RULE_OPTION.items()}
        self.box = widgets.VBox([widgets.HBox([widgets.Label("rules to compare"), self.names]),
                                 widgets.HBox(list(self.options.values()))])
        self._extras: dict[str, dict] = {}
        self.names.observe(lambda _: self._show_fields(), "value")
        self.set(algorithms)

    def set(self, algorithms: Sequence[Mapping]) -> None:
        self._extras = {}
        names = []
        for a in algorithms:
            name = a.get("name", "bp")
            if name in names:
                continue  # one entry per rule here
            names.append(name)
            extra = {k: copy.deepcopy(v) for k, v in a.items() if k not in ("name", "feedback_init")}
            if name in RULE_OPTION:
                key = RULE_OPTION[name][0]
                if key in extra:
                    self.options[name].value = extra.pop(key)
            self._extras[name] = extra
        self.names.value = names
        self._show_fields()

    def get(self, feedback: dict | None) -> list[dict]:
        out = []
        for name in self.names.value:
            d = {"name": name, **copy.deepcopy(self._extras.get(name, {}))}
            if name in RULE_OPTION:
                d[RULE_OPTION[name][0]] = self.options[name].value
            if feedback is not None and name not in NO_FEEDBACK:
                d["feedback_init"] = copy.deepcopy(feedback)
            out.append(d)
        return out

    def _show_fields(self) -> None:
        for rule, field in self.options.items():
            field.layout.display = None if rule in self.names.value else "none"

    @property
    def controls(self) -> list[widgets.Widget]:
        return [self.names, *self.options.values()]


class SetupForm:
    """The Train page's controls, set from a config and its rules; `configs` gives one validated
    `RunConfig` per rule (same data, network, initialisers, optimiser, training and seed).

    Example:
        >>> cfg = RunConfig.from_dict({"data": {"name": "random", "samples": 100}, "train": {"log_every": 3}})
        >>> form = SetupForm(cfg, [cfg.algorithm.to_dict()])
        >>> form.configs() == [cfg]       # what the form does not show is carried over
        True
        >>> form.hidden.value = "2x8"; form.configs()[0].model.hidden
        (8, 8)
    """

    def __init__(self, config: RunConfig, algorithms: Sequence[Mapping]) -> None:
        self.dataset = widgets.Dropdown(options=list(DATASET_OPTIONS), description="dataset", style=WIDE)
        self.model = widgets.Dropdown(options=list(MODEL_OPTIONS), description="network", style=WIDE)
        self.hidden = widgets.Text(description="hidden widths", placeholder="64, 64  or  20x64", style=WIDE)
        self.activation = widgets.Dropdown(options=ACTIVATIONS, description="activation", style=WIDE)
        self.rules = RulesControl(algorithms)
        self.init = InitControl("forward init", None, forward=True)
        self.feedback = InitControl("feedback init", None, rule_default=True)
        self.optimizer = OptimizerControl({})
        self.epochs = widgets.IntText(10, description="epochs", style=WIDE, layout={"width": "140px"})
        self.batch_size = widgets.IntText(64, description="batch size", style=WIDE, layout={"width": "160px"})
        self.loss = widgets.Dropdown(options=LOSSES, description="loss", style=WIDE, layout={"width": "200px"})
        self.seed = widgets.IntText(0, description="seed", style=WIDE, layout={"width": "130px"})
        self.device = widgets.Dropdown(options=["default", *DEVICES], description="device", style=WIDE,
                                       layout={"width": "170px"})
        self.errors = {section: error_label() for section in SECTIONS}
        self.model.observe(lambda _: self._show_fields(), "value")
        rows = [
            ("data", [widgets.HBox([self.dataset])]),
            ("model", [widgets.HBox([self.model, self.hidden, self.activation])]),
            ("rules", [self.rules.box]),
            ("init", [self.init.box]),
            ("feedback", [self.feedback.box]),
            ("optimizer", [self.optimizer.box]),
            ("train", [widgets.HBox([self.epochs, self.batch_size, self.loss, self.seed, self.device])]),
        ]
        self.box = widgets.VBox([w for section, parts in rows for w in (*parts, self.errors[section])])
        self._base: dict = {}
        self.message = ""  # the error shown, as text ("" when none)
        self.set(config, algorithms)

    def set(self, config: RunConfig, algorithms: Sequence[Mapping] | None = None) -> None:
        """Show ``config`` (and ``algorithms``, default: its own rule)."""
        d = config.to_dict()
        self._base = d
        algorithms = list(algorithms) if algorithms else [d["algorithm"]]
        self.dataset.value = d["data"]["name"]
        self.model.value = d["model"]["name"]
        self.hidden.value = format_widths(d["model"].get("hidden", [64, 64]))
        self.activation.value = d["model"]["activation"]
        self.rules.set(algorithms)
        self.init.set(d["init"])
        self.feedback.set(next((a["feedback_init"] for a in algorithms if "feedback_init" in a), None))
        self.optimizer.set(d["optimizer"])
        self.epochs.value, self.batch_size.value = d["train"]["epochs"], d["train"]["batch_size"]
        self.loss.value, self.seed.value = d["train"]["loss"], d["seed"]
        self.device.value = d.get("device") or "default"
        self._show_fields()

    def base(self) -> dict:
        """The config dict the controls describe, without its rule."""
        d = copy.deepcopy(self._base)
        if d["data"]["name"] != self.dataset.value:
            d["data"] = {"name": self.dataset.value}  # another dataset's options do not carry over
        model = d["model"] if d["model"]["name"] == self.model.value else {"name": self.model.value}
        model["activation"] = self.activation.value
        model.pop("hidden", None)
        if self.model.value == "mlp":
            model["hidden"] = parse_widths(self.hidden.value)
        d["model"] = model
        d["init"] = self.init.get()
        d["optimizer"] = self.optimizer.get()
        d["train"].update(epochs=self.epochs.value, batch_size=self.batch_size.value, loss=self.loss.value)
        d["seed"] = self.seed.value
        d.pop("device", None)
        if self.device.value != "default":
            d["device"] = self.device.value
        d.pop("algorithm", None)
        return d

    def algorithms(self) -> list[dict]:
        """One algorithm dict per chosen rule, with its options and the shared feedback initialiser."""
        return self.rules.get(self.feedback.get())

    def configs(self) -> list[RunConfig]:
        """One validated config per rule; `ConfigError` names the field (see `check`)."""
        base, algorithms = self.base(), self.algorithms()
        # The shared sections first, with backprop (which fits every network), so that their errors
        # name the field alone; then each rule's, named by its place ("rules[1]: ...").
        RunConfig.from_dict({**base, "algorithm": {"name": "bp"}})
        return comparison_configs(base, algorithms)

    def check(self) -> list[RunConfig] | None:
        """`configs`, or None with the error shown next to the section it names."""
        self.show_error(None)
        try:
            return self.configs()
        except ConfigError as err:
            self.show_error(err)
            return None

    def show_error(self, err: BaseException | str | None) -> None:
        """Show ``err`` beside the section whose field it names (None clears every message)."""
        self.message = str(err) if err else ""
        for label in self.errors.values():
            label.value = ""
        if self.message:
            self.errors[section_of(self.message)].value = message_html(self.message)

    def lock(self, locked: bool) -> None:
        """Disable the controls while runs they describe are training (they describe those runs)."""
        for w in self.controls:
            w.disabled = locked

    @property
    def controls(self) -> list[widgets.Widget]:
        return [self.dataset, self.model, self.hidden, self.activation, *self.rules.controls, *self.init.controls,
                *self.feedback.controls, *self.optimizer.controls, self.epochs, self.batch_size, self.loss,
                self.seed, self.device]

    def _show_fields(self) -> None:
        self.hidden.layout.display = None if self.model.value == "mlp" else "none"
