"""What a rule costs: multiply-adds per sample of one training step, layer by layer, and the thesis's
hand count of memory and compute steps (000, section 3.7, Table 3.28).

`operation_counts` counts the multiply-adds of the matrix products (and convolutions) a step makes
for one sample, in three parts:

- ``forward``: every learnable layer's product (a linear layer n_in·n_out; a convolution
  out_h·out_w·out_c·k_h·k_w·in_c/groups); the gated network (ntk) also runs its frozen gate layer;
- ``weight_grads``: each trained layer's weight gradient (δ_lᵀ h_{l-1}: as many as its forward);
  only the output layer's where the hidden layers do not learn (``train_hidden: false``, rf);
- ``backward``: the teaching signals. The chain rules (bp, fa, usf, frsf, brsf, ntk) send δ down
  through every layer but the first (Wᵀ or Bᵀ: as many as that layer's forward). The direct rules
  follow their `explorer.rules.dfa.plan`: a projection ``source @ B_l`` of dim(source)·n_l per
  hidden layer fed by feedback (dfa: C·n_l; bdfa: the block's source width; sdfa: connections·n_l,
  ssdfa: n_l, the non-zeros of B_l), a layer's Wᵀ where the signal is backprop's (fp's top layers),
  and δ_{l-1} W_lᵀ where it runs forward (ifa above the first layer).

Biases, activations, their derivatives and other element-wise work are not counted: on the
networks of the documents they are a few per unit against hundreds of multiply-adds per unit.

Example:
    >>> c = operation_counts({"data": {"name": "random", "features": 784}, "model": {"hidden": [1024, 1024]},
    ...                       "algorithm": {"name": "dfa"}})
    >>> c.forward, c.backward, round(bound_vs_bp({"data": {"name": "random", "features": 784},
    ...                                           "model": {"hidden": [1024, 1024]}, "algorithm": {"name": "dfa"}}), 3)
    (1861632, 20480, 1.277)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import torch
from torch import nn

from explorer.config import RunConfig
from explorer.config.registry import RULES
from explorer.data.shapes import shape_of
from explorer.engine.build import Built
from explorer.engine.losses import output_units
from explorer.models import build_model
from explorer.rules.dfa import OUTPUT, plan
from explorer.rules.structure import Structure

CHAIN = ("backprop", "feedback_alignment")  # strategies whose signal runs down through every layer


@dataclass(frozen=True)
class OperationCounts:
    """Multiply-adds per sample of one training step: the totals and one row per learnable layer
    (``layer``, ``forward``, ``weight_grads``, ``backward``; a layer's ``backward`` is the products
    it makes to send or take its teaching signal)."""

    rule: str
    forward: int
    weight_grads: int
    backward: int
    layers: list[dict] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.forward + self.weight_grads + self.backward


def layer_macs(layer: nn.Module, out_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one sample through a learnable layer whose per-sample output is ``out_shape``.

    Example:
        >>> layer_macs(nn.Linear(784, 1024), (1024,))
        802816
        >>> layer_macs(nn.Conv2d(3, 96, 5, padding=2), (96, 32, 32))  # 32·32·96·5·5·3
        7372800
    """
    if isinstance(layer, nn.Conv2d):
        k_h, k_w = layer.kernel_size
        return math.prod(out_shape) * k_h * k_w * layer.in_channels // layer.groups
    weight = layer.weight  # (out, in), or (seeds, out, in) stacked: per run
    return weight.shape[-1] * weight.shape[-2]


def _structure(cfg: RunConfig) -> Structure:
    """The network of ``cfg`` on the meta device (nothing allocated, no data read)."""
    shape = shape_of(cfg.data)
    outputs = shape.targets or output_units(cfg.train.loss, shape.classes)
    with torch.device("meta"):
        model = build_model(cfg.model, shape.input_shape, outputs, gated=RULES[cfg.algorithm.name].gated)
    return Structure.of(model, shape.input_shape)


def operation_counts(cfg_or_built: RunConfig | dict | Built) -> OperationCounts:
    """Multiply-adds per sample of one training step of a run (a config, or a run already built).

    Example:
        >>> c = operation_counts({"data": {"name": "random", "features": 4, "classes": 2},
        ...                       "model": {"hidden": [3]}, "algorithm": {"name": "bp"}})
        >>> c.forward, c.weight_grads, c.backward, c.total   # 4·3 + 3·2 twice, and 3·2 down
        (18, 18, 6, 42)
    """
    if isinstance(cfg_or_built, Built):
        cfg, structure = cfg_or_built.config, cfg_or_built.structure
    else:
        cfg = cfg_or_built if isinstance(cfg_or_built, RunConfig) else RunConfig.from_dict(cfg_or_built)
        structure = _structure(cfg)
    spec, algorithm = RULES[cfg.algorithm.name], cfg.algorithm
    layers = structure.layers
    macs = [layer_macs(layer, shape) for layer, shape in zip(layers, structure.out_shapes)]
    forward = list(macs)
    if spec.gated:
        forward[0] *= 2  # the frozen gate layer runs beside the live one
    hidden_learn = algorithm.train_hidden and spec.strategy != "random_features"
    grads = [m if hidden_learn or i == len(layers) - 1 else 0 for i, m in enumerate(macs)]
    backward = [0] * len(layers)
    if hidden_learn:
        if spec.strategy in CHAIN:
            backward = [0] + macs[1:]
        else:
            signals = plan(algorithm.name, len(structure.taps), algorithm.block_size, algorithm.bp_depth)
            per_column = {"sdfa": algorithm.connections, "ssdfa": 1}.get(algorithm.name)
            for t, signal in enumerate(signals):
                owner = structure.tap_owner[t]
                width = math.prod(structure.tap_shapes[t])
                if signal.kind == "feedback":
                    source = structure.out_shapes[-1 if signal.source == OUTPUT else structure.tap_owner[signal.source]]
                    backward[owner] += (per_column or math.prod(source)) * width
                elif signal.kind == "backprop":
                    backward[owner + 1] += macs[owner + 1]
                else:  # forward (ifa): δ_{l-1} W_lᵀ
                    backward[owner] += macs[owner]
    rows = [{"layer": name, "forward": f, "weight_grads": g, "backward": b}
            for name, f, g, b in zip(structure.names, forward, grads, backward)]
    return OperationCounts(algorithm.name, sum(forward), sum(grads), sum(backward), rows)


def as_config(cfg: RunConfig | dict | Built) -> RunConfig:
    """The config of a config, a dict or a built run.

    Example:
        >>> as_config({"seed": 3}).seed
        3
    """
    if isinstance(cfg, Built):
        return cfg.config
    return cfg if isinstance(cfg, RunConfig) else RunConfig.from_dict(cfg)


def bound_vs_bp(cfg: RunConfig | dict | Built) -> float:
    """Backprop's multiply-adds per sample on the same network over the rule's: the most a step of
    the rule can save against backprop's, as a speed-up factor, where products dominate.

    Example:
        >>> bound_vs_bp({"model": {"hidden": [16]}, "algorithm": {"name": "fa"}})
        1.0
    """
    cfg = as_config(cfg)
    bp = cfg.with_values({"algorithm": {"name": "bp"}})
    return operation_counts(bp).total / operation_counts(cfg).total


def cost_table(cfgs: Iterable[RunConfig | dict | Built]) -> Any:
    """A pandas DataFrame, one row per config: rule, forward, weight_grads, backward, total (multiply-adds
    per sample), ratio_to_bp (the total over backprop's on the same network) and bound_vs_bp (its inverse).

    Example:
        >>> base = {"data": {"name": "random", "features": 784}, "model": {"hidden": [1024, 1024]}}
        >>> t = cost_table([base | {"algorithm": {"name": r}} for r in ("bp", "dfa")])
        >>> t[["rule", "backward", "total"]].values.tolist()
        [['bp', 1058816, 4782080], ['dfa', 20480, 3743744]]
    """
    import pandas as pd

    rows = []
    for cfg in cfgs:
        cfg = as_config(cfg)
        counts = operation_counts(cfg)
        bp = operation_counts(cfg.with_values({"algorithm": {"name": "bp"}})).total
        rows.append({"rule": counts.rule, "forward": counts.forward, "weight_grads": counts.weight_grads,
                     "backward": counts.backward, "total": counts.total, "ratio_to_bp": counts.total / bp,
                     "bound_vs_bp": bp / counts.total})
    return pd.DataFrame(rows, columns=["rule", "forward", "weight_grads", "backward", "total", "ratio_to_bp",
                                       "bound_vs_bp"])


# ----------------------------------------------------------------------------------------------
# The thesis's hand count (000, section 3.7): the steps of one layer's backward pass per rule, each
# with its cost in units of a multiplication (1); a copy between memory and registers or a write to
# memory costs 2, a transpose 3, a sign() 1. "Signgrad" is Batch Manhattan. The totals of Table
# 3.28 are the sums of these steps.

COPY, TRANSPOSE, MULTIPLY, SIGN, NOTHING = 2, 3, 1, 1, 0

_BP_TAIL = [  # what every chain rule does once it holds the matrix that carries the error down
    ("copy the loss gradients of the layer's output to registers", COPY),
    ("multiply them by the backward matrix: the input gradients, the next layer's output gradients", MULTIPLY),
    ("copy the activations to registers", COPY),
    ("multiply the output gradients by the activations: the weight gradients", MULTIPLY),
]
_WRITE_GRADS = ("write the weight gradients to memory", COPY)
_WRITE_INPUT_GRADS = ("write the input gradients, used by the next layer, to memory", COPY)
_SIGNGRAD = ("sign() of the weight gradients (Batch Manhattan)", SIGN)
_DIRECT = [
    ("copy the random weights to registers", COPY),
    ("no transpose: the random matrices are drawn in the right shape", NOTHING),
    ("copy the loss gradients of the last layer's output to registers", COPY),
    ("multiply the random weights by them: the gradients of the layer's output", MULTIPLY),
    ("copy the activations to registers", COPY),
    ("multiply the output gradients by the activations: the weight gradients", MULTIPLY),
]
_NO_INPUT_GRADS = ("no input gradients to send on", NOTHING)


def _signed(first: tuple[str, int]) -> list[tuple[str, int]]:
    """The steps that make a sign-concordant backward matrix out of the forward weights' signs."""
    return [first,
            ("copy the forward weights to registers", COPY),
            ("sign() of the weight matrices", SIGN),
            ("transpose the sign matrices and write them to memory", TRANSPOSE),
            ("copy the transposed sign matrices to registers", COPY),
            ("multiply the transposed signs by the magnitudes", MULTIPLY)]


THESIS_STEPS: dict[str, list[tuple[str, int]]] = {
    "BP": [("copy the weights to registers", COPY),
           ("transpose the weights and write them to memory", TRANSPOSE),
           ("copy the transposed weights to registers", COPY),
           *_BP_TAIL, _WRITE_GRADS, _WRITE_INPUT_GRADS],
    "FA": [("copy the random weights to registers", COPY),
           ("no transpose: the random matrices are drawn in the right shape", NOTHING),
           *_BP_TAIL, _WRITE_GRADS, _WRITE_INPUT_GRADS],
    "DFA": [*_DIRECT, _WRITE_GRADS, _NO_INPUT_GRADS],
    "DFA+Signgrad": [*_DIRECT, _SIGNGRAD, _WRITE_GRADS, _NO_INPUT_GRADS],
    "FAsign+Signgrad": [*_signed(("copy the random weights to registers", COPY)), *_BP_TAIL, _SIGNGRAD,
                        _WRITE_GRADS, _WRITE_INPUT_GRADS],
    "FArand+Signgrad": [*_signed(("generate the random weights", COPY)), *_BP_TAIL, _SIGNGRAD, _WRITE_GRADS,
                        _WRITE_INPUT_GRADS],
    "FAsign": [*_signed(("copy the random weights to registers", COPY)), *_BP_TAIL, _WRITE_GRADS,
               _WRITE_INPUT_GRADS],
    "Sign+signgrad": [*_signed(("copy the scale factor stdv to registers", COPY)), *_BP_TAIL, _SIGNGRAD,
                      _WRITE_GRADS, _WRITE_INPUT_GRADS],
    "Sign": [*_signed(("copy the scale factor stdv to registers", COPY)), *_BP_TAIL, _WRITE_GRADS,
             _WRITE_INPUT_GRADS],
}

# The explorer config that each of the thesis's variants stands for (None: no exact counterpart;
# FArand redraws its random magnitudes every epoch).
THESIS_RULES: dict[str, dict | None] = {
    "BP": {"algorithm": {"name": "bp"}},
    "FA": {"algorithm": {"name": "fa"}},
    "DFA": {"algorithm": {"name": "dfa"}},
    "DFA+Signgrad": {"algorithm": {"name": "dfa"}, "optimizer": {"batch_manhattan": True}},
    "FAsign+Signgrad": {"algorithm": {"name": "fa", "sign_refresh": "init"}, "optimizer": {"batch_manhattan": True}},
    "FArand+Signgrad": None,
    "FAsign": {"algorithm": {"name": "fa", "sign_refresh": "epoch"}},
    "Sign+signgrad": {"algorithm": {"name": "usf"}, "optimizer": {"batch_manhattan": True}},
    "Sign": {"algorithm": {"name": "usf"}},
}


def thesis_complexity() -> dict[str, int]:
    """Table 3.28's computational complexity of each variant: the sum of its typed steps.

    Example:
        >>> thesis_complexity()["BP"], thesis_complexity()["DFA"]
        (17, 10)
    """
    return {rule: sum(cost for _, cost in steps) for rule, steps in THESIS_STEPS.items()}
