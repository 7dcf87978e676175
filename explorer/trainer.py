"""The training loop: minibatches by index from on-device data, metrics at each logging interval.

Nothing in a step waits for the device: the loss and accuracy are summed in device tensors and a
non-finite loss is noted on the device too (the step it first happened). The host reads them only
when a record is logged (every ``train.log_every`` steps and at each epoch's end); a run whose loss
went non-finite stops there, marked ``diverged`` at the exact step, with every earlier record kept.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from .build import BATCHES, Built, build, derived_seed
from .config import ConfigError, RunConfig
from .losses import correct
from .metrics import compare_with_backprop, measured_backward
from .optim import batch_manhattan_, make_optimizer


@dataclass
class TrainResult:
    """``status`` is "done" or "diverged"; ``diverged_at`` the step whose loss was non-finite."""

    status: str
    diverged_at: int | None
    history: list[dict]
    final: dict
    config: RunConfig
    built: Built | None = field(default=None, repr=False)
    snapshots: list = field(default_factory=list, repr=False)  # representations.Snapshot per epoch asked
    probe: object = field(default=None, repr=False)            # representations.Probe they were taken on


class Trainer:
    """Drives one run step by step; `train` runs it to the end.

    Example:
        >>> t = Trainer({"model": {"hidden": [16]}, "train": {"epochs": 1}, "device": "cpu"})
        >>> t.step(); t.steps_done
        1
    """

    def __init__(self, cfg: RunConfig | dict, built: Built | None = None,
                 on_metrics: Callable[[dict], None] | None = None) -> None:
        self.built = built or build(cfg)
        self.cfg = self.built.config
        self.on_metrics = on_metrics
        b, data = self.built, self.built.data
        self.params = [p for _, p in b.trainable()]
        self.optimizer = make_optimizer(self.cfg.optimizer, self.params)
        self.batch_size = min(self.cfg.train.batch_size, data.num_train)
        # Equal batches: the remainder of each shuffled epoch is left out (it differs every epoch),
        # so that no tiny last batch takes an outsized step.
        self.steps_per_epoch = data.num_train // self.batch_size
        self.total_steps = self.steps_per_epoch * self.cfg.train.epochs
        self.log_every = self.cfg.train.log_every or max(1, round(self.steps_per_epoch / 5))
        self.generator = torch.Generator().manual_seed(derived_seed(self.cfg.seed, BATCHES))
        self.history: list[dict] = []
        self.steps_done = 0
        self.samples_seen = 0
        self.diverged_at: int | None = None
        self._order = torch.empty(0, dtype=torch.long)
        self._zero = torch.zeros((), device=b.device)
        self._loss_sum, self._correct, self._seen = self._zero.clone(), self._zero.clone(), 0
        self._first_bad = torch.full((), -1, dtype=torch.long, device=b.device)
        self._counter = torch.zeros((), dtype=torch.long, device=b.device)
        self.snapshots: list = []
        self.probe = None
        if self.cfg.train.snapshots:
            from .representations import Probe, tap_names

            unknown = sorted(set(self.cfg.train.snapshot_layers) - set(tap_names(b.structure)))
            if unknown:
                raise ConfigError(f"train.snapshot_layers: {unknown[0]!r} is not a hidden layer of this "
                                  f"network; its hidden layers: {', '.join(tap_names(b.structure))}")
            self.probe = Probe.of(data, self.cfg.train.snapshot_samples)
            self._snapshot(0)
        self._start = time.perf_counter()

    @property
    def epoch(self) -> int:
        return self.steps_done // self.steps_per_epoch

    @property
    def finished(self) -> bool:
        return self.diverged_at is not None or self.steps_done >= self.total_steps

    def step(self) -> None:
        """One minibatch: the rule's update, Batch Manhattan if asked, the optimiser step."""
        b = self.built
        position = self.steps_done % self.steps_per_epoch
        if position == 0:
            if self.epoch > 0:
                b.data.resample(self.epoch)  # datasets drawn afresh each epoch (parity) do it here
            b.rule.on_epoch_start(b.model, self.epoch)
            self._order = torch.randperm(b.data.num_train, generator=self.generator).to(b.device)
        idx = self._order[position * self.batch_size:(position + 1) * self.batch_size]
        x, y = b.data.x_train[idx], b.data.y_train[idx]
        b.model.train()
        step = self.steps_done + 1
        logging = step % self.log_every == 0 or step % self.steps_per_epoch == 0 or step == self.total_steps
        if logging:  # alignment on this step's batch, at the weights this step's update was made at
            loss, logits, signals = measured_backward(b, b.rule, x, y)
            layers = compare_with_backprop(b, x, y, {n: p.grad for n, p in b.trainable()}, signals)
        else:
            loss, logits = b.rule.backward(b.model, x, y, b.loss_fn)
        if self.cfg.optimizer.batch_manhattan:
            batch_manhattan_(self.params)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        b.rule.after_step(b.model)
        self.steps_done += 1
        loss = loss.detach()
        self._counter += 1
        self._first_bad = torch.where((self._first_bad < 0) & ~torch.isfinite(loss), self._counter, self._first_bad)
        self._loss_sum += loss * len(idx)
        if not b.data.regression:
            self._correct += correct(self.cfg.train.loss, logits.detach(), y)
        self._seen += len(idx)
        self.samples_seen += len(idx)
        if logging:
            self._log(layers)
        if self.steps_done % self.steps_per_epoch == 0 and self.diverged_at is None:
            self._snapshot(self.steps_done // self.steps_per_epoch)

    def _snapshot(self, epoch: int) -> None:
        """Hidden activations of the fixed probe set, if this epoch was asked for."""
        if epoch in self.cfg.train.snapshots:
            from .representations import Snapshot, capture

            layers = self.cfg.train.snapshot_layers or None
            self.snapshots.append(Snapshot(epoch, self.steps_done, capture(self.built, self.probe.x, layers=layers)))

    def _log(self, layers: list[dict]) -> dict | None:
        """Read the device once: record the interval's metrics, or stop if the loss diverged."""
        first_bad = int(self._first_bad)
        if first_bad >= 0:
            self.diverged_at = first_bad
            return None
        b = self.built
        test_loss, test_acc = evaluate(b, b.data.x_test, b.data.y_test)
        train_acc = math.nan if b.data.regression else float(self._correct) / max(self._seen, 1)
        record = {
            "step": self.steps_done,
            "epoch": self.steps_done / self.steps_per_epoch,
            "samples": self.samples_seen,
            "time": time.perf_counter() - self._start,
            "train_loss": float(self._loss_sum) / max(self._seen, 1),
            "train_acc": train_acc,
            "test_loss": test_loss,
            "test_acc": test_acc,
            "layers": layers,
        }
        self._loss_sum.zero_(), self._correct.zero_()
        self._seen = 0
        self.history.append(record)
        if self.on_metrics is not None:
            self.on_metrics(record)
        return record

    def result(self) -> TrainResult:
        status = "diverged" if self.diverged_at is not None else "done"
        final = self.history[-1] if self.history else {}
        return TrainResult(status, self.diverged_at, self.history, final, self.cfg, self.built,
                           self.snapshots, self.probe)

    def run(self, progress: Callable[[int, int], None] | None = None) -> TrainResult:
        """Train to the end (or to divergence); ``progress(step, total)`` after every step."""
        while not self.finished:
            self.step()
            if progress is not None:
                progress(self.steps_done, self.total_steps)
        return self.result()


@torch.no_grad()
def evaluate(built: Built, x: torch.Tensor, y: torch.Tensor, chunk: int = 2048) -> tuple[float, float]:
    """Mean loss and accuracy of the model on (x, y), in eval mode, in chunks.

    Example:
        >>> from explorer.build import build
        >>> b = build({"model": {"hidden": [4]}, "device": "cpu"})
        >>> loss, acc = evaluate(b, b.data.x_test, b.data.y_test)
        >>> 0.0 <= acc <= 1.0
        True
    """
    model = built.model
    training = model.training
    model.eval()
    loss_sum, right = torch.zeros((), device=x.device), torch.zeros((), device=x.device)
    for i in range(0, len(x), chunk):
        out = model(x[i:i + chunk])
        loss_sum += built.loss_fn(out, y[i:i + chunk]) * len(out)
        if not built.data.regression:
            right += correct(built.config.train.loss, out, y[i:i + chunk])
    model.train(training)
    n = max(len(x), 1)
    return float(loss_sum) / n, (math.nan if built.data.regression else float(right) / n)


def train(cfg: RunConfig | dict, on_metrics: Callable[[dict], None] | None = None, *,
          progress: Callable[[int, int], None] | None = None) -> TrainResult:
    """Train a run to the end and return its result (status, diverged_at, history, final).

    Example:
        >>> r = train({"model": {"hidden": [16]}, "train": {"epochs": 1}, "device": "cpu"})
        >>> r.status, r.diverged_at, r.final["step"] == r.history[-1]["step"]
        ('done', None, True)
    """
    return Trainer(cfg, on_metrics=on_metrics).run(progress)
