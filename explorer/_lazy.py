"""A package's public names imported from their modules on first use (PEP 562), so that importing
the package, or one light module of it, does not load torch, pandas and scipy before a name that
needs them is asked for (``python -m explorer --help`` answers at once)."""

from __future__ import annotations

import importlib
import sys
from typing import Callable, Mapping


def lazy_exports(package: str, homes: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose names ``homes`` maps to the modules
    they live in; a name asked for is imported from its home once, then kept as an attribute.

    Example:
        >>> getattr_, dir_ = lazy_exports("explorer", {"RunConfig": "explorer.config"})
        >>> getattr_("RunConfig").__name__, "RunConfig" in dir_()
        ('RunConfig', True)
        >>> getattr_("nothing")
        Traceback (most recent call last):
        ...
        AttributeError: module 'explorer' has no attribute 'nothing'
    """
    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(homes[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *homes})

    return __getattr__, __dir__
