"""Independent NumPy (float64) reference for the learning rules of docs/algorithms.md.

Written straight from the math spec (docs/algorithms.md), without importing the library or torch.

Indexing: Python lists are 0-based, so list index ``i`` is the document's layer ``l = i + 1``.
``weights[i]`` has shape (n_out, n_in) (PyTorch convention, ``a = h @ W.T + b``), the last entry
is the output layer.  ``feedback[i]`` is the feedback matrix stored on layer ``i`` (or ``None``),
in the orientation of the document: a matrix ``B`` maps a source signal (rows) onto a
destination layer (columns), ``delta_dest = (delta_src @ B) * f'(a_dest)``.

* FA family (fa, usf, frsf, brsf): ``feedback[i]`` stands in for ``weights[i]`` and has its shape;
  it is used to send ``delta[i]`` down to layer ``i - 1``.
* DFA family (dfa, sdfa, ssdfa, bdfa, fp, ifa's first layer): ``feedback[i]`` sits on the
  destination hidden layer ``i`` and has shape (dim of its source, n_i).
"""

from __future__ import annotations

import numpy as np

# ----------------------------------------------------------------------------- activations


def activation_fn(name: str, a: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(a, 0.0)
    if name == "tanh":
        return np.tanh(a)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-a))
    if name == "linear":
        return a.copy()
    raise ValueError(f"unknown activation {name!r}")


def activation_derivative(name: str, a: np.ndarray) -> np.ndarray:
    """f'(a), written out explicitly for each activation."""
    if name == "relu":
        return (a > 0).astype(np.float64)
    if name == "tanh":
        t = np.tanh(a)
        return 1.0 - t * t
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-a))
        return s * (1.0 - s)
    if name == "linear":
        return np.ones_like(a)
    raise ValueError(f"unknown activation {name!r}")


# ----------------------------------------------------------------------------- forward / loss


def forward(weights, biases, x, activation):
    """Return (pre_activations, layer_inputs).

    ``pre[i]`` = a_{i+1}; ``inputs[i]`` = h_i, the input of layer i (``inputs[0]`` = x).
    The output layer is linear: ``pre[-1]`` are the logits.
    """
    x = np.asarray(x, dtype=np.float64)
    L = len(weights)
    pre, inputs = [], [x]
    h = x
    for i in range(L):
        W = np.asarray(weights[i], dtype=np.float64)
        b = np.asarray(biases[i], dtype=np.float64)
        a = h @ W.T + b
        pre.append(a)
        if i < L - 1:
            h = activation_fn(activation, a)
            inputs.append(h)
    return pre, inputs


def one_hot(y, num_classes):
    y = np.asarray(y, dtype=np.int64)
    out = np.zeros((y.shape[0], num_classes), dtype=np.float64)
    out[np.arange(y.shape[0]), y] = 1.0
    return out


def loss_value(logits, y, loss):
    """The batch-averaged loss (used only for checking the output error numerically)."""
    logits = np.asarray(logits, dtype=np.float64)
    N, C = logits.shape
    if loss == "cross_entropy":
        z = logits - logits.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -np.mean(logp[np.arange(N), np.asarray(y)])
    if loss == "bce":
        t = np.asarray(y, dtype=np.float64)[:, None]
        # log(1 + exp(-|a|)) + max(a, 0) - a t
        return np.mean(np.log1p(np.exp(-np.abs(logits))) + np.maximum(logits, 0) - logits * t)
    if loss == "mse":
        return np.mean((logits - one_hot(y, C)) ** 2)
    raise ValueError(f"unknown loss {loss!r}")


def output_error(logits, y, loss):
    """e = dℓ/da_L for the batch-averaged loss, shape (batch, C)."""
    logits = np.asarray(logits, dtype=np.float64)
    N, C = logits.shape
    if loss == "cross_entropy":
        z = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return (p - one_hot(y, C)) / N
    if loss == "bce":
        assert C == 1, "bce expects one output unit"
        s = 1.0 / (1.0 + np.exp(-logits))
        t = np.asarray(y, dtype=np.float64)[:, None]
        return (s - t) / N
    if loss == "mse":
        # F.mse_loss(out, one_hot) with 'mean' reduction averages over all N*C elements.
        return 2.0 * (logits - one_hot(y, C)) / (N * C)
    raise ValueError(f"unknown loss {loss!r}")


# ----------------------------------------------------------------------------- feedback helpers


def usf_feedback(W, scale):
    """usf: B = s * sign(W)."""
    return scale * np.sign(np.asarray(W, dtype=np.float64))


def sign_concordant_feedback(R, W):
    """frsf / brsf / fa with sign_refresh: B = |R| ⊙ sign(W)."""
    return np.abs(np.asarray(R, dtype=np.float64)) * np.sign(np.asarray(W, dtype=np.float64))


def bdfa_blocks(num_hidden, block_size):
    """Hidden layers (0-based, 0..num_hidden-1) split into blocks of ``block_size`` from the
    output side. Each block lists its layers from the output side down; the block nearest the
    input may be shorter."""
    if block_size < 1:
        raise ValueError("block_size must be >= 1")
    blocks = []
    top = num_hidden - 1
    while top >= 0:
        bottom = max(top - block_size + 1, 0)
        blocks.append(list(range(top, bottom - 1, -1)))
        top = bottom - 1
    return blocks


def bdfa_feedback_shapes(widths, num_classes, block_size):
    """Expected (dim src, n_l) of every hidden layer's bdfa feedback; widths = hidden widths."""
    shapes = {}
    src_dim = num_classes
    for block in bdfa_blocks(len(widths), block_size):
        for i in block:
            shapes[i] = (src_dim, widths[i])
        src_dim = widths[block[-1]]
    return shapes


def fp_feedback_shapes(widths, num_classes, bp_depth):
    """Expected feedback shapes for fp: layers below the k BP layers get (dim ε, n_l)."""
    H = len(widths)
    k = bp_depth
    src_dim = num_classes if k == 0 else widths[H - k]
    return {i: (src_dim, widths[i]) for i in range(H - k)}


# ----------------------------------------------------------------------------- rule families
# Each returns the list of teaching signals delta[i] for every layer (delta[-1] = e).


def _f64(m):
    return None if m is None else np.asarray(m, dtype=np.float64)


def deltas_bp(weights, pre, e, activation):
    """δ_l = (δ_{l+1} @ W_{l+1}) ⊙ f'(a_l): the FA recursion with B_{l+1} = W_{l+1}."""
    return deltas_fa(weights, pre, e, activation)


def deltas_fa(feedback, pre, e, activation):
    """δ_l = (δ_{l+1} @ B_{l+1}) ⊙ f'(a_l), B_{l+1} shaped like W_{l+1} (fa, usf, frsf, brsf)."""
    L = len(pre)
    d = [None] * L
    d[L - 1] = e
    for i in range(L - 2, -1, -1):
        d[i] = (d[i + 1] @ _f64(feedback[i + 1])) * activation_derivative(activation, pre[i])
    return d


def deltas_dfa(feedback, pre, e, activation):
    """δ_l = (e @ B_l) ⊙ f'(a_l), B_l: (C, n_l) (dfa, sdfa, ssdfa)."""
    L = len(pre)
    d = [None] * L
    d[L - 1] = e
    for i in range(L - 1):
        d[i] = (e @ _f64(feedback[i])) * activation_derivative(activation, pre[i])
    return d


def deltas_ifa(weights, feedback, pre, e, activation):
    """δ_1 = (e @ B_1) ⊙ f'(a_1); then forward δ_l = (δ_{l-1} @ W_l.T) ⊙ f'(a_l), l = 2..L-1."""
    L = len(pre)
    d = [None] * L
    d[L - 1] = e
    d[0] = (e @ _f64(feedback[0])) * activation_derivative(activation, pre[0])
    for i in range(1, L - 1):
        d[i] = (d[i - 1] @ _f64(weights[i]).T) * activation_derivative(activation, pre[i])
    return d


def deltas_bdfa(feedback, pre, e, activation, block_size):
    """Blocks of ``block_size`` hidden layers from the output side; block 1's source is e,
    block j+1's source is δ of block j's input-most layer."""
    L = len(pre)
    d = [None] * L
    d[L - 1] = e
    source = e
    for block in bdfa_blocks(L - 1, block_size):
        for i in block:
            d[i] = (source @ _f64(feedback[i])) * activation_derivative(activation, pre[i])
        source = d[block[-1]]
    return d


def deltas_fp(weights, feedback, pre, e, activation, bp_depth):
    """The k hidden layers nearest the output use BP; ε = δ_{L-k} (e for k = 0);
    every layer below gets δ_l = (ε @ B_l) ⊙ f'(a_l)."""
    L = len(pre)
    k = bp_depth
    if not 0 <= k <= L - 1:
        raise ValueError("bp_depth out of range")
    d = [None] * L
    d[L - 1] = e
    for i in range(L - 2, L - 2 - k, -1):  # the k BP layers
        d[i] = (d[i + 1] @ _f64(weights[i + 1])) * activation_derivative(activation, pre[i])
    # document layer L-k is list index L-k-1; for k = 0 that is the output layer, δ = e.
    source = d[L - 1 - k]
    for i in range(L - 2 - k, -1, -1):
        d[i] = (source @ _f64(feedback[i])) * activation_derivative(activation, pre[i])
    return d


FA_FAMILY = ("fa", "usf", "frsf", "brsf")
DFA_FAMILY = ("dfa", "sdfa", "ssdfa")


def reference_deltas(rule, weights, biases, feedback, x, y, activation, loss, **options):
    """Teaching signals δ for every layer (list, last entry = e) and the forward quantities."""
    pre, inputs = forward(weights, biases, x, activation)
    e = output_error(pre[-1], y, loss)
    if feedback is None:
        feedback = [None] * len(weights)
    if rule == "bp":
        d = deltas_bp(weights, pre, e, activation)
    elif rule in FA_FAMILY:
        d = deltas_fa(feedback, pre, e, activation)
    elif rule in DFA_FAMILY:
        d = deltas_dfa(feedback, pre, e, activation)
    elif rule == "ifa":
        d = deltas_ifa(weights, feedback, pre, e, activation)
    elif rule == "bdfa":
        d = deltas_bdfa(feedback, pre, e, activation, options["block_size"])
    elif rule == "fp":
        d = deltas_fp(weights, feedback, pre, e, activation, options["bp_depth"])
    else:
        raise ValueError(f"unknown rule {rule!r}")
    return d, pre, inputs


def reference_updates(rule, weights, biases, feedback, x, y, activation, loss, **options):
    """Per-layer (grad W_l, grad b_l) = (δ_l.T @ h_{l-1}, δ_l.sum(0)), float64."""
    d, _pre, inputs = reference_deltas(
        rule, weights, biases, feedback, x, y, activation, loss, **options
    )
    return [(d[i].T @ inputs[i], d[i].sum(axis=0)) for i in range(len(weights))]
