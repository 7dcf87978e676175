"""Several seeds of one MLP as one batched network: every weight gains a leading seed axis.

`StackedMLP.stack(mlps)` stacks S networks built (and initialised, and given their feedback
matrices) one by one, so each seed's slice starts exactly where its own run would. Inputs are
(S, batch, *features) and outputs (S, batch, C); every layer is a batched matrix product, so on a
GPU S small networks cost about as much as one.

Example:
    >>> from explorer.models import MLP
    >>> nets = [MLP((4,), (8,), 3) for _ in range(2)]
    >>> stacked = StackedMLP.stack(nets)
    >>> stacked(torch.zeros(2, 5, 4)).shape, stacked.layers[0].weight.shape
    (torch.Size([2, 5, 3]), torch.Size([2, 8, 4]))
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from explorer.models.dropout import Dropout
from explorer.models.mlp import MLP
from explorer.models.tap import Tap


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x @ W.T + b`` for a plain (out, in) weight or a stacked (S, out, in) one.

    Example:
        >>> linear(torch.ones(2, 3, 4), torch.ones(2, 5, 4), torch.zeros(2, 5)).shape
        torch.Size([2, 3, 5])
    """
    if weight.dim() == 2:
        return torch.nn.functional.linear(x, weight, bias)
    if bias is None:
        return torch.bmm(x, weight.transpose(1, 2))
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


class StackedLinear(nn.Module):
    """A linear layer per seed: weight (S, out, in), bias (S, out), inputs (S, batch, in)."""

    def __init__(self, layers: list[nn.Linear]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.stack([l.weight.detach() for l in layers]),
                                   requires_grad=layers[0].weight.requires_grad)
        self.bias = nn.Parameter(torch.stack([l.bias.detach() for l in layers]),
                                 requires_grad=layers[0].bias.requires_grad)
        for name in layers[0]._buffers:  # feedback matrices and other rule state, stacked alike
            self.register_buffer(name, torch.stack([l._buffers[name] for l in layers]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


class StackedMLP(nn.Module):
    """S MLPs of one shape as one module, ``layers.i`` in forward order like `MLP`."""

    def __init__(self, layers: list[StackedLinear], act: nn.Module, seeds: int,
                 drops: list[Dropout] | None = None) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.act = act
        self.drops = nn.ModuleList(drops if drops is not None else [Dropout(0.0) for _ in layers[:-1]])
        self.taps = nn.ModuleList(Tap() for _ in layers[:-1])
        self.seeds = seeds

    @classmethod
    def stack(cls, mlps: list[MLP]) -> StackedMLP:
        """One network whose seed axis holds ``mlps`` (which must share their shapes); each hidden
        layer's dropout draws seed s's mask from ``mlps[s]``'s own stream."""
        layers = [StackedLinear([m.layers[i] for m in mlps]) for i in range(len(mlps[0].layers))]
        drops = [Dropout(d.p, None if d.generators is None else [m.drops[i].generators[0] for m in mlps])
                 for i, d in enumerate(mlps[0].drops)]
        return cls(layers, copy.deepcopy(mlps[0].act), len(mlps), drops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(2)
        for layer, drop, tap in zip(self.layers, self.drops, self.taps):
            h = tap(drop(self.act(layer(h)), seeds=self.seeds))
        return self.layers[-1](h)

    def seed(self, s: int) -> dict[str, torch.Tensor]:
        """Seed ``s``'s slice of every parameter and buffer, keyed like a single MLP's state_dict."""
        return {k: v[s] for k, v in self.state_dict().items()}
