"""The Playground's library: 2-D toy problems, one run per rule, and each run's decision boundary
repainted from its freshest weights while it trains.

- `PlaygroundSetup`: the page's choices (toy, noise, train share, network, rules, optimiser, …),
  checked field by field (`PlaygroundSetup.problems`: each problem under the control it is about,
  from the error's ``.field``, in the page's words) and turned into a comparison
  (`PlaygroundSetup.comparison`: a base config and one algorithm dict per rule, each rule's options
  at the registry's defaults).
- `Boundary`: a classifier of 2-D points evaluated on a grid over its data's extent: the tidy
  ``grid`` table (x, y, x2, y2, label, confidence) and the ``points`` table (x, y, label, split)
  that `explorer.views.charts.boundary_chart` draws. It takes a ``state_dict`` (a stored checkpoint)
  or a live model.
- `start`: trains a setup's rules on the process's shared workspace (the app's store and job
  manager), storing every run's weights at the end of every epoch (``checkpoint_every=1`` for
  these runs), so a page finds fresh weights in the store while the runs train, and a reload or
  another tab does too. `LiveBoundaries` follows a group of runs and recomputes a run's grid only when a newer
  checkpoint is there.

Why checkpoints rather than a callback into the trainer: the runs stay ordinary stored runs
(listed on the Runs page, found again after a reload, scrubbed through afterwards), no front end
reaches into a training thread, and it is cheap. Measured on this 2-core CPU (one PyTorch thread,
moons, 400 training points, MLP 16-16 tanh, batch 16): an epoch trains in ~35 ms, storing its
checkpoint (8 small tensors) takes ~1 ms (about 3% of the training time); a repaint of one run
(reading the checkpoint ~1.3 ms, a 40 × 40 grid through the network and into a table ~2 ms) costs
under 5 ms, so four boundaries redrawn twice a second take about 3% of one core.

Example:
    >>> setup = PlaygroundSetup(rules=("bp",), epochs=1)
    >>> base, rules = setup.comparison()
    >>> b = Boundary({**base, "algorithm": rules[0]}, resolution=10)
    >>> grid = b.grid()                      # the network's initial weights
    >>> len(grid), sorted(grid.columns)
    (100, ['confidence', 'label', 'x', 'x2', 'y', 'y2'])
    >>> b.points()["split"].value_counts().to_dict()   # a train share of 0.8 of 500 samples
    {'train': 400, 'test': 100}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from explorer.views.charts import SwapChart
from explorer.views.urlstate import located, parse_widths, plain, say
from explorer.config import ACTIVATIONS, OPTIMIZERS, ConfigError, RunConfig
from explorer.config.registry import OPTIONS, RULES, option_defaults
from explorer.data.toys import DEFAULT_NOISE, TOYS
from explorer.runs.workspace import MAX_RULES, Comparison, Workspace, comparison_configs

RESOLUTION = 40   # grid cells per side
MARGIN = 0.15     # the grid reaches this fraction of the data's span beyond it on every side
CLASS_TOYS = ("spiral", "gaussians")  # the toys that take a number of classes
GRID_COLUMNS = ["x", "y", "x2", "y2", "label", "confidence"]
POINT_COLUMNS = ["x", "y", "label", "split"]
MAX_LAYERS, MAX_UNITS = 8, 512   # the playground's networks are small: they train and repaint live
# Each control of the page: the config field it sets and its label (what problems are told in).
CONTROLS: dict[str, tuple[str, str]] = {
    "data": ("data.name", "dataset"), "noise": ("data.noise", "noise"), "train_share": ("data.test_fraction", "train share"),
    "samples": ("data.samples", "samples"), "classes": ("data.classes", "classes"),
    "hidden": ("model.hidden", "hidden widths"), "activation": ("model.activation", "activation"),
    "rules": ("rules", "rules"), "optimizer": ("optimizer.name", "optimiser"), "lr": ("optimizer.lr", "learning rate"),
    "batch_size": ("train.batch_size", "batch size"), "epochs": ("train.epochs", "epochs"),
    "seed": ("seed", "seed"), "device": ("device", "device"),
}
_CONTROL_OF = {field: key for key, (field, _) in CONTROLS.items()}
_CONTROL_OF.update({"data": "data", "optimizer": "optimizer", "algorithm": "rules", "train": "setup", "model": "hidden"})


# ----------------------------------------------------------------------------------------------
# The setup


@dataclass(frozen=True)
class PlaygroundSetup:
    """What the Playground page asks for. ``train_share`` is the fraction of the samples trained
    on (the rest are test points); ``hidden`` the hidden widths as text ("16,16"); ``rules`` one
    to four rule names; ``noise`` None takes the toy's default (`DEFAULT_NOISE`).

    Example:
        >>> problems = PlaygroundSetup(hidden="8,x", rules=()).problems()
        >>> problems["hidden"]
        "hidden widths must be whole numbers separated by commas, like 64,64, or 20x64 for 20 layers of 64; got '8,x'"
        >>> problems["rules"]
        'rules: choose at least one learning rule'
    """

    data: str = "moons"
    noise: float | None = None
    train_share: float = 0.8
    samples: int = 500
    classes: int = 2
    hidden: str = "16,16"
    activation: str = "tanh"
    rules: tuple[str, ...] = ("bp", "fa", "dfa")
    optimizer: str = "sgd"
    lr: float = 0.1
    batch_size: int = 16
    epochs: int = 100
    seed: int = 0
    device: str = "auto"
    extra: dict = field(default_factory=dict, compare=False)  # per-rule options, e.g. {"bdfa": {"block_size": 2}}

    def widths(self) -> list[int]:
        """The hidden widths (`explorer.views.urlstate.parse_widths`); a `ConfigError` about
        ``model.hidden`` if the text is not whole numbers, or not a small network."""
        widths = parse_widths(self.hidden)
        if any(w < 1 for w in widths):
            raise ConfigError(f"model.hidden: every layer needs at least 1 unit, got {self.hidden!r}", field="model.hidden")
        if len(widths) > MAX_LAYERS or any(w > MAX_UNITS for w in widths):
            raise ConfigError(f"model.hidden: the playground takes at most {MAX_LAYERS} layers of at most {MAX_UNITS} "
                              f"units, got {self.hidden!r}", field="model.hidden")
        return widths

    @classmethod
    def of(cls, configs: Sequence[RunConfig]) -> PlaygroundSetup:
        """The setup whose comparison is ``configs`` (a comparison's stored runs, oldest first), as the
        Playground's controls hold it (each rule's options at their defaults): the inverse of
        `comparison`. A `ConfigError` when the controls cannot hold it (a dataset that is not a 2-D
        toy, a rule's option away from its default, a setting the page has no control for).

        Example:
            >>> setup = PlaygroundSetup(data="circles", noise=0.1, hidden="8", rules=("bp", "dfa"), epochs=5)
            >>> PlaygroundSetup.of(comparison_configs(*setup.comparison())) == setup
            True
        """
        if not configs:
            raise ValueError("no configs to read a playground setup from")
        first = configs[0]
        data = first.data
        if first.model.name != "mlp" or data.name not in TOYS:
            raise ConfigError(f"the Playground cannot hold these runs' setup: it trains an MLP on a 2-D toy, not "
                              f"{first.model.name} on {data.name}", field="data.name")
        setup = cls(data=data.name, noise=data.get("noise"), train_share=round(1 - data.get("test_fraction", 0.2), 6),
                    samples=data.get("samples", cls.samples), classes=data.get("classes", cls.classes),
                    hidden=",".join(map(str, first.model.hidden or ())), activation=first.model.activation,
                    rules=tuple(c.algorithm.name for c in configs), optimizer=first.optimizer.name,
                    lr=first.optimizer.lr, batch_size=first.train.batch_size, epochs=first.train.epochs,
                    seed=first.seed, device=first.device or "auto")
        try:
            again = comparison_configs(*setup.comparison())
        except ConfigError as err:
            raise ConfigError(f"the Playground cannot hold these runs' setup: {err}", field=err.field) from err
        if [c.to_dict() for c in again] != [c.to_dict() for c in configs]:
            raise ConfigError("the Playground cannot hold these runs' setup: it has settings the page has no "
                              "control for", field="setup")
        return setup

    def _own_problems(self) -> dict[str, str]:
        """What the page itself refuses, by control: {control: the problem}."""
        out: dict[str, str] = {}
        if self.data not in TOYS:
            out["data"] = f"choose one of {', '.join(TOYS)}, got {self.data!r}"
        if self.noise is not None and not (isinstance(self.noise, (int, float)) and 0 <= self.noise <= 2):
            out["noise"] = f"must be between 0 and 2, got {self.noise!r}"
        if not 0.05 <= self.train_share <= 0.95:
            out["train_share"] = f"must be between 0.05 and 0.95, got {self.train_share!r}"
        if not 20 <= self.samples <= 20_000:
            out["samples"] = f"must be between 20 and 20,000, got {self.samples!r}"
        elif "train_share" not in out and round(self.samples * (1 - self.train_share)) < 1:
            out["train_share"] = "leaves no test points; lower it or add samples"
        if self.data in CLASS_TOYS and not 2 <= self.classes <= 10:
            out["classes"] = f"must be between 2 and 10, got {self.classes!r}"
        try:
            self.widths()
        except ConfigError as err:
            out["hidden"] = located(err)[2]
        if self.activation not in ACTIVATIONS:
            out["activation"] = f"choose one of {', '.join(ACTIVATIONS)}, got {self.activation!r}"
        rules = list(self.rules)
        if not rules:
            out["rules"] = "choose at least one learning rule"
        elif len(rules) > MAX_RULES:
            out["rules"] = f"at most {MAX_RULES} side by side, got {len(rules)}"
        elif len(set(rules)) < len(rules):
            out["rules"] = "each rule once"
        elif any(r not in RULES for r in rules):
            out["rules"] = f"unknown rule {next(r for r in rules if r not in RULES)!r}"
        if self.optimizer not in OPTIMIZERS:
            out["optimizer"] = f"choose one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            out["lr"] = f"must be greater than 0, got {self.lr!r}"
        if not 1 <= self.batch_size <= 4096:
            out["batch_size"] = f"must be between 1 and 4096, got {self.batch_size!r}"
        if not 1 <= self.epochs <= 5000:
            out["epochs"] = f"must be between 1 and 5000, got {self.epochs!r}"
        return out

    def comparison(self) -> tuple[dict, list[dict]]:
        """(base config dict, one algorithm dict per rule), every config validated; a `ConfigError`
        on the first problem, its ``.field`` the config field and its message in the page's words."""
        base, rules = self._unchecked()
        try:
            comparison_configs(base, rules)
        except ConfigError as err:
            raise ConfigError(self.explain(err)[1], field=err.field) from err
        return base, rules

    def _unchecked(self) -> tuple[dict, list[dict]]:
        """The comparison, before the config checks it (what the page itself refuses is refused)."""
        problems = self._own_problems()
        if problems:
            key, problem = next(iter(problems.items()))
            raise ConfigError(say(CONTROLS[key][1], problem), field=CONTROLS[key][0])
        data = {"name": self.data, "samples": int(self.samples), "test_fraction": round(1 - self.train_share, 6),
                "seed": int(self.seed)}
        if self.noise is not None:
            data["noise"] = float(self.noise)
        if self.data in CLASS_TOYS:
            data["classes"] = int(self.classes)
        optimizer = {"name": self.optimizer, "lr": float(self.lr)}
        base = {"data": data, "model": {"name": "mlp", "hidden": self.widths(), "activation": self.activation},
                "optimizer": optimizer,
                "train": {"epochs": int(self.epochs), "batch_size": int(self.batch_size)}, "seed": int(self.seed)}
        if self.device != "auto":
            base["device"] = self.device
        return base, [{"name": r, **option_defaults(r), **self.extra.get(r, {})} for r in self.rules]

    def problems(self) -> dict[str, str]:
        """Every problem in the page's words, keyed by the control it is about (``rules``, ``hidden``,
        ``lr``, …; ``setup`` for none of them); empty when the setup can start. A combination the
        config refuses (``ntk`` on two hidden layers) is placed by the error's ``.field``."""
        out = {key: say(CONTROLS[key][1], problem) for key, problem in self._own_problems().items()}
        if out:
            return out
        try:
            comparison_configs(*self._unchecked())
        except ConfigError as err:
            key, words = self.explain(err)
            out[key] = words
        return out

    def explain(self, err: ConfigError) -> tuple[str, str]:
        """(the control a `ConfigError` from `comparison_configs` is about, the error in the page's
        words), from its ``.field``: a rule's own setting is told as "rules (BDFA): …".

        Example:
            >>> setup = PlaygroundSetup(rules=("bp", "dfa"))
            >>> setup.explain(ConfigError("rules[1]: model.hidden: rule 'dfa' needs at least 1 hidden layer",
            ...                           field="rules[1].model.hidden"))
            ('hidden', "hidden widths: rule 'dfa' needs at least 1 hidden layer")
            >>> setup.explain(ConfigError("rules[1]: algorithm.name: 'dfa' …", field="rules[1].algorithm.name"))
            ('rules', "rules (DFA): 'dfa' …")
        """
        index, field, problem = located(err)
        problem = plain(problem, field)
        key, parent = None, field
        while key is None and parent:
            key = _CONTROL_OF.get(parent)
            parent = parent.rsplit(".", 1)[0] if "." in parent else ""
        key = key or "setup"
        label = CONTROLS[key][1] if key in CONTROLS else "setup"
        if key == "rules" and index is not None and index < len(self.rules) and self.rules[index] in RULES:
            label = f"rules ({RULES[self.rules[index]].label})"
            option = field[len("algorithm."):]
            if option in OPTIONS:
                problem = say(OPTIONS[option].label, problem)
        return key, say(label, problem)


# ----------------------------------------------------------------------------------------------
# The boundary


def extent(points: torch.Tensor, margin: float = MARGIN) -> tuple[float, float, float, float]:
    """A square (x0, x1, y0, y1) around ``points`` (N, 2): centred on their range, as wide as the
    wider axis plus ``margin`` of it on each side, so shapes keep their proportions.

    Example:
        >>> extent(torch.tensor([[0.0, 0.0], [2.0, 1.0]]), margin=0.5)
        (-1.0, 3.0, -1.5, 2.5)
    """
    low, high = points.min(0).values.tolist(), points.max(0).values.tolist()
    half = max(high[0] - low[0], high[1] - low[1], 1e-6) / 2 * (1 + 2 * margin)
    cx, cy = (low[0] + high[0]) / 2, (low[1] + high[1]) / 2
    return (cx - half, cx + half, cy - half, cy + half)


def predict(model: nn.Module, x: torch.Tensor, loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(labels, confidence) of ``model`` on ``x`` under the output convention of ``loss``:
    cross_entropy: argmax and the softmax probability of it; bce: the logit's sign and the
    sigmoid's probability of that side; mse: argmax and that output clipped to [0, 1].

    Example:
        >>> lin = nn.Linear(1, 1); _ = lin.weight.data.fill_(1.0); _ = lin.bias.data.zero_()
        >>> labels, conf = predict(lin, torch.tensor([[-2.0], [0.5]]), "bce")
        >>> labels.tolist(), [round(c, 3) for c in conf.tolist()]
        ([0, 1], [0.881, 0.622])
    """
    training = model.training
    model.eval()
    with torch.no_grad():
        out = model(x).float()
    model.train(training)
    if loss == "bce":
        p = torch.sigmoid(out.squeeze(-1))
        labels = (p > 0.5).long()
        return labels, torch.where(labels == 1, p, 1 - p)
    labels = out.argmax(-1)
    if loss == "cross_entropy":
        return labels, torch.softmax(out, -1).gather(-1, labels[:, None]).squeeze(-1)
    return labels, out.gather(-1, labels[:, None]).squeeze(-1).clamp(0, 1)


class Boundary:
    """One 2-D classifier's decision regions on a ``resolution`` × ``resolution`` grid over its
    data (train and test points) plus a `MARGIN`.

    ``config`` is the run's config (a `RunConfig` or its dict); the network is built from it on the
    CPU (initial weights: those of the run's first step). `grid` evaluates a ``state_dict`` (a
    checkpoint of the run), a live model, or the current weights.
    """

    def __init__(self, config: RunConfig | Mapping, resolution: int = RESOLUTION, margin: float = MARGIN) -> None:
        from explorer.engine.build import build

        if isinstance(resolution, bool) or not isinstance(resolution, int) or not 2 <= resolution <= 400:
            raise ValueError(f"resolution must be a whole number from 2 to 400, got {resolution!r}")
        self.config = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
        self.built = build(self.config, "cpu")
        data = self.built.data
        if data.input_shape != (2,) or data.regression:
            raise ValueError(f"a decision boundary needs a classifier of 2-D points; '{data.name}' has "
                             f"inputs shaped {data.input_shape}")
        self.extent = extent(torch.cat([data.x_train, data.x_test]), margin)
        x0, x1, y0, y1 = self.extent
        self.resolution = resolution
        xs, ys = np.linspace(x0, x1, resolution + 1), np.linspace(y0, y1, resolution + 1)
        gx, gy = np.meshgrid(np.arange(resolution), np.arange(resolution), indexing="xy")
        i, j = gx.ravel(), gy.ravel()
        self._cells = {"x": xs[i], "y": ys[j], "x2": xs[i + 1], "y2": ys[j + 1]}
        self.centres = torch.tensor(np.stack([(xs[i] + xs[i + 1]) / 2, (ys[j] + ys[j + 1]) / 2], 1),
                                    dtype=torch.float32)
        self.steps_per_epoch = data.num_train // min(self.config.train.batch_size, data.num_train)

    def points(self) -> pd.DataFrame:
        """The data: x, y, label and split ("train"/"test") per point, train points first."""
        d = self.built.data
        parts = [pd.DataFrame({"x": x[:, 0].numpy(), "y": x[:, 1].numpy(), "label": y.numpy(), "split": split})
                 for x, y, split in ((d.x_train, d.y_train, "train"), (d.x_test, d.y_test, "test"))]
        return pd.concat(parts, ignore_index=True)[POINT_COLUMNS]

    def load(self, state: Mapping[str, torch.Tensor]) -> None:
        """Put a ``state_dict`` (a checkpoint of the run) into this boundary's network."""
        self.built.model.load_state_dict(state)

    def grid(self, state: Mapping[str, torch.Tensor] | nn.Module | None = None) -> pd.DataFrame:
        """The grid table (x, y, x2, y2 of each cell, its predicted label and the confidence) for
        ``state``: a ``state_dict`` (loaded into this boundary's network first), a live model (on
        any device; evaluated as it is), or None (the weights it holds now)."""
        if isinstance(state, nn.Module):
            device = next(state.parameters()).device
            labels, confidence = predict(state, self.centres.to(device), self.config.train.loss)
        else:
            if state is not None:
                self.load(state)
            labels, confidence = predict(self.built.model, self.centres, self.config.train.loss)
        return pd.DataFrame({**self._cells, "label": labels.cpu().numpy(),
                             "confidence": confidence.cpu().numpy().astype(float)}, copy=False)

    def epoch_of(self, step: int) -> float:
        """The epoch reached at training ``step``.

        Example:
            >>> Boundary({"data": {"name": "xor", "samples": 100}, "train": {"batch_size": 20}}, 2).epoch_of(8)
            2.0
        """
        return step / self.steps_per_epoch


class BoundaryChart(SwapChart):
    """`charts.boundary_chart` as a `SwapChart`: a repaint costs well under a millisecond.

    The title goes into the spec's ``description`` (what screen readers announce), not onto the
    chart: an app that sizes a chart to its spec's height squeezes the square plot to make room
    for a drawn title, so show the title beside the chart.

    Example:
        >>> b = Boundary({"data": {"name": "xor", "samples": 40}}, resolution=4)
        >>> chart = BoundaryChart()
        >>> spec = chart.spec(b.grid(), b.points(), "BP")
        >>> sorted(len(t) for t in spec["datasets"].values()), spec["description"]
        ([16, 40], 'BP')
        >>> chart.spec(b.grid(), b.points().head(3), "BP · epoch 1")["description"]
        'BP · epoch 1'
    """

    def __init__(self, size: int = 240) -> None:
        from explorer.views.charts import boundary_chart

        super().__init__(lambda grid, points: boundary_chart(grid, points, size=size))

    def spec(self, grid: pd.DataFrame, points: pd.DataFrame, title: str = "") -> dict:  # type: ignore[override]
        """The regions of ``grid`` under ``points`` (tables as `Boundary` makes them)."""
        spec = super().spec(grid, points)
        spec.pop("title", None)
        spec["autosize"] = {"type": "pad"}  # the plot keeps its size; the frame grows around it
        spec["description"] = title
        return spec


# ----------------------------------------------------------------------------------------------
# Runs and live boundaries


CHECKPOINT_EVERY = 1  # epochs between the stored weights a boundary is repainted from


def start(setup: PlaygroundSetup, workspace: Workspace | None = None) -> Comparison:
    """Train ``setup``'s rules as one comparison on ``workspace`` (default: the process's shared
    one, `explorer.runs.workspace.workspace`), storing each run's weights every epoch to repaint from.

    Example:
        >>> import os, tempfile
        >>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> found = start(PlaygroundSetup(rules=("bp",), epochs=2, samples=100, device="cpu"), ws)
        >>> found.wait(timeout=60)
        >>> len(ws.store.checkpoint_steps(found.ids[0]))   # one per epoch
        2
        >>> ws.close()
    """
    from explorer.runs import workspace as runs

    base, rules = setup.comparison()
    return (workspace or runs.workspace()).compare(base, rules, label=f"playground {setup.data}",
                                                   checkpoint_every=CHECKPOINT_EVERY)


@dataclass
class Painted:
    """One run's latest boundary: its label, the step and epoch of the weights, the grid table."""

    label: str
    step: int | None   # None: the initial weights (no checkpoint stored yet)
    epoch: float
    grid: pd.DataFrame

    @property
    def title(self) -> str:
        """``BP · epoch 12``, or ``BP · initial weights`` before the first checkpoint."""
        return f"{self.label} · initial weights" if self.step is None else f"{self.label} · epoch {self.epoch:g}"


class LiveBoundaries:
    """The boundaries of a `Comparison`'s runs, from their latest stored checkpoints. `refresh`
    reads each run's checkpoint steps and recomputes a grid only when a newer one is there, so
    polling a run that has not moved costs one small query.

    Example:
        >>> import os, tempfile
        >>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "runs.sqlite"), checkpoint_every=1)
        >>> base, rules = PlaygroundSetup(rules=("bp", "dfa"), epochs=3, samples=100).comparison()
        >>> comparison = ws.compare({**base, "device": "cpu"}, rules)
        >>> comparison.wait(timeout=60)
        >>> live = LiveBoundaries(comparison, resolution=8)
        >>> [p.title for p in live.refresh()]
        ['BP · epoch 3', 'DFA · epoch 3']
        >>> ws.store.checkpoint_steps(comparison.ids[0]) == [5, 10, 15]   # 5 steps an epoch
        True
        >>> ws.close()
    """

    def __init__(self, comparison: Comparison, resolution: int = RESOLUTION) -> None:
        self.comparison = comparison
        self.boundaries = [Boundary(cfg, resolution) for cfg in comparison.configs]
        self.charts = [BoundaryChart() for _ in self.boundaries]
        self._points: pd.DataFrame | None = None
        self._train_points: pd.DataFrame | None = None
        self.painted = [Painted(label, None, 0.0, b.grid())
                        for label, b in zip(comparison.labels, self.boundaries)]
        self._pictures: dict[int, tuple[int | None, str]] = {}  # run index -> (its step, its picture)

    def points(self) -> pd.DataFrame:
        """The data of the runs (they share it: one seed, one toy)."""
        if self._points is None:
            self._points = self.boundaries[0].points()
        return self._points

    def refresh(self) -> list[Painted]:
        """Each run's boundary at its latest checkpoint (recomputed only where it is new)."""
        store = self.comparison.store
        for i, (run_id, boundary) in enumerate(zip(self.comparison.ids, self.boundaries)):
            steps = store.checkpoint_steps(run_id)
            if steps and steps[-1] != self.painted[i].step:
                grid = boundary.grid(store.checkpoint(run_id, steps[-1]))
                self.painted[i] = Painted(self.painted[i].label, steps[-1], boundary.epoch_of(steps[-1]), grid)
        return list(self.painted)

    def pictures(self, size: int = 240) -> list[str]:
        """Each run's latest boundary under the training points as an inline PNG (`paint.boundary_html`),
        painted again only when its boundary is new: the Playground's repaints while runs train."""
        from explorer.views.paint import boundary_html

        for i, p in enumerate(self.painted):
            cached = self._pictures.get(i)
            if cached is None or cached[0] != p.step:
                self._pictures[i] = (p.step, boundary_html(p.grid, self.train_points(), title=p.title, size=size))
        return [self._pictures[i][1] for i in range(len(self.painted))]

    def train_points(self) -> pd.DataFrame:
        """The points the runs train on (the boundaries are drawn under these)."""
        if self._train_points is None:
            everything = self.points()
            self._train_points = everything[everything["split"] == "train"].reset_index(drop=True)
        return self._train_points

    def specs(self, points: pd.DataFrame | None = None) -> list[dict]:
        """The Vega-Lite spec of each run's latest boundary (`BoundaryChart`) under ``points``
        (default: the training points), titled with the run and epoch."""
        if points is None:
            points = self.train_points()
        return [chart.spec(p.grid, points, p.title) for chart, p in zip(self.charts, self.painted)]


__all__ = ["PlaygroundSetup", "Boundary", "BoundaryChart", "LiveBoundaries", "Painted", "extent",
           "predict", "start", "CHECKPOINT_EVERY", "RESOLUTION", "MARGIN", "GRID_COLUMNS", "POINT_COLUMNS", "DEFAULT_NOISE", "TOYS"]
