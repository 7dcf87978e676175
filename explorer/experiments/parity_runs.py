"""The parity experiment as background runs: every rule × optimiser × seed as one stored group,
followed live, summarised as accuracy bands across seeds and a final table beside the published
values (`explorer.experiments.references.PARITY`).

`explorer.experiments.parity.run_parity` runs the same experiment in the foreground (the command line); this
module is what the app's Parity page uses: `ParitySetup` holds the page's choices and checks them
field by field (`ParitySetup.problems`, messages that name the field as the page labels it),
`start` submits the runs to a workspace's job manager, and `ParityRuns` reads them back from a
`runs.Comparison` (incrementally, while they train): `ParityRuns.band` for the chart,
`ParityRuns.final` for the table, `ParityRuns.references` for the published values.

The defaults are a classroom-scale version of the thesis's experiment on the 8×8 digits (no
download): k = 3 digits per sample, 128 hidden units, 10,000 fresh training samples per epoch,
12 epochs, plain SGD at lr 0.5 (at the thesis's lr 0.01 BP stays at chance for many epochs on
digits; see tests/test_parity.py). There BP leaves chance after about 5 epochs and ends near 0.7,
random features stay at 0.5, and DFA lies between, with wide bands.

Example:
    >>> setup = ParitySetup(rules=("bp", "rf"), seeds=2)
    >>> [(c.algorithm.name, c.optimizer.name, c.seed) for c in setup.configs()]
    [('bp', 'sgd', 0), ('bp', 'sgd', 1), ('rf', 'sgd', 0), ('rf', 'sgd', 1)]
    >>> for field, message in ParitySetup(seeds=1, optimizers={"sgd": 0.0}).problems().items():
    ...     print(f"{field}: {message}")
    optimizers: learning rate (sgd): must be greater than 0, got 0.0
    seeds: seeds: at least 2, so that a 95% confidence band can be drawn
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import pandas as pd

from explorer.views import frames
from explorer.config import OPTIMIZERS, AlgorithmConfig, ConfigError, RunConfig
from explorer.experiments.parity import parity_config, rule_spec
from explorer.experiments.references import PARITY
from explorer.runs.workspace import Comparison, Workspace
from explorer.runs.store import RunInfo

PARITY_RULES = ("bp", "dfa", "fa", "ntk", "rf:gaussian", "rf:relu", "rf:linear")
# A learning rate per optimiser that trains the classroom default on digits (SGD: see the module
# docstring; the adaptive ones at their usual rates, Adadelta at the thesis's 1.0).
PARITY_LR = {"sgd": 0.5, "adadelta": 1.0, "rmsprop": 0.001, "adam": 0.001, "adagrad": 0.01}
MAX_RUNS = 60
MAX_SEEDS = 20
REFERENCE_NOTE = ("Published: MNIST digits, 512 hidden units, 20 epochs (Daniely & Malach 2020; the parity "
                  "thesis). The defaults here are smaller (8×8 digits, fewer units, samples and epochs), so "
                  "compare the ordering of the rules more than the exact numbers.")


def spec_label(algorithm: Mapping) -> str:
    """The key of a rule in `PARITY` (``bp``, ``rf:gaussian``, …) from an algorithm dict.

    Example:
        >>> spec_label({"name": "rf", "variant": "relu"}), spec_label({"name": "dfa"})
        ('rf:relu', 'dfa')
    """
    name = algorithm.get("name", "bp")
    return f"rf:{algorithm.get('variant') or 'gaussian'}" if name == "rf" else name


@dataclass(frozen=True)
class ParitySetup:
    """The Parity page's choices. ``optimizers`` maps each optimiser to its learning rate;
    ``base`` is "digits" (embedded) or "mnist" (read from ``root``, or ``$EXPLORER_DATA``, or
    ``~/.explorer/data``); seeds are ``first_seed`` … ``first_seed + seeds - 1``."""

    k: int = 3
    base: str = "digits"
    root: str = ""
    rules: tuple[str, ...] = ("bp", "dfa", "rf:gaussian")
    optimizers: Mapping[str, float] = field(default_factory=lambda: {"sgd": PARITY_LR["sgd"]})
    seeds: int = 3
    first_seed: int = 0
    epochs: int = 12
    train_samples: int = 10_000
    test_samples: int = 2_000
    hidden: int = 128
    batch_size: int = 64
    device: str = "auto"

    def _own_problems(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if not 1 <= self.k <= 10:
            out["k"] = f"k: between 1 and 10 digits per sample, got {self.k!r}"
        if self.base not in ("digits", "mnist"):
            out["base"] = f"base dataset: 'digits' or 'mnist', got {self.base!r}"
        elif self.base == "mnist":
            missing = mnist_missing(self.root)
            if missing:
                out["root"] = missing
        rules = list(self.rules)
        if not rules:
            out["rules"] = "rules: choose at least one learning rule"
        elif len(set(rules)) < len(rules):
            out["rules"] = "rules: each rule once"
        else:
            for r in rules:
                try:
                    AlgorithmConfig.from_dict(rule_spec(r).algorithm)
                except ConfigError as err:
                    out["rules"] = f"rules: {r!r} is not a rule here ({err})"
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
        if not 2 <= self.seeds <= MAX_SEEDS:
            out["seeds"] = (f"seeds: at least 2, so that a 95% confidence band can be drawn" if self.seeds < 2
                            else f"seeds: at most {MAX_SEEDS}, got {self.seeds}")
        elif not out.get("rules") and not out.get("optimizers"):
            runs = len(rules) * len(self.optimizers) * self.seeds
            if runs > MAX_RUNS:
                out["seeds"] = (f"seeds: {len(rules)} rules × {len(self.optimizers)} optimisers × {self.seeds} "
                                f"seeds make {runs} runs; at most {MAX_RUNS} at once")
        for name, value, low, high, words in (
                ("first_seed", self.first_seed, 0, 2**31, "first seed"),
                ("epochs", self.epochs, 1, 1000, "epochs"),
                ("train_samples", self.train_samples, 10, 200_000, "training samples"),
                ("test_samples", self.test_samples, 10, 100_000, "test samples"),
                ("hidden", self.hidden, 1, 8192, "hidden units"),
                ("batch_size", self.batch_size, 1, 8192, "batch size")):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                out[name] = f"{words}: a whole number from {low:,} to {high:,}, got {value!r}"
        if "train_samples" not in out and "batch_size" not in out and self.batch_size > self.train_samples:
            out["batch_size"] = (f"batch size: at most the {self.train_samples:,} training samples, "
                                 f"got {self.batch_size:,}")
        return out

    def problems(self) -> dict[str, str]:
        """Every problem, keyed by the field it is about; empty when the experiment can start."""
        out = self._own_problems()
        if not out:
            try:
                self.configs()
            except ConfigError as err:
                out["setup"] = str(err)
        return out

    def configs(self) -> list[RunConfig]:
        """One validated config per rule × optimiser × seed (seeds innermost); `ConfigError` with
        the first problem otherwise."""
        problems = self._own_problems()
        if problems:
            raise ConfigError(next(iter(problems.values())))
        data = {"train_samples": self.train_samples, "test_samples": self.test_samples}
        if self.base == "mnist" and self.root:
            data["root"] = self.root
        out = []
        for rule in self.rules:
            for name, lr in self.optimizers.items():
                cfg = parity_config(self.k, rule_spec(rule), base=self.base, epochs=self.epochs, optimizer=name,
                                    lr=float(lr), batch_size=self.batch_size, hidden=self.hidden,
                                    data_options=data, device=None if self.device == "auto" else self.device)
                out += [cfg.with_values({"seed": self.first_seed + s}) for s in range(self.seeds)]
        return out

    @property
    def label(self) -> str:
        """A short name for the group: ``parity k=3 on digits``."""
        return f"parity k={self.k} on {self.base}"


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


def start(workspace: Workspace, setup: ParitySetup) -> list[str]:
    """Submit every run of ``setup`` to ``workspace``'s job manager; the ids of its groups, one per
    seed (the store keeps one seed per group: the runs of a group start from the same forward
    weights and see the same minibatches). Nothing is submitted if the setup has a problem
    (`ConfigError` names the field)."""
    configs = setup.configs()
    groups = {}
    for cfg in configs:
        if cfg.seed not in groups:
            groups[cfg.seed] = workspace.store.create_group(
                cfg.seed, f"{setup.label} · seed {cfg.seed - setup.first_seed + 1} of {setup.seeds}")
    for cfg in configs:
        workspace.jobs.submit(cfg, group=groups[cfg.seed])
    return list(groups.values())


def follow(workspace: Workspace, groups: Sequence[str]) -> ParityRuns:
    """The runs of an experiment's ``groups`` (from `start`, or a link), read from ``workspace``'s
    store (`store.UnknownRun` if it has none of a group, `store.InvalidId` for a malformed id)."""
    return ParityRuns([workspace.comparison(g) for g in groups])


class ParityRuns:
    """A parity experiment read from its groups (one `Comparison` per seed): one *series* per
    rule × optimiser (its label: the rule's legend label, plus the optimiser when there is more than
    one), each a list of runs over seeds.

    Example:
        >>> import os, tempfile
        >>> with Workspace(os.path.join(tempfile.mkdtemp(), "runs.sqlite")) as ws:
        ...     setup = ParitySetup(k=1, rules=("bp", "rf:linear"), optimizers={"sgd": 0.5, "adam": 0.01}, seeds=2,
        ...                         epochs=2, train_samples=256, test_samples=256, hidden=16, device="cpu")
        ...     found = follow(ws, start(ws, setup))
        ...     found.wait(timeout=60)
        ...     band = found.band()
        >>> found.labels, found.k, len(found.groups)   # one group per seed
        (['BP · sgd 0.5', 'BP · adam 0.01', 'RF linear · sgd 0.5', 'RF linear · adam 0.01'], 1, 2)
        >>> set(band.groupby("run")["n"].max()), sorted(set(band["epoch"]))
        ({2}, [1.0, 2.0])
        >>> found.references()["RF linear · adam 0.01"], found.final()["published"].tolist()
        (0.84, [0.985, 0.985, 0.84, 0.84])
    """

    def __init__(self, comparisons: Sequence[Comparison]) -> None:
        self.comparisons = list(comparisons)
        pairs = [(c, i) for c in self.comparisons for i in range(len(c.configs))]
        cfgs = [c.configs[i] for c, i in pairs]
        if not cfgs or any(c.data.name != "parity" for c in cfgs):
            raise ValueError("these runs are not a parity experiment (their dataset is not 'parity')")
        self.k = cfgs[0].data.get("k", 3)
        self.base = cfgs[0].data.get("base", "mnist")
        self.groups = [c.group for c in self.comparisons]
        optimisers = list(dict.fromkeys((c.optimizer.name, c.optimizer.lr) for c in cfgs))
        self._series: dict[str, list[tuple[Comparison, str]]] = {}
        self._spec: dict[str, str] = {}
        self._optimizer: dict[str, tuple[str, float]] = {}
        for (comparison, i), c in zip(pairs, cfgs):
            label = frames.rule_label(c.algorithm.to_dict())
            if len(optimisers) > 1:
                label += f" · {c.optimizer.name} {c.optimizer.lr:g}"
            self._series.setdefault(label, []).append((comparison, comparison.labels[i]))
            self._spec[label] = spec_label(c.algorithm.to_dict())
            self._optimizer[label] = (c.optimizer.name, c.optimizer.lr)
        self.labels = list(self._series)

    def poll(self) -> int:
        """Read what is new in the store; the number of new records."""
        return sum(c.poll() for c in self.comparisons)

    @property
    def finished(self) -> bool:
        """Every run has its final status (as last polled)."""
        return all(c.finished for c in self.comparisons)

    @property
    def controllable(self) -> bool:
        """This process trains the runs still going, so `stop` reaches them."""
        return all(c.controllable for c in self.comparisons)

    def stop(self) -> None:
        """Stop every run still going (queued ones never start)."""
        for c in self.comparisons:
            if not c.finished:
                c.stop()

    def wait(self, timeout: float | None = None) -> None:
        """Poll until every run is final (`TimeoutError` after ``timeout`` s)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for c in self.comparisons:
            c.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def infos(self) -> list[tuple[str, RunInfo]]:
        """(series label, run info) of every run, series by series."""
        out = []
        for label, members in self._series.items():
            for comparison, run_label in members:
                out.append((label, comparison.infos[comparison.labels.index(run_label)]))
        return out

    def runs(self) -> dict[str, list[list[dict]]]:
        """Each series' runs (one list of records per seed)."""
        return {label: [comparison.records[run_label] for comparison, run_label in members]
                for label, members in self._series.items()}

    def band(self, key: str = "test_acc") -> pd.DataFrame:
        """`frames.band` of the series: run, epoch, mean, low, high, n (seeds that reached the epoch)."""
        return frames.band(self.runs(), key)

    def live_band(self, key: str = "test_acc") -> pd.DataFrame:
        """`band` while the runs train: the interval only at epochs that every seed of the series
        still on its way (queued, running, paused or done) has reached; elsewhere low and high are
        NaN and only the mean is drawn. An interval of the two seeds that happen to be ahead is a
        wedge of noise (t(0.975, 1) = 12.7 times their spread), not the experiment's answer.

        Example:
            >>> import dataclasses, os, tempfile
            >>> with Workspace(os.path.join(tempfile.mkdtemp(), "runs.sqlite")) as ws:
            ...     setup = ParitySetup(k=1, rules=("bp",), seeds=2, epochs=1, train_samples=64, test_samples=64,
            ...                         hidden=8, device="cpu")
            ...     found = follow(ws, start(ws, setup))
            ...     found.wait(timeout=60)
            ...     seed2 = found.comparisons[1]   # seen as if it had not started yet
            ...     seed2.infos[0] = dataclasses.replace(seed2.infos[0], status="queued")
            ...     seed2.records[seed2.labels[0]].clear()
            ...     live = found.live_band()
            >>> live[["n", "low", "high"]].isna().values.tolist()   # one seed of two: no interval yet
            [[False, True, True]]
        """
        band = self.band(key)
        going = {label: sum(comparison.infos[comparison.labels.index(run_label)].status in ("queued", "running",
                                                                                          "paused", "done")
                            for comparison, run_label in members)
                 for label, members in self._series.items()}
        partial = (band["n"] < band["run"].map(going)).to_numpy()
        band.loc[partial, ["low", "high"]] = math.nan
        return band

    def references(self) -> dict[str, float]:
        """The published test accuracy of each series' rule at this k, where the literature has one."""
        out = {}
        for label in self.labels:
            value = PARITY.get((self.k, self._spec[label]))
            if value is not None:
                out[label] = value
        return out

    def progress(self) -> tuple[int, int]:
        """(training steps done, steps in all) over the runs (0 for runs not started)."""
        infos = [info for _, info in self.infos()]
        return sum(i.steps_done or 0 for i in infos), sum(i.total_steps or 0 for i in infos)

    def counts(self) -> dict[str, int]:
        """How many runs have each status."""
        out: dict[str, int] = {}
        for _, info in self.infos():
            out[info.status] = out.get(info.status, 0) + 1
        return out

    def final(self) -> pd.DataFrame:
        """Per series: rule, optimiser, lr, the last epoch every run of the series reached (or the
        last any did), test accuracy there (mean, ± 95% CI, seeds) and the published value (NaN
        where the literature has none).

        Columns: run, rule, optimiser, lr, epoch, mean, ci95, n, published.
        """
        band = self.band()
        rows = []
        refs = self.references()
        for label in self.labels:
            mine = band[band["run"] == label]
            name, lr = self._optimizer[label]
            row = {"run": label, "rule": self._spec[label], "optimiser": name, "lr": lr, "epoch": math.nan,
                   "mean": math.nan, "ci95": math.nan, "n": 0, "published": refs.get(label, math.nan)}
            if len(mine):
                last = mine.iloc[-1]
                row.update(epoch=float(last["epoch"]), mean=float(last["mean"]),
                           ci95=float(last["high"] - last["mean"]), n=int(last["n"]))
            rows.append(row)
        return pd.DataFrame(rows, columns=["run", "rule", "optimiser", "lr", "epoch", "mean", "ci95", "n",
                                           "published"])


__all__ = ["ParitySetup", "ParityRuns", "PARITY_RULES", "PARITY_LR", "REFERENCE_NOTE", "mnist_missing",
           "follow", "spec_label", "start"]
