"""Measurements of a rule against backpropagation, at the same weights and on the same batch.

- `compute_updates`: the gradient each trainable parameter receives under the run's rule.
- `alignment`: per hidden layer, the update, signal and weight alignment of docs/algorithms.md.

A cosine involving a zero vector is undefined and reported as NaN, never as 0 or 1.
"""

from __future__ import annotations

import contextlib
import math
import threading

import torch
from torch import nn

from explorer.rules import Rule
from explorer.models import held_masks
from explorer.engine.build import Built


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """cos(vec a, vec b) in float64; NaN if either is a zero vector.

    Example:
        >>> cosine(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0]))  # doctest: +ELLIPSIS
        0.7071...
        >>> math.isnan(cosine(torch.zeros(2), torch.ones(2)))
        True
    """
    return float(_cosine(a, b))


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """`cosine` as a float64 device scalar (nothing read from the device)."""
    a, b = _flat64(a), _flat64(b)
    return _cosine_of(_dot(a, b), _dot(a, a), _dot(b, b))


def _flat64(t: torch.Tensor | None, slot: str | None = None) -> torch.Tensor | None:
    """``t`` flattened in float64 (None stays None); with a ``slot``, written into that slot of
    this thread's scratch memory, which the next call for the slot overwrites."""
    if t is None:
        return None
    if slot is None:
        return t.detach().flatten().double()
    scratch = _scratch.__dict__.setdefault("buffers", {})
    key, n = (slot, t.device), t.numel()
    if key not in scratch or scratch[key].numel() < n:
        scratch[key] = torch.empty(n, dtype=torch.float64, device=t.device)
    return scratch[key][:n].copy_(t.detach().reshape(-1))


# Float64 copies a logging step makes of every layer's update, gradient and weight, kept from one
# step to the next: a fresh 8 MB copy took 2.3 ms on this CPU (page faults), a reused one 0.12 ms.
# One set per thread, since runs train side by side in threads.
_scratch = threading.local()


def _dot(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    """The dot product of two flat float64 tensors, a device scalar (None if either is None)."""
    return None if a is None or b is None else a @ b


def _cosine_of(ab: torch.Tensor, aa: torch.Tensor, bb: torch.Tensor) -> torch.Tensor:
    """cos from the dot products ``a·b``, ``a·a`` and ``b·b``; NaN where either vector is zero.
    ``sqrt(aa * bb)`` rather than ``sqrt(aa) * sqrt(bb)``: a vector against itself gives exactly 1."""
    defined = (aa > 0) & (bb > 0)
    return torch.where(defined, (ab / (aa * bb).sqrt()).clamp(-1.0, 1.0), math.nan)


def degrees(cos: float) -> float:
    """The angle in degrees for a cosine (NaN stays NaN).

    Example:
        >>> degrees(0.0)
        90.0
    """
    return math.nan if math.isnan(cos) else math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def signal_cosine(a: torch.Tensor | None, b: torch.Tensor | None) -> float:
    """Batch mean of per-sample cosines between two teaching signals (samples with a zero
    signal are undefined and left out; NaN if all are).

    Example:
        >>> signal_cosine(torch.tensor([[1.0, 0.0], [0.0, 0.0]]), torch.tensor([[1.0, 1.0], [1.0, 0.0]]))  # doctest: +ELLIPSIS
        0.7071...
    """
    return math.nan if a is None or b is None else float(_signal_cosine(a, b))


def _signal_cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """`signal_cosine` as a float64 device scalar (0 / 0: NaN when no sample is defined)."""
    a, b = a.detach().double().flatten(1), b.detach().double().flatten(1)
    norms = a.norm(dim=1) * b.norm(dim=1)
    defined = norms > 0
    per_sample = torch.where(defined, (a * b).sum(1) / norms, 0.0)
    return per_sample.sum() / defined.sum()


@contextlib.contextmanager
def _sandbox(built: Built):
    """Run a rule's backward without leaving a trace: grads, BatchNorm statistics and the train
    flag are restored afterwards (feedback that follows W is the only state a rule may refresh)."""
    model = built.model
    grads = {p: p.grad for p in model.parameters()}
    buffers = {n: b.clone() for n, b in model.named_buffers() if not n.endswith("feedback")
               and not n.endswith("feedback_magnitude")}
    training = model.training
    for p in grads:
        p.grad = None
    model.train()
    try:
        yield
    finally:
        with torch.no_grad():
            for n, b in model.named_buffers():
                if n in buffers:
                    b.copy_(buffers[n])
        for p, g in grads.items():
            p.grad = g
        model.train(training)


@contextlib.contextmanager
def _capture_signals(layers: list[nn.Module], store: list):
    """Record δ (the gradient at each layer's output) while the block runs."""
    def hook_for(i):
        def on_forward(_module, _inputs, output):
            if output.requires_grad:
                output.register_hook(lambda g: store.__setitem__(i, g))
        return on_forward
    handles = [layer.register_forward_hook(hook_for(i)) for i, layer in enumerate(layers)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def measured_backward(built: Built, rule: Rule, x: torch.Tensor, y: torch.Tensor):
    """``rule.backward`` (filling ``.grad``) with δ captured at each hidden layer: (loss, logits, δs)."""
    signals: list = [None] * len(built.hidden_names)
    with _capture_signals(built.structure.layers[:-1], signals):
        loss, logits = rule.backward(built.model, x, y, built.loss_fn)
    return loss, logits, signals


def _run(built: Built, rule: Rule, x: torch.Tensor, y: torch.Tensor):
    """(grads by parameter name, δ per hidden layer) of one rule on one batch, leaving no trace."""
    with _sandbox(built):
        _, _, signals = measured_backward(built, rule, x.to(built.device), y.to(built.device))
        # the sandbox puts the step's own grads back afterwards, so these are held by nothing else
        grads = {n: (p.grad.detach() if p.grad is not None else torch.zeros_like(p)) for n, p in built.trainable()}
    return grads, signals


def compute_updates(built: Built, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The gradient each trainable parameter receives for this batch under the config's rule,
    before the optimiser and Batch Manhattan, keyed like ``state_dict()``. Weights are unchanged.

    Example:
        >>> from explorer.engine.build import build
        >>> built = build({"model": {"hidden": [8]}, "algorithm": {"name": "dfa"}, "device": "cpu"})
        >>> g = compute_updates(built, built.data.x_train[:4], built.data.y_train[:4])
        >>> sorted(g)[:2], g["layers.0.weight"].shape
        (['layers.0.bias', 'layers.0.weight'], torch.Size([8, 64]))
    """
    return _run(built, built.rule, x, y)[0]


def alignment(built: Built, x: torch.Tensor, y: torch.Tensor) -> list[dict]:
    """Per hidden layer: update, signal and weight alignment with backprop (cosine and degrees),
    and the norms of the rule's update, backprop's gradient, the weight and the feedback matrix.

    Example:
        >>> from explorer.engine.build import build
        >>> built = build({"model": {"hidden": [8]}, "algorithm": {"name": "bp"}, "device": "cpu"})
        >>> a = alignment(built, built.data.x_train[:32], built.data.y_train[:32])
        >>> round(a[0]["update_cos"], 6), a[0]["layer"]
        (1.0, 'layers.0')
    """
    with held_masks(built.model):  # model.dropout: the rule and backprop see one mask
        rule_grads, rule_signals = _run(built, built.rule, x, y)
        return compare_with_backprop(built, x, y, rule_grads, rule_signals)


def compare_with_backprop(built: Built, x: torch.Tensor, y: torch.Tensor,
                          rule_grads: dict[str, torch.Tensor], rule_signals: list) -> list[dict]:
    """The rows of `alignment` for updates and signals the rule already computed on (x, y) at the
    current weights (the trainer passes those of its logging step, so measuring costs one backprop
    pass, and nothing for ``bp``, whose updates are backprop's by definition)."""
    bp_grads, bp_signals = backprop_reference(built, x, y, rule_grads, rule_signals)
    return alignment_rows(built, rule_grads, rule_signals, bp_grads, bp_signals)


def backprop_reference(built: Built, x: torch.Tensor, y: torch.Tensor,
                       rule_grads: dict[str, torch.Tensor], rule_signals: list):
    """Backprop's gradients and δs on (x, y) at the current weights: (grads, signals)."""
    if built.rule.name == "bp":
        return rule_grads, rule_signals
    return _run(built, Rule(built.rule.cfg, built.rule.forward_init), x, y)


def alignment_rows(built: Built, rule_grads, rule_signals, bp_grads, bp_signals,
                   seed: int | None = None) -> list[dict]:
    """Per hidden layer: the cosines and norms of `alignment`. For a network stacked from seeds,
    ``seed`` picks one seed's slice of every tensor."""
    def pick(t):
        return t if t is None or seed is None else t[seed]

    def cosine_of(ab, aa, bb):
        return None if ab is None else _cosine_of(ab, aa, bb)

    def root(t):
        return None if t is None else t.sqrt()

    # Each tensor is cast to float64 once and every figure is made of dot products (a norm is
    # sqrt(a·a)): a cast per figure cast bp's gradient four times a layer, and its angle with itself
    # came out 2e-5° instead of 0.
    figures = []  # per layer, the seven figures below as float64 device scalars (None: undefined)
    for i, name in enumerate(built.hidden_names):
        key = f"{name}.weight"
        same = rule_grads.get(key) is bp_grads.get(key)  # bp: its update is backprop's gradient itself
        update = _flat64(pick(rule_grads.get(key)), "update")
        bp = update if same else _flat64(pick(bp_grads.get(key)), "bp")
        weight = _flat64(pick(built.structure.layers[i].weight), "weight")
        feedback = _flat64(pick(built.rule.feedback_for(i)), "feedback")
        target = _flat64(pick(built.rule.weight_alignment_target(i)), "target")
        uu, ff, tt = _dot(update, update), _dot(feedback, feedback), _dot(target, target)
        gg = uu if same else _dot(bp, bp)
        signal, bp_signal = pick(rule_signals[i]), pick(bp_signals[i])
        figures += [cosine_of(_dot(update, bp), uu, gg),
                    None if signal is None or bp_signal is None else _signal_cosine(signal, bp_signal),
                    cosine_of(_dot(feedback, target), ff, tt),
                    root(uu), root(gg), root(_dot(weight, weight)), root(ff)]
    defined = [f for f in figures if f is not None]
    values = iter(torch.stack(defined).tolist() if defined else [])  # one read of the device
    read = [math.nan if f is None else next(values) for f in figures]
    rows = []
    for i, name in enumerate(built.hidden_names):
        update_cos, signal_cos, weight_cos, grad_norm, bp_grad_norm, weight_norm, feedback_norm = read[7 * i:7 * i + 7]
        rows.append({
            "layer": name, "index": i + 1,
            "update_cos": update_cos, "update_deg": degrees(update_cos),
            "signal_cos": signal_cos, "signal_deg": degrees(signal_cos),
            "weight_cos": weight_cos, "weight_deg": degrees(weight_cos),
            "grad_norm": grad_norm, "bp_grad_norm": bp_grad_norm,
            "weight_norm": weight_norm, "feedback_norm": feedback_norm,
        })
    return rows
