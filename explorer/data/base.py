"""A dataset as tensors on one device: train and test splits, already normalised."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Dataset:
    """Inputs ``x_*`` (N, *input_shape) float32 and labels ``y_*`` (N,) int64, all on one device.

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

    def to(self, device: torch.device | str) -> Dataset:
        return Dataset(self.name, self.x_train.to(device), self.y_train.to(device),
                       self.x_test.to(device), self.y_test.to(device), self.num_classes)


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
