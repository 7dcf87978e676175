"""How a sweep labels the store groups it makes, and a stored run's grid point read back from that
label: light enough for ``python -m explorer runs list`` (no torch, pandas or scipy)."""

from __future__ import annotations

from typing import Any, Mapping

GROUP_LABEL = "sweep over "   # a sweep's groups are labelled with its grid keys: "sweep over a × b"


def swept(label: str | None, config: Mapping) -> dict[str, Any]:
    """What a stored run of a sweep was given by its grid: {dotted key: value} for the keys its
    group's ``label`` names, read from the run's stored ``config`` (None where the run's rule has
    no use for the option, so validation left it out); {} for a run that is not a sweep's.

    Example:
        >>> swept("sweep over optimizer.lr × algorithm.block_size",
        ...       {"optimizer": {"lr": 0.1}, "algorithm": {"name": "dfa"}})
        {'optimizer.lr': 0.1, 'algorithm.block_size': None}
        >>> swept("bp vs dfa", {})
        {}
    """
    if not label or not label.startswith(GROUP_LABEL):
        return {}
    point = {}
    for key in label[len(GROUP_LABEL):].split(" × "):
        value: Any = config
        for part in key.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        point[key] = value
    return point


__all__ = ["GROUP_LABEL", "swept"]
