"""The multi-layer perceptron: ``layers.0 … layers.{L-1}``, one activation, dropout (``drops``, none
by default) and a tap per hidden layer."""

from __future__ import annotations

import math

import torch
from torch import nn

from explorer.models.dropout import Dropout
from explorer.models.tap import Tap, activation


class MLP(nn.Module):
    """Fully connected network of any depth; inputs are flattened first. With ``dropout`` p > 0 each
    hidden activation goes through `Dropout` before its tap.

    Example:
        >>> net = MLP((1, 8, 8), hidden=(32, 16), outputs=10, activation_name="relu")
        >>> net(torch.zeros(5, 1, 8, 8)).shape
        torch.Size([5, 10])
        >>> [k for k in net.state_dict()][:2]
        ['layers.0.weight', 'layers.0.bias']
    """

    def __init__(self, input_shape: tuple[int, ...], hidden: tuple[int, ...], outputs: int,
                 activation_name: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        sizes = [math.prod(input_shape), *hidden, outputs]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = activation(activation_name)
        self.drops = nn.ModuleList(Dropout(dropout) for _ in hidden)
        self.taps = nn.ModuleList(Tap() for _ in hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)
        for layer, drop, tap in zip(self.layers, self.drops, self.taps):
            h = tap(drop(self.act(layer(h))))
        return self.layers[-1](h)
