"""What a rule needs to know about a network, read off one forward pass.

The learnable maps (``nn.Linear`` / ``nn.Conv2d``) in the order the forward pass calls them (the
last one is the output layer), and the taps: where each hidden representation is handed on, with
the layer that produced it (its *owner*: the last learnable map called before the tap).

Example:
    >>> from explorer.models import MLP
    >>> s = Structure.of(MLP((4,), (8, 6), 3), (4,))
    >>> s.names, s.tap_owner
    (['layers.0', 'layers.1', 'layers.2'], [0, 1])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from explorer.models import Tap
from explorer.models.stacked import StackedLinear

LEARNABLE = (nn.Linear, nn.Conv2d, StackedLinear)


@dataclass
class Structure:
    names: list[str]                  # learnable layers, forward order
    layers: list[nn.Module]
    out_shapes: list[tuple[int, ...]]  # per-sample output shape of each layer
    taps: list[Tap]
    tap_owner: list[int]               # index into layers
    tap_shapes: list[tuple[int, ...]]  # per-sample shape at each tap
    is_chain: bool                     # every layer's input is the previous layer's tap (MLP, ConvNet)
    lead_dims: int = 1                 # axes before a sample's features: (batch,) or (seed, batch)

    @property
    def hidden(self) -> list[int]:
        return list(range(len(self.layers) - 1))

    @property
    def output(self) -> nn.Module:
        return self.layers[-1]

    @classmethod
    def of(cls, model: nn.Module, input_shape: tuple[int, ...]) -> Structure:
        names = {m: n for n, m in model.named_modules()}
        calls: list[tuple[nn.Module, tuple[int, ...]]] = []

        lead = (model.seeds, 2) if hasattr(model, "seeds") else (2,)  # a StackedMLP has a seed axis

        def record(module, _inputs, output):
            calls.append((module, tuple(output.shape[len(lead):])))

        hooks = [m.register_forward_hook(record) for m in model.modules()
                 if isinstance(m, (*LEARNABLE, Tap))]
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                param = next(model.parameters())
                model(torch.zeros(*lead, *input_shape, device=param.device, dtype=param.dtype))
        finally:
            for h in hooks:
                h.remove()
            model.train(was_training)
        layers, out_shapes, taps, owners, tap_shapes = [], [], [], [], []
        for module, shape in calls:
            if isinstance(module, Tap):
                taps.append(module)
                owners.append(len(layers) - 1)
                tap_shapes.append(shape)
            else:
                layers.append(module)
                out_shapes.append(shape)
        chain = len(taps) == len(layers) - 1 and owners == list(range(len(taps)))
        return cls([names[m] for m in layers], layers, out_shapes, taps, owners, tap_shapes, chain, len(lead))
