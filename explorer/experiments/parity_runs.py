"""The parity experiment as background runs (the Parity page and `ParityWidget`): `start` submits a
`ParitySetup`'s runs to a workspace's job manager, one stored group per seed; `follow` reads them
back as `ParityRuns`, incrementally while they train: `ParityRuns.band` for the chart,
`ParityRuns.final` for the table (`explorer.experiments.parity_table.final_table`, the same table
the command line prints), `ParityRuns.references` for the published values.

Example:
    >>> import os, tempfile
    >>> with Workspace(os.path.join(tempfile.mkdtemp(), "runs.sqlite")) as ws:
    ...     setup = ParitySetup(k=1, rules=("bp",), seeds=2, epochs=1, train_samples=64, test_samples=64,
    ...                         hidden=8, device="cpu")
    ...     handles = start(ws, setup)
    ...     found = follow(ws, groups_of(handles))
    ...     found.wait(timeout=60)
    >>> [(h.config.seed, h.status) for h in handles], found.labels, int(found.final()["n"].iloc[0])
    ([(0, 'done'), (1, 'done')], ['BP'], 2)
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import pandas as pd

from explorer.experiments.parity import ParitySetup, published_values, series_of
from explorer.experiments.parity_table import Series, final_table
from explorer.runs.jobs import RunHandle
from explorer.runs.store import RunInfo
from explorer.runs.workspace import Comparison, Followed, Workspace
from explorer.views import frames


def start(workspace: Workspace, setup: ParitySetup) -> list[RunHandle]:
    """Submit every run of ``setup`` to ``workspace``'s job manager (rule by rule, seed by seed);
    their handles. The runs of one seed form a group (the store keeps one seed per group: they
    start from the same forward weights and see the same minibatches; `groups_of` names them).
    Nothing is submitted if the setup has a problem (`ConfigError` names the field)."""
    configs = setup.configs()
    groups = {}
    for cfg in configs:
        if cfg.seed not in groups:
            groups[cfg.seed] = workspace.store.create_group(
                cfg.seed, f"{setup.label} · seed {cfg.seed - setup.first_seed + 1} of {setup.seeds}")
    return [workspace.jobs.submit(cfg, group=groups[cfg.seed]) for cfg in configs]


def groups_of(handles: Sequence[RunHandle]) -> list[str]:
    """The groups of ``handles`` (from `start`), once each, in order: what `follow` and a link take."""
    return list(dict.fromkeys(h.group for h in handles))


def follow(workspace: Workspace, groups: Sequence[str]) -> ParityRuns:
    """The runs of an experiment's ``groups`` (from `start`, or a link), read from ``workspace``'s
    store (`store.UnknownRun` if it has none of a group, `store.InvalidId` for a malformed id)."""
    return ParityRuns([workspace.comparison(g) for g in groups])


class ParityRuns:
    """A parity experiment read from the store: ``parts`` are its groups (one `Comparison` per
    seed, from `follow`) or any stored runs followed together (`runs.Followed`). One *series* per
    rule × optimiser (`parity.series_of`), each a list of runs over seeds.

    Example:
        >>> import os, tempfile
        >>> with Workspace(os.path.join(tempfile.mkdtemp(), "runs.sqlite")) as ws:
        ...     setup = ParitySetup(k=1, rules=("bp", "rf:linear"), optimizers={"sgd": 0.5, "adam": 0.01}, seeds=2,
        ...                         epochs=2, train_samples=256, test_samples=256, hidden=16, device="cpu")
        ...     found = follow(ws, groups_of(start(ws, setup)))
        ...     found.wait(timeout=60)
        ...     band = found.band()
        >>> found.labels, found.k, len(found.groups)   # one group per seed
        (['BP · sgd 0.5', 'BP · adam 0.01', 'RF linear · sgd 0.5', 'RF linear · adam 0.01'], 1, 2)
        >>> set(band.groupby("run")["n"].max()), sorted(set(band["epoch"]))
        ({2}, [1.0, 2.0])
        >>> found.references()["RF linear · adam 0.01"], found.final()["published"].tolist()
        (0.84, [0.985, 0.985, 0.84, 0.84])
    """

    def __init__(self, parts: Sequence[Followed]) -> None:
        self.parts = list(parts)
        pairs = [(c, i) for c in self.parts for i in range(len(c.configs))]
        cfgs = [c.configs[i] for c, i in pairs]
        if not cfgs or any(c.data.name != "parity" for c in cfgs):
            raise ValueError("these runs are not a parity experiment (their dataset is not 'parity')")
        self.k = cfgs[0].data.get("k", 3)
        self.base = cfgs[0].data.get("base", "mnist")
        self.groups = [c.group for c in self.parts if isinstance(c, Comparison)]
        self.configs = cfgs
        self._series: dict[Series, list[tuple[Followed, str]]] = {}
        for (part, i), series in zip(pairs, series_of(cfgs)):
            self._series.setdefault(series, []).append((part, part.labels[i]))
        self.labels = [s.label for s in self._series]

    def poll(self) -> int:
        """Read what is new in the store; the number of new records."""
        return sum(c.poll() for c in self.parts)

    @property
    def finished(self) -> bool:
        """Every run has its final status (as last polled)."""
        return all(c.finished for c in self.parts)

    @property
    def controllable(self) -> bool:
        """This process trains the runs still going, so `stop` reaches them (runs followed only to
        be read never are)."""
        return all(isinstance(c, Comparison) and c.controllable for c in self.parts)

    def stop(self) -> None:
        """Stop every run still going that this process trains (queued ones never start)."""
        for c in self.parts:
            if isinstance(c, Comparison) and not c.finished:
                c.stop()

    def wait(self, timeout: float | None = None) -> None:
        """Poll until every run is final (`TimeoutError` after ``timeout`` s)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for c in self.parts:
            c.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def _members(self):
        """(series, [(its run's info, its records) over the seeds]) for every series."""
        for series, members in self._series.items():
            yield series, [(part.infos[part.labels.index(label)], part.records[label]) for part, label in members]

    def infos(self) -> list[tuple[str, RunInfo]]:
        """(series label, run info) of every run, series by series."""
        return [(series.label, info) for series, members in self._members() for info, _ in members]

    def runs(self) -> dict[str, list[list[dict]]]:
        """Each series' runs (one list of records per seed), by label."""
        return {series.label: [records for _, records in members] for series, members in self._members()}

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
            ...     found = follow(ws, groups_of(start(ws, setup)))
            ...     found.wait(timeout=60)
            ...     seed2 = found.parts[1]   # seen as if it had not started yet
            ...     seed2.infos[0] = dataclasses.replace(seed2.infos[0], status="queued")
            ...     seed2.records[seed2.labels[0]].clear()
            ...     live = found.live_band()
            >>> live[["n", "low", "high"]].isna().values.tolist()   # one seed of two: no interval yet
            [[False, True, True]]
        """
        band = self.band(key)
        going = {series.label: sum(info.status in ("queued", "running", "paused", "done") for info, _ in members)
                 for series, members in self._members()}
        partial = (band["n"] < band["run"].map(going)).to_numpy()
        band.loc[partial, ["low", "high"]] = math.nan
        return band

    def references(self) -> dict[str, float]:
        """The published test accuracy of each series' rule at this k, where the literature has one."""
        return published_values(self.k, list(self._series))

    def progress(self) -> tuple[int, int]:
        """(training steps done, steps in all) over the runs. A run waiting for its turn does not
        know its steps yet (its trainer is built when it starts): it counts as many as the
        experiment's longest started run (its runs differ only in rule, optimiser and seed, so
        they take the same steps), so the total stays put and the bar only goes forward."""
        infos = [info for _, info in self.infos()]
        each = max((i.total_steps for i in infos if i.total_steps), default=0)
        return sum(i.steps_done or 0 for i in infos), sum(i.total_steps or each for i in infos)

    def counts(self) -> dict[str, int]:
        """How many runs have each status."""
        out: dict[str, int] = {}
        for _, info in self.infos():
            out[info.status] = out.get(info.status, 0) + 1
        return out

    def final(self) -> pd.DataFrame:
        """The final table (`parity_table.final_table`) of the records read so far: per series, the
        last epoch any of its runs reached, test accuracy there over the seeds that reached it
        (mean, std, ± 95% CI, n) and the published value."""
        return final_table(self.k, {series: [records for _, records in members]
                                    for series, members in self._members()})


__all__ = ["ParityRuns", "follow", "groups_of", "start"]
