"""The direct-feedback family: dfa, sdfa, ssdfa, bdfa, fp, and ifa.

The math: explorer.rules.reference.dfa, .sdfa, .bdfa, .fp and .ifa (a few lines of NumPy each).

The graph is cut at every tap: a hidden layer's output is handed on detached, so nothing flows
back through the forward weights (DFA never pays for the ``W.T`` chain). Each tap then receives a
teaching signal directly, ``(source @ B_l)`` reshaped like the tap, and autograd carries it
through the layer's own activation (and pooling) to its weights, which gives
``δ_l = (source @ B_l) ⊙ f'(a_l)``. The rules differ only in each layer's *source*:

- dfa / sdfa / ssdfa: the output error ``e`` for every layer;
- bdfa: ``e`` for the block nearest the output, then the ``δ`` of the input-most layer of the block above;
- fp: the top ``k`` hidden layers take the backprop signal, the rest the ``δ`` at depth ``k``;
- ifa: layer 1 takes ``e @ B_1``, layer ``l > 1`` takes ``δ_{l-1} @ W_l.T`` (the error runs forward).

Where every source lies above the taps it teaches (all rules but ifa), one autograd pass does it
all: the source tensor goes through `_Inject`, the identity, whose backward also hands each tap it
feeds ``δ_source @ B``. ifa's error runs forward, against autograd's order, so it goes in stages:
the signals whose sources are ready are sent in one autograd call, then the next.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from explorer.rules import init as initialisers
from explorer.config import ConfigError, InitSpec
from explorer.rules.base import Rule, set_feedback

OUTPUT = -1  # the source index that stands for the output error e


@dataclass(frozen=True)
class Signal:
    kind: str        # "feedback": source @ B; "backprop": from the layer above; "forward": ifa
    source: int = OUTPUT  # for "feedback": the tap whose owner's δ is the source (or OUTPUT)


def plan(rule: str, taps: int, block_size: int | None = None, bp_depth: int | None = None) -> list[Signal]:
    """Each tap's teaching signal, taps numbered 0 (input side) … taps-1 (output side).

    Example:
        >>> [s.source for s in plan("bdfa", 5, block_size=2)]
        [1, 3, 3, -1, -1]
        >>> [s.kind for s in plan("fp", 3, bp_depth=1)]
        ['feedback', 'feedback', 'backprop']
    """
    if rule in ("dfa", "sdfa", "ssdfa"):
        return [Signal("feedback")] * taps
    if rule == "bdfa":
        signals = []
        for t in range(taps):
            block = (taps - 1 - t) // block_size  # 0 = the block nearest the output
            source = OUTPUT if block == 0 else taps - block * block_size  # input-most tap of block above
            signals.append(Signal("feedback", source))
        return signals
    if rule == "fp":
        source = OUTPUT if bp_depth == 0 else taps - bp_depth
        return [Signal("backprop") if t >= taps - bp_depth else Signal("feedback", source)
                for t in range(taps)]
    if rule == "ifa":
        return [Signal("feedback")] + [Signal("forward")] * (taps - 1)
    raise ValueError(f"no direct-feedback plan for rule {rule!r}")


class DirectFeedback(Rule):
    """Runs a `plan` over the network's taps; the feedback of tap t sits on the layer that owns it
    (see explorer.rules.reference.dfa, .bdfa, .fp, .ifa).

    Example:
        >>> from explorer.config import AlgorithmConfig
        >>> from explorer.models import MLP
        >>> from explorer.rules.structure import Structure
        >>> net = MLP((4,), (8, 6), 3)
        >>> rule = DirectFeedback(AlgorithmConfig("dfa"), InitSpec())
        >>> rule.attach(net, Structure.of(net, (4,)), torch.Generator().manual_seed(0))
        >>> tuple(net.layers[0].feedback.shape), tuple(net.layers[1].feedback.shape)
        ((3, 8), (3, 6))
    """

    def adopt(self, model, structure, generator) -> None:
        super().adopt(model, structure, generator)
        cfg, taps = self.cfg, len(structure.taps)
        if cfg.name == "bdfa" and not structure.is_chain:
            raise ConfigError("algorithm.name: 'bdfa' needs a chain of layers (an MLP)", field="algorithm.name")
        self.plan = plan(cfg.name, taps, cfg.block_size, cfg.bp_depth)
        self.feedback_init = cfg.feedback_init or InitSpec("default")
        self.connections = {"ssdfa": 1, "sdfa": cfg.connections}.get(cfg.name)
        # Only a tap that takes the backprop signal needs the gradient arriving from above.
        self.leaf_grad = [signal.kind == "backprop" for signal in self.plan]
        self.sources = {s.source for s in self.plan if s.kind == "feedback" and s.source != OUTPUT}
        self.staged = cfg.name == "ifa"
        if self.staged:
            self.sources |= set(range(taps - 1))

    def draw(self, model) -> None:
        for t, signal in enumerate(self.plan):
            if signal.kind == "feedback":
                rows = self._source_dim(signal.source)
                cols = torch.Size(self.structure.tap_shapes[t]).numel()
                set_feedback(self.owner(t), self._draw(rows, cols))

    def owner(self, tap: int):
        return self.structure.layers[self.structure.tap_owner[tap]]

    def _source_dim(self, source: int) -> int:
        s = self.structure
        shape = s.out_shapes[-1] if source == OUTPUT else s.out_shapes[s.tap_owner[source]]
        return torch.Size(shape).numel()

    def _draw(self, rows: int, cols: int) -> torch.Tensor:
        b = initialisers.draw(self.feedback_init, (rows, cols), self.generator)
        if self.connections is None:
            return b
        if self.connections > rows:
            raise ConfigError(f"algorithm.connections must be at most the source width {rows}, "
                              f"got {self.connections}", field="algorithm.connections")
        # Each column (one destination unit) keeps exactly `connections` entries, at random rows.
        keep = torch.rand(rows, cols, generator=self.generator).argsort(0)[: self.connections]
        mask = torch.zeros(rows, cols).scatter_(0, keep, 1.0)
        return b * mask

    def backward(self, model, x, y, loss_fn):
        if not self.trains_hidden:
            return super().backward(model, x, y, loss_fn)
        if self.staged:
            return self._staged_backward(model, x, y, loss_fn)
        outs: list[torch.Tensor] = []

        def cut(tap, h):  # a tap taught by backprop stays joined to the layer above
            outs.append(h)
            return h if self.leaf_grad[len(outs) - 1] else h.detach()

        def inject(source, tensor):
            fed = [t for t, signal in enumerate(self.plan) if signal.kind == "feedback"
                   and signal.source == source and outs[t].requires_grad]
            if not fed:
                return tensor
            feedbacks = [self.owner(t).feedback for t in fed]
            return _Inject.apply(tensor, self.structure.lead_dims, feedbacks, *[outs[t] for t in fed])

        hooks = [self.owner(t).register_forward_hook(lambda _m, _i, out, t=t: inject(t, out))
                 for t in self.sources]
        try:
            with _tap_handlers(self.structure.taps, cut):
                logits = inject(OUTPUT, model(x))
        finally:
            for h in hooks:
                h.remove()
        loss = loss_fn(logits, y)
        loss.backward()
        return loss, logits

    def _staged_backward(self, model, x, y, loss_fn):
        s = self.structure
        outs: list[torch.Tensor] = []
        leaves: list[torch.Tensor] = []
        deltas: dict[int, torch.Tensor] = {}

        def cut(tap, h):
            t = len(outs)
            leaf = h.detach().requires_grad_(self.leaf_grad[t])
            outs.append(h)
            leaves.append(leaf)
            return leaf

        with _tap_handlers(s.taps, cut), _capture_deltas(self, deltas):
            logits = model(x)
        loss = loss_fn(logits, y)
        logits.retain_grad()
        loss.backward()
        deltas[OUTPUT] = logits.grad
        done, pending = {OUTPUT}, list(range(len(outs)))[::-1]
        while pending:
            ready = [t for t in pending if self._ready(t, done, len(outs))]
            tensors = [outs[t] for t in ready if outs[t].requires_grad]
            grads = [self._signal(t, deltas, leaves).reshape(outs[t].shape) for t in ready
                     if outs[t].requires_grad]
            if tensors:
                torch.autograd.backward(tensors, grads)
            done.update(ready)
            pending = [t for t in pending if t not in ready]
        return loss, logits

    def _ready(self, t: int, done: set[int], taps: int) -> bool:
        signal = self.plan[t]
        if signal.kind == "feedback":
            return signal.source in done
        if signal.kind == "backprop":
            return (t + 1 if t + 1 < taps else OUTPUT) in done
        return t - 1 in done  # forward (ifa)

    def _signal(self, t: int, deltas, leaves) -> torch.Tensor:
        signal = self.plan[t]
        if signal.kind == "feedback":
            source = deltas[signal.source].flatten(self.structure.lead_dims)  # (…, dim of source)
            return source @ self.owner(t).feedback
        if signal.kind == "backprop":
            return leaves[t].grad
        return deltas[t - 1] @ self.owner(t).weight.detach().transpose(-1, -2)  # ifa: δ_{l-1} @ W_l.T

    def feedback_for(self, hidden):
        t = self._tap_of(hidden)
        return None if t is None or self.plan[t].kind != "feedback" else self.owner(t).feedback

    def weight_alignment_target(self, hidden):
        """``W_src … W_{l+1}``: the forward path from layer l to the layer whose δ is the source."""
        t = self._tap_of(hidden)
        if t is None or not self.structure.is_chain or self.plan[t].kind != "feedback":
            return None
        source = self.plan[t].source
        top = len(self.structure.layers) - 1 if source == OUTPUT else source
        path = self.structure.layers[hidden + 1: top + 1]
        if any(isinstance(layer, nn.Conv2d) for layer in path):
            return None  # a convolution on the path: no matrix product stands for it
        weights = [layer.weight.detach() for layer in path]  # (out, in), or (seeds, out, in) stacked
        product = weights[-1]
        for w in reversed(weights[:-1]):
            product = product @ w
        feedback = self.feedback_for(hidden)
        if feedback is not None and product.numel() != feedback.numel():
            return None  # pooling or a reshape between the layers: the shapes do not meet
        return product

    def _tap_of(self, hidden: int) -> int | None:
        owners = self.structure.tap_owner
        return owners.index(hidden) if hidden in owners else None


class _Inject(torch.autograd.Function):
    """The identity on a source tensor; its backward also returns, for each tap tensor passed
    with it, ``δ @ B`` shaped like that tap (δ: the gradient arriving at the source).

    Example:
        >>> source, tap = torch.zeros(2, 3, requires_grad=True), torch.zeros(2, 4, requires_grad=True)
        >>> out = _Inject.apply(source, 1, [torch.ones(3, 4)], tap)
        >>> out.sum().backward(); tap.grad.tolist()[0]
        [3.0, 3.0, 3.0, 3.0]
    """

    @staticmethod
    def forward(ctx, source, lead_dims, feedbacks, *taps):
        ctx.lead_dims, ctx.feedbacks, ctx.shapes = lead_dims, feedbacks, [t.shape for t in taps]
        return source.view_as(source)

    @staticmethod
    def backward(ctx, delta):
        flat = delta.flatten(ctx.lead_dims)  # (…, dim of source)
        return (delta, None, None,
                *[(flat @ b).reshape(shape) for b, shape in zip(ctx.feedbacks, ctx.shapes)])


@contextlib.contextmanager
def _tap_handlers(taps, handler):
    for tap in taps:
        tap.handler = handler
    try:
        yield
    finally:
        for tap in taps:
            tap.handler = None


@contextlib.contextmanager
def _capture_deltas(rule: DirectFeedback, deltas: dict[int, torch.Tensor]):
    """Store ``δ`` (the gradient at the owner layer's output) of the taps that other taps read."""
    hooks = []
    for t in rule.sources:
        def on_forward(_module, _inputs, output, t=t):
            if output.requires_grad:
                output.register_hook(lambda g: deltas.__setitem__(t, g))
        hooks.append(rule.owner(t).register_forward_hook(on_forward))
    try:
        yield
    finally:
        for h in hooks:
            h.remove()
