"""A dataset as tensors on one device: train and test splits, already normalised."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch


@dataclass
class Dataset:
    """Inputs ``x_*`` (N, *input_shape) float32 and labels ``y_*`` (N,) int64, all on one device.
    For regression tasks ``y_*`` are float targets (N, outputs) and ``num_classes`` is 0.

    Example:
        >>> d = Dataset("toy", torch.zeros(4, 2), torch.tensor([0, 1, 0, 1]),
        ...             torch.zeros(2, 2), torch.tensor([0, 1]), num_classes=2)
        >>> d.input_shape, d.num_train
        ((2,), 4)
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_train(self) -> int:
        return self.x_train.shape[0]

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    @property
    def regression(self) -> bool:
        """True when the targets are real vectors (``y`` float, shape (N, outputs)), not labels."""
        return self.y_train.is_floating_point()

    def to(self, device: torch.device | str) -> Dataset:
        """This dataset with all of its tensors on ``device`` (itself if they are there already)."""
        if self.x_train.device == torch.device(device):
            return self
        moved = copy.copy(self)
        for key, value in vars(self).items():
            if torch.is_tensor(value):
                setattr(moved, key, value.to(device))
        return moved

    def resample(self, epoch: int) -> None:
        """Called by the trainer before every epoch after the first (1, 2, …; the dataset as built
        is epoch 0's). Datasets drawn afresh each epoch (the parity task) replace their train and
        test tensors here; others keep them."""

    def probe(self, n: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """A fixed set of up to ``n`` test samples, the same at every call: (x, y, extras).
        ``extras`` holds per-sample tensors that describe the inputs (parity: ``slot_digits``)."""
        return self.x_test[:n], self.y_test[:n], {}


def standardise(x_train: torch.Tensor, x_test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Subtract the train set's per-feature mean and divide by its overall standard deviation.

    Example:
        >>> a, b = standardise(torch.tensor([[0.0], [2.0]]), torch.tensor([[1.0]]))
        >>> b.item()
        0.0
    """
    mean = x_train.mean(0, keepdim=True)
    scale = (x_train - mean).std().clamp_min(1e-8)
    return (x_train - mean) / scale, (x_test - mean) / scale
