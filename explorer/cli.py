"""The command line: ``python -m explorer train | bench``.

Example:
    python -m explorer train --rule dfa --epochs 5 --hidden 256,256
    python -m explorer train --config run.json --json
    python -m explorer bench --json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from .config import ConfigError, RunConfig

# flag -> dotted config key
TRAIN_FLAGS = {
    "dataset": ("data.name", str), "data_root": ("data.root", str),
    "model": ("model.name", str), "activation": ("model.activation", str),
    "rule": ("algorithm.name", str),
    "optimizer": ("optimizer.name", str), "lr": ("optimizer.lr", float),
    "momentum": ("optimizer.momentum", float), "weight_decay": ("optimizer.weight_decay", float),
    "epochs": ("train.epochs", int), "batch_size": ("train.batch_size", int),
    "loss": ("train.loss", str), "log_every": ("train.log_every", int),
    "seed": ("seed", int), "device": ("device", str),
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m explorer", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train one run and print its final metrics")
    t.add_argument("--config", help="a RunConfig as a JSON file; flags below override its fields")
    for flag, (key, kind) in TRAIN_FLAGS.items():
        t.add_argument(f"--{flag.replace('_', '-')}", type=kind, help=f"sets {key}")
    t.add_argument("--hidden", help="hidden widths of the MLP, e.g. 256,256")
    t.add_argument("--batch-manhattan", action="store_true", help="sets optimizer.batch_manhattan")
    t.add_argument("--json", action="store_true", help="print the result as JSON")
    b = sub.add_parser("bench", help="throughput and peak memory of every rule vs a plain autograd loop")
    b.add_argument("--rules", help="comma-separated rules (default: all)")
    b.add_argument("--steps", type=int, default=50, help="timed steps per round")
    b.add_argument("--rounds", type=int, default=5, help="alternating rounds; each rule's best counts")
    b.add_argument("--device", help="auto, cpu, cuda or mps")
    b.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The run config of a ``train`` command line: the file (if any), then the flags."""
    base: dict[str, Any] = {}
    if args.config:
        try:
            with open(args.config) as f:
                base = json.load(f)
        except OSError as err:
            raise ConfigError(f"--config: cannot read {args.config}: {err.strerror}") from err
        except json.JSONDecodeError as err:
            raise ConfigError(f"--config: {args.config} is not valid JSON ({err})") from err
    changes = {key: getattr(args, flag) for flag, (key, _) in TRAIN_FLAGS.items()
               if getattr(args, flag) is not None}
    if args.hidden is not None:
        try:
            changes["model.hidden"] = [int(w) for w in args.hidden.split(",") if w.strip()]
        except ValueError as err:
            raise ConfigError(f"--hidden must be comma-separated widths like 256,256; got {args.hidden!r}") from err
    if args.batch_manhattan:
        changes["optimizer.batch_manhattan"] = True
    return RunConfig.from_dict(base).with_values(changes)


def jsonable(value: Any) -> Any:
    """NaN and infinities become null, so the output is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _train(args) -> int:
    from tqdm import tqdm

    from .trainer import Trainer

    cfg = config_from_args(args)
    trainer = Trainer(cfg)
    with tqdm(total=trainer.total_steps, unit="step", file=sys.stderr, dynamic_ncols=True) as bar:
        def progress(step: int, _total: int) -> None:
            bar.update(step - bar.n)
        result = trainer.run(progress)
    if args.json:
        print(json.dumps(jsonable({"status": result.status, "diverged_at": result.diverged_at,
                                   "final": result.final, "config": cfg.to_dict()}), indent=2))
        return 0
    print(f"status: {result.status}" + (f" at step {result.diverged_at}" if result.diverged_at else ""))
    f = result.final
    if f:
        print(f"step {f['step']}  epoch {f['epoch']:.2f}  train loss {f['train_loss']:.4f}  "
              f"train acc {f['train_acc']:.4f}  test loss {f['test_loss']:.4f}  test acc {f['test_acc']:.4f}")
        print(f"{'layer':<12}{'update°':>9}{'signal°':>9}{'weight°':>9}{'|grad|':>11}{'|W|':>9}{'|B|':>9}")
        for row in f["layers"]:
            print(f"{row['layer']:<12}{row['update_deg']:>9.1f}{row['signal_deg']:>9.1f}{row['weight_deg']:>9.1f}"
                  f"{row['grad_norm']:>11.3g}{row['weight_norm']:>9.3g}{row['feedback_norm']:>9.3g}")
    return 0


def _bench(args) -> int:
    from .bench import RULES, format_table, run_benchmark

    rules = tuple(args.rules.split(",")) if args.rules else tuple(RULES)
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise ConfigError(f"--rules: unknown rule {unknown[0]!r}; choose from {', '.join(RULES)}")
    say = None if args.json else (lambda line: print(line, file=sys.stderr))
    result = run_benchmark(rules, steps=args.steps, rounds=args.rounds, device=args.device,
                           memory=not args.no_memory, progress=say)
    print(json.dumps(jsonable(result), indent=2) if args.json else format_table(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"train": _train, "bench": _bench}[args.command](args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
