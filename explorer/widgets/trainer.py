"""`TrainerWidget`: the Train page in a notebook: set up a run, compare rules, watch them learn."""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import ipywidgets as widgets
import pandas as pd
import traitlets

from explorer.views import charts, frames
from explorer.config import RunConfig
from explorer.config.labels import rule_label
from explorer.runs.workspace import Comparison, Workspace, status_message, workspace as shared_workspace
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
from explorer.widgets.controls import SetupForm

MOST_STEPS_PER_CLICK = 100_000   # one Step click's steps, at most
METRIC_KEYS = ("step", "epoch", "train_loss", "test_loss", "train_acc", "test_acc")
HEADERS = {"train_loss": "train loss", "test_loss": "test loss", "train_acc": "train acc.", "test_acc": "test acc.",
           "samples_per_s": "samples/s"}  # the table's column titles, as the page words them


def run_message(label: str, info) -> str:
    """What happened to a run, in words a student understands ("" for a run that is fine)."""
    return status_message(label, info).replace("**", "")


def _rules(rules, config: RunConfig) -> list[dict]:
    if rules is None:
        return [config.algorithm.to_dict()]
    if isinstance(rules, (str, Mapping)):
        rules = [rules]
    own = config.algorithm.to_dict()  # a rule named by the config keeps the config's options for it
    return [(own if r == own["name"] else {"name": r}) if isinstance(r, str) else dict(r) for r in rules]


class TrainerWidget(Following):
    """Set up a run, compare up to four learning rules on it, and watch them learn live.

    The controls are the Train page's: dataset, network, the rules to compare (with their
    options), forward and feedback initialisers, optimiser, training and seed. ``Train`` starts
    one run per rule from the same forward weights and minibatch order (a group in the run
    store); pause, step and stop steer them. A background thread follows the runs and sets the
    widget's traits (``status``, ``step``, ``epoch``, ``progress``, ``records``, ``latest``: each
    rule's last losses and accuracies), which redraw the progress bar, the table and the loss and
    accuracy charts (`explorer.views.charts.learning_curves`, offline). The thread ends when the runs end
    or the widget is closed; the runs themselves go on in the background until they end or `stop`.

    ``config`` (a `RunConfig` or its dict) and ``rules`` (rule names or algorithm dicts; default
    the config's own rule) fill the controls; ``run`` instead shows stored runs (a run from
    ``explorer.runs.workspace.open(id)``, a run or group id, a `Comparison`), with the controls set from
    them. ``widget.config`` is the `RunConfig` of the first rule on screen, ``widget.configs``
    one per rule; a bad value is refused with the message next to its control.

    Example:
        >>> w = TrainerWidget({"model": {"hidden": [16]}, "train": {"epochs": 1}, "device": "cpu"},
        ...                   rules=["bp", "dfa"])
        >>> [c.algorithm.name for c in w.configs], w.config.model.hidden, w.status
        (['bp', 'dfa'], (16,), 'ready')
        >>> w.form.epochs.value = 0
        >>> w.play.click(); w.status, w.form.errors["train"].value != ""
        ('ready', True)
    """

    status = traitlets.Unicode("ready")
    step = traitlets.Int(0)
    epoch = traitlets.Float(0.0)
    progress = traitlets.Float(0.0)
    records = traitlets.Int(0)
    latest = traitlets.Dict()
    error = traitlets.Unicode("")

    def __init__(self, config: RunConfig | Mapping | None = None, *, rules: Sequence | None = None, run=None,
                 workspace: Workspace | str | os.PathLike | None = None, steps_per_click: int = 1,
                 interval: float = 0.5) -> None:
        self._workspace = workspace
        self.comparison: Comparison | None = None
        self.runs: Runs | None = None
        if run is not None:
            self.runs = follow(run)
            config, rules = self.runs.configs[0], [c.algorithm.to_dict() for c in self.runs.configs]
        config = config if isinstance(config, RunConfig) else RunConfig.from_dict(config or {})
        self.form = SetupForm(config, _rules(rules, config))
        # Words, with FontAwesome icons that ship with Jupyter: emoji (⏸ ⏭ ⏹) need a font many
        # school machines lack.
        self.play = widgets.Button(description="Train", icon="play", button_style="success",
                                   tooltip="start, or resume")
        self.pause_button = widgets.Button(description="Pause", icon="pause")
        self.step_button = widgets.Button(description="Step", icon="step-forward",
                                          tooltip="take the steps below, then wait")
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="danger")
        # a plain number box: `take_steps` names a count it refuses (a bounded box clamps without a word)
        self.steps_per_click = widgets.IntText(steps_per_click, description="steps", layout={"width": "130px"})
        self.play.on_click(lambda _: self.start())
        self.pause_button.on_click(lambda _: self._control(lambda c: c.pause()))
        self.step_button.on_click(lambda _: self.take_steps(self.steps_per_click.value))
        self.stop_button.on_click(lambda _: self._control(lambda c: c.stop()))
        self.bar = widgets.FloatProgress(0.0, min=0.0, max=1.0, description="progress",
                                         layout={"width": "420px"})
        self.status_line = widgets.HTML("")
        self.messages = widgets.HTML("")
        self.table = widgets.HTML("")
        self.loss_axis = widgets.ToggleButtons(options=[("auto", None), ("linear", False), ("log", True)],
                                               description="loss axis", style={"button_width": "60px"},
                                               tooltips=["a log scale when the losses span several decades",
                                                         "", ""])
        self.loss_axis.observe(lambda _: self._redraw_loss(), "value")
        self.loss_chart = chart_view(self._curves("loss"))
        self.accuracy_chart = chart_view(self._curves("accuracy"))
        self._live = Live(self._tick, interval=interval, on_error=self._on_thread_error, name="explorer-trainer")
        buttons = widgets.HBox([self.play, self.pause_button, self.step_button, self.steps_per_click,
                                self.stop_button])
        super().__init__([self.form.box, buttons, self.form.errors["general"],
                          widgets.HBox([self.bar, self.status_line]), self.messages, self.table,
                          self.loss_axis, widgets.HBox([self.loss_chart, self.accuracy_chart])])
        if self.runs is not None:
            self._follow(self.runs)

    # What is on screen ---------------------------------------------------------------------

    @property
    def configs(self) -> list[RunConfig]:
        """One `RunConfig` per rule on screen (`ConfigError` names a bad field)."""
        return self.form.configs()

    @property
    def config(self) -> RunConfig:
        """The `RunConfig` of the first rule on screen: ``explorer.train(widget.config)`` reproduces it."""
        return self.configs[0]

    def summary(self) -> pd.DataFrame:
        """Each run's last record: rule, status, step, epoch, losses and accuracies."""
        rows = []
        if self.runs is not None:
            for label, info, records in zip(self.runs.labels, self.runs.infos, self.runs.lists):
                last = records[-1] if records else {}
                rows.append({"rule": label, "status": info.status, **{k: last.get(k) for k in METRIC_KEYS}})
        return pd.DataFrame(rows, columns=["rule", "status", *METRIC_KEYS])

    # Controls --------------------------------------------------------------------------------

    def start(self, paused: bool = False) -> Comparison | None:
        """What Train does: resume the runs if they are going, else start one run per rule from the
        controls (``paused``: waiting for `take_steps`). None, with the message beside its control,
        if a value is refused."""
        self.error = ""
        self.form.show_error(None)
        if self.comparison is not None and not self.runs.finished:
            return self._control(lambda c: c.resume())
        configs = self.form.check()
        if configs is None:
            self.error = self.form.message
            return None
        try:
            self.comparison = self._get_workspace().compare(self.form.base(), self.form.algorithms(),
                                                            paused=paused)
        except Exception as err:  # e.g. a store that cannot be written: shown, not swallowed
            self._show_error(err)
            return None
        self._follow(follow(self.comparison))
        return self.comparison

    def pause(self) -> None:
        self._control(lambda c: c.pause())

    def resume(self) -> None:
        self._control(lambda c: c.resume())

    def take_steps(self, n: int = 1) -> None:
        """Let every run take ``n`` more steps, then wait (starting paused runs if none are going).
        A count outside 1 … `MOST_STEPS_PER_CLICK` is refused with a message, and nothing starts."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MOST_STEPS_PER_CLICK:
            self._show_error(f"steps: a whole number from 1 to {MOST_STEPS_PER_CLICK:,}, got {n!r}")
            return
        if self.comparison is None or self.runs.finished:
            if self.start(paused=True) is None:
                return
        self._control(lambda c: c.step(n))

    def stop(self) -> None:
        """Stop the runs (they end ``cancelled`` with what they logged)."""
        self._control(lambda c: c.stop())

    def _control(self, action):
        if self.comparison is None:
            self._show_error("nothing is training: press Train first")
            return None
        try:
            action(self.comparison)
        except RuntimeError as err:  # runs trained by another process: watched, not steered
            self._show_error(err)
        return self.comparison

    def _get_workspace(self) -> Workspace:
        if not isinstance(self._workspace, Workspace):
            self._workspace = shared_workspace(self._workspace)
        return self._workspace

    # Live updates ----------------------------------------------------------------------------

    def _follow(self, runs: Runs) -> None:
        self._live.stop()
        self.runs = runs
        self.records = 0
        self.step = 0
        self.latest = {}
        if self._tick(draw_always=True):
            self._live.start()

    def _tick(self, draw_always: bool = False) -> bool:
        runs = self.runs
        new = runs.poll()
        statuses = runs.statuses()
        self.form.lock(self.comparison is not None and not runs.finished)
        if new or draw_always:
            self._draw()
        # the steps the runs have taken: the store's progress, ahead of their last logged record (set
        # once per tick, so that an observer sees it only go forward)
        self.step = max([self.step, *(v["step"] for v in self.latest.values()),
                         *(info.steps_done or 0 for info in runs.infos)])
        self.progress = runs.progress
        self.bar.value = self.progress
        self.status = overall_status(statuses)
        info = runs.infos[0]
        device = f" on {info.device_name or info.device}" if info.device else ""
        self.status_line.value = f"&nbsp;<b>{self.status}</b>{device}"
        self.messages.value = "<br>".join(message_html(m) for m in
                                          (run_message(l, i) for l, i in zip(runs.labels, runs.infos)) if m)
        return not runs.finished

    def _draw(self) -> None:
        runs = self.runs
        latest = {}
        for label, records in runs.records.items():
            if records:
                last = records[-1]
                throughput = last["samples"] / last["time"] if last.get("time") else None
                latest[label] = {**{k: last.get(k) for k in METRIC_KEYS}, "samples_per_s": throughput}
        self.records = sum(len(r) for r in runs.lists)
        self.latest = latest
        self.epoch = max((v["epoch"] for v in latest.values()), default=0.0)
        rows = [{"rule": label, **values} for label, values in latest.items()]
        self.table.value = table_html(rows, ["rule", *METRIC_KEYS, "samples_per_s"], HEADERS) if rows else ""
        self.loss_chart.chart = self._curves("loss")
        self.accuracy_chart.chart = self._curves("accuracy")

    def _curves(self, measure: str):
        records = self.runs.records if self.runs is not None else {}
        order = self.runs.labels if self.runs is not None else [rule_label(a) for a in self.form.algorithms()]
        diverged = self.runs.diverged_at("epoch") if self.runs is not None else None
        log = self.loss_axis.value if measure == "loss" else None  # None: auto (charts.wants_log)
        return charts.learning_curves(frames.curves(records), measure, order=order, diverged=diverged or None,
                                      log=log, height=220)

    def _redraw_loss(self) -> None:
        self.loss_chart.chart = self._curves("loss")

    def _show_error(self, err) -> None:
        self.error = str(err)
        self.form.errors["general"].value = message_html(self.error)

    def _on_thread_error(self, err: BaseException) -> None:
        self._show_error(f"live updates stopped: {type(err).__name__}: {err}")
