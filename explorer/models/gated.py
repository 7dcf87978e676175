"""The gated linear network of the NTK regime (``ntk``, docs/algorithms.md), trained by plain backprop.

One hidden layer whose ReLU pattern is frozen at initialisation: a copy ``W⁰, b⁰`` of the first
layer, taken once its weights are drawn, decides which units are on; the live weights decide
their value,

    h = (x @ W.T + b) ⊙ 1[x @ W⁰.T + b⁰ > 0]

The copy is kept on the first layer as the buffers ``weight0`` and ``bias0`` (saved with the
network, never trained). Layer names and the tap are those of `MLP`, so everything that reads an
MLP's layers or hidden representation reads this network the same way.

Example:
    >>> net = GatedMLP((4,), (8,), 3)
    >>> net(torch.zeros(5, 4)).shape, sorted(net.layers[0]._buffers)
    (torch.Size([5, 3]), ['bias0', 'weight0'])
"""

from __future__ import annotations

import torch
from torch import nn

from explorer.config import ConfigError
from explorer.models.mlp import MLP
from explorer.models.stacked import StackedMLP, linear


def gated_forward(net: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """Logits of a gated network (single or stacked) for flattened inputs ``h``.

    Example:
        >>> net = GatedMLP((2,), (1,), 1)
        >>> with torch.no_grad():
        ...     _ = net.layers[0].weight.fill_(1.0), net.layers[0].bias.zero_()
        ...     _ = net.layers[1].weight.fill_(1.0), net.layers[1].bias.zero_()
        ...     net.freeze_gates()
        ...     _ = net.layers[0].weight.fill_(-2.0)   # the live weights move on; the gate stays
        >>> gated_forward(net, torch.tensor([[1.0, 1.0], [-1.0, -1.0]])).tolist()  # [-4·1, 4·0]
        [[-4.0], [0.0]]
    """
    first, output = net.layers
    gate = linear(h, first.weight0, first.bias0) > 0
    return output(net.taps[0](first(h) * gate))


class GatedMLP(MLP):
    """`MLP` with one hidden layer whose activation is the gate of its frozen initial copy.

    Build it, draw its weights, then call `freeze_gates` (``explorer.engine.build`` does).
    """

    def __init__(self, input_shape: tuple[int, ...], hidden: tuple[int, ...], outputs: int) -> None:
        if len(hidden) != 1:
            raise ConfigError(f"model.hidden: the gated linear network has one hidden layer, got {list(hidden)}",
                              field="model.hidden")
        super().__init__(input_shape, hidden, outputs, "linear")  # the gate stands in for the activation
        first = self.layers[0]
        first.register_buffer("weight0", first.weight.detach().clone())
        first.register_buffer("bias0", first.bias.detach().clone())

    @torch.no_grad()
    def freeze_gates(self) -> None:
        """Copy the first layer's current weight and bias into the gate (after initialisation)."""
        first = self.layers[0]
        first.weight0.copy_(first.weight)
        first.bias0.copy_(first.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gated_forward(self, x.flatten(1))


class StackedGatedMLP(StackedMLP):
    """S gated networks of one shape as one module (see `StackedMLP`): the gate buffers are stacked too.

    Example:
        >>> stacked = StackedGatedMLP.stack([GatedMLP((4,), (8,), 3) for _ in range(2)])
        >>> stacked(torch.zeros(2, 5, 4)).shape, stacked.layers[0].weight0.shape
        (torch.Size([2, 5, 3]), torch.Size([2, 8, 4]))
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gated_forward(self, x.flatten(2))
