"""`ParityWidget`: the Parity page in a notebook."""

from __future__ import annotations

import copy
import os
from typing import Mapping, Sequence

import ipywidgets as widgets
import pandas as pd
import traitlets

from explorer.views import charts, frames
from explorer.config import OPTIMIZERS, ConfigError, RunConfig
from explorer.config.labels import rule_label
from explorer.runs.jobs import RunHandle
from explorer.experiments.parity import RuleSpec, parity_config, rule_spec
from explorer.experiments.parity_runs import PARITY_RULES, ParitySetup
from explorer.experiments.references import PARITY
from explorer.runs.workspace import Workspace, workspace as shared_workspace
from explorer.widgets.common import (
    Following,
    Live,
    Runs,
    chart_view,
    follow,
    message_html,
    overall_status,
    readable_frame,
    table_html,
)
from explorer.widgets.controls import WIDE, section_of

FINAL_COLUMNS = ["rule", "epoch", "mean", "low", "high", "n", "published"]
PERCENTS = ("mean", "low", "high", "published")  # test accuracies, shown as percentages


def spec_of(config: RunConfig) -> RuleSpec:
    """The parity rule (``bp``, ``rf:linear``, …) a run's config trains.

    Example:
        >>> spec_of(parity_config(1, rule_spec("rf:linear"), base="digits")).label
        'rf:linear'
    """
    a = config.algorithm
    return rule_spec(f"rf:{a.variant}" if a.name == "rf" else a.name)


def default_config() -> RunConfig:
    """The Parity page's classroom setting (`explorer.experiments.parity_runs.ParitySetup`), for BP and its
    first seed: k = 3 digits side by side from the embedded digits, 10,000 fresh samples an epoch,
    12 epochs of SGD, one hidden layer of 128 ReLU units.

    Example:
        >>> cfg = default_config()
        >>> cfg.data.get("k"), cfg.optimizer.name, cfg.model.hidden, cfg.train.epochs
        (3, 'sgd', (128,), 12)
    """
    return ParitySetup(rules=("bp",)).configs()[0]


class ParityWidget(Following):
    """The parity task (k digits side by side, label = parity of their sum) for several rules and
    seeds: test accuracy per epoch with 95% confidence bands across seeds, the final table, and
    the published value of each rule (`explorer.experiments.references.PARITY`) beside the measured one, as
    a dashed line in the rule's colour and a column of the table.

    ``config`` is a parity `RunConfig` (default: `default_config`, on the embedded digits);
    ``rules`` the rules to run (``bp``, ``dfa``, ``fa``, ``ntk``, ``rf:gaussian``, ``rf:relu``,
    ``rf:linear``; with neither a config nor rules, the Parity page's default: BP, DFA and
    Gaussian random features), each over ``seeds`` seeds (the config's seed and the ones after it; the rules
    of one seed start from the same weights). ``run`` instead shows stored parity runs (run or
    group ids, runs from ``explorer.runs.workspace.open``, a list of them). ``widget.configs`` gives every
    run's `RunConfig` (rule by rule, seed by seed), ``widget.config`` the first; ``final`` holds
    each rule's last-epoch mean accuracy, confidence interval and published value.

    Example:
        >>> w = ParityWidget(rules=["bp", "ntk"], seeds=2)
        >>> [(c.algorithm.name, c.seed, c.data.get("k")) for c in w.configs]
        [('bp', 0, 3), ('bp', 1, 3), ('ntk', 0, 3), ('ntk', 1, 3)]
        >>> w.published()
        {'BP': 0.8, 'NTK': 0.5}
    """

    status = traitlets.Unicode("ready")
    progress = traitlets.Float(0.0)
    records = traitlets.Int(0)
    final = traitlets.Dict()
    error = traitlets.Unicode("")

    def __init__(self, config: RunConfig | Mapping | None = None, *, rules: Sequence[str] | None = None,
                 seeds: int = ParitySetup.seeds, run=None, workspace: Workspace | str | os.PathLike | None = None,
                 interval: float = 0.5) -> None:
        self._workspace = workspace
        self.handles: list[RunHandle] = []
        self.runs: Runs | None = None
        if run is not None:
            self.runs = follow(run)
            config = self.runs.configs[0]
            rules = list(dict.fromkeys(spec_of(c).label for c in self.runs.configs))
            seeds = len({c.seed for c in self.runs.configs})
        if config is None:
            config = default_config()
            rules = ParitySetup.rules if rules is None else rules
        config = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
        if config.data.name != "parity":
            raise ConfigError(f"data.name must be 'parity' for the parity widget, got {config.data.name!r}")
        self._base = config.to_dict()
        self.k = widgets.BoundedIntText(config.data.get("k", 3), min=0, max=10, description="k (digits)",
                                        style=WIDE, layout={"width": "150px"})
        self.base = widgets.Dropdown(options=["digits", "mnist"], value=config.data.get("base", "mnist"),
                                     description="digits from", style=WIDE, layout={"width": "200px"})
        self.hidden = widgets.IntText(config.model.hidden[0] if config.model.hidden else 512,
                                      description="hidden units", style=WIDE, layout={"width": "190px"})
        self.rules = widgets.TagsInput(value=list(rules or [spec_of(config).label]),
                                       allowed_tags=list(PARITY_RULES), allow_duplicates=False)
        self.optimizer = widgets.Dropdown(options=OPTIMIZERS, value=config.optimizer.name, description="optimiser",
                                          style=WIDE, layout={"width": "200px"})
        self.lr = widgets.FloatText(config.optimizer.lr, description="learning rate", style=WIDE,
                                    layout={"width": "200px"})
        self.epochs = widgets.IntText(config.train.epochs, description="epochs", style=WIDE, layout={"width": "140px"})
        self.seeds = widgets.BoundedIntText(seeds, min=1, max=20, description="seeds", style=WIDE,
                                            layout={"width": "130px"})
        self.errors = {s: widgets.HTML("") for s in ("data", "model", "rules", "optimizer", "train", "general")}
        self.play = widgets.Button(description="Run", icon="play", button_style="success")
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="danger")
        self.play.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.bar = widgets.FloatProgress(0.0, min=0.0, max=1.0, description="progress", layout={"width": "420px"})
        self.status_line = widgets.HTML("")
        self.table = widgets.HTML("")
        self.chart = chart_view(self._band_chart(frames.band({})))
        self._live = Live(self._tick, interval=interval, on_error=self._on_thread_error, name="explorer-parity")
        super().__init__([
            widgets.HBox([self.k, self.base]), self.errors["data"],
            widgets.HBox([widgets.Label("rules"), self.rules]), self.errors["rules"],
            widgets.HBox([self.hidden]), self.errors["model"],
            widgets.HBox([self.optimizer, self.lr]), self.errors["optimizer"],
            widgets.HBox([self.epochs, self.seeds]), self.errors["train"],
            widgets.HBox([self.play, self.stop_button]), self.errors["general"],
            widgets.HBox([self.bar, self.status_line]), self.chart, self.table])
        if self.runs is not None:
            self._follow(self.runs)

    # What is on screen ---------------------------------------------------------------------

    def specs(self) -> list[RuleSpec]:
        """The chosen rules (`ConfigError` for an unknown one or none)."""
        if not self.rules.value:
            raise ConfigError("rules: choose at least one rule (bp, dfa, ntk, rf:gaussian, …)")
        return [rule_spec(r) for r in self.rules.value]

    def _config(self, spec: RuleSpec, seed: int) -> RunConfig:
        d = copy.deepcopy(self._base)
        data = d["data"]
        if data.get("base") != self.base.value:
            data.pop("root", None)  # a folder of MNIST files means nothing for the digits
        data.update(base=self.base.value, k=self.k.value)
        d["model"] = {"name": "mlp", "hidden": [self.hidden.value], "activation": spec.activation}
        d["algorithm"] = dict(spec.algorithm)
        opt = d["optimizer"] if d["optimizer"]["name"] == self.optimizer.value else {
            "name": self.optimizer.value, "weight_decay": d["optimizer"].get("weight_decay", 1e-3)}
        if opt["name"] not in ("sgd", "rmsprop"):
            opt.pop("momentum", None)
        opt["lr"] = self.lr.value
        d["optimizer"] = opt
        d["train"]["epochs"] = self.epochs.value
        d["seed"] = seed
        return RunConfig.from_dict(d)

    @property
    def configs(self) -> list[RunConfig]:
        """Every run's config: rule by rule, seed by seed."""
        first = self._base["seed"]
        return [self._config(spec, first + s) for spec in self.specs() for s in range(self.seeds.value)]

    @property
    def config(self) -> RunConfig:
        """The first rule's config at the first seed."""
        return self.configs[0]

    def published(self) -> dict[str, float]:
        """Legend label -> the published test accuracy at this k (rules without one left out)."""
        out = {}
        for spec in self.specs():
            value = PARITY.get((self.k.value, spec.label))
            if value is not None:
                out[rule_label(spec.algorithm)] = value
        return out

    def summary(self, readable: bool = False) -> pd.DataFrame:
        """Per rule, the last epoch's mean test accuracy, 95% band (low, high), seeds and published
        value; ``readable``: as text to show (percentages, a dash for no published value)."""
        band = frames.band(self._groups()) if self.runs is not None else pd.DataFrame()
        published = self.published()
        rows = []
        for label, part in (band.groupby("run", sort=False) if len(band) else []):
            last = part.iloc[-1]
            rows.append({"rule": label, "epoch": float(last["epoch"]), "mean": float(last["mean"]),
                         "low": float(last["low"]), "high": float(last["high"]), "n": int(last["n"]),
                         "published": published.get(label)})
        table = pd.DataFrame(rows, columns=FINAL_COLUMNS)
        return readable_frame(table, PERCENTS) if readable else table

    # Controls --------------------------------------------------------------------------------

    def start(self) -> list[RunHandle] | None:
        """What Run does: start every rule over every seed (None, with the message beside its control,
        if a value is refused). The rules of one seed form a group: same weights, same batches."""
        for label in self.errors.values():
            label.value = ""
        self.error = ""
        if self.runs is not None and not self.runs.finished:
            return self.handles
        try:
            configs = self.configs
        except ConfigError as err:
            self.error = str(err)
            section = section_of(self.error)
            self.errors[section if section in self.errors else "general"].value = message_html(self.error)
            return None
        n = self.seeds.value
        ws = self._get_workspace()
        try:
            by_seed = [[configs[r * n + s] for r in range(len(configs) // n)] for s in range(n)]
            handles = [h for group in by_seed for h in ws.jobs.submit_group(group, label="parity")]
        except Exception as err:  # the store could not take the runs: shown, not swallowed
            self._show_error(err)
            return None
        self.handles = handles
        self._follow(Runs([h.view() for h in handles]))
        return handles

    def stop(self) -> None:
        """Stop every run of this widget (they end ``cancelled`` with their records)."""
        for h in self.handles:
            h.stop()

    def _get_workspace(self) -> Workspace:
        if not isinstance(self._workspace, Workspace):
            self._workspace = shared_workspace(self._workspace)
        return self._workspace

    # Live updates ----------------------------------------------------------------------------

    def _groups(self) -> dict[str, list[list[dict]]]:
        """Legend label -> the records of each seed's run."""
        groups: dict[str, list[list[dict]]] = {}
        for config, records in zip(self.runs.configs, self.runs.lists):
            groups.setdefault(rule_label(config.algorithm.to_dict()), []).append(records)
        return groups

    def _follow(self, runs: Runs) -> None:
        self._live.stop()
        self.runs = runs
        if self._tick(first=True):
            self._live.start()

    def _tick(self, first: bool = False) -> bool:
        runs = self.runs
        new = runs.poll()
        for control in (self.k, self.base, self.hidden, self.rules, self.optimizer, self.lr, self.epochs, self.seeds):
            control.disabled = bool(self.handles) and not runs.finished
        self.progress = self.bar.value = runs.progress
        self.status = overall_status(runs.statuses())
        self.status_line.value = f"&nbsp;<b>{self.status}</b>: {len(runs)} runs"
        if new or first:
            self.records = sum(len(r) for r in runs.lists)
            table = self.summary()
            self.final = {row["rule"]: {k: row[k] for k in ("mean", "low", "high", "n", "published")}
                          for row in table.to_dict("records")}
            self.table.value = table_html(table.to_dict("records"), FINAL_COLUMNS, percents=PERCENTS) if len(table) else ""
            self.chart.chart = self._band_chart(frames.band(self._groups()))
        return not runs.finished

    def _band_chart(self, band: pd.DataFrame):
        if self.runs is not None:
            labels = list(self._groups())
        else:
            labels = [rule_label(s.algorithm) for s in self.specs()] if self.rules.value else None
        return charts.band_chart(band, self.published() or None, order=labels or None)

    def _show_error(self, err) -> None:
        self.error = str(err)
        self.errors["general"].value = message_html(self.error)

    def _on_thread_error(self, err: BaseException) -> None:
        self._show_error(f"live updates stopped: {type(err).__name__}: {err}")
