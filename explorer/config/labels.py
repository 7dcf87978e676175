"""A config in words: a rule's label, a run's label, a layer's name, a number as a person reads it.

Every legend, table, message and lesson reads its words here, so a rule is called the same thing on
every page, in every notebook and on the command line.

Example:
    >>> rule_label({"name": "sdfa", "connections": 1}), layer_label("layers.0")
    ('sDFA 1 connection', 'hidden layer 1')
"""

from __future__ import annotations

import math
import re
from typing import Mapping, Sequence

from explorer.config.registry import OPTIONS, RULES
from explorer.config.schema import RunConfig

RULE_NAMES = {key: spec.label for key, spec in RULES.items()}


def _describe_init(spec) -> str:
    """A feedback initialisation in the notation of the papers ("U[-0.5, 0.5]")."""
    if isinstance(spec, str):
        return spec
    name = spec.get("name", "default")
    if name == "uniform":
        return f"U[{spec['low']:g}, {spec['high']:g}]"
    if name == "normal":
        return f"N({spec.get('mean', 0):g}, {spec['std']:g}²)"
    if name == "sign_concordant":
        return "sign-concordant"
    return f"{name} ×{spec['gain']:g}" if spec.get("gain") is not None else name


def _options(algorithm: Mapping) -> str:
    """The words for a rule's options, after its name (" block 2", " 1 connection, shallow"), in the
    registry's order; the choice of sign refresh reads after a comma."""
    text = ""
    for name in ("block_size", "bp_depth", "connections", "variant", "scale"):
        if algorithm.get(name) is not None:
            text += " " + OPTIONS[name].say(algorithm[name])
    if algorithm.get("sign_refresh") is not None:
        text += ", " + OPTIONS["sign_refresh"].say(algorithm["sign_refresh"])
    if algorithm.get("train_hidden") is False:
        text += ", shallow"
    return text


def rule_label(algorithm: Mapping, changes: Mapping | None = None) -> str:
    """THE name of a run's rule, wherever a run is named (legends, messages, tables, lessons): the
    rule, the options that set it apart, its feedback's range, and ``changes`` (dotted config
    changes beyond the algorithm; Batch Manhattan reads "+ BM", its own learning rate left out).

    Example:
        >>> rule_label({"name": "bdfa", "block_size": 2}), rule_label({"name": "rf", "variant": "linear"})
        ('BDFA block 2', 'RF linear')
        >>> rule_label({"name": "sdfa", "connections": 1}), rule_label({"name": "fa", "train_hidden": False})
        ('sDFA 1 connection', 'FA, shallow')
        >>> rule_label({"name": "bp", "train_hidden": False})   # shallow learning: the output layer alone
        'Shallow'
        >>> rule_label({"name": "ifa", "feedback_init": {"name": "uniform", "low": -0.1, "high": 0.1}})
        'IFA, B ~ U[-0.1, 0.1]'
        >>> rule_label({"name": "usf"}, {"optimizer.batch_manhattan": True, "optimizer.lr": 3e-4})
        'uSF + BM'
    """
    name = algorithm.get("name", "bp")
    if name == "bp" and algorithm.get("train_hidden") is False:
        text = "Shallow"
    else:
        text = RULE_NAMES.get(name, name) + _options(algorithm)
    if algorithm.get("feedback_init") is not None:
        text += f", B ~ {_describe_init(algorithm['feedback_init'])}"
    changes = changes or {}
    for key, value in changes.items():
        if key == "optimizer.batch_manhattan":
            text += " + BM" if value else ""
        elif not (key == "optimizer.lr" and changes.get("optimizer.batch_manhattan")):  # BM's own lr
            text += f", {key.rsplit('.', 1)[-1]} {value}"
    return text


def run_label(config: RunConfig | Mapping) -> str:
    """`rule_label` of a run's config (a `RunConfig` or its dict), Batch Manhattan included.

    Example:
        >>> run_label({"algorithm": {"name": "sdfa", "connections": 1}})
        'sDFA 1 connection'
        >>> run_label({"algorithm": {"name": "usf"}, "optimizer": {"batch_manhattan": True}})
        'uSF + BM'
    """
    d = config.to_dict() if isinstance(config, RunConfig) else config
    manhattan = (d.get("optimizer") or {}).get("batch_manhattan")
    return rule_label(d.get("algorithm", {"name": "bp"}), {"optimizer.batch_manhattan": True} if manhattan else None)


def layer_label(name: str) -> str:
    """The words a person reads for a tapped layer's module name: "layers.0" (an MLP's first hidden
    layer) is "hidden layer 1"; a residual block's "blocks.0.conv2" is "block 1, conv 2"; others
    ("stem", "conv1") stay as they are, their number set apart.

    Example:
        >>> layer_label("layers.0"), layer_label("blocks.2.conv1"), layer_label("conv2"), layer_label("stem")
        ('hidden layer 1', 'block 3, conv 1', 'conv 2', 'stem')
    """
    found = re.fullmatch(r"layers\.(\d+)", name)
    if found:
        return f"hidden layer {int(found[1]) + 1}"
    found = re.fullmatch(r"blocks\.(\d+)\.(.+)", name)
    if found:
        return f"block {int(found[1]) + 1}, {layer_label(found[2])}"
    return re.sub(r"^([a-z]+)(\d+)$", r"\1 \2", name)


def number_text(value, unit: str = "", missing: str = "–") -> str:
    """A number as a table or an axis shows it: short (four significant digits, whole numbers up to
    99999; very large or small ones as 6e-14 or 8e+31), a percentage or an angle with one decimal,
    ``missing`` for none or NaN.

    Example:
        >>> number_text(0.00000000000006), number_text(1.4999999999999), number_text(250.0), number_text(None)
        ('6e-14', '1.5', '250', '–')
        >>> number_text(97.54, "%"), number_text(33.333, "°"), number_text(float("inf"))
        ('97.5%', '33.3°', 'inf')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    value = float(value)
    if unit in ("%", "°"):
        return f"{value:.1f}{unit}"
    if math.isinf(value):
        text = "inf" if value > 0 else "-inf"
    elif value != 0 and not 1e-3 <= abs(value) < 1e5:
        mantissa, exponent = f"{value:.1e}".split("e")
        text = f"{mantissa.replace('.0', '')}e{int(exponent):+d}"
    else:
        text = f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return f"{text} {unit}" if unit else text


def unique_labels(labels: Sequence[str]) -> list[str]:
    """Labels made unique by numbering repeats ("BP", "BP (2)"), so two runs never share a legend entry.

    Example:
        >>> unique_labels(["BP", "DFA", "BP"])
        ['BP', 'DFA', 'BP (2)']
    """
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out
