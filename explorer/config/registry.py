"""Every learning rule and its options, declared once; with them the networks (`MODEL_OPTIONS`)
and the initialisers (`INIT_PARAMS`) the rules are checked against.

A `RuleSpec` says what a rule is called (its key, its one label, its family), which networks it
fits, which of the `OPTIONS` it takes and which feedback initialisers. Config validation,
`explorer.rules.make_rule`, the labels, the Train page's and the widgets' controls, the URL parser
and the command line's choices all read it: adding a rule is one entry here plus its math in
`explorer.rules` (the update) and `explorer.rules.reference` (the same update in NumPy).

Example:
    >>> RULES["bdfa"].label, RULES["bdfa"].family, RULES["bdfa"].options
    ('BDFA', 'direct feedback', ('block_size',))
    >>> OPTIONS["block_size"].read(2, "algorithm.block_size")
    2
    >>> [key for key, spec in RULES.items() if not spec.feedback]
    ['bp', 'usf', 'rf', 'ntk']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from explorer.config.bounds import MAX_LAYERS, MAX_MAGNITUDE, MAX_WIDTH, MIN_POSITIVE
from explorer.config.fields import choice, integer, number, optional_str

# The initialisers (docs/algorithms.md, "Initialisers") and the parameters each takes; one spec
# format for forward and feedback weights. sign_concordant needs a matrix shaped like the forward
# weight it stands in for, which only `fa` has.
INIT_PARAMS: dict[str, tuple[str, ...]] = {
    "default": (), "zeros": (),
    "uniform": ("low", "high"), "normal": ("mean", "std"),
    "fan_in": ("gain",), "fan_out": ("gain",),
    "xavier": ("gain",), "kaiming": ("gain",), "orthogonal": ("gain",),
    "sign_concordant": ("inner",),
    # Named presets from the literature; they take no parameters.
    "standard_uniform": (), "gaussian": (), "standard_gaussian": (), "lillicrap": (),
    "thesis_1e-3": (), "thesis_5e-3": (), "thesis_1e-2": (), "thesis_stdv": (),
}
INITIALISERS = tuple(INIT_PARAMS)
# sign_concordant is drawn from the forward weight it stands in for: never a forward initialiser, nor
# one of a direct feedback matrix (shaped by the output, not by a forward weight)
FORWARD_INITS = tuple(name for name in INITIALISERS if name != "sign_concordant")
DIRECT_FEEDBACK_INITS = FORWARD_INITS

# The networks and the options each takes.
CONV_MODELS = ("tutorial_cnn", "lenet5", "cifar_cnn")
RESNET_MODELS = ("resnet20", "resnet56", "resnet18", "resnet34")
# dropout: after each hidden activation of an MLP, after the fully connected hidden layers of a CNN.
MODEL_OPTIONS: dict[str, tuple[str, ...]] = {
    "mlp": ("hidden", "activation", "dropout"),
    "tutorial_cnn": ("activation", "pool", "dropout"),
    "lenet5": ("activation", "dropout"),
    "cifar_cnn": ("activation", "dropout"),
    **{name: ("activation",) for name in RESNET_MODELS},
}

MLP_ONLY = ("mlp",)
ALL_NETWORKS = tuple(MODEL_OPTIONS)


@dataclass(frozen=True)
class Option:
    """One option of a learning rule: its type, its range, its default, its words.

    ``kind`` is ``"int"``, ``"float"``, ``"choice"`` or ``"text"``; ``low``/``high`` bound a number
    (``above``/``below``: strict bounds; `explorer.config.bounds` holds the sane ranges); ``phrase``
    is how a label says a value (``"block {}"``), ``words`` maps choices to what a label says.

    Example:
        >>> OPTIONS["scale"].read(0.5, "algorithm.scale"), OPTIONS["scale"].say(0.5)
        (0.5, 'scale 0.5')
        >>> OPTIONS["scale"].read(None, "algorithm.scale") is None   # each layer's own std
        True
        >>> OPTIONS["connections"].say(1), OPTIONS["connections"].say(3)
        ('1 connection', '3 connections')
    """

    name: str
    kind: str
    default: Any
    label: str
    help: str
    low: float | None = None
    high: float | None = None
    above: float | None = None
    below: float | None = None
    choices: tuple[str, ...] = ()
    phrase: str = "{}"
    words: dict[str, str] = field(default_factory=dict)

    def read(self, value: Any, path: str) -> Any:
        """``value`` checked against this option's type and range; a `ConfigError` naming ``path``.
        None is accepted where it is the default (it means "the rule decides", e.g. uSF's scale)."""
        if value is None and self.default is None:
            return None
        if self.kind == "int":
            return integer(value, path, minimum=self.low, maximum=self.high)
        if self.kind == "float":
            return number(value, path, minimum=self.low, maximum=self.high, above=self.above, below=self.below)
        if self.kind == "text":
            return optional_str(value, path)
        return choice(value, path, [c for c in self.choices if c is not None])

    def say(self, value: Any) -> str:
        """The words for ``value`` in a rule's label."""
        if self.kind == "choice":
            return self.words.get(value, str(value))
        return self.phrase.format(f"{value:g}" if isinstance(value, float) else value, s="" if value == 1 else "s")


OPTIONS: dict[str, Option] = {o.name: o for o in (
    Option("block_size", "int", 1, "hidden layers per block",
           "Blocked DFA: hidden layers per block; DFA inside each block, the error chained from block to block",
           low=1, high=MAX_LAYERS, phrase="block {}"),
    Option("bp_depth", "int", 0, "top layers trained by BP",
           "Feedback Propagation: how many hidden layers nearest the output learn by backprop (DFA below)",
           low=0, high=MAX_LAYERS, phrase="BP depth {}"),
    Option("connections", "int", 1, "non-zeros per feedback column",
           "sparse DFA: non-zero entries in each column of the feedback matrices", low=1, high=MAX_WIDTH,
           phrase="{} connection{s}"),
    Option("sign_refresh", "choice", None, "make B sign-concordant",
           "none: B as drawn (plain FA); init / epoch / step: B = |R| ⊙ sign(W), taken at the start only, "
           "at every epoch, or at every step",
           choices=(None, "init", "epoch", "step"),
           words={"init": "signs at init", "epoch": "signs every epoch", "step": "signs every step"}),
    Option("scale", "float", None, "scale of sign(W)",
           "uSF: B = scale · sign(W); left out, each layer's scale is the standard deviation of its forward "
           "initialiser", above=0.0, low=MIN_POSITIVE, high=MAX_MAGNITUDE, phrase="scale {}"),
    Option("variant", "choice", "gaussian", "features",
           "random features: gaussian (W ~ N(0, 1/n), ReLU), relu (the forward initialiser, ReLU), "
           "linear (the forward initialiser, no non-linearity)",
           choices=("gaussian", "relu", "linear")),
)}


@dataclass(frozen=True)
class RuleSpec:
    """A learning rule as the rest of the package sees it.

    - ``strategy``: which engine class computes its update (`explorer.rules.make_rule`);
    - ``networks``: the model names it fits; ``hidden_layers``: the number of hidden layers it
      needs (``(low, high)``, high None for no limit);
    - ``feedback``: the feedback initialisers it takes (empty: it has no feedback matrices);
    - ``shallow``: whether "train the output layer only" (``train_hidden: false``) applies;
    - ``gated``: trains the gated linear network (`explorer.models.gated`) built from the MLP.
    """

    key: str
    label: str
    name: str
    family: str
    help: str
    strategy: str
    networks: tuple[str, ...] = ALL_NETWORKS
    options: tuple[str, ...] = ()
    feedback: tuple[str, ...] = DIRECT_FEEDBACK_INITS
    hidden_layers: tuple[int, int | None] = (1, None)
    shallow: bool = True
    gated: bool = False

    def fits(self, model: str) -> bool:
        return model in self.networks


FAMILIES = ("backprop", "feedback alignment", "direct feedback", "lazy")

RULES: dict[str, RuleSpec] = {r.key: r for r in (
    RuleSpec("bp", "BP", "Backpropagation", "backprop", "backpropagation: the true gradient", "backprop",
             feedback=(), hidden_layers=(0, None)),
    RuleSpec("fa", "FA", "Feedback Alignment", "feedback alignment",
             "Feedback Alignment: errors go back through fixed random B", "feedback_alignment",
             options=("sign_refresh",), feedback=INITIALISERS, hidden_layers=(0, None)),
    RuleSpec("dfa", "DFA", "Direct Feedback Alignment", "direct feedback",
             "Direct FA: the output error goes straight to every layer", "direct_feedback"),
    RuleSpec("ifa", "IFA", "Indirect Feedback Alignment", "direct feedback",
             "Indirect FA: DFA to the first layer, then forward", "direct_feedback", networks=MLP_ONLY),
    RuleSpec("bdfa", "BDFA", "Blocked Direct Feedback Alignment", "direct feedback",
             "Blocked DFA: DFA inside each block, the error chained from block to block", "direct_feedback",
             networks=MLP_ONLY, options=("block_size",)),
    RuleSpec("fp", "FP", "Feedback Propagation", "direct feedback",
             "Feedback Propagation: BP in the top layers, DFA below", "direct_feedback", networks=MLP_ONLY,
             options=("bp_depth",)),
    RuleSpec("sdfa", "sDFA", "sparse Direct Feedback Alignment", "direct feedback",
             "sparse DFA: few non-zeros per feedback column", "direct_feedback", options=("connections",)),
    RuleSpec("ssdfa", "ssDFA", "sparse sign Direct Feedback Alignment", "direct feedback",
             "sparse sign DFA: one ±1 per feedback column", "direct_feedback"),
    RuleSpec("usf", "uSF", "uniform Sign-concordant Feedback", "feedback alignment",
             "uniform sign-concordant feedback: B = scale · sign(W)", "feedback_alignment", options=("scale",),
             feedback=(), hidden_layers=(0, None)),
    RuleSpec("frsf", "frSF", "fixed Random-magnitude Sign-concordant Feedback", "feedback alignment",
             "fixed random-magnitude sign-concordant feedback", "feedback_alignment", hidden_layers=(0, None)),
    RuleSpec("brsf", "brSF", "batchwise Random-magnitude Sign-concordant Feedback", "feedback alignment",
             "batchwise random-magnitude sign-concordant feedback", "feedback_alignment", hidden_layers=(0, None)),
    RuleSpec("rf", "RF", "Random Features", "lazy", "random features: only the last layer learns",
             "random_features", networks=MLP_ONLY, options=("variant",), feedback=(), hidden_layers=(1, 1),
             shallow=False),
    RuleSpec("ntk", "NTK", "gated linear network (NTK regime)", "lazy",
             "linearised network (NTK regime): ReLU gates frozen at initialisation, every weight by backprop",
             "backprop", networks=MLP_ONLY, feedback=(), hidden_layers=(1, 1), shallow=False, gated=True),
)}


def rule_spec(key: str, path: str = "algorithm.name") -> RuleSpec:
    """The `RuleSpec` of ``key``; an unknown key is a `ConfigError` naming ``path`` and the choices.

    Example:
        >>> rule_spec("dfa").name
        'Direct Feedback Alignment'
        >>> rule_spec("dfx")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: algorithm.name must be one of bp, fa, dfa, ifa, bdfa, fp, sdfa, ssdfa, usf, frsf, brsf, rf, ntk; got 'dfx'
    """
    return RULES[choice(key, path, list(RULES))]


def option_defaults(key: str) -> dict[str, Any]:
    """The options rule ``key`` takes, at their defaults (what a config that leaves them out gets).

    Example:
        >>> option_defaults("bdfa"), option_defaults("fa"), option_defaults("dfa")
        ({'block_size': 1}, {'sign_refresh': None}, {})
    """
    return {name: OPTIONS[name].default for name in RULES[key].options}


def help_text() -> str:
    """One line per rule, "key: help", for a control's or a command's help.

    Example:
        >>> help_text().splitlines()[2]
        'dfa: Direct FA: the output error goes straight to every layer'
    """
    return "\n".join(f"{spec.key}: {spec.help}" for spec in RULES.values())
