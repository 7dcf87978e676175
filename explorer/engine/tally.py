"""`Tally`: each step's loss, right answers and weight norms, kept on the device until a record is logged.

A step only hands its tensors over (no copy, no arithmetic: on a GPU each small kernel costs a
launch, and at the sizes people train here the launches, not the arithmetic, set the pace). The
interval is reduced and read from the device in one go when a record is logged, together with the
first step of the interval that diverged (`explorer.config.divergence`): a loss not finite or past
its limit, a weight norm not finite or past its.

A step replayed from a CUDA graph (`explorer.engine.graphed`) overwrites the same output tensors
every time, so a Tally made with a ``capacity`` copies each step's values into preallocated rows
instead, at a row counter kept on the device (`write`, which a graph can capture; `count`, the
host's tally of the rows written). It reads exactly what the plain Tally reads.
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


def global_norms(parts: Sequence[torch.Tensor] | torch.Tensor, groups: int) -> torch.Tensor:
    """The global L2 norm (groups,), in float64, of each of ``groups`` runs of consecutive
    ``parts``, given the parts' own L2 norms (each group the same number of parts; a tensor of
    them, flat, as well as a sequence).

    Example:
        >>> global_norms([torch.tensor(3.0), torch.tensor(4.0), torch.tensor(1.0), torch.tensor(0.0)], 2)
        tensor([5., 1.], dtype=torch.float64)
    """
    if not len(parts) or len(parts) % groups:
        raise ValueError(f"{len(parts)} weight parts do not split evenly into {groups} groups")
    stacked = parts if isinstance(parts, torch.Tensor) else torch.stack(list(parts))
    return stacked.double().reshape(groups, -1).square().sum(-1).sqrt()


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

    With a ``capacity`` (the most steps an interval holds), each step's values are copied into
    rows kept for them, and the same interval reads the same:

        >>> rows = Tally(seeds=1, capacity=4)
        >>> rows.add(torch.tensor([2.0]), None, [torch.tensor(3.0)])
        >>> rows.count(); rows.write(torch.tensor([900.0]), None, [torch.tensor(4.0)])  # what a graph step does
        >>> rows.read(loss_limits=[100.0], weight_limits=[10.0])
        [Reading(loss=451.0, accuracy=nan, first_bad=1, bad_loss=900.0, bad_norm=4.0)]
    """

    def __init__(self, seeds: int, capacity: int | None = None) -> None:
        self.seeds = seeds
        self.capacity = capacity
        self._losses: list[torch.Tensor] = []
        self._hits: list[torch.Tensor] = []
        self._norms: list[Sequence[torch.Tensor]] = []
        self._rows: dict[str, torch.Tensor] = {}  # with a capacity: "loss", "hits", "norms" (capacity, …)
        self._at: torch.Tensor | None = None      # the next row to write, on the device
        self._counted = 0                          # rows written this interval, as the host counts them

    @property
    def steps(self) -> int:
        return self._counted if self.capacity is not None else len(self._losses)

    def add(self, losses: torch.Tensor, hits: torch.Tensor | None,
            norms: Sequence[torch.Tensor] | None = None) -> None:
        """One step: ``losses`` (seeds,), each seed's batch loss; ``hits`` (seeds, batch) bools,
        which of its predictions were right (None where there is no accuracy: regression);
        ``norms``, the L2 norms of the parts of the weights after the step, every seed's in turn
        (`global_norms`; None where weights are not watched: then at no step of the interval)."""
        if self.capacity is not None:
            self.count()
            self.write(losses, hits, norms)
            return
        self._losses.append(losses)
        if hits is not None:
            self._hits.append(hits)
        if norms is not None:
            self._norms.append(norms)

    def count(self) -> None:
        """One more step's row (with a capacity): the host's count of the rows that `write` fills,
        called once per step, whether the step ran eagerly or replayed a graph."""
        if self.capacity is None:
            raise ValueError("count() is for a Tally with a capacity; add() keeps the steps of one without")
        if self._counted >= self.capacity:
            raise RuntimeError(f"the interval holds at most {self.capacity} steps; read() it before the next")
        self._counted += 1

    def write(self, losses: torch.Tensor, hits: torch.Tensor | None,
              norms: Sequence[torch.Tensor] | None = None) -> None:
        """Copy one step's values (as `add` takes them) into the next row, and move the row
        counter on: work on the device only (no host read, no allocation after the first step),
        so that a CUDA graph can hold it. The rows are made at the first call."""
        values = {"loss": losses, "hits": hits, "norms": None if norms is None else torch.stack(list(norms))}
        if self._at is None:
            if losses.is_cuda and torch.cuda.is_current_stream_capturing():
                # made inside a capture, the rows' counter would be reset to 0 at every replay
                raise RuntimeError("a Tally's first write must run before a CUDA graph capture (warm up first)")
            self._at = torch.zeros(1, dtype=torch.long, device=losses.device)
            self._rows = {k: v.new_empty((self.capacity, *v.shape)) for k, v in values.items() if v is not None}
        for k, v in values.items():
            if v is not None:
                self._rows[k].index_copy_(0, self._at, v.unsqueeze(0))
        self._at.add_(1)

    def read(self, loss_limits: Sequence[float] | None = None,
             weight_limits: Sequence[float] | None = None) -> list[Reading]:
        """Per seed, the interval's `Reading`; one read of the device. A step diverged where its
        loss is not finite or above the seed's ``loss_limits`` entry, or its weight norm is not
        finite or above the seed's ``weight_limits`` entry (norms kept by `add`). The interval
        starts afresh."""
        n = self.steps
        if self.capacity is not None:
            if self._at is None:
                raise ValueError("no step was written this interval")
            step_norms = [] if "norms" not in self._rows else self._rows["norms"][:n]
            step_hits = [] if "hits" not in self._rows else self._rows["hits"][:n]
            losses = self._rows["loss"][:n]
            self._counted = 0
            self._at.zero_()
        else:
            step_norms, step_hits, losses = self._norms, self._hits, torch.stack(self._losses)  # (steps, seeds)
        wide = losses.double()
        bad = ~torch.isfinite(losses)
        if loss_limits is not None:
            bad |= wide > torch.tensor(loss_limits, dtype=torch.float64, device=losses.device)
        norms = torch.full_like(wide, math.nan)
        if len(step_norms):
            parts = step_norms.reshape(-1) if isinstance(step_norms, torch.Tensor) else [
                part for step in step_norms for part in step]
            norms = global_norms(parts, self.seeds * n).reshape(n, self.seeds)
            limits = math.inf if weight_limits is None else torch.tensor(weight_limits, dtype=torch.float64,
                                                                          device=losses.device)
            bad |= ~torch.isfinite(norms) | (norms > limits)
        first_bad = torch.where(bad.any(0), bad.int().argmax(0), -1)          # argmax: the first
        at = first_bad.clamp(min=0).unsqueeze(0)
        rows = [losses.mean(0).double(), first_bad.double(), wide.gather(0, at)[0], norms.gather(0, at)[0]]
        if len(step_hits):
            hits = step_hits if isinstance(step_hits, torch.Tensor) else torch.stack(step_hits)  # (steps, seeds, batch)
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
