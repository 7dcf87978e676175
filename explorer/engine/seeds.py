"""Several seeds of one small MLP trained together as one batched network.

Each seed is built exactly as its own run would be (weights, feedback matrices, minibatch order
from its seed), then the networks are stacked along a leading seed axis (`StackedMLP`) and every
step runs all seeds with batched matrix products. The loss is the sum of the seeds' own mean
losses, so each seed's gradients are exactly its own; optimisers act element by element, so each
seed's slice follows its own run. On a GPU, where a small MLP leaves the device mostly idle, S
seeds cost about as much as one.

Example:
    >>> cfgs = [RunConfig.from_dict({"model": {"hidden": [16]}, "train": {"epochs": 1}, "seed": s,
    ...                              "device": "cpu"}) for s in (0, 1)]
    >>> results = SeedsTrainer(cfgs).run_all()
    >>> [r.config.seed for r in results], [r.status for r in results]
    ([0, 1], ['done', 'done'])
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from explorer.rules import Structure, make_rule
from explorer.engine.build import FEEDBACK, Built, build, derived_seed
from explorer.config import ConfigError, RunConfig
from explorer.engine.losses import hits, per_seed_loss, with_reduction
from explorer.engine.metrics import alignment_rows, backprop_reference
from explorer.models import stack_models
from explorer.engine.trainer import Trainer, TrainResult


def stackable(cfg: RunConfig) -> str | None:
    """Why seeds of this config cannot be stacked, or None if they can.

    Example:
        >>> stackable(RunConfig.from_dict({"model": {"name": "lenet5"}}))
        'only MLPs are stacked'
    """
    if cfg.model.name != "mlp":
        return "only MLPs are stacked"
    if cfg.algorithm.name == "brsf":
        return "brsf redraws its feedback from one random stream per run"
    if cfg.train.snapshots:
        return "snapshots are taken run by run"
    return None


def build_seeds(cfgs: Sequence[RunConfig], device: str | torch.device | None = None) -> Built:
    """One `Built` whose model stacks the runs of ``cfgs`` (configs that differ only in their seed)."""
    cfgs = [c if isinstance(c, RunConfig) else RunConfig.from_dict(c) for c in cfgs]
    if not cfgs:
        raise ConfigError("seeds: give at least one config", field="seeds")
    reason = stackable(cfgs[0])
    if reason:
        raise ConfigError(f"seeds cannot be stacked: {reason}", field="seeds")
    same = cfgs[0].with_values({"seed": 0}).to_dict()
    for i, c in enumerate(cfgs[1:], 1):
        if c.with_values({"seed": 0}).to_dict() != same:
            raise ConfigError(f"seeds: config {i} differs from config 0 in more than its seed", field="seeds")
    first = build(cfgs[0], device)
    singles = [first] + [build(c, first.device, first.data) for c in cfgs[1:]]
    model = stack_models([b.model for b in singles]).to(first.device)
    structure = Structure.of(model, first.data.input_shape)
    rule = make_rule(cfgs[0].algorithm, cfgs[0].init)
    rule.adopt(model, structure, torch.Generator().manual_seed(derived_seed(cfgs[0].seed, FEEDBACK)))
    loss, classes = cfgs[0].train.loss, first.data.num_classes
    summed_means = lambda out, y: per_seed_loss(loss, classes, out, y).sum()  # noqa: E731
    return Built(cfgs[0], model, first.data, rule, structure,
                 with_reduction(summed_means, loss, cfgs[0].train.reduction), first.device, first.device_reason)


class SeedsTrainer(Trainer):
    """The `Trainer` loop over a stacked network: per-seed batches, losses, records and verdicts.
    ``on_metrics(seed_index, record)`` receives each seed's records as they are logged."""

    def __init__(self, cfgs: Sequence[RunConfig | dict], built: Built | None = None,
                 on_metrics: Callable[[int, dict], None] | None = None, *, static_step: bool = False) -> None:
        self._configs = [c if isinstance(c, RunConfig) else RunConfig.from_dict(c) for c in cfgs]
        self.seeds = len(self._configs)
        built = built or build_seeds(self._configs)
        super().__init__(self._configs[0], built, on_metrics, static_step=static_step)

    @property
    def configs(self) -> list[RunConfig]:
        return self._configs

    def run_all(self, progress: Callable[[int, int], None] | None = None) -> list[TrainResult]:
        """Train every seed to the end; one result per seed."""
        self.run(progress)
        return self.results()

    def _batch(self, idx):
        data = self.built.data
        return data.x_train[idx], data.y_train[idx]  # (S, batch, …): each seed its own minibatch

    def _per_seed(self, loss, logits, y):
        losses = per_seed_loss(self.cfg.train.loss, self.built.data.num_classes, logits, y)
        return losses, None if self.built.data.regression else hits(self.cfg.train.loss, logits, y)

    def _alignment(self, x, y, grads, signals):
        bp_grads, bp_signals = backprop_reference(self.built, x, y, grads, signals)
        return [alignment_rows(self.built, grads, signals, bp_grads, bp_signals, seed=s) for s in range(self.seeds)]

    @torch.no_grad()
    def _evaluate(self):
        b, model = self.built, self.built.model
        x, y = b.data.x_test, b.data.y_test
        model.eval()
        loss_sum = torch.zeros(self.seeds, device=b.device)
        right = torch.zeros(self.seeds, device=b.device)
        for i in range(0, len(x), 2048):
            xs = x[i:i + 2048].expand(self.seeds, *x[i:i + 2048].shape)
            ys = y[i:i + 2048].expand(self.seeds, *y[i:i + 2048].shape)
            out = model(xs)
            losses, right_ones = self._per_seed(None, out, ys)
            loss_sum += losses * xs.shape[1]
            if right_ones is not None:
                right += right_ones.sum(-1)
        model.train()
        n = max(len(x), 1)
        loss_sum, right = torch.stack([loss_sum, right]).tolist()  # one read of the device
        accs = [float("nan") if b.data.regression else r / n for r in right]
        return [(l / n, a) for l, a in zip(loss_sum, accs)]
