"""The learning-rule interface. A rule is a strategy applied to a network, never a copy of one.

A rule attaches its feedback matrices to the network (as buffers, so they are saved with it), and
for each batch fills ``.grad`` of every trainable parameter with the update of docs/algorithms.md:
``grad W_l = δ_l.T @ h_{l-1}``, the rules differing only in how ``δ_l`` is made. Each rule's math,
in a few lines of NumPy, is in `explorer.rules.reference` (``updates``; see
``explorer.rules.reference.bp`` for this module's rule).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from explorer.config import AlgorithmConfig, InitSpec
from explorer.rules.structure import Structure

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Rule:
    """Backpropagation (see explorer.rules.reference.bp), and the base every other rule overrides.
Also ``ntk``: backprop on the gated network that ``explorer.engine.build`` builds for it.

    Example:
        >>> from explorer.models import MLP
        >>> net = MLP((4,), (8,), 3)
        >>> rule = Rule(AlgorithmConfig("bp"), InitSpec())
        >>> rule.attach(net, Structure.of(net, (4,)), torch.Generator().manual_seed(0))
        >>> loss, _ = rule.backward(net, torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1]),
        ...                         torch.nn.functional.cross_entropy)
        >>> net.layers[0].weight.grad.shape
        torch.Size([8, 4])
    """

    def __init__(self, cfg: AlgorithmConfig, forward_init: InitSpec) -> None:
        self.cfg = cfg
        self.forward_init = forward_init
        self.structure: Structure | None = None
        self.generator: torch.Generator | None = None

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def trains_hidden(self) -> bool:
        """False when only the output layer learns (``train_hidden: false``, random features)."""
        return self.cfg.train_hidden

    def attach(self, model: nn.Module, structure: Structure, generator: torch.Generator) -> None:
        """Take charge of ``model`` and create its feedback matrices, drawn with ``generator``."""
        self.adopt(model, structure, generator)
        self.draw(model)

    def adopt(self, model: nn.Module, structure: Structure, generator: torch.Generator) -> None:
        """Take charge of ``model`` as it is: its feedback matrices are already there (a network
        stacked from seeds that were each attached on their own)."""
        self.structure = structure
        self.generator = generator

    def draw(self, model: nn.Module) -> None:
        """Create this rule's feedback matrices and other state on ``model``'s layers."""

    def backward(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward ``x``, fill ``.grad`` of the trainable parameters; return (loss, logits)."""
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        return loss, logits

    def on_epoch_start(self, model: nn.Module, epoch: int) -> None:
        """Called before each epoch (sign refresh at epoch boundaries)."""

    def after_step(self, model: nn.Module) -> None:
        """Called after every optimiser step (feedback that follows the new weights)."""

    def feedback_for(self, hidden: int) -> torch.Tensor | None:
        """The feedback matrix that shapes hidden layer ``hidden``'s teaching signal, if any."""
        return None

    def weight_alignment_target(self, hidden: int) -> torch.Tensor | None:
        """The forward path that layer's feedback matrix stands in for (docs/algorithms.md)."""
        return None


def set_feedback(layer: nn.Module, value: torch.Tensor, name: str = "feedback") -> None:
    """Register (or overwrite in place) a feedback buffer on ``layer``, on the layer's device."""
    value = value.to(device=layer.weight.device, dtype=layer.weight.dtype)
    if name in layer._buffers:
        layer._buffers[name].copy_(value)
    else:
        layer.register_buffer(name, value.contiguous())
