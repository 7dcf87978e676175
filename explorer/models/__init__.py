"""Networks built from plain layers. Models know nothing of learning rules.

Example:
    >>> from explorer.config import ModelConfig
    >>> build_model(ModelConfig("mlp", (8,)), (4,), 3).layers[0].weight.shape
    torch.Size([8, 4])
"""

from __future__ import annotations

import torch
from torch import nn

from explorer.config import ConfigError, ModelConfig
from explorer.models.cnn import ConvNet, cifar_cnn, lenet5, tutorial_cnn
from explorer.models.mlp import MLP
from explorer.models.resnet import ResNet, resnet
from explorer.models.tap import Tap, activation

def build_model(cfg: ModelConfig, input_shape: tuple[int, ...], outputs: int) -> nn.Module:
    """The configured network for inputs of ``input_shape`` and ``outputs`` output units."""
    if cfg.name == "mlp":
        return MLP(input_shape, cfg.hidden, outputs, cfg.activation)
    if len(input_shape) != 3:
        raise ConfigError(f"model.name: '{cfg.name}' needs image inputs (channels, height, width); "
                          f"this dataset gives flat vectors of shape {tuple(input_shape)}")
    try:  # a network whose feature maps shrink to nothing on these images fails in this first pass
        model = _conv_model(cfg, input_shape, outputs)
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape))
    except RuntimeError as err:
        raise ConfigError(f"model.name: '{cfg.name}' cannot take this dataset's "
                          f"{input_shape[1]}×{input_shape[2]} images: {str(err).splitlines()[0]}") from err
    return model.train()


def _conv_model(cfg: ModelConfig, input_shape: tuple[int, ...], outputs: int) -> nn.Module:
    if cfg.name == "tutorial_cnn":
        return tutorial_cnn(input_shape, outputs, cfg.activation, pool=cfg.pool is not False)
    if cfg.name == "lenet5":
        return lenet5(input_shape, outputs, cfg.activation)
    if cfg.name == "cifar_cnn":
        return cifar_cnn(input_shape, outputs, cfg.activation)
    return resnet(cfg.name, input_shape, outputs, cfg.activation)


__all__ = ["MLP", "ConvNet", "ResNet", "Tap", "activation", "build_model"]
