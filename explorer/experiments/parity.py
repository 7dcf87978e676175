"""The parity experiment (after Daniely & Malach 2020 and the parity thesis): its one setup and the
one place its run configs are built.

k digits side by side, label = parity of their sum; one hidden layer of ReLU units (linear ones for
linear random features), one sigmoid output with BCE. `ParitySetup` holds every choice: the
command line's flags, the Parity page's controls and `ParityWidget`'s each make one, and it checks
them field by field (`ParitySetup.problems`, messages that name the field as the page labels it).
`ParitySetup.configs` builds its runs' configs. `run_parity` runs a setup in the foreground (the
command line), choosing per rule the best of several learning rates;
`explorer.experiments.parity_runs` runs it in the background (the page and the widget). Both
summarise it with `explorer.experiments.parity_table.final_table`.

The defaults are a classroom-scale version of the thesis's experiment on the 8×8 digits (no
download): k = 3 digits per sample, 128 hidden units, 10,000 fresh training samples per epoch,
12 epochs, plain SGD at lr 0.5 (at the thesis's lr 0.01 BP stays at chance for many epochs on
digits; see tests/test_parity.py). There BP leaves chance after about 5 epochs and ends near 0.7,
random features stay at 0.5, and DFA lies between, with wide bands.

Example:
    >>> setup = ParitySetup(rules=("bp", "rf:linear"), seeds=2)
    >>> [(c.algorithm.name, c.model.activation, c.seed) for c in setup.configs()]
    [('bp', 'relu', 0), ('bp', 'relu', 1), ('rf', 'linear', 0), ('rf', 'linear', 1)]
    >>> for field, message in ParitySetup(seeds=0, optimizers={"sgd": 0.0}).problems().items():
    ...     print(f"{field}: {message}")
    optimizers: learning rate (sgd): must be greater than 0, got 0.0
    seeds: seeds: at least 1, got 0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping, Sequence

from explorer.config import OPTIMIZERS, AlgorithmConfig, ConfigError, RunConfig
from explorer.config.labels import rule_label
from explorer.experiments.parity_table import Series

if TYPE_CHECKING:
    import pandas as pd

    from explorer.runs.sweep import Progress

PARITY_RULES = ("bp", "dfa", "fa", "ntk", "rf:gaussian", "rf:relu", "rf:linear")
# A learning rate per optimiser that trains the classroom default on digits (SGD: see the module
# docstring; the adaptive ones at their usual rates, Adadelta at the thesis's 1.0).
PARITY_LR = {"sgd": 0.5, "adadelta": 1.0, "rmsprop": 0.001, "adam": 0.001, "adagrad": 0.01}
MAX_SEEDS = 20   # the seeds a page or widget control offers
MAX_RUNS = 60    # the Parity page's cap on the runs one experiment queues on the shared server


def __getattr__(name: str):
    # REFERENCE_NOTE is built on first use: the published values come from the catalogue, whose
    # parity entries are built with this module (`explorer.experiments.references`).
    if name == "REFERENCE_NOTE":
        from explorer.experiments.references import PARITY_SETTING, PARITY_SOURCE

        return (f"Published: {PARITY_SETTING} ({PARITY_SOURCE}); ≈: approximate (read off a plot, or the mean "
                "of the author's runs that a plot draws). The defaults here are "
                "smaller (8×8 digits, fewer units, samples and epochs), so compare the ordering of the rules "
                "more than the exact numbers.")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class ParityRule:
    key: str           # as `PARITY` writes it: "bp", "rf:gaussian", …
    algorithm: dict
    activation: str    # of the hidden layer


def parity_rule(text: str) -> ParityRule:
    """``bp``, ``dfa``, ``ntk``, ``rf`` (= ``rf:gaussian``), ``rf:relu``, ``rf:linear``, or any other
    rule key; linear random features get a linear hidden layer, every other rule ReLU.

    Example:
        >>> parity_rule("rf:linear")
        ParityRule(key='rf:linear', algorithm={'name': 'rf', 'variant': 'linear'}, activation='linear')
        >>> parity_rule("rf").key, parity_rule("dfa").algorithm
        ('rf:gaussian', {'name': 'dfa'})
    """
    name, _, variant = text.strip().partition(":")
    if name == "rf":
        variant = variant or "gaussian"
        return ParityRule(f"rf:{variant}", {"name": "rf", "variant": variant},
                          "linear" if variant == "linear" else "relu")
    if variant:
        raise ConfigError(f"rules: only rf takes a variant (rf:gaussian, rf:relu, rf:linear), got {text!r}",
                          field="rules")
    return ParityRule(name, {"name": name}, "relu")


def rule_key(algorithm: Mapping) -> str:
    """The key of a run's rule in `PARITY` (``bp``, ``rf:gaussian``, …) from its algorithm dict.

    Example:
        >>> rule_key({"name": "rf", "variant": "relu"}), rule_key({"name": "dfa"})
        ('rf:relu', 'dfa')
    """
    name = algorithm.get("name", "bp")
    return f"rf:{algorithm.get('variant') or 'gaussian'}" if name == "rf" else name


def series_of(configs: Sequence[RunConfig]) -> list[Series]:
    """The series each of ``configs`` belongs to, in order: its rule's legend label, with the
    optimiser and learning rate after it when the configs use more than one.

    Example:
        >>> [s.label for s in series_of(ParitySetup(rules=("bp",), optimizers={"sgd": 0.5, "adam": 0.01}).configs())]
        ['BP · sgd 0.5', 'BP · sgd 0.5', 'BP · sgd 0.5', 'BP · adam 0.01', 'BP · adam 0.01', 'BP · adam 0.01']
    """
    several = len({(c.optimizer.name, c.optimizer.lr) for c in configs}) > 1
    out = []
    for c in configs:
        label = rule_label(c.algorithm.to_dict())
        if several:
            label += f" · {c.optimizer.name} {c.optimizer.lr:g}"
        out.append(Series(label, rule_key(c.algorithm.to_dict()), c.optimizer.name, c.optimizer.lr))
    return out


def published_values(k: int, series: Sequence[Series]) -> dict[str, float]:
    """Legend label -> the published test accuracy of its rule at this ``k``, where there is one."""
    from explorer.experiments.references import PARITY  # the catalogue imports this module

    return {s.label: PARITY[(k, s.rule)] for s in series if (k, s.rule) in PARITY}


_NUMBERS = (  # field, words, lowest, highest; None: the dataset's whole split
    ("first_seed", "first seed", 0, 2**31), ("epochs", "epochs", 1, 1000),
    ("train_samples", "training samples", 10, 200_000), ("test_samples", "test samples", 10, 100_000),
    ("hidden", "hidden units", 1, 8192), ("batch_size", "batch size", 1, 8192))


@dataclass(frozen=True)
class ParitySetup:
    """Every choice of a parity experiment: each rule × optimiser (``optimizers`` maps each to its
    learning rate) over seeds ``first_seed`` … ``first_seed + seeds - 1``. ``base`` is "digits"
    (embedded) or "mnist" (read from ``root``, or ``$EXPLORER_DATA``, or ``~/.explorer/data``);
    ``train_samples`` / ``test_samples`` None: the base's whole split. ``momentum`` applies to SGD
    and RMSprop. ``most_runs`` caps rules × optimisers × seeds, ``most_seeds`` the seeds (None: no
    cap; a page sets both). ``rules`` are kept
    as `parity_rule` writes them ("rf" becomes "rf:gaussian")."""

    k: int = 3
    base: str = "digits"
    root: str = ""
    rules: tuple[str, ...] = ("bp", "dfa", "rf:gaussian")
    optimizers: Mapping[str, float] = field(default_factory=lambda: {"sgd": PARITY_LR["sgd"]})
    momentum: float = 0.0
    weight_decay: float = 1e-3
    seeds: int = 3
    first_seed: int = 0
    epochs: int = 12
    train_samples: int | None = 10_000
    test_samples: int | None = 2_000
    hidden: int = 128
    batch_size: int = 64
    device: str = "auto"
    most_runs: int | None = None
    most_seeds: int | None = None

    def __post_init__(self) -> None:
        rules = (self.rules,) if isinstance(self.rules, str) else tuple(self.rules)
        object.__setattr__(self, "rules", tuple("rf:gaussian" if str(r).strip() == "rf" else str(r).strip()
                                                for r in rules))
        object.__setattr__(self, "optimizers", dict(self.optimizers))

    @classmethod
    def of(cls, configs: Sequence[RunConfig]) -> ParitySetup:
        """The setup that makes ``configs`` (an experiment's stored runs, or one config to start
        from): its rules, optimisers and seeds from all of them, everything else from the first.
        What a parity setup does not hold (initialisation, snapshots, …) is left out.

        Example:
            >>> setup = ParitySetup(k=1, rules=("bp", "rf:relu"), seeds=2, first_seed=5, train_samples=None)
            >>> ParitySetup.of(setup.configs()) == setup
            True
        """
        if not configs:
            raise ValueError("no configs to read a parity setup from")
        first = configs[0]
        if first.data.name != "parity":
            raise ConfigError(f"data.name must be 'parity' for the parity experiment, got {first.data.name!r}",
                              field="data.name")
        optimizers: dict[str, float] = {}
        for c in configs:
            optimizers.setdefault(c.optimizer.name, c.optimizer.lr)
        seeds = sorted({c.seed for c in configs})
        data = first.data
        return cls(k=data.get("k", 3), base=data.get("base", "mnist"), root=data.get("root", ""),
                   rules=tuple(dict.fromkeys(rule_key(c.algorithm.to_dict()) for c in configs)),
                   optimizers=optimizers, momentum=first.optimizer.momentum,
                   weight_decay=first.optimizer.weight_decay, seeds=len(seeds), first_seed=seeds[0],
                   epochs=first.train.epochs, train_samples=data.get("train_samples"),
                   test_samples=data.get("test_samples"),
                   hidden=first.model.hidden[0] if first.model.hidden else cls.hidden,
                   batch_size=first.train.batch_size, device=first.device or "auto")

    def _own_problems(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if not _whole(self.k) or not 1 <= self.k <= 10:
            out["k"] = f"k: between 1 and 10 digits per sample, got {self.k!r}"
        if self.base not in ("digits", "mnist"):
            out["base"] = f"base dataset: 'digits' or 'mnist', got {self.base!r}"
        elif self.base == "digits" and self.root:
            out["root"] = "data folder: only the mnist base is read from a folder; the digits are built in"
        elif self.base == "mnist":
            missing = mnist_missing(self.root)
            if missing:
                out["root"] = missing
        rules = self.rules
        if not rules:
            out["rules"] = "rules: choose at least one learning rule"
        elif len(set(rules)) < len(rules):
            out["rules"] = "rules: each rule once"
        else:
            for r in rules:
                try:
                    AlgorithmConfig.from_dict(parity_rule(r).algorithm)
                except ConfigError as err:
                    out["rules"] = str(err) if err.field == "rules" else f"rules: {r!r} is not a rule here ({err})"
                    break
        if not self.optimizers:
            out["optimizers"] = "optimisers: choose at least one"
        for name, lr in self.optimizers.items():
            if name not in OPTIMIZERS:
                out["optimizers"] = f"optimisers: unknown optimiser {name!r} (choose from {', '.join(OPTIMIZERS)})"
            elif isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
                out["optimizers"] = f"learning rate ({name}): must be greater than 0, got {lr!r}"
            else:
                continue
            break
        if not _whole(self.seeds) or self.seeds < 1:
            out["seeds"] = f"seeds: at least 1, got {self.seeds!r}"
        elif self.most_seeds is not None and self.seeds > self.most_seeds:
            out["seeds"] = f"seeds: at most {self.most_seeds} here, got {self.seeds}"
        elif self.most_runs is not None and "rules" not in out and "optimizers" not in out:
            runs = len(rules) * len(self.optimizers) * self.seeds
            if runs > self.most_runs:
                out["seeds"] = (f"seeds: {_count(len(rules), 'rule')} × {_count(len(self.optimizers), 'optimiser')} "
                                f"× {_count(self.seeds, 'seed')} make {runs} runs; at most {self.most_runs} at once")
        for name, words, low, high in _NUMBERS:
            value = getattr(self, name)
            if (value is not None or name not in ("train_samples", "test_samples")) and not (
                    _whole(value) and low <= value <= high):
                out[name] = f"{words}: a whole number from {low:,} to {high:,}, got {value!r}"
        if ("train_samples" not in out and "batch_size" not in out and self.train_samples is not None
                and self.batch_size > self.train_samples):
            out["batch_size"] = (f"batch size: at most the {self.train_samples:,} training samples, "
                                 f"got {self.batch_size:,}")
        return out

    def problems(self) -> dict[str, str]:
        """Every problem, keyed by the field it is about ("setup" for one that the run config
        finds); empty when the experiment can start."""
        out = self._own_problems()
        if not out:
            try:
                self.configs()
            except ConfigError as err:
                out["setup"] = str(err)
        return out

    def configs(self) -> list[RunConfig]:
        """One validated config per rule × optimiser × seed (seeds innermost); `ConfigError` with
        the first problem otherwise (its ``.field`` a field of this setup)."""
        problems = self._own_problems()
        if problems:
            name, message = next(iter(problems.items()))
            raise ConfigError(message, field=name)
        data = {"name": "parity", "base": self.base, "k": self.k}
        data |= {key: value for key, value in (("root", self.root), ("train_samples", self.train_samples),
                                                ("test_samples", self.test_samples)) if value}
        out = []
        for key in self.rules:
            rule = parity_rule(key)
            for name, lr in self.optimizers.items():
                opt = {"name": name, "lr": float(lr), "weight_decay": self.weight_decay}
                if name in ("sgd", "rmsprop"):
                    opt["momentum"] = self.momentum
                d = {"data": data, "model": {"name": "mlp", "hidden": [self.hidden], "activation": rule.activation},
                     "algorithm": rule.algorithm, "optimizer": opt,
                     "train": {"epochs": self.epochs, "batch_size": self.batch_size, "loss": "bce"}}
                if self.device != "auto":
                    d["device"] = self.device
                cfg = RunConfig.from_dict(d)
                out += [cfg.with_values({"seed": self.first_seed + s}) for s in range(self.seeds)]
        return out

    def series(self) -> list[Series]:
        """The experiment's series (rule × optimiser), as its chart and table will name them."""
        return list(dict.fromkeys(series_of(self.configs())))

    def published(self) -> dict[str, float]:
        """Series label -> the published test accuracy of its rule at this k, where there is one."""
        return published_values(self.k, self.series())

    @property
    def label(self) -> str:
        """A short name for the experiment: ``parity k=3 on digits``."""
        return f"parity k={self.k} on {self.base}"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def mnist_missing(root: str = "") -> str:
    """"" if MNIST's files are in the data folder, else how to get them (naming the field).

    Example:
        >>> mnist_missing("/nonexistent").startswith("data folder: MNIST is not in /nonexistent/MNIST/raw")
        True
    """
    from explorer.config import DataConfig
    from explorer.data.idx import IDX_SOURCES
    from explorer.data.vision import data_root

    folder = data_root(DataConfig("mnist", {"root": root} if root else {}))
    raw = folder / "MNIST" / "raw"
    files = IDX_SOURCES["mnist"].files
    if all((raw / f).exists() or (raw / f.removesuffix(".gz")).exists() for f in files):
        return ""
    return (f"data folder: MNIST is not in {raw}. Put {', '.join(files)} there (torchvision's layout; "
            f"on a machine with a network: python -c \"import torchvision; torchvision.datasets.MNIST('{folder}', "
            "download=True)\"), or name a folder that holds MNIST/raw/, or choose the base 'digits', "
            "which needs no download.")


# -- In the foreground (the command line) ---------------------------------------------------------


def run_setup(setup: ParitySetup, lrs: Sequence[float] | None = None,
              progress: bool | Progress = True) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train ``setup`` here and now: each rule × optimiser over its seeds, at each learning rate of
    ``lrs`` (default: the setup's), every config checked before the first run starts. Returns
    (long table, summary, final table): the long table and summary as `sweep` makes them, by
    rule (and optimizer, when there are several) and lr; the final table is `final_table` at each
    series' chosen lr (`select_lr`: the best mean test accuracy over the last epochs).
    ``progress`` is `sweep`'s, over every run: one bar, moved by each training step."""
    # Imported here: the catalogue builds its parity entries with this module, and it stays light.
    import pandas as pd

    from explorer.experiments.parity_table import final_table
    from explorer.runs.sweep import close_bar, epochs_in, expand, progress_bar, select_lr, summarise, sweep

    configs = setup.configs()
    several = len(setup.optimizers) > 1
    points = {}  # (rule, optimiser) -> its configs over the seeds
    for cfg in configs:
        points.setdefault((rule_key(cfg.algorithm.to_dict()), cfg.optimizer.name), []).append(cfg)
    grids = {point: {"optimizer.lr": list(lrs) if lrs is not None else [cfgs[0].optimizer.lr]}
             for point, cfgs in points.items()}
    epochs = sum(epochs_in(expand(cfgs[0], grids[point], [c.seed for c in cfgs])) for point, cfgs in points.items())
    bar = progress_bar(epochs, setup.label) if progress is True else None
    report = bar.update if bar is not None else progress  # one count over every rule's runs
    tables, trained = [], {}  # (rule, optimiser, lr) -> [(config, records)] over the seeds
    for (rule, name), cfgs in points.items():
        keep = lambda point, result, rule=rule, name=name: trained.setdefault(  # noqa: E731
            (rule, name, point["optimizer.lr"]), []).append((result.config, result.history))
        result = sweep(cfgs[0], grids[(rule, name)], [c.seed for c in cfgs], progress=report, on_run=keep)
        tables.append(result.table.assign(rule=rule, **({"optimizer": name} if several else {})))
    if bar is not None:
        close_bar(bar)
    table = pd.concat(tables, ignore_index=True)
    keys = ["rule", "optimizer", "optimizer.lr"] if several else ["rule", "optimizer.lr"]
    chosen = [(row["rule"], row.get("optimizer", configs[0].optimizer.name), row["optimizer.lr"])
              for row in select_lr(table, keys).to_dict("records")]
    runs = [trained[point] for point in chosen]
    series = series_of([cfg for seeds in runs for cfg, _ in seeds[:1]])
    final = final_table(setup.k, {s: [records for _, records in seeds] for s, seeds in zip(series, runs)})
    return table, summarise(table, keys), final


def run_parity(k: int, rules: Sequence[str], lrs: Sequence[float], seeds: int = 3,
               progress: bool | Progress = True, *, base: str = "mnist", epochs: int = 20, optimizer: str = "sgd",
               momentum: float = 0.0, batch_size: int = 64, hidden: int = 512, data_options: dict | None = None,
               device: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The ``parity`` command: the `ParitySetup` of these options (the defaults are the published
    setting, on MNIST), run by `run_setup` over the learning rates ``lrs``. The final table has, per
    rule at its chosen lr, the last epoch's test accuracy (mean, 95% CI) and the published value:
    columns rule, optimizer.lr, mean, ci95, n, published. ``data_options``: root, train_samples,
    test_samples."""
    data = dict(data_options or {})
    unknown = sorted(set(data) - {"root", "train_samples", "test_samples"})
    if unknown:
        raise ConfigError(f"data_options: only root, train_samples and test_samples, got {unknown}",
                          field="data_options")
    if not lrs:
        raise ConfigError("--lr: give at least one learning rate", field="optimizer.lr")
    setup = ParitySetup(k=k, base=base, root=data.get("root") or "", rules=tuple(rules),
                        optimizers={optimizer: lrs[0]}, momentum=momentum, seeds=seeds, epochs=epochs,
                        train_samples=data.get("train_samples"), test_samples=data.get("test_samples"),
                        hidden=hidden, batch_size=batch_size, device=device or "auto")
    table, summary, final = run_setup(setup, lrs, progress)
    final = final.rename(columns={"lr": "optimizer.lr"})
    return table, summary, final[["rule", "optimizer.lr", "mean", "ci95", "n", "published"]]


__all__ = ["ParitySetup", "ParityRule", "parity_rule", "rule_key", "series_of", "published_values", "mnist_missing",
           "run_setup", "run_parity", "PARITY_RULES", "PARITY_LR", "MAX_RUNS", "MAX_SEEDS", "REFERENCE_NOTE"]
