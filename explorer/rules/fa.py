"""The feedback-alignment family: fa (Lillicrap), usf, frsf, brsf and fa with a sign refresh.

The math: explorer.rules.reference.fa, .usf, .frsf and .brsf (a few lines of NumPy each).

Each layer after the first carries a fixed matrix ``feedback`` shaped like its weight. During the
rule's forward pass the layer runs through an autograd function whose backward sends the error to
the layer below through ``feedback`` instead of the weight, so ``δ_l = (δ_{l+1} @ B_{l+1}) ⊙ f'(a_l)``
while the weight's own gradient stays ``δ.T @ h``. Skip connections and BatchNorm keep their
ordinary backward.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from explorer.config import ConfigError
from explorer.rules import init as initialisers
from explorer.models.stacked import linear
from explorer.rules.base import Rule, set_feedback


class LinearFA(torch.autograd.Function):
    """``x @ W.T + b`` whose input-gradient uses B in place of W."""

    @staticmethod
    def forward(ctx, x, weight, bias, feedback):
        ctx.save_for_backward(x, feedback)
        ctx.has_bias = bias is not None
        return linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad_out):
        # (batch, features), or (seed, batch, features) with (seed, out, in) weights
        x, feedback = ctx.saved_tensors
        grad_x = grad_out @ feedback if ctx.needs_input_grad[0] else None
        grad_w = grad_out.transpose(-1, -2) @ x
        grad_b = grad_out.sum(-2) if ctx.has_bias else None
        return grad_x, grad_w, grad_b, None


class Conv2dFA(torch.autograd.Function):
    """A convolution whose input-gradient is the convolution's input-gradient with B as the kernel."""

    @staticmethod
    def forward(ctx, x, weight, bias, feedback, stride, padding, dilation, groups):
        ctx.save_for_backward(x, feedback)
        ctx.conf = (stride, padding, dilation, groups, bias is not None)
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad_out):
        x, feedback = ctx.saved_tensors
        stride, padding, dilation, groups, has_bias = ctx.conf
        mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], has_bias and ctx.needs_input_grad[2]]
        bias_sizes = [feedback.shape[0]] if has_bias else None
        grad_x, grad_w, grad_b = torch.ops.aten.convolution_backward(
            grad_out, x, feedback, bias_sizes, stride, padding, dilation, False, [0, 0], groups, mask)
        return grad_x, grad_w, grad_b, None, None, None, None, None


def _fa_forward(layer: nn.Module):
    if not isinstance(layer, nn.Conv2d):  # nn.Linear or a StackedLinear
        return lambda x: LinearFA.apply(x, layer.weight, layer.bias, layer.feedback)
    if layer.padding_mode != "zeros":
        raise ConfigError("model: feedback alignment supports zero-padded convolutions only", field="model")
    return lambda x: Conv2dFA.apply(x, layer.weight, layer.bias, layer.feedback, layer.stride,
                                    layer.padding, layer.dilation, layer.groups)


@contextlib.contextmanager
def feedback_forward(layers):
    """Within the block, ``layers`` run forward through their feedback matrices' autograd function."""
    for layer in layers:
        layer.forward = _fa_forward(layer)  # an instance attribute shadows the class's forward
    try:
        yield
    finally:
        for layer in layers:
            del layer.forward


class FeedbackAlignment(Rule):
    """fa, usf, frsf, brsf (see explorer.rules.reference.fa); which one is ``cfg.name`` (+ ``sign_refresh``).

    Example:
        >>> from explorer.config import AlgorithmConfig, InitSpec
        >>> from explorer.models import MLP
        >>> from explorer.rules.structure import Structure
        >>> net = MLP((4,), (8,), 3)
        >>> rule = FeedbackAlignment(AlgorithmConfig("fa"), InitSpec())
        >>> rule.attach(net, Structure.of(net, (4,)), torch.Generator().manual_seed(0))
        >>> net.layers[1].feedback.shape == net.layers[1].weight.shape
        True
    """

    def __init__(self, cfg, forward_init) -> None:
        super().__init__(cfg, forward_init)
        self.refresh = {"frsf": "step", "brsf": "step", "usf": "step"}.get(cfg.name, cfg.sign_refresh)
        self.feedback_init = cfg.feedback_init or initialisers.InitSpec("default")
        self.sign_concordant = self.refresh is not None or self.feedback_init.name == "sign_concordant"
        self.step_generator: torch.Generator | None = None
        self._signed_at: list = []

    @property
    def fed_layers(self) -> list[nn.Module]:
        return self.structure.layers[1:]  # the first layer's input is the data: nothing to send back

    def draw(self, model) -> None:
        generator = self.generator
        for layer in self.fed_layers:
            shape = tuple(layer.weight.shape)
            if self.name == "usf":
                scale = self.cfg.scale if self.cfg.scale is not None else initialisers.std(self.forward_init, shape)
                if scale == 0:
                    raise ConfigError("algorithm.scale: the forward initialiser "
                                      f"'{self.forward_init.name}' has standard deviation 0; set a scale",
                                      field="algorithm.scale")
                set_feedback(layer, torch.full(shape, scale), "feedback_magnitude")
            elif self.refresh in ("epoch", "step"):
                set_feedback(layer, self._magnitude(shape), "feedback_magnitude")
            if self.sign_concordant:
                magnitude = getattr(layer, "feedback_magnitude", None)
                if magnitude is None:
                    magnitude = self._magnitude(shape).to(layer.weight.device)
                set_feedback(layer, magnitude * torch.sign(layer.weight.detach()))
            else:
                set_feedback(layer, initialisers.draw(self.feedback_init, shape, generator))
        if self.refresh in ("epoch", "step"):
            self._signed_at = self._versions()

    def _magnitude(self, shape, generator=None, out: torch.Tensor | None = None) -> torch.Tensor:
        spec = self.feedback_init.inner if self.feedback_init.name == "sign_concordant" else self.feedback_init
        return initialisers.draw(spec or initialisers.InitSpec("default"), shape, generator or self.generator,
                                 out=out).abs_()

    def _resign(self) -> None:
        """B = |R| ⊙ sign(W) for the current W (R fixed in ``feedback_magnitude``)."""
        with torch.no_grad():
            for layer in self.fed_layers:
                torch.sign(layer.weight, out=layer.feedback).mul_(layer.feedback_magnitude)  # two passes, not three
        self._signed_at = self._versions()

    def _versions(self) -> list[int]:
        # A tensor's version counter moves with every in-place change: optimiser steps,
        # load_state_dict, a user's own edit.
        return [(layer.weight._version, layer.feedback_magnitude._version) for layer in self.fed_layers]

    def backward(self, model, x, y, loss_fn):
        if not self.trains_hidden:
            return super().backward(model, x, y, loss_fn)
        if self.refresh == "step" and self._versions() != self._signed_at:
            self._resign()  # B always follows the W it is applied to
        with feedback_forward(self.fed_layers):
            logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        return loss, logits

    def on_epoch_start(self, model, epoch) -> None:
        if self.refresh == "epoch":
            self._resign()

    def after_step(self, model) -> None:
        """Step refresh: B follows the new W at once (so the stored feedback is always the B the
        next update will use); brsf first draws a fresh magnitude, on the device (no host work)."""
        if self.name == "brsf":
            if self.step_generator is None:
                device = self.fed_layers[0].weight.device
                self.step_generator = torch.Generator(device).manual_seed(int(
                    torch.randint(2**62, (1,), generator=self.generator)))
            with torch.no_grad():  # drawn in place: on a CPU the random numbers are most of the cost (README)
                for layer in self.fed_layers:
                    self._magnitude(tuple(layer.weight.shape), self.step_generator, out=layer.feedback_magnitude)
        if self.refresh == "step":
            self._resign()

    def feedback_for(self, hidden):
        return self.structure.layers[hidden + 1].feedback if self.structure.is_chain else None

    def weight_alignment_target(self, hidden):
        return self.structure.layers[hidden + 1].weight if self.structure.is_chain else None
