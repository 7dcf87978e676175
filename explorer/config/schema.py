"""A run described as data: `RunConfig` and its parts.

Every front end (files, URLs, presets, the app, the command line) speaks this one format. A config
is validated once, here, at the door: a bad value raises `ConfigError` naming the dotted field
(``algorithm.feedback_init.low``), never a silent fallback.

Example:
    >>> cfg = RunConfig.from_dict({"algorithm": {"name": "dfa"}, "seed": 3})
    >>> cfg.algorithm.name, cfg.data.name, cfg.seed
    ('dfa', 'digits', 3)
    >>> RunConfig.from_dict(cfg.to_dict()) == cfg
    True
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from explorer.config.dataset_options import DATASET_OPTIONS


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field (``optimizer.lr``)."""


# ----------------------------------------------------------------------------------------------
# Small readers: each checks one value and names its field when it is wrong.


def _require_mapping(value: Any, path: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path} must be an object (a dict), got {type(value).__name__}")
    return value


def _reject_unknown(d: Mapping, allowed: set[str], path: str, what: str) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        where = f"{path}." if path else ""
        raise ConfigError(
            f"{where}{unknown[0]} is not an option of {what}; options: {', '.join(sorted(allowed))}"
        )


def _number(value: Any, path: str, *, minimum: float | None = None, above: float | None = None,
            below: float | None = None, maximum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{path} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"{path} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{path} must be at least {minimum:g}, got {value:g}")
    if above is not None and value <= above:
        raise ConfigError(f"{path} must be greater than {above:g}, got {value:g}")
    if below is not None and value >= below:
        raise ConfigError(f"{path} must be less than {below:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{path} must be at most {maximum:g}, got {value:g}")
    return value


def _integer(value: Any, path: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{path} must be a whole number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{path} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{path} must be at most {maximum}, got {value}")
    return value


def _boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{path} must be true or false, got {value!r}")
    return value


def _choice(value: Any, path: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{path} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _optional_str(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{path} must be a non-empty string, got {value!r}")
    return value


def _names(value: Any, path: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{path} must be a list of layer names, got {value!r}")
    return tuple(_optional_str(v, f"{path}[{i}]") for i, v in enumerate(value))


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


# ----------------------------------------------------------------------------------------------
# Initialisers (docs/algorithms.md, "Initialisers"): one spec format for forward and feedback weights.

INIT_PARAMS: dict[str, tuple[str, ...]] = {
    "default": (), "zeros": (),
    "uniform": ("low", "high"), "normal": ("mean", "std"),
    "fan_in": ("gain",), "fan_out": ("gain",),
    "xavier": ("gain",), "kaiming": ("gain",), "orthogonal": ("gain",),
    "sign_concordant": ("inner",),
    # Named presets from the literature; they take no parameters.
    "standard_uniform": (), "gaussian": (), "standard_gaussian": (), "lillicrap": (),
    "thesis_1e-3": (), "thesis_5e-3": (), "thesis_1e-2": (), "thesis_stdv": (),
}


@dataclass(frozen=True)
class InitSpec:
    """How to draw a weight matrix: an initialiser key of docs/algorithms.md and its parameters.

    Example:
        >>> InitSpec.from_dict({"name": "uniform", "low": -0.1, "high": 0.1}).high
        0.1
    """

    name: str = "default"
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    std: float | None = None
    gain: float | None = None
    inner: InitSpec | None = None

    @classmethod
    def from_dict(cls, d: Any, path: str = "init") -> InitSpec:
        if isinstance(d, str):  # shorthand: "xavier" means {"name": "xavier"}
            d = {"name": d}
        d = _require_mapping(d, path)
        name = _choice(d.get("name", "default"), f"{path}.name", list(INIT_PARAMS))
        _reject_unknown(d, {"name", *INIT_PARAMS[name]}, path, f"initialiser '{name}'")
        if name == "uniform":
            for key in ("low", "high"):
                if key not in d:
                    raise ConfigError(f"{path}.{key} is required for initialiser 'uniform'")
            low, high = _number(d["low"], f"{path}.low"), _number(d["high"], f"{path}.high")
            if low >= high:
                raise ConfigError(f"{path}.low must be less than {path}.high, got low={low:g} >= high={high:g}")
            return cls(name, low=low, high=high)
        if name == "normal":
            if "std" not in d:
                raise ConfigError(f"{path}.std is required for initialiser 'normal'")
            mean = _number(d.get("mean", 0.0), f"{path}.mean")
            return cls(name, mean=mean, std=_number(d["std"], f"{path}.std", above=0.0))
        if name in ("fan_in", "fan_out", "xavier", "kaiming", "orthogonal"):
            gain = d.get("gain")
            return cls(name, gain=None if gain is None else _number(gain, f"{path}.gain", above=0.0))
        if name == "sign_concordant":
            inner = cls.from_dict(d.get("inner", {"name": "default"}), f"{path}.inner")
            if inner.name == "sign_concordant":
                raise ConfigError(f"{path}.inner cannot itself be sign_concordant")
            return cls(name, inner=inner)
        return cls(name)

    def to_dict(self) -> dict:
        d = _drop_none({"name": self.name, "low": self.low, "high": self.high, "mean": self.mean,
                        "std": self.std, "gain": self.gain})
        if self.inner is not None:
            d["inner"] = self.inner.to_dict()
        return d


# ----------------------------------------------------------------------------------------------
# Datasets and models: a name plus options that depend on the name.

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
CONV_MODELS = ("tutorial_cnn", "lenet5", "cifar_cnn")
RESNET_MODELS = ("resnet20", "resnet56", "resnet18", "resnet34")
MODEL_OPTIONS: dict[str, tuple[str, ...]] = {
    "mlp": ("hidden", "activation"),
    "tutorial_cnn": ("activation", "pool"),
    "lenet5": ("activation",),
    "cifar_cnn": ("activation",),
    **{name: ("activation",) for name in RESNET_MODELS},
}


def _read_option(kind: Any, value: Any, path: str) -> Any:
    """One dataset option by its kind in `DATASET_OPTIONS` (a tuple of strings is a choice)."""
    if isinstance(kind, tuple):
        return _choice(value, path, kind)
    if kind == "int+":
        return _integer(value, path, minimum=1)
    if kind == "int>=0":
        return _integer(value, path, minimum=0)
    if kind == "int>=2":
        return _integer(value, path, minimum=2)
    if kind == "float01":
        return _number(value, path, above=0.0, below=1.0)
    if kind == "float>=0":
        return _number(value, path, minimum=0.0)
    if kind == "bool":
        return _boolean(value, path)
    if kind == "path":
        return _optional_str(value, path)
    raise AssertionError(f"unknown option kind {kind}")


@dataclass(frozen=True)
class DataConfig:
    """Which dataset, and its options (see `DATASET_OPTIONS`).

    Example:
        >>> DataConfig.from_dict({"name": "random", "samples": 100}).options
        {'samples': 100}
    """

    name: str = "digits"
    options: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any, path: str = "data") -> DataConfig:
        d = _require_mapping(d, path)
        name = _choice(d.get("name", "digits"), f"{path}.name", list(DATASET_OPTIONS))
        kinds = DATASET_OPTIONS[name]
        _reject_unknown(d, {"name", *kinds}, path, f"dataset '{name}'")
        options = {k: _read_option(kinds[k], v, f"{path}.{k}") for k, v in d.items() if k != "name"}
        return cls(name, options)

    def get(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def to_dict(self) -> dict:
        return {"name": self.name, **copy.deepcopy(self.options)}


@dataclass(frozen=True)
class ModelConfig:
    """Which network: ``mlp`` (hidden widths, activation), a CNN or a ResNet.

    Example:
        >>> ModelConfig.from_dict({"name": "mlp", "hidden": [32, 32]}).hidden
        (32, 32)
    """

    name: str = "mlp"
    hidden: tuple[int, ...] | None = (64, 64)
    activation: str = "relu"
    pool: bool | None = None

    @classmethod
    def from_dict(cls, d: Any, path: str = "model") -> ModelConfig:
        d = _require_mapping(d, path)
        name = _choice(d.get("name", "mlp"), f"{path}.name", list(MODEL_OPTIONS))
        _reject_unknown(d, {"name", *MODEL_OPTIONS[name]}, path, f"model '{name}'")
        default_act = "tanh" if name == "lenet5" else "relu"
        activation = _choice(d.get("activation", default_act), f"{path}.activation", ACTIVATIONS)
        hidden = None
        if name == "mlp":
            raw = d.get("hidden", [64, 64])
            if not isinstance(raw, (list, tuple)):
                raise ConfigError(f"{path}.hidden must be a list of layer widths, got {raw!r}")
            hidden = tuple(_integer(w, f"{path}.hidden[{i}]", minimum=1) for i, w in enumerate(raw))
        pool = _boolean(d["pool"], f"{path}.pool") if "pool" in d else None
        return cls(name, hidden, activation, pool)

    def to_dict(self) -> dict:
        d = {"name": self.name}
        if self.hidden is not None:
            d["hidden"] = list(self.hidden)
        d["activation"] = self.activation
        if self.pool is not None:
            d["pool"] = self.pool
        return d


# ----------------------------------------------------------------------------------------------
# Learning rules (docs/algorithms.md, "The rules").

RULES = ("bp", "fa", "dfa", "ifa", "bdfa", "fp", "sdfa", "ssdfa", "usf", "frsf", "brsf", "rf", "ntk")
LAZY_RULES = ("rf", "ntk")
RULE_OPTIONS: dict[str, str] = {  # option -> the rule it belongs to
    "block_size": "bdfa", "bp_depth": "fp", "connections": "sdfa", "sign_refresh": "fa", "scale": "usf",
    "variant": "rf",
}
RF_VARIANTS = ("gaussian", "relu", "linear")
SIGN_REFRESH = ("init", "epoch", "step")


@dataclass(frozen=True)
class AlgorithmConfig:
    """The learning rule, its feedback initialiser and its options.

    Example:
        >>> AlgorithmConfig.from_dict({"name": "bdfa", "block_size": 2}).block_size
        2
    """

    name: str = "bp"
    feedback_init: InitSpec | None = None
    block_size: int | None = None
    bp_depth: int | None = None
    connections: int | None = None
    sign_refresh: str | None = None
    scale: float | None = None
    variant: str | None = None
    train_hidden: bool = True

    @classmethod
    def from_dict(cls, d: Any, path: str = "algorithm") -> AlgorithmConfig:
        d = _require_mapping(d, path)
        name = _choice(d.get("name", "bp"), f"{path}.name", RULES)
        _reject_unknown(d, {"name", "feedback_init", "train_hidden", *RULE_OPTIONS}, path, "a learning rule")
        for option, owner in RULE_OPTIONS.items():
            if option in d and owner != name:
                raise ConfigError(f"{path}.{option} applies to rule '{owner}' only, not '{name}'")
        if name in ("bp", *LAZY_RULES) and "feedback_init" in d:
            raise ConfigError(f"{path}.feedback_init: rule '{name}' uses no feedback matrices")
        feedback = (InitSpec.from_dict(d["feedback_init"], f"{path}.feedback_init")
                    if "feedback_init" in d else None)
        kw: dict[str, Any] = {}
        if "block_size" in d:
            kw["block_size"] = _integer(d["block_size"], f"{path}.block_size", minimum=1)
        if "bp_depth" in d:
            kw["bp_depth"] = _integer(d["bp_depth"], f"{path}.bp_depth", minimum=0)
        if "connections" in d:
            kw["connections"] = _integer(d["connections"], f"{path}.connections", minimum=1)
        if "sign_refresh" in d:
            kw["sign_refresh"] = _choice(d["sign_refresh"], f"{path}.sign_refresh", SIGN_REFRESH)
        if "scale" in d:
            kw["scale"] = _number(d["scale"], f"{path}.scale", above=0.0)
        if name == "rf":
            kw["variant"] = _choice(d.get("variant", "gaussian"), f"{path}.variant", RF_VARIANTS)
        if name == "bdfa" and "block_size" not in kw:
            raise ConfigError(f"{path}.block_size is required for rule 'bdfa' (hidden layers per block)")
        if name == "fp" and "bp_depth" not in kw:
            raise ConfigError(f"{path}.bp_depth is required for rule 'fp' (hidden layers trained by BP)")
        if name == "sdfa" and "connections" not in kw:
            raise ConfigError(f"{path}.connections is required for rule 'sdfa' (non-zeros per column)")
        train_hidden = _boolean(d.get("train_hidden", True), f"{path}.train_hidden")
        return cls(name, feedback, train_hidden=train_hidden, **kw)

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"name": self.name}
        if self.feedback_init is not None:
            d["feedback_init"] = self.feedback_init.to_dict()
        d.update(_drop_none({"block_size": self.block_size, "bp_depth": self.bp_depth,
                             "connections": self.connections, "sign_refresh": self.sign_refresh,
                             "scale": self.scale, "variant": self.variant}))
        if not self.train_hidden:
            d["train_hidden"] = False
        return d


# ----------------------------------------------------------------------------------------------
# Optimiser and training loop.

OPTIMIZERS = ("sgd", "adagrad", "adadelta", "rmsprop", "adam")
DEFAULT_LR = {"sgd": 0.05, "adagrad": 0.01, "adadelta": 1.0, "rmsprop": 0.001, "adam": 0.001}
LOSSES = ("cross_entropy", "bce", "mse")


@dataclass(frozen=True)
class OptimizerConfig:
    """Optimiser, learning rate and its options; Batch Manhattan hands it sign(grad).

    Example:
        >>> OptimizerConfig.from_dict({"name": "adam"}).lr
        0.001
    """

    name: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_manhattan: bool = False
    nesterov: bool | None = None

    @classmethod
    def from_dict(cls, d: Any, path: str = "optimizer") -> OptimizerConfig:
        d = _require_mapping(d, path)
        name = _choice(d.get("name", "sgd"), f"{path}.name", OPTIMIZERS)
        allowed = {"name", "lr", "weight_decay", "batch_manhattan", "momentum"}
        if name == "sgd":
            allowed.add("nesterov")
        _reject_unknown(d, allowed, path, f"optimiser '{name}'")
        lr = _number(d.get("lr", DEFAULT_LR[name]), f"{path}.lr", above=0.0)
        momentum = _number(d.get("momentum", 0.9 if name == "sgd" else 0.0), f"{path}.momentum",
                           minimum=0.0, below=1.0)
        if momentum and name not in ("sgd", "rmsprop"):
            raise ConfigError(f"{path}.momentum applies to sgd and rmsprop only, not '{name}'")
        nesterov = _boolean(d["nesterov"], f"{path}.nesterov") if "nesterov" in d else None
        if nesterov and momentum == 0:
            raise ConfigError(f"{path}.nesterov needs {path}.momentum greater than 0")
        return cls(name, lr, momentum,
                   _number(d.get("weight_decay", 0.0), f"{path}.weight_decay", minimum=0.0),
                   _boolean(d.get("batch_manhattan", False), f"{path}.batch_manhattan"), nesterov)

    def to_dict(self) -> dict:
        return _drop_none({"name": self.name, "lr": self.lr, "momentum": self.momentum,
                           "weight_decay": self.weight_decay, "batch_manhattan": self.batch_manhattan,
                           "nesterov": self.nesterov})


@dataclass(frozen=True)
class TrainConfig:
    """Epochs, batch size, loss, and how often metrics are logged (steps; each epoch end too).

    Example:
        >>> TrainConfig.from_dict({"epochs": 2, "loss": "mse"}).loss
        'mse'
    """

    epochs: int = 10
    batch_size: int = 64
    loss: str = "cross_entropy"
    log_every: int | None = None
    snapshots: tuple[int, ...] = ()
    snapshot_samples: int = 1000
    snapshot_layers: tuple[str, ...] = ()  # empty: every hidden layer

    @classmethod
    def from_dict(cls, d: Any, path: str = "train") -> TrainConfig:
        d = _require_mapping(d, path)
        _reject_unknown(d, {"epochs", "batch_size", "loss", "log_every", "snapshots", "snapshot_samples",
                            "snapshot_layers"}, path, "train")
        log_every = d.get("log_every")
        epochs = _integer(d.get("epochs", 10), f"{path}.epochs", minimum=1)
        raw = d.get("snapshots", [])
        if not isinstance(raw, (list, tuple)):
            raise ConfigError(f"{path}.snapshots must be a list of epochs (0 = before training), got {raw!r}")
        snapshots = tuple(sorted({_integer(e, f"{path}.snapshots[{i}]", minimum=0, maximum=epochs)
                                  for i, e in enumerate(raw)}))
        return cls(
            epochs,
            _integer(d.get("batch_size", 64), f"{path}.batch_size", minimum=1),
            _choice(d.get("loss", "cross_entropy"), f"{path}.loss", LOSSES),
            None if log_every is None else _integer(log_every, f"{path}.log_every", minimum=1),
            snapshots,
            _integer(d.get("snapshot_samples", 1000), f"{path}.snapshot_samples", minimum=1, maximum=10_000),
            _names(d.get("snapshot_layers", []), f"{path}.snapshot_layers"),
        )

    def to_dict(self) -> dict:
        d = _drop_none({"epochs": self.epochs, "batch_size": self.batch_size, "loss": self.loss,
                        "log_every": self.log_every})
        if self.snapshots:
            d["snapshots"] = list(self.snapshots)
            d["snapshot_samples"] = self.snapshot_samples
        if self.snapshot_layers:
            d["snapshot_layers"] = list(self.snapshot_layers)
        return d


DEVICES = ("auto", "cpu", "cuda", "mps")
SECTIONS = {"data": DataConfig, "model": ModelConfig, "algorithm": AlgorithmConfig, "init": InitSpec,
            "optimizer": OptimizerConfig, "train": TrainConfig}


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run. Build it with `RunConfig.from_dict`; it is immutable.

    Example:
        >>> cfg = RunConfig.from_dict({"model": {"name": "mlp", "hidden": [16]}})
        >>> cfg.with_values({"optimizer.lr": 0.1}).optimizer.lr
        0.1
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)
    init: InitSpec = field(default_factory=InitSpec)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    device: str | None = None

    @classmethod
    def from_dict(cls, d: Any) -> RunConfig:
        d = _require_mapping(d, "config")
        _reject_unknown(d, {*SECTIONS, "seed", "device"}, "", "a run config")
        parts = {key: section.from_dict(d.get(key, {}), key) for key, section in SECTIONS.items()}
        if parts["init"].name == "sign_concordant":
            raise ConfigError("init.name: sign_concordant is for feedback matrices only "
                              "(use it as algorithm.feedback_init)")
        seed = _integer(d.get("seed", 0), "seed", minimum=0)
        device = d.get("device")
        if device is not None:
            device = _choice(device, "device", DEVICES)
        cfg = cls(seed=seed, device=device, **parts)
        _check_combination(cfg)
        return cfg

    def to_dict(self) -> dict:
        d = {key: getattr(self, key).to_dict() for key in SECTIONS}
        d["seed"] = self.seed
        if self.device is not None:
            d["device"] = self.device
        return d

    def with_values(self, changes: Mapping[str, Any]) -> RunConfig:
        """A copy with dotted keys replaced (``None`` removes a key), validated again:
        ``{"optimizer.lr": 0.1}``."""
        d = self.to_dict()
        for dotted, value in changes.items():
            target = d
            *parents, last = dotted.split(".")
            for part in parents:
                target = target.setdefault(part, {})
                if not isinstance(target, dict):
                    raise ConfigError(f"{dotted}: {part} is not a section")
            if value is None:
                target.pop(last, None)
            else:
                target[last] = value
        return RunConfig.from_dict(d)


def _check_combination(cfg: RunConfig) -> None:
    """Checks that need more than one section: which rules fit which networks and losses."""
    rule, model = cfg.algorithm.name, cfg.model.name
    if model != "mlp" and rule in ("ifa", "bdfa", "fp"):
        raise ConfigError(
            f"algorithm.name: '{rule}' is defined for MLPs (a chain of fully connected layers); its "
            f"feedback matrices would map whole feature maps onto feature maps in '{model}'. "
            "Use bp, the FA family (fa, usf, frsf, brsf) or dfa / sdfa / ssdfa.")
    if rule in LAZY_RULES:
        if model != "mlp" or len(cfg.model.hidden) != 1:
            raise ConfigError(f"algorithm.name: the lazy baseline '{rule}' is defined for an MLP with one "
                              "hidden layer (model.hidden like [512])")
        needed = "linear" if cfg.algorithm.variant == "linear" else "relu"
        if cfg.model.activation != needed:
            what = f"variant '{cfg.algorithm.variant}'" if rule == "rf" else "'ntk' (its gates are ReLU's)"
            raise ConfigError(f"model.activation must be '{needed}' for {what}, got '{cfg.model.activation}'")
    feedback = cfg.algorithm.feedback_init
    fa_family = rule in ("fa", "usf", "frsf", "brsf")
    if feedback is not None and feedback.name == "sign_concordant" and rule != "fa":
        raise ConfigError(
            "algorithm.feedback_init: sign_concordant needs a feedback matrix shaped like the forward "
            f"weight it stands in for, which only rule 'fa' has (not '{rule}')")
    if rule == "fa" and cfg.algorithm.sign_refresh and feedback is not None and feedback.name == "sign_concordant":
        raise ConfigError("algorithm.sign_refresh already makes feedback sign-concordant; "
                          "give algorithm.feedback_init the magnitude initialiser instead")
    if rule == "usf" and feedback is not None:
        raise ConfigError("algorithm.feedback_init: rule 'usf' uses scale * sign(W); set algorithm.scale")
    if cfg.model.name == "mlp" and len(cfg.model.hidden) == 0 and rule != "bp" and not fa_family:
        raise ConfigError(f"model.hidden: rule '{rule}' needs at least one hidden layer")
    if cfg.model.name == "mlp":
        depth = len(cfg.model.hidden)
        if rule == "fp" and cfg.algorithm.bp_depth > depth:
            raise ConfigError(f"algorithm.bp_depth must be at most the number of hidden layers "
                              f"({depth}), got {cfg.algorithm.bp_depth}")
    if cfg.train.loss == "bce" and cfg.data.name == "random" and cfg.data.get("classes", 10) != 2:
        raise ConfigError("train.loss: 'bce' needs a two-class dataset; set data.classes to 2")
