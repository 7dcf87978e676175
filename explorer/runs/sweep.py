"""Many runs at once: every combination of a grid, for every seed, as tidy tables.

`sweep` returns the long table (one row per run, epoch and metric), a summary with the mean and
95% confidence interval per epoch, and, when the grid varies the learning rate, the thesis's
learning-rate choice: for each setting, the lr whose runs have the best mean test accuracy over the
last 10 epochs.

Example:
    >>> result = sweep({"model": {"hidden": [16]}, "train": {"epochs": 2}, "device": "cpu"},
    ...                grid={"algorithm.name": ["bp", "dfa"]}, seeds=2, progress=False)
    >>> len(result.table) == 2 * 2 * 2 * len(METRICS)  # rules × seeds × epochs × metrics
    True
    >>> sorted(result.summary.columns)[:3]
    ['algorithm.name', 'ci95', 'epoch']
"""

from __future__ import annotations

import contextlib
import itertools
import math
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import pandas as pd
from scipy import stats

from explorer.config import ConfigError, RunConfig
from explorer.config.schema import changed
from explorer.runs.sweep_groups import GROUP_LABEL
from explorer.engine.trainer import TrainResult

METRICS = ("train_loss", "train_acc", "test_loss", "test_acc")
LAST_EPOCHS = 10  # the window over which learning rates are compared (the thesis's choice)


@dataclass
class SweepResult:
    table: pd.DataFrame          # run, seed, <grid keys>, status, epoch, metric, value
    summary: pd.DataFrame        # <grid keys>, epoch, metric, mean, std, n, ci95, low, high
    best_lr: pd.DataFrame | None  # <other grid keys>, optimizer.lr, score (None if lr is not swept)
    grid_keys: list[str]


def expand(base: RunConfig | Mapping, grid: Mapping[str, Sequence[Any]],
           seeds: int | Sequence[int] = 3) -> list[tuple[dict, RunConfig]]:
    """Every (grid point, config) pair, seeds innermost, all validated before anything runs.

    Each point is applied to ``base`` as written (`schema.changed`), so a dict base that gives the
    options of several rules serves a grid over ``algorithm.name``: each rule keeps its own options
    and ignores the others (a `RunConfig` base holds only its own rule's).

    Example:
        >>> pairs = expand({"device": "cpu"}, {"optimizer.lr": [0.1, 0.01]}, seeds=[5, 6])
        >>> [(p["optimizer.lr"], c.seed) for p, c in pairs]
        [(0.1, 5), (0.1, 6), (0.01, 5), (0.01, 6)]
        >>> base = {"algorithm": {"name": "dfa", "block_size": 2, "bp_depth": 1}}
        >>> [c.to_dict()["algorithm"] for _, c in expand(base, {"algorithm.name": ["dfa", "bdfa", "fp"]}, seeds=1)]
        [{'name': 'dfa'}, {'name': 'bdfa', 'block_size': 2}, {'name': 'fp', 'bp_depth': 1}]
    """
    written = base.to_dict() if isinstance(base, RunConfig) else base
    base = base if isinstance(base, RunConfig) else RunConfig.from_dict(base)
    if not isinstance(grid, Mapping) or not grid:
        raise ConfigError("grid must map dotted config keys to lists of values, e.g. {\"optimizer.lr\": [0.1, 0.01]}",
                          field="grid")
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ConfigError(f"grid[{key!r}] must be a non-empty list of values, got {values!r}", field=f"grid[{key!r}]")
        if key == "seed":
            raise ConfigError("grid['seed']: give seeds with the seeds argument, not in the grid", field="grid['seed']")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ConfigError(f"seeds must be at least 1, got {seeds}", field="seeds")
        seeds = [base.seed + i for i in range(seeds)]
    pairs = []
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid.keys(), values))
        for seed in seeds:
            try:
                cfg = RunConfig.from_dict(changed(written, {**point, "seed": seed}))
            except ConfigError as err:
                raise ConfigError(f"grid point {point}: {err}", field=err.field) from err
            pairs.append((point, cfg))
    return pairs


Progress = Callable[[float], None]  # called with the epochs just trained (a fraction: steps count)


BACKENDS = ("local", "ray")


def sweep(base: RunConfig | Mapping, grid: Mapping[str, Sequence[Any]], seeds: int | Sequence[int] = 3, *,
          progress: bool | Progress = True, batch_seeds: bool = True,
          on_run: Callable[[dict, TrainResult], None] | None = None, backend: str = "local",
          store=None, ray=None, stop: threading.Event | None = None) -> SweepResult:
    """Run every combination of ``grid`` for every seed; see the module docstring. With
    ``batch_seeds`` the seeds of each grid point train together as one stacked network where the
    network allows it (`seeds.stackable`), and one by one otherwise; the numbers are the same.

    ``backend``: "local" trains here, one grid point after another; "ray" sends each grid point
    (with its stacked seeds) to a Ray cluster as one task (``ray``: `cluster.RayOptions`, default a
    local Ray instance), and this process writes what the workers send. Both give the same records.
    ``store`` (a `Store` or a path): the runs go into it as they train, one group per seed, to be
    followed on the Runs page or with ``runs list``; None keeps them in memory only. Setting
    ``stop`` ends the sweep early: the runs in flight and those not started are ``cancelled``.

    ``progress``: True draws a bar on standard error, counting the epochs of every run (a run of 20
    epochs adds 20, step by step as it trains) or, on Ray, the runs finished; a function is called
    instead with each step's share of an epoch (on Ray: a finished run's epochs); False reports nothing.
    ``on_run(point, result)`` is called as each run ends, with a `TrainResult` holding its records.

    Example:
        >>> trained = []
        >>> _ = sweep({"model": {"hidden": [8]}, "train": {"epochs": 2}, "device": "cpu"},
        ...           {"optimizer.lr": [0.1]}, seeds=1, progress=trained.append)
        >>> len(trained) > 2, round(sum(trained), 6)   # many steps, two epochs in all
        (True, 2.0)
    """
    from explorer.runs.recorder import Recorder, RecorderSink
    from explorer.runs.store import Store, new_id
    from explorer.runs.tasks import stacks, train_task

    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}", field="backend")
    if ray is not None and backend != "ray":
        raise ConfigError("ray: Ray options go with backend='ray'", field="ray")
    pairs = expand(base, grid, seeds)
    session = contextlib.nullcontext()
    if backend == "ray":
        from explorer.runs.cluster import RayOptions, ray_session

        ray = RayOptions() if ray is None else ray
        if not isinstance(ray, RayOptions):
            raise ConfigError(f"ray must be a RayOptions, got {type(ray).__name__}", field="ray")
        session = ray_session(ray)  # reached before any run is stored: an address that fails leaves nothing
    with session:
        owned = store is not None and not isinstance(store, Store)
        store = Store(store) if owned else store
        try:
            recorder = Recorder(store)
            tasks, made = [], {}  # made: run id -> (grid point, config)
            groups: dict[int, str] = {}
            label = GROUP_LABEL + " × ".join(grid)
            for point, cfgs in _by_point(pairs):
                runs = []
                for cfg in cfgs:
                    if store is not None and cfg.seed not in groups:
                        groups[cfg.seed] = store.create_group(cfg.seed, label)
                    run = store.create_run(cfg, group=groups[cfg.seed]) if store is not None else new_id()
                    recorder.add_run(run)
                    made[run] = (point, cfg)
                    runs.append((run, cfg))
                together = batch_seeds and stacks(cfgs)
                tasks.extend([runs] if together else [[r] for r in runs])

            def ended(run: str) -> None:
                if on_run is not None:
                    point, cfg = made[run]
                    end, records = recorder.ended[run], recorder.records[run]
                    on_run(point, TrainResult(end.status, end.diverged_at, records, records[-1] if records else {},
                                              cfg, reason=end.reason))

            if backend == "ray":
                _on_ray(tasks, recorder, ray, stop, progress, ended)
            else:
                bar = progress_bar(epochs_in(pairs), "sweep") if progress is True else None
                report = bar.update if bar is not None else (progress or None)
                for i, runs in enumerate(tasks):
                    if stop is not None and stop.is_set():
                        for run, _ in runs:
                            recorder.fail(run, "cancelled")
                        continue
                    epochs = RunEpochs(report, sum(c.train.epochs for _, c in runs)) if report is not None else None
                    for end in train_task(runs, RecorderSink(recorder, stop), task=f"point-{i}", checkpoint_every=None,
                                          progress=epochs):
                        recorder.end(end)
                        ended(end.run)
                    if epochs is not None:
                        epochs.finish()
                if bar is not None:
                    close_bar(bar)
        finally:
            if owned:
                store.close()
    rows: list[dict] = []
    for i, (run, (point, cfg)) in enumerate(made.items()):
        status = recorder.ended[run].status
        for record in recorder.records[run]:
            if float(record["epoch"]).is_integer():  # epoch ends
                for metric in METRICS:
                    rows.append({"run": i, "seed": cfg.seed, **point, "status": status,
                                 "epoch": int(record["epoch"]), "metric": metric, "value": record[metric]})
    keys = list(grid)
    table = pd.DataFrame(rows, columns=["run", "seed", *keys, "status", "epoch", "metric", "value"])
    best = select_lr(table, keys) if "optimizer.lr" in keys else None
    return SweepResult(table, summarise(table, keys), best, keys)


def _on_ray(tasks: list[list], recorder, options, stop, progress, ended: Callable[[str], None]) -> None:
    """The sweep's tasks on Ray (`cluster.run_tasks`), with a bar counting finished runs."""
    from explorer.runs.cluster import Task, run_tasks

    epochs = {run: cfg.train.epochs for runs in tasks for run, cfg in runs}
    bar = None
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=len(epochs), desc="sweep on Ray", file=sys.stderr, dynamic_ncols=True, unit="run")

    def on_end(run: str, status: str) -> None:
        ended(run)
        if bar is not None:
            bar.update(1)
        elif callable(progress):
            progress(float(epochs[run]))

    try:
        run_tasks([Task(f"point-{i}", runs) for i, runs in enumerate(tasks)], recorder, options, stop=stop,
                  on_end=on_end)
    finally:
        if bar is not None:
            bar.close()


def epochs_in(pairs) -> int:
    """The epochs all these (grid point, config) pairs train: the length of a progress bar.

    Example:
        >>> epochs_in(expand({"train": {"epochs": 4}}, {"optimizer.lr": [0.1, 0.01]}, seeds=3))
        24
    """
    return sum(cfg.train.epochs for _, cfg in pairs)


class RunEpochs:
    """A trainer's ``progress(step, total steps)`` as ``report(epochs trained since the last call)``,
    for a run (or stacked seeds) of ``epochs`` epochs in all. `finish` reports what a run that
    stopped early (diverged) left untrained, so that a count over many runs reaches its total.

    Example:
        >>> told = []
        >>> run = RunEpochs(told.append, 2)
        >>> run(1, 4); run(2, 4); run.finish()
        >>> told
        [0.5, 0.5, 1.0]
    """

    def __init__(self, report: Progress, epochs: int) -> None:
        self.report, self.epochs, self.done = report, epochs, 0.0

    def __call__(self, step: int, steps: int) -> None:
        now = self.epochs * step / steps
        self.report(now - self.done)
        self.done = now

    def finish(self) -> None:
        if self.done < self.epochs:
            self.report(self.epochs - self.done)
            self.done = float(self.epochs)


def progress_bar(epochs: int, desc: str):
    """A tqdm bar on standard error counting ``epochs`` of training, with one decimal (steps move it)."""
    from tqdm import tqdm

    return tqdm(total=epochs, desc=desc, file=sys.stderr, dynamic_ncols=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.0f} epochs "
                           "[{elapsed}<{remaining}]")


def close_bar(bar) -> None:
    """Close a `progress_bar` whose runs have all ended: it shows its whole count (the steps' shares
    of an epoch, added as floats, can sum to a hair under it)."""
    bar.n = bar.total
    bar.close()


def _by_point(pairs):
    """(grid point, [its configs, one per seed]) in order."""
    for point, group in itertools.groupby(pairs, key=lambda pair: tuple(pair[0].items())):
        yield dict(point), [cfg for _, cfg in group]


def summarise(table: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Mean, standard deviation, count and the 95% confidence interval (Student's t) of each metric
    per grid point and epoch, across seeds.

    Example:
        >>> t = pd.DataFrame({"rule": ["a"] * 3, "epoch": [1] * 3, "metric": ["acc"] * 3, "value": [1.0, 2.0, 3.0]})
        >>> row = summarise(t, ["rule"]).iloc[0]
        >>> round(float(row["mean"]), 3), round(float(row["ci95"]), 3)   # t(0.975, 2) * 1 / sqrt(3)
        (2.0, 2.484)
    """
    groups = table.groupby([*keys, "epoch", "metric"], sort=False)["value"]
    out = groups.agg(["mean", "std", "count"]).reset_index().rename(columns={"count": "n"})
    out["ci95"] = [
        stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n) if n > 1 else math.nan
        for n, sd in zip(out["n"], out["std"])
    ]
    out["low"], out["high"] = out["mean"] - out["ci95"], out["mean"] + out["ci95"]
    return out


def select_lr(table: pd.DataFrame, keys: Sequence[str], last: int = LAST_EPOCHS) -> pd.DataFrame:
    """For each setting of the other grid keys, the lr whose runs have the best mean test accuracy
    over the last ``last`` epochs (mean over seeds and epochs).

    Example:
        >>> t = pd.DataFrame({"algorithm.name": ["bp"] * 4, "optimizer.lr": [0.1, 0.1, 0.01, 0.01],
        ...                   "epoch": [1, 2, 1, 2], "metric": ["test_acc"] * 4, "value": [0.5, 0.6, 0.7, 0.8]})
        >>> float(select_lr(t, ["algorithm.name", "optimizer.lr"]).iloc[0]["optimizer.lr"])
        0.01
    """
    others = [k for k in keys if k != "optimizer.lr"]
    acc = table[table["metric"] == "test_acc"]
    final_epoch = acc["epoch"].max()
    window = acc[acc["epoch"] > final_epoch - last]
    scores = window.groupby([*others, "optimizer.lr"], sort=False)["value"].mean().reset_index(name="score")
    if not others:
        return scores.loc[[scores["score"].idxmax()]].reset_index(drop=True)
    best = scores.loc[scores.groupby(others, sort=False)["score"].idxmax()]
    return best.reset_index(drop=True)
