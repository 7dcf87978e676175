"""Metric records as tidy tables: what every chart of the app and the notebooks draws from.

A run's metric records (see `explorer.engine.trainer`) are nested dicts; the charts want long tables with
one row per point. Each function here takes ``runs``, a mapping from a run's label (what the legend
shows, see `run_label`) to its list of records, and returns a `pandas.DataFrame`. Nothing is
recomputed: the values are the ones the trainer measured.

Example:
    >>> recs = [{"step": 10, "epoch": 0.5, "train_loss": 1.2, "test_loss": 1.3, "train_acc": 0.6, "test_acc": 0.55,
    ...          "layers": [{"layer": "layers.0", "index": 1, "update_cos": 0.5, "update_deg": 60.0,
    ...                      "grad_norm": 0.1, "bp_grad_norm": 0.2}]}]
    >>> curves({"dfa": recs})[["run", "split", "measure", "value"]].values.tolist()[:2]
    [['dfa', 'train', 'loss', 1.2], ['dfa', 'train', 'accuracy', 0.6]]
    >>> alignment({"dfa": recs})[["layer", "kind", "cos", "deg"]].values.tolist()
    [['hidden layer 1', 'update', 0.5, 60.0]]
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import pandas as pd

from explorer.config.labels import layer_label
from explorer.runs.sweep import summarise

ALIGNMENT_KINDS = ("update", "signal", "weight")
CURVE_COLUMNS = ["run", "step", "epoch", "split", "measure", "value"]
ALIGNMENT_COLUMNS = ["run", "step", "epoch", "layer", "index", "kind", "cos", "deg"]
NORM_COLUMNS = ["run", "step", "epoch", "layer", "index", "gradient", "norm"]

def curves(runs: Mapping[str, Sequence[dict]]) -> pd.DataFrame:
    """Loss and accuracy per logged step: run, step, epoch, split (train/test), measure (loss/accuracy), value.
    A missing or non-finite value (a diverged run's last loss) is left out, so lines end where the run did."""
    rows = []
    for run, records in runs.items():
        for r in records:
            for split in ("train", "test"):
                for measure, key in (("loss", f"{split}_loss"), ("accuracy", f"{split}_acc")):
                    value = r.get(key)
                    if value is not None and math.isfinite(value):
                        rows.append((run, r["step"], r["epoch"], split, measure, value))
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def alignment(runs: Mapping[str, Sequence[dict]]) -> pd.DataFrame:
    """Update, signal and weight alignment per hidden layer: run, step, epoch, layer (`layer_label`), index,
    kind, cos, deg.
    Kinds a rule does not have (bp has no alignment; DFA on a CNN no weight alignment) are left out."""
    rows = []
    for run, records in runs.items():
        for r in records:
            for layer in r.get("layers", ()):
                for kind in ALIGNMENT_KINDS:
                    cos = layer.get(f"{kind}_cos")
                    if cos is None or not math.isfinite(cos):
                        continue
                    rows.append((run, r["step"], r["epoch"], layer_label(layer["layer"]), layer["index"], kind, cos,
                                 layer.get(f"{kind}_deg", math.degrees(math.acos(max(-1.0, min(1.0, cos)))))))
    return pd.DataFrame(rows, columns=ALIGNMENT_COLUMNS)


def norms(runs: Mapping[str, Sequence[dict]]) -> pd.DataFrame:
    """Per-layer gradient norms: the rule's own (``gradient`` = "rule") and backprop's on the same
    batch ("backprop"): run, step, epoch, layer (`layer_label`), index, gradient, norm. Zero norms are left out
    (they have no place on a log scale)."""
    rows = []
    for run, records in runs.items():
        for r in records:
            for layer in r.get("layers", ()):
                for gradient, key in (("rule", "grad_norm"), ("backprop", "bp_grad_norm")):
                    value = layer.get(key)
                    if value is not None and math.isfinite(value) and value > 0:
                        rows.append((run, r["step"], r["epoch"], layer_label(layer["layer"]), layer["index"], gradient, value))
    return pd.DataFrame(rows, columns=NORM_COLUMNS)


def band(runs: Mapping[str, Sequence[Sequence[dict]]], key: str = "test_acc") -> pd.DataFrame:
    """Mean and 95% confidence band (Student's t) of one record key across seeds, per epoch end:
    run, epoch, mean, low, high, n. ``runs`` maps a label to a list of runs (one per seed), each a
    list of records; only records at whole epochs are used, so seeds line up. For an accuracy
    (a key ending in ``_acc``) the band is clipped to [0, 1], where accuracies live.

    Example:
        >>> seeds = [[{"epoch": 1.0, "test_acc": a}] for a in (0.5, 0.6, 0.7)]
        >>> row = band({"BP": seeds}).iloc[0]
        >>> round(float(row["mean"]), 3), round(float(row["high"] - row["mean"]), 3)   # t(0.975, 2) * 0.1 / sqrt(3)
        (0.6, 0.248)
    """
    rows = []
    for run, seeds in runs.items():
        for records in seeds:
            for r in records:
                value = r.get(key)
                if float(r["epoch"]).is_integer() and value is not None and math.isfinite(value):
                    rows.append((run, float(r["epoch"]), key, value))
    table = pd.DataFrame(rows, columns=["run", "epoch", "metric", "value"])
    out = summarise(table, ["run"]).sort_values(["run", "epoch"], kind="stable")
    if key.endswith("_acc"):
        out["low"], out["high"] = out["low"].clip(lower=0.0), out["high"].clip(upper=1.0)
    return out[["run", "epoch", "mean", "low", "high", "n"]].reset_index(drop=True)


def latest(records: Sequence[dict]) -> dict:
    """The last record, or an empty dict for a run that has logged nothing yet."""
    return dict(records[-1]) if records else {}


def thin(records: Sequence[dict], most: int = 250) -> list[dict]:
    """At most about ``most`` records, evenly spread, the first and the last always kept: live charts
    of long runs stay cheap to redraw (a chart's cost grows with its points, not its pixels).

    Example:
        >>> [r["step"] for r in thin([{"step": s} for s in range(1, 11)], most=4)]
        [1, 4, 7, 10]
    """
    if most < 2:
        raise ValueError(f"most must be at least 2, got {most!r}")
    n = len(records)
    if n <= most:
        return list(records)
    every = math.ceil((n - 1) / (most - 1))
    kept = list(records[::every])
    if kept[-1] is not records[-1]:
        kept.append(records[-1])
    return kept


def thinned(runs: Mapping[str, Sequence[dict]], most: int = 250) -> dict[str, list[dict]]:
    """`thin` applied to each run of a mapping."""
    return {label: thin(records, most) for label, records in runs.items()}
