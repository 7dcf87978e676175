"""The training loop: minibatches by index from on-device data, metrics at each logging interval.

Nothing in a step waits for the device: each step's loss, right answers and weight norm stay there
(`Tally`), and the host reads them only when a record is logged (every ``train.log_every`` steps
and at each epoch's end), with the first step that diverged: a loss that went non-finite, or a
loss or a global weight norm past ``train.diverge``'s limits (`explorer.config.divergence`). A run
that diverged stops there, marked ``diverged`` at that exact step, with every earlier record kept
and the reason in words (`TrainResult.reason`).

On CUDA, an ordinary (not logging) step is captured in a CUDA graph and replayed where the run
allows (`explorer.engine.graphed`, ``train.cuda_graph``); `Trainer.graph_info` says whether, and why not.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from explorer.engine.allocator import keep_freed_memory, release_freed_memory
from explorer.engine.augment import AUGMENT, augment
from explorer.engine.build import BATCHES, Built, build, derived_seed
from explorer.engine.graphed import StaticStep, graph_reason, why_eager
from explorer.config import ConfigError, RunConfig
from explorer.data.shapes import check_batch
from explorer.engine.losses import correct, hits, mean_loss, mean_terms
from explorer.engine.metrics import compare_with_backprop, measured_backward
from explorer.engine.optim import batch_manhattan_, make_optimizer
from explorer.engine.tally import Tally, global_norms
from explorer.models import held_masks
from explorer.models.dropout import dropouts


@dataclass
class TrainResult:
    """``status`` is "done" or "diverged"; ``diverged_at`` the step that diverged (its loss
    non-finite, or its loss or weight norm past ``train.diverge``'s limits) and ``reason`` why, in
    words ("loss 3.2e+25 > 1e+06 × start 2.3 (the first step's loss)")."""

    status: str
    diverged_at: int | None
    history: list[dict]
    final: dict
    config: RunConfig
    built: Built | None = field(default=None, repr=False)
    snapshots: list = field(default_factory=list, repr=False)  # representations.Snapshot per epoch asked
    probe: object = field(default=None, repr=False)            # representations.Probe they were taken on
    notes: dict = field(default_factory=dict)                   # field: how the run differs from its config
    reason: str | None = None                                   # why it diverged, where it did


class Trainer:
    """Drives one run step by step; `train` runs it to the end. (`seeds.SeedsTrainer` drives
    several seeds stacked into one network through the same loop.)

    A batch larger than the training set is refused (`ConfigError` on ``train.batch_size``). Fewer
    test samples than ``train.snapshot_samples`` is not: the snapshots hold the test samples there
    are, and ``notes["train.snapshot_samples"]`` says so, for a front end to show beside the control
    (the Train page's maps ask for 500 on every dataset, and the digits have 359).

    ``static_step`` runs the ordinary steps through the CUDA graph's static buffers
    (`explorer.engine.graphed.StaticStep`) even where nothing is captured (on the CPU: eagerly),
    where the run allows a graph: they train exactly as the plain steps do.

    Example:
        >>> t = Trainer({"model": {"hidden": [16]}, "train": {"epochs": 1}, "device": "cpu"})
        >>> t.step(); t.steps_done
        1
    """

    seeds = 1  # runs trained together; every per-run figure below is a vector of this length

    def __init__(self, cfg: RunConfig | dict, built: Built | None = None,
                 on_metrics: Callable[[dict], None] | None = None, *, static_step: bool = False) -> None:
        self.built = built or build(cfg)
        self.cfg = self.built.config
        self.on_metrics = on_metrics
        b, data = self.built, self.built.data
        if b.device.type == "cpu":
            keep_freed_memory()  # a step's tensors reuse the last step's memory, without page faults
        self.params = [p for _, p in b.trainable()]
        self._capture, self._graph_reason = graph_reason(b)
        self.optimizer = make_optimizer(self.cfg.optimizer, self.params, capturable=self._capture)
        self.batch_size = self.cfg.train.batch_size
        check_batch(self.batch_size, data.num_train, data.name)
        self.notes: dict[str, str] = {}  # field: what the run does differently from what was asked
        # Equal batches: the remainder of each shuffled epoch is left out (it differs every epoch),
        # so that no tiny last batch takes an outsized step.
        self.steps_per_epoch = data.num_train // self.batch_size
        self.total_steps = self.steps_per_epoch * self.cfg.train.epochs
        self.log_every = self.cfg.train.log_every or max(1, round(self.steps_per_epoch / 5))
        self.generators = [torch.Generator().manual_seed(derived_seed(c.seed, BATCHES)) for c in self.configs]
        self.augmenters = []  # each run's augmentation stream, when train.augment asks for one
        if self.cfg.train.augment is not None:
            if data.x_train.dim() != 4:
                raise ConfigError(f"train.augment crops and flips images; the inputs of '{data.name}' are "
                                  f"{tuple(data.input_shape)}, not (channels, height, width)", field="train.augment")
            self.augmenters = [torch.Generator().manual_seed(derived_seed(c.seed, AUGMENT)) for c in self.configs]
        self.histories: list[list[dict]] = [[] for _ in range(self.seeds)]
        self.diverged: list[int | None] = [None] * self.seeds
        self.reasons: list[str | None] = [None] * self.seeds  # why each seed diverged, where it did
        self.steps_done = 0
        self.samples_seen = 0
        self._order = torch.empty(0, dtype=torch.long)
        self._dropout = bool(dropouts(b.model))
        self._static: StaticStep | None = None  # the ordinary step on static buffers, captured on CUDA
        if self._capture or (static_step and why_eager(b) is None):
            self._static = StaticStep(self._static_body, capture=self._capture, device=b.device,
                                      reset=lambda: self.optimizer.zero_grad(set_to_none=True))
            self._idx = torch.zeros((self.seeds, self.batch_size), dtype=torch.long, device=b.device)
            self._static_data = (data.x_train, data.y_train)
        self._tally = self._new_tally()
        self.snapshots: list = []
        self.probe = None
        if self.cfg.train.snapshots:
            from explorer.engine.representations import Probe, tap_names

            unknown = sorted(set(self.cfg.train.snapshot_layers) - set(tap_names(b.structure)))
            if unknown:
                raise ConfigError(f"train.snapshot_layers: {unknown[0]!r} is not a hidden layer of this "
                                  f"network; its hidden layers: {', '.join(tap_names(b.structure))}",
                                  field="train.snapshot_layers")
            self.probe = Probe.of(data, self.cfg.train.snapshot_samples)
            if len(self.probe) < self.cfg.train.snapshot_samples:
                self.notes["train.snapshot_samples"] = (
                    f"train.snapshot_samples: {self.cfg.train.snapshot_samples:,} asked for, but '{data.name}' "
                    f"has {len(self.probe):,} test samples; the snapshots hold those {len(self.probe):,}")
            self._snapshot(0)
        # optimizer.schedule "restarts" from "best": each seed's best test score at an epoch's end so
        # far, and the weights that had it (forward weights and buffers, on the device)
        self._best_score = [-math.inf] * self.seeds
        self._best: dict[str, torch.Tensor] | None = None
        self._watch_divergence()
        self._start = time.perf_counter()

    @property
    def configs(self) -> list[RunConfig]:
        return [self.built.config]

    @property
    def history(self) -> list[dict]:
        return self.histories[0]

    @property
    def diverged_at(self) -> int | None:
        return self.diverged[0]

    @property
    def epoch(self) -> int:
        return self.steps_done // self.steps_per_epoch

    @property
    def finished(self) -> bool:
        return all(d is not None for d in self.diverged) or self.steps_done >= self.total_steps

    def step(self) -> None:
        """One minibatch: the rule's update, Batch Manhattan if asked, the optimiser step."""
        b = self.built
        position = self.steps_done % self.steps_per_epoch
        if position == 0:
            if self.epoch > 0:
                b.data.resample(self.epoch)  # datasets drawn afresh each epoch (parity) do it here
            schedule = self.cfg.optimizer.schedule
            if schedule is not None and schedule.restarts_at(self.epoch):
                self._restart(schedule.start == "best")
            b.rule.on_epoch_start(b.model, self.epoch)
            self._set_lr(self.cfg.optimizer.lr_at(self.epoch))
            self._order = torch.stack([torch.randperm(b.data.num_train, generator=g)
                                       for g in self.generators]).to(b.device)
        idx = self._order[:, position * self.batch_size:(position + 1) * self.batch_size]
        if not b.model.training:  # train() walks every module: 12% of a small MLP's step when called each time
            b.model.train()
        step = self.steps_done + 1
        # the first step is logged too, so a live chart has a point as soon as a run has moved
        logging = step == 1 or step % self.log_every == 0 or step % self.steps_per_epoch == 0 or step == self.total_steps
        if self._static is not None and not logging:
            self._static_step(idx)
        else:
            x, y = self._batch(idx)
            if self.augmenters:
                x = augment(x, self.cfg.train.augment, self.augmenters)
            with held_masks(b.model) if self._dropout else contextlib.nullcontext():
                # model.dropout: one mask per step, the rule's and backprop's alike
                if logging:  # alignment on this step's batch, at the weights this step's update was made at
                    loss, logits, signals = measured_backward(b, b.rule, x, y)
                    layers = self._alignment(x, y, {n: p.grad for n, p in b.trainable()}, signals)
                else:
                    loss, logits = b.rule.backward(b.model, x, y, b.loss_fn)
            self._update()
            self._tally.add(*self._per_seed(loss.detach(), logits.detach(), y), self._weight_norms())
        self.steps_done += 1
        self.samples_seen += self.batch_size
        if logging:
            self._log(layers)
        if self.steps_done % self.steps_per_epoch == 0 and self.diverged[0] is None:
            self._snapshot(self.steps_done // self.steps_per_epoch)

    def leave_out(self, seconds: float) -> None:
        """Leave ``seconds`` (a run held paused between steps) out of the records' ``time``, which
        counts the seconds spent training.

        Example:
            >>> t = Trainer({"model": {"hidden": [4]}, "train": {"epochs": 1}, "device": "cpu"})
            >>> t.leave_out(3600.0); t.step(); t.history[-1]["time"] < 0
            True
        """
        self._start += seconds

    def _update(self) -> None:
        """After the rule's backward: Batch Manhattan if asked, the optimiser step, the rule's after-step."""
        if self.cfg.optimizer.batch_manhattan:
            batch_manhattan_(self.params)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.built.rule.after_step(self.built.model)

    # CUDA graphs (train.cuda_graph; explorer.engine.graphed) -------------------------------------

    @property
    def graph_info(self) -> dict:
        """Whether ordinary steps replay a CUDA graph (``used``), why or why not (``reason``, in
        words, a failed capture's error too), the first capture's seconds (``capture_s``, None
        before it) and how many captures were made (a new one after each change of lr, optimiser or data).

        Example:
            >>> Trainer({"model": {"hidden": [4]}, "train": {"epochs": 1}, "device": "cpu"}).graph_info["reason"]
            'CUDA graphs need a CUDA device; this run is on the cpu'
        """
        s = self._static
        failed = None if s is None else s.failed  # a capture that failed: eager since
        return {"used": self._capture and not failed, "reason": failed or self._graph_reason,
                "capture_s": None if s is None else s.capture_s, "captures": 0 if s is None else s.captures}

    def invalidate(self) -> None:
        """Capture the ordinary step afresh at its next run: what the graph baked in (the lr, the
        optimiser and its state, the rule's, the data) was replaced."""
        if self._static is not None:
            self._static.invalidate()

    def _new_tally(self) -> Tally:
        """A graph's step writes its records into rows (a capacity: the longest logging interval);
        an eager step hands its tensors over."""
        rows = min(self.log_every, self.steps_per_epoch) if self._static is not None else None
        return Tally(self.seeds, rows)

    def _static_step(self, idx: torch.Tensor) -> None:
        """An ordinary step on the static buffers: this step's indices copied in, then the graph."""
        data = self.built.data
        if data.x_train is not self._static_data[0] or data.y_train is not self._static_data[1]:
            self._static_data = (data.x_train, data.y_train)  # drawn afresh (parity): new tensors
            self.invalidate()
        self._idx.copy_(idx)
        self._tally.count()
        self._static()

    def _static_body(self) -> None:
        """What a graph holds: reads the static indices, writes the weights, the optimiser's and
        the rule's state and the Tally's rows; no host reads, no CPU random streams."""
        b = self.built
        x, y = self._batch(self._idx)
        loss, logits = b.rule.backward(b.model, x, y, b.loss_fn)
        self._update()
        self._tally.write(*self._per_seed(loss.detach(), logits.detach(), y), self._weight_norms())

    @property
    def lr(self) -> float:
        """The learning rate in use (the schedule's for the current epoch)."""
        return self.optimizer.param_groups[0]["lr"]

    # Divergence (train.diverge) ---------------------------------------------------------------

    def _watch_divergence(self) -> None:
        """Each seed's starts for ``train.diverge``: the weight norm now (before the first step),
        the loss once the first step has been read (`_log`)."""
        rule = self.cfg.train.diverge
        self._loss_start = [math.nan] * self.seeds
        self._weight_parts: list[torch.Tensor] = []  # each seed's trained tensors in turn
        if rule.weight_factor is not None and self.params:
            stacked = getattr(self.built.model, "seeds", None) is not None
            self._weight_parts = [p[s] if stacked else p for s in range(self.seeds) for p in self.params]
        self._weight_start = [math.nan] * self.seeds
        if self._weight_parts:
            self._weight_start = global_norms(self._weight_norms(), self.seeds).tolist()

    @torch.no_grad()
    def _weight_norms(self) -> list[torch.Tensor] | None:
        """The L2 norms of the trained tensors, every seed's in turn, left on the device (None
        where the weights are not watched)."""
        return list(torch._foreach_norm(self._weight_parts)) if self._weight_parts else None

    def _limits(self) -> tuple[list[float], list[float]]:
        """Per seed, the batch loss and the weight norm past which it has diverged."""
        rule = self.cfg.train.diverge
        return ([rule.loss_limit(v) for v in self._loss_start], [rule.weight_limit(v) for v in self._weight_start])

    def _why(self, s: int, loss: float, norm: float) -> str:
        """Why seed ``s`` diverged, from the loss and weight norm of its step that did."""
        rule, (loss_limits, _) = self.cfg.train.diverge, self._limits()
        if not math.isfinite(loss) or loss > loss_limits[s]:
            return rule.why("loss", loss, self._loss_start[s])
        return rule.why("weight norm", norm, self._weight_start[s])

    def _set_lr(self, lr: float) -> None:
        if lr != self.lr:  # a captured optimiser step holds the lr it was captured with
            self.invalidate()
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    # Restarts (optimizer.schedule "restarts") ------------------------------------------------

    def _restorable(self) -> dict[str, torch.Tensor]:
        """The network's state that a restart from "best" puts back: its forward weights and buffers,
        not the rule's feedback matrices (which stay as they are)."""
        return {k: v for k, v in self.built.model.state_dict().items()
                if not k.endswith(("feedback", "feedback_magnitude"))}

    def _seed_part(self, t: torch.Tensor, s: int) -> torch.Tensor:
        """Seed ``s``'s slice of a state tensor (the whole tensor in a network of one run)."""
        return t[s] if getattr(self.built.model, "seeds", None) is not None else t

    def _keep_best(self, tests: list[tuple[float, float]]) -> None:
        """At an epoch's end, keep a copy of each seed's weights whose test accuracy (regression:
        minus the test loss) beats its best so far."""
        schedule = self.cfg.optimizer.schedule
        if schedule is None or schedule.start != "best" or self.steps_done % self.steps_per_epoch:
            return
        state = self._restorable()
        for s, (loss, acc) in enumerate(tests):
            score = -loss if math.isnan(acc) else acc
            if self.diverged[s] is not None or not score > self._best_score[s]:
                continue
            self._best_score[s] = score
            if self._best is None:
                self._best = {k: v.detach().clone() for k, v in state.items()}
            else:
                for k, v in state.items():
                    self._seed_part(self._best[k], s).copy_(self._seed_part(v, s))

    def _restart(self, from_best: bool) -> None:
        """A restarts milestone: the weights of the best epoch so far (``from_best``) and a fresh
        optimiser (its momentum and running averages cleared)."""
        if from_best and self._best is not None:
            with torch.no_grad():
                for k, v in self._restorable().items():
                    v.copy_(self._best[k])
            self.built.rule.after_step(self.built.model)  # feedback that follows W follows the weights put back
        self.optimizer = make_optimizer(self.cfg.optimizer, self.params, capturable=self._capture)
        self.invalidate()

    # Checkpoints (resume a run exactly) -------------------------------------------------------

    def checkpoint_state(self) -> dict[str, torch.Tensor]:
        """Everything later steps depend on, as flat CPU tensors (copies) that
        `explorer.runs.store.tensors_to_bytes` stores: the network's state (``model/…``: weights,
        buffers, feedback matrices), the optimiser's (``optimizer/…``), every random stream
        (``rng/…``: batches, augmentation, the rule's, dropout's, torch's global ones), the step
        and sample counts, each seed's divergence starts and verdict, and the restarts' best
        epoch. Not the records or snapshots already taken: the run that took them keeps them.
        Only at an epoch's end (or before the first step): mid-epoch is a ValueError.

        `restore` on a new trainer of the same configs goes on from there, bit for bit:

        Example:
            >>> cfg = {"model": {"hidden": [16]}, "train": {"epochs": 2, "batch_size": 256}, "device": "cpu"}
            >>> straight = Trainer(cfg); straight.run().history[-1]["step"]
            10
            >>> first = Trainer(cfg)
            >>> while first.epoch < 1: first.step()
            >>> state = first.checkpoint_state()
            >>> again = Trainer(cfg); again.restore(state); again.run().history[0]["step"]
            6
            >>> strip = lambda h: [{k: v for k, v in r.items() if k != "time"} for r in h]
            >>> strip(again.history) == strip(straight.history[-len(again.history):])
            True
            >>> first.step(); first.checkpoint_state()
            Traceback (most recent call last):
            ...
            ValueError: a checkpoint is taken at an epoch's end; step 6 is 1 step into epoch 2 (5 steps each)
        """
        into = self.steps_done % self.steps_per_epoch
        if into:
            raise ValueError(f"a checkpoint is taken at an epoch's end; step {self.steps_done} is {into} "
                             f"step{'s' * (into != 1)} into epoch {self.epoch + 1} ({self.steps_per_epoch} steps each)")
        return {k: v.detach().to("cpu", copy=True) for k, v in self._state().items()}

    def restore(self, state: dict[str, torch.Tensor]) -> None:
        """Continue from a `checkpoint_state` of a trainer of the same configs (see its example):
        the next `step` is the one that would have followed it. The histories and snapshots start
        empty. Torch's global random state (CUDA's too, where the state has it) is put back as well.
        A state of another network, optimiser, seed count or epoch length, or one with keys missing,
        is refused (ValueError naming what does not match) before anything is changed."""
        self._check_state(state)
        b, cpu = self.built, {k: v.detach().to("cpu") for k, v in state.items()}
        b.model.load_state_dict({k[len("model/"):]: v for k, v in state.items() if k.startswith("model/")})
        self.optimizer = make_optimizer(self.cfg.optimizer, self.params, capturable=self._capture)
        saved = self.optimizer.state_dict()
        for g, group in enumerate(saved["param_groups"]):  # capturable: how this trainer steps, not the run
            group.update({k: cpu[f"optimizer/groups/{g}/{k}"].item() for k in group
                          if f"optimizer/groups/{g}/{k}" in cpu and k != "capturable"})
        for k, v in state.items():  # clones: the optimiser updates its state in place
            if k.startswith("optimizer/state/"):
                i, name = k.split("/")[2:]
                saved["state"].setdefault(int(i), {})[name] = v.detach().clone()
        self.optimizer.load_state_dict(saved)
        for name, gens in (("batches", self.generators), ("augment", self.augmenters)):
            for s, g in enumerate(gens):
                g.set_state(cpu[f"rng/{name}/{s}"])
        rule = b.rule
        if rule.generator is not None:
            rule.generator.set_state(cpu["rng/rule"])
        if hasattr(rule, "step_generator"):  # brsf's device stream, drawn from the rule's at its first step
            rule.step_generator = None
            if "rng/rule_step" in cpu:
                rule.step_generator = torch.Generator(rule.fed_layers[0].weight.device)
                rule.step_generator.set_state(cpu["rng/rule_step"])
        for i, layer in enumerate(dropouts(b.model)):
            for s, g in enumerate(layer.generators or []):
                g.set_state(cpu[f"rng/dropout/{i}/{s}"])
        torch.set_rng_state(cpu["rng/torch"])  # dropout without its own streams draws from torch's
        if torch.cuda.is_available():
            for d in range(torch.cuda.device_count()):
                if f"rng/cuda/{d}" in cpu:
                    torch.cuda.set_rng_state(cpu[f"rng/cuda/{d}"], d)
        self.steps_done, self.samples_seen = int(cpu["steps_done"]), int(cpu["samples_seen"])
        self.diverged = [None if d < 0 else d for d in cpu["diverged"].tolist()]
        self.reasons = [bytes(cpu[f"reasons/{s}"].tolist()).decode() if f"reasons/{s}" in cpu else None
                        for s in range(self.seeds)]
        self._loss_start, self._weight_start = cpu["loss_start"].tolist(), cpu["weight_start"].tolist()
        self._best_score = cpu["best_score"].tolist()
        best = {k[len("best/"):]: v.to(b.device, copy=True) for k, v in state.items() if k.startswith("best/")}
        self._best = best or None
        self.histories, self.snapshots = [[] for _ in range(self.seeds)], []
        self._tally, self._order = self._new_tally(), torch.empty(0, dtype=torch.long)
        self.invalidate()

    def _state(self) -> dict[str, torch.Tensor]:
        """`checkpoint_state`'s tensors, where they are (not copied)."""
        b, ints = self.built, (lambda v: torch.tensor(v, dtype=torch.int64))
        state = {f"model/{k}": v for k, v in b.model.state_dict().items()}
        optim = self.optimizer.state_dict()
        for i, per_param in optim["state"].items():
            state.update({f"optimizer/state/{i}/{k}": v for k, v in per_param.items() if isinstance(v, torch.Tensor)})
        for g, group in enumerate(optim["param_groups"]):  # lr, momentum, …: plain numbers
            state.update({f"optimizer/groups/{g}/{k}": torch.tensor(v, dtype=torch.float64 if isinstance(v, float)
                                                                    else None)
                          for k, v in group.items() if isinstance(v, (bool, int, float))})
        for name, gens in (("batches", self.generators), ("augment", self.augmenters)):
            state.update({f"rng/{name}/{s}": g.get_state() for s, g in enumerate(gens)})
        if b.rule.generator is not None:
            state["rng/rule"] = b.rule.generator.get_state()
        if getattr(b.rule, "step_generator", None) is not None:
            state["rng/rule_step"] = b.rule.step_generator.get_state()
        for i, layer in enumerate(dropouts(b.model)):
            state.update({f"rng/dropout/{i}/{s}": g.get_state() for s, g in enumerate(layer.generators or [])})
        state["rng/torch"] = torch.get_rng_state()
        if b.device.type == "cuda":
            state.update({f"rng/cuda/{d}": t for d, t in enumerate(torch.cuda.get_rng_state_all())})
        state.update(seeds=ints(self.seeds), steps_done=ints(self.steps_done), samples_seen=ints(self.samples_seen),
                     diverged=ints([-1 if d is None else d for d in self.diverged]),
                     loss_start=torch.tensor(self._loss_start, dtype=torch.float64),
                     weight_start=torch.tensor(self._weight_start, dtype=torch.float64),
                     best_score=torch.tensor(self._best_score, dtype=torch.float64))
        state.update({f"reasons/{s}": torch.tensor(list(r.encode()), dtype=torch.uint8)
                      for s, r in enumerate(self.reasons) if r is not None})
        state.update({f"best/{k}": v for k, v in (self._best or {}).items()})
        return state

    def _check_state(self, state: dict[str, torch.Tensor]) -> None:
        """Refuse a state this trainer cannot go on from, naming what does not match."""
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError("a checkpoint state is a dict of names to tensors (Trainer.checkpoint_state)")
        if "seeds" in state and int(state["seeds"]) != self.seeds:
            raise ValueError(f"the checkpoint holds {int(state['seeds'])} seeds; this trainer trains {self.seeds}")
        mine = self._state()
        optional = ("optimizer/state/", "best/", "reasons/", "rng/rule_step", "rng/cuda/")  # present or not as it ran
        missing = sorted(k for k in mine if not k.startswith(optional) and k not in state)
        if missing:
            raise ValueError(f"the checkpoint lacks {len(missing)} key{'s' * (len(missing) > 1)} of this trainer's "
                             f"state: {', '.join(missing[:5])}{', …' if len(missing) > 5 else ''}")
        extra = sorted(k for k in state if k not in mine and not k.startswith(optional))
        if extra:
            raise ValueError(f"the checkpoint is of another network or optimiser: this trainer's state has no "
                             f"{', '.join(extra[:5])}{', …' if len(extra) > 5 else ''}")
        best = self._restorable()
        for k, v in state.items():
            if k in mine and not k.startswith(("rng/", "optimizer/groups/")):
                want = mine[k].shape
            elif k.startswith("best/"):
                want = best[k[len("best/"):]].shape if k[len("best/"):] in best else None
            elif k.startswith("optimizer/state/"):
                i = int(k.split("/")[2])
                want = None if i >= len(self.params) else (self.params[i].shape if v.dim() else v.shape)
            else:
                continue
            if want is None or v.shape != want:
                raise ValueError(f"the checkpoint is of another network: its {k} is "
                                 f"{tuple(v.shape)}, this trainer's {'absent' if want is None else tuple(want)}")
        steps = int(state["steps_done"])
        if steps % self.steps_per_epoch or not 0 <= steps <= self.total_steps:
            raise ValueError(f"the checkpoint's step {steps} is not an epoch's end of this run "
                             f"({self.steps_per_epoch} steps an epoch, {self.total_steps} in all)")

    # The pieces a stacked network does differently ------------------------------------------

    def _batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The minibatch for this step's indices (one row of ``idx`` per seed)."""
        return self.built.data.x_train[idx[0]], self.built.data.y_train[idx[0]]

    def _per_seed(self, loss, logits, y) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Each seed's loss on this batch (seeds,) and which of its predictions were right
        (seeds, batch), on the device; None for the latter in regression."""
        right = None if self.built.data.regression else hits(self.cfg.train.loss, logits, y).reshape(1, -1)
        if self.cfg.train.reduction == "sum":  # records report the mean
            loss = loss / mean_terms(self.cfg.train.loss, logits)
        return loss.reshape(1), right

    def _alignment(self, x, y, grads, signals) -> list[list[dict]]:
        """Per seed, the alignment rows of this batch."""
        return [compare_with_backprop(self.built, x, y, grads, signals)]

    def _evaluate(self) -> list[tuple[float, float]]:
        """Per seed, the test loss and accuracy."""
        b = self.built
        return [evaluate(b, b.data.x_test, b.data.y_test)]

    # ----------------------------------------------------------------------------------------

    def _snapshot(self, epoch: int) -> None:
        """Hidden activations of the fixed probe set, if this epoch was asked for."""
        if epoch in self.cfg.train.snapshots:
            from explorer.engine.representations import Snapshot, capture

            layers = self.cfg.train.snapshot_layers or None
            self.snapshots.append(Snapshot(epoch, self.steps_done, capture(self.built, self.probe.x, layers=layers)))

    def _log(self, layers: list[list[dict]]) -> None:
        """Read the interval from the device: record each live seed's metrics; a seed that
        diverged (`explorer.config.divergence`) is marked so at that step, with why, and records
        nothing more."""
        start = self.steps_done - self._tally.steps  # the step before the interval's first
        train = self._tally.read(*self._limits())
        if start == 0:  # the interval began with the first step, alone (it is always logged)
            self._loss_start = [r.loss for r in train]
        for s, r in enumerate(train):
            if r.first_bad is not None and self.diverged[s] is None:
                self.diverged[s] = start + r.first_bad + 1
                self.reasons[s] = self._why(s, r.bad_loss, r.bad_norm)
        tests = self._evaluate()
        self._keep_best(tests)
        for s in range(self.seeds):
            if self.diverged[s] is not None:
                continue
            record = {
                "step": self.steps_done,
                "epoch": self.steps_done / self.steps_per_epoch,
                "samples": self.samples_seen,
                "time": time.perf_counter() - self._start,
                "train_loss": train[s].loss,
                "train_acc": train[s].accuracy,
                "test_loss": tests[s][0],
                "test_acc": tests[s][1],
                "lr": self.lr,
                "layers": layers[s],
            }
            self.histories[s].append(record)
            if self.on_metrics is not None:
                self.on_metrics(record) if self.seeds == 1 else self.on_metrics(s, record)

    def results(self) -> list[TrainResult]:
        """One result per seed."""
        out = []
        for s, cfg in enumerate(self.configs):
            history, diverged = self.histories[s], self.diverged[s]
            out.append(TrainResult("diverged" if diverged is not None else "done", diverged, history,
                                   history[-1] if history else {}, cfg, self.built,
                                   self.snapshots, self.probe, dict(self.notes), self.reasons[s]))
        return out

    def result(self) -> TrainResult:
        return self.results()[0]

    def run(self, progress: Callable[[int, int], None] | None = None) -> TrainResult:
        """Train to the end (or to divergence); ``progress(step, total)`` after every step."""
        while not self.finished:
            self.step()
            if progress is not None:
                progress(self.steps_done, self.total_steps)
        release_freed_memory()  # the steps' memory, kept while they ran, back to the kernel
        return self.result()


@torch.no_grad()
def evaluate(built: Built, x: torch.Tensor, y: torch.Tensor, chunk: int = 2048) -> tuple[float, float]:
    """Mean loss and accuracy of the model on (x, y), in eval mode, in chunks (the mean loss also
    where the run trains on the summed one).

    Example:
        >>> from explorer.engine.build import build
        >>> b = build({"model": {"hidden": [4]}, "device": "cpu"})
        >>> loss, acc = evaluate(b, b.data.x_test, b.data.y_test)
        >>> 0.0 <= acc <= 1.0
        True
    """
    model = built.model
    training = model.training
    model.eval()
    loss_fn = mean_loss(built.loss_fn)
    loss_sum, right = torch.zeros((), device=x.device), torch.zeros((), device=x.device)
    for i in range(0, len(x), chunk):
        out = model(x[i:i + chunk])
        loss_sum += loss_fn(out, y[i:i + chunk]) * len(out)
        if not built.data.regression:
            right += correct(built.config.train.loss, out, y[i:i + chunk])
    model.train(training)
    n = max(len(x), 1)
    loss_sum, right = torch.stack([loss_sum, right]).tolist()  # one read of the device
    return loss_sum / n, (math.nan if built.data.regression else right / n)


def train(cfg: RunConfig | dict, on_metrics: Callable[[dict], None] | None = None, *,
          progress: Callable[[int, int], None] | None = None) -> TrainResult:
    """Train a run to the end and return its result (status, diverged_at, history, final).

    Example:
        >>> r = train({"model": {"hidden": [16]}, "train": {"epochs": 1}, "device": "cpu"})
        >>> r.status, r.diverged_at, r.final["step"] == r.history[-1]["step"]
        ('done', None, True)
    """
    return Trainer(cfg, on_metrics=on_metrics).run(progress)
