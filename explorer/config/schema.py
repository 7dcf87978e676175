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
from dataclasses import dataclass, field
from typing import Any, Mapping

from explorer.config.bounds import (
    MAX_DROPOUT, MAX_EPOCHS, MAX_LAYERS, MAX_LR, MAX_MAGNITUDE, MAX_MOMENTUM, MAX_PROBE, MAX_SAMPLES, MAX_SEED, MAX_STEPS,
    MAX_WIDTH, MIN_POSITIVE,
)
from explorer.config.dataset_options import DATASET_OPTIONS, IMAGE_DATASETS, RESIZABLE
from explorer.config.augmentation import Augmentation, read_augment
from explorer.config.divergence import Divergence, read_diverge
from explorer.config.schedule import Schedule, read_schedule
from explorer.config.registry import CONV_MODELS, INIT_PARAMS, MODEL_OPTIONS, OPTIONS, RESNET_MODELS, rule_spec
from explorer.config.registry import RULES as RULE_SPECS
from explorer.config.fields import (
    ConfigError, boolean, choice, drop_none, integer, names, number, reject_unknown, require_mapping, shown,
)


# ----------------------------------------------------------------------------------------------
# Initialisers (docs/algorithms.md, "Initialisers"): one spec format for forward and feedback weights.

def _magnitude(value: Any, path: str) -> float:
    """A real number that goes into float32 weights: within ±`MAX_MAGNITUDE`."""
    return number(value, path, minimum=-MAX_MAGNITUDE, maximum=MAX_MAGNITUDE)


def _positive(value: Any, path: str) -> float:
    """A scale (std, gain): greater than 0, at least `MIN_POSITIVE`, at most `MAX_MAGNITUDE`."""
    return number(value, path, above=0.0, minimum=MIN_POSITIVE, maximum=MAX_MAGNITUDE)


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
        d = require_mapping(d, path)
        name = choice(d.get("name", "default"), f"{path}.name", list(INIT_PARAMS))
        reject_unknown(d, {"name", *INIT_PARAMS[name]}, path, f"initialiser '{name}'")
        if name == "uniform":
            for key in ("low", "high"):
                if key not in d:
                    raise ConfigError(f"{path}.{key} is required for initialiser 'uniform'", field=f"{path}.{key}")
            low, high = _magnitude(d["low"], f"{path}.low"), _magnitude(d["high"], f"{path}.high")
            if low >= high:
                raise ConfigError(f"{path}.low must be less than {path}.high, got low={low:g} >= high={high:g}",
                                  field=f"{path}.low")
            return cls(name, low=low, high=high)
        if name == "normal":
            if "std" not in d:
                raise ConfigError(f"{path}.std is required for initialiser 'normal'", field=f"{path}.std")
            mean = _magnitude(d.get("mean", 0.0), f"{path}.mean")
            return cls(name, mean=mean, std=_positive(d["std"], f"{path}.std"))
        if name in ("fan_in", "fan_out", "xavier", "kaiming", "orthogonal"):
            gain = d.get("gain")
            return cls(name, gain=None if gain is None else _positive(gain, f"{path}.gain"))
        if name == "sign_concordant":
            inner = cls.from_dict(d.get("inner", {"name": "default"}), f"{path}.inner")
            if inner.name == "sign_concordant":
                raise ConfigError(f"{path}.inner cannot itself be sign_concordant", field=f"{path}.inner")
            return cls(name, inner=inner)
        return cls(name)

    def to_dict(self) -> dict:
        d = drop_none({"name": self.name, "low": self.low, "high": self.high, "mean": self.mean,
                        "std": self.std, "gain": self.gain})
        if self.inner is not None:
            d["inner"] = self.inner.to_dict()
        return d


# ----------------------------------------------------------------------------------------------
# Datasets and models: a name plus options that depend on the name.

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")


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
        d = require_mapping(d, path)
        name = choice(d.get("name", "digits"), f"{path}.name", list(DATASET_OPTIONS))
        known = DATASET_OPTIONS[name]
        if "resize" in d and "resize" not in known:
            raise ConfigError(f"{path}.resize resizes the images of {', '.join(RESIZABLE)}; '{name}' is not one "
                              f"of them", field=f"{path}.resize")
        reject_unknown(d, {"name", *known}, path, f"dataset '{name}'")
        options = {k: known[k].read(v, f"{path}.{k}") for k, v in d.items() if k != "name"}
        return cls(name, drop_none(options))  # an option given as None is left to the loader's default

    def get(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def to_dict(self) -> dict:
        d = {"name": self.name, **copy.deepcopy(self.options)}
        if "resize" in d:  # a list, as JSON writes it
            d["resize"] = list(d["resize"])
        return d


@dataclass(frozen=True)
class ModelConfig:
    """Which network: ``mlp`` (hidden widths, activation), a CNN or a ResNet. ``dropout`` p (0 ≤ p < 1,
    0 by default; the MLP and the CNNs): each hidden activation of an MLP, and each fully connected
    hidden layer's of a CNN, drops units with probability p in training (`explorer.models.dropout`).

    Example:
        >>> ModelConfig.from_dict({"name": "mlp", "hidden": [32, 32]}).hidden
        (32, 32)
        >>> ModelConfig.from_dict({"name": "lenet5", "dropout": 0.5}).to_dict()
        {'name': 'lenet5', 'activation': 'tanh', 'dropout': 0.5}
    """

    name: str = "mlp"
    hidden: tuple[int, ...] | None = (64, 64)
    activation: str = "relu"
    pool: bool | None = None
    dropout: float = 0.0

    @classmethod
    def from_dict(cls, d: Any, path: str = "model") -> ModelConfig:
        d = require_mapping(d, path)
        name = choice(d.get("name", "mlp"), f"{path}.name", list(MODEL_OPTIONS))
        reject_unknown(d, {"name", *MODEL_OPTIONS[name]}, path, f"model '{name}'")
        default_act = "tanh" if name == "lenet5" else "relu"
        activation = choice(d.get("activation", default_act), f"{path}.activation", ACTIVATIONS)
        hidden = None
        if name == "mlp":
            raw = d.get("hidden", [64, 64])
            if not isinstance(raw, (list, tuple)):
                raise ConfigError(f"{path}.hidden must be a list of layer widths, got {shown(raw)}", field=f"{path}.hidden")
            if len(raw) > MAX_LAYERS:
                raise ConfigError(f"{path}.hidden must have at most {MAX_LAYERS} layers, got {len(raw)}",
                                  field=f"{path}.hidden")
            hidden = tuple(integer(w, f"{path}.hidden[{i}]", minimum=1, maximum=MAX_WIDTH) for i, w in enumerate(raw))
        pool = boolean(d["pool"], f"{path}.pool") if "pool" in d else None
        dropout = number(d.get("dropout", 0.0), f"{path}.dropout", minimum=0.0, maximum=MAX_DROPOUT)
        return cls(name, hidden, activation, pool, dropout)

    def to_dict(self) -> dict:
        d = {"name": self.name}
        if self.hidden is not None:
            d["hidden"] = list(self.hidden)
        d["activation"] = self.activation
        if self.pool is not None:
            d["pool"] = self.pool
        if self.dropout:  # a config without it reads as it did before
            d["dropout"] = self.dropout
        return d


# ----------------------------------------------------------------------------------------------
# Learning rules (docs/algorithms.md, "The rules").

# The rules themselves, their options and what they fit are declared once, in `registry`.
RULES = tuple(RULE_SPECS)
LAZY_RULES = tuple(key for key, spec in RULE_SPECS.items() if spec.family == "lazy")
RULE_OPTIONS: dict[str, str] = {option: key for key, spec in RULE_SPECS.items() for option in spec.options}
RF_VARIANTS = OPTIONS["variant"].choices
SIGN_REFRESH = tuple(c for c in OPTIONS["sign_refresh"].choices if c is not None)


@dataclass(frozen=True)
class AlgorithmConfig:
    """The learning rule, its feedback initialiser and its options (`registry.RULES`).

    The options the rule takes are filled in at their defaults. An option of another rule, or a
    feedback initialiser given to a rule without feedback matrices, is checked and then ignored, so
    one base config serves every rule of a comparison or a sweep.

    Example:
        >>> AlgorithmConfig.from_dict({"name": "bdfa", "block_size": 2}).block_size
        2
        >>> AlgorithmConfig.from_dict({"name": "bp", "block_size": 2, "feedback_init": "xavier"}).to_dict()
        {'name': 'bp'}
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
        d = require_mapping(d, path)
        spec = rule_spec(d.get("name", "bp"), f"{path}.name")
        reject_unknown(d, {"name", "feedback_init", "train_hidden", *OPTIONS}, path, "a learning rule")
        kw: dict[str, Any] = {}
        for option in OPTIONS.values():
            if option.name in spec.options:
                kw[option.name] = option.read(d.get(option.name, option.default), f"{path}.{option.name}")
            elif option.name in d:  # another rule's option: checked, then ignored
                option.read(d[option.name], f"{path}.{option.name}")
        feedback = None
        if "feedback_init" in d:
            given = InitSpec.from_dict(d["feedback_init"], f"{path}.feedback_init")
            if spec.feedback and given.name not in spec.feedback:
                raise ConfigError(
                    f"{path}.feedback_init.name: {given.name} needs a feedback matrix shaped like the forward "
                    f"weight it stands in for, which only rule 'fa' has (not '{spec.key}')",
                    field=f"{path}.feedback_init.name")
            feedback = given if spec.feedback else None  # a rule without feedback matrices ignores it
        train_hidden = boolean(d.get("train_hidden", True), f"{path}.train_hidden") or not spec.shallow
        return cls(spec.key, feedback, train_hidden=train_hidden, **kw)

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"name": self.name}
        if self.feedback_init is not None:
            d["feedback_init"] = self.feedback_init.to_dict()
        d.update(drop_none({"block_size": self.block_size, "bp_depth": self.bp_depth,
                            "connections": self.connections, "sign_refresh": self.sign_refresh,
                            "scale": self.scale, "variant": self.variant}))
        if not self.train_hidden:
            d["train_hidden"] = False
        return d


# ----------------------------------------------------------------------------------------------
# Optimiser and training loop.

OPTIMIZERS = ("sgd", "adagrad", "adadelta", "rmsprop", "adam")
DEFAULT_LR = {"sgd": 0.05, "adagrad": 0.01, "adadelta": 1.0, "rmsprop": 0.001, "adam": 0.001}
LOSSES = ("cross_entropy", "bce", "bce_multi", "mse", "mse_sigmoid")
REDUCTIONS = ("mean", "sum")
CUDA_GRAPH = ("auto", "off")  # train.cuda_graph: capture ordinary steps where a CUDA run allows, or never
MOMENTUM_OPTIMIZERS = ("sgd", "rmsprop")  # the optimisers that take momentum (sgd also nesterov)


@dataclass(frozen=True)
class OptimizerConfig:
    """Optimiser, learning rate and its options; Batch Manhattan hands it sign(grad).

    ``momentum`` (sgd, rmsprop) and ``nesterov`` (sgd) given to an optimiser that has none are
    checked, then ignored: momentum 0, no nesterov. ``schedule`` (`Schedule`, none by default) sets
    the rate epoch by epoch; "restarts" also clears the optimiser's state at its milestones and may
    put back the best epoch's weights (`explorer.engine.trainer`).

    Example:
        >>> OptimizerConfig.from_dict({"name": "adam"}).lr
        0.001
        >>> OptimizerConfig.from_dict({"name": "adam", "momentum": 0.9, "nesterov": True}).to_dict()
        {'name': 'adam', 'lr': 0.001, 'momentum': 0.0, 'weight_decay': 0.0, 'batch_manhattan': False}
    """

    name: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_manhattan: bool = False
    nesterov: bool | None = None
    schedule: Schedule | None = None

    @classmethod
    def from_dict(cls, d: Any, path: str = "optimizer") -> OptimizerConfig:
        d = require_mapping(d, path)
        name = choice(d.get("name", "sgd"), f"{path}.name", OPTIMIZERS)
        reject_unknown(d, {"name", "lr", "weight_decay", "batch_manhattan", "momentum", "nesterov", "schedule"},
                       path, "an optimiser")
        lr = number(d.get("lr", DEFAULT_LR[name]), f"{path}.lr", above=0.0, minimum=MIN_POSITIVE, maximum=MAX_LR)
        # momentum and nesterov given to an optimiser without them: checked, then ignored (one base
        # config serves a sweep over optimizer.name)
        momentum = number(d.get("momentum", 0.9 if name == "sgd" else 0.0), f"{path}.momentum",
                          minimum=0.0, maximum=MAX_MOMENTUM)
        if name not in MOMENTUM_OPTIMIZERS:
            momentum = 0.0
        nesterov = boolean(d["nesterov"], f"{path}.nesterov") if "nesterov" in d else None
        if name != "sgd":
            nesterov = None
        if nesterov and momentum == 0:
            raise ConfigError(f"{path}.nesterov needs {path}.momentum greater than 0", field=f"{path}.nesterov")
        return cls(name, lr, momentum,
                   number(d.get("weight_decay", 0.0), f"{path}.weight_decay", minimum=0.0, maximum=MAX_MAGNITUDE),
                   boolean(d.get("batch_manhattan", False), f"{path}.batch_manhattan"), nesterov,
                   read_schedule(d.get("schedule"), f"{path}.schedule"))

    def lr_at(self, epoch: int) -> float:
        """The learning rate of ``epoch`` (0-based) under the schedule.

        Example:
            >>> OptimizerConfig.from_dict({"lr": 0.1, "schedule": {"name": "step", "step_size": 2, "gamma": 0.5}}).lr_at(2)
            0.05
        """
        return self.lr if self.schedule is None else self.schedule.lr_at(self.lr, epoch)

    def to_dict(self) -> dict:
        schedule = None if self.schedule is None else self.schedule.to_dict()
        return drop_none({"name": self.name, "lr": self.lr, "momentum": self.momentum,
                           "weight_decay": self.weight_decay, "batch_manhattan": self.batch_manhattan,
                           "nesterov": self.nesterov, "schedule": schedule})


@dataclass(frozen=True)
class TrainConfig:
    """Epochs, batch size, loss and its reduction, and how often metrics are logged (steps; each
    epoch end too). ``reduction`` "sum" trains on the batch's summed loss (over samples, and over
    units for bce_multi and mse) instead of its mean; records report the mean either way.
    ``augment`` (`Augmentation`, none by default) crops and flips image inputs at random.
    ``diverge`` (`Divergence`) says when a run whose loss or weights explode counts as diverged
    (`explorer.config.divergence`; ``null`` leaves only a non-finite loss). ``cuda_graph``
    ("auto" or "off", `CUDA_GRAPH`): on CUDA, "auto" captures an ordinary training step in a CUDA
    graph and replays it where the run allows (`explorer.engine.graphed`); "off" runs every step eagerly.

    Example:
        >>> TrainConfig.from_dict({"epochs": 2, "loss": "mse"}).loss
        'mse'
        >>> TrainConfig.from_dict({"loss": "bce_multi", "reduction": "sum"}).to_dict()["reduction"]
        'sum'
        >>> TrainConfig.from_dict({"diverge": {"loss_factor": 1e3}}).diverge.loss_factor
        1000.0
        >>> TrainConfig.from_dict({"cuda_graph": "off"}).to_dict()["cuda_graph"]
        'off'
    """

    epochs: int = 10
    batch_size: int = 64
    loss: str = "cross_entropy"
    log_every: int | None = None
    snapshots: tuple[int, ...] = ()
    snapshot_samples: int = 1000
    snapshot_layers: tuple[str, ...] = ()  # empty: every hidden layer
    reduction: str = "mean"
    augment: Augmentation | None = None
    diverge: Divergence = field(default_factory=Divergence)
    cuda_graph: str = "auto"

    @classmethod
    def from_dict(cls, d: Any, path: str = "train") -> TrainConfig:
        d = require_mapping(d, path)
        reject_unknown(d, {"epochs", "batch_size", "loss", "reduction", "augment", "log_every", "snapshots",
                            "snapshot_samples", "snapshot_layers", "diverge", "cuda_graph"}, path, "train")
        log_every = d.get("log_every")
        epochs = integer(d.get("epochs", 10), f"{path}.epochs", minimum=1, maximum=MAX_EPOCHS)
        raw = d.get("snapshots", [])
        if not isinstance(raw, (list, tuple)):
            raise ConfigError(f"{path}.snapshots must be a list of epochs (0 = before training), got {shown(raw)}",
                              field=f"{path}.snapshots")
        snapshots = tuple(sorted({integer(e, f"{path}.snapshots[{i}]", minimum=0, maximum=epochs)
                                  for i, e in enumerate(raw)}))
        return cls(
            epochs,
            integer(d.get("batch_size", 64), f"{path}.batch_size", minimum=1, maximum=MAX_SAMPLES),
            choice(d.get("loss", "cross_entropy"), f"{path}.loss", LOSSES),
            None if log_every is None else integer(log_every, f"{path}.log_every", minimum=1, maximum=MAX_STEPS),
            snapshots,
            integer(d.get("snapshot_samples", 1000), f"{path}.snapshot_samples", minimum=1, maximum=MAX_PROBE),
            names(d.get("snapshot_layers", []), f"{path}.snapshot_layers"),
            choice(d.get("reduction", "mean"), f"{path}.reduction", REDUCTIONS),
            read_augment(d.get("augment"), f"{path}.augment"),
            read_diverge(d.get("diverge"), f"{path}.diverge", given="diverge" in d),
            choice(d.get("cuda_graph", "auto"), f"{path}.cuda_graph", CUDA_GRAPH),
        )

    def to_dict(self) -> dict:
        d = drop_none({"epochs": self.epochs, "batch_size": self.batch_size, "loss": self.loss,
                        "log_every": self.log_every})
        if self.snapshots:
            d["snapshots"] = list(self.snapshots)
            d["snapshot_samples"] = self.snapshot_samples
        if self.snapshot_layers:
            d["snapshot_layers"] = list(self.snapshot_layers)
        if self.reduction != "mean":  # a config without it reads as it did before
            d["reduction"] = self.reduction
        if self.augment is not None:
            d["augment"] = self.augment.to_dict()
        if self.diverge != Divergence():  # a config without it reads as it did before
            d["diverge"] = None if self.diverge.off else self.diverge.to_dict()
        if self.cuda_graph != "auto":  # a config without it reads as it did before
            d["cuda_graph"] = self.cuda_graph
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
        if not isinstance(d, Mapping):  # about the config as a whole: no field
            raise ConfigError(f"a run config must be an object (a dict), got {type(d).__name__}", field=None)
        reject_unknown(d, {*SECTIONS, "seed", "device"}, "", "a run config")
        parts = {key: section.from_dict(d.get(key, {}), key) for key, section in SECTIONS.items()}
        if parts["init"].name == "sign_concordant":
            raise ConfigError("init.name: sign_concordant is for feedback matrices only "
                              "(use it as algorithm.feedback_init)", field="init.name")
        seed = integer(d.get("seed", 0), "seed", minimum=0, maximum=MAX_SEED)
        device = d.get("device")
        if device is not None:
            device = choice(device, "device", DEVICES)
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
        return RunConfig.from_dict(changed(self.to_dict(), changes))


def changed(d: Mapping, changes: Mapping[str, Any]) -> dict:
    """A copy of the config dict ``d`` with dotted keys replaced (``None`` removes a key), not yet
    validated. Applied to the dict as written, it keeps the options that validation would drop for
    the rule ``d`` names (another rule's ``block_size``): a sweep over ``algorithm.name`` from one
    base gives each rule the options the base wrote for it.

    Example:
        >>> base = {"algorithm": {"name": "dfa", "block_size": 2}}
        >>> RunConfig.from_dict(changed(base, {"algorithm.name": "bdfa"})).algorithm.block_size
        2
        >>> RunConfig.from_dict(base).with_values({"algorithm.name": "bdfa"}).algorithm.block_size  # dfa dropped it
        1
    """
    d = copy.deepcopy(dict(d))
    for dotted, value in changes.items():
        target = d
        *parents, last = dotted.split(".")
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"{dotted}: {part} is not a section", field=dotted)
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return d


def _check_combination(cfg: RunConfig) -> None:
    """Checks that need more than one section: which rules fit which networks and losses."""
    spec = RULE_SPECS[cfg.algorithm.name]
    rule, model = spec.key, cfg.model.name
    if not spec.fits(model):
        raise ConfigError(
            f"algorithm.name: '{rule}' is defined for {', '.join(spec.networks)} (a chain of fully connected "
            f"layers), not '{model}'. Rules that fit '{model}': "
            f"{', '.join(k for k, s in RULE_SPECS.items() if s.fits(model))}.", field="algorithm.name")
    if model == "mlp":
        depth, (low, high) = len(cfg.model.hidden), spec.hidden_layers
        if high is not None and low == high and depth != low:
            raise ConfigError(f"model.hidden: '{rule}' is defined for an MLP with {low} hidden layer"
                              f"{'s' if low != 1 else ''} (model.hidden like [512]), got {depth}", field="model.hidden")
        if depth < low:
            raise ConfigError(f"model.hidden: rule '{rule}' needs at least {low} hidden layer"
                              f"{'s' if low != 1 else ''}", field="model.hidden")
        if rule == "fp" and cfg.algorithm.bp_depth > depth:
            raise ConfigError(f"algorithm.bp_depth must be at most the number of hidden layers "
                              f"({depth}), got {cfg.algorithm.bp_depth}", field="algorithm.bp_depth")
    if spec.family == "lazy":
        needed = "linear" if cfg.algorithm.variant == "linear" else "relu"
        if cfg.model.activation != needed:
            what = f"variant '{cfg.algorithm.variant}'" if rule == "rf" else f"'{rule}' (its gates are ReLU's)"
            raise ConfigError(f"model.activation must be '{needed}' for {what}, got '{cfg.model.activation}'",
                              field="model.activation")
    if cfg.model.dropout and spec.gated:
        raise ConfigError(f"model.dropout: '{rule}' trains the gated linear network, which takes no dropout",
                          field="model.dropout")
    feedback = cfg.algorithm.feedback_init
    if rule == "fa" and cfg.algorithm.sign_refresh and feedback is not None and feedback.name == "sign_concordant":
        raise ConfigError("algorithm.sign_refresh already makes feedback sign-concordant; "
                          "give algorithm.feedback_init the magnitude initialiser instead",
                          field="algorithm.sign_refresh")
    if cfg.train.augment is not None and cfg.data.name not in IMAGE_DATASETS:
        raise ConfigError(f"train.augment crops and flips images; '{cfg.data.name}' is not an image dataset "
                          f"(image datasets: {', '.join(IMAGE_DATASETS)})", field="train.augment")
    if cfg.train.loss == "bce" and cfg.data.name == "random" and cfg.data.get("classes", 10) != 2:
        raise ConfigError("train.loss: 'bce' needs a two-class dataset; set data.classes to 2", field="train.loss")
