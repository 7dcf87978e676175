"""explorer's DFA against BioTorch's: ``python -m tools.biotorch_peer``.

BioTorch (0.0.16) is not a dependency; install it beside the project without its own
requirements, ``pip install --no-deps biotorch==0.0.16`` (its DFA needs only torch). The tool
times, in one process with alternating rounds, the bench's network (`explorer.bench`: MLP
784-1024×4-10, batch 256, SGD with momentum) three ways: explorer's dfa and bp through the
`Trainer` (logging every 50 steps, as the bench does) and BioTorch's DFA as its README trains it
(``BioModule(net, mode="dfa", output_dim=10)``, the loss gradient handed to every layer, then
``loss.backward()``). It prints samples/s (best and median round), explorer's dfa over BioTorch's
(best rounds, and the median of the ratio within a round), and the bound their arithmetic sets.

The bound: BioTorch's DFA layers keep backprop's backward and swap each layer's input gradient
for ``e @ B`` in a hook, so a step costs backprop's multiply-adds plus the projections; explorer's
cuts the graph and pays the forward pass, the weight gradients and the projections, and its
logging (`explorer.bench.logging_macs`). Neither side can beat that ratio by arithmetic alone.

Example:
    >>> b = bounds()
    >>> b["biotorch_macs"], b["explorer_macs"]          # per sample: bp + projections, and dfa's
    (11114496, 7958528)
    >>> round(b["bound"], 3), round(b["bound_with_logging"], 3)
    (1.397, 1.308)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import warnings

import torch
import torch.nn.functional as F

from explorer import bench
from explorer.config import DataConfig
from explorer.data.embedded import load_random
from explorer.engine.build import build
from explorer.engine.cost import operation_counts
from explorer.engine.device import describe
from explorer.engine.trainer import Trainer

INSTALL = "pip install --no-deps biotorch==0.0.16"


def bounds() -> dict:
    """Multiply-adds per sample of BioTorch's DFA step and explorer's, and the speed-up they allow
    explorer (without and with its logging counted, `explorer.bench.logging_macs`)."""
    dfa, bp = bench.bench_config("dfa", bench.BATCH), bench.bench_config("bp", bench.BATCH)
    theirs = operation_counts(bp).total + operation_counts(dfa).backward  # bp's work + the projections
    ours = operation_counts(dfa).total
    return {"biotorch_macs": theirs, "explorer_macs": ours, "bound": theirs / ours,
            "bound_with_logging": theirs / bench.logging_macs(dfa)}


class BioTorchDFALoop(bench.PlainLoop):
    """The bench's plain loop with its network converted by BioTorch to DFA (its weights kept)."""

    def __init__(self, data, device) -> None:
        from biotorch.module.biomodule import BioModule

        super().__init__(data, device)
        with contextlib.redirect_stdout(io.StringIO()):  # its converter prints every layer it converts
            self.net = BioModule(self.net, mode="dfa", output_dim=bench.CLASSES).to(device)
        self.opt = torch.optim.SGD([p for p in self.net.parameters() if p.requires_grad], lr=0.01, momentum=0.9)

    def step(self) -> None:
        x, y = self.next_batch()
        out = self.net(x, targets=y, loss_function=F.cross_entropy)
        loss = F.cross_entropy(out, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()


def ratios(speeds: dict[str, list[float]]) -> dict[str, float]:
    """explorer's dfa over BioTorch's: of the best rounds, and the median of the ratio within a round.

    Example:
        >>> r = ratios({"explorer_dfa": [9.0, 12.0], "biotorch_dfa": [6.0, 10.0]})
        >>> r["best"], r["paired"]
        (1.2, 1.35)
    """
    ours, theirs = speeds["explorer_dfa"], speeds["biotorch_dfa"]
    return {"best": max(ours) / max(theirs), "paired": statistics.median(a / b for a, b in zip(ours, theirs))}


def measure(steps: int, rounds: int, warmup: int = 5) -> dict[str, list[float]]:
    """Samples/s per round of explorer's dfa and bp (Trainer) and BioTorch's DFA, taking turns."""
    device = torch.device("cpu")
    samples = bench.BATCH * bench.EPOCH_BATCHES
    data = load_random(DataConfig("random", {"samples": samples, "test_samples": 1024,
                                             "features": bench.FEATURES, "classes": bench.CLASSES}))
    runners = {}
    for rule in ("dfa", "bp"):
        cfg = bench.bench_config(rule, samples)
        runners[f"explorer_{rule}"] = Trainer(cfg, built=build(cfg, device, data))
    runners["biotorch_dfa"] = BioTorchDFALoop(data, device)
    for runner in runners.values():
        for _ in range(warmup):
            runner.step()
    speeds: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, runner in runners.items():
            speeds[name].append(steps * bench.BATCH / bench.time_steps(runner.step, steps, device))
    return speeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.biotorch_peer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=bench.LOG_EVERY, help="steps per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    try:
        import biotorch  # noqa: F401
    except ImportError:
        print(f"BioTorch is not installed; to compare with it: {INSTALL}")
        return 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # BioTorch's non-full backward hooks, at every step
        speeds = measure(args.steps, args.rounds)
    print(f"{describe(torch.device('cpu'), threads=torch.get_num_threads())}   MLP 784-1024-1024-1024-1024-10, "
          f"batch {bench.BATCH}, {args.rounds} rounds of {args.steps} steps")
    for name, values in speeds.items():
        print(f"{name:<14}{max(values):>10,.0f} samples/s best {statistics.median(values):>10,.0f} median")
    r, b = ratios(speeds), bounds()
    print(f"explorer dfa / BioTorch dfa: {r['best']:.2f} (best rounds), {r['paired']:.2f} (paired); "
          f"arithmetic bound {b['bound']:.2f}, {b['bound_with_logging']:.2f} with explorer's logging counted")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
