"""Networks built from plain layers. Models know nothing of learning rules.

Example:
    >>> from explorer.config import ModelConfig
    >>> build_model(ModelConfig("mlp", (8,)), (4,), 3).layers[0].weight.shape
    torch.Size([8, 4])
"""

from __future__ import annotations

from torch import nn

from ..config import ConfigError, ModelConfig
from .cnn import ConvNet, cifar_cnn, lenet5, tutorial_cnn
from .mlp import MLP
from .resnet import ResNet, resnet
from .tap import Tap, activation

MIN_SIDE = {"tutorial_cnn": 13, "lenet5": 20, "cifar_cnn": 1, "resnet20": 1, "resnet56": 1,
            "resnet18": 1, "resnet34": 1}


def build_model(cfg: ModelConfig, input_shape: tuple[int, ...], outputs: int) -> nn.Module:
    """The configured network for inputs of ``input_shape`` and ``outputs`` output units."""
    if cfg.name == "mlp":
        return MLP(input_shape, cfg.hidden, outputs, cfg.activation)
    if len(input_shape) != 3:
        raise ConfigError(f"model.name: '{cfg.name}' needs image inputs (channels, height, width); "
                          f"this dataset gives flat vectors of shape {tuple(input_shape)}")
    side = min(input_shape[1:])
    if side < MIN_SIDE[cfg.name]:
        raise ConfigError(f"model.name: '{cfg.name}' needs images at least {MIN_SIDE[cfg.name]}×"
                          f"{MIN_SIDE[cfg.name]} pixels; this dataset's are {input_shape[1]}×{input_shape[2]}")
    if cfg.name == "tutorial_cnn":
        return tutorial_cnn(input_shape, outputs, cfg.activation, pool=cfg.pool is not False)
    if cfg.name == "lenet5":
        return lenet5(input_shape, outputs, cfg.activation)
    if cfg.name == "cifar_cnn":
        return cifar_cnn(input_shape, outputs, cfg.activation)
    return resnet(cfg.name, input_shape, outputs, cfg.activation)


__all__ = ["MLP", "ConvNet", "ResNet", "Tap", "activation", "build_model"]
