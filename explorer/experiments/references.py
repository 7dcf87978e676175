"""The published parity values that the parity experiment's runs are shown beside, read from the
catalogue's entries of the parity thesis (`PARITY_ENTRIES`): Fig. 2.1 (BP and the lazy methods) and
Fig. 3.1 (DFA with plain SGD, which Fig. 2.1 does not have). One source for the command line, the
Parity page, `ParityWidget` and the lessons.

`PARITY` maps (k, rule key) to a test accuracy as a fraction, the rule written as the parity
experiment writes it (`explorer.experiments.parity.rule_key`: bp, dfa, ntk, rf:gaussian, …). A rule
takes its value from the first entry that has it; where that figure has two runs of one rule (BP
with Adadelta and with SGD), the first one's value. `PARITY_APPROX` holds the keys whose value is
approximate (shown with "≈": read off a plot, or the mean of the author's runs that a plot draws).

Example:
    >>> PARITY[(3, "bp")], PARITY[(1, "rf:linear")], PARITY[(3, "dfa")], (1, "bp") in PARITY_APPROX
    (0.8, 0.84, 0.684, True)
    >>> PARITY_SETTING
    'k MNIST digits, 512 ReLU, sigmoid output, BCE, weight decay 0.001, 20 epochs'
"""

from __future__ import annotations

from explorer.experiments import catalogue
from explorer.experiments.parity import rule_key

PARITY_ENTRIES = ("demirbilek-f2.1", "demirbilek-f3.1")
PARITY_ENTRY = PARITY_ENTRIES[0]  # the experiment's setting (the network, loss and epochs) is this figure's


def _parity() -> tuple[dict[tuple[int, str], float], frozenset[tuple[int, str]]]:
    values: dict[tuple[int, str], float] = {}
    approx = set()
    for entry in map(catalogue.get, PARITY_ENTRIES):
        runs = {run.label: run.changes for run in entry.runs}
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
_FIRST, _DFA = map(catalogue.get, PARITY_ENTRIES)
PARITY_SOURCE = (f"{catalogue.document_name(_FIRST.source)}, {_FIRST.ref}: for k = 1 Daniely & Malach's values as "
                 f"they plot them, which the figure reproduces; for k = 3 the thesis's words, BP with SGD or "
                 f"Adadelta \"almost reach 80%\" and the lazy methods stay at chance; DFA, with plain SGD: "
                 f"{_DFA.ref}; catalogue entries {', '.join(PARITY_ENTRIES)}")
PARITY_SETTING = _setting()


__all__ = ["PARITY", "PARITY_APPROX", "PARITY_ENTRIES", "PARITY_ENTRY", "PARITY_SETTING", "PARITY_SOURCE"]
