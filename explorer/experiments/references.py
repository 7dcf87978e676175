"""The published parity values that the parity experiment's runs are shown beside, read from the
catalogue's entry of Fig. 2.1 of the parity thesis (`PARITY_ENTRY`): one source for the command
line, the Parity page, `ParityWidget` and the lessons.

`PARITY` maps (k, rule key) to a test accuracy as a fraction, the rule written as the parity
experiment writes it (`explorer.experiments.parity.rule_key`: bp, ntk, rf:gaussian, …); where the
figure has two runs of one rule (BP with Adadelta and with SGD), the first one's value.
`PARITY_APPROX` holds the keys whose value is read off a plot (shown with "≈"; Fig. 2.1 is a plot, so
every value is).

Example:
    >>> PARITY[(3, "bp")], PARITY[(1, "rf:linear")], (1, "bp") in PARITY_APPROX
    (0.8, 0.84, True)
    >>> PARITY_SETTING
    'k MNIST digits, 512 ReLU, sigmoid output, BCE, weight decay 0.001, 20 epochs'
"""

from __future__ import annotations

from explorer.experiments import catalogue
from explorer.experiments.parity import rule_key

PARITY_ENTRY = "demirbilek-f2.1"


def _parity() -> tuple[dict[tuple[int, str], float], frozenset[tuple[int, str]]]:
    entry = catalogue.get(PARITY_ENTRY)
    runs = {run.label: run.changes for run in entry.runs}
    values: dict[tuple[int, str], float] = {}
    approx = set()
    for p in entry.published:
        if p.metric != "test_acc":
            continue
        changes = runs[p.run]
        key = (int(changes["data.k"]), rule_key(changes["algorithm"]))
        if key not in values:
            values[key] = round(p.value / 100, 6)
            if p.approx:
                approx.add(key)
    return values, frozenset(approx)


def _setting() -> str:
    s = catalogue.get(PARITY_ENTRY).setting
    hidden, activation = s["model"]["hidden"], s["model"]["activation"]
    units = f"{' × '.join(map(str, hidden))} {activation.replace('relu', 'ReLU')}"
    return (f"k {s['data']['base'].upper()} digits, {units}, "
            f"sigmoid output, {s['train']['loss'].upper()}, weight decay {s['optimizer']['weight_decay']:g}, "
            f"{s['train']['epochs']} epochs")


PARITY, PARITY_APPROX = _parity()
_ENTRY = catalogue.get(PARITY_ENTRY)
PARITY_SOURCE = f"{_ENTRY.source}, {_ENTRY.ref}; catalogue entry {_ENTRY.id}"
PARITY_SETTING = _setting()


__all__ = ["PARITY", "PARITY_APPROX", "PARITY_ENTRY", "PARITY_SETTING", "PARITY_SOURCE"]
