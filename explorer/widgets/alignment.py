"""`AlignmentWidget`: the Alignment page in a notebook."""

from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import traitlets

from explorer.views import charts, frames
from explorer.widgets.common import RunsWidget, chart_view, table_html

KINDS = {"update": "how far each layer's update is from backprop's gradient",
         "signal": "how far each layer's teaching signal δ is from backprop's",
         "weight": "how far the feedback matrix is from the forward weights it stands in for"}


class AlignmentWidget(RunsWidget):
    """Per hidden layer and rule: update, signal or weight alignment over training, in degrees (the
    90° line marked: below it the rule's update still points downhill) or as a cosine, and the
    per-layer gradient norms on a log scale (vanishing and exploding gradients). The charts are
    the app's (`explorer.views.charts.alignment_chart`, `norms_chart`).

    ``run``: a stored run (``explorer.runs.workspace.open(id)``), a run or group id, a `TrainerWidget`
    (follows its runs live), a `Comparison`, a list of these, or a dict {label: run}. The trait
    ``angles`` holds each run's latest value per layer, in the unit and kind shown.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.workspace import Workspace
        >>> with Workspace(os.path.join(tempfile.mkdtemp(), "runs.sqlite")) as ws:
        ...     group = ws.compare({"model": {"hidden": [8]}, "train": {"epochs": 1}, "device": "cpu"},
        ...                        [{"name": "dfa"}])
        ...     group.wait(timeout=60)
        ...     w = AlignmentWidget(group)
        >>> w.status, list(w.angles), w.config.algorithm.name
        ('done', ['DFA'], 'dfa')
    """

    angles = traitlets.Dict()

    def __init__(self, run, *, labels: Sequence[str] | None = None, kind: str = "update", unit: str = "deg",
                 x: str = "step", interval: float = 0.5) -> None:
        super().__init__(run, labels, interval=interval)
        self.kind = widgets.ToggleButtons(options=list(KINDS), value=kind, description="alignment",
                                          tooltips=list(KINDS.values()))
        self.unit = widgets.ToggleButtons(options=[("degrees", "deg"), ("cosine", "cos")], value=unit,
                                          description="as")
        self.x = widgets.ToggleButtons(options=["step", "epoch"], value=x, description="x axis")
        self.note = widgets.HTML("")
        self.table = widgets.HTML("")
        self.alignment_chart = chart_view(self._alignment_chart(frames.alignment({})))
        self.norms_chart = chart_view(charts.norms_chart(frames.norms({}), order=self.runs.labels))
        for control in (self.kind, self.unit, self.x):
            control.observe(self.redraw, "value")
        self.children = [widgets.HBox([self.kind, self.unit]), self.x, self.note, self.table,
                         self.alignment_chart, widgets.HTML("<b>gradient norms</b> (solid: the rule's update; "
                                                            "dotted: backprop's gradient on the same batch)"),
                         self.norms_chart, self.error_line]
        self.follow_live()

    def _alignment_chart(self, table):
        return charts.alignment_chart(table, self.kind.value, unit=self.unit.value, x=self.x.value,
                                      order=self.runs.labels)

    def draw(self) -> None:
        table = frames.alignment(self.runs.records)
        kind, unit = self.kind.value, self.unit.value
        shown = table[table["kind"] == kind]
        angles = {}
        for (run, layer), rows in shown.groupby(["run", "layer"], sort=False):
            angles.setdefault(run, {})[layer] = float(rows[unit].iloc[-1])
        self.angles = angles
        missing = [label for label in self.runs.labels if label not in angles]
        self.note.value = (f"<i>{kind} alignment: {KINDS[kind]}.</i>" + (
            f" No {kind} alignment for {', '.join(missing)}: backprop is the reference itself, and a rule "
            "without feedback matrices (or before its first record) has none." if missing else ""))
        layers = sorted(set(shown["layer"]), key=lambda n: shown.loc[shown["layer"] == n, "index"].iloc[0])
        rows = [{"rule": run, **values} for run, values in angles.items()]
        self.table.value = table_html(rows, ["rule", *layers]) if rows else ""
        self.alignment_chart.chart = self._alignment_chart(table)
        self.norms_chart.chart = charts.norms_chart(frames.norms(self.runs.records), x=self.x.value,
                                                    order=self.runs.labels)
