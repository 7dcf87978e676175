"""`python -m explorer bench`: training throughput and peak memory of every rule.

The network is an MLP 784-1024-1024-1024-1024-10 at batch 256 on the `random` dataset. Each rule
runs through the real `Trainer` (logging every `LOG_EVERY` steps, alignment included), and a plain
PyTorch autograd loop over the same data is the yardstick. Rules are timed in alternating rounds
so that machine noise hits all of them alike: every run is built and warmed up first, then each
round times a window of `steps` steps of each in turn. A rule's figure is its best round (the
median is reported too).

Peak memory: on CUDA, what a run holds between steps (weights, feedback, optimiser state) plus the
peak allocated on top of that during its steps; on the CPU, each rule runs a few steps in a child
process and reports its peak resident memory above the level before its network was built.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from explorer.engine.allocator import keep_freed_memory
from explorer.engine.build import build
from explorer.engine.cost import as_config, bound_vs_bp, operation_counts
from explorer.config import DataConfig, RunConfig
from explorer.config.bounds import MAX_EPOCHS
from explorer.data.embedded import load_random
from explorer.engine.device import choose_device, describe
from explorer.engine.trainer import Trainer

WIDTHS = (1024, 1024, 1024, 1024)
FEATURES, CLASSES, BATCH = 784, 10, 256
LOG_EVERY = 50
DATA_BATCHES = 64  # batches of data held (the runs go round them again): memory does not grow with --steps
# The Trainer logs every LOG_EVERY steps and at each epoch's end: the bench's data hold one logging
# interval of batches, so that both fall on the same steps and a run logs once per LOG_EVERY steps, as
# a run on a large dataset does (with 63-64 batches an epoch, it logged nearly twice per LOG_EVERY).
EPOCH_BATCHES = LOG_EVERY
RULES = {"bp": {}, "fa": {}, "dfa": {}, "ifa": {}, "bdfa": {"block_size": 2}, "fp": {"bp_depth": 1},
         "sdfa": {"connections": 3}, "ssdfa": {}, "usf": {}, "frsf": {}, "brsf": {}}


def bench_config(rule: str, samples: int, cuda_graph: str = "auto") -> RunConfig:
    """The benchmark's run for one rule (``cuda_graph``: ``train.cuda_graph``, on CUDA)."""
    return RunConfig.from_dict({
        "data": {"name": "random", "samples": samples, "test_samples": 1024, "features": FEATURES,
                 "classes": CLASSES},
        "model": {"name": "mlp", "hidden": list(WIDTHS), "activation": "relu"},
        "algorithm": {"name": rule, **RULES[rule]},
        "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9},
        "train": {"epochs": MAX_EPOCHS, "batch_size": BATCH, "log_every": LOG_EVERY, "cuda_graph": cuda_graph},
    })


class PlainLoop:
    """The yardstick: nn.Sequential, randperm batches from on-device data, loss.backward()."""

    def __init__(self, data, device) -> None:
        sizes = [FEATURES, *WIDTHS, CLASSES]
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.net = nn.Sequential(*layers[:-1]).to(device)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.01, momentum=0.9)
        self.x, self.y = data.x_train, data.y_train
        self.perm, self.pos = torch.randperm(len(self.x), device=device), 0

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next BATCH samples of a random order, a new order once one is used up."""
        if self.pos + BATCH > len(self.x):
            self.perm, self.pos = torch.randperm(len(self.x), device=self.x.device), 0
        idx = self.perm[self.pos:self.pos + BATCH]
        self.pos += BATCH
        return self.x[idx], self.y[idx]

    def step(self) -> None:
        x, y = self.next_batch()
        loss = F.cross_entropy(self.net(x), y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()


class PlainDFALoop(PlainLoop):
    """The peer for dfa: TinyDFA's approach written out, as few operations as DFA allows. The
    forward pass cuts the graph at every hidden layer (each layer's input detached), the output
    error ``e`` (the loss gradient at the logits, by autograd's own formula for the mean cross
    entropy) is projected to every hidden layer by its fixed ``B_l`` (10 × width), and one
    ``torch.autograd.backward`` call takes all the signals through each layer's ReLU to its
    weights. No taps, no hooks, no records: what a DFA step costs at the least in eager PyTorch.

    Example:
        >>> from explorer.data.embedded import load_random
        >>> d = load_random(DataConfig("random", {"samples": BATCH, "features": FEATURES, "classes": CLASSES}))
        >>> loop = PlainDFALoop(d, torch.device("cpu")); before = loop.net[0].weight.clone()
        >>> loop.step(); bool((loop.net[0].weight != before).any())   # the first layer learned
        True
    """

    def __init__(self, data, device) -> None:
        super().__init__(data, device)
        g = torch.Generator().manual_seed(0)
        self.feedback = [(torch.rand(CLASSES, width, generator=g) * 2 - 1).div_(width ** 0.5).to(device)
                         for width in WIDTHS]

    def step(self) -> None:
        h, y = self.next_batch()
        outs = []
        linears = [m for m in self.net if isinstance(m, nn.Linear)]
        for layer in linears[:-1]:
            out = torch.relu(layer(h.detach()))
            outs.append(out)
            h = out
        logits = linears[-1](h.detach())
        with torch.no_grad():  # d(mean cross entropy)/d(logits)
            e = torch.softmax(logits, 1)
            e[torch.arange(len(y), device=y.device), y] -= 1
            e /= len(y)
        self.opt.zero_grad(set_to_none=True)
        torch.autograd.backward([logits, *outs], [e, *[e @ b for b in self.feedback]])
        self.opt.step()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step, steps: int, device: torch.device) -> float:
    """Seconds that ``steps`` calls of ``step`` take, the device's queue drained at both ends.

    Example:
        >>> time_steps(lambda: None, 3, torch.device("cpu")) >= 0
        True
    """
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return time.perf_counter() - start


def persistent_mb(module: nn.Module, optimizer: torch.optim.Optimizer) -> float:
    """MiB held between steps: parameters, buffers (feedback included) and optimiser state."""
    tensors = [*module.parameters(), *module.buffers()]
    tensors += [t for state in optimizer.state.values() for t in state.values() if torch.is_tensor(t)]
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def _at_least(value, name: str, low: int) -> int:
    """``value`` if it is a whole number of at least ``low``, else a `ValueError` naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be a whole number of at least {low}, got {value!r}")
    return value


def run_benchmark(rules=tuple(RULES), steps: int = LOG_EVERY, rounds: int = 5, warmup: int = 5,
                  device: str | None = None, memory: bool = True, progress=None, peer: bool = True,
                  cuda_graph: str = "auto") -> dict:
    """Samples per second (best and median round) and peak memory for each rule and the plain loop;
    with ``peer``, also for `PlainDFALoop` (``plain_dfa``), the least a DFA step costs, with the
    ratios ``plain_dfa_over_plain`` (what DFA can gain over backprop in eager PyTorch, elementwise
    work and all) and ``dfa_over_plain_dfa`` (the Trainer's dfa against it). On CUDA the Trainer
    replays its ordinary steps from a CUDA graph (``cuda_graph`` "auto", ``train.cuda_graph``) or
    not ("off"); ``graph`` then holds each rule's `Trainer.graph_info` (its first capture's seconds).

    Example:
        >>> r = run_benchmark(rules=("dfa",), steps=1, rounds=1, warmup=0, device="cpu", memory=False)
        >>> sorted(r["rules"]), r["plain_autograd"]["samples_per_s"] > 0
        (['dfa'], True)
    """
    _at_least(steps, "steps", 1), _at_least(rounds, "rounds", 1), _at_least(warmup, "warmup", 0)
    dev = choose_device(device)
    if dev.type == "cpu":
        keep_freed_memory()  # as the Trainer sets it: the plain loops run under the same allocator
    samples = BATCH * EPOCH_BATCHES
    data = load_random(DataConfig("random", {"samples": samples, "test_samples": 1024,
                                             "features": FEATURES, "classes": CLASSES})).to(dev)
    runners = {}
    for name in rules:
        cfg = bench_config(name, samples, cuda_graph)
        runners[name] = Trainer(cfg, built=build(cfg, dev, data))
    runners["plain_autograd"] = PlainLoop(data, dev)
    if peer:
        runners["plain_dfa"] = PlainDFALoop(data, dev)
    for runner in runners.values():
        for _ in range(warmup):
            runner.step()
    speeds: dict[str, list[float]] = {name: [] for name in runners}
    transient: dict[str, float] = {}
    for round_ in range(rounds):
        for name, runner in runners.items():
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
                base = torch.cuda.memory_allocated(dev)
            speeds[name].append(steps * BATCH / time_steps(runner.step, steps, dev))
            if dev.type == "cuda":
                transient[name] = max(transient.get(name, 0.0), (torch.cuda.max_memory_allocated(dev) - base) / 2**20)
            if progress:
                progress(f"round {round_ + 1}/{rounds} {name}: {speeds[name][-1]:,.0f} samples/s")
    peak: dict[str, float] = {}
    if dev.type == "cuda":
        for name, runner in runners.items():
            plain_loop = name.startswith("plain")
            model = runner.net if plain_loop else runner.built.model
            opt = runner.opt if plain_loop else runner.optimizer
            peak[name] = persistent_mb(model, opt) + transient[name]
    elif memory:
        for name in rules:
            peak[name] = cpu_peak_mb(name)

    best = {name: max(v) for name, v in speeds.items()}

    def paired(name, base):
        """The median over rounds of the speed ratio within a round: rules run back to back in a
        round, so a slow spell of a shared machine hits both sides of a ratio alike."""
        if base not in speeds:
            return None
        return statistics.median(a / b for a, b in zip(speeds[name], speeds[base]))

    def row(name):
        return {"samples_per_s": best[name], "median_samples_per_s": statistics.median(speeds[name]),
                "round_samples_per_s": speeds[name],
                "peak_mem_mb": peak.get(name), "paired_vs_bp": paired(name, "bp"),
                "paired_vs_plain": paired(name, "plain_autograd")}

    result = {
        "device": describe(dev, threads=torch.get_num_threads() if dev.type == "cpu" else None),
        "settings": {"widths": [FEATURES, *WIDTHS, CLASSES], "batch_size": BATCH, "steps": steps,
                     "rounds": rounds, "log_every": LOG_EVERY, "threads": torch.get_num_threads()},
        "rules": {name: row(name) | bound_columns(runners[name].built,
                                                  best[name] / best["bp"] if "bp" in best else None)
                  for name in rules},
        "plain_autograd": row("plain_autograd"),
    }
    if dev.type == "cuda":
        result["graph"] = {name: runners[name].graph_info for name in rules}
    result["ratios"] = {}
    if "bp" in best:
        result["ratios"]["bp_over_plain"] = best["bp"] / best["plain_autograd"]
        if "dfa" in best:
            result["ratios"]["dfa_over_bp"] = best["dfa"] / best["bp"]
    if peer:
        result["plain_dfa"] = row("plain_dfa")
        result["ratios"]["plain_dfa_over_plain"] = best["plain_dfa"] / best["plain_autograd"]
        if "dfa" in best:
            result["ratios"]["dfa_over_plain_dfa"] = best["dfa"] / best["plain_dfa"]
    return result


def bound_columns(run, measured_vs_bp: float | None = None) -> dict:
    """A rule's arithmetic against backprop's (`explorer.engine.cost`) beside its measured speed:
    ``macs_per_sample`` (forward, weight_grads, backward, total: multiply-adds per sample of one
    step), ``bound_vs_bp`` (backprop's total over the rule's: the speed-up the arithmetic allows),
    ``measured_vs_bp`` (the rule's samples/s over backprop's, measured in the same run; None when
    bp was not timed) and ``bound_reached`` (measured over bound).

    ``run`` is a config (a dict, a `RunConfig`) or a built run.

    Example:
        >>> c = bound_columns(bench_config("dfa", BATCH), measured_vs_bp=1.3)
        >>> c["macs_per_sample"]["backward"], round(c["bound_vs_bp"], 3), round(c["bound_reached"], 3)
        (40960, 1.391, 0.934)
        >>> bound_columns(bench_config("bp", BATCH))["bound_reached"] is None
        True
    """
    counts = operation_counts(run)
    bound = bound_vs_bp(run)
    logged = logging_bound_vs_bp(run)
    return {"macs_per_sample": {"forward": counts.forward, "weight_grads": counts.weight_grads,
                                "backward": counts.backward, "total": counts.total},
            "bound_vs_bp": bound, "measured_vs_bp": measured_vs_bp,
            "bound_reached": None if measured_vs_bp is None else measured_vs_bp / bound,
            "logging_bound_vs_bp": logged,
            "logging_bound_reached": None if measured_vs_bp is None else measured_vs_bp / logged}


def logging_macs(run) -> float:
    """A run's multiply-adds per training sample with its logging spread over the steps: each
    step's own (`operation_counts`), plus, once every ``train.log_every`` steps, the test set's
    forward pass (every rule) and backprop's step on the batch that the alignment is measured
    against (every rule but bp, whose update is its own reference).

    Example (the bench's dfa: 7.96 M a step, 1,024 test samples × 3.96 M and a bp step of 11.07 M
    per sample, once every 50 steps of 256):
        >>> round(logging_macs(bench_config("dfa", BATCH)) / 1e6, 3)
        8.497
    """
    from explorer.data.shapes import shape_of

    cfg = as_config(run)
    counts = operation_counts(cfg)
    every, batch = cfg.train.log_every, cfg.train.batch_size
    evaluation = shape_of(cfg.data).test * counts.forward / (every * batch)
    bp = cfg.with_values({"algorithm": {"name": "bp"}})
    reference = 0 if cfg.algorithm.name == "bp" else operation_counts(bp).total / every
    return counts.total + evaluation + reference


def logging_bound_vs_bp(run) -> float:
    """`bound_vs_bp` with the logging's arithmetic counted on both sides (`logging_macs`): what
    the bench, which logs, can reach.

    Example:
        >>> round(logging_bound_vs_bp(bench_config("dfa", BATCH)), 3), logging_bound_vs_bp(bench_config("bp", BATCH))
        (1.341, 1.0)
    """
    cfg = as_config(run)
    return logging_macs(cfg.with_values({"algorithm": {"name": "bp"}})) / logging_macs(cfg)


def cpu_peak_mb(rule: str, steps: int = 3) -> float:
    """Peak resident memory growth (MiB) of a few training steps of ``rule``, in a child process."""
    code = f"from explorer.bench import _child_peak; _child_peak({rule!r}, {steps})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024  # kB


def _child_peak(rule: str, steps: int) -> None:
    cfg = bench_config(rule, BATCH * (steps + 1))
    data = load_random(cfg.data)
    PlainLoop(data, torch.device("cpu")).step()  # load the kernels' libraries before measuring
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # Linux: reset the peak resident size (VmHWM) to the current one
    before = _status_mb("VmRSS")
    trainer = Trainer(cfg, built=build(cfg, "cpu", data))
    for _ in range(steps):
        trainer.step()
    print(max(_status_mb("VmHWM") - before, 0.0))


def format_table(result: dict) -> str:
    """The benchmark as a plain-text table: speeds, then each rule's multiply-adds per sample
    (millions: forward, weight gradients, backward), the bound they imply against bp and the
    fraction of it the measured ratio to bp reaches, then the same with the logging's arithmetic
    counted (`logging_bound_vs_bp`) ("-" where there is none). The ratios are of best rounds; the
    "paired" after each is the median of the ratios within each round (to bp, to the plain loop).

    Example:
        >>> row = {"samples_per_s": 1300.0, "median_samples_per_s": 1200.0, "peak_mem_mb": None,
        ...        "paired_vs_bp": 1.28, "paired_vs_plain": 1.25}
        >>> r = {"device": "CPU", "settings": {"widths": [4, 3, 2], "batch_size": 8},
        ...      "rules": {"dfa": row | bound_columns(bench_config("dfa", BATCH), 1.3)},
        ...      "plain_autograd": {"samples_per_s": 1000.0, "peak_mem_mb": None}}
        >>> print(format_table(r))  # doctest: +NORMALIZE_WHITESPACE
        device: CPU   MLP 4-3-2, batch 8
        rule  samples/s  x bp  paired  x plain  paired  peak MiB  fwd M  wgrad M  bwd M  bound  of bound  w/ logs  of it
        dfa       1,300     -    1.28     1.30    1.25         -   3.96     3.96   0.04   1.39     93.4%     1.34  97.0%
        plain_autograd 1,000 - - 1.00 - -
    """
    plain = result["plain_autograd"]["samples_per_s"]
    bp = result["rules"].get("bp", {}).get("samples_per_s")
    lines = [f"device: {result['device']}   MLP {'-'.join(map(str, result['settings']['widths']))}, "
             f"batch {result['settings']['batch_size']}",
             f"{'rule':<16}{'samples/s':>12}{'x bp':>8}{'paired':>8}{'x plain':>9}{'paired':>8}{'peak MiB':>10}"
             f"{'fwd M':>8}{'wgrad M':>9}{'bwd M':>8}{'bound':>7}{'of bound':>10}{'w/ logs':>9}{'of it':>8}"]
    plains = [(name, result[name]) for name in ("plain_autograd", "plain_dfa") if name in result]

    def shown(value, form):
        return "-" if value is None else format(value, form)

    for name, row in [*result["rules"].items(), *plains]:
        speed = row["samples_per_s"]
        line = (f"{name:<16}{speed:>12,.0f}{shown(speed / bp if bp else None, '.2f'):>8}"
                f"{shown(row.get('paired_vs_bp'), '.2f'):>8}{speed / plain:>9.2f}"
                f"{shown(row.get('paired_vs_plain'), '.2f'):>8}{shown(row.get('peak_mem_mb'), '.0f'):>10}")
        if "macs_per_sample" in row:
            macs, reached = row["macs_per_sample"], row.get("bound_reached")
            logged = row.get("logging_bound_reached")
            line += (f"{macs['forward'] / 1e6:>8.2f}{macs['weight_grads'] / 1e6:>9.2f}{macs['backward'] / 1e6:>8.2f}"
                     f"{row['bound_vs_bp']:>7.2f}{(f'{reached:.1%}' if reached is not None else '-'):>10}"
                     f"{row['logging_bound_vs_bp']:>9.2f}{(f'{logged:.1%}' if logged is not None else '-'):>8}")
        lines.append(line)
    if "graph" in result:
        lines.append(graph_line(result["graph"]))
    return "\n".join(lines)


def graph_line(graphs: dict[str, dict]) -> str:
    """One line on the CUDA graphs of a benchmark's rules (`Trainer.graph_info` by rule): the
    first captures' times, and the rules stepped eagerly with why.

    Example:
        >>> graph_line({"bp": {"used": True, "capture_s": 0.0123}, "dfa": {"used": True, "capture_s": 0.02},
        ...             "brsf": {"used": False, "reason": "brsf redraws"}})
        'CUDA graph: first capture bp 12.3 ms, dfa 20.0 ms; eager: brsf (brsf redraws)'
    """
    captured = [f"{name} {1e3 * g['capture_s']:.1f} ms" for name, g in graphs.items()
                if g["used"] and g.get("capture_s") is not None]
    eager = [f"{name} ({g['reason']})" for name, g in graphs.items() if not g["used"]]
    parts = [f"first capture {', '.join(captured)}"] if captured else []
    parts += [f"eager: {', '.join(eager)}"] if eager else []
    return "CUDA graph: " + "; ".join(parts)


def seeds_benchmark(seeds: int = 3, steps: int = 200, rounds: int = 3, device: str | None = None,
                    rule: str = "dfa") -> dict:
    """Seconds per step of one small MLP (784-256-256-10, batch 64): one seed, ``seeds`` seeds
    stacked into one network, and the same seeds one after another; best of ``rounds``.

    Example:
        >>> r = seeds_benchmark(seeds=2, steps=2, rounds=1, device="cpu")
        >>> sorted(r["seconds_per_step"])
        ['one_by_one', 'one_seed', 'stacked']
    """
    from explorer.engine.seeds import SeedsTrainer, build_seeds

    _at_least(seeds, "seeds", 1), _at_least(steps, "steps", 1), _at_least(rounds, "rounds", 1)
    dev = choose_device(device)
    cfgs = [RunConfig.from_dict({
        "data": {"name": "random", "samples": 64 * min(steps + 8, DATA_BATCHES), "test_samples": 256,
                 "features": 784, "classes": 10},
        "model": {"name": "mlp", "hidden": [256, 256]}, "algorithm": {"name": rule},
        "train": {"epochs": MAX_EPOCHS, "batch_size": 64, "log_every": 50}, "seed": s}) for s in range(seeds)]
    data = load_random(cfgs[0].data).to(dev)
    singles = [Trainer(c, built=build(c, dev, data)) for c in cfgs]
    stacked = SeedsTrainer(cfgs, built=build_seeds(cfgs, dev))

    def one_by_one():
        for t in singles:
            t.step()

    timings: dict[str, float] = {}
    for _ in range(rounds):
        for name, step in (("one_seed", singles[0].step), ("stacked", stacked.step), ("one_by_one", one_by_one)):
            for _ in range(3):
                step()
            t = time_steps(step, steps, dev) / steps
            timings[name] = min(timings.get(name, float("inf")), t)
    return {"device": describe(dev), "seeds": seeds, "rule": rule, "seconds_per_step": timings,
            "stacked_over_one_seed": timings["stacked"] / timings["one_seed"],
            "one_by_one_over_one_seed": timings["one_by_one"] / timings["one_seed"]}


class _Sections:
    """Seconds per named section of a step, summed over calls (synchronising CUDA around each)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.seconds, self.calls = device, {}, {}

    def wrap(self, name: str, fn):
        def timed(*args, **kwargs):
            _sync(self.device)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                _sync(self.device)
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
                self.calls[name] = self.calls.get(name, 0) + 1
        return timed

    def take(self) -> dict[str, float]:
        out, self.seconds = self.seconds, {}
        return out


def profile_step(rule: str = "bp", steps: int = 2 * LOG_EVERY, warmup: int = 5, device: str | None = None) -> dict:
    """Where a `Trainer` step's time goes against the plain autograd loop's, in milliseconds per step (means: the
    parts add up to the total).

    Every part of the step is timed by wrapping it on the instances (nothing in the Trainer changes):
    ``batch`` (the indexing), ``rule_backward`` (forward, loss and the rule's backward, through the
    network's tap modules), ``optimizer_step``, ``zero_grad``, ``after_step``, ``per_seed`` and
    ``weight_norms`` (what the step hands to `Tally`), ``tally_add``, and ``other`` (the rest of
    ``Trainer.step``: its Python). Ordinary steps and logging steps (every `LOG_EVERY`-th) are
    averaged apart; ``logging_extra_ms`` is a logging step's cost above an ordinary one, and
    ``logging_per_step_ms`` that spread over its interval. The plain loop is split the same way
    (``batch``, ``forward_backward``, ``zero_grad``, ``optimizer_step``), and ``model_plain_autograd``
    times the Trainer's own network under the plain loop's ``F.cross_entropy(...).backward()``, which
    tells the network's tap modules apart from the rule's wrapping. Each section is bracketed by
    ``time.perf_counter`` (about a microsecond each; on CUDA a synchronisation too, so there the
    parts add up to more than an unprofiled step).

    Example:
        >>> p = profile_step("bp", steps=2, warmup=0, device="cpu")
        >>> sorted(p["trainer_ordinary_ms"]) == sorted(["batch", "rule_backward", "optimizer_step", "zero_grad",
        ...     "after_step", "per_seed", "weight_norms", "tally_add", "other", "total"])
        True
        >>> sorted(p["plain_ms"])
        ['batch', 'forward_backward', 'optimizer_step', 'total', 'zero_grad']
    """
    _at_least(steps, "steps", 1), _at_least(warmup, "warmup", 0)
    dev = choose_device(device)
    if dev.type == "cpu":
        keep_freed_memory()
    samples = BATCH * EPOCH_BATCHES
    data = load_random(DataConfig("random", {"samples": samples, "test_samples": 1024,
                                             "features": FEATURES, "classes": CLASSES})).to(dev)
    cfg = bench_config(rule, samples, cuda_graph="off")  # its timers synchronise inside the step: no graph
    trainer = Trainer(cfg, built=build(cfg, dev, data))
    plain = PlainLoop(data, dev)
    for _ in range(warmup):
        trainer.step(), plain.step()
    sections = _Sections(dev)
    b, t = trainer.built, trainer
    t._batch = sections.wrap("batch", t._batch)
    b.rule.backward = sections.wrap("rule_backward", b.rule.backward)
    t.optimizer.step = sections.wrap("optimizer_step", t.optimizer.step)
    t.optimizer.zero_grad = sections.wrap("zero_grad", t.optimizer.zero_grad)
    b.rule.after_step = sections.wrap("after_step", b.rule.after_step)
    t._per_seed = sections.wrap("per_seed", t._per_seed)
    t._weight_norms = sections.wrap("weight_norms", t._weight_norms)
    t._tally.add = sections.wrap("tally_add", t._tally.add)
    t._log = sections.wrap("log", t._log)  # marks the logging steps
    ordinary: list[dict[str, float]] = []
    logging: list[float] = []
    faults = {"trainer": 0, "plain": 0}  # minor page faults over the ordinary steps (fresh memory touched)
    for _ in range(steps):
        _sync(dev)
        before = _minor_faults() or 0
        start = time.perf_counter()
        t.step()
        _sync(dev)
        total = time.perf_counter() - start
        parts = sections.take()
        if "log" in parts:
            logging.append(total)
        else:
            ordinary.append(parts | {"other": total - sum(parts.values()), "total": total})
            faults["trainer"] += (_minor_faults() or 0) - before

    def plain_step():
        p = plain
        parts, clock = {}, time.perf_counter
        _sync(dev); start = clock()
        x, y = p.next_batch()
        _sync(dev); parts["batch"] = clock() - start; start = clock()
        F.cross_entropy(p.net(x), y).backward()
        _sync(dev); parts["forward_backward"] = clock() - start; start = clock()
        p.opt.step()
        _sync(dev); parts["optimizer_step"] = clock() - start; start = clock()
        p.opt.zero_grad(set_to_none=True)
        _sync(dev); parts["zero_grad"] = clock() - start
        return parts | {"total": sum(parts.values())}

    before = _minor_faults() or 0
    plain_parts = [plain_step() for _ in range(steps)]
    faults["plain"] = (_minor_faults() or 0) - before
    model_times = []
    for _ in range(steps):
        x, y = data.x_train[:BATCH], data.y_train[:BATCH]
        _sync(dev)
        start = time.perf_counter()
        F.cross_entropy(b.model(x), y).backward()
        _sync(dev)
        model_times.append(time.perf_counter() - start)
        b.model.zero_grad(set_to_none=True)

    def mean_ms(rows):
        keys = rows[0].keys() if rows else ()
        return {k: 1e3 * statistics.fmean(r.get(k, 0.0) for r in rows) for k in keys}

    ordinary_ms = mean_ms(ordinary)
    extra = 1e3 * statistics.fmean(logging) - ordinary_ms.get("total", 0.0) if logging and ordinary else None
    return {"device": describe(dev, threads=torch.get_num_threads() if dev.type == "cpu" else None),
            "rule": rule, "steps": steps, "ordinary_steps": len(ordinary), "logging_steps": len(logging),
            "trainer_ordinary_ms": ordinary_ms, "plain_ms": mean_ms(plain_parts),
            "model_plain_autograd_ms": 1e3 * statistics.fmean(model_times),
            "logging_step_ms": 1e3 * statistics.fmean(logging) if logging else None,
            "logging_extra_ms": extra, "log_every": t.log_every,
            "logging_per_step_ms": None if extra is None else extra / t.log_every,
            "page_faults_per_step": None if _minor_faults() is None else {
                "trainer": faults["trainer"] / max(len(ordinary), 1), "plain": faults["plain"] / steps}}


def _minor_faults() -> int | None:
    """This process's minor page faults so far (None where the platform does not count them)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def format_profile(p: dict) -> str:
    """`profile_step`'s result as text: each part's mean milliseconds per step, Trainer beside plain.

    Example:
        >>> p = {"device": "CPU", "rule": "bp", "ordinary_steps": 9, "logging_steps": 1, "log_every": 10,
        ...      "trainer_ordinary_ms": {"batch": 1.0, "rule_backward": 8.0, "other": 0.5, "total": 9.5},
        ...      "plain_ms": {"batch": 0.5, "forward_backward": 7.5, "total": 8.0},
        ...      "model_plain_autograd_ms": 7.8, "logging_step_ms": 30.0, "logging_extra_ms": 20.5,
        ...      "logging_per_step_ms": 2.05}
        >>> print(format_profile(p))
        device: CPU   rule bp, mean ms per step (9 ordinary steps, 1 logging)
        part                     Trainer     plain
        batch                      1.000     0.500
        rule_backward              8.000         -
        other                      0.500         -
        forward_backward               -     7.500
        total                      9.500     8.000
        Trainer's network under plain autograd (forward, loss, backward): 7.800 ms
        logging step: 30.000 ms, 20.500 above an ordinary one, 2.050 per step over its interval of 10
    """
    trainer, plain = p["trainer_ordinary_ms"], p["plain_ms"]
    keys = [k for k in trainer if k != "total"] + [k for k in plain if k not in trainer and k != "total"] + ["total"]
    lines = [f"device: {p['device']}   rule {p['rule']}, mean ms per step ({p['ordinary_steps']} ordinary steps, "
             f"{p['logging_steps']} logging)", f"{'part':<20}{'Trainer':>12}{'plain':>10}"]
    for k in keys:
        lines.append(f"{k:<20}{(f'{trainer[k]:.3f}' if k in trainer else '-'):>12}"
                     f"{(f'{plain[k]:.3f}' if k in plain else '-'):>10}")
    lines.append("Trainer's network under plain autograd (forward, loss, backward): "
                 f"{p['model_plain_autograd_ms']:.3f} ms")
    if p["logging_extra_ms"] is not None:
        lines.append(f"logging step: {p['logging_step_ms']:.3f} ms, {p['logging_extra_ms']:.3f} above an ordinary one, "
                     f"{p['logging_per_step_ms']:.3f} per step over its interval of {p['log_every']}")
    if "page_faults_per_step" in p:
        f = p["page_faults_per_step"]
        lines.append("page faults per ordinary step: " + ("not counted on this platform" if f is None else
                                                           f"Trainer {f['trainer']:.1f}, plain {f['plain']:.1f}"))
    return "\n".join(lines)


if __name__ == "__main__":  # python -m explorer.bench [RULE] [STEPS]: profile_step's split, as text
    print(format_profile(profile_step(sys.argv[1] if len(sys.argv) > 1 else "bp",
                                      int(sys.argv[2]) if len(sys.argv) > 2 else 2 * LOG_EVERY)))
