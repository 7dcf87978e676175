"""The controls that describe a run, as ipywidgets: they read a `RunConfig` in and give one back.

`SetupForm` holds the Train page's controls (dataset and its resizing, network and its dropout, rules
to compare, forward and feedback initialisers, optimiser and its learning-rate schedule, training with
its loss over a batch and augmentation, seed). It is set from a config and a list of rules and
returns one validated `RunConfig` per rule; whatever the form does not show (dataset options,
``train.log_every``, snapshots) is carried over from the config it was set from, so
``SetupForm(cfg, [cfg.algorithm.to_dict()]).configs() == [cfg]``. The rules and their options are
the registry's (`explorer.config.registry`). A `ConfigError` is shown next to the section its
``.field`` is in, in the form's words ("learning rate must be greater than 0, got 0").

Example:
    >>> form = SetupForm(RunConfig.from_dict({"algorithm": {"name": "dfa"}, "seed": 3}), [{"name": "dfa"}])
    >>> form.rules.names.value = ["bp", "dfa"]
    >>> [(c.algorithm.name, c.seed) for c in form.configs()]
    [('bp', 3), ('dfa', 3)]
    >>> form.optimizer.lr.value = 0.0
    >>> form.check() is None, form.errors["optimizer"].value != "", form.message
    (True, True, 'learning rate must be greater than 0, got 0')
"""

from __future__ import annotations

import copy
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
    ConfigError,
    RunConfig,
)
from explorer.config.dataset_options import DATASET_OPTIONS, IMAGE_DATASETS, RESIZABLE
from explorer.config.registry import FORWARD_INITS, OPTIONS, RULES
from explorer.config.schema import REDUCTIONS
from explorer.runs.workspace import comparison_configs
from explorer.config.schedule import RESTART_FROM
from explorer.views.urlstate import (FIELD_PARAMS, HELP, LABELS, SCHEDULE_CHOICES, SCHEDULE_FIELDS,
                                     SCHEDULE_PARAMS, format_numbers, format_widths, located, parse_numbers,
                                     parse_resize, parse_widths, plain, say)
from explorer.widgets.common import error_label, message_html

WIDE = {"description_width": "initial"}
RULE_DEFAULT = "rule's default"       # feedback initialiser or option left to the rule (None)
SECTIONS = ("data", "model", "rules", "init", "feedback", "optimizer", "train", "general")
_INIT_FIELDS = ("low", "high", "mean", "std", "gain")
# Config fields, the section of the form that shows their errors and what its control is called
# there; a field not listed is found by its parent ("data.samples": the data section).
FIELD_WORDS: dict[str, tuple[str, str]] = {
    "data": ("data", "dataset"), "data.name": ("data", "dataset"), "model": ("model", "network"),
    "model.name": ("model", "network"), "model.hidden": ("model", "hidden widths"),
    "model.activation": ("model", "activation"), "init": ("init", "forward init"),
    **{f"init.{f}": ("init", f"forward init: {f}") for f in ("name", *_INIT_FIELDS)},
    "algorithm.feedback_init": ("feedback", "feedback init"),
    **{f"algorithm.feedback_init.{f}": ("feedback", f"feedback init: {f}") for f in ("name", *_INIT_FIELDS)},
    "algorithm": ("rules", "rule"), "rules": ("rules", "rules to compare"),
    "optimizer": ("optimizer", "optimiser"), "optimizer.name": ("optimizer", "optimiser"),
    "optimizer.lr": ("optimizer", "learning rate"), "optimizer.momentum": ("optimizer", "momentum"),
    "optimizer.weight_decay": ("optimizer", "weight decay"), "optimizer.batch_manhattan": ("optimizer", "Batch Manhattan"),
    "train": ("train", "training"), "train.epochs": ("train", "epochs"), "train.batch_size": ("train", "batch size"),
    "train.loss": ("train", "loss"), "seed": ("train", "seed"), "device": ("train", "device"),
    # the advanced settings, in the Train page's words
    **{field: (section, LABELS[FIELD_PARAMS[field]]) for section, fields in (
        ("optimizer", ["optimizer.schedule", "optimizer.schedule.name",
                       *(f"optimizer.schedule.{f}" for f in SCHEDULE_FIELDS.values())]),
        ("train", ["train.reduction", "train.augment", "train.augment.crop_padding", "train.augment.flip"]),
        ("model", ["model.dropout"]), ("data", ["data.resize"])) for field in fields},
}


def _field_words(field: str) -> tuple[str, str] | None:
    """(section, words) of ``field`` or of its nearest listed parent (the words then name the field)."""
    if field in FIELD_WORDS:
        return FIELD_WORDS[field]
    parent = field
    while "." in parent:
        parent = parent.rsplit(".", 1)[0]
        if parent in FIELD_WORDS:
            return FIELD_WORDS[parent][0], field
    return None


def section_of(err: ConfigError | str | None) -> str:
    """The form section a `ConfigError` is about, from its ``.field`` (a dotted field may be given
    instead), else "general".

    Example:
        >>> section_of(ConfigError("rules[1]: algorithm.block_size ...", field="rules[1].algorithm.block_size"))
        'rules'
        >>> section_of("rules[0].algorithm.feedback_init.low"), section_of("optimizer.lr"), section_of(None)
        ('feedback', 'optimizer', 'general')
    """
    if isinstance(err, ConfigError):
        _, field, _ = located(err)
    else:
        _, field, _ = located(ConfigError("", field=err or None))
    found = _field_words(field)
    return found[0] if found else "general"


def _option_control(rule: str, option: str) -> widgets.Widget:
    """The control of ``rule``'s ``option``, as the registry describes it. An option whose default
    is None (the rule decides) is left to the rule by the first choice, or by an empty box."""
    o, spec = OPTIONS[option], RULES[rule]
    kw = {"description": f"{spec.label}: {o.label}", "tooltip": o.help, "style": WIDE, "layout": {"width": "300px"}}
    if o.kind == "choice":
        return widgets.Dropdown(options=[(RULE_DEFAULT if c is None else c, c) for c in o.choices], value=o.default, **kw)
    if o.kind == "text" or o.default is None:
        return widgets.Text("" if o.default is None else str(o.default), placeholder=RULE_DEFAULT, **kw)
    return (widgets.IntText if o.kind == "int" else widgets.FloatText)(o.default, **kw)


def _option_value(option: str, control: widgets.Widget) -> Any:
    """What ``control`` holds for ``option`` (None: left to the rule)."""
    if not isinstance(control, widgets.Text):
        return control.value
    text = control.value.strip()
    if not text:
        return None
    return text if OPTIONS[option].kind == "text" else _number_or_text(text)


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
        names = list(FORWARD_INITS if forward else INIT_PARAMS)
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


class ScheduleControl:
    """The learning-rate schedule: none, step (epochs per step, factor), multistep (milestone epochs,
    factor) or restarts (milestone epochs, the rate from each, restart from the best or last
    weights); only the chosen schedule's fields are shown and read. Words as on the Train page.

    Example:
        >>> c = ScheduleControl({"name": "multistep", "milestones": [30, 60], "gamma": 0.5})
        >>> c.fields["milestones"].value, c.get()
        ('30,60', {'name': 'multistep', 'milestones': [30, 60], 'gamma': 0.5})
        >>> c.name.value = "none"; c.get() is None
        True
    """

    def __init__(self, spec: Mapping | None) -> None:
        self.name = widgets.Dropdown(options=SCHEDULE_CHOICES, description=LABELS["sched"], style=WIDE)
        self.name.tooltip = HELP["sched"]
        self.fields = {
            "step_size": widgets.IntText(100, description="epochs per step", style=WIDE, layout={"width": "190px"}),
            "gamma": widgets.FloatText(0.1, description="factor", style=WIDE, layout={"width": "150px"}),
            "milestones": widgets.Text("", description="milestone epochs", placeholder="30, 60", style=WIDE,
                                       layout={"width": "260px"}),
            "lrs": widgets.Text("", description="rate from each", placeholder="0.01, 0.001", style=WIDE,
                                layout={"width": "260px"}),
            "from": widgets.Dropdown(options=RESTART_FROM, description="restart from", style=WIDE,
                                     layout={"width": "190px"}),
        }
        for param, field in SCHEDULE_FIELDS.items():
            self.fields[field].tooltip = HELP[param]
        self.box = widgets.HBox([self.name, *self.fields.values()], layout={"flex_flow": "row wrap"})
        self.name.observe(lambda _: self._show_fields(), "value")
        self.set(spec)

    def set(self, spec: Mapping | None) -> None:
        spec = spec or {"name": "none"}
        for field, value in spec.items():
            if field in ("milestones", "lrs"):
                self.fields[field].value = format_numbers(value)
            elif field in self.fields:
                self.fields[field].value = value
        self.name.value = spec.get("name", "none")
        self._show_fields()

    def get(self) -> dict | None:
        name = self.name.value
        if name == "none":
            return None
        d: dict[str, Any] = {"name": name}
        for param in SCHEDULE_PARAMS[name]:
            field = SCHEDULE_FIELDS[param]
            value = self.fields[field].value
            if field == "milestones":
                value = parse_numbers(value, "optimizer.schedule.milestones")
            elif field == "lrs":
                value = parse_numbers(value, "optimizer.schedule.lrs", float)
            d[field] = value
        return d

    def _show_fields(self) -> None:
        shown = {SCHEDULE_FIELDS[p] for p in SCHEDULE_PARAMS.get(self.name.value, ())}
        for field, control in self.fields.items():
            control.layout.display = None if field in shown else "none"

    @property
    def controls(self) -> list[widgets.Widget]:
        return [self.name, *self.fields.values()]


class OptimizerControl:
    """Optimiser, learning rate, momentum (SGD and RMSprop), weight decay, Batch Manhattan and the
    learning-rate schedule (`ScheduleControl`). Choosing another optimiser by hand puts its usual
    learning rate in.

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
        self.schedule = ScheduleControl(None)
        self.box = widgets.VBox([widgets.HBox([self.name, self.lr, self.momentum, self.weight_decay,
                                               self.batch_manhattan]), self.schedule.box])
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
            self.schedule.set(spec.get("schedule"))
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
        schedule = self.schedule.get()
        if schedule is not None:
            d["schedule"] = schedule
        return d

    @property
    def controls(self) -> list[widgets.Widget]:
        return [self.name, self.lr, self.momentum, self.weight_decay, self.batch_manhattan, *self.schedule.controls]


class RulesControl:
    """The rules to compare (up to four, in order) and the options the chosen ones take (one control
    per rule and option of the registry, shown while its rule is chosen); the feedback initialiser
    is shared by the rules that have feedback matrices.

    Example:
        >>> c = RulesControl([{"name": "bp"}, {"name": "bdfa", "block_size": 3}])
        >>> c.options["bdfa", "block_size"].description
        'BDFA: hidden layers per block'
        >>> c.get({"name": "uniform", "low": -0.1, "high": 0.1})
        [{'name': 'bp'}, {'name': 'bdfa', 'block_size': 3, 'feedback_init': {'name': 'uniform', 'low': -0.1, 'high': 0.1}}]
    """

    def __init__(self, algorithms: Sequence[Mapping]) -> None:
        self.names = widgets.TagsInput(allowed_tags=list(RULES), allow_duplicates=False)
        self.options = {(rule, option): _option_control(rule, option)
                        for rule, spec in RULES.items() for option in spec.options}
        self.box = widgets.VBox([widgets.HBox([widgets.Label("rules to compare"), self.names]),
                                 widgets.HBox(list(self.options.values()), layout={"flex_flow": "row wrap"})])
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
            for option in RULES[name].options if name in RULES else ():
                value = extra.pop(option, OPTIONS[option].default)
                control = self.options[name, option]
                control.value = ("" if value is None else str(value)) if isinstance(control, widgets.Text) else value
            self._extras[name] = extra
        self.names.value = names
        self._show_fields()

    def get(self, feedback: dict | None) -> list[dict]:
        out = []
        for name in self.names.value:
            d = {"name": name, **copy.deepcopy(self._extras.get(name, {}))}
            for option in RULES[name].options:
                value = _option_value(option, self.options[name, option])
                if value is not None:
                    d[option] = value
            if feedback is not None and RULES[name].feedback:
                d["feedback_init"] = copy.deepcopy(feedback)
            out.append(d)
        return out

    def _show_fields(self) -> None:
        for (rule, _), control in self.options.items():
            control.layout.display = None if rule in self.names.value else "none"

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
        self.dropout = widgets.FloatText(0.0, description=LABELS["dropout"], style=WIDE, layout={"width": "150px"},
                                         tooltip=HELP["dropout"])
        self.resize = widgets.Text("", description=LABELS["resize"], placeholder="32x32", style=WIDE,
                                   layout={"width": "220px"}, tooltip=HELP["resize"])
        self.rules = RulesControl(algorithms)
        self.init = InitControl("forward init", None, forward=True)
        self.feedback = InitControl("feedback init", None, rule_default=True)
        self.optimizer = OptimizerControl({})
        self.epochs = widgets.IntText(10, description="epochs", style=WIDE, layout={"width": "140px"})
        self.batch_size = widgets.IntText(64, description="batch size", style=WIDE, layout={"width": "160px"})
        self.loss = widgets.Dropdown(options=LOSSES, description="loss", style=WIDE, layout={"width": "200px"})
        self.reduction = widgets.Dropdown(options=REDUCTIONS, description=LABELS["reduce"], style=WIDE,
                                          layout={"width": "200px"}, tooltip=HELP["reduce"])
        self.crop = widgets.IntText(0, description=LABELS["crop"], style=WIDE, layout={"width": "230px"},
                                    tooltip=HELP["crop"])
        self.flip = widgets.Checkbox(False, description=LABELS["flip"], style=WIDE, indent=False,
                                     tooltip=HELP["flip"])
        self.loss.tooltip = HELP["loss"]
        self.why_not = widgets.Label("")   # why resizing or augmentation is greyed out for this dataset
        self.no_dropout = widgets.Label("")   # why dropout is greyed out for this network
        self.seed = widgets.IntText(0, description="seed", style=WIDE, layout={"width": "130px"})
        self.device = widgets.Dropdown(options=["default", *DEVICES], description="device", style=WIDE,
                                       layout={"width": "170px"})
        self.errors = {section: error_label() for section in SECTIONS}
        self.model.observe(lambda _: self._show_fields(), "value")
        self.dataset.observe(lambda _: self._show_fields(), "value")
        self._locked = False
        rows = [
            ("data", [widgets.HBox([self.dataset, self.resize])]),
            ("model", [widgets.HBox([self.model, self.hidden, self.activation, self.dropout, self.no_dropout])]),
            ("rules", [self.rules.box]),
            ("init", [self.init.box]),
            ("feedback", [self.feedback.box]),
            ("optimizer", [self.optimizer.box]),
            ("train", [widgets.HBox([self.epochs, self.batch_size, self.loss, self.seed, self.device]),
                       widgets.HBox([self.reduction, self.crop, self.flip, self.why_not])]),
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
        self.hidden.value = format_widths(d["model"].get("hidden", [64, 64]), ", ")
        self.activation.value = d["model"]["activation"]
        self.dropout.value = d["model"].get("dropout", 0.0)
        self.resize.value = "x".join(map(str, d["data"].get("resize") or ()))
        self.rules.set(algorithms)
        self.init.set(d["init"])
        self.feedback.set(next((a["feedback_init"] for a in algorithms if "feedback_init" in a), None))
        self.optimizer.set(d["optimizer"])
        self.epochs.value, self.batch_size.value = d["train"]["epochs"], d["train"]["batch_size"]
        self.loss.value, self.seed.value = d["train"]["loss"], d["seed"]
        self.reduction.value = d["train"].get("reduction", "mean")
        augment = d["train"].get("augment") or {}
        self.crop.value, self.flip.value = augment.get("crop_padding", 0), augment.get("flip", False)
        self.device.value = d.get("device") or "default"
        self._show_fields()

    def base(self) -> dict:
        """The config dict the controls describe, without its rule."""
        d = copy.deepcopy(self._base)
        if d["data"]["name"] != self.dataset.value:
            d["data"] = {"name": self.dataset.value}  # another dataset's options do not carry over
        d["data"].pop("resize", None)
        size = parse_resize(self.resize.value) if self.dataset.value in RESIZABLE else None
        if size is not None:
            d["data"]["resize"] = size
        model = d["model"] if d["model"]["name"] == self.model.value else {"name": self.model.value}
        model["activation"] = self.activation.value
        model.pop("hidden", None)
        if self.model.value == "mlp":
            model["hidden"] = parse_widths(self.hidden.value)
        model.pop("dropout", None)
        if self.dropout.value and "dropout" in MODEL_OPTIONS[self.model.value]:
            model["dropout"] = self.dropout.value
        d["model"] = model
        d["init"] = self.init.get()
        d["optimizer"] = self.optimizer.get()
        d["train"].update(epochs=self.epochs.value, batch_size=self.batch_size.value, loss=self.loss.value)
        if d["train"].get("snapshots"):   # carried over: the epochs past the new end go
            d["train"]["snapshots"] = [e for e in d["train"]["snapshots"] if e <= self.epochs.value]
        for key in ("reduction", "augment"):
            d["train"].pop(key, None)
        if self.reduction.value != "mean":
            d["train"]["reduction"] = self.reduction.value
        if self.dataset.value in IMAGE_DATASETS and (self.crop.value or self.flip.value):
            d["train"]["augment"] = {"crop_padding": self.crop.value, "flip": self.flip.value}
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
        """Show ``err`` beside the section its ``.field`` is in, in the form's words (`explain`);
        other errors and text go under the form. None clears every message."""
        section, self.message = self.explain(err) if isinstance(err, ConfigError) else ("general", str(err or ""))
        for label in self.errors.values():
            label.value = ""
        if self.message:
            self.errors[section].value = message_html(self.message)

    def explain(self, err: ConfigError) -> tuple[str, str]:
        """(the section that shows ``err``, the error in the form's words), from its ``.field``: a
        rule's option is named by the rule and the option's label ("BDFA: hidden layers per block
        must be at least 1, got 0"), a shared setting by its control ("learning rate must be …")."""
        index, field, problem = located(err)
        problem = plain(problem, field)
        names = self.rules.names.value
        rule = RULES.get(names[index]) if index is not None and index < len(names) else None
        option = field[len("algorithm."):] if field.startswith("algorithm.") else ""
        if rule is not None and option in OPTIONS:
            return "rules", f"{rule.label}: {say(OPTIONS[option].label, problem)}"
        if rule is not None and field.startswith("algorithm") and not option.startswith("feedback_init"):
            return "rules", f"{rule.label}: {problem}"
        found = _field_words(field)
        if found is None:
            return "general", str(err)
        section, words = found   # a shared setting that one rule refuses: the problem names the rule
        return section, say(words, problem)

    def lock(self, locked: bool) -> None:
        """Disable the controls while runs they describe are training (they describe those runs)."""
        self._locked = locked
        for w in self.controls:
            w.disabled = locked
        self._show_fields()

    @property
    def controls(self) -> list[widgets.Widget]:
        return [self.dataset, self.resize, self.model, self.hidden, self.activation, self.dropout,
                *self.rules.controls, *self.init.controls, *self.feedback.controls, *self.optimizer.controls,
                self.epochs, self.batch_size, self.loss, self.reduction, self.crop, self.flip, self.seed, self.device]

    def _show_fields(self) -> None:
        """Hidden widths for an MLP only; resizing and augmentation greyed out, with the reason, for
        data they do not act on (and then not read)."""
        self.hidden.layout.display = None if self.model.value == "mlp" else "none"
        name = self.dataset.value
        resizable, images = name in RESIZABLE, name in IMAGE_DATASETS
        self.resize.disabled = self._locked or not resizable
        self.crop.disabled = self.flip.disabled = self._locked or not images
        dropout = "dropout" in MODEL_OPTIONS[self.model.value]
        self.dropout.disabled = self._locked or not dropout
        reasons = ([] if images else [f"augmentation: for image datasets; {name} is not one"]) + (
            [] if resizable else [f"resizing: for {', '.join(RESIZABLE)}"])
        self.why_not.value = "; ".join(reasons)
        self.no_dropout.value = "" if dropout else f"dropout: for the MLP and the CNNs; {self.model.value} takes none"
