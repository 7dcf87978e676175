"""A link's query parameters checked at the door: what a page can use, and every value it refuses, named.

A shared link must open the setup it says, or say where it cannot. Each page declares the
parameters it reads (`Param`: its words and a reader that turns the text into a value or raises
with the reason) and, where values depend on each other, a check of the whole setup. `screen`
then sorts the link's values:

- a parameter the page does not read is refused ("not a setting of this page");
- a value that does not read, or that the setup check refuses, is refused with the reason;
- a parameter given several times (``lr=0.1&lr=abc&lr=5``) uses **its last valid value**; every
  refused value is named, and the earlier valid ones are said to be left aside. A list parameter
  (``many``: a multiselect's, repeated by design) keeps each valid value once, in order.

What is used is what the address should show (`Screened.used`, texts as given); the page writes
it back into the address, so the link on screen is the setup on screen.

Example:
    >>> params = {"lr": Param("learning rate", float_reader(above=0.0)), "k": Param("k", int_reader(1, 10))}
    >>> found = screen({"lr": ["0.1", "abc", "5"], "k": ["-3"], "colour": ["red"]}, params)
    >>> found.used
    {'lr': ['5']}
    >>> for line in found.messages(): print(line)
    The link's lr='abc' was not used: learning rate: expected a number greater than 0, got 'abc'
    The link gave lr 3 times: its last valid value, lr='5', is used (lr='0.1' is left aside)
    The link's k='-3' was not used: k must be from 1 to 10, got -3
    The link's colour='red' was not used: colour is not a setting of this page
"""

from __future__ import annotations

import difflib

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from explorer.config import ConfigError


class Refused(ValueError):
    """A link's value a page cannot use; the message is the reason in the page's words, without
    the parameter (`screen` names it)."""


class PartlyRefused(Refused):
    """A link's value a page can use in part (``hide=optimizer,train``: the known group): the part
    it keeps (``kept``, as text, read as ``value``) is used, and the message says what was not."""

    def __init__(self, message: str, kept: str, value: Any) -> None:
        super().__init__(message)
        self.kept, self.value = kept, value


@dataclass(frozen=True)
class Param:
    """One query parameter a page reads: ``label`` (its control's words), ``read`` (text -> value,
    raising `Refused`, `ConfigError` or `ValueError` with the reason) and ``many`` (a list: each
    repeated value is one of its items)."""

    label: str
    read: Callable[[str], Any] = str
    many: bool = False


def _range_words(low: float | None, high: float | None, above: float | None = None) -> str:
    fmt = lambda v: f"{v:,}" if isinstance(v, int) else f"{v:g}"  # noqa: E731
    if above is not None:
        low_words = f"greater than {fmt(above)}"
    elif low is not None:
        low_words = f"from {fmt(low)}"
    else:
        low_words = ""
    if high is None:
        return f"must be {low_words}" if low_words else ""
    if not low_words:
        return f"must be at most {fmt(high)}"
    return f"must be {low_words} to {fmt(high)}" if above is None else f"must be {low_words} and at most {fmt(high)}"


def int_reader(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """A reader of whole numbers from ``low`` to ``high`` (the refusal says the range).

    Example:
        >>> int_reader(1, 10)("3"), int_reader(1)("1000")
        (3, 1000)
        >>> int_reader(1, 10)("1e23")
        Traceback (most recent call last):
        ...
        explorer.views.links.Refused: expected a whole number from 1 to 10, got '1e23'
    """
    def read(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            span = _range_words(low, high)
            raise Refused(f"expected a whole number{' ' + span[len('must be '):] if span else ''}, "
                          f"got {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise Refused(f"{_range_words(low, high)}, got {value}")
        return value
    return read


def float_reader(low: float | None = None, high: float | None = None, *, above: float | None = None,
                 ) -> Callable[[str], float]:
    """A reader of finite numbers within the bounds (``above``: strictly greater than).

    Example:
        >>> float_reader(above=0.0)("0.1")
        0.1
        >>> float_reader(above=0.0, high=1e6)("nan")
        Traceback (most recent call last):
        ...
        explorer.views.links.Refused: expected a finite number greater than 0 and at most 1e+06, got 'nan'
    """
    def read(text: str) -> float:
        span = _range_words(low, high, above)
        try:
            value = float(text.strip())
        except ValueError:
            raise Refused(f"expected a number{' ' + span[len('must be '):] if span else ''}, got {text!r}") from None
        if not math.isfinite(value):
            raise Refused(f"expected a finite number{' ' + span[len('must be '):] if span else ''}, got {text!r}")
        if (above is not None and value <= above) or (low is not None and value < low) or (
                high is not None and value > high):
            raise Refused(f"{span}, got {value:g}")
        return value
    return read


def choice_reader(choices: Iterable[str]) -> Callable[[str], str]:
    """A reader of one of ``choices``.

    Example:
        >>> choice_reader(["digits", "mnist"])("cifar")
        Traceback (most recent call last):
        ...
        explorer.views.links.Refused: must be one of digits, mnist; got 'cifar'
    """
    options = list(choices)

    def read(text: str) -> str:
        if text not in options:
            raise Refused(f"must be one of {', '.join(options)}; got {text!r}")
        return text
    return read


def reason(err: Exception) -> str:
    """The words of a refusal: a `ConfigError`'s problem, else the exception's text."""
    return err.problem if isinstance(err, ConfigError) else str(err)


def say(label: str, problem: str) -> str:
    """A control's label and a problem as one sentence: "learning rate must be greater than 0",
    "hidden widths: rule 'dfa' needs at least 1 hidden layer".

    Example:
        >>> say("learning rate", "must be greater than 0, got 0"), say("Dataset", "MNIST is not here")
        ('learning rate must be greater than 0, got 0', 'Dataset: MNIST is not here')
        >>> say("forward init: high", "is required for initialiser 'uniform'")
        "forward init: high is required for initialiser 'uniform'"
    """
    return f"{label} {problem}" if problem.startswith(("must ", "is required")) else f"{label}: {problem}"


@dataclass
class Screened:
    """What `screen` found: ``used`` (parameter -> the texts the address keeps: one, or a list's
    items), ``values`` (parameter -> the value read: one, or a list), ``refused`` ((parameter,
    message) pairs, in the link's order) and ``notes`` (parameter -> a repeated parameter's note)."""

    used: dict[str, list[str]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)

    def messages(self) -> list[str]:
        """Every refusal and note, the link's parameters in order."""
        order = list(dict.fromkeys([k for k, _ in self.refused] + list(self.notes)))
        out = []
        for key in order:
            out += [m for k, m in self.refused if k == key]
            if key in self.notes:
                out.append(self.notes[key])
        return out

    def by_param(self) -> dict[str, str]:
        """Parameter -> its refusals and note as one text (for the spot beside its control)."""
        out: dict[str, list[str]] = {}
        for key, message in self.refused:
            out.setdefault(key, []).append(message)
        for key, note in self.notes.items():
            out.setdefault(key, []).append(note)
        return {key: " ".join(lines) for key, lines in out.items()}

    @property
    def changed(self) -> bool:
        """Whether the address must be rewritten (something refused or left aside)."""
        return bool(self.refused or self.notes)


def _told(label: str, problem: str) -> str:
    """The problem with the control's label in front, once (a setup's own words may name it)."""
    return problem if problem.lower().startswith(label.lower()) else say(label, problem)


def _quoted(key: str, text: str) -> str:
    return f"{key}={text!r}"


def screen(query: Mapping[str, str | Sequence[str]], params: Mapping[str, Param],
           check: Callable[[dict[str, Any]], Mapping[str, str]] | None = None) -> Screened:
    """Sort a link's parameters (``query``: name -> its text, or all its texts when repeated)
    into what the page uses and what it refuses, each refusal in words that name the parameter.
    ``check(values)`` (optional) judges the values that read, together: parameter -> problem for
    those the setup cannot take (a cap, a bound that depends on another setting); each is refused
    in turn, and the rest checked again, until none is refused.

    Example:
        >>> params = {"rules": Param("rules", choice_reader(["bp", "dfa"]), many=True), "n": Param("n", int)}
        >>> found = screen({"rules": ["bp", "xyz", "bp"], "n": "5"}, params,
        ...                check=lambda v: {"n": "must be at most 4"} if v.get("n", 0) > 4 else {})
        >>> found.used, found.values
        ({'rules': ['bp']}, {'rules': ['bp']})
        >>> found.messages()
        ["The link's rules='xyz' was not used: rules must be one of bp, dfa; got 'xyz'", "The link's n='5' was not used: n must be at most 4"]
    """
    out = Screened()
    for key, given in query.items():
        texts = [given] if isinstance(given, str) else list(given)
        param = params.get(key)
        if param is None:
            close = sorted(difflib.get_close_matches(key, list(params), n=4, cutoff=0.75))
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            for text in texts:
                out.refused.append((key, f"The link's {_quoted(key, text)} was not used: {key} is not a setting "
                                         f"of this page{hint}"))
            continue
        good: list[tuple[str, Any]] = []
        for text in texts:
            try:
                value = param.read(text)
            except PartlyRefused as err:
                out.refused.append((key, f"The link's {_quoted(key, text)} was used in part: "
                                         f"{_told(param.label, reason(err))}"))
                text, value = err.kept, err.value
            except (Refused, ConfigError, ValueError, TypeError) as err:
                out.refused.append((key, f"The link's {_quoted(key, text)} was not used: "
                                         f"{_told(param.label, reason(err))}"))
                continue
            if param.many and any(v == value for _, v in good):
                continue      # a list's item given twice: kept once
            good.append((text, value))
        if not good:
            continue
        if param.many:
            out.used[key], out.values[key] = [t for t, _ in good], [v for _, v in good]
            continue
        if len(texts) > 1:
            aside = [t for t, _ in good[:-1]]
            out.notes[key] = (f"The link gave {key} {len(texts)} times: its last valid value, "
                              f"{_quoted(key, good[-1][0])}, is used"
                              + (f" ({', '.join(_quoted(key, t) for t in aside)} "
                                 f"{'is' if len(aside) == 1 else 'are'} left aside)" if aside else ""))
        out.used[key], out.values[key] = [good[-1][0]], good[-1][1]
    if check is not None:
        for _ in range(len(out.values)):
            problems = {k: p for k, p in check(dict(out.values)).items() if k in out.values}
            if not problems:
                break
            key, problem = next(iter(problems.items()))
            shown = ",".join(out.used.pop(key))
            out.values.pop(key)
            out.notes.pop(key, None)
            label = params[key].label
            out.refused.append((key, f"The link's {_quoted(key, shown)} was not used: {_told(label, problem)}"))
    return out


__all__ = ["PartlyRefused", "Param", "Refused", "Screened", "screen", "int_reader", "float_reader", "choice_reader", "reason", "say"]
