"""From a `RunConfig` to the things a run is made of: data, network, rule, loss, on one device."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from explorer.rules import init as initialisers
from explorer.rules import Rule, Structure, make_rule
from explorer.config import ConfigError, RunConfig
from explorer.config.registry import RULES
from explorer.data import Dataset, load_dataset
from explorer.engine.device import available_devices, pick_device
from explorer.engine.footprint import check_fits
from explorer.engine.losses import make_loss, output_units, with_reduction
from explorer.models import GatedMLP, build_model, seed_dropout


def derived_seed(seed: int, stream: int) -> int:
    """Independent seeds for the separate random streams of one run (weights, feedback, batches).

    Example:
        >>> derived_seed(0, 0) != derived_seed(0, 1)
        True
    """
    return (seed * 0x9E3779B1 + stream * 0x85EBCA77 + 1) % (2**63 - 1)


WEIGHTS, FEEDBACK, BATCHES = 0, 1, 2
DROPOUT = 4  # the dropout masks' stream (3 is augmentation's, `explorer.engine.augment.AUGMENT`)


@dataclass
class Built:
    """A run's parts. ``model`` is an ``nn.Module`` on ``device``; ``data`` holds all of the data there."""

    config: RunConfig
    model: nn.Module
    data: Dataset
    rule: Rule
    structure: Structure
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    device: torch.device
    device_reason: str = ""  # why the run is on ``device``, in a sentence (`resolve_device`)

    @property
    def hidden_names(self) -> list[str]:
        return self.structure.names[:-1]

    def trainable(self) -> list[tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]


def build(cfg: RunConfig | dict, device: str | torch.device | None = None, data: Dataset | None = None) -> Built:
    """Data, network (initialised with ``cfg.seed``), rule and loss for ``cfg``.

    Rules compared with the same seed start from the same forward weights: the weights, the
    feedback matrices and the minibatch order each draw from their own random stream.

    Example:
        >>> built = build({"model": {"name": "mlp", "hidden": [16]}, "device": "cpu"})
        >>> built.model.layers[0].weight.shape, built.data.name
        (torch.Size([16, 64]), 'digits')
    """
    if not isinstance(cfg, RunConfig):
        cfg = RunConfig.from_dict(cfg)
    if device is not None:
        device, reason = torch.device(device), f"{torch.device(device).type}, as the caller asked"
    else:
        device, reason = resolve_device(cfg)
    check_fits(cfg, device, data)  # before anything is allocated: a run too large for the device is refused
    data = (data or load_dataset(cfg.data, device)).to(device)
    if data.regression and cfg.train.loss != "mse":
        raise ConfigError(f"train.loss: '{data.name}' is a regression task (real-valued targets); use 'mse'",
                          field="train.loss")
    if cfg.train.loss == "bce" and data.num_classes != 2:
        raise ConfigError(f"train.loss: 'bce' needs a two-class dataset; '{data.name}' has "
                          f"{data.num_classes} classes", field="train.loss")
    outputs = data.y_train.shape[1] if data.regression else output_units(cfg.train.loss, data.num_classes)
    model = build_model(cfg.model, data.input_shape, outputs, gated=RULES[cfg.algorithm.name].gated)
    structure = Structure.of(model, data.input_shape)
    initialise(structure, cfg.init, torch.Generator().manual_seed(derived_seed(cfg.seed, WEIGHTS)))
    if isinstance(model, GatedMLP):
        model.freeze_gates()  # the gates are the weights just drawn
    seed_dropout(model, derived_seed(cfg.seed, DROPOUT))  # model.dropout's masks: the run's own stream
    model.to(device)
    rule = make_rule(cfg.algorithm, cfg.init)
    rule.attach(model, structure, torch.Generator().manual_seed(derived_seed(cfg.seed, FEEDBACK)))
    if not rule.trains_hidden:  # shallow training and random features: only the output layer learns
        for p in model.parameters():
            p.requires_grad_(False)
        for p in structure.output.parameters():
            p.requires_grad_(True)
    # every backward (the rule's, and backprop's for the alignment) takes the loss as the config reduces it
    loss_fn = with_reduction(make_loss(cfg.train.loss, data.num_classes), cfg.train.loss, cfg.train.reduction)
    return Built(cfg, model, data, rule, structure, loss_fn, device, reason)


def work_per_step(cfg: RunConfig) -> int:
    """Multiply-adds of one training step of ``cfg``'s network: its batch times backprop's count per
    sample (`explorer.engine.cost`). Backprop's, whatever the rule, so that every rule of a
    comparison on one network lands on the same device.

    Example:
        >>> work_per_step(RunConfig.from_dict({"model": {"hidden": [64, 64]}, "algorithm": {"name": "dfa"}}))
        1433600
    """
    from explorer.engine.cost import operation_counts  # cost reads `Built` from this module

    return operation_counts(cfg.with_values({"algorithm": {"name": "bp"}})).total * cfg.train.batch_size


def resolve_device(cfg: RunConfig | dict) -> tuple[torch.device, str]:
    """The device ``cfg`` trains on and why, in a sentence a student can read (`pick_device`):
    ``device: auto`` keeps a network whose step is small on the CPU where a GPU is present.

    Example:
        >>> resolve_device({"device": "cpu"})
        (device(type='cpu'), 'cpu, as asked')
    """
    cfg = cfg if isinstance(cfg, RunConfig) else RunConfig.from_dict(cfg)
    present = available_devices()
    sized = (cfg.device or "auto") == "auto" and present != {"cpu"}  # no GPU: nothing to weigh, nothing to count
    return pick_device(cfg.device, work_per_step(cfg) if sized else None, present)


def initialise(structure: Structure, spec, generator: torch.Generator) -> None:
    """Draw every learnable layer's weight in forward order. Biases: PyTorch's default range under
    ``default``, zero otherwise (so ``zeros`` starts the whole network at zero)."""
    with torch.no_grad():
        for layer in structure.layers:
            layer.weight.copy_(initialisers.draw(spec, tuple(layer.weight.shape), generator))
            if layer.bias is not None:
                if spec.name == "default":
                    bound = 1.0 / initialisers.fans(tuple(layer.weight.shape))[0] ** 0.5
                    layer.bias.uniform_(-bound, bound, generator=generator)
                else:
                    layer.bias.zero_()
