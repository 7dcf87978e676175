"""Networks built from plain layers. Models know nothing of learning rules.

Example:
    >>> from explorer.config import ModelConfig
    >>> build_model(ModelConfig("mlp", (8,)), (4,), 3).layers[0].weight.shape
    torch.Size([8, 4])
    >>> type(build_model(ModelConfig("mlp", (8,)), (4,), 3, gated=True)).__name__
    'GatedMLP'
"""

from __future__ import annotations

import torch
from torch import nn

from explorer.config import ConfigError, ModelConfig
from explorer.models.cnn import ConvNet, cifar_cnn, lenet5, tutorial_cnn
from explorer.models.dropout import Dropout, held_masks, seed_dropout
from explorer.models.gated import GatedMLP, StackedGatedMLP
from explorer.models.mlp import MLP
from explorer.models.resnet import ResNet, resnet
from explorer.models.stacked import StackedMLP
from explorer.models.tap import Tap, activation


def build_model(cfg: ModelConfig, input_shape: tuple[int, ...], outputs: int, gated: bool = False) -> nn.Module:
    """The configured network for inputs of ``input_shape`` and ``outputs`` output units; with
    ``gated``, the gated linear network (`GatedMLP`) of the MLP's shape."""
    if gated:
        if cfg.name != "mlp":
            raise ConfigError(f"model.name: the gated linear network is an MLP, got '{cfg.name}'", field="model.name")
        if cfg.dropout:
            raise ConfigError("model.dropout: the gated linear network (ntk) takes no dropout", field="model.dropout")
        return GatedMLP(input_shape, cfg.hidden, outputs)
    if cfg.name == "mlp":
        return MLP(input_shape, cfg.hidden, outputs, cfg.activation, cfg.dropout)
    if len(input_shape) != 3:
        raise ConfigError(f"model.name: '{cfg.name}' needs image inputs (channels, height, width); "
                          f"this dataset gives flat vectors of shape {tuple(input_shape)}", field="model.name")
    try:  # a network whose feature maps shrink to nothing on these images fails in this first pass
        model = _conv_model(cfg, input_shape, outputs)
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape))
    except RuntimeError as err:
        raise ConfigError(f"model.name: '{cfg.name}' cannot take this dataset's "
                          f"{input_shape[1]}×{input_shape[2]} images: {str(err).splitlines()[0]}",
                          field="model.name") from err
    return model.train()


def _conv_model(cfg: ModelConfig, input_shape: tuple[int, ...], outputs: int) -> nn.Module:
    if cfg.name == "tutorial_cnn":
        return tutorial_cnn(input_shape, outputs, cfg.activation, pool=cfg.pool is not False, dropout=cfg.dropout)
    if cfg.name == "lenet5":
        return lenet5(input_shape, outputs, cfg.activation, cfg.dropout)
    if cfg.name == "cifar_cnn":
        return cifar_cnn(input_shape, outputs, cfg.activation, cfg.dropout)
    return resnet(cfg.name, input_shape, outputs, cfg.activation)


def stack_models(nets: list[nn.Module]) -> StackedMLP:
    """One network whose seed axis holds ``nets`` (MLPs of one shape, all gated or none).

    Example:
        >>> type(stack_models([GatedMLP((4,), (8,), 3) for _ in range(2)])).__name__
        'StackedGatedMLP'
    """
    kinds = {type(net) for net in nets}
    if len(kinds) != 1 or not kinds <= {MLP, GatedMLP}:
        raise ConfigError(f"model: only MLPs of one kind are stacked, got {sorted(k.__name__ for k in kinds)}",
                          field="model")
    return (StackedGatedMLP if GatedMLP in kinds else StackedMLP).stack(nets)


__all__ = ["MLP", "GatedMLP", "ConvNet", "Dropout", "ResNet", "StackedMLP", "StackedGatedMLP", "Tap", "activation",
           "build_model", "held_masks", "seed_dropout", "stack_models"]
