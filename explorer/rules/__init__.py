"""Learning rules: one strategy object per run, applied to a rule-agnostic network.

Example:
    >>> from explorer.config import AlgorithmConfig, InitSpec
    >>> type(make_rule(AlgorithmConfig("dfa"), InitSpec())).__name__
    'DirectFeedback'
"""

from __future__ import annotations

from explorer.config import AlgorithmConfig, InitSpec
from explorer.rules.base import Rule
from explorer.rules.dfa import DirectFeedback
from explorer.rules.fa import FeedbackAlignment
from explorer.rules.lazy import GatedLinear, RandomFeatures
from explorer.rules.structure import Structure

FA_FAMILY = ("fa", "usf", "frsf", "brsf")
DFA_FAMILY = ("dfa", "sdfa", "ssdfa", "bdfa", "fp", "ifa")


def make_rule(cfg: AlgorithmConfig, forward_init: InitSpec) -> Rule:
    """The rule object for ``cfg.name``."""
    if cfg.name in FA_FAMILY:
        return FeedbackAlignment(cfg, forward_init)
    if cfg.name in DFA_FAMILY:
        return DirectFeedback(cfg, forward_init)
    if cfg.name == "rf":
        return RandomFeatures(cfg, forward_init)
    if cfg.name == "ntk":
        return GatedLinear(cfg, forward_init)
    return Rule(cfg, forward_init)


__all__ = ["Rule", "DirectFeedback", "FeedbackAlignment", "RandomFeatures", "GatedLinear", "Structure", "make_rule", "FA_FAMILY", "DFA_FAMILY"]
