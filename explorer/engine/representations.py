"""Hidden representations of a fixed probe set: what every tap sees, and per-digit contributions.

`capture` runs a network over inputs in eval mode and returns, for every tap, the tensor the tap
sees (after the activation and any pooling), flattened to (N, d), float32 on the CPU, keyed by the
name of the tap's owner layer. A `Probe` is the fixed set of samples captured at every chosen
epoch; a `Snapshot` is one such capture. `per_digit` splits an MLP's first hidden layer into the
contribution of each digit of a k-digit (parity) input.

Example:
    >>> from explorer.engine.build import build
    >>> built = build({"model": {"name": "mlp", "hidden": [16, 8]}, "device": "cpu"})
    >>> probe = Probe.of(built.data, 100)
    >>> snap = Snapshot.take(built, probe, epoch=0, step=0)
    >>> {name: tuple(h.shape) for name, h in snap.layers.items()}
    {'layers.0': (100, 16), 'layers.1': (100, 8)}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import torch

from explorer.config import ConfigError
from explorer.models import MLP

MAX_PROBE = 10_000  # the most samples a probe set may hold


def tap_names(structure) -> list[str]:
    """The key of each tap in `capture`'s result: the name of the layer that owns it.

    Example:
        >>> from explorer.models import MLP
        >>> from explorer.rules import Structure
        >>> tap_names(Structure.of(MLP((4,), (8, 6), 3), (4,)))
        ['layers.0', 'layers.1']
    """
    names = [structure.names[owner] for owner in structure.tap_owner]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"taps must have distinct owner layers to be named after them; "
                         f"{', '.join(repeated)} owns more than one tap")
    return names


def capture(built, x: torch.Tensor, batch_size: int = 2048,
            layers: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
    """The activations at every tap for inputs ``x``: {owner layer name: (N, d) float32 on the CPU}.

    The model runs in eval mode under ``no_grad``, ``batch_size`` samples at a time on
    ``built.device``; each module's train flag and each tap's handler are restored afterwards
    (a handler already set keeps acting on the forward pass). ``layers`` picks some of the names
    (default: all, in forward order).

    Example:
        >>> from explorer.engine.build import build
        >>> built = build({"model": {"name": "mlp", "hidden": [16, 8]}, "device": "cpu"})
        >>> acts = capture(built, built.data.x_test[:10], batch_size=4)
        >>> {name: tuple(h.shape) for name, h in acts.items()}
        {'layers.0': (10, 16), 'layers.1': (10, 8)}
        >>> built.model.training, built.structure.taps[0].handler is None
        (True, True)
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a whole number of at least 1, got {batch_size!r}", field="batch_size")
    structure, model = built.structure, built.model
    names = tap_names(structure)
    wanted = names if layers is None else list(layers)
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise ConfigError(f"layers: {unknown[0]!r} is not a tapped layer; tapped layers: {', '.join(names)}",
                          field="layers")
    chosen = [t for t, n in enumerate(names) if n in wanted]
    parts: dict[int, list[torch.Tensor]] = {t: [] for t in chosen}
    index = {structure.taps[t]: t for t in chosen}
    previous = {t: structure.taps[t].handler for t in chosen}

    def record(tap, h):
        t = index[tap]
        parts[t].append(h.detach().flatten(1).to("cpu", torch.float32))
        return h if previous[t] is None else previous[t](tap, h)

    flags = {m: m.training for m in model.modules()}
    model.eval()
    for t in chosen:
        structure.taps[t].handler = record
    try:
        with torch.no_grad():
            for start in range(0, x.shape[0], batch_size):
                model(x[start:start + batch_size].to(built.device))
    finally:
        for t in chosen:
            structure.taps[t].handler = previous[t]
        for m, flag in flags.items():
            m.training = flag
    out = {}
    for t in chosen:
        h = torch.cat(parts[t]) if parts[t] else torch.empty(0, torch.Size(structure.tap_shapes[t]).numel())
        if h.shape[0] != x.shape[0]:
            raise RuntimeError(f"tap of {names[t]} saw {h.shape[0]} samples for {x.shape[0]} inputs; "
                               f"capture needs each tap called once per forward pass")
        out[names[t]] = h
    return out


@dataclass
class Probe:
    """The fixed samples whose representations are captured: inputs, labels and per-sample extras
    (parity: ``slot_digits``, the digit in every slot), as the dataset's `probe` gives them.

    Example:
        >>> from explorer.engine.build import build
        >>> data = build({"device": "cpu"}).data
        >>> p = Probe.of(data, 50)
        >>> tuple(p.x.shape), tuple(p.y.shape), p.extras
        ((50, 1, 8, 8), (50,), {})
        >>> bool((Probe.of(data, 50).x == p.x).all())
        True
    """

    x: torch.Tensor
    y: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    @classmethod
    def of(cls, dataset, n: int) -> Probe:
        """``dataset.probe(n)``: up to ``n`` (1 … 10,000) fixed test samples."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_PROBE:
            raise ConfigError(f"n (probe samples) must be a whole number from 1 to {MAX_PROBE}, got {n!r}", field="n")
        x, y, extras = dataset.probe(n)
        return cls(x, y, dict(extras))

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass
class Snapshot:
    """The probe's hidden representations at one point of training (what `capture` returns).

    Example:
        >>> s = Snapshot(epoch=2, step=40, layers={"layers.0": torch.zeros(5, 3)})
        >>> s.epoch, list(s.layers)
        (2, ['layers.0'])
    """

    epoch: int
    step: int
    layers: dict[str, torch.Tensor]

    @classmethod
    def take(cls, built, probe: Probe, *, epoch: int, step: int, batch_size: int = 2048) -> Snapshot:
        """`capture` of ``probe.x`` as a snapshot taken at ``epoch`` / ``step``."""
        return cls(epoch, step, capture(built, probe.x, batch_size))


def per_digit(built, x: torch.Tensor, k: int, batch_size: int = 2048) -> torch.Tensor:
    """Each slot's contribution to an MLP's first hidden layer: (N, k, n_1) float32 on the CPU.

    ``x`` is (N, C, H, k·W): k images side by side along the width. Slot ``j`` holds the columns
    ``j·W … (j+1)·W - 1`` of every row of every channel; its contribution is
    ``x_slot @ W_1[:, slot columns].T`` (no bias, no activation), so the k contributions plus
    the bias are the first layer's pre-activation (seed thesis, appendix B).

    Example:
        >>> from explorer.engine.build import build
        >>> built = build({"model": {"name": "mlp", "hidden": [16]}, "device": "cpu"})
        >>> x = built.data.x_test[:5]                 # (5, 1, 8, 8): two slots of width 4
        >>> parts = per_digit(built, x, 2)
        >>> tuple(parts.shape)
        (5, 2, 16)
        >>> layer = built.model.layers[0]
        >>> torch.allclose(parts.sum(1) + layer.bias, layer(x.flatten(1)), atol=1e-5)
        True
    """
    model = built.model
    if not isinstance(model, MLP):
        raise ConfigError(f"model: per-digit representations need an MLP, got {type(model).__name__}", field="model")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"k (digits per input) must be a whole number of at least 1, got {k!r}", field="k")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a whole number of at least 1, got {batch_size!r}", field="batch_size")
    if x.dim() != 4:
        raise ConfigError(f"x must be images (N, channels, height, k·width), got shape {tuple(x.shape)}", field="x")
    n, c, h, width = x.shape
    if width % k:
        raise ConfigError(f"k: the input width {width} is not divisible by k={k} digits", field="k")
    weight = model.layers[0].weight.detach()
    if c * h * width != weight.shape[1]:
        raise ConfigError(f"x: {c}×{h}×{width} = {c * h * width} input features, but the first layer "
                          f"takes {weight.shape[1]}", field="x")
    # Row-major flattening: feature (ch, row, j·W + col) -> the weight's column index, so viewing
    # the weight as (n_1, C, H, k, W) puts slot j at index j of its fourth axis.
    w = weight.reshape(weight.shape[0], c, h, k, width // k)
    parts = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            xb = x[start:start + batch_size].to(weight.device, weight.dtype).reshape(-1, c, h, k, width // k)
            parts.append(torch.einsum("nchjw,ochjw->njo", xb, w).to("cpu", torch.float32))
    return torch.cat(parts) if parts else torch.empty(0, k, weight.shape[0])
