"""Numbers read off metric records: what a published value is compared with.

Metrics (`measure`):

- a record key as it is (``train_loss``, ``test_loss``, ``epoch``, ``lr``, …);
- ``test_acc`` / ``train_acc`` in %, ``test_error`` / ``train_error`` = 100 × (1 − accuracy), in %;
- ``step_ms``: wall-clock milliseconds per training step, ``1000 × time / step`` (``time`` counts
  from the end of the run's set-up, so it includes the steps' logging and test evaluations);
- ``nse``: the normalised squared error of Lillicrap et al.'s linear teacher task,
  ``test_loss / 10`` (the mean-squared target of ``y = T x`` with ``T ~ U[-1, 1]`` and 30 standard
  normal inputs is 30 × 1/3 = 10, in expectation over the teacher);
- per-layer values of the record's ``layers`` (``update_deg``, ``signal_deg``, ``weight_deg``,
  their ``_cos``, ``grad_norm``, …): the plain name is the FIRST hidden layer (the one farthest from
  the output, where rules differ most; in a one-hidden-layer network the only one); a ``_mean``
  suffix averages the hidden layers where the value is defined, ``_last`` takes the last one.

Example:
    >>> measure({"test_acc": 0.9}, "test_error"), unit_of("test_error")
    (10.0, '%')
"""

from __future__ import annotations

import math
from typing import Any, Mapping

TEACHER_POWER = 10.0  # E[mean_i y_i²] for Lillicrap's linear teacher: 30 inputs × E[T²] = 1/3

_LAYER_KEYS = ("update_cos", "update_deg", "signal_cos", "signal_deg", "weight_cos", "weight_deg",
               "grad_norm", "bp_grad_norm", "weight_norm", "feedback_norm")
_UNITS = {"test_acc": "%", "train_acc": "%", "test_error": "%", "train_error": "%", "step_ms": "ms",
          "step_ratio": "×", "bandwidth_gbs": " GB/s"}


def unit_of(metric: str) -> str:
    """The unit `measure` gives ``metric`` in: "%", "°" (angles), "ms", "×" or "" (plain numbers).

    Example:
        >>> unit_of("test_error"), unit_of("update_deg_mean"), unit_of("step_ms"), unit_of("nse")
        ('%', '°', 'ms', '')
    """
    if metric in _UNITS:
        return _UNITS[metric]
    return "°" if _layer_key(metric) and _layer_key(metric)[0].endswith("_deg") else ""


# Published metrics that no training record holds: values a document quotes for reference (a CUDA
# kernel's memory bandwidth, the thesis's cost units). An entry of only these is not trained.
UNRECORDED = frozenset({"bandwidth_gbs", "thesis_cost"})

_WORDS = {"test_acc": "test accuracy", "train_acc": "train accuracy", "test_error": "test error",
          "train_error": "train error", "test_loss": "test loss", "train_loss": "train loss",
          "nse": "normalised squared error", "step_ms": "time per training step", "step_ratio": "step time against BP's",
          "bandwidth_gbs": "memory bandwidth", "thesis_cost": "backward-pass cost (the thesis's units)",
          "update_cos": "update cosine to BP's", "update_deg": "update angle to BP's",
          "signal_cos": "signal cosine to BP's", "signal_deg": "signal angle to BP's",
          "weight_cos": "feedback-forward weight cosine", "weight_deg": "feedback-forward weight angle",
          "grad_norm": "update norm", "bp_grad_norm": "BP's gradient norm", "weight_norm": "weight norm",
          "feedback_norm": "feedback norm"}
_WHICH_LAYER = {"first": "", "mean": ", mean over hidden layers", "last": ", last hidden layer"}


def words_of(metric: str) -> str:
    """``metric`` in words for a table or an axis (without its unit: see `unit_of`); a per-layer
    metric says which layers when it is not the first hidden layer; a metric not listed, as it is.

    Example:
        >>> words_of("nse"), words_of("signal_deg"), words_of("update_cos_mean"), words_of("epoch")
        ('normalised squared error', "signal angle to BP's", "update cosine to BP's, mean over hidden layers", 'epoch')
    """
    if metric in _WORDS:
        return _WORDS[metric]
    layer = _layer_key(metric)
    return _WORDS[layer[0]] + _WHICH_LAYER[layer[1]] if layer else metric.replace("_", " ")


def _layer_key(metric: str) -> tuple[str, str] | None:
    """(layer key, how: "first" / "mean" / "last") for a per-layer metric, else None."""
    for how in ("mean", "last"):
        if metric.endswith(f"_{how}") and metric[: -len(how) - 1] in _LAYER_KEYS:
            return metric[: -len(how) - 1], how
    return (metric, "first") if metric in _LAYER_KEYS else None


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def measure(record: Mapping, metric: str) -> float:
    """The value of ``metric`` in one metric record (see the module's list); NaN where the record
    lacks what it needs (an empty record, a regression run's accuracy, a layer's undefined angle).

    Example:
        >>> rec = {"step": 200, "time": 0.5, "test_acc": 0.975, "test_loss": 0.08,
        ...        "layers": [{"update_deg": 40.0}, {"update_deg": 20.0}]}
        >>> measure(rec, "test_error"), measure(rec, "step_ms"), measure(rec, "test_acc")
        (2.5, 2.5, 97.5)
        >>> measure(rec, "update_deg"), measure(rec, "update_deg_mean"), measure(rec, "update_deg_last")
        (40.0, 30.0, 20.0)
    """
    if metric in ("test_acc", "train_acc"):
        return 100.0 * _number(record.get(metric))
    if metric in ("test_error", "train_error"):
        return 100.0 - 100.0 * _number(record.get(metric.replace("error", "acc")))
    if metric == "step_ms":
        step = _number(record.get("step"))
        return 1000.0 * _number(record.get("time")) / step if step > 0 else math.nan
    if metric == "nse":
        return _number(record.get("test_loss")) / TEACHER_POWER
    layer = _layer_key(metric)
    if layer is None:
        return _number(record.get(metric))
    key, how = layer
    values = [_number(row.get(key)) for row in record.get("layers") or ()]
    if not values:
        return math.nan
    if how == "first":
        return values[0]
    if how == "last":
        return values[-1]
    defined = [v for v in values if not math.isnan(v)]
    return sum(defined) / len(defined) if defined else math.nan
