"""Memory at the door: a run's size, estimated from its config before anything is allocated.

The network is built on PyTorch's ``meta`` device, which records shapes and allocates nothing, so
the count is the real network's, whatever its kind: parameters (with the network's buffers), the
gradients the rule and the alignment measurement fill, the optimiser's state, the rule's feedback
matrices, the activations of one training batch (the forward outputs autograd keeps
and their gradients; or, if larger, one evaluation chunk), and the dataset on the device. A run
that would not fit in the device's free memory is refused with a `ConfigError` that names the
field to change and gives the estimate, part by part.

Example:
    >>> from explorer.config import RunConfig
    >>> from explorer.data.shapes import DataShape
    >>> cfg = RunConfig.from_dict({"model": {"name": "mlp", "hidden": [1000]}, "train": {"batch_size": 10}})
    >>> fp = estimate(cfg, DataShape((1, 8, 8), 10, train=1000, test=100))
    >>> fp.parameters == 4 * (64 * 1000 + 1000 + 1000 * 10 + 10)
    True
    >>> check_fits(cfg, "cpu", free=10**6)   # on the digits (the config's dataset)
    Traceback (most recent call last):
    ...
    explorer.config.ConfigError: model.hidden: this network needs about 4.5 MB (parameters 300 kB, gradients 600 kB, optimiser state 300 kB, activations 2.9 MB, dataset 474 kB); this machine has 1.0 MB free
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from explorer.config import DATASET_OPTIONS, ConfigError, RunConfig
from explorer.config.registry import RULES
from explorer.data import Dataset
from explorer.data.shapes import DataShape, shape_of
from explorer.engine.allocator import held_free_bytes
from explorer.engine.losses import output_units
from explorer.models import build_model
from explorer.rules.dfa import OUTPUT, plan
from explorer.rules.structure import Structure

FLOAT = 4  # bytes of a float32: every weight, activation and state tensor of a run
EVAL_CHUNK = 2048  # test samples evaluated at a time (`trainer.evaluate`, `representations.capture`)
# Tensors of the optimiser's state per trainable parameter (momentum buffers, running averages).
OPTIMISER_SLOTS = {"sgd": 0, "adagrad": 1, "adadelta": 2, "rmsprop": 1, "adam": 2}


@dataclass(frozen=True)
class Footprint:
    """A run's memory in bytes, part by part; ``total`` is what must be free on the device.

    ``activations`` is the larger of a training batch's (``batch``) and an evaluation chunk's
    (``evaluation``): the two never live at once.

    Example:
        >>> fp = Footprint(parameters=8, gradients=16, optimiser=8, feedback=0, batch=40, evaluation=64, dataset=100)
        >>> fp.activations, fp.total
        (64, 196)
    """

    parameters: int
    gradients: int
    optimiser: int
    feedback: int
    batch: int
    evaluation: int
    dataset: int

    @property
    def activations(self) -> int:
        return max(self.batch, self.evaluation)

    @property
    def total(self) -> int:
        return self.parameters + self.gradients + self.optimiser + self.feedback + self.activations + self.dataset

    def parts(self) -> dict[str, int]:
        """The non-zero parts by the words a message uses, in the order a run allocates them."""
        named = {"parameters": self.parameters, "gradients": self.gradients, "optimiser state": self.optimiser,
                 "feedback matrices": self.feedback, "activations": self.activations, "dataset": self.dataset}
        return {name: size for name, size in named.items() if size}

    def describe(self) -> str:
        """``about 2.4 MB (parameters 30 kB, …)``.

        Example:
            >>> Footprint(4_000_000_000, 0, 0, 0, 1_500_000, 0, 0).describe()
            'about 4.0 GB (parameters 4.0 GB, activations 1.5 MB)'
        """
        parts = ", ".join(f"{name} {size_text(size)}" for name, size in self.parts().items())
        return f"about {size_text(self.total)} ({parts})"

    def blame(self, cfg: RunConfig) -> str:
        """The field that sets the largest part: the network's widths (or its kind), the batch size,
        or the dataset's number of samples.

        Example:
            >>> from explorer.config import RunConfig
            >>> Footprint(1, 0, 0, 0, 10, 0, 5).blame(RunConfig.from_dict({}))
            'train.batch_size'
        """
        network = self.parameters + self.gradients + self.optimiser + self.feedback
        largest = max((network, "network"), (self.batch, "batch"), (self.evaluation, "network"),
                      (self.dataset, "dataset"))[1]
        if largest == "batch":
            return "train.batch_size"
        if largest == "dataset":
            options = DATASET_OPTIONS[cfg.data.name]
            option = next((o for o in ("samples", "train_samples") if o in options), "name")
            return f"data.{option}"
        return "model.hidden" if cfg.model.name == "mlp" else "model.name"


def size_text(n: int) -> str:
    """Bytes in decimal units, to two or three significant figures.

    Example:
        >>> size_text(990), size_text(30_040), size_text(2_400_000), size_text(8 * 10**13)
        ('990 B', '30 kB', '2.4 MB', '80 TB')
    """
    for unit, scale in (("PB", 10**15), ("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale * 0.995:
            value = n / scale
            return f"{value:.1f} {unit}" if value < 9.95 else f"{value:.0f} {unit}"
    return f"{n} B"


def estimate(cfg: RunConfig, shape: DataShape, *, dataset: bool = True) -> Footprint:
    """The memory ``cfg`` needs on a dataset of ``shape`` (`explorer.data.shapes.shape_of`), without
    allocating it: the network is built on the ``meta`` device. ``dataset=False`` leaves out the
    dataset (already on the device)."""
    spec = RULES[cfg.algorithm.name]
    outputs = shape.targets or output_units(cfg.train.loss, shape.classes)
    with torch.device("meta"):
        model = build_model(cfg.model, shape.input_shape, outputs, gated=spec.gated)
    structure, outputs_per_sample = _read(model, shape.input_shape)
    # the network's buffers too: normalisation statistics, the gated network's frozen gates
    parameters = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    only_output = not cfg.algorithm.train_hidden or spec.strategy == "random_features"
    trainable = _numel(structure.output) if only_output else sum(p.numel() for p in model.parameters())
    batch = min(cfg.train.batch_size, shape.train)
    # The forward outputs autograd keeps for the backward pass, and a gradient of each on the way back.
    train_act = 2 * batch * (shape.features + sum(outputs_per_sample))
    chunk = min(EVAL_CHUNK, max(shape.test, 1))
    eval_act = 2 * chunk * max([shape.features, *outputs_per_sample])  # no_grad: a layer's input and output
    momentum = cfg.optimizer.momentum > 0 and cfg.optimizer.name in ("sgd", "rmsprop")
    return Footprint(
        parameters=FLOAT * parameters,
        # the rule's update, and backprop's for the alignment measured at logged steps
        gradients=FLOAT * 2 * trainable,
        optimiser=FLOAT * (OPTIMISER_SLOTS[cfg.optimizer.name] + momentum) * trainable,
        feedback=FLOAT * _feedback(cfg, structure),
        batch=FLOAT * train_act,
        evaluation=FLOAT * eval_act,
        dataset=shape.nbytes() if dataset else 0,
    )


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _read(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[Structure, list[int]]:
    """The network's `Structure`, and per sample the size of every new tensor a leaf module outputs
    in its forward pass (views and pass-throughs such as a tap share their input's memory and are
    left out); one forward pass on the meta device gives both."""
    sizes: list[int] = []

    def record(_module, inputs, output):
        if torch.is_tensor(output) and output._base is None and not any(output is i for i in inputs):
            sizes.append(output[0].numel())

    hooks = [m.register_forward_hook(record) for m in model.modules() if not list(m.children())]
    try:
        structure = Structure.of(model, input_shape)
    finally:
        for h in hooks:
            h.remove()
    return structure, sizes


def _feedback(cfg: RunConfig, structure: Structure) -> int:
    """Elements of the rule's feedback matrices (and of the magnitudes kept beside them by the rules
    that re-sign B). The gated network's frozen gates are the network's own buffers, counted with
    its parameters."""
    spec = RULES[cfg.algorithm.name]
    if spec.strategy == "feedback_alignment":
        resigned = cfg.algorithm.name in ("usf", "frsf", "brsf") or cfg.algorithm.sign_refresh in ("epoch", "step")
        return (1 + resigned) * sum(layer.weight.numel() for layer in structure.layers[1:])
    if spec.strategy == "direct_feedback":
        signals = plan(cfg.algorithm.name, len(structure.taps), cfg.algorithm.block_size, cfg.algorithm.bp_depth)
        total = 0
        for t, signal in enumerate(signals):
            if signal.kind == "feedback":
                source = (structure.out_shapes[-1] if signal.source == OUTPUT
                          else structure.out_shapes[structure.tap_owner[signal.source]])
                total += math.prod(source) * math.prod(structure.tap_shapes[t])
        return total
    return 0


def free_memory(device: torch.device | str) -> int:
    """Bytes free for a new run on ``device``: a GPU's free memory (with what PyTorch holds cached
    but unused), else the memory the operating system can give this process (psutil if installed,
    else /proc/meminfo or sysconf, and a container's memory limit where one is set) with what
    malloc holds freed in it.

    Example:
        >>> free_memory("cpu") > 0
        True
    """
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    if device.type == "mps" and hasattr(torch.mps, "recommended_max_memory"):
        return torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory()
    # freed memory that malloc keeps for this process (explorer.engine.allocator) is free for a new run too
    return _host_available() + held_free_bytes()


def _host_available() -> int:
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        available = psutil.virtual_memory().available
    else:
        available = _meminfo_available()
    limit = _cgroup_room()
    return available if limit is None else min(available, limit)


def _meminfo_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _cgroup_room() -> int | None:
    """What a cgroup v2 memory limit leaves (a container's limit is often below the host's memory);
    file pages the kernel can drop (``inactive_file``) count as free, as MemAvailable counts them."""
    cgroup = Path("/sys/fs/cgroup")
    try:
        limit = (cgroup / "memory.max").read_text().strip()
        used = int((cgroup / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
    if limit == "max":
        return None
    try:
        stat = dict(line.split() for line in (cgroup / "memory.stat").read_text().splitlines())
        used -= int(stat.get("inactive_file", 0))
    except (OSError, ValueError):
        pass
    return max(int(limit) - used, 0)


def _where(device: torch.device) -> str:
    if device.type == "cuda":
        return f"this GPU ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "this Mac's GPU"
    return "this machine"


def check_fits(cfg: RunConfig, device: torch.device | str, data: Dataset | None = None, *,
               free: int | None = None) -> Footprint:
    """The run's `Footprint`, or a `ConfigError` naming the field that sets its largest part when it
    needs more than ``free`` bytes (default: `free_memory` of ``device``). Pass ``data`` when the
    dataset is already loaded (its shape is read from it, and it is not counted if it is on
    ``device`` already); otherwise its shape comes from the config (`shape_of`), nothing loaded.

    Example:
        >>> from explorer.config import RunConfig
        >>> check_fits(RunConfig.from_dict({"model": {"hidden": [16]}}), "cpu").parameters
        4840
    """
    device = torch.device(device)
    shape = shape_of(cfg.data) if data is None else DataShape.of(data)
    on_device = data is not None and data.device.type == device.type
    footprint = estimate(cfg, shape, dataset=not on_device)
    room = free_memory(device) if free is None else free
    if footprint.total > room:
        field = footprint.blame(cfg)
        raise ConfigError(f"{field}: this {'network' if field.startswith('model') else 'run'} needs "
                          f"{footprint.describe()}; {_where(device)} has {size_text(room)} free", field=field)
    return footprint


__all__ = ["Footprint", "check_fits", "estimate", "free_memory", "size_text"]
