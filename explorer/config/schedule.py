"""Learning-rate schedules: the rate of each epoch as a function of the epoch, declared as data.

``optimizer.schedule`` is absent (a constant rate), ``{"name": "step", "step_size": k, "gamma": g}``
(the rate times g every k epochs, like torch's ``StepLR``) or ``{"name": "multistep", "milestones":
[m1, m2, …], "gamma": g}`` (times g at each milestone epoch, like ``MultiStepLR``). Epochs count from
0; the rate changes at an epoch's start.

Example:
    >>> s = Schedule.from_dict({"name": "multistep", "milestones": [3, 1], "gamma": 0.1})
    >>> s.milestones, [round(s.lr_at(1.0, epoch), 6) for epoch in range(5)]
    ((1, 3), [1.0, 0.1, 0.1, 0.01, 0.01])
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from explorer.config.bounds import MAX_EPOCHS, MAX_MILESTONES, MIN_POSITIVE
from explorer.config.fields import ConfigError, choice, drop_none, integer, number, reject_unknown, require_mapping

SCHEDULES = ("step", "multistep")
_OPTIONS = {"step": {"name", "step_size", "gamma"}, "multistep": {"name", "milestones", "gamma"}}


@dataclass(frozen=True)
class Schedule:
    """One schedule: ``step`` (``step_size`` epochs) or ``multistep`` (``milestones``), factor ``gamma``
    in (0, 1].

    Example:
        >>> Schedule.from_dict({"name": "step", "step_size": 2, "gamma": 0.5}).lr_at(0.1, 5)
        0.025
    """

    name: str
    gamma: float
    step_size: int | None = None
    milestones: tuple[int, ...] | None = None

    @classmethod
    def from_dict(cls, d: Any, path: str = "optimizer.schedule") -> Schedule:
        d = require_mapping(d, path)
        if "name" not in d:
            raise ConfigError(f"{path}.name is required: one of {', '.join(SCHEDULES)}", field=f"{path}.name")
        name = choice(d["name"], f"{path}.name", SCHEDULES)
        reject_unknown(d, _OPTIONS[name], path, f"schedule '{name}'")
        # at most 1: a schedule lowers the rate, and never takes it past the float32 range
        gamma = number(d.get("gamma", 0.1), f"{path}.gamma", above=0.0, minimum=MIN_POSITIVE, maximum=1.0)
        if name == "step":
            if "step_size" not in d:
                raise ConfigError(f"{path}.step_size is required for schedule 'step'", field=f"{path}.step_size")
            return cls(name, gamma, step_size=integer(d["step_size"], f"{path}.step_size", minimum=1,
                                                      maximum=MAX_EPOCHS))
        raw = d.get("milestones")
        if not isinstance(raw, (list, tuple)) or not raw:
            raise ConfigError(f"{path}.milestones must be a non-empty list of epochs, got {raw!r}",
                              field=f"{path}.milestones")
        if len(raw) > MAX_MILESTONES:
            raise ConfigError(f"{path}.milestones must have at most {MAX_MILESTONES} epochs, got {len(raw)}",
                              field=f"{path}.milestones")
        milestones = [integer(m, f"{path}.milestones[{i}]", minimum=1, maximum=MAX_EPOCHS) for i, m in enumerate(raw)]
        if len(set(milestones)) != len(milestones):
            raise ConfigError(f"{path}.milestones must not repeat an epoch, got {list(raw)!r}",
                              field=f"{path}.milestones")
        return cls(name, gamma, milestones=tuple(sorted(milestones)))

    def to_dict(self) -> dict:
        milestones = None if self.milestones is None else list(self.milestones)
        return drop_none({"name": self.name, "step_size": self.step_size, "milestones": milestones,
                          "gamma": self.gamma})

    def decays(self, epoch: int) -> int:
        """How many times the rate has been multiplied by gamma by the start of ``epoch`` (0-based)."""
        if self.name == "step":
            return epoch // self.step_size
        return bisect_right(self.milestones, epoch)

    def lr_at(self, lr: float, epoch: int) -> float:
        """The rate of ``epoch`` (0-based) for the base rate ``lr``."""
        return lr * self.gamma ** self.decays(epoch)


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
