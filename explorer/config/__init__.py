"""What a run is, as data: `RunConfig` and its parts, validated at the door (no torch here).

The bottom layer: every other package reads it, it reads none of them.

Example:
    >>> from explorer.config import RunConfig
    >>> RunConfig.from_dict({"algorithm": {"name": "dfa"}}).algorithm.name
    'dfa'
"""

from explorer.config.dataset_options import DATASET_OPTIONS
from explorer.config.divergence import Divergence
from explorer.config.schema import (
    ACTIVATIONS, CONV_MODELS, DEFAULT_LR, DEVICES, INIT_PARAMS, LAZY_RULES, LOSSES, MODEL_OPTIONS,
    OPTIMIZERS, RESNET_MODELS, RF_VARIANTS, RULE_OPTIONS, RULES, SECTIONS, SIGN_REFRESH, AlgorithmConfig,
    ConfigError, DataConfig, InitSpec, ModelConfig, OptimizerConfig, RunConfig, TrainConfig,
)

__all__ = ["ACTIVATIONS", "CONV_MODELS", "DATASET_OPTIONS", "DEFAULT_LR", "DEVICES", "INIT_PARAMS",
           "LAZY_RULES", "LOSSES", "MODEL_OPTIONS", "OPTIMIZERS", "RESNET_MODELS", "RF_VARIANTS",
           "RULE_OPTIONS", "RULES", "SECTIONS", "SIGN_REFRESH", "AlgorithmConfig", "ConfigError",
           "DataConfig", "Divergence", "InitSpec", "ModelConfig", "OptimizerConfig", "RunConfig", "TrainConfig"]
