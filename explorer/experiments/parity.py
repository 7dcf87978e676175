"""The parity experiment (after Daniely & Malach 2020 and the parity thesis), as one call.

k digits side by side, label = parity of their sum; one hidden layer of 512 ReLU units, one sigmoid
output with BCE, weight decay 1e-3; each rule run over the seeds (and learning rates, keeping the
thesis's choice per rule), summarised with 95% confidence intervals beside the published values.

Example:
    >>> spec = rule_spec("rf:linear")
    >>> spec.label, spec.algorithm, spec.activation
    ('rf:linear', {'name': 'rf', 'variant': 'linear'}, 'linear')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from explorer.config import ConfigError, RunConfig
from explorer.experiments.references import PARITY
from explorer.runs.sweep import (
    METRICS,
    Progress,
    close_bar,
    epochs_in,
    expand,
    progress_bar,
    select_lr,
    summarise,
    sweep,
)


@dataclass(frozen=True)
class RuleSpec:
    label: str        # as the user wrote it: "bp", "rf:gaussian", …
    algorithm: dict
    activation: str


def rule_spec(text: str) -> RuleSpec:
    """``bp``, ``dfa``, ``ntk``, ``rf`` (= ``rf:gaussian``), ``rf:relu``, ``rf:linear``, or any other rule key."""
    name, _, variant = text.strip().partition(":")
    if name == "rf":
        variant = variant or "gaussian"
        return RuleSpec(f"rf:{variant}", {"name": "rf", "variant": variant},
                        "linear" if variant == "linear" else "relu")
    if variant:
        raise ConfigError(f"--rules: only rf takes a variant (rf:gaussian, rf:relu, rf:linear), got {text!r}")
    return RuleSpec(name, {"name": name}, "relu")


def parity_config(k: int, spec: RuleSpec, *, base: str = "mnist", epochs: int = 20, optimizer: str = "sgd",
                  lr: float = 0.01, momentum: float = 0.0, batch_size: int = 64, hidden: int = 512,
                  data_options: dict | None = None, device: str | None = None) -> RunConfig:
    """The seed experiment's config for one rule."""
    opt = {"name": optimizer, "lr": lr, "weight_decay": 1e-3}
    if optimizer in ("sgd", "rmsprop"):
        opt["momentum"] = momentum
    d = {"data": {"name": "parity", "base": base, "k": k, **(data_options or {})},
         "model": {"name": "mlp", "hidden": [hidden], "activation": spec.activation},
         "algorithm": spec.algorithm, "optimizer": opt,
         "train": {"epochs": epochs, "batch_size": batch_size, "loss": "bce"}}
    if device:
        d["device"] = device
    return RunConfig.from_dict(d)


def run_parity(k: int, rules: Sequence[str], lrs: Sequence[float], seeds: int = 3,
               progress: bool | Progress = True, **settings) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(long table, summary, final table) over ``rules`` × ``lrs`` × ``seeds``. The final table has,
    per rule at its chosen lr, the last epoch's test accuracy (mean, 95% CI) and the published value.
    ``progress`` is `sweep`'s, over every rule's runs: one bar, moved by each training step."""
    specs = [rule_spec(r) for r in rules]
    # Every rule's config (and every lr) is checked before the first run starts.
    bases = [parity_config(k, spec, lr=lrs[0], **settings) for spec in specs]
    epochs = sum(epochs_in(expand(base, {"optimizer.lr": list(lrs)}, seeds)) for base in bases)
    bar = progress_bar(epochs, f"parity k={k}") if progress is True else None
    report = bar.update if bar is not None else progress  # one count over every rule's runs
    tables = []
    for spec, base in zip(specs, bases):
        result = sweep(base, {"optimizer.lr": list(lrs)}, seeds, progress=report)
        tables.append(result.table.assign(rule=spec.label))
    if bar is not None:
        close_bar(bar)
    table = pd.concat(tables, ignore_index=True)
    keys = ["rule", "optimizer.lr"]
    summary = summarise(table, keys)
    chosen = select_lr(table, keys)
    last = summary[(summary["metric"] == "test_acc") & (summary["epoch"] == summary["epoch"].max())]
    final = chosen[keys].merge(last, on=keys)[[*keys, "mean", "ci95", "n"]]
    final["published"] = [PARITY.get((k, rule)) for rule in final["rule"]]
    return table, summary, final


__all__ = ["RuleSpec", "rule_spec", "parity_config", "run_parity", "METRICS"]
