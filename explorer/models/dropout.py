"""Dropout after a hidden activation (``model.dropout``), with masks a run can reproduce and hold.

`Dropout` is inverted dropout: in train mode each unit is kept with probability 1 - p and the kept
ones are scaled by 1 / (1 - p); in eval mode it is the identity. It sits before the layer's tap, so
a rule that reads the hidden representation at the tap (the direct-feedback family) reads the
dropped one, and the mask is part of the graph its teaching signal goes back through: a dropped
unit gets no update, whatever the rule.

Its masks are drawn on the host from the run's own random streams (``generators``, one per seed of
a stacked network; `explorer.engine.build` seeds them), so a seed gives the same masks on every
device and a stacked seed the masks of its own run. Within `held_masks` (the trainer wraps each step
in it) a layer draws one mask per step and every forward pass of that step reuses it: the rule's
backward and the backprop reference the alignment is measured against see the same dropped units.

Example:
    >>> drop = Dropout(0.5, [torch.Generator().manual_seed(0)])
    >>> h = drop(torch.ones(2, 8))
    >>> set(h.flatten().tolist()) <= {0.0, 2.0}   # dropped, or kept and doubled
    True
    >>> drop.eval()(torch.ones(2, 3)).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn


class Dropout(nn.Module):
    """Inverted dropout with drop probability ``p`` (0 ≤ p < 1); masks from ``generators`` (one per
    seed; None: torch's global stream). Holds no parameters or buffers: a network's state_dict is
    the same with and without it."""

    def __init__(self, p: float, generators: list[torch.Generator] | None = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.generators = generators
        self.hold = False
        self.held: torch.Tensor | None = None

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def mask(self, shape: torch.Size, device: torch.device, seeds: int | None = None) -> torch.Tensor:
        """A float mask of ``shape``: 0 where a unit drops, 1 / (1 - p) where it stays. With ``seeds``
        (a leading seed axis) seed s draws its slice from ``generators[s]``."""
        if self.generators is None:
            keep = torch.rand(shape, device=device) >= self.p
        elif seeds is None:
            keep = torch.rand(shape, generator=self.generators[0]) >= self.p
        else:
            keep = torch.stack([torch.rand(shape[1:], generator=g) >= self.p for g in self.generators])
        keep = keep.to(device, non_blocking=True)
        return keep.to(torch.float32) / (1.0 - self.p)

    def forward(self, h: torch.Tensor, seeds: int | None = None) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return h
        mask = self.held if self.hold and self.held is not None and self.held.shape == h.shape else None
        if mask is None:
            mask = self.mask(h.shape, h.device, seeds).to(h.dtype)
            if self.hold:
                self.held = mask
        return h * mask


def dropouts(model: nn.Module) -> list[Dropout]:
    """The `Dropout` layers of ``model`` that drop something (p > 0)."""
    return [m for m in model.modules() if isinstance(m, Dropout) and m.p > 0]


def seed_dropout(model: nn.Module, seed: int) -> None:
    """Give every dropout layer of ``model`` its own generator, seeded from ``seed`` and its position.

    Example:
        >>> from explorer.models.mlp import MLP
        >>> net = MLP((4,), (8, 8), 3, dropout=0.5); seed_dropout(net, 7)
        >>> a = net(torch.ones(1, 4)); seed_dropout(net, 7)
        >>> bool((net(torch.ones(1, 4)) == a).all())
        True
    """
    for i, layer in enumerate(dropouts(model)):
        layer.generators = [torch.Generator().manual_seed((seed + 7919 * i) % (2**63 - 1))]


@contextlib.contextmanager
def held_masks(model: nn.Module):
    """Within the block every dropout layer of ``model`` draws one mask and reuses it in every
    forward pass (one training step: the rule's backward and backprop's on the same batch).

    Example:
        >>> from explorer.models.mlp import MLP
        >>> net = MLP((4,), (16,), 3, dropout=0.5)
        >>> with held_masks(net):
        ...     same = bool((net(torch.ones(2, 4)) == net(torch.ones(2, 4))).all())
        >>> same
        True
    """
    layers = dropouts(model)
    for layer in layers:
        layer.hold, layer.held = True, None
    try:
        yield
    finally:
        for layer in layers:
            layer.hold, layer.held = False, None
