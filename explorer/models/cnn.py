"""Convolutional networks of the FA literature, built from one generic `ConvNet`.

- ``tutorial_cnn``: PyTorch's tutorial net, conv 6 and 16 (5×5), 2×2 max-pool (optional), FC 120-84.
- ``lenet5``: LeCun's LeNet-5, conv 6 (padded) / 16 / 120 (5×5), 2×2 average pools, FC 84.
- ``cifar_cnn``: Nøkland's CIFAR net, 5×5 convs with 96/128/256 channels, each followed by a
  3×3 stride-2 max-pool, FC 2048-2048.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from explorer.models.dropout import Dropout
from explorer.models.tap import Tap, activation


@dataclass(frozen=True)
class ConvSpec:
    channels: int
    kernel: int = 5
    padding: int = 0
    pool: str | None = None  # "max2", "avg2" or "max3s2"


def _pool(kind: str | None) -> nn.Module:
    if kind is None:
        return nn.Identity()
    return {"max2": lambda: nn.MaxPool2d(2), "avg2": lambda: nn.AvgPool2d(2),
            "max3s2": lambda: nn.MaxPool2d(3, stride=2, padding=1)}[kind]()


class ConvNet(nn.Module):
    """Conv blocks (conv → activation → pool → tap), then FC hidden layers (FC → activation →
    dropout, with ``dropout`` p > 0 → tap), then the output layer.

    Example:
        >>> net = ConvNet((1, 28, 28), [ConvSpec(4, pool="max2")], fc=(16,), outputs=10)
        >>> net(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self, input_shape: tuple[int, ...], convs: list[ConvSpec], fc: tuple[int, ...],
                 outputs: int, activation_name: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        channels = [input_shape[0]] + [c.channels for c in convs]
        self.convs = nn.ModuleList(nn.Conv2d(a, c.channels, c.kernel, padding=c.padding)
                                   for a, c in zip(channels, convs))
        self.pools = nn.ModuleList(_pool(c.pool) for c in convs)
        self.act = activation(activation_name)
        with torch.no_grad():
            flat = self._features(torch.zeros(1, *input_shape)).numel()
        sizes = [flat, *fc, outputs]
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.drops = nn.ModuleList(Dropout(dropout) for _ in fc)
        self.taps = nn.ModuleList(Tap() for _ in range(len(convs) + len(fc)))

    def _features(self, x: torch.Tensor, taps=None) -> torch.Tensor:
        for i, (conv, pool) in enumerate(zip(self.convs, self.pools)):
            x = pool(self.act(conv(x)))
            if taps is not None:
                x = taps[i](x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self._features(x, self.taps).flatten(1)
        for fc, drop, tap in zip(self.fcs, self.drops, self.taps[len(self.convs):]):
            h = tap(drop(self.act(fc(h))))
        return self.fcs[-1](h)


def tutorial_cnn(input_shape, outputs, activation_name="relu", pool=True, dropout=0.0) -> ConvNet:
    """PyTorch's tutorial CNN (with or without its max-pools)."""
    p = "max2" if pool else None
    return ConvNet(input_shape, [ConvSpec(6, pool=p), ConvSpec(16, pool=p)], (120, 84), outputs, activation_name,
                   dropout)


def lenet5(input_shape, outputs, activation_name="tanh", dropout=0.0) -> ConvNet:
    """LeNet-5 (1998): C1 6@5×5 padded, S2 avg-pool, C3 16@5×5, S4 avg-pool, C5 120@5×5, F6 84."""
    convs = [ConvSpec(6, padding=2, pool="avg2"), ConvSpec(16, pool="avg2"), ConvSpec(120)]
    return ConvNet(input_shape, convs, (84,), outputs, activation_name, dropout)


def cifar_cnn(input_shape, outputs, activation_name="relu", dropout=0.0) -> ConvNet:
    """The CIFAR network of the FA/DFA papers: 96/128/256 5×5 convs, 3×3/2 max-pools, FC 2048-2048."""
    convs = [ConvSpec(c, padding=2, pool="max3s2") for c in (96, 128, 256)]
    return ConvNet(input_shape, convs, (2048, 2048), outputs, activation_name, dropout)
