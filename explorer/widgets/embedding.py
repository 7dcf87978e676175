"""`EmbeddingWidget`: the Representations page in a notebook.

The maps are the page's: made by the process's `explorer.views.maps.Mapper` (its cache and its
background t-SNE), drawn by `maps.run_map` (the same colours, titles and lines under them), with
the page's words for the layers and for how the maps are coming (`maps.job_lines`).
"""

from __future__ import annotations

import html
import io
import re
from typing import Sequence

import ipywidgets as widgets
import numpy as np
import pandas as pd
import torch
import traitlets

from explorer.runs.store import ACTIVE
from explorer.views import maps
from explorer.widgets.common import RunsWidget, chart_view, message_html, overall_status

SAMPLE_WIDTH = 36   # pixels on screen per brushed sample image
SAMPLE_LIMIT = 60   # samples shown at most
MAP_SIZE = 400      # a map's side in pixels: two side by side fit a notebook's width
BRUSH_HINT = "Drag over a map to see the samples in an area."
COLOURINGS = r"class|parity|target|digit \d+"   # the names `maps.colours` gives


def _blank(title: str, size: int):
    """A map frame with no points yet, titled ``title``."""
    return maps.map_chart(maps.points(np.zeros((0, 2)), {"class": np.array([], dtype=str)}), color="class",
                          title=title, size=size)


def sample_pngs(x: np.ndarray | torch.Tensor | None, indices: Sequence[int], limit: int = SAMPLE_LIMIT) -> list[bytes]:
    """The first ``limit`` chosen probe inputs as PNG files, for image data (N, C, H, W); none for
    any other data. Pixels as `explorer.views.maps.sample_images` stretches them.

    Example:
        >>> pngs = sample_pngs(np.arange(8.0).reshape(2, 1, 2, 2), [0, 1])
        >>> len(pngs), pngs[0][:4], sample_pngs(np.zeros((2, 3)), [0])
        (2, b'\\x89PNG', [])
    """
    from PIL import Image

    tensor = None if x is None else torch.as_tensor(x)
    if not maps.is_image(tensor):
        return []
    out = []
    for pixels in maps.sample_images(tensor, indices, limit=limit):
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        out.append(buffer.getvalue())
    return out


class EmbeddingWidget(RunsWidget):
    """2-D maps of a hidden layer's representations of a fixed probe set, one per run side by side
    (BP and DFA, say), at a checkpoint chosen with a slider, as the app's Representations page
    draws them: PCA at once, t-SNE computed in the background by the process's
    `explorer.views.maps.Mapper` (each checkpoint's map starting from the previous one, so points
    move smoothly; kept for the process, so another widget or a second look costs nothing).
    Colour by class, or for the parity task by parity or the digit in each slot (``color``: one of
    `maps.colours`, e.g. "class", "parity", "digit 1"; None or one the runs lack: the first). The
    layers offered are `maps.views`: each hidden layer and, for a parity MLP, each digit's part of
    the first. Drawing a box on a map (the brush) lists the samples inside it (``selected``: their
    probe indices) and shows them.

    The runs must take snapshots (``train.snapshots``, a list of epochs, 0 = before training);
    a live run's new checkpoints join the slider as they arrive. ``run`` is what `follow` takes:
    a stored run, a run or group id, a `TrainerWidget`, a `Comparison`, a list or a dict.
    ``perplexity`` and ``n_iter`` set the t-SNE (`maps.tsne_options`). `wait` returns once the
    runs have ended and every map asked for is drawn.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.workspace import Workspace
        >>> with Workspace(os.path.join(tempfile.mkdtemp(), "runs.sqlite")) as ws:
        ...     group = ws.compare({"model": {"hidden": [8]}, "device": "cpu",
        ...                         "train": {"epochs": 1, "snapshots": [0, 1], "snapshot_samples": 50}},
        ...                        [{"name": "bp"}])
        ...     group.wait(timeout=60)
        ...     w = EmbeddingWidget(group)
        >>> w.layer.value, w.checkpoint.options, w.epoch, w.points, w.color.value
        ('layers.0', (('0', 0), ('1', 1)), 1, 50, 'class')
    """

    epoch = traitlets.Int(0)          # the checkpoint on screen
    points = traitlets.Int(0)         # points on the first map
    selected = traitlets.List()       # probe indices inside the brush
    computing = traitlets.Bool(False)  # a t-SNE is being computed

    def __init__(self, run, *, labels: Sequence[str] | None = None, layer: str | None = None, method: str = "pca",
                 color: str | None = None, perplexity: float = 30.0, n_iter: int = 500, interval: float = 1.0,
                 size: int = MAP_SIZE) -> None:
        if method not in maps.METHODS:
            raise ValueError(f"method must be one of {', '.join(maps.METHODS)}; got {method!r}")
        if color is not None and not re.fullmatch(COLOURINGS, str(color)):
            raise ValueError(f"color must be one of the page's colourings: class, parity, target or 'digit 1', "
                             f"'digit 2', ... (parity runs); got {color!r}")
        super().__init__(run, labels, interval=interval)
        self.tsne = maps.tsne_options({"perplexity": perplexity, "n_iter": n_iter})
        self.size = size
        self._tables: list[pd.DataFrame | None] = [None] * len(self.runs)
        self._drawn: tuple | None = None   # what the maps on screen were drawn from (see `_state`)
        self._polling = False              # the live thread goes on: runs train or maps are being made
        self._closed = False
        self._wanted = {"layer": layer, "color": color}
        self._setting = False
        self.layer = widgets.Dropdown(options=[layer] if layer else [], value=layer, description="layer")
        self.checkpoint = widgets.SelectionSlider(options=[("0", 0)], description="epoch", continuous_update=False)
        self.method = widgets.ToggleButtons(options=[(name, key) for key, name in maps.METHODS.items()],
                                            value=method, description="map")
        self.color = widgets.Dropdown(options=[color] if color else [], value=color, description="colour by")
        self.note = widgets.HTML("")
        self.selection = widgets.HTML(message_html(BRUSH_HINT, "info"))
        self.samples = widgets.Box(layout={"flex_flow": "row wrap"})  # the brushed samples, as images or a table
        self.charts = [chart_view(_blank(label, size)) for label in self.runs.labels]
        for i, chart in enumerate(self.charts):
            chart.observe(lambda change, i=i: self._on_brush(i, change["new"]), "_vl_selections")
        for control in (self.layer, self.checkpoint, self.method, self.color):
            control.observe(self._on_control, "value")
        self.children = [widgets.HBox([self.layer, self.method, self.color]), self.checkpoint, self.note,
                         widgets.HBox(self.charts), self.selection, self.samples, self.error_line]
        self.follow_live()

    @property
    def mapper(self) -> maps.Mapper:
        """The process's `maps.Mapper` on the runs' store with this widget's t-SNE options."""
        return maps.shared(self.runs.store, self.tsne)

    def close(self) -> None:
        self._closed = True
        super().close()

    # Following the runs and the maps being made ---------------------------------------------

    def follow_live(self) -> None:
        """Draw what is stored now, then keep drawing from the thread while the runs train or
        their maps are being made."""
        if self._tick(first=True):
            self._live.start()

    def _tick(self, first: bool = False) -> bool:
        self.runs.poll()
        self.status = overall_status(self.runs.statuses())
        with self._draw_lock:
            if first or self._state(*self._current()) != self._drawn:
                self.draw()
            self._polling = not self._closed and not self._settled()
            return self._polling

    def _settled(self) -> bool:
        """The runs have ended, their maps are read from the store as ended, and none is being made."""
        sources, _ = self._current()
        return self.runs.finished and not self.computing and not any(s.status in ACTIVE for s in sources)

    def _keep_polling(self) -> None:
        """After a control changed: follow the maps now being made if the live thread has stopped."""
        with self._draw_lock:
            start = not self._closed and not self._polling and not self._settled()
            self._polling = self._polling or start
        if start:   # outside the lock: starting joins the old thread, which may be waiting on it
            self._live.start()

    def _current(self) -> tuple[list[maps.Source], list[maps.MapJob | None]]:
        """Each run's stored maps (`maps.Source`) and its `maps.MapJob` for the chosen layer and
        method (None: no snapshots yet, or no such layer)."""
        mapper = self.mapper
        sources = [mapper.source(run_id) for run_id in self.runs.ids]
        view, method = self.layer.value, self.method.value
        jobs = [mapper.request(s.run_id, view, method) if s.snapshots and view in maps.views(s) else None
                for s in sources]
        return sources, jobs

    @staticmethod
    def _state(sources, jobs) -> tuple:
        return tuple((len(s.snapshots), s.status, None if j is None else (j.ready, j.total, j.error))
                     for s, j in zip(sources, jobs))

    # Controls ------------------------------------------------------------------------------------

    def _update_controls(self, source: maps.Source) -> None:
        """The layers and colourings the first run with snapshots offers, in the page's words."""
        offered = maps.views(source)
        colourings = list(maps.colours(source.probe))
        self._setting = True  # the controls change together: one redraw after, not one per control
        try:
            layer = self.layer.value if self.layer.value in offered else (
                self._wanted["layer"] if self._wanted["layer"] in offered else source.layers[-1])
            self.layer.options = [(maps.view_label(v), v) for v in offered]  # "hidden layer 1", not "layers.0"
            self.layer.value = layer
            color = self.color.value if self.color.value in colourings else (
                self._wanted["color"] if self._wanted["color"] in colourings else colourings[0])
            self.color.options, self.color.value = colourings, color
        finally:
            self._setting = False

    def _update_slider(self, jobs: Sequence[maps.MapJob | None]) -> None:
        """The slider's checkpoints: every epoch any run has a map at; it stays at the end as runs go on."""
        epochs = sorted({e for job in jobs if job is not None for e in job.epochs})
        if not epochs:
            return
        self._setting = True
        try:
            at_end = self.checkpoint.value == self.checkpoint.options[-1][1]
            current = self.checkpoint.value
            self.checkpoint.options = [(maps.epoch_text(e), e) for e in epochs]
            self.checkpoint.value = epochs[-1] if at_end or current not in epochs else current
        finally:
            self._setting = False

    # Drawing ----------------------------------------------------------------------------------

    def table(self, i: int = 0) -> pd.DataFrame | None:
        """Run ``i``'s map as drawn: index (the probe sample), x, y and a column per colouring
        (`maps.colours`); None before its first map is ready."""
        return self._tables[i]

    def draw(self) -> None:
        sources, _ = self._current()
        first = next((s for s in sources if s.snapshots), None)
        if first is None:
            self._tables = [None] * len(sources)
            self.computing, self.points = False, 0
            self.note.value = message_html(
                "No snapshots of hidden layers yet. Runs take them when trained with train.snapshots, a list of "
                "epochs (0 = before training), e.g. {'train': {'epochs': 10, 'snapshots': [0, 1, 5, 10]}}.",
                "warning" if self.runs.finished else "info")
            self._drawn = self._state(sources, [None] * len(sources))
            return
        self._update_controls(first)
        sources, jobs = self._current()
        self._update_slider(jobs)
        epoch, view = self.checkpoint.value, self.layer.value
        lines: list[tuple[str, str]] = []
        for i, (label, chart, source, job) in enumerate(zip(self.runs.labels, self.charts, sources, jobs)):
            self._tables[i] = None
            if not source.snapshots:
                chart.chart = _blank(f"{label}: no snapshots", self.size)
                continue
            if job is None:
                lines.append(("warning", f"{label} has no map of {maps.view_label(view)}; it has "
                                         f"{', '.join(map(maps.view_label, maps.views(source)))}."))
                chart.chart = _blank(f"{label}: no map of {maps.view_label(view)}", self.size)
                continue
            lines += maps.job_lines(job, label)
            if job.ready == 0:
                chart.chart = _blank(f"{label} · {maps.view_label(view)} · {maps.METHODS[job.key[2]]}", self.size)
                continue
            drawn = maps.run_map(job, source.probe, label=label, colour=self.color.value, epoch=epoch, size=self.size)
            chart.chart = drawn.chart
            self._tables[i] = drawn.table
        self.points = 0 if self._tables[0] is None else len(self._tables[0])
        self.epoch = epoch
        self.computing = any(job is not None and not job.done for job in jobs)
        failed = [text for kind, text in lines if kind == "error"]
        if failed:
            self.error = "; ".join(failed)
            self.error_line.value = message_html(self.error)
        self.note.value = "<br>".join(message_html(text, "warning" if kind == "warning" else "info")
                                      for kind, text in lines if kind != "error")
        self._drawn = self._state(sources, jobs)

    def _on_control(self, _change) -> None:
        if self._setting:
            return
        self.selected = []
        self.selection.value = message_html(BRUSH_HINT, "info")
        self.samples.children = ()
        self.redraw()
        self._keep_polling()

    def _on_brush(self, i: int, selections: dict) -> None:
        brush = (selections.get("brush") or {}).get("value") or {}
        table = self.table(i)
        chosen = maps.inside(table, brush) if table is not None else None
        if chosen is None or chosen.empty:
            self.selected, self.samples.children = [], ()
            self.selection.value = message_html(BRUSH_HINT, "info")
            return
        self.selected = chosen["index"].tolist()
        colour = self.color.value if self.color.value in chosen.columns else chosen.columns[3]
        counts = ", ".join(f"{name} ×{count}" for name, count in chosen[colour].value_counts().items())
        self.selection.value = (f"<b>{len(chosen)} samples</b> in the brushed area of {html.escape(self.runs.labels[i])} "
                                f"({html.escape(colour)}: {html.escape(counts)}); probe indices: "
                                f"{', '.join(map(str, self.selected[:50]))}{' …' if len(chosen) > 50 else ''}")
        x = self.mapper.source(self.runs.ids[i]).probe.get("x")
        pngs = sample_pngs(x, self.selected)
        if pngs:
            self.samples.children = tuple(widgets.Image(value=png, format="png", width=SAMPLE_WIDTH,
                                                        layout={"margin": "1px"}) for png in pngs)
        elif x is not None:   # not images: the samples' input features, as the page lists them
            features = maps.sample_features(x, self.selected[:SAMPLE_LIMIT])
            self.samples.children = (widgets.HTML(features.to_html(index=False, float_format="{:.3g}".format)),)
        else:
            self.samples.children = ()
