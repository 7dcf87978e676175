"""`Tally`: each step's loss, right answers and weight norms, kept on the device until a record is logged.

A step only hands its tensors over (no copy, no arithmetic: on a GPU each small kernel costs a
launch, and at the sizes people train here the launches, not the arithmetic, set the pace). The
interval is reduced and read from the device in one go when a record is logged, together with the
first step of the interval that diverged (`explorer.config.divergence`): a loss not finite or past
its limit, a weight norm not finite or past its.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch


class Reading(NamedTuple):
    """One seed's interval: its mean batch loss, its share of right answers (NaN without any),
    the interval's index of the first step that diverged (None if none did), and that step's
    batch loss and weight norm (NaN where none diverged or norms were not kept)."""

    loss: float
    accuracy: float
    first_bad: int | None
    bad_loss: float
    bad_norm: float


def global_norms(parts: Sequence[torch.Tensor], groups: int) -> torch.Tensor:
    """The global L2 norm (groups,), in float64, of each of ``groups`` runs of consecutive
    ``parts``, given the parts' own L2 norms (each group the same number of parts).

    Example:
        >>> global_norms([torch.tensor(3.0), torch.tensor(4.0), torch.tensor(1.0), torch.tensor(0.0)], 2)
        tensor([5., 1.], dtype=torch.float64)
    """
    if not parts or len(parts) % groups:
        raise ValueError(f"{len(parts)} weight parts do not split evenly into {groups} groups")
    return torch.stack(list(parts)).double().reshape(groups, -1).square().sum(-1).sqrt()


class Tally:
    """The steps of one logging interval, for ``seeds`` runs trained together.

    Example:
        >>> t = Tally(seeds=1)
        >>> t.add(torch.tensor([0.5]), torch.tensor([[True, False]]))
        >>> t.add(torch.tensor([float("nan")]), torch.tensor([[True, True]]))
        >>> t.read()  # per seed: mean loss, accuracy, index of the first step that diverged, its loss and norm
        [Reading(loss=nan, accuracy=0.75, first_bad=1, bad_loss=nan, bad_norm=nan)]
        >>> t.steps
        0
        >>> t.add(torch.tensor([2.0]), None, [torch.tensor(3.0)])
        >>> t.add(torch.tensor([900.0]), None, [torch.tensor(4.0)])
        >>> t.read(loss_limits=[100.0], weight_limits=[10.0])  # the loss passed 100 at the second step
        [Reading(loss=451.0, accuracy=nan, first_bad=1, bad_loss=900.0, bad_norm=4.0)]
    """

    def __init__(self, seeds: int) -> None:
        self.seeds = seeds
        self._losses: list[torch.Tensor] = []
        self._hits: list[torch.Tensor] = []
        self._norms: list[Sequence[torch.Tensor]] = []

    @property
    def steps(self) -> int:
        return len(self._losses)

    def add(self, losses: torch.Tensor, hits: torch.Tensor | None,
            norms: Sequence[torch.Tensor] | None = None) -> None:
        """One step: ``losses`` (seeds,), each seed's batch loss; ``hits`` (seeds, batch) bools,
        which of its predictions were right (None where there is no accuracy: regression);
        ``norms``, the L2 norms of the parts of the weights after the step, every seed's in turn
        (`global_norms`; None where weights are not watched: then at no step of the interval)."""
        self._losses.append(losses)
        if hits is not None:
            self._hits.append(hits)
        if norms is not None:
            self._norms.append(norms)

    def read(self, loss_limits: Sequence[float] | None = None,
             weight_limits: Sequence[float] | None = None) -> list[Reading]:
        """Per seed, the interval's `Reading`; one read of the device. A step diverged where its
        loss is not finite or above the seed's ``loss_limits`` entry, or its weight norm is not
        finite or above the seed's ``weight_limits`` entry (norms kept by `add`). The interval
        starts afresh."""
        losses = torch.stack(self._losses)                                    # (steps, seeds)
        wide = losses.double()
        bad = ~torch.isfinite(losses)
        if loss_limits is not None:
            bad |= wide > torch.tensor(loss_limits, dtype=torch.float64, device=losses.device)
        norms = torch.full_like(wide, math.nan)
        if self._norms:
            parts = [n for step in self._norms for n in step]
            norms = global_norms(parts, self.seeds * len(self._norms)).reshape(len(self._norms), self.seeds)
            limits = math.inf if weight_limits is None else torch.tensor(weight_limits, dtype=torch.float64,
                                                                          device=losses.device)
            bad |= ~torch.isfinite(norms) | (norms > limits)
        first_bad = torch.where(bad.any(0), bad.int().argmax(0), -1)          # argmax: the first
        at = first_bad.clamp(min=0).unsqueeze(0)
        rows = [losses.mean(0).double(), first_bad.double(), wide.gather(0, at)[0], norms.gather(0, at)[0]]
        if self._hits:
            hits = torch.stack(self._hits)                                    # (steps, seeds, batch)
            rows.append(hits.sum((0, 2)).double())   # counts: exact in float64, divided on the host
            answers = hits.shape[0] * hits.shape[2]
        values = torch.stack(rows).tolist()
        self._losses, self._hits, self._norms = [], [], []
        accuracy = [n / answers for n in values[4]] if len(values) == 5 else [math.nan] * self.seeds
        out = []
        for s in range(self.seeds):
            first = None if values[1][s] < 0 else int(values[1][s])
            out.append(Reading(values[0][s], accuracy[s], first,
                               math.nan if first is None else values[2][s], math.nan if first is None else values[3][s]))
        return out
