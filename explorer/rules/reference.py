"""The learning rules in a few lines of NumPy each. Read this first.

Every rule of docs/algorithms.md is written here as plainly as it can be, for a fully connected
network, in float64 NumPy. Nothing here imports torch or the rest of explorer: the engine
(explorer/rules/*.py) computes the same updates with autograd on any network, and
tests/test_rules_reference.py holds it to these functions.

Notation. Layers are numbered ``l = 1 … L`` as in the document, and every list here is indexed by
that number: ``W[l]``, ``b[l]``, ``a[l]``, ``delta[l]``, ``B[l]`` (index 0 holds None), and
``h[l]`` the output of layer ``l`` with ``h[0] = x``. Rows are samples::

    a[l] = h[l-1] @ W[l].T + b[l]       W[l]: (n_l, n_{l-1})
    h[l] = f(a[l])                       the hidden layers, l < L; a[L] are the logits
    e    = dℓ/da[L]                      the output error, (batch, C)

A rule makes a teaching signal ``delta[l]`` (batch, n_l) for every layer, always
``delta[L] = e``, and the optimiser is handed (`updates`)::

    grad W[l] = delta[l].T @ h[l-1]      grad b[l] = delta[l].sum(0)

The engine names layer ``l`` ``layers.{l-1}`` in its state dict; `by_layer` turns a list in that
order into one indexed by ``l``.

Feedback matrices. A feedback matrix carries a source signal (its rows) to a destination layer (its
columns), ``delta_dest = (source @ B) * f'(a_dest)``, so ``B`` has shape (size of the source, n_dest).
``B[l]`` is the matrix stored on layer ``l`` (``layers.{l-1}.feedback``):

- FA family (fa, usf, frsf, brsf): ``B[l]`` stands in for ``W[l]`` and has its shape
  (n_l, n_{l-1}); it carries ``delta[l]`` down to layer ``l-1``;
- direct family (dfa, sdfa, ssdfa, bdfa, fp, and ifa's first layer): ``B[l]`` sits on the hidden
  layer it teaches, shape (size of its source, n_l).

The examples use a chain of one-unit linear layers on one sample ``x = 1`` with target 1 under the
squared error (`_chain`), where every number can be checked by hand.

Example:
    >>> rng = np.random.default_rng(0)
    >>> weights = [rng.normal(size=(5, 4)), rng.normal(size=(3, 5))]   # layers.0, layers.1
    >>> p = forward(weights, [np.zeros(5), np.zeros(3)], rng.normal(size=(6, 4)), [0, 1, 2] * 2, "tanh")
    >>> delta = dfa(p, by_layer([rng.normal(size=(3, 5)), None]))      # B[1]: (C, n_1)
    >>> {name: g.shape for name, g in updates(p, delta).items()}
    {'layers.0.weight': (5, 4), 'layers.0.bias': (5,), 'layers.1.weight': (3, 5), 'layers.1.bias': (3,)}
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# ----------------------------------------------------------------------------- the forward pass


def activation(name: str, a: np.ndarray) -> np.ndarray:
    """``f(a)`` for relu, tanh, sigmoid or linear.

    Example:
        >>> activation("relu", np.array([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """
    if name == "relu":
        return np.maximum(a, 0.0)
    if name == "tanh":
        return np.tanh(a)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-a))
    if name == "linear":
        return a.copy()
    raise ValueError(f"unknown activation {name!r}")


def derivative(name: str, a: np.ndarray) -> np.ndarray:
    """``f'(a)``, written out for each activation.

    Example:
        >>> derivative("tanh", np.array([0.0])).tolist(), derivative("relu", np.array([-1.0, 2.0])).tolist()
        ([1.0], [0.0, 1.0])
    """
    if name == "relu":
        return (a > 0).astype(np.float64)
    if name == "tanh":
        return 1.0 - np.tanh(a) ** 2
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-a))
        return s * (1.0 - s)
    if name == "linear":
        return np.ones_like(a)
    raise ValueError(f"unknown activation {name!r}")


def one_hot(y, classes: int) -> np.ndarray:
    """Rows of zeros with a one at each label.

    Example:
        >>> one_hot([1, 0], 3).tolist()
        [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    """
    y = np.asarray(y, dtype=np.int64)
    out = np.zeros((len(y), classes))
    out[np.arange(len(y)), y] = 1.0
    return out


def sigmoid(a) -> np.ndarray:
    """1 / (1 + exp(-a)), without overflow for large negative ``a``.

    Example:
        >>> sigmoid(np.array([0.0, -1000.0])).tolist()
        [0.5, 0.0]
    """
    a = np.asarray(a, dtype=np.float64)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def loss_value(logits, y, loss: str) -> float:
    """The batch mean of ``cross_entropy``, ``bce`` (one logit, labels 0/1), ``bce_multi`` (C sigmoid
    units against one-hot, mean over samples and units), ``mse`` (against one-hot) or ``mse_sigmoid``
    (sigmoid of the outputs against one-hot, mean over samples and units).

    Example:
        >>> round(loss_value(np.zeros((1, 2)), [0], "cross_entropy"), 4)  # log 2
        0.6931
        >>> loss_value(np.zeros((1, 2)), [0], "mse_sigmoid")  # ((1 - ½)² + (0 - ½)²) / 2
        0.25
    """
    logits = np.asarray(logits, dtype=np.float64)
    if loss == "cross_entropy":
        z = logits - logits.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-np.mean(log_p[np.arange(len(logits)), np.asarray(y)]))
    if loss == "bce":  # log(1 + exp(-|a|)) + max(a, 0) - a·t, the stable form
        t = np.asarray(y, dtype=np.float64)[:, None]
        return float(np.mean(np.log1p(np.exp(-np.abs(logits))) + np.maximum(logits, 0) - logits * t))
    if loss == "bce_multi":
        t = one_hot(y, logits.shape[1])
        return float(np.mean(np.log1p(np.exp(-np.abs(logits))) + np.maximum(logits, 0) - logits * t))
    if loss == "mse":
        return float(np.mean((logits - one_hot(y, logits.shape[1])) ** 2))
    if loss == "mse_sigmoid":
        return float(np.mean((sigmoid(logits) - one_hot(y, logits.shape[1])) ** 2))
    raise ValueError(f"unknown loss {loss!r}")


def output_error(logits, y, loss: str) -> np.ndarray:
    """``e = dℓ/da[L]`` for the batch-mean loss: (softmax - one-hot) / N (cross_entropy),
    (σ(a) - t) / N (bce), (σ(a) - one-hot) / (N·C) (bce_multi), 2 (a - one-hot) / (N·C) (mse), or
    2 (σ(a) - one-hot) σ(a) (1 - σ(a)) / (N·C) (mse_sigmoid); the last three average over every entry.

    Example:
        >>> output_error(np.zeros((1, 2)), [0], "cross_entropy").tolist()
        [[-0.5, 0.5]]
        >>> output_error(np.zeros((1, 2)), [0], "mse_sigmoid").tolist()  # 2 (½ - t) ¼ / 2
        [[-0.125, 0.125]]
    """
    logits = np.asarray(logits, dtype=np.float64)
    n, classes = logits.shape
    if loss == "cross_entropy":
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return (p - one_hot(y, classes)) / n
    if loss == "bce":
        t = np.asarray(y, dtype=np.float64)[:, None]
        return (sigmoid(logits) - t) / n
    if loss == "bce_multi":
        return (sigmoid(logits) - one_hot(y, classes)) / (n * classes)
    if loss == "mse":
        return 2.0 * (logits - one_hot(y, classes)) / (n * classes)
    if loss == "mse_sigmoid":
        s = sigmoid(logits)
        return 2.0 * (s - one_hot(y, classes)) * s * (1.0 - s) / (n * classes)
    raise ValueError(f"unknown loss {loss!r}")


@dataclass
class Pass:
    """One forward pass and its output error: all a rule makes its teaching signals from.

    Lists are indexed by layer number ``l = 1 … L`` (index 0: None, or ``h[0] = x``).
    """

    W: list          # W[l], (n_l, n_{l-1})
    a: list          # a[l] = h[l-1] @ W[l].T + b[l]; a[L] are the logits
    h: list          # h[0] = x, h[l] = f(a[l]) for the hidden layers
    fprime: list     # f'(a[l]) for the hidden layers: how h[l] moves with a[l]
    e: np.ndarray    # dℓ/da[L]

    @property
    def L(self) -> int:
        return len(self.W) - 1


def by_layer(stored: list) -> list:
    """A list in state-dict order (``layers.0`` first) as a list indexed by layer number, in float64.

    Example:
        >>> [None if m is None else m.shape for m in by_layer([np.ones((5, 4)), None])]
        [None, (5, 4), None]
    """
    return [None, *[None if m is None else np.asarray(m, dtype=np.float64) for m in stored]]


def forward(weights: list, biases: list, x, y, f: str, loss: str = "cross_entropy") -> Pass:
    """Run the network (``weights``, ``biases`` in state-dict order) on ``x`` with activation ``f``
    and measure its output error against labels ``y``.

    Example:
        >>> p = forward([[[2.0]], [[3.0]]], [[0.0], [0.0]], [[1.0]], [0], "linear", "mse")
        >>> p.a[1].item(), p.a[2].item(), p.e.item()   # a2 = 3·2; e = 2 (6 - 1)
        (2.0, 6.0, 10.0)
    """
    W, b = by_layer(weights), by_layer(biases)
    a, h, fprime = [None], [np.asarray(x, dtype=np.float64)], [None]
    for l in range(1, len(W)):
        a.append(h[l - 1] @ W[l].T + b[l])
        if l < len(W) - 1:
            h.append(activation(f, a[l]))
            fprime.append(derivative(f, a[l]))
    return Pass(W, a, h, fprime, output_error(a[-1], y, loss))


def gated_forward(weights: list, biases: list, weight0, bias0, x, y, loss: str = "cross_entropy") -> Pass:
    """The gated linear network of ``ntk`` (one hidden layer): its ReLU pattern is that of the frozen
    copy ``W0, b0`` taken at initialisation, its values those of the live weights::

        g = 1[x @ W0.T + b0 > 0]        h[1] = a[1] * g        (so dh[1]/da[1] = g)

    Example:
        >>> p = gated_forward([[[2.0]], [[3.0]]], [[0.0], [0.0]], [[-1.0]], [0.0], [[1.0]], [0], "mse")
        >>> p.h[1].item(), p.a[2].item()   # the frozen copy says "off": nothing passes
        (0.0, 0.0)
    """
    W, b = by_layer(weights), by_layer(biases)
    x = np.asarray(x, dtype=np.float64)
    gate = (x @ np.asarray(weight0, dtype=np.float64).T + np.asarray(bias0, dtype=np.float64) > 0).astype(np.float64)
    a1 = x @ W[1].T + b[1]
    h1 = a1 * gate
    a2 = h1 @ W[2].T + b[2]
    return Pass(W, [None, a1, a2], [x, h1], [None, gate], output_error(a2, y, loss))


def updates(p: Pass, delta: list) -> dict[str, np.ndarray]:
    """What the optimiser is handed, keyed like the engine's state dict: ``grad W[l] =
    delta[l].T @ h[l-1]`` and ``grad b[l] = delta[l].sum(0)`` for every layer that learns
    (``delta[l]`` not None).

    Example:
        >>> p = _chain(2.0, 3.0)
        >>> {k: v.tolist() for k, v in updates(p, bp(p)).items()}   # h[0] = 1, h[1] = 2
        {'layers.0.weight': [[30.0]], 'layers.0.bias': [30.0], 'layers.1.weight': [[20.0]], 'layers.1.bias': [10.0]}
    """
    out = {}
    for l in range(1, p.L + 1):
        if delta[l] is not None:
            out[f"layers.{l - 1}.weight"] = delta[l].T @ p.h[l - 1]
            out[f"layers.{l - 1}.bias"] = delta[l].sum(axis=0)
    return out


def _chain(*weights: float) -> Pass:
    """A chain of one-unit linear layers (no biases) on ``x = 1`` with target 1 under mse:
    ``a[l] = w_1 ⋯ w_l`` and ``e = 2 (w_1 ⋯ w_L - 1)``."""
    return forward([[[w]] for w in weights], [[0.0]] * len(weights), [[1.0]], [0], "linear", "mse")


def _signals(delta: list) -> list:
    """The teaching signals of a `_chain` pass as plain numbers, layer 1 first."""
    return [None if d is None else d.item() for d in delta[1:]]


# ----------------------------------------------------------------------------- the rules
# Each returns delta, indexed by layer number: delta[L] = e, delta[l] for the hidden layers
# (None for a layer that does not learn).


def bp(p: Pass) -> list:
    """Backpropagation, the true gradient: ``delta[l] = (delta[l+1] @ W[l+1]) * f'(a[l])``,
    from the top down.

    Example:
        >>> _signals(bp(_chain(2.0, 3.0)))   # e = 10; delta[1] = 10 · 3
        [30.0, 10.0]
    """
    return fa(p, p.W)


def fa(p: Pass, B: list) -> list:
    """Feedback alignment (Lillicrap): backprop's chain with a fixed ``B[l+1]``, shaped like
    ``W[l+1]``, in place of the forward weight: ``delta[l] = (delta[l+1] @ B[l+1]) * f'(a[l])``.
    usf, frsf and brsf are this rule with sign-concordant ``B``.

    Example:
        >>> _signals(fa(_chain(2.0, 3.0), [None, None, np.array([[0.5]])]))   # 10 · 0.5
        [5.0, 10.0]
    """
    delta = [None] * p.L + [p.e]
    for l in range(p.L - 1, 0, -1):
        delta[l] = (delta[l + 1] @ B[l + 1]) * p.fprime[l]
    return delta


def usf_feedback(W, scale: float) -> np.ndarray:
    """usf's feedback for a forward weight ``W``: ``B = scale · sign(W)``.

    Example:
        >>> usf_feedback(np.array([[-2.0, 0.5]]), 0.1).tolist()
        [[-0.1, 0.1]]
    """
    return scale * np.sign(np.asarray(W, dtype=np.float64))


def sign_concordant(R, W) -> np.ndarray:
    """Random magnitudes with the forward weight's signs: ``B = |R| * sign(W)``.

    Example:
        >>> sign_concordant(np.array([[0.3, -0.2]]), np.array([[-1.0, 4.0]])).tolist()
        [[-0.3, 0.2]]
    """
    return np.abs(np.asarray(R, dtype=np.float64)) * np.sign(np.asarray(W, dtype=np.float64))


def usf(p: Pass, scale: float) -> list:
    """Uniform sign-concordant feedback: FA with ``B[l] = scale · sign(W[l])`` of the current ``W``.

    Example:
        >>> _signals(usf(_chain(2.0, -3.0), 0.5))   # e = 2 (-6 - 1) = -14; delta[1] = -14 · -0.5
        [7.0, -14.0]
    """
    return fa(p, [None, None, *[usf_feedback(W, scale) for W in p.W[2:]]])


def frsf(p: Pass, R: list) -> list:
    """Fixed random-magnitude sign-concordant feedback: FA with ``B[l] = |R[l]| * sign(W[l])``,
    ``R`` drawn once by the feedback initialiser, the signs of the current ``W``. (``fa`` with
    ``sign_refresh`` is the same ``B`` with the signs taken at the start, every epoch or every step.)

    Example:
        >>> _signals(frsf(_chain(2.0, -3.0), [None, None, np.array([[0.25]])]))   # -14 · -0.25
        [3.5, -14.0]
    """
    return fa(p, [None, None, *[sign_concordant(R[l], p.W[l]) for l in range(2, p.L + 1)]])


def brsf(p: Pass, R: list) -> list:
    """Batchwise random-magnitude sign-concordant feedback: `frsf` whose magnitudes ``R`` are
    drawn afresh after every step (so for one batch, ``R`` is the draw in force).

    Example:
        >>> _signals(brsf(_chain(2.0, -3.0), [None, None, np.array([[-1.0]])]))   # -14 · -1
        [14.0, -14.0]
    """
    return frsf(p, R)


def dfa(p: Pass, B: list) -> list:
    """Direct feedback alignment (Nøkland): the output error goes straight to every hidden layer,
    ``delta[l] = (e @ B[l]) * f'(a[l])``, ``B[l]: (C, n_l)``.

    Example:
        >>> _signals(dfa(_chain(1.0, 2.0, 3.0), [None, np.array([[1.0]]), np.array([[-1.0]]), None]))
        [10.0, -10.0, 10.0]
    """
    delta = [None] * p.L + [p.e]
    for l in range(1, p.L):
        delta[l] = (p.e @ B[l]) * p.fprime[l]
    return delta


def sdfa(p: Pass, B: list) -> list:
    """Sparse DFA (``m`` connections): `dfa` whose ``B[l]`` keeps exactly ``m`` non-zero entries
    in every column (one column per destination unit), at random rows. ``ssdfa`` is ``m = 1``.

    Example:
        >>> _signals(sdfa(_chain(1.0, 2.0, 3.0), [None, np.array([[0.0]]), np.array([[2.0]]), None]))
        [0.0, 20.0, 10.0]
    """
    return dfa(p, B)


def ifa(p: Pass, B: list) -> list:
    """Indirect feedback alignment (Nøkland): only layer 1 hears the error,
    ``delta[1] = (e @ B[1]) * f'(a[1])``; the signal then runs forward through the forward
    weights, ``delta[l] = (delta[l-1] @ W[l].T) * f'(a[l])`` for ``l = 2 … L-1``.

    Example:
        >>> _signals(ifa(_chain(1.0, 2.0, 3.0), [None, np.array([[0.5]]), None, None]))   # e = 10
        [5.0, 10.0, 10.0]
    """
    delta = [None] * p.L + [p.e]
    delta[1] = (p.e @ B[1]) * p.fprime[1]
    for l in range(2, p.L):
        delta[l] = (delta[l - 1] @ p.W[l].T) * p.fprime[l]
    return delta


def blocks(hidden: int, size: int) -> list[list[int]]:
    """The hidden layers ``1 … hidden`` in blocks of ``size`` counted from the output side, each
    block from its top layer down; the block nearest the input may be shorter.

    Example:
        >>> blocks(5, 2)
        [[5, 4], [3, 2], [1]]
    """
    if size < 1:
        raise ValueError(f"block size must be at least 1, got {size}")
    return [list(range(top, max(top - size, 0), -1)) for top in range(hidden, 0, -size)]


def bdfa(p: Pass, B: list, block_size: int) -> list:
    """Blocked DFA: the first block (nearest the output) is taught from ``e``, every later block
    from the ``delta`` of the input-most layer of the block above; within a block
    ``delta[l] = (source @ B[l]) * f'(a[l])``, ``B[l]: (size of the source, n_l)``. One block is DFA.

    Example:
        >>> B = [None, np.array([[0.5]]), np.array([[2.0]]), np.array([[1.0]]), None]
        >>> _signals(bdfa(_chain(1.0, 1.0, 1.0, 6.0), B, block_size=2))   # e = 10; delta[1] = 20 · 0.5
        [10.0, 20.0, 10.0, 10.0]
    """
    delta = [None] * p.L + [p.e]
    source = p.e
    for block in blocks(p.L - 1, block_size):
        for l in block:
            delta[l] = (source @ B[l]) * p.fprime[l]
        source = delta[block[-1]]
    return delta


def fp(p: Pass, B: list, bp_depth: int) -> list:
    """Feedback propagation (BP depth ``k``): the ``k`` hidden layers nearest the output learn by
    backprop; their input-most signal ``delta[L-k]`` (``e`` when ``k = 0``) is the source of every
    layer below, ``delta[l] = (delta[L-k] @ B[l]) * f'(a[l])``. ``k = 0`` is DFA, ``k = L-1`` is BP.

    Example:
        >>> B = [None, np.array([[0.5]]), None, None]
        >>> _signals(fp(_chain(1.0, 2.0, 3.0), B, bp_depth=1))   # e = 10; delta[2] = 10 · 3
        [15.0, 30.0, 10.0]
    """
    if not 0 <= bp_depth <= p.L - 1:
        raise ValueError(f"bp_depth must be between 0 and {p.L - 1}, got {bp_depth}")
    top = p.L - bp_depth  # layers top … L-1 learn by backprop; delta[top] is the source below
    delta = [None] * p.L + [p.e]
    for l in range(p.L - 1, top - 1, -1):
        delta[l] = (delta[l + 1] @ p.W[l + 1]) * p.fprime[l]
    for l in range(1, top):
        delta[l] = (delta[top] @ B[l]) * p.fprime[l]
    return delta


def rf(p: Pass) -> list:
    """Random features, and any rule with ``train_hidden: false``: the hidden layers keep their
    initial weights; only the output layer learns, from ``e``. (rf's variants differ in how
    ``W[1]`` is drawn and in ``f``, not in the update.)

    Example:
        >>> _signals(rf(_chain(2.0, 3.0)))
        [None, 10.0]
    """
    return [None] * p.L + [p.e]


def ntk(p: Pass) -> list:
    """The gated linear network of the NTK regime: backprop on the pass of `gated_forward`, so
    ``delta[1] = (e @ W[2]) * g`` with the frozen gate ``g`` in place of ``f'(a[1])``.

    Example:
        >>> on = gated_forward([[[2.0]], [[3.0]]], [[0.0], [0.0]], [[5.0]], [0.0], [[1.0]], [0], "mse")
        >>> _signals(ntk(on))   # the same as bp on the linear chain: e = 10, delta[1] = 30
        [30.0, 10.0]
    """
    return bp(p)


FA_FAMILY = ("fa", "usf", "frsf", "brsf")
DIRECT_FAMILY = ("dfa", "sdfa", "ssdfa")


def signals(rule: str, p: Pass, B: list | None = None, **options) -> list:
    """The teaching signals of ``rule`` (a key of docs/algorithms.md) with the feedback matrices
    ``B`` it stores (for usf, frsf and brsf: the sign-concordant ``B`` in force), and its options
    ``block_size`` (bdfa) or ``bp_depth`` (fp). For ntk, ``p`` is a `gated_forward` pass.

    Example:
        >>> _signals(signals("fp", _chain(1.0, 2.0, 3.0), bp_depth=2))
        [60.0, 30.0, 10.0]
    """
    if rule in ("bp", "ntk"):
        return bp(p)
    if rule == "rf":
        return rf(p)
    if rule in FA_FAMILY:
        return fa(p, B)
    if rule in DIRECT_FAMILY:
        return dfa(p, B)
    if rule == "ifa":
        return ifa(p, B)
    if rule == "bdfa":
        return bdfa(p, B, options["block_size"])
    if rule == "fp":
        return fp(p, B, options["bp_depth"])
    raise ValueError(f"unknown rule {rule!r}")
