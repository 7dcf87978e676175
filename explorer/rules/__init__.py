"""Learning rules: one strategy object per run, applied to a rule-agnostic network.

Which class computes a rule's update is declared in `explorer.config.registry` (``strategy``);
the math of every update, in a few lines of NumPy each, is in `explorer.rules.reference`.

Example:
    >>> from explorer.config import AlgorithmConfig, InitSpec
    >>> type(make_rule(AlgorithmConfig("dfa"), InitSpec())).__name__
    'DirectFeedback'
"""

from __future__ import annotations

from explorer.config import AlgorithmConfig, InitSpec
from explorer.config.registry import RULES
from explorer.rules.base import Rule
from explorer.rules.dfa import DirectFeedback
from explorer.rules.fa import FeedbackAlignment
from explorer.rules.lazy import RandomFeatures
from explorer.rules.structure import Structure

STRATEGIES: dict[str, type[Rule]] = {
    "backprop": Rule, "feedback_alignment": FeedbackAlignment, "direct_feedback": DirectFeedback,
    "random_features": RandomFeatures,
}


def make_rule(cfg: AlgorithmConfig, forward_init: InitSpec) -> Rule:
    """The rule object for ``cfg.name``, of the class its registry entry names."""
    return STRATEGIES[RULES[cfg.name].strategy](cfg, forward_init)


__all__ = ["Rule", "DirectFeedback", "FeedbackAlignment", "RandomFeatures", "Structure",
           "STRATEGIES", "make_rule"]
