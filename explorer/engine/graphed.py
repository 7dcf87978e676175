"""CUDA-graph training steps: an ordinary step captured once and replayed (`StaticStep`), where a
run allows it (`why_eager`).

A small network's step on a GPU is bound by Python and kernel launches, not arithmetic. A CUDA
graph records the kernels of one step (batch gather, forward, the rule's backward, Batch Manhattan,
the optimiser step, the rule's after-step, the step's records) and replays them with one launch.
Replay runs the recorded kernels on the recorded memory, so the step may only read and write
tensors that stay where they are: the batch's indices are copied into a buffer the graph gathers
with, and the records go to `explorer.engine.tally.Tally`'s rows (a capacity), not to fresh tensors.

What a graph cannot hold, and why a run is then stepped eagerly (`why_eager`, in words):
anything that reads the device from the host, or draws per-step random numbers from a CPU
generator (augmentation, dropout's held masks, brsf's redraw from its own stream), or an optimiser
that counts its steps on the host (adagrad). Values baked into the captured kernels force a new
capture (`StaticStep.invalidate`): the learning rate (a schedule, a restart), a replaced optimiser
(restart, `Trainer.restore`), a replaced dataset (the parity task draws each epoch afresh).
Logging steps (alignment, test set) always run eagerly, between replays.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import torch

from explorer.engine.optim import CAPTURABLE
from explorer.models.dropout import dropouts

# Eager steps on the capture stream after each (re)start, before a capture: they make what an
# optimiser or a library creates at a step's first run (momentum buffers, cuBLAS workspaces) outside
# the graph. The first step of a run (always logged, eager) has already made most of it.
WARMUP = 1

# One capture at a time in a process: CUDA allows one, and a device-wide sync or cache flush from
# another thread (the start of another run's capture: runs train side by side in threads)
# invalidates a capture under way.
_capturing = threading.Lock()
# Why captures stopped in this process, once one failed: a capture that fails at its end can leave
# PyTorch's allocator marked as capturing, and every later capture would fail on it.
_stopped: list[str] = []


def why_eager(built) -> str | None:
    """Why the ordinary steps of this run (a `explorer.engine.build.Built`) cannot be captured in a
    CUDA graph, in words; None where they can on a CUDA device (the device is not checked here).

    Example:
        >>> from explorer.engine.build import build
        >>> why_eager(build({"model": {"hidden": [4]}, "device": "cpu"})) is None
        True
        >>> why_eager(build({"model": {"hidden": [4]}, "optimizer": {"name": "adagrad"}, "device": "cpu"}))
        'adagrad counts its steps on the host, which a CUDA graph cannot hold'
    """
    cfg = built.config
    if cfg.train.cuda_graph == "off":
        return "train.cuda_graph is off"
    if cfg.train.augment is not None:
        return "train.augment draws each step's crops and flips from a CPU random stream"
    if dropouts(built.model):
        return "model.dropout draws each step's masks from a random stream"
    if cfg.algorithm.name == "brsf":
        return "brsf redraws its feedback magnitudes each step from its own random stream"
    if cfg.optimizer.name not in CAPTURABLE:
        return f"{cfg.optimizer.name} counts its steps on the host, which a CUDA graph cannot hold"
    return None


def graph_reason(built) -> tuple[bool, str]:
    """(capture or not, why in words) for this run on its device.

    Example:
        >>> from explorer.engine.build import build
        >>> graph_reason(build({"model": {"hidden": [4]}, "device": "cpu"}))
        (False, 'CUDA graphs need a CUDA device; this run is on the cpu')
    """
    reason = why_eager(built)
    if reason is not None:
        return False, reason
    if built.device.type != "cuda":
        return False, f"CUDA graphs need a CUDA device; this run is on the {built.device.type}"
    return True, "ordinary steps replay one captured CUDA graph; logging steps run eagerly"


class StaticStep:
    """A step ``body`` that reads and writes only tensors that stay where they are, run eagerly,
    or, with ``capture`` (CUDA), captured in a CUDA graph once and replayed at every later call.
    After each (re)start, ``warmup`` calls run ``body`` eagerly on the stream the capture uses
    (as PyTorch's "whole network capture" does); the next call captures and replays. A capture
    that fails leaves the step eager from then on (``failed``: why, in words): ``reset`` is called
    first (the trainer drops the grads the aborted capture left), then ``body`` runs eagerly.

    Example:
        >>> total = torch.zeros(())
        >>> step = StaticStep(lambda: total.add_(1.0))
        >>> step(); step(); total.item(), step.captures
        (2.0, 0)
    """

    def __init__(self, body: Callable[[], None], capture: bool = False, warmup: int = WARMUP,
                 device: torch.device | str = "cuda", reset: Callable[[], None] = lambda: None) -> None:
        if capture and warmup < 1:  # state a body makes at its first run would be made at every replay
            raise ValueError(f"warmup must be at least 1 where the step is captured, got {warmup}")
        self.body, self.capture, self.warmup, self.reset = body, capture, warmup, reset
        self.failed: str | None = None  # why a capture failed, where one did
        self.graph: torch.cuda.CUDAGraph | None = None
        self.capture_s: float | None = None  # the first capture's seconds
        self.captures = 0
        self._warm = 0
        self._device = torch.device(device)  # the run's GPU, whichever is current in this thread
        self._stream = torch.cuda.Stream(self._device) if capture else None

    def invalidate(self) -> None:
        """Drop the graph: something it baked in changed (the lr, the optimiser, the data). The next
        calls warm up and capture afresh."""
        self.graph, self._warm = None, 0

    def __call__(self) -> None:
        if not self.capture:
            self.body()
            return
        with torch.cuda.device(self._device):
            if self.graph is None:
                if self._warm < self.warmup:
                    self._warm += 1
                    self._on_stream(self.body)
                    return
                with _capturing:
                    if _stopped:
                        self._give_up(f"an earlier CUDA graph capture in this process failed, so every step runs "
                                      f"eagerly: {_stopped[0]}")
                        return
                    try:
                        self._capture()
                    except Exception as err:  # noqa: BLE001 - any failure of the capture: said, and steps go on eagerly
                        _stopped.append(f"{type(err).__name__}: {err}")
                        self._give_up(f"the CUDA graph capture failed, so every step runs eagerly: {_stopped[-1]}")
                        return
            self.graph.replay()

    def _give_up(self, why: str) -> None:
        self.graph, self.capture, self.failed = None, False, why
        self.reset()
        self.body()

    def _on_stream(self, fn: Callable[[], None]) -> None:
        self._stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self._stream):
            fn()
        torch.cuda.current_stream().wait_stream(self._stream)

    def _capture(self) -> None:
        torch.cuda.synchronize(self._device)
        start = time.perf_counter()
        graph = torch.cuda.CUDAGraph()
        # recorded, not run: replay runs it. "thread_local": runs train in worker threads side by
        # side (explorer.runs.jobs); another run's allocations during this capture are its own business
        # the outer block puts the caller's stream back even where the capture's end raises (the inner
        # block's exit does not, in torch 2.14)
        with torch.cuda.stream(self._stream), torch.cuda.graph(graph, stream=self._stream,
                                                               capture_error_mode="thread_local"):
            self.body()
        torch.cuda.synchronize(self._device)
        if self.capture_s is None:
            self.capture_s = time.perf_counter() - start
        self.graph, self.captures = graph, self.captures + 1
