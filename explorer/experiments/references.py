"""Published figures that runs are shown beside (from REFERENCES.md), as data.

Example:
    >>> PARITY[(3, "bp")]
    0.8
    >>> PARITY_SETTING
    'k MNIST digits, 512 ReLU, sigmoid output, BCE, weight decay 1e-3, 20 epochs'
"""

# Test accuracy on the parity of k MNIST digits, keyed by (k, rule) where the rule is written as
# the parity experiment writes it (`explorer.experiments.parity.rule_key`: bp, dfa, ntk, rf:gaussian, …).
PARITY: dict[tuple[int, str], float] = {
    (1, "bp"): 0.985, (1, "ntk"): 0.98, (1, "rf:gaussian"): 0.92, (1, "rf:relu"): 0.92, (1, "rf:linear"): 0.84,
    (3, "bp"): 0.80, (3, "ntk"): 0.50, (3, "rf:gaussian"): 0.50, (3, "rf:relu"): 0.50, (3, "rf:linear"): 0.50,
    (3, "dfa"): 0.70,
}
PARITY_SOURCE = "Daniely & Malach 2020; the parity thesis"
PARITY_SETTING = "k MNIST digits, 512 ReLU, sigmoid output, BCE, weight decay 1e-3, 20 epochs"
