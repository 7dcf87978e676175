"""Lazy baselines for the parity task (docs/algorithms.md): networks whose hidden layer does not learn
features.

- ``rf``, random features: the hidden layer keeps its initial weights, only the output layer learns.
  Variants: ``gaussian`` (``W_1 ~ N(0, 1/n_0)``, ReLU), ``relu`` (the forward initialiser, ReLU),
  ``linear`` (the forward initialiser, no non-linearity).
- ``ntk``, the gated linear network of the NTK regime: ``h_1 = (x @ W_1.T + b_1) ⊙ 1[x @ W_1⁰.T + b_1⁰ > 0]``
  with ``W_1⁰, b_1⁰`` a frozen copy taken at initialisation (buffers ``weight0``, ``bias0``); every
  weight learns by backprop.
"""

from __future__ import annotations

import math
import types

import torch
from torch import nn

from explorer.models.stacked import linear
from explorer.rules.base import Rule, set_feedback


class RandomFeatures(Rule):
    """``rf``: only the output layer learns.

    Example:
        >>> from explorer.engine.build import build
        >>> b = build({"model": {"hidden": [32], "activation": "relu"}, "algorithm": {"name": "rf"},
        ...            "device": "cpu"})
        >>> [n for n, p in b.model.named_parameters() if p.requires_grad]
        ['layers.1.weight', 'layers.1.bias']
    """

    @property
    def trains_hidden(self) -> bool:
        return False

    def draw(self, model) -> None:
        if self.cfg.variant == "gaussian":
            generator, first = self.generator, self.structure.layers[0]
            fan_in = first.weight.shape[1]
            w = torch.randn(tuple(first.weight.shape), generator=generator) / math.sqrt(fan_in)
            with torch.no_grad():
                first.weight.copy_(w)


def _gated_forward(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    gate = linear(x, layer.weight0, layer.bias0) > 0
    return linear(x, layer.weight, layer.bias) * gate


class GatedLinear(Rule):
    """``ntk``: the hidden layer's ReLU is replaced by the gates of its frozen initial copy.

    Example:
        >>> from explorer.engine.build import build
        >>> b = build({"model": {"hidden": [8], "activation": "relu"}, "algorithm": {"name": "ntk"},
        ...            "device": "cpu"})
        >>> bool(torch.equal(b.model.layers[0].weight0, b.model.layers[0].weight.detach()))
        True
    """

    def draw(self, model) -> None:
        first = self.structure.layers[0]
        set_feedback(first, first.weight.detach().clone(), "weight0")
        set_feedback(first, first.bias.detach().clone(), "bias0")
        first.forward = types.MethodType(_gated_forward, first)
        model.act = nn.Identity()  # one hidden layer (checked by the config): its gate replaces the ReLU
