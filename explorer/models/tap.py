"""`Tap`: the marker a network places on each hidden representation.

A tap is the identity. It marks where a hidden layer's output, after its activation (and pooling),
becomes the next layer's input. Learning rules that cut the graph between layers (the DFA family)
and code that reads hidden representations hook in here; the network itself knows no rule.

Example:
    >>> import torch
    >>> tap = Tap()
    >>> tap(torch.ones(2)).tolist()
    [1.0, 1.0]
    >>> tap.handler = lambda tap, h: 2 * h
    >>> tap(torch.ones(2)).tolist()
    [2.0, 2.0]
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class Tap(nn.Module):
    """Identity, unless a handler is set: then ``forward(h)`` returns ``handler(self, h)``."""

    def __init__(self) -> None:
        super().__init__()
        self.handler: Callable[[Tap, torch.Tensor], torch.Tensor] | None = None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h if self.handler is None else self.handler(self, h)


def activation(name: str) -> nn.Module:
    """The activation module for a config name: relu, tanh, sigmoid or linear (identity).

    Example:
        >>> activation("tanh")
        Tanh()
    """
    return {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "linear": nn.Identity}[name]()
