"""``train.diverge``: when a run whose numbers are still finite counts as diverged.

A run whose training loss goes non-finite always stops as ``diverged``. Besides that, a run stops
as diverged at the first step where

- its batch loss exceeds ``loss_factor`` × its start: the first step's loss, or 1 where that was
  smaller (`LOSS_FLOOR`, so that a run starting near 0 is not stopped by noise), or
- the global L2 norm of its trained parameters, after the step's update, exceeds
  ``weight_factor`` × its start: the norm before the first step, or 1 where that was smaller
  (`WEIGHT_FLOOR`: zero-initialised weights), or is not finite.

By default ``{"loss_factor": 1e6, "weight_factor": 1e4}``, far beyond any run that is learning.
Either factor may be ``null`` (that check off); ``train.diverge: null`` turns both off, leaving the
non-finite loss the only sign. `explorer.engine.trainer` applies the rule step by step.

Example:
    >>> read_diverge(None, "train.diverge") == Divergence(None, None)   # both checks off
    True
    >>> d = Divergence.from_dict({"loss_factor": 100})
    >>> d.weight_factor, d.loss_limit(2.5), d.loss_limit(0.01)             # × the start, at least × 1
    (10000.0, 250.0, 100.0)
    >>> d.to_dict()
    {'loss_factor': 100.0, 'weight_factor': 10000.0}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from explorer.config.bounds import MAX_DIVERGE_FACTOR
from explorer.config.fields import number, reject_unknown, require_mapping

LOSS_FLOOR = 1.0    # the loss start is at least this
WEIGHT_FLOOR = 1.0  # the weight-norm start is at least this
DEFAULT_LOSS_FACTOR = 1e6
DEFAULT_WEIGHT_FACTOR = 1e4


def _factor(value: Any, path: str) -> float | None:
    """A factor greater than 1 and at most `MAX_DIVERGE_FACTOR`, or None (that check off)."""
    return None if value is None else number(value, path, above=1.0, maximum=MAX_DIVERGE_FACTOR)


@dataclass(frozen=True)
class Divergence:
    """How far past its start a run's loss and weight norm may go before it counts as diverged
    (None: that check off)."""

    loss_factor: float | None = DEFAULT_LOSS_FACTOR
    weight_factor: float | None = DEFAULT_WEIGHT_FACTOR

    @classmethod
    def from_dict(cls, d: Any, path: str = "train.diverge") -> Divergence:
        d = require_mapping(d, path)
        reject_unknown(d, {"loss_factor", "weight_factor"}, path, "train.diverge")
        return cls(_factor(d.get("loss_factor", DEFAULT_LOSS_FACTOR), f"{path}.loss_factor"),
                   _factor(d.get("weight_factor", DEFAULT_WEIGHT_FACTOR), f"{path}.weight_factor"))

    def to_dict(self) -> dict:
        return {"loss_factor": self.loss_factor, "weight_factor": self.weight_factor}

    @property
    def off(self) -> bool:
        return self.loss_factor is None and self.weight_factor is None

    def loss_limit(self, start: float) -> float:
        """The batch loss past which a run whose first step's loss was ``start`` has diverged
        (infinite where the check is off or the start is not finite)."""
        if self.loss_factor is None or not math.isfinite(start):
            return math.inf
        return self.loss_factor * max(start, LOSS_FLOOR)

    def weight_limit(self, start: float) -> float:
        """The weight norm past which a run whose initial norm was ``start`` has diverged."""
        if self.weight_factor is None or not math.isfinite(start):
            return math.inf
        return self.weight_factor * max(start, WEIGHT_FLOOR)

    def why(self, what: str, value: float, start: float) -> str:
        """The reason a run diverged, in words: ``what`` ("loss" or "weight norm") reached
        ``value`` against its ``start``.

        Example:
            >>> Divergence().why("loss", 3.2e25, 2.302)
            "loss 3.2e+25 > 1e+06 × start 2.3 (the first step's loss)"
            >>> Divergence().why("weight norm", 7e22, 0.0)
            'weight norm 7e+22 > 10000 × start 1 (at least 1; the initial norm was 0)'
            >>> Divergence().why("loss", float("nan"), 2.3)
            'loss nan (not finite)'
        """
        if not math.isfinite(value):
            return f"{what} {value:.3g} (not finite)"
        factor, floor, start_is = ((self.loss_factor, LOSS_FLOOR, "the first step's loss") if what == "loss"
                                   else (self.weight_factor, WEIGHT_FLOOR, "the initial norm"))
        base = (f"{start:.3g} ({start_is})" if start >= floor
                else f"{floor:g} (at least {floor:g}; {start_is} was {start:.3g})")
        return f"{what} {value:.3g} > {factor:g} × start {base}"


def read_diverge(value: Any, path: str = "train.diverge", *, given: bool = True) -> Divergence:
    """``train.diverge`` as written: absent (``given`` False) the defaults, None both checks off."""
    if not given:
        return Divergence()
    if value is None:
        return Divergence(None, None)
    return Divergence.from_dict(value, path)
