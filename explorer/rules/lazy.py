"""Lazy baselines for the parity task (docs/algorithms.md): networks whose hidden layer does not learn
features.

- ``rf``, random features (`RandomFeatures`; the math: ``explorer.rules.reference.random_features``):
  the hidden layer keeps its initial weights, only the output layer learns. Variants: ``gaussian``
  (``W_1 ~ N(0, 1/n_0)``, ReLU), ``relu`` (the forward initialiser, ReLU), ``linear`` (the forward
  initialiser, no non-linearity).
- ``ntk`` is no rule of its own: it is backprop (`Rule`) on the gated linear network
  `explorer.models.gated.GatedMLP` (the math: ``explorer.rules.reference.ntk``).
"""

from __future__ import annotations

import math

import torch

from explorer.rules.base import Rule


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
