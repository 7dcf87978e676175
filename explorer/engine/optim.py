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


def make_optimizer(cfg: OptimizerConfig, params) -> torch.optim.Optimizer:
    """The torch optimiser for ``cfg`` over ``params`` (the trainable parameters only)."""
    params = list(params)
    wd = cfg.weight_decay
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=bool(cfg.nesterov),
                               weight_decay=wd)
    if cfg.name == "adagrad":
        return torch.optim.Adagrad(params, lr=cfg.lr, weight_decay=wd)
    if cfg.name == "adadelta":
        return torch.optim.Adadelta(params, lr=cfg.lr, weight_decay=wd)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=wd)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=wd)
    raise ValueError(f"unknown optimiser {cfg.name!r}")


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
