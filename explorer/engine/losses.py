"""Losses (averaged over the batch) and accuracy for each loss's output convention.

Example:
    >>> import torch
    >>> loss = make_loss("bce", num_classes=2)
    >>> round(loss(torch.zeros(2, 1), torch.tensor([0, 1])).item(), 4)
    0.6931
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def make_loss(name: str, num_classes: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """cross_entropy (C logits), bce (one logit, labels 0/1) or mse (C outputs vs one-hot labels;
    float targets shaped like the output are used as they are, for regression)."""
    if name == "cross_entropy":
        return F.cross_entropy
    if name == "bce":
        return lambda out, y: F.binary_cross_entropy_with_logits(out.squeeze(1), y.to(out.dtype))
    if name == "mse":
        def mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            target = y if y.is_floating_point() else F.one_hot(y, num_classes).to(out.dtype)
            return F.mse_loss(out, target)
        return mse
    raise ValueError(f"unknown loss {name!r}")


def hits(name: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Which predictions are right, a bool per sample (shaped like ``y``), on the device.

    Example:
        >>> hits("cross_entropy", torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([1, 1])).tolist()
        [True, False]
    """
    if name == "bce":
        return (out.squeeze(-1) > 0).long() == y
    return out.argmax(-1) == y


def correct(name: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """How many predictions are right, as a device tensor (no host sync). With a leading seed axis
    (out: (S, batch, outputs)) it counts per seed.

    Example:
        >>> correct("cross_entropy", torch.tensor([[[0.0, 1.0]], [[1.0, 0.0]]]), torch.tensor([[1], [1]])).tolist()
        [1, 0]
    """
    right = hits(name, out, y)
    return right.sum(-1) if out.dim() == 3 else right.sum()


def per_seed_loss(name: str, num_classes: int, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each seed's own mean loss, (S,), for outputs (S, batch, outputs) and targets (S, batch[, …]).

    Example:
        >>> out, y = torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long)
        >>> per_seed_loss("cross_entropy", 4, out, y).tolist() == [F.cross_entropy(out[0], y[0]).item()] * 2
        True
    """
    if name == "cross_entropy":
        return F.cross_entropy(out.transpose(1, 2), y, reduction="none").mean(1)
    if name == "bce":
        return F.binary_cross_entropy_with_logits(out.squeeze(-1), y.to(out.dtype), reduction="none").mean(1)
    target = y if y.is_floating_point() else F.one_hot(y, num_classes).to(out.dtype)
    return ((out - target) ** 2).flatten(1).mean(1)


def output_units(name: str, num_classes: int) -> int:
    """One logit for bce, one output per class otherwise."""
    return 1 if name == "bce" else num_classes
