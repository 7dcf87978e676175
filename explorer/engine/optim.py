"""The optimiser factory and Batch Manhattan (the optimiser receives sign(grad)).

Example:
    >>> import torch
    >>> from explorer.config import OptimizerConfig
    >>> w = torch.nn.Parameter(torch.ones(2))
    >>> make_optimizer(OptimizerConfig("sgd", lr=0.1), [w]).defaults["lr"]
    0.1
"""

from __future__ import annotations

import torch

from explorer.config import OptimizerConfig


# The optimisers whose step a CUDA graph can hold: their step counts live on the device where
# ``capturable=True`` (SGD has none). Adagrad reads its step count on the host.
CAPTURABLE = ("sgd", "adam", "adadelta", "rmsprop")


def make_optimizer(cfg: OptimizerConfig, params, capturable: bool = False) -> torch.optim.Optimizer:
    """The torch optimiser for ``cfg`` over ``params`` (the trainable parameters only).
    ``capturable``: state a CUDA graph can capture (step counts on the params' device; CUDA params
    only), for the optimisers of `CAPTURABLE`; it changes nothing for SGD.

    Example:
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> make_optimizer(OptimizerConfig("adam", lr=0.1), [w]).defaults["capturable"]
        False
    """
    params = list(params)
    wd = cfg.weight_decay
    if capturable and cfg.name not in CAPTURABLE:
        raise ValueError(f"{cfg.name} cannot be captured in a CUDA graph")
    extra = {"capturable": True} if capturable and cfg.name != "sgd" else {}
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=bool(cfg.nesterov),
                               weight_decay=wd)
    if cfg.name == "adagrad":
        return torch.optim.Adagrad(params, lr=cfg.lr, weight_decay=wd)
    if cfg.name == "adadelta":
        optimizer = torch.optim.Adadelta(params, lr=cfg.lr, weight_decay=wd, **extra)
    elif cfg.name == "rmsprop":
        optimizer = torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=wd, **extra)
    elif cfg.name == "adam":
        optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=wd, **extra)
    else:
        raise ValueError(f"unknown optimiser {cfg.name!r}")
    # logging steps run eagerly between a graph's replays, as intended: torch's warning about that is not for us
    optimizer._warned_capturable_if_run_uncaptured = capturable
    return optimizer


def batch_manhattan_(params) -> None:
    """Replace every gradient by its sign, in place (Liao et al.'s Batch Manhattan).

    Example:
        >>> w = torch.nn.Parameter(torch.zeros(2)); w.grad = torch.tensor([-3.0, 0.5])
        >>> batch_manhattan_([w]); w.grad.tolist()
        [-1.0, 1.0]
    """
    grads = [p.grad for p in params if p.grad is not None]
    if grads:
        torch._foreach_sign_(grads)
