"""Maps of a stored run's hidden representations, for the Representations page (no Streamlit here).

A run trained with snapshots (the Train page's "keep hidden maps") holds, at a few checkpoints,
the hidden representations of a fixed probe set, and the probe's labels (and inputs). This module
turns them into what the page draws:

- `Mapper` reads a run's snapshots from the store and makes its maps: PCA at once, t-SNE on
  background threads, checkpoint after checkpoint (each warm-started from the previous one, as
  `embed.embed` does), the runs asked for taking turns, cached per run, view (a layer, or one
  digit's part of the first layer) and checkpoint. A page polls the returned `MapJob` and never
  waits on it.
- `MapJob.at` gives the map at a fractional checkpoint position, interpolated between two
  consecutive aligned maps, so a slider or a play button moves the points smoothly; `shown_at`
  gives the map at an epoch and the words that say which checkpoint is on screen; `map_chart`
  draws it in a square frame fitted to its points; `run_map` does all three for one run as the
  page and the notebook's `EmbeddingWidget` draw it, and `job_lines` says how its maps are coming.
- `colours` names each way to colour the points (class; for parity: parity and the digit in each
  slot), `points` builds the tidy table `map_chart` draws, `inside` picks the samples in a
  brushed rectangle, and `sample_images` / `sample_features` show them.

Example:
    >>> import numpy as np, torch
    >>> job = MapJob(("run", "layers.0", "pca"), epochs=[0, 1], steps=[0, 10])
    >>> job.add(np.zeros((3, 2), np.float32)); job.add(np.ones((3, 2), np.float32))
    >>> job.at(0.5)[0].tolist()
    [0.5, 0.5]
    >>> table = points(job.at(1), colours({"y": torch.tensor([0, 1, 1])}))
    >>> table.columns.tolist(), inside(table, {"x": [0.9, 1.1], "y": [0, 2]})["index"].tolist()
    (['index', 'x', 'y', 'class'], [0, 1, 2])
"""

from __future__ import annotations

import math
import os
import threading
import time
import queue
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Iterator, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch

from explorer.views.embed import embed, normalise
from explorer.views.embed import matrices as snapshot_matrices
from explorer.views.embed import tsne_steps as _raw_steps
from explorer.config import ConfigError, RunConfig
from explorer.config.labels import layer_label
from explorer.engine.representations import Snapshot, per_digit
from explorer.runs.store import ACTIVE, Store
from explorer.views.blas_threads import one_blas_thread

METHODS = {"pca": "PCA", "tsne": "t-SNE"}
TSNE_OPTIONS = {"perplexity": 30.0, "n_iter": 500, "early_exaggeration_iter": 250, "seed": 0}
REFRESH_S = 1.0      # a training run's snapshots are read again at most this often
MAX_SOURCES = 16     # runs whose snapshots stay in memory
WORKERS = min(2, os.cpu_count() or 1)  # t-SNE threads: two runs side by side, one each (openTSNE runs on one core)
ALONE = " · digit {} alone"  # the per-digit views of the first hidden layer: "layers.0 · digit 1 alone"


# ----------------------------------------------------------------------------------------------
# Colours, tables, brushing and samples


def colours(probe: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Each way to colour the probe's points: {name: one string per sample}.

    A class label gives "class"; a parity probe (extras ``slot_digits``) gives "parity" (even or
    odd) and "digit 1" … "digit k", the digit in each slot from the left; real-valued targets
    give "target", the first target's quintile.

    Example:
        >>> {k: v.tolist() for k, v in colours({"y": torch.tensor([1, 0]),
        ...                                     "slot_digits": torch.tensor([[3, 4], [2, 2]])}).items()}
        {'parity': ['odd', 'even'], 'digit 1': ['3', '2'], 'digit 2': ['4', '2']}
        >>> colours({"y": torch.tensor([2, 0, 1])})["class"].tolist()
        ['2', '0', '1']
    """
    if not probe or "y" not in probe:
        raise ConfigError("probe: no labels ('y') stored with this run's snapshots", field="probe")
    y = probe["y"]
    out: dict[str, np.ndarray] = {}
    if "slot_digits" in probe:
        out["parity"] = np.where(y.numpy() % 2 == 1, "odd", "even")
        slots = probe["slot_digits"].numpy()
        for j in range(slots.shape[1]):
            out[f"digit {j + 1}"] = slots[:, j].astype(str)
    elif y.is_floating_point():
        first = y.reshape(len(y), -1)[:, 0].numpy()
        edges = np.quantile(first, [0.2, 0.4, 0.6, 0.8])
        out["target"] = np.array([f"q{q + 1}" for q in np.searchsorted(edges, first)])
    else:
        out["class"] = y.numpy().astype(str)
    return out


def points(coords: np.ndarray, colouring: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """The tidy table of one map: ``index`` (the probe sample), ``x``, ``y`` and a column per
    colouring, one row per sample.

    Example:
        >>> points(np.array([[0.0, 1.0], [2.0, 3.0]]), {"class": np.array(["a", "b"])}).values.tolist()
        [[0, 0.0, 1.0, 'a'], [1, 2.0, 3.0, 'b']]
    """
    coords = np.asarray(coords)
    table = pd.DataFrame({"index": np.arange(len(coords)), "x": coords[:, 0], "y": coords[:, 1]})
    for name, values in colouring.items():
        if len(values) != len(coords):
            raise ValueError(f"colouring {name!r} has {len(values)} values for {len(coords)} points")
        table[name] = values
    return table


def brush_of(event) -> dict:
    """The interval named "brush" in what ``st.altair_chart(..., on_select="rerun")`` returned
    ({} when nothing is brushed).

    Example:
        >>> brush_of({"selection": {"brush": {"x": [0, 1], "y": [2, 3]}}})
        {'x': [0, 1], 'y': [2, 3]}
        >>> brush_of(None), brush_of({"selection": {"brush": {}}})
        ({}, {})
    """
    if not event:
        return {}
    selection = event.get("selection") or {}
    return dict(selection.get("brush") or {})


def inside(table: pd.DataFrame, brush: Mapping[str, Sequence[float]] | None) -> pd.DataFrame:
    """The rows of ``table`` inside the brushed rectangle ``{"x": [a, b], "y": [c, d]}`` (ends in
    any order; an axis left out is not limited). No brush: no rows.

    Example:
        >>> t = points(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]]), {})
        >>> inside(t, {"x": [2.5, 0.5], "y": [0.0, 1.0]})["index"].tolist()
        [1, 2]
        >>> len(inside(t, {}))
        0
    """
    if not brush:
        return table.iloc[:0]
    keep = np.ones(len(table), bool)
    for axis in ("x", "y"):
        if axis in brush and brush[axis] is not None and len(brush[axis]) == 2:
            low, high = sorted(float(v) for v in brush[axis])
            keep &= (table[axis] >= low).to_numpy() & (table[axis] <= high).to_numpy()
    return table[keep]


def is_image(x: torch.Tensor | None) -> bool:
    """Whether probe inputs are images, (N, channels, height, width)."""
    return x is not None and x.dim() == 4


def sample_images(x: torch.Tensor, indices: Sequence[int], limit: int = 60) -> list[np.ndarray]:
    """The first ``limit`` of the chosen probe images as uint8 arrays for display, each stretched
    to its own range: (H, W) for one channel, (H, W, 3) for three (others: the first channel).

    Example:
        >>> images = sample_images(torch.arange(8.0).reshape(2, 1, 2, 2), [1])
        >>> images[0].tolist()
        [[0, 85], [170, 255]]
    """
    if not is_image(x):
        raise ValueError(f"probe inputs are not images (shape {tuple(x.shape)}); use sample_features")
    out = []
    for i in list(indices)[:limit]:
        img = x[int(i)].float()
        img = img.permute(1, 2, 0) if img.shape[0] == 3 else img[0]
        low, high = img.min(), img.max()
        scaled = (img - low) / (high - low) if high > low else torch.zeros_like(img)
        out.append((scaled * 255).round().to(torch.uint8).numpy())
    return out


def sample_features(x: torch.Tensor, indices: Sequence[int], limit: int = 20) -> pd.DataFrame:
    """The chosen probe samples' input features (the first ``limit`` of them), one row each.

    Example:
        >>> sample_features(torch.tensor([[0.5, 1.0], [2.0, 3.0]]), [1]).values.tolist()
        [[1.0, 2.0, 3.0]]
    """
    flat = x.reshape(len(x), -1)[:, :limit].float().numpy()
    rows = np.asarray(list(indices), dtype=int)
    table = pd.DataFrame(flat[rows], columns=[f"x{j + 1}" for j in range(flat.shape[1])])
    table.insert(0, "index", rows)
    return table


# ----------------------------------------------------------------------------------------------
# One run's snapshots, and its views


def per_digit_layers(weight: torch.Tensor, x: torch.Tensor, k: int, layer: str = "layers.0") -> dict[str, torch.Tensor]:
    """Each slot's contribution to an MLP's first hidden layer, given that layer's ``weight``
    (n_1, inputs) from a stored checkpoint: {"<layer> · digit j alone": (N, n_1)} (see
    `representations.per_digit`).

    Example:
        >>> parts = per_digit_layers(torch.ones(3, 4), torch.ones(5, 1, 1, 4), 2)
        >>> list(parts), parts["layers.0 · digit 1 alone"][0].tolist()
        (['layers.0 · digit 1 alone', 'layers.0 · digit 2 alone'], [2.0, 2.0, 2.0])
    """
    from explorer.models import MLP

    model = MLP(tuple(x.shape[1:]), (weight.shape[0],), 1)
    with torch.no_grad():
        model.layers[0].weight.copy_(weight)
    parts = per_digit(SimpleNamespace(model=model), x, k)
    return {layer + ALONE.format(j + 1): parts[:, j] for j in range(k)}


@dataclass
class Source:
    """What the store holds for one run's maps: its config, snapshots and probe, read at ``read``."""

    run_id: str
    config: dict
    status: str
    snapshots: list[Snapshot]
    probe: dict[str, torch.Tensor] | None
    read: float = field(default_factory=time.monotonic)
    _per_digit: dict[int, Snapshot] = field(default_factory=dict, repr=False)

    @property
    def layers(self) -> list[str]:
        """The hidden layers captured, in forward order."""
        return list(self.snapshots[0].layers) if self.snapshots else []

    @property
    def slots(self) -> int:
        """Digits per input of a parity probe (0 for other data)."""
        return 0 if not self.probe or "slot_digits" not in self.probe else int(self.probe["slot_digits"].shape[1])

    def per_digit_possible(self) -> bool:
        """A parity MLP whose probe inputs were stored: per-digit views can be made."""
        return (self.slots > 0 and self.config.get("model", {}).get("name", "mlp") == "mlp"
                and is_image(self.probe.get("x")) and bool(self.layers))


def _read(store: Store, run_id: str) -> Source:
    info = store.get_run(run_id)
    snapshots = store.snapshots(run_id)
    probe = store.probe(run_id) if snapshots else None
    return Source(run_id, info.config, info.status, snapshots, probe)


def _due(info) -> int:
    """How many snapshots a training run has taken by its last stored step (those of the epochs
    it has finished, and epoch 0).

    Example:
        >>> from explorer.runs.store import RunInfo
        >>> info = RunInfo("r", None, {"train": {"epochs": 4, "snapshots": [0, 2, 4]}}, "running", None, None,
        ...                0, 0, None, 0, None, None, "", 25, 40, 0, None, None, None, None)
        >>> _due(info)
        2
    """
    train = RunConfig.from_dict(info.config).train
    if not train.snapshots or not info.total_steps:
        return 0
    epochs_done = info.steps_done * train.epochs // info.total_steps
    return sum(1 for e in train.snapshots if e <= epochs_done)


def views(source: Source) -> list[str]:
    """The maps a run offers: each hidden layer, then (parity MLPs) each digit's part of the first.

    Example:
        >>> s = Source("r", {}, "done", [Snapshot(0, 0, {"layers.0": torch.zeros(4, 3)})], {"y": torch.zeros(4)})
        >>> views(s)
        ['layers.0']
    """
    out = list(source.layers)
    if source.per_digit_possible():
        out += [source.layers[0] + ALONE.format(j + 1) for j in range(source.slots)]
    return out


# ----------------------------------------------------------------------------------------------
# Maps per checkpoint


class MapJob:
    """The maps of one (run, view, method), filled checkpoint by checkpoint (by a background thread
    for t-SNE). ``epochs`` / ``steps`` are the checkpoints asked for, ``maps`` those ready so far;
    ``error`` says why the computation stopped, if it failed.

    Example:
        >>> job = MapJob(("r", "layers.0", "tsne"), epochs=[0, 5], steps=[0, 50])
        >>> job.ready, job.done
        (0, False)
    """

    def __init__(self, key: tuple, epochs: Sequence[int], steps: Sequence[int]) -> None:
        self.key = key
        self.epochs, self.steps = list(epochs), list(steps)
        self.maps: list[np.ndarray] = []
        self.error: str | None = None
        self.queued = False     # t-SNE: waiting for a worker, or on one
        self.raw_last: np.ndarray | None = None  # t-SNE: the last map before scaling (the warm start)
        self._todo: Iterator | None = None       # t-SNE: yields the maps still to make, one per checkpoint
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MapJob({self.key!r}, {self.ready} of {self.total} ready{', failed' if self.error else ''})"

    def add(self, coords: np.ndarray) -> None:
        with self._lock:
            self.maps.append(np.asarray(coords, np.float32))

    @property
    def total(self) -> int:
        return len(self.steps)

    @property
    def ready(self) -> int:
        return len(self.maps)

    @property
    def running(self) -> bool:
        """A background computation of the job is queued or under way."""
        return self.queued

    @property
    def done(self) -> bool:
        """Every checkpoint asked for has its map (or the computation failed)."""
        return self.error is not None or self.ready >= self.total

    def at(self, position: float) -> np.ndarray:
        """The map at a checkpoint ``position`` (0 = the first checkpoint): at a fraction between
        two checkpoints, the points lie that fraction of the way from one map to the next.
        Positions past the maps ready so far give the last one ready.

        Example:
            >>> job = MapJob(("r", "l", "pca"), [0, 1, 2], [0, 1, 2])
            >>> for v in (0.0, 2.0, 4.0): job.add(np.full((1, 2), v))
            >>> job.at(0.25).tolist(), job.at(1.5).tolist(), job.at(9).tolist()
            ([[0.5, 0.5]], [[3.0, 3.0]], [[4.0, 4.0]])
        """
        with self._lock:
            maps = list(self.maps)
        if not maps:
            raise LookupError(f"no map of {self.key[1]} is ready yet")
        position = min(max(float(position), 0.0), len(maps) - 1.0)
        i = int(math.floor(position))
        t = position - i
        if t == 0 or i + 1 >= len(maps):
            return maps[i]
        return ((1 - t) * maps[i] + t * maps[i + 1]).astype(np.float32)

    def epoch_at(self, position: float) -> float:
        """The epoch at a checkpoint ``position``, between checkpoints as `at` interpolates maps.

        Example:
            >>> job = MapJob(("r", "l", "pca"), [0, 2, 4], [0, 20, 40])
            >>> for _ in range(3): job.add(np.zeros((1, 2)))
            >>> job.epoch_at(1.5)
            3.0
        """
        ready = max(self.ready, 1)
        position = min(max(float(position), 0.0), ready - 1.0)
        return float(np.interp(position, np.arange(ready), self.epochs[:ready]))


def tsne_steps(matrices: Sequence[np.ndarray], previous: np.ndarray | None = None, *, perplexity: float = 30.0,
               n_iter: int = 500, early_exaggeration_iter: int = 250, seed: int = 0):
    """`embed.embed`'s t-SNE, one checkpoint at a time: yields (scaled map, raw map) for each
    matrix. The first starts from its PCA with early exaggeration (unless ``previous``, a raw map,
    is given to continue from); each later one is warm-started from the raw map before it.

    Example:
        >>> from explorer.views.embed import clustered
        >>> x, _ = clustered(40, 4, clusters=2)
        >>> steps = list(tsne_steps([x, x], perplexity=5, n_iter=20, early_exaggeration_iter=10))
        >>> len(steps), steps[0][0].shape
        (2, (40, 2))
    """
    n = matrices[0].shape[0] if len(matrices) else 0
    perplexity = min(float(perplexity), max((n - 1) / 3.0, 1.0))
    for raw in _raw_steps(matrices, previous, perplexity=perplexity, n_iter=n_iter,
                          early_exaggeration_iter=early_exaggeration_iter, seed=seed):
        yield normalise(raw), raw


def tsne_options(given: Mapping | None = None) -> dict:
    """`TSNE_OPTIONS` with ``given`` in their place, checked: ``perplexity`` a positive number (a
    run's probe of N samples uses at most (N - 1) / 3), ``n_iter`` a whole number of at least 1,
    ``early_exaggeration_iter`` and ``seed`` whole numbers of at least 0.

    Example:
        >>> tsne_options({"n_iter": 50})["n_iter"], tsne_options()["perplexity"]
        (50, 30.0)
        >>> tsne_options({"n_iter": 0})
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: tsne.n_iter must be a whole number of at least 1, got 0
    """
    out = dict(TSNE_OPTIONS)
    for name, value in (given or {}).items():
        if name not in TSNE_OPTIONS:
            raise ConfigError(f"tsne.{name} is not a t-SNE option; the options are {', '.join(TSNE_OPTIONS)}",
                              field=f"tsne.{name}")
        if name == "perplexity":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise ConfigError(f"tsne.perplexity must be a positive number, got {value!r}", field="tsne.perplexity")
            value = float(value)
        else:
            least = 1 if name == "n_iter" else 0
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
                raise ConfigError(f"tsne.{name} must be a whole number of at least {least}, got {value!r}",
                                  field=f"tsne.{name}")
            value = int(value)
        out[name] = value
    return out


class Mapper:
    """Reads runs' snapshots from ``store`` and makes their maps: PCA at once, t-SNE on ``workers``
    background threads (default `WORKERS`). Each (run, view, method) has one `MapJob`, kept for
    the process, so a map is computed once per checkpoint; when a training run stores more
    checkpoints, its t-SNE goes on from the last map made. ``tsne`` overrides `TSNE_OPTIONS`.

    t-SNE is made one checkpoint at a time, the jobs asked for taking turns: two runs side by side
    both show their maps coming (each on its own worker when there are two). ``made`` lists each
    t-SNE checkpoint computed, in order, as (run, view, method, epoch); ``computed`` counts them
    (to see that the cache works). A run still training is read again only when it has taken a
    snapshot since (its stored progress says so), never on every poll.

    Example:
        >>> import os, tempfile
        >>> from explorer.engine.representations import Snapshot
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> run = store.create_run({})
        >>> store.set_probe(run, {"y": torch.arange(6) % 2})
        >>> for e in (0, 1): store.add_snapshot(run, Snapshot(e, 10 * e, {"layers.0": torch.randn(6, 4)}))
        >>> mapper = Mapper(store)
        >>> job = mapper.request(run, "layers.0", "pca")
        >>> job.done, job.epochs, job.at(0.5).shape
        (True, [0, 1], (6, 2))
        >>> mapper.close(); store.close()
    """

    def __init__(self, store: Store, workers: int | None = None, tsne: Mapping | None = None) -> None:
        self.store = store
        self.tsne = tsne_options(tsne)
        self.made: list[tuple[str, str, str, int]] = []
        self._jobs: dict[tuple, MapJob] = {}
        self._sources: dict[str, Source] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._queue: queue.Queue = queue.Queue()   # t-SNE jobs with a checkpoint still to make, in turn
        self._workers = WORKERS if workers is None else workers
        # Daemon threads: a t-SNE under way never holds up the server's exit.
        for i in range(self._workers):
            threading.Thread(target=self._work, name=f"explorer-maps-{i}", daemon=True).start()

    @property
    def computed(self) -> int:
        """t-SNE checkpoints computed so far."""
        return len(self.made)

    def close(self) -> None:
        """Stop after the checkpoint each worker is on; drop the work not yet started."""
        self._closed = True
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.queued = False
        for _ in range(self._workers):
            self._queue.put(None)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None or self._closed:
                return
            if self._step(job):
                self._queue.put(job)   # behind the other jobs: they take turns

    def _step(self, job: MapJob) -> bool:
        """Make the job's next t-SNE map; whether it has more to make."""
        try:
            with one_blas_thread():  # several maps at once: see explorer.views.blas_threads
                scaled, raw = next(job._todo)
        except Exception as err:  # shown on the page; the job keeps the maps made before
            job.error = f"{type(err).__name__}: {err}"
            job.queued = False
            return False
        if self._closed:
            return False
        job.raw_last = raw
        job.add(scaled)
        self.made.append((*job.key, job.epochs[job.ready - 1]))
        with self._lock:
            job.queued = job.ready < job.total
            return job.queued

    def source(self, run_id: str) -> Source:
        """The run's config, snapshots and probe, read again when a run in training has taken more
        snapshots (checked at most every `REFRESH_S` s) or has ended."""
        with self._lock:
            found = self._sources.get(run_id)
        if found is not None and not self._stale(found):
            return found
        fresh = _read(self.store, run_id)
        if found is not None:
            fresh._per_digit = found._per_digit  # by step: still right
        with self._lock:
            self._sources.pop(run_id, None)
            self._sources[run_id] = fresh
            while len(self._sources) > MAX_SOURCES:
                self._sources.pop(next(iter(self._sources)))
        return fresh

    def _stale(self, found: Source) -> bool:
        if found.status not in ACTIVE or time.monotonic() - found.read < REFRESH_S:
            return False
        info = self.store.get_run(found.run_id)
        found.read = time.monotonic()
        return info.status != found.status or _due(info) > len(found.snapshots)

    def checkpoints(self, source: Source, view: str) -> list[Snapshot]:
        """The snapshots of ``view``: every snapshot for a layer; for a per-digit view, those taken
        where the store also holds the run's weights (usually the end of training)."""
        if view in source.layers:
            return list(source.snapshots)
        if view not in views(source):
            raise ConfigError(f"view: {view!r} is not a map this run offers ({', '.join(views(source)) or 'none'})",
                              field="view")
        first = source.layers[0]
        stored = set(self.store.checkpoint_steps(source.run_id))
        out = []
        for s in source.snapshots:
            if s.step not in stored:
                continue
            if s.step not in source._per_digit:
                weight = self.store.checkpoint(source.run_id, s.step)[first + ".weight"]
                parts = per_digit_layers(weight, source.probe["x"], source.slots, first)
                source._per_digit[s.step] = Snapshot(s.epoch, s.step, parts)
            out.append(source._per_digit[s.step])
        return out

    def request(self, run_id: str, view: str, method: str = "pca") -> MapJob:
        """The `MapJob` of the run's ``view`` by ``method`` ("pca" or "tsne"): PCA maps are made
        before this returns; t-SNE maps are started (or continued) in the background and appear
        in the job as each checkpoint is done."""
        if method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}; got {method!r}", field="method")
        snaps = self.checkpoints(self.source(run_id), view)
        key, epochs, steps = (run_id, view, method), [s.epoch for s in snaps], [s.step for s in snaps]
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and (job.total >= len(snaps) or job.running):
                return job
        mats = snapshot_matrices([s.layers[view] for s in snaps]) if snaps else []
        if method == "pca":
            job = MapJob(key, epochs, steps)
            for coords in embed(mats, "pca", seed=int(self.tsne["seed"])) if mats else []:
                job.add(coords)
            with self._lock:
                self._jobs[key] = job
            return job
        with self._lock:
            if job is None:
                job = self._jobs[key] = MapJob(key, epochs, steps)
            elif job.running:  # asked for twice at once: the first asking queued it
                return job
            job.epochs, job.steps, job.error = epochs, steps, None  # more checkpoints: on from the last map
            job._todo = tsne_steps(mats[job.ready:], job.raw_last, **self.tsne)
            job.queued = job.ready < job.total
        if job.queued:
            self._queue.put(job)
        return job


# ----------------------------------------------------------------------------------------------
# What one map shows at the slider's epoch, and how it is drawn

MARGIN = 0.04   # of the points' extent, on each side of a map's frame


def epoch_text(epoch: float) -> str:
    """An epoch as the page writes it: whole epochs without decimals.

    Example:
        >>> epoch_text(10.0), epoch_text(4.25), epoch_text(0.30000000000000004)
        ('10', '4.25', '0.3')
    """
    return f"{round(float(epoch), 2):g}"


def view_label(view: str) -> str:
    """A view in the page's words: "layers.0 · digit 1 alone" is "hidden layer 1 · digit 1 alone".

    Example:
        >>> view_label("layers.1"), view_label("layers.0" + ALONE.format(2))
        ('hidden layer 2', 'hidden layer 1 · digit 2 alone')
    """
    layer, _, rest = view.partition(" · ")
    return layer_label(layer) + (f" · {rest}" if rest else "")


def shown_at(job: MapJob, epoch: float) -> tuple[np.ndarray, float, str]:
    """What the job's map shows at the slider's ``epoch``: (points, the epoch they are at, a line
    saying which checkpoint that is). Between two checkpoints the points lie between their maps;
    an epoch with no map ready yet shows the nearest ready one, and the line says so plainly.

    Example:
        >>> job = MapJob(("r", "l", "tsne"), [0, 2, 4], [0, 20, 40])
        >>> job.add(np.zeros((1, 2))); job.add(np.ones((1, 2)))
        >>> [shown_at(job, e)[1:] for e in (1, 2, 4)]      # doctest: +NORMALIZE_WHITESPACE
        [(1.0, 'between the checkpoints at epochs 0 and 2'), (2.0, 'checkpoint 2 of 3'),
         (2.0, 'epoch 4 not computed yet, showing epoch 2 (2 of 3 maps ready)')]
    """
    ready = job.ready
    if ready == 0:
        raise LookupError(f"no map of {job.key[1]} is ready yet")
    epochs = job.epochs[:ready]
    position = float(np.interp(epoch, epochs, np.arange(ready)))
    shown = job.epoch_at(position)
    if abs(shown - epoch) < 1e-9:
        if position == int(position):
            line = f"checkpoint {int(position) + 1} of {job.total}"
        else:
            low = int(position)
            line = f"between the checkpoints at epochs {epochs[low]} and {epochs[low + 1]}"
    elif epoch > shown and ready < job.total and epoch <= job.epochs[-1] + 1e-9:
        line = (f"epoch {epoch_text(epoch)} not computed yet, showing epoch {epoch_text(shown)} "
                f"({ready} of {job.total} maps ready)")
    else:
        which = "last" if epoch > shown else "first"
        line = f"no map at epoch {epoch_text(epoch)}: showing this run's {which}, epoch {epoch_text(shown)}"
    return job.at(position), shown, line


def frame(coords: np.ndarray, margin: float = MARGIN) -> tuple[list[float], list[float]]:
    """The x and y domains that fit the points with equal aspect: both as wide as the points'
    larger extent (plus ``margin`` of it each side), centred on the points, so a square chart is
    filled along that axis, as TensorBoard's projector frames its points. No points: -1 to 1.

    Example:
        >>> frame(np.array([[0.0, 0.0], [10.0, 2.0]]), margin=0.1)
        ([-1.0, 11.0], [-5.0, 7.0])
        >>> frame(np.zeros((0, 2)))
        ([-1.0, 1.0], [-1.0, 1.0])
    """
    coords = np.asarray(coords, dtype=np.float64)
    if len(coords) == 0:
        return [-1.0, 1.0], [-1.0, 1.0]
    low, high = coords.min(0), coords.max(0)
    span = float((high - low).max())
    half = (span if span > 0 else 1.0) * (0.5 + margin)
    centre = (low + high) / 2
    return [float(centre[0] - half), float(centre[0] + half)], [float(centre[1] - half), float(centre[1] + half)]


def map_chart(table: pd.DataFrame, *, color: str, title: str, subtitle: str = "", warn: bool = False,
              size: int = 420):
    """One map as a square Altair chart, ``size`` pixels wide, its axes fitted to its points (`frame`),
    points coloured by the column ``color``; an interval selection named "brush" picks an area (the
    mouse wheel over it scrolls the page). ``warn`` colours the ``subtitle`` (the line of
    `shown_at`) when the map is not the slider's epoch.

    Example:
        >>> t = points(np.array([[0.0, 0.0], [4.0, 1.0]]), {"class": np.array(["0", "1"])})
        >>> spec = map_chart(t, color="class", title="BP").to_dict()
        >>> [round(v, 2) for v in spec["encoding"]["x"]["scale"]["domain"]], spec["width"] == spec["height"]
        ([-0.16, 4.16], True)
    """
    import altair as alt

    from explorer.views.charts import class_scale

    if color not in table.columns:
        raise ValueError(f"color must be a column of the table ({', '.join(map(str, table.columns))}), got {color!r}")
    xs, ys = frame(table[["x", "y"]].to_numpy())
    heading = alt.TitleParams(title, subtitle=subtitle or alt.Undefined, anchor="start",
                              subtitleColor="#b35806" if warn else "#555555")
    return alt.Chart(table).mark_circle(size=16, opacity=0.8).encode(
        x=alt.X("x:Q", scale=alt.Scale(domain=xs, nice=False, zero=False), axis=None),
        y=alt.Y("y:Q", scale=alt.Scale(domain=ys, nice=False, zero=False), axis=None),
        color=alt.Color(f"{color}:N", title=color, scale=class_scale(table[color])),
        tooltip=[c for c in ("index", color) if c in table.columns],
    ).properties(width=size, height=size, title=heading).add_params(
        # no wheel zoom: a wheel over a brushed map scrolls the page, it does not resize the brush
        alt.selection_interval(name="brush", zoom=False))


class RunMap(NamedTuple):
    """One run's map as drawn: its tidy ``table`` (`points`), the ``chart`` (`map_chart`) and the
    ``colour`` (the column) its points are coloured by."""

    table: pd.DataFrame
    chart: object
    colour: str


def run_map(job: MapJob, probe: Mapping[str, torch.Tensor], *, label: str, colour: str | None, epoch: float,
            size: int = 420) -> RunMap:
    """The run's map at the slider's ``epoch``, as the Representations page and the notebook's
    `EmbeddingWidget` both draw it: the points of `shown_at`, coloured by ``colour`` (one of
    `colours`; another, or None, gives the first), titled with the run's ``label``, the view, the
    method and the epoch on screen, with `shown_at`'s line under it (in orange when the map is not
    at ``epoch``).

    Example:
        >>> job = MapJob(("r", "layers.1", "pca"), [0, 2], [0, 20])
        >>> job.add(np.zeros((2, 2))); job.add(np.eye(2))
        >>> drawn = run_map(job, {"y": torch.tensor([0, 1])}, label="BP", colour=None, epoch=2)
        >>> drawn.colour, drawn.chart.to_dict()["title"]["text"], drawn.table["class"].tolist()
        ('class', 'BP · hidden layer 2 · PCA · epoch 2', ['0', '1'])
    """
    colouring = colours(probe)
    colour = colour if colour in colouring else next(iter(colouring))
    coords, shown, line = shown_at(job, epoch)
    table = points(coords, colouring)
    title = f"{label} · {view_label(job.key[1])} · {METHODS[job.key[2]]} · epoch {epoch_text(shown)}"
    chart = map_chart(table, color=colour, title=title, subtitle=line, warn=abs(shown - epoch) > 1e-9, size=size)
    return RunMap(table, chart, colour)


def job_lines(job: MapJob, label: str) -> list[tuple[str, str]]:
    """What to say of how the run's maps are coming, as (kind, text): kind "error" (the computation
    failed), "info" (nothing to draw yet) or "note" (some maps still to come); none once all are
    made.

    Example:
        >>> job = MapJob(("r", "layers.0", "tsne"), [0, 1], [0, 10])
        >>> job_lines(job, "BP")
        [('info', 't-SNE of BP: computing in the background (0 of 2 checkpoints)…')]
        >>> job.add(np.zeros((1, 2))); job_lines(job, "BP")
        [('note', 't-SNE: 1 of 2 checkpoints ready; the rest are being computed in the background.')]
    """
    name = METHODS[job.key[2]]
    out = [("error", f"{name} of {label} failed: {job.error}")] if job.error else []
    if job.total == 0:
        out.append(("info", "This view needs the run's weights at a checkpoint; the run keeps them at the end "
                            "of training."))
    elif job.done:
        pass
    elif job.ready == 0:
        out.append(("info", f"{name} of {label}: computing in the background (0 of {job.total} checkpoints)…"))
    else:
        out.append(("note", f"{name}: {job.ready} of {job.total} checkpoints ready; the rest are being computed "
                            "in the background."))
    return out


_shared: dict[tuple, Mapper] = {}
_shared_lock = threading.Lock()


def shared(store: Store, tsne: Mapping | None = None) -> Mapper:
    """The process's `Mapper` on ``store`` (one per store file and t-SNE options, `tsne_options`),
    made on first use.

    Example:
        >>> import os, tempfile
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> shared(store) is shared(store), shared(store) is shared(store, {"n_iter": 50})
        (True, False)
    """
    options = tsne_options(tsne)
    key = (os.path.abspath(os.fspath(store.path)), tuple(sorted(options.items())))
    with _shared_lock:
        if key not in _shared or _shared[key].store is not store:
            if key in _shared:
                _shared[key].close()  # a store opened again: the old maps go with the old store
            _shared[key] = Mapper(store, tsne=options)
        return _shared[key]


__all__ = ["MapJob", "Mapper", "Source", "RunMap", "colours", "points", "brush_of", "inside", "sample_images",
           "sample_features", "per_digit_layers", "views", "tsne_steps", "tsne_options", "shared", "METHODS",
           "shown_at", "frame", "map_chart", "run_map", "job_lines", "view_label", "epoch_text"]
