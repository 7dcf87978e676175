"""The parity experiment's final table, the one summary that the command line, the Parity page and
`ParityWidget` show: per series (one rule at one optimiser and learning rate), the test accuracy
at the last epoch its runs reached, across seeds (mean, standard deviation, 95% confidence
interval, seeds), beside the published value (`explorer.experiments.references.PARITY`, read from
the catalogue) and whether it was read off a plot (``approx``).

`final_text` is the table as the page and the widget show it: accuracies in % with one decimal,
"–" where there is no value (one seed has no interval; the literature has no value for most k),
"≈" before a published value read off a plot.

Example:
    >>> bp = Series("BP", "bp", "sgd", 0.5)
    >>> seeds = [[{"epoch": 1.0, "test_acc": 0.5}, {"epoch": 2.0, "test_acc": a}] for a in (0.7, 0.8, 0.9)]
    >>> row = final_table(3, {bp: seeds}).iloc[0].to_dict()
    >>> [row[c] if isinstance(row[c], str) else round(float(row[c]), 3) for c in COLUMNS]
    ['BP', 'bp', 'sgd', 0.5, 2.0, 0.8, 0.1, 0.248, 0.552, 1.0, 3.0, 0.8, 1.0]
    >>> list(final_text(final_table(3, {bp: seeds})).to_dict("records")[0].values())
    ['BP', 'sgd', '0.5', '2', '80.0%', '24.8%', 3, '≈80.0%', '+0.0']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

from explorer.config.labels import number_text

if TYPE_CHECKING:  # pandas is imported where a table is made: the catalogue imports `Series` from here
    import pandas as pd

COLUMNS = ["series", "rule", "optimiser", "lr", "epoch", "mean", "std", "ci95", "low", "high", "n", "published",
           "approx"]


@dataclass(frozen=True)
class Series:
    """One line of the chart and one row of the table: a rule (its key in `PARITY`: ``bp``,
    ``rf:linear``, …) at one optimiser and learning rate, under its legend label."""

    label: str
    rule: str
    optimiser: str
    lr: float


def final_table(k: int, runs: Mapping[Series, Sequence[Sequence[dict]]], key: str = "test_acc") -> pd.DataFrame:
    """Per series (``runs`` maps each to its runs, one list of records per seed): the last whole
    epoch any of its runs reached, the mean of ``key`` there over the seeds that reached it, its
    standard deviation, the half-width of the 95% confidence interval (Student's t; NaN for one
    seed), that interval clipped to [0, 1] (``low``, ``high``, as the chart draws it), the number
    of seeds ``n``, the published value at this ``k`` (NaN where the literature has none) and
    ``approx``, True where that value is read off a plot. A series with no epoch yet has NaN
    numbers and n = 0. Columns: `COLUMNS`.
    """
    import pandas as pd

    from explorer.experiments.references import PARITY, PARITY_APPROX  # the catalogue imports parity
    from explorer.runs.sweep import summarise

    rows = [(s.label, float(r["epoch"]), key, r[key])
            for s, seeds in runs.items() for records in seeds for r in records
            if float(r["epoch"]).is_integer() and r.get(key) is not None and math.isfinite(r[key])]
    stats = summarise(pd.DataFrame(rows, columns=["series", "epoch", "metric", "value"]), ["series"])
    last = stats.loc[stats.groupby("series", sort=False)["epoch"].idxmax()].set_index("series")
    out = []
    for s in runs:
        row = {"series": s.label, "rule": s.rule, "optimiser": s.optimiser, "lr": s.lr, "n": 0,
               "published": PARITY.get((k, s.rule), math.nan), "approx": (k, s.rule) in PARITY_APPROX}
        if s.label in last.index:
            at = last.loc[s.label]
            row.update(epoch=float(at["epoch"]), mean=float(at["mean"]), std=float(at["std"]),
                       ci95=float(at["ci95"]), n=int(at["n"]))
        out.append(row)
    table = pd.DataFrame(out, columns=COLUMNS).astype({c: float for c in COLUMNS[3:10]} | {"published": float,
                                                                                           "approx": bool})
    table["low"] = (table["mean"] - table["ci95"]).clip(lower=0.0)
    table["high"] = (table["mean"] + table["ci95"]).clip(upper=1.0)
    return table


def final_text(final: pd.DataFrame) -> pd.DataFrame:
    """``final`` (a `final_table`) as text to show: series (which names the rule), optimiser, lr,
    epoch, test accuracy, ± 95% CI, seeds, published ("≈" where read off a plot), and the
    difference, measured less published, in percentage points with its sign."""
    import pandas as pd

    # Rounded first, then + 0.0: a difference of -0.001 points reads "0.0", not "-0.0".
    percent = lambda values: [number_text(round(100 * v, 1) + 0.0, "%") for v in values]  # noqa: E731
    points = [f"{round(100 * v, 1) + 0.0:+.1f}" if math.isfinite(v) else "–"
              for v in final["mean"] - final["published"]]
    return pd.DataFrame({
        "series": final["series"], "optimiser": final["optimiser"],
        "lr": [number_text(v) for v in final["lr"]], "epoch": [number_text(v) for v in final["epoch"]],
        "test accuracy": percent(final["mean"]), "± 95% CI": percent(final["ci95"]), "seeds": [int(n) for n in final["n"]],
        "published": [("≈" if approx and text != "–" else "") + text
                      for text, approx in zip(percent(final["published"]), final["approx"])],
        "difference (points)": points,
    })


__all__ = ["COLUMNS", "Series", "final_table", "final_text"]
