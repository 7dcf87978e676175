"""The command line: ``python -m explorer train | bench | parity | sweep | embed-bench | seeds-bench``.

Example:
    python -m explorer train --rule dfa --epochs 5 --hidden 256,256
    python -m explorer train --config run.json --json
    python -m explorer bench --json
    python -m explorer parity --k 3 --rules bp,dfa,ntk,rf --seeds 3 --epochs 20
    python -m explorer sweep --config base.json --grid grid.json --seeds 3
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from .config import ConfigError, RunConfig
from .data import DatasetNotFound

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
    q = sub.add_parser("parity", help="the parity task: rules × seeds, summary with 95% CIs beside published values")
    q.add_argument("--k", type=int, default=3, help="digits per sample")
    q.add_argument("--rules", default="bp,dfa,ntk,rf", help="comma-separated; rf:gaussian, rf:relu, rf:linear")
    q.add_argument("--seeds", type=int, default=3)
    q.add_argument("--epochs", type=int, default=20)
    q.add_argument("--base", default="mnist", help="base dataset: mnist or digits")
    q.add_argument("--root", help="data folder holding MNIST/raw (else $EXPLORER_DATA)")
    q.add_argument("--train-samples", type=int, help="samples drawn per epoch (default: the base train size)")
    q.add_argument("--test-samples", type=int)
    q.add_argument("--optimizer", default="sgd")
    q.add_argument("--lr", default="0.01", help="learning rate, or a comma-separated list to choose from")
    q.add_argument("--momentum", type=float, default=0.0)
    q.add_argument("--batch-size", type=int, default=64)
    q.add_argument("--device", help="auto, cpu, cuda or mps")
    q.add_argument("--out", help="CSV file for the summary (default: parity-k<k>.csv)")
    e = sub.add_parser("embed-bench", help="t-SNE time: openTSNE (used by explorer.embed) beside scikit-learn")
    e.add_argument("--sizes", default="5000,10000", help="comma-separated point counts")
    e.add_argument("--dim", type=int, default=512)
    e.add_argument("--n-iter", type=int, default=500)
    e.add_argument("--threads", type=int, default=1)
    e.add_argument("--json", action="store_true")
    k = sub.add_parser("seeds-bench", help="time of S seeds stacked into one network vs one seed")
    k.add_argument("--seeds", type=int, default=3)
    k.add_argument("--steps", type=int, default=200)
    k.add_argument("--rule", default="dfa")
    k.add_argument("--device", help="auto, cpu, cuda or mps")
    k.add_argument("--json", action="store_true")
    w = sub.add_parser("sweep", help="every combination of a grid for every seed; summary with 95% CIs")
    w.add_argument("--config", required=True, help="the base RunConfig (JSON file)")
    w.add_argument("--grid", required=True, help='JSON file: {"algorithm.name": ["bp", "dfa"], "optimizer.lr": [0.1, 0.01]}')
    w.add_argument("--seeds", type=int, default=3)
    w.add_argument("--out", default="sweep.csv", help="CSV file for the summary")
    return p


def read_json(path: str, flag: str) -> Any:
    """A JSON file named on the command line; a missing or broken file is a `ConfigError` naming the flag."""
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as err:
        raise ConfigError(f"{flag}: cannot read {path}: {err.strerror}") from err
    except json.JSONDecodeError as err:
        raise ConfigError(f"{flag}: {path} is not valid JSON ({err})") from err


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The run config of a ``train`` command line: the file (if any), then the flags."""
    base: dict[str, Any] = read_json(args.config, "--config") if args.config else {}
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


def _numbers(text: str, flag: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise ConfigError(f"{flag} must be a number or comma-separated numbers, got {text!r}") from err


def _print_summary(final, title: str) -> None:
    print(title)
    print(final.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


def _parity(args) -> int:
    from .parity import run_parity

    data = {k: v for k, v in {"root": args.root, "train_samples": args.train_samples,
                              "test_samples": args.test_samples}.items() if v is not None}
    _, summary, final = run_parity(args.k, args.rules.split(","), _numbers(args.lr, "--lr"), args.seeds,
                                   base=args.base, epochs=args.epochs, optimizer=args.optimizer,
                                   momentum=args.momentum, batch_size=args.batch_size, data_options=data,
                                   device=args.device)
    out = args.out or f"parity-k{args.k}.csv"
    summary.to_csv(out, index=False)
    _print_summary(final, f"parity of {args.k} digit(s), final test accuracy (mean, 95% CI over "
                          f"{args.seeds} seeds) at each rule's chosen lr; summary written to {out}")
    return 0


def _sweep(args) -> int:
    from .sweep import sweep

    result = sweep(RunConfig.from_dict(read_json(args.config, "--config")), read_json(args.grid, "--grid"),
                   args.seeds)
    result.summary.to_csv(args.out, index=False)
    s = result.summary
    final = s[(s["metric"] == "test_acc") & (s["epoch"] == s["epoch"].max())]
    _print_summary(final[[*result.grid_keys, "mean", "ci95", "n"]],
                   f"final test accuracy (mean, 95% CI over seeds); summary written to {args.out}")
    if result.best_lr is not None:
        _print_summary(result.best_lr, f"learning rate with the best mean test accuracy over the last epochs:")
    return 0


def _embed_bench(args) -> int:
    from .embed import embed_benchmark

    sizes = [int(v) for v in _numbers(args.sizes, "--sizes")]
    result = embed_benchmark(sizes, dim=args.dim, n_iter=args.n_iter, n_jobs=args.threads)
    if args.json:
        print(json.dumps({str(k): v for k, v in result.items()}, indent=2))
        return 0
    print(f"t-SNE of {args.dim}-dimensional points, {args.n_iter} iterations after 250 exaggerated, "
          f"{args.threads} thread(s)")
    print(f"{'points':>8}{'openTSNE s':>12}{'sklearn s':>11}{'sklearn/openTSNE':>18}")
    for n, r in result.items():
        print(f"{n:>8}{r['opentsne_s']:>12.1f}{r['sklearn_s']:>11.1f}{r['ratio']:>18.2f}")
    return 0


def _seeds_bench(args) -> int:
    from .bench import seeds_benchmark

    if args.seeds < 1 or args.steps < 1:
        raise ConfigError("--seeds and --steps must be at least 1")
    r = seeds_benchmark(args.seeds, args.steps, device=args.device, rule=args.rule)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    t = r["seconds_per_step"]
    print(f"device: {r['device']}   MLP 784-256-256-10, batch 64, rule {r['rule']}")
    print(f"1 seed:                    {t['one_seed'] * 1e3:8.2f} ms/step")
    print(f"{args.seeds} seeds stacked:           {t['stacked'] * 1e3:8.2f} ms/step  "
          f"({r['stacked_over_one_seed']:.2f}x one seed)")
    print(f"{args.seeds} seeds one by one:        {t['one_by_one'] * 1e3:8.2f} ms/step  "
          f"({r['one_by_one_over_one_seed']:.2f}x one seed)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"train": _train, "bench": _bench, "parity": _parity, "sweep": _sweep,
                "embed-bench": _embed_bench, "seeds-bench": _seeds_bench}
    try:
        return commands[args.command](args)
    except (ConfigError, DatasetNotFound) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
