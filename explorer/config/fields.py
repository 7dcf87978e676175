"""`ConfigError`, and the small readers that check one value each and name its field when it is wrong.

Every error carries ``.field``, the dotted path of the value it is about (``optimizer.lr``,
``rules[1].algorithm.block_size``), beside a message in plain words; a front end places the error
beside the control that sets ``.field`` and may word it in its own terms with ``.problem``.

Example:
    >>> try:
    ...     number(-1.0, "optimizer.lr", above=0.0)
    ... except ConfigError as err:
    ...     print(err.field, "|", err.problem, "|", err)
    optimizer.lr | must be greater than 0, got -1 | optimizer.lr must be greater than 0, got -1
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping


class ConfigError(ValueError):
    """A configuration value is invalid. ``str(err)`` is the whole sentence, which names the field;
    ``.field`` is the field's dotted path (None when the error is about the config as a whole) and
    ``.problem`` the sentence without the field in front.

    Example:
        >>> err = ConfigError("model.hidden[0] must be at least 1, got 0", field="model.hidden[0]")
        >>> err.within("rules[1]").field, str(err.within("rules[1]"))
        ('rules[1].model.hidden[0]', 'rules[1]: model.hidden[0] must be at least 1, got 0')
        >>> err.within("rules[1]").problem
        'must be at least 1, got 0'
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    @property
    def problem(self) -> str:
        """The message without its field in front ("must be at least 1, got 0"), the prefix of
        `within` ("rules[1]: ") included."""
        text, field = self.message, self.field or ""
        while field:
            if text.startswith(field):
                return text[len(field):].lstrip(":").lstrip()
            head, _, rest = field.partition(".")
            if not (rest and text.startswith(head + ":")):
                break
            text, field = text[len(head) + 1:].lstrip(), rest
        return text

    def within(self, prefix: str) -> ConfigError:
        """The same error about one config of several (``rules[1]``, ``configs[0]``)."""
        field = f"{prefix}.{self.field}" if self.field else prefix
        return ConfigError(f"{prefix}: {self.message}", field=field)

    __module__ = "explorer.config"  # where users import it from, and how tracebacks name it

    def __reduce__(self):  # keeps .field across pickling (a run's error crosses process boundaries)
        return (type(self), (self.message, self.field))


def shown(value: Any) -> str:
    """``value`` as a message quotes it: true, false and null as a config file (JSON) writes them,
    anything else as Python shows it.

    Example:
        >>> shown(True), shown(None), shown("sgd"), shown([1, 2])
        ('true', 'null', "'sgd'", '[1, 2]')
    """
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return repr(value)


def require_mapping(value: Any, path: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path} must be an object (a dict), got {type(value).__name__}", field=path)
    return value


def reject_unknown(d: Mapping, allowed: set[str], path: str, what: str) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        field = f"{path}.{unknown[0]}" if path else unknown[0]
        raise ConfigError(f"{field} is not an option of {what}; options: {', '.join(sorted(allowed))}",
                          field=field)


def number(value: Any, path: str, *, minimum: float | None = None, above: float | None = None,
           below: float | None = None, maximum: float | None = None) -> float:
    """A finite number within the bounds given, as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{path} must be a number, got {shown(value)}", field=path)
    try:
        value = float(value)
    except OverflowError:  # an int too large for a float
        raise ConfigError(f"{path} must be a finite number, got {shown(value)}", field=path) from None
    if not math.isfinite(value):
        raise ConfigError(f"{path} must be a finite number, got {shown(value)}", field=path)
    if above is not None and value <= above:
        raise ConfigError(f"{path} must be greater than {above:g}, got {value:g}", field=path)
    if minimum is not None and value < minimum:
        raise ConfigError(f"{path} must be at least {minimum:g}, got {value:g}", field=path)
    if below is not None and value >= below:
        raise ConfigError(f"{path} must be less than {below:g}, got {value:g}", field=path)
    if maximum is not None and value > maximum:
        raise ConfigError(f"{path} must be at most {maximum:g}, got {value:g}", field=path)
    return value


def integer(value: Any, path: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """A whole number within the bounds given (a float with no fraction is accepted).

    Example:
        >>> integer(3.0, "train.epochs")
        3
        >>> integer(1e20, "train.epochs", maximum=10**6)
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: train.epochs must be at most 1000000, got 1e+20
    """
    given = f"{value:g}" if isinstance(value, float) else value  # 1e+20, not the float's 21 digits
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{path} must be a whole number, got {shown(value)}", field=path)
    if minimum is not None and value < minimum:
        raise ConfigError(f"{path} must be at least {minimum}, got {given}", field=path)
    if maximum is not None and value > maximum:
        raise ConfigError(f"{path} must be at most {maximum}, got {given}", field=path)
    return value


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{path} must be true or false, got {shown(value)}", field=path)
    return value


def choice(value: Any, path: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{path} must be one of {', '.join(choices)}; got {shown(value)}", field=path)
    return value


def optional_str(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{path} must be a non-empty string, got {shown(value)}", field=path)
    return value


def names(value: Any, path: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{path} must be a list of layer names, got {shown(value)}", field=path)
    return tuple(optional_str(v, f"{path}[{i}]") for i, v in enumerate(value))


def drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}
