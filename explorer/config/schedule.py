"""Learning-rate schedules: the rate of each epoch as a function of the epoch, declared as data.

``optimizer.schedule`` is absent (a constant rate), ``{"name": "step", "step_size": k, "gamma": g}``
(the rate times g every k epochs, like torch's ``StepLR``), ``{"name": "multistep", "milestones":
[m1, m2, …], "gamma": g}`` (times g at each milestone epoch, like ``MultiStepLR``) or
``{"name": "restarts", "milestones": [m1, …], "lrs": [r1, …], "from": "best" | "last"}``: the
thesis's "iterations" (000, section 3.5): from epoch m_i on the rate is r_i, and at m_i's start the
trainer clears the optimiser's state and, with "from": "best" (the default), puts back the weights
that had the best test accuracy at an epoch's end so far (`explorer.engine.trainer`). Epochs count
from 0; the rate changes at an epoch's start.

Example:
    >>> s = Schedule.from_dict({"name": "multistep", "milestones": [3, 1], "gamma": 0.1})
    >>> s.milestones, [round(s.lr_at(1.0, epoch), 6) for epoch in range(5)]
    ((1, 3), [1.0, 0.1, 0.1, 0.01, 0.01])
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from explorer.config.bounds import MAX_EPOCHS, MAX_LR, MAX_MILESTONES, MIN_POSITIVE
from explorer.config.fields import ConfigError, choice, drop_none, integer, number, reject_unknown, require_mapping, shown

SCHEDULES = ("step", "multistep", "restarts")
_OPTIONS = {"step": {"name", "step_size", "gamma"}, "multistep": {"name", "milestones", "gamma"},
            "restarts": {"name", "milestones", "lrs", "from"}}
RESTART_FROM = ("best", "last")


@dataclass(frozen=True)
class Schedule:
    """One schedule: ``step`` (``step_size`` epochs) or ``multistep`` (``milestones``), factor ``gamma``
    in (0, 1]; or ``restarts`` (``milestones``, the rate ``lrs`` from each, ``start``: "best" or "last",
    written ``from``).

    Example:
        >>> Schedule.from_dict({"name": "step", "step_size": 2, "gamma": 0.5}).lr_at(0.1, 5)
        0.025
        >>> r = Schedule.from_dict({"name": "restarts", "milestones": [2, 4], "lrs": [0.01, 0.001]})
        >>> [r.lr_at(0.1, epoch) for epoch in range(6)], r.restarts_at(4), r.restarts_at(3), r.start
        ([0.1, 0.1, 0.01, 0.01, 0.001, 0.001], True, False, 'best')
    """

    name: str
    gamma: float | None = None
    step_size: int | None = None
    milestones: tuple[int, ...] | None = None
    lrs: tuple[float, ...] | None = None
    start: str | None = None

    @classmethod
    def from_dict(cls, d: Any, path: str = "optimizer.schedule") -> Schedule:
        d = require_mapping(d, path)
        if "name" not in d:
            raise ConfigError(f"{path}.name is required: one of {', '.join(SCHEDULES)}", field=f"{path}.name")
        name = choice(d["name"], f"{path}.name", SCHEDULES)
        reject_unknown(d, _OPTIONS[name], path, f"schedule '{name}'")
        if name == "restarts":
            return cls._restarts(d, path)
        # at most 1: a schedule lowers the rate, and never takes it past the float32 range
        gamma = number(d.get("gamma", 0.1), f"{path}.gamma", above=0.0, minimum=MIN_POSITIVE, maximum=1.0)
        if name == "step":
            if "step_size" not in d:
                raise ConfigError(f"{path}.step_size is required for schedule 'step'", field=f"{path}.step_size")
            return cls(name, gamma, step_size=integer(d["step_size"], f"{path}.step_size", minimum=1,
                                                      maximum=MAX_EPOCHS))
        milestones = _epochs(d.get("milestones"), f"{path}.milestones")
        if len(set(milestones)) != len(milestones):
            raise ConfigError(f"{path}.milestones must not repeat an epoch, got {list(d['milestones'])!r}",
                              field=f"{path}.milestones")
        return cls(name, gamma, milestones=tuple(sorted(milestones)))

    @classmethod
    def _restarts(cls, d, path: str) -> Schedule:
        milestones = _epochs(d.get("milestones"), f"{path}.milestones")
        for i in range(1, len(milestones)):  # in order: each rate belongs to the milestone written beside it
            if milestones[i] <= milestones[i - 1]:
                raise ConfigError(f"{path}.milestones must be strictly increasing epochs, got {list(milestones)!r}",
                                  field=f"{path}.milestones[{i}]")
        raw = d.get("lrs")
        if not isinstance(raw, (list, tuple)) or len(raw) != len(milestones):
            raise ConfigError(f"{path}.lrs must be a list of {len(milestones)} learning rate"
                              f"{'s' if len(milestones) != 1 else ''}, one per milestone, got {shown(raw)}",
                              field=f"{path}.lrs")
        lrs = tuple(number(r, f"{path}.lrs[{i}]", above=0.0, minimum=MIN_POSITIVE, maximum=MAX_LR)
                    for i, r in enumerate(raw))
        start = choice(d.get("from", "best"), f"{path}.from", RESTART_FROM)
        return cls("restarts", milestones=tuple(milestones), lrs=lrs, start=start)

    def to_dict(self) -> dict:
        milestones = None if self.milestones is None else list(self.milestones)
        lrs = None if self.lrs is None else list(self.lrs)
        return drop_none({"name": self.name, "step_size": self.step_size, "milestones": milestones,
                          "gamma": self.gamma, "lrs": lrs, "from": self.start})

    def decays(self, epoch: int) -> int:
        """How many times the rate has changed by the start of ``epoch`` (0-based): for step and
        multistep, the times it was multiplied by gamma; for restarts, the milestones passed."""
        if self.name == "step":
            return epoch // self.step_size
        return bisect_right(self.milestones, epoch)

    def lr_at(self, lr: float, epoch: int) -> float:
        """The rate of ``epoch`` (0-based) for the base rate ``lr``."""
        if self.name == "restarts":
            stage = self.decays(epoch)
            return lr if stage == 0 else self.lrs[stage - 1]
        return lr * self.gamma ** self.decays(epoch)

    def restarts_at(self, epoch: int) -> bool:
        """Whether the trainer restarts at the start of ``epoch`` (0-based): a restarts milestone."""
        return self.name == "restarts" and epoch in self.milestones


def _epochs(raw: Any, path: str) -> list[int]:
    """A non-empty list of milestone epochs (each at least 1), as written."""
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ConfigError(f"{path} must be a non-empty list of epochs, got {shown(raw)}", field=path)
    if len(raw) > MAX_MILESTONES:
        raise ConfigError(f"{path} must have at most {MAX_MILESTONES} epochs, got {len(raw)}", field=path)
    return [integer(m, f"{path}[{i}]", minimum=1, maximum=MAX_EPOCHS) for i, m in enumerate(raw)]


def read_schedule(value: Any, path: str = "optimizer.schedule") -> Schedule | None:
    """None (no schedule, also for ``"none"`` or ``{"name": "none"}``) or a `Schedule`.

    Example:
        >>> read_schedule(None) is None, read_schedule({"name": "none"}) is None
        (True, True)
    """
    if value is None or value == "none" or (isinstance(value, dict) and value.get("name") == "none"
                                            and set(value) == {"name"}):
        return None
    return Schedule.from_dict(value, path)
