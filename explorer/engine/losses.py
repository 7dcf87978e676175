"""Losses (averaged over the batch) and accuracy for each loss's output convention.

``bce_multi`` is C sigmoid outputs against one-hot targets, the binary cross-entropy averaged (or,
with ``train.reduction`` "sum", summed) over every sample and unit, like torch's
``binary_cross_entropy_with_logits``; its output error is (sigmoid(a) - one-hot) / (N·C), or
sigmoid(a) - one-hot summed. ``mse_sigmoid`` is C sigmoid outputs against one-hot targets, the
squared error averaged (or summed) over every sample and unit, like ``F.mse_loss(sigmoid(a), t)``:
the quadratic cost of a sigmoid output layer; its output error is 2 (σ(a) - t) σ(a) (1 - σ(a)) / (N·C).
Accuracy takes the argmax of the outputs, whatever the loss (σ keeps their order). A summed loss is the mean times the terms it averages
(`with_reduction`), so every rule's output error e = dℓ/da scales with it.

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
    """cross_entropy (C logits), bce (one logit, labels 0/1), bce_multi (C sigmoid outputs vs one-hot
    labels), mse (C outputs vs one-hot labels; float targets shaped like the output are used as
    they are, for regression) or mse_sigmoid (C sigmoid outputs vs one-hot labels, squared error).

    Example:
        >>> round(make_loss("mse_sigmoid", 2)(torch.zeros(1, 2), torch.tensor([0])).item(), 4)  # (0.5² + 0.5²) / 2
        0.25
    """
    if name == "cross_entropy":
        return F.cross_entropy
    if name == "bce":
        return lambda out, y: F.binary_cross_entropy_with_logits(out.squeeze(1), y.to(out.dtype))
    if name == "bce_multi":
        return lambda out, y: F.binary_cross_entropy_with_logits(out, F.one_hot(y, num_classes).to(out.dtype))
    if name == "mse":
        def mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            target = y if y.is_floating_point() else F.one_hot(y, num_classes).to(out.dtype)
            return F.mse_loss(out, target)
        return mse
    if name == "mse_sigmoid":
        return lambda out, y: F.mse_loss(torch.sigmoid(out), F.one_hot(y, num_classes).to(out.dtype))
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
    if name == "bce_multi":
        target = F.one_hot(y, num_classes).to(out.dtype)
        return F.binary_cross_entropy_with_logits(out, target, reduction="none").flatten(1).mean(1)
    target = y if y.is_floating_point() else F.one_hot(y, num_classes).to(out.dtype)
    if name == "mse_sigmoid":
        out = torch.sigmoid(out)
    return ((out - target) ** 2).flatten(1).mean(1)


def output_units(name: str, num_classes: int) -> int:
    """One logit for bce, one output per class otherwise (bce_multi: one sigmoid unit per class)."""
    return 1 if name == "bce" else num_classes


def mean_terms(name: str, out: torch.Tensor) -> int:
    """How many terms one run's mean loss averages over: its samples for cross_entropy and bce, its
    samples × outputs for bce_multi, mse and mse_sigmoid. ``out`` is (batch, outputs), or (S, batch, outputs)
    for S stacked seeds.

    Example:
        >>> mean_terms("cross_entropy", torch.zeros(8, 10)), mean_terms("bce_multi", torch.zeros(3, 8, 10))
        (8, 80)
    """
    shape = out.shape[1:] if out.dim() == 3 else out.shape
    return shape[0] if name in ("cross_entropy", "bce") else shape.numel()


def with_reduction(loss_fn: Callable, name: str, reduction: str) -> Callable:
    """``loss_fn`` (a mean, or stacked seeds' sum of means) as ``reduction``: "mean" leaves it, "sum"
    multiplies each run's mean by its `mean_terms`. The summed function keeps the mean as ``.mean``;
    wrapping it again changes nothing.

    Example:
        >>> out, y = torch.tensor([[0.0, 1.0], [2.0, 0.0]]), torch.tensor([1, 1])
        >>> summed = with_reduction(make_loss("cross_entropy", 2), "cross_entropy", "sum")
        >>> torch.isclose(summed(out, y), F.cross_entropy(out, y, reduction="sum")).item(), summed.reduction
        (True, 'sum')
    """
    if reduction == getattr(loss_fn, "reduction", "mean"):
        return loss_fn
    if reduction != "sum":
        raise ValueError(f"unknown reduction {reduction!r}")

    def summed(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return loss_fn(out, y) * mean_terms(name, out)

    summed.reduction, summed.mean = "sum", loss_fn
    return summed


def mean_loss(loss_fn: Callable) -> Callable:
    """The mean behind a loss function that `with_reduction` summed (the function itself otherwise):
    what records report, whatever the reduction trained with."""
    return getattr(loss_fn, "mean", loss_fn)
