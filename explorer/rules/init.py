"""Initialisers for forward weights and feedback matrices (docs/algorithms.md, "Initialisers").

Fan-in and fan-out are read off the stored tensor the way `torch.nn.init` reads them: for a
matrix of shape ``(rows, cols)`` the fan-in is ``cols`` and the fan-out ``rows`` (times the kernel
area for convolutions). For a forward weight ``W: (n_out, n_in)`` that is the usual fan-in; for a
DFA feedback matrix ``B: (C, n_l)`` it gives Nøkland's ``U(±1/√n_l)`` under ``default``.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> w = draw(InitSpec("uniform", low=0.0, high=0.01), (3, 4), g)
    >>> bool((w >= 0).all() and (w < 0.01).all())
    True
"""

from __future__ import annotations

import math

import torch

from explorer.config import InitSpec

# Presets resolve to a base initialiser; `gaussian` depends on the fan-in, so it is resolved late.
PRESETS = {
    "standard_uniform": InitSpec("uniform", low=0.0, high=1.0),
    "standard_gaussian": InitSpec("normal", mean=0.0, std=1.0),
    "lillicrap": InitSpec("uniform", low=-0.5, high=0.5),
    "thesis_1e-3": InitSpec("uniform", low=0.0, high=0.001),
    "thesis_5e-3": InitSpec("uniform", low=0.0, high=0.005),
    "thesis_1e-2": InitSpec("uniform", low=0.0, high=0.01),
    "thesis_stdv": InitSpec("default"),
}
DEFAULT_GAIN = {"fan_in": 1.0, "fan_out": 1.0, "xavier": 1.0, "kaiming": math.sqrt(2.0), "orthogonal": 1.0}


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of this shape, as `torch.nn.init` computes them.

    Example:
        >>> fans((10, 3, 5, 5))
        (75, 250)
    """
    if len(shape) < 2:
        raise ValueError(f"fans need a matrix or a kernel, got shape {tuple(shape)}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def resolve(spec: InitSpec, shape: tuple[int, ...]) -> InitSpec:
    """The base initialiser a preset stands for, for a weight of this shape.

    Example:
        >>> resolve(InitSpec("gaussian"), (5, 4)).mean
        0.5
    """
    if spec.name == "gaussian":
        s = 1.0 / math.sqrt(fans(shape)[0])
        return InitSpec("normal", mean=s, std=s)
    return PRESETS.get(spec.name, spec)


def draw(spec: InitSpec, shape: tuple[int, ...], generator: torch.Generator,
         out: torch.Tensor | None = None) -> torch.Tensor:
    """A float32 tensor of this shape drawn from the initialiser with this generator (on its device),
    or drawn into ``out`` (a tensor of this shape on the generator's device: no new memory, the
    same numbers).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> draw(InitSpec("zeros"), (2, 2), g).abs().sum().item()
        0.0
        >>> a = draw(InitSpec("default"), (3, 4), torch.Generator().manual_seed(1))
        >>> b = draw(InitSpec("default"), (3, 4), torch.Generator().manual_seed(1), out=torch.empty(3, 4))
        >>> torch.equal(a, b)
        True
    """
    spec = resolve(spec, shape)
    if spec.name == "sign_concordant":
        raise ValueError("sign_concordant needs the forward weight; use sign_concordant_draw")
    if out is None:
        out = torch.empty(shape, device=generator.device)
    elif tuple(out.shape) != tuple(shape):
        raise ValueError(f"out has shape {tuple(out.shape)}, not {tuple(shape)}")
    name = spec.name
    if name == "zeros":
        return out.zero_()
    if name == "uniform":
        return out.uniform_(spec.low, spec.high, generator=generator)
    if name == "normal":
        return out.normal_(spec.mean, spec.std, generator=generator)
    fan_in, fan_out = fans(shape)
    gain = spec.gain if spec.gain is not None else DEFAULT_GAIN.get(name, 1.0)
    if name in ("default", "fan_in", "fan_out"):
        bound = gain / math.sqrt(fan_out if name == "fan_out" else fan_in)
        return out.uniform_(-bound, bound, generator=generator)
    if name == "xavier":
        return torch.nn.init.xavier_uniform_(out, gain=gain, generator=generator)
    if name == "kaiming":  # N(0, gain² / fan_in), torch's kaiming_normal_ with the gain made explicit
        return out.normal_(0.0, gain / math.sqrt(fan_in), generator=generator)
    if name == "orthogonal":
        return torch.nn.init.orthogonal_(out, gain=gain, generator=generator)
    raise ValueError(f"unknown initialiser {name!r}")


def sign_concordant_draw(spec: InitSpec, weight: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``|R| ⊙ sign(W)`` with R drawn from ``spec.inner`` (or ``spec`` itself if it is not sign_concordant).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> w = torch.tensor([[1.0, -2.0]])
        >>> b = sign_concordant_draw(InitSpec("sign_concordant"), w, g)
        >>> bool((torch.sign(b) == torch.sign(w)).all())
        True
    """
    inner = spec.inner if spec.name == "sign_concordant" else spec
    magnitude = draw(inner or InitSpec(), tuple(weight.shape), generator).abs()
    return magnitude.to(weight.device) * torch.sign(weight)


def std(spec: InitSpec, shape: tuple[int, ...]) -> float:
    """The standard deviation of the entries this initialiser draws for this shape.

    Example:
        >>> round(std(InitSpec("uniform", low=-1.0, high=1.0), (3, 3)), 4)
        0.5774
    """
    spec = resolve(spec, shape)
    fan_in, fan_out = fans(shape)
    gain = spec.gain if spec.gain is not None else DEFAULT_GAIN.get(spec.name, 1.0)
    if spec.name == "zeros":
        return 0.0
    if spec.name == "uniform":
        return (spec.high - spec.low) / math.sqrt(12.0)
    if spec.name == "normal":
        return spec.std
    if spec.name in ("default", "fan_in", "fan_out"):
        return gain / math.sqrt(3.0 * (fan_out if spec.name == "fan_out" else fan_in))
    if spec.name == "xavier":
        return gain * math.sqrt(2.0 / (fan_in + fan_out))
    if spec.name == "kaiming":
        return gain / math.sqrt(fan_in)
    if spec.name == "orthogonal":
        rows, cols = shape[0], math.prod(shape[1:])
        return gain * math.sqrt(min(rows, cols) / (rows * cols))
    raise ValueError(f"initialiser {spec.name!r} has no single standard deviation")
