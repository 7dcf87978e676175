"""The device a run lives on, chosen once: CUDA if present, then Apple's MPS, then the CPU.

Example:
    >>> choose_device("cpu")
    device(type='cpu')
"""

from __future__ import annotations

import torch

from .config import ConfigError


def choose_device(name: str | None = "auto") -> torch.device:
    """``auto`` picks the best available; asking for one that is absent is a `ConfigError`."""
    name = name or "auto"
    mps = getattr(torch.backends, "mps", None)
    available = {"cuda": torch.cuda.is_available(), "mps": bool(mps and mps.is_available()), "cpu": True}
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if available[d]))
    if name not in available:
        raise ConfigError(f"device must be one of auto, cpu, cuda, mps; got {name!r}")
    if not available[name]:
        raise ConfigError(f"device: '{name}' was asked for but this machine has none; use 'auto' or 'cpu'")
    return torch.device(name)


def describe(device: torch.device) -> str:
    """A human name for the device: the GPU's name, or "CPU".

    Example:
        >>> describe(torch.device("cpu"))
        'CPU'
    """
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "Apple GPU (MPS)" if device.type == "mps" else "CPU"
