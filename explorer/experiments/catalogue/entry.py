"""One published experiment as data: where it comes from, its exact setting, its runs, the
published values, the tolerance that counts as reproduced, and its smaller scales.

An `Entry` holds a ``setting`` (a RunConfig dict: the document's own, the ``full`` scale) and its
``runs`` (one per line of the published table: a label and the dotted changes that make that run,
e.g. ``{"algorithm.name": "dfa"}``). The ``classroom`` and ``smoke`` scales are more dotted changes,
applied to every run, with a sentence saying what they shrink. Folder datasets (MNIST, CIFAR-10, …)
are read from the data folder given when the entry is run, never from the entry.

Example:
    >>> entry = Entry(
    ...     "demo", "000_f576d27fd47a6f1f.txt", "Table 0", "BP against DFA",
    ...     {"model": {"hidden": [16]}, "train": {"epochs": 4}},
    ...     (Run("BP", {"algorithm.name": "bp"}), Run("DFA", {"algorithm.name": "dfa"})),
    ...     (Published("BP", "test_acc", 55.0), Published("DFA", "test_acc", 49.0, approx=True)),
    ...     tolerance=2.0, classroom=Scale({"train.epochs": 2}, "2 epochs instead of 4"),
    ...     smoke=Scale({"train.epochs": 1}, "1 epoch"))
    >>> [(label, cfg.algorithm.name, cfg.train.epochs) for label, cfg in entry.configs("classroom")]
    [('BP', 'bp', 2), ('DFA', 'dfa', 2)]
    >>> [p.text() for p in entry.published]
    ['55%', '≈49%']
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from explorer.config import ConfigError, RunConfig
from explorer.config.schema import changed
from explorer.experiments.measures import unit_of

SCALES = ("full", "classroom", "smoke")
FOLDER_DATASETS = ("mnist", "fashion_mnist", "kmnist", "notmnist", "cifar10", "parity")
LOWER_IS_BETTER = ("test_error", "train_error", "test_loss", "train_loss", "nse")


@dataclass(frozen=True)
class Published:
    """One published number: the run it belongs to, the metric (`measures.measure`, in its unit:
    % for accuracies and errors), and where in the run it was read.

    ``at`` is "final" (the last record), "best" (the best record: highest accuracy, lowest
    error or loss; the thesis's "Best Test Accuracy"), or an epoch number (the record at the end of
    that epoch, for values read off a curve or a stage of a restart schedule). ``approx`` marks a
    value read off a plot (shown with "≈"). ``tolerance`` overrides the entry's.

    Example:
        >>> Published("DFA", "test_acc", 70.0, approx=True, at=20).text()
        '≈70%'
    """

    run: str
    metric: str
    value: float
    approx: bool = False
    at: str | int = "final"
    tolerance: float | None = None

    def text(self) -> str:
        return f"{'≈' if self.approx else ''}{self.value:g}{unit_of(self.metric)}"  # as the document prints it

    def to_dict(self) -> dict:
        return {"run": self.run, "metric": self.metric, "value": self.value, "unit": unit_of(self.metric),
                "approx": self.approx, "at": self.at, "tolerance": self.tolerance, "text": self.text()}


@dataclass(frozen=True)
class Run:
    """One run of an entry: its label (as the published table names it), the dotted changes
    that turn the entry's setting into it, and a seed offset for repeats of one setting (the
    thesis's FA1-FA4 differ only in their random draws: offsets 0-3).

    Example:
        >>> Run("DFA", {"algorithm.name": "dfa"}).label
        'DFA'
    """

    label: str
    changes: dict = field(default_factory=dict)
    seed_offset: int = 0


@dataclass(frozen=True)
class Scale:
    """A smaller version of an entry: dotted changes applied to every run, and what they shrink.

    Example:
        >>> Scale({"train.epochs": 1}, "1 epoch instead of 200").shrinks
        '1 epoch instead of 200'
    """

    changes: dict
    shrinks: str


@dataclass(frozen=True)
class Entry:
    """A published table or figure (see the module docstring).

    ``source`` is the document's file name in ``../shared/seeds`` (or the paper, for the works
    that are not there); ``ref`` the table or figure ("Table 3.1"); ``tolerance`` the absolute
    difference, in the published metric's unit, that still counts as reproduced; ``notes`` says in
    words where the setting could not be matched exactly, or why a value cannot be checked.
    """

    id: str
    source: str
    ref: str
    title: str
    setting: dict
    runs: tuple[Run, ...]
    published: tuple[Published, ...]
    tolerance: float
    classroom: Scale
    smoke: Scale
    notes: str = ""

    def __post_init__(self) -> None:
        where = f"catalogue entry {self.id!r}"
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", self.id):
            raise ValueError(f"{where}: id must be lower-case letters, digits, '.' and '-' (it goes in URLs)")
        if not self.runs:
            raise ValueError(f"{where}: needs at least one run")
        labels = [r.label for r in self.runs]
        if len(set(labels)) != len(labels):
            raise ValueError(f"{where}: run labels must be unique, got {labels}")
        if "root" in self.setting.get("data", {}):
            raise ValueError(f"{where}: the setting must not hold data.root; the data folder is given at run time")
        for p in self.published:
            if p.run not in labels:
                raise ValueError(f"{where}: published value for {p.run!r}, which is none of the runs: {labels}")
            if not (p.at in ("final", "best") or (isinstance(p.at, int) and p.at >= 0)):
                raise ValueError(f"{where}: published 'at' must be 'final', 'best' or an epoch, got {p.at!r}")
        if any(r.seed_offset < 0 for r in self.runs):
            raise ValueError(f"{where}: a run's seed_offset must be at least 0")
        if self.tolerance < 0:
            raise ValueError(f"{where}: tolerance must be at least 0")

    @property
    def dataset(self) -> str:
        return self.setting.get("data", {}).get("name", "digits")

    def scale(self, name: str) -> Scale | None:
        """The scale's changes (None for ``full``: the setting as published)."""
        if name not in SCALES:
            raise ConfigError(f"scale must be one of {', '.join(SCALES)}, got {name!r}", field="scale")
        return None if name == "full" else getattr(self, name)

    def configs(self, scale: str = "full", root: str | None = None, seed: int = 0,
                device: str | None = None) -> list[tuple[str, RunConfig]]:
        """(label, validated config) for every run at ``scale``, with ``seed``; a folder dataset is
        read from ``root`` (default: the loader's, ``$EXPLORER_DATA`` or ``~/.explorer/data``).

        A bad setting raises `ConfigError` naming the entry, the run and the field.
        """
        extra = self.scale(scale)
        out = []
        for run in self.runs:
            changes: dict[str, Any] = dict(run.changes)
            if extra is not None:
                changes.update(extra.changes)
            changes["seed"] = seed + run.seed_offset
            if device is not None:
                changes["device"] = device
            base = copy.deepcopy(self.setting)
            try:
                d = changed(base, changes)
                if root is not None and d.get("data", {}).get("name") in FOLDER_DATASETS:
                    d["data"]["root"] = str(root)
                cfg = RunConfig.from_dict(d)
            except ConfigError as err:
                raise ConfigError(f"catalogue entry {self.id!r}, run {run.label!r}, scale {scale}: {err}",
                                  field=err.field) from err
            out.append((run.label, cfg))
        return out

    def to_dict(self) -> dict:
        """The entry as JSON-ready data (what ``reproduce --list --json`` prints)."""
        return {"id": self.id, "source": self.source, "ref": self.ref, "title": self.title,
                "dataset": self.dataset, "scales": {"full": "the document's own setting",
                                                    "classroom": self.classroom.shrinks,
                                                    "smoke": self.smoke.shrinks},
                "published": [p.to_dict() for p in self.published], "tolerance": self.tolerance,
                "runs": [{"label": r.label, "changes": r.changes, "seed_offset": r.seed_offset} for r in self.runs],
                "setting": copy.deepcopy(self.setting), "notes": self.notes}


def by_run(published: tuple[Published, ...]) -> Mapping[str, list[Published]]:
    """The published values grouped by run label, in order.

    Example:
        >>> sorted(by_run((Published("BP", "test_acc", 1.0), Published("BP", "test_loss", 2.0))))
        ['BP']
    """
    out: dict[str, list[Published]] = {}
    for p in published:
        out.setdefault(p.run, []).append(p)
    return out
