"""`ParityWidget`: the Parity page in a notebook, on the same `ParitySetup`, runs and final table."""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Mapping, Sequence

import ipywidgets as widgets
import pandas as pd
import traitlets

from explorer.config import OPTIMIZERS, ConfigError, RunConfig
from explorer.experiments import parity_runs
from explorer.experiments.parity import MAX_SEEDS, PARITY_LR, PARITY_RULES, ParitySetup
from explorer.experiments.parity_table import COLUMNS, final_text
from explorer.runs.jobs import RunHandle
from explorer.runs.workspace import Workspace, workspace as shared_workspace
from explorer.views import charts, frames
from explorer.widgets.common import (
    Following,
    Live,
    Runs,
    chart_view,
    follow,
    message_html,
    overall_status,
    table_html,
)
from explorer.widgets.controls import WIDE

SECTIONS = ("data", "model", "rules", "optimizer", "train", "general")
# The control section beside which a problem with each field of the setup is shown.
SECTION_OF_FIELD = {"k": "data", "base": "data", "root": "data", "hidden": "model", "rules": "rules",
                    "optimizers": "optimizer", "epochs": "train", "seeds": "train", "first_seed": "train",
                    "train_samples": "train", "test_samples": "train", "batch_size": "train"}


def default_config() -> RunConfig:
    """The Parity page's classroom setting (`explorer.experiments.parity.ParitySetup`), for BP and its
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
    seeds: test accuracy per epoch with 95% confidence bands across seeds, the final table (the
    Parity page's and the command line's, `explorer.experiments.parity_table`), and the published
    value of each rule (`explorer.experiments.references.PARITY`) beside the measured one, as a
    dashed line in the rule's colour and a column of the table.

    ``config`` is a `ParitySetup` (default: the Parity page's, on the embedded digits) or a parity
    `RunConfig` to start from (`ParitySetup.of`); ``rules`` the rules to run (``bp``, ``dfa``,
    ``fa``, ``ntk``, ``rf:gaussian``, ``rf:relu``, ``rf:linear``), each over ``seeds`` seeds (a
    config's seed and the ones after it; the rules of one seed start from the same weights); left
    out, the setup's (3 seeds for a config). ``run`` instead shows stored parity runs (run or group
    ids, runs from ``explorer.runs.workspace.open``, a list of them). ``widget.setup`` is the setup
    the controls hold, ``widget.configs`` every run's `RunConfig` (rule by rule, seed by seed),
    ``widget.config`` the first; ``final`` holds each series' last-epoch mean accuracy, confidence
    interval and published value.

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

    def __init__(self, config: ParitySetup | RunConfig | Mapping | None = None, *,
                 rules: Sequence[str] | None = None, seeds: int | None = None, run=None,
                 workspace: Workspace | str | os.PathLike | None = None, interval: float = 0.5) -> None:
        self._workspace = workspace
        self.handles: list[RunHandle] = []
        self.runs: Runs | None = None
        self.experiment: parity_runs.ParityRuns | None = None
        if run is not None:
            self.runs = follow(run)
            setup = ParitySetup.of(self.runs.configs)
        elif config is None or isinstance(config, ParitySetup):
            setup = config or ParitySetup()
        else:
            config = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
            setup = dataclasses.replace(ParitySetup.of([config]), seeds=ParitySetup.seeds)
        if rules is not None:
            setup = dataclasses.replace(setup, rules=tuple(rules))
        if seeds is not None:
            setup = dataclasses.replace(setup, seeds=seeds)
        self._setup = setup
        optimizer, lr = next(iter(setup.optimizers.items()), ("sgd", PARITY_LR["sgd"]))
        # Plain number boxes: a bounded one clamps what is typed without a word; the setup's own
        # check names a refused value beside its control (`start`).
        self.k = widgets.IntText(setup.k, description="k (digits)", style=WIDE, layout={"width": "150px"})
        self.base = widgets.Dropdown(options=["digits", "mnist"], value=setup.base, description="digits from",
                                     style=WIDE, layout={"width": "200px"})
        self.hidden = widgets.IntText(setup.hidden, description="hidden units", style=WIDE, layout={"width": "190px"})
        self.rules = widgets.TagsInput(value=list(setup.rules), allowed_tags=list(PARITY_RULES),
                                       allow_duplicates=False)
        self.optimizer = widgets.Dropdown(options=OPTIMIZERS, value=optimizer, description="optimiser",
                                          style=WIDE, layout={"width": "200px"})
        self.lr = widgets.FloatText(lr, description="learning rate", style=WIDE, layout={"width": "200px"})
        self.epochs = widgets.IntText(setup.epochs, description="epochs", style=WIDE, layout={"width": "140px"})
        self.seeds = widgets.IntText(setup.seeds, description="seeds", style=WIDE, layout={"width": "130px"})
        self.errors = {s: widgets.HTML("") for s in SECTIONS}
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

    @property
    def setup(self) -> ParitySetup:
        """The experiment the controls hold (what they do not show comes from the setup, config or
        runs the widget started from)."""
        return dataclasses.replace(
            self._setup, k=self.k.value, base=self.base.value, hidden=self.hidden.value,
            rules=tuple(self.rules.value), optimizers={self.optimizer.value: self.lr.value},
            epochs=self.epochs.value, seeds=self.seeds.value,
            root=self._setup.root if self.base.value == "mnist" else "")  # a folder of MNIST files means nothing for the digits

    @property
    def configs(self) -> list[RunConfig]:
        """Every run's config: rule by rule, seed by seed (`ConfigError` names a refused field)."""
        return self.setup.configs()

    @property
    def config(self) -> RunConfig:
        """The first rule's config at the first seed."""
        return self.configs[0]

    def published(self) -> dict[str, float]:
        """Series label -> the published test accuracy at this k (rules without one left out)."""
        return self.setup.published()

    def summary(self, readable: bool = False) -> pd.DataFrame:
        """The final table (`explorer.experiments.parity_table.final_table`): per series, the last
        epoch's test accuracy over the seeds (mean, std, ± 95% CI, low, high, n) and the published
        value; ``readable``: as the Parity page shows it (percentages, a dash for no value)."""
        table = self.experiment.final() if self.experiment is not None else pd.DataFrame(columns=COLUMNS)
        return final_text(table) if readable else table

    # Controls --------------------------------------------------------------------------------

    def start(self) -> list[RunHandle] | None:
        """What Run does: start every rule over every seed (None, with each message beside its
        control, if a value is refused). The rules of one seed form a group: same weights, same batches."""
        for label in self.errors.values():
            label.value = ""
        self.error = ""
        if self.runs is not None and not self.runs.finished:
            return self.handles
        setup = self.setup
        problems = dataclasses.replace(setup, most_seeds=MAX_SEEDS).problems()   # the seeds box's cap, as on the page
        if problems:
            self.error = next(iter(problems.values()))
            for name, message in problems.items():
                section = SECTION_OF_FIELD.get(name, "general")
                self.errors[section if section in self.errors else "general"].value = message_html(message)
            return None
        try:
            handles = parity_runs.start(self._get_workspace(), setup)
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

    def _follow(self, runs: Runs) -> None:
        self._live.stop()
        self.runs = runs
        self.experiment = parity_runs.ParityRuns([runs])
        if self._tick(first=True):
            self._live.start()

    def _tick(self, first: bool = False) -> bool:
        runs, experiment = self.runs, self.experiment
        new = experiment.poll()
        for control in (self.k, self.base, self.hidden, self.rules, self.optimizer, self.lr, self.epochs, self.seeds):
            control.disabled = bool(self.handles) and not runs.finished
        self.progress = self.bar.value = runs.progress
        self.status = overall_status(runs.statuses())
        self.status_line.value = f"&nbsp;<b>{self.status}</b>: {len(runs)} runs"
        if new or first:
            self.records = sum(len(r) for r in runs.lists)
            table = self.summary()
            self.final = {row["series"]: {k: None if isinstance(v, float) and math.isnan(v) else v
                                          for k, v in row.items() if k != "series"}
                          for row in table.to_dict("records")}
            shown = final_text(table)
            self.table.value = table_html(shown.to_dict("records"), list(shown.columns)) if len(table) else ""
            band = experiment.band() if runs.finished else experiment.live_band()
            self.chart.chart = self._band_chart(band)
        return not runs.finished

    def _band_chart(self, band: pd.DataFrame):
        if self.experiment is not None:
            labels, refs = self.experiment.labels, self.experiment.references()
        else:
            try:
                setup = self.setup
                labels, refs = [s.label for s in setup.series()], setup.published()
            except ConfigError:  # refused controls: the message says why when Run is pressed
                labels, refs = None, {}
        return charts.band_chart(band, refs or None, order=labels or None)

    def _show_error(self, err) -> None:
        self.error = str(err)
        self.errors["general"].value = message_html(self.error)

    def _on_thread_error(self, err: BaseException) -> None:
        self._show_error(f"live updates stopped: {type(err).__name__}: {err}")
