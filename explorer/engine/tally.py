"""`Tally`: each step's loss and right answers, kept on the device until a record is logged.

A step only hands its tensors over (no copy, no arithmetic: on a GPU each small kernel costs a
launch, and at the sizes people train here the launches, not the arithmetic, set the pace). The
interval is reduced and read from the device in one go when a record is logged.
"""

from __future__ import annotations

import math

import torch


class Tally:
    """The steps of one logging interval, for ``seeds`` runs trained together.

    Example:
        >>> t = Tally(seeds=1)
        >>> t.add(torch.tensor([0.5]), torch.tensor([[True, False]]))
        >>> t.add(torch.tensor([float("nan")]), torch.tensor([[True, True]]))
        >>> t.read()  # per seed: (mean loss, accuracy, index of the first non-finite loss or None)
        [(nan, 0.75, 1)]
        >>> t.steps
        0
    """

    def __init__(self, seeds: int) -> None:
        self.seeds = seeds
        self._losses: list[torch.Tensor] = []
        self._hits: list[torch.Tensor] = []

    @property
    def steps(self) -> int:
        return len(self._losses)

    def add(self, losses: torch.Tensor, hits: torch.Tensor | None) -> None:
        """One step: ``losses`` (seeds,), each seed's batch loss; ``hits`` (seeds, batch) bools,
        which of its predictions were right (None where there is no accuracy: regression)."""
        self._losses.append(losses)
        if hits is not None:
            self._hits.append(hits)

    def read(self) -> list[tuple[float, float, int | None]]:
        """Per seed: the mean batch loss over the interval, the share of right answers (NaN
        without hits) and the interval's index of the step whose loss first went non-finite
        (None if none did); one read of the device. The interval starts afresh."""
        losses = torch.stack(self._losses)                                    # (steps, seeds)
        bad = ~torch.isfinite(losses)
        first_bad = torch.where(bad.any(0), bad.int().argmax(0), -1)          # argmax: the first
        rows = [losses.mean(0).double(), first_bad.double()]
        if self._hits:
            hits = torch.stack(self._hits)                                    # (steps, seeds, batch)
            rows.append(hits.sum((0, 2)).double())   # counts: exact in float64, divided on the host
            answers = hits.shape[0] * hits.shape[2]
        values = torch.stack(rows).tolist()
        self._losses, self._hits = [], []
        accuracy = [n / answers for n in values[2]] if len(values) == 3 else [math.nan] * self.seeds
        return [(values[0][s], accuracy[s], None if values[1][s] < 0 else int(values[1][s]))
                for s in range(self.seeds)]
