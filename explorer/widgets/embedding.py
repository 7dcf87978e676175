"""`EmbeddingWidget`: the Representations page in a notebook."""

from __future__ import annotations

import io
import threading
from typing import Sequence

import ipywidgets as widgets
import numpy as np
import pandas as pd
import torch
import traitlets

from explorer.views import charts, maps
from explorer.views.blas_threads import one_blas_thread
from explorer.views.embed import embed
from explorer.config.labels import layer_label
from explorer.runs.store import FINAL
from explorer.widgets.common import RunsWidget, chart_view, message_html, overall_status

METHODS = [("PCA", "pca"), ("t-SNE", "tsne")]


def _empty(title: str):
    return charts.embedding_chart(pd.DataFrame({"x": [], "y": [], "label": []}), title=title, brush=False)


SAMPLE_WIDTH = 36   # pixels on screen per brushed sample image
SAMPLE_LIMIT = 60   # images shown at most


def sample_pngs(x: np.ndarray | None, indices: Sequence[int], limit: int = SAMPLE_LIMIT) -> list[bytes]:
    """The first ``limit`` chosen probe inputs as PNG files, for image data (N, C, H, W); none for
    any other data. Pixels as `explorer.views.maps.sample_images` stretches them.

    Example:
        >>> pngs = sample_pngs(np.arange(8.0).reshape(2, 1, 2, 2), [0, 1])
        >>> len(pngs), pngs[0][:4], sample_pngs(np.zeros((2, 3)), [0])
        (2, b'\x89PNG', [])
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
    (BP and DFA, say), at a checkpoint chosen with a slider: PCA at once, t-SNE computed on a
    background thread (each checkpoint's map starting from the previous one, so points move
    smoothly; cached per run, layer and checkpoint count). Colour by class, or for the parity
    task by the digit in each slot or their sum. Drawing a box on a map (the brush) lists the
    samples inside it (``selected``: their probe indices).

    The runs must take snapshots (``train.snapshots``, a list of epochs, 0 = before training);
    a live run's new checkpoints join the slider as they arrive. ``run`` is what `follow` takes:
    a stored run, a run or group id, a `TrainerWidget`, a `Comparison`, a list or a dict.

    Example:
        >>> import os, tempfile
        >>> from explorer.runs.workspace import Workspace
        >>> with Workspace(os.path.join(tempfile.mkdtemp(), "runs.sqlite")) as ws:
        ...     group = ws.compare({"model": {"hidden": [8]}, "device": "cpu",
        ...                         "train": {"epochs": 1, "snapshots": [0, 1], "snapshot_samples": 50}},
        ...                        [{"name": "bp"}])
        ...     group.wait(timeout=60)
        ...     w = EmbeddingWidget(group)
        >>> w.layer.value, w.checkpoint.options, w.epoch, w.points
        ('layers.0', (('0', 0), ('1', 1)), 1, 50)
    """

    epoch = traitlets.Int(0)          # the checkpoint on screen
    points = traitlets.Int(0)         # points on the first map
    selected = traitlets.List()       # probe indices inside the brush
    computing = traitlets.Bool(False)  # a t-SNE is being computed

    def __init__(self, run, *, labels: Sequence[str] | None = None, layer: str | None = None, method: str = "pca",
                 color: str = "label", perplexity: float = 30.0, n_iter: int = 500, interval: float = 1.0) -> None:
        super().__init__(run, labels, interval=interval)
        self.perplexity, self.n_iter = perplexity, n_iter
        n = len(self.runs)
        self._snapshots: list[list] = [[] for _ in range(n)]
        self._probes: list[dict | None] = [None] * n
        self._complete = [False] * n          # final snapshots loaded
        self._maps: dict[tuple, list[np.ndarray]] = {}
        self._busy: set[tuple] = set()
        self._closed = False
        self._wanted = {"layer": layer, "color": color}
        self._setting = False
        self.layer = widgets.Dropdown(options=[layer] if layer else [], value=layer, description="layer")
        self.checkpoint = widgets.SelectionSlider(options=[("0", 0)], description="epoch", continuous_update=False)
        self.method = widgets.ToggleButtons(options=METHODS, value=method, description="map")
        self.color = widgets.Dropdown(options=[color], value=color, description="colour by")
        self.note = widgets.HTML("")
        self.selection = widgets.HTML("")
        self.samples = widgets.Box(layout={"flex_flow": "row wrap"})  # the brushed samples, as images
        self.charts = [chart_view(_empty(label)) for label in self.runs.labels]
        for i, chart in enumerate(self.charts):
            chart.observe(lambda change, i=i: self._on_brush(i, change["new"]), "_vl_selections")
        for control in (self.layer, self.checkpoint, self.method, self.color):
            control.observe(self._on_control, "value")
        self.children = [widgets.HBox([self.layer, self.method, self.color]), self.checkpoint, self.note,
                         widgets.HBox(self.charts), self.selection, self.samples, self.error_line]
        self.follow_live()

    def close(self) -> None:
        self._closed = True
        super().close()

    # Loading what the store holds ------------------------------------------------------------

    def _tick(self, first: bool = False) -> bool:
        self.runs.poll()
        self.status = overall_status(self.runs.statuses())
        if self._load() or first:
            self.redraw()
        return not self.runs.finished

    def _load(self) -> bool:
        """Read snapshots that are new since the last look; True if any arrived."""
        changed = False
        for i, (view, info) in enumerate(zip(self.runs.views, self.runs.infos)):
            if self._complete[i]:
                continue
            final = info.status in FINAL  # read before the snapshots: a final run has stored them all
            snapshots = view.snapshots()
            if len(snapshots) != len(self._snapshots[i]):
                self._snapshots[i] = snapshots
                changed = True
            if self._probes[i] is None and snapshots:
                probe = view.store.probe(view.id)
                self._probes[i] = {k: v.numpy() for k, v in (probe or {}).items()}
            self._complete[i] = final
        if changed:
            self._update_controls()
        return changed

    def _update_controls(self) -> None:
        first = next((s for s in self._snapshots if s), None)
        if first is None:
            return
        layers = list(first[0].layers)
        epochs = sorted({s.epoch for snaps in self._snapshots for s in snaps})
        colors = ["label"]
        probe = next((p for p in self._probes if p), {})
        if "slot_digits" in probe:
            k = probe["slot_digits"].shape[1]
            colors += [f"digit_{j + 1}" for j in range(k)] + ["digit_sum"]
        self._setting = True  # the controls change together: one redraw after, not one per control
        try:
            layer = self.layer.value if self.layer.value in layers else (
                self._wanted["layer"] if self._wanted["layer"] in layers else layers[-1])
            self.layer.options = [(layer_label(n), n) for n in layers]  # "hidden layer 1", not "layers.0"
            self.layer.value = layer
            at_end = self.checkpoint.value == self.checkpoint.options[-1][1]
            current = self.checkpoint.value
            self.checkpoint.options = [(str(e), e) for e in epochs]
            self.checkpoint.value = epochs[-1] if at_end or current not in epochs else current
            color = self.color.value if self.color.value in colors else (
                self._wanted["color"] if self._wanted["color"] in colors else "label")
            self.color.options, self.color.value = colors, color
        finally:
            self._setting = False

    # Maps -------------------------------------------------------------------------------------

    def maps(self, i: int) -> list[np.ndarray] | None:
        """Run ``i``'s maps (one per checkpoint) for the chosen layer and method; None while a
        t-SNE is being computed (the map is drawn when it is ready)."""
        snapshots, layer, method = self._snapshots[i], self.layer.value, self.method.value
        key = (i, layer, method, len(snapshots))
        if key in self._maps:
            return self._maps[key]
        if method == "pca":
            self._maps[key] = embed(snapshots, "pca", layer=layer)
            return self._maps[key]
        if key not in self._busy:
            self._busy.add(key)
            self.computing = True
            threading.Thread(target=self._tsne, args=(key, snapshots), name="explorer-tsne", daemon=True).start()
        return None

    def _tsne(self, key: tuple, snapshots: list) -> None:
        n = snapshots[0].layers[key[1]].shape[0]
        try:
            with one_blas_thread():  # several maps at once: see explorer.views.blas_threads
                self._maps[key] = embed(snapshots, "tsne", layer=key[1], n_iter=self.n_iter,
                                        perplexity=min(self.perplexity, max(1.0, (n - 1) / 3)))
            if not self._closed:
                self.redraw()
        except Exception as err:  # shown in the widget
            self._on_thread_error(err)
        finally:
            self._busy.discard(key)
            self.computing = bool(self._busy)

    def table(self, i: int = 0) -> pd.DataFrame | None:
        """Run ``i``'s map at the chosen checkpoint: x, y, index, label (and the parity digits)."""
        maps = self.maps(i) if self._snapshots[i] else None
        if maps is None:
            return None
        epochs = [s.epoch for s in self._snapshots[i]]
        at = max((k for k, e in enumerate(epochs) if e <= self.checkpoint.value), default=0)
        m = maps[at]
        df = pd.DataFrame({"x": m[:, 0], "y": m[:, 1], "index": np.arange(len(m))})
        probe = self._probes[i] or {}
        if "y" in probe:
            df["label"] = probe["y"][:len(m)].astype(int).astype(str)
        else:
            df["label"] = "?"
        if "slot_digits" in probe:
            digits = probe["slot_digits"][:len(m)]
            for j in range(digits.shape[1]):
                df[f"digit_{j + 1}"] = digits[:, j].astype(str)
            df["digit_sum"] = digits.sum(1).astype(str)
        return df

    # Drawing ----------------------------------------------------------------------------------

    def draw(self) -> None:
        if not any(self._snapshots):
            self.note.value = message_html(
                "No snapshots of hidden layers yet. Runs take them when trained with train.snapshots, a list of "
                "epochs (0 = before training), e.g. {'train': {'epochs': 10, 'snapshots': [0, 1, 5, 10]}}.",
                "warning" if self.runs.finished else "info")
            return
        waiting = []
        for i, (label, chart) in enumerate(zip(self.runs.labels, self.charts)):
            if not self._snapshots[i]:
                chart.chart = _empty(f"{label}: no snapshots")
                continue
            df = self.table(i)
            if df is None:
                waiting.append(label)
                continue
            maps = self.maps(i)
            lo = float(min(m.min() for m in maps))
            hi = float(max(m.max() for m in maps))
            pad = 0.05 * (hi - lo or 1.0)
            chart.chart = charts.embedding_chart(
                df, color=self.color.value, domain=[lo - pad, hi + pad], height=320,
                title=f"{label} · {layer_label(self.layer.value)} · epoch {self.checkpoint.value}")
            if i == 0:
                self.points = len(df)
        self.epoch = self.checkpoint.value
        self.note.value = message_html(f"computing t-SNE maps of {', '.join(waiting)}…", "info") if waiting else ""

    def _on_control(self, _change) -> None:
        if not self._setting:
            self.selected = []
            self.selection.value = ""
            self.samples.children = ()
            self.redraw()

    def _on_brush(self, i: int, selections: dict) -> None:
        value = (selections.get("brush") or {}).get("value") or {}
        df = self.table(i)
        if not value or df is None or "x" not in value or "y" not in value:
            self.selected, self.selection.value, self.samples.children = [], "", ()
            return
        (x0, x1), (y0, y1) = sorted(value["x"]), sorted(value["y"])
        inside = df[(df["x"] >= x0) & (df["x"] <= x1) & (df["y"] >= y0) & (df["y"] <= y1)]
        self.selected = inside["index"].tolist()
        counts = inside[self.color.value].value_counts()
        parts = ", ".join(f"{name} ×{count}" for name, count in counts.items())
        self.selection.value = (f"<b>{len(inside)} samples</b> selected on {self.runs.labels[i]} "
                                f"({self.color.value}: {parts or 'none'}); probe indices: "
                                f"{', '.join(map(str, self.selected[:50]))}{' …' if len(inside) > 50 else ''}")
        self.samples.children = tuple(widgets.Image(value=png, format="png", width=SAMPLE_WIDTH,
                                                    layout={"margin": "1px"})
                                      for png in sample_pngs((self._probes[i] or {}).get("x"), self.selected))
