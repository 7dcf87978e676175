"""The command line: ``python -m explorer train | runs | bench | parity | sweep | reproduce | embed-bench | seeds-bench``.

Its ``--help`` texts are plain text (no reStructuredText markup); the train flags list the names the
config accepts, read from the config's own lists, and a flag for every rule option of the registry
(`explorer.config.registry`), whose rules ``train --help`` lists with what each does.

Example:
    python -m explorer train --rule dfa --epochs 5 --hidden 256,256
    python -m explorer train --config run.json --json --store runs.sqlite
    python -m explorer runs list --json
    python -m explorer runs export 3f9a0c1b2d4e5f60 --format csv --out run.csv
    python -m explorer bench --json
    python -m explorer parity --k 3 --rules bp,dfa,ntk,rf --seeds 3 --epochs 20
    python -m explorer sweep --config base.json --grid grid.json --seeds 3
    python -m explorer reproduce --list
    python -m explorer reproduce dp-3.1 --scale classroom --seeds 3 --out report
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import sys
from typing import Any

from explorer.config import ACTIVATIONS, DEVICES, LOSSES, MODEL_OPTIONS, OPTIMIZERS, ConfigError, RunConfig
from explorer.config.schema import REDUCTIONS
from explorer.config.dataset_options import DATASET_OPTIONS
from explorer.config.registry import OPTIONS, RULES, help_text
from explorer.data import DatasetNotFound
from explorer.experiments.catalogue.entry import SCALES
from explorer.runs.export import strict
from explorer.views.urlstate import parse_widths
from explorer.runs.store import STATUSES, StoreError

DESCRIPTION = ("See how neural networks learn when the backward pass is not backpropagation: train runs, "
               "list and export them, run the parity task and sweeps, and time the engine.")

# flag -> (dotted config key, type, the names it accepts or None). The names are the config's own
# lists, so the help can never offer a name the config refuses, nor miss one it takes.
TRAIN_FLAGS: dict[str, tuple[str, type, Any]] = {
    "dataset": ("data.name", str, DATASET_OPTIONS), "data_root": ("data.root", str, None),
    "model": ("model.name", str, MODEL_OPTIONS), "activation": ("model.activation", str, ACTIVATIONS),
    "rule": ("algorithm.name", str, tuple(RULES)),
    "optimizer": ("optimizer.name", str, OPTIMIZERS), "lr": ("optimizer.lr", float, None),
    "momentum": ("optimizer.momentum", float, None), "weight_decay": ("optimizer.weight_decay", float, None),
    "epochs": ("train.epochs", int, None), "batch_size": ("train.batch_size", int, None),
    "loss": ("train.loss", str, LOSSES), "reduction": ("train.reduction", str, REDUCTIONS),
    "log_every": ("train.log_every", int, None), "dropout": ("model.dropout", float, None),
    "seed": ("seed", int, None), "device": ("device", str, DEVICES),
    # every rule option of the registry; a rule that does not take one ignores it
    **{name: (f"algorithm.{name}", {"int": int, "float": float}.get(o.kind, str), tuple(c for c in o.choices if c))
       for name, o in OPTIONS.items()},
}


def flag_help(key: str, names) -> str:
    """The help of a train flag: the config field it sets and, where it is a name, every name it
    takes; a rule option's help is the registry's, with the rules that take it.

    Example:
        >>> flag_help("train.loss", ("cross_entropy", "bce"))
        'sets train.loss: cross_entropy, bce'
        >>> flag_help("seed", None)
        'sets seed'
        >>> flag_help("algorithm.block_size", ())
        'sets algorithm.block_size (rule bdfa): Blocked DFA: hidden layers per block; DFA inside each block, the error chained from block to block'
    """
    option = OPTIONS.get(key.removeprefix("algorithm."))
    if option is None:
        return f"sets {key}" + (f": {', '.join(names)}" if names else "")
    rules = ", ".join(k for k, spec in RULES.items() if option.name in spec.options)
    return f"sets {key} (rule {rules}): {option.help}" + (f"; one of {', '.join(names)}" if names else "")


def rules_epilog() -> str:
    """What ``train --help`` ends with: every rule of the registry and what it does.

    Example:
        >>> rules_epilog().splitlines()[:2]
        ['rules (--rule):', '  bp: backpropagation: the true gradient']
    """
    return "rules (--rule):\n" + "\n".join(f"  {line}" for line in help_text().splitlines())


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m explorer", description=DESCRIPTION)
    sub = p.add_subparsers(dest="command", required=True)
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", help="the run store, an SQLite file (default: $EXPLORER_STORE, "
                                       "else ~/.explorer/runs.sqlite)")
    t = sub.add_parser("train", parents=[store], epilog=rules_epilog(),
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="train one run into the store; print its curve (a line per epoch) and its final metrics")
    t.add_argument("--config", help="a RunConfig as a JSON file; flags below override its fields")
    for flag, (key, kind, names) in TRAIN_FLAGS.items():
        t.add_argument(f"--{flag.replace('_', '-')}", type=kind, metavar=flag.upper(), help=flag_help(key, names))
    t.add_argument("--hidden", help="hidden widths of the MLP, e.g. 256,256 or 4x256")
    t.add_argument("--batch-manhattan", action="store_true", help="sets optimizer.batch_manhattan")
    t.add_argument("--schedule", metavar="JSON", help='sets optimizer.schedule, e.g. {"name": "step", "step_size": 10, '
                                                      '"gamma": 0.5}; "multistep" and "restarts" too')
    t.add_argument("--augment", metavar="JSON", help='sets train.augment, e.g. {"crop_padding": 4, "flip": true}')
    t.add_argument("--resize", metavar="H,W", help="sets data.resize: image inputs resized at load, e.g. 32,32")
    t.add_argument("--json", action="store_true", help="print the result as JSON")
    b = sub.add_parser("bench", help="throughput and peak memory of every rule vs a plain autograd loop")
    b.add_argument("--rules", help="comma-separated rules (default: all)")
    b.add_argument("--steps", type=int, default=50, help="timed steps per round")
    b.add_argument("--rounds", type=int, default=5, help="alternating rounds; each rule's best counts")
    b.add_argument("--device", help=", ".join(DEVICES))
    b.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    q = sub.add_parser("parity", help="the parity task: rules × seeds, summary with 95%% CIs beside published values")
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
    q.add_argument("--device", help=", ".join(DEVICES))
    q.add_argument("--out", help="CSV file for the summary (default: parity-k<k>.csv)")
    e = sub.add_parser("embed-bench", help="t-SNE time: openTSNE (used by explorer.views.embed) beside scikit-learn")
    e.add_argument("--sizes", default="5000,10000", help="comma-separated point counts")
    e.add_argument("--dim", type=int, default=512)
    e.add_argument("--n-iter", type=int, default=500)
    e.add_argument("--threads", type=int, default=1)
    e.add_argument("--json", action="store_true")
    k = sub.add_parser("seeds-bench", help="time of S seeds stacked into one network vs one seed")
    k.add_argument("--seeds", type=int, default=3)
    k.add_argument("--steps", type=int, default=200)
    k.add_argument("--rule", default="dfa", help=flag_help("algorithm.name", tuple(RULES)))
    k.add_argument("--device", help=", ".join(DEVICES))
    k.add_argument("--json", action="store_true")
    w = sub.add_parser("sweep", help="every combination of a grid for every seed; summary with 95%% CIs")
    w.add_argument("--config", required=True, help="the base RunConfig (JSON file)")
    w.add_argument("--grid", required=True, help='JSON file: {"algorithm.name": ["bp", "dfa"], "optimizer.lr": [0.1, 0.01]}')
    w.add_argument("--seeds", type=int, default=3)
    w.add_argument("--out", default="sweep.csv", help="CSV file for the summary")
    g = sub.add_parser("reproduce", parents=[store],
                       help="replay the catalogue of published tables: train into the store (resuming), then "
                            "published | measured (mean, 95%% CI) | verdict")
    g.add_argument("ids", nargs="*", metavar="ID", help="catalogue entries (default: all, or those of --source)")
    g.add_argument("--scale", default="classroom", choices=SCALES,
                   help="full: the document's setting; classroom: minutes on a laptop CPU; smoke: seconds "
                        "(default: classroom)")
    g.add_argument("--seeds", type=int, default=1, help="seeds per run, 0 to N-1 (default: 1)")
    g.add_argument("--device", choices=DEVICES, help="where to train: " + ", ".join(DEVICES))
    g.add_argument("--parallel", type=int, default=1, metavar="N",
                   help="runs trained at once (default 1; a GPU takes several small networks at once faster, "
                        "but measured step times are then shared)")
    g.add_argument("--data", metavar="DIR", help="the data folder holding MNIST/raw, notMNIST/raw, "
                                                 "cifar-10-batches-py, ... (default: $EXPLORER_DATA)")
    g.add_argument("--source", metavar="DOC", help="only the entries of this document (its file name in "
                                                   "shared/seeds, or the start of it, e.g. 000; or the paper)")
    g.add_argument("--list", action="store_true", help="list the entries (id, source, ref, title, dataset, "
                                                       "whether its data is here); train nothing")
    g.add_argument("--no-train", action="store_true", help="train nothing; the table of what the store holds")
    g.add_argument("--json", action="store_true", help="print the list or the table as JSON")
    g.add_argument("--out", metavar="DIR", help="write the report there: README.md and a PNG chart per entry")
    r = sub.add_parser("runs", help="the runs in the store: list, show, export, delete")
    rs = r.add_subparsers(dest="runs_command", required=True)
    rl = rs.add_parser("list", parents=[store], help="the stored runs, newest first")
    rl.add_argument("--group", help="only this group's runs")
    rl.add_argument("--status", choices=STATUSES, help="only runs with this status")
    rl.add_argument("--limit", type=int, help="at most this many")
    rl.add_argument("--json", action="store_true", help="a JSON list of runs (id, status, config, created, ...)")
    rh = rs.add_parser("show", parents=[store], help="one run: its config, status and last record")
    rh.add_argument("id")
    rh.add_argument("--json", action="store_true", help="the run with all its metric records, as JSON")
    rx = rs.add_parser("export", parents=[store], help="a run's (or a whole group's) records as one table")
    rx.add_argument("id", help="a run id or a group id")
    rx.add_argument("--format", default="csv", choices=("csv", "json"))
    rx.add_argument("--out", help="file to write (default: standard output)")
    rd = rs.add_parser("delete", parents=[store], help="delete a run (or a group with its runs)")
    rd.add_argument("id", help="a run id or a group id")
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


def json_flag(text: str, flag: str) -> Any:
    """A flag's JSON text; broken JSON is a `ConfigError` naming the flag.

    Example:
        >>> json_flag('{"flip": true}', "--augment")
        {'flip': True}
        >>> json_flag("{flip", "--augment")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: --augment: not valid JSON ({flip: Expecting property name enclosed in double quotes: line 1 column 2 (char 1))
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{flag}: not valid JSON ({text}: {err})") from err


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The run config of a ``train`` command line: the file (if any), then the flags."""
    base: dict[str, Any] = read_json(args.config, "--config") if args.config else {}
    changes = {key: getattr(args, flag) for flag, (key, _, _) in TRAIN_FLAGS.items()
               if getattr(args, flag) is not None}
    if args.hidden is not None:
        changes["model.hidden"] = parse_widths(args.hidden, "--hidden")
    if args.batch_manhattan:
        changes["optimizer.batch_manhattan"] = True
    for flag, key in (("schedule", "optimizer.schedule"), ("augment", "train.augment")):
        if getattr(args, flag) is not None:
            changes[key] = json_flag(getattr(args, flag), f"--{flag}")
    if args.resize is not None:
        changes["data.resize"] = parse_widths(args.resize, "--resize")
    return RunConfig.from_dict(base).with_values(changes)


CURVE_COLUMNS = (("epoch", "epoch"), ("train loss", "train_loss"), ("train acc", "train_acc"),
                 ("test loss", "test_loss"), ("test acc", "test_acc"))


def _number(value: Any, spec: str = ".4f") -> str:
    """A metric as a person reads it: four decimals (or ``spec``), '-' where there is none (NaN, None).

    Example:
        >>> _number(0.123456), _number(float("nan")), _number(None), _number(3), _number(1234.5, ".3g")
        ('0.1235', '-', '-', '3', '1.23e+03')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return str(value) if isinstance(value, int) else format(value, spec)


def curve_header() -> str:
    """The header of the curve `train` prints, one column per `CURVE_COLUMNS` entry."""
    return "".join(f"{title:>11}" for title, _ in CURVE_COLUMNS)


def curve_line(record: dict) -> str | None:
    """A record as one line of the printed curve, or None for a record logged within an epoch.

    Example:
        >>> curve_line({"epoch": 2.0, "train_loss": 0.51, "train_acc": 0.8, "test_loss": 0.6, "test_acc": 0.75})
        '          2     0.5100     0.8000     0.6000     0.7500'
        >>> curve_line({"epoch": 1.4, "train_loss": 0.7}) is None
        True
    """
    epoch = float(record["epoch"])
    if not epoch.is_integer():
        return None
    return "".join(f"{_number(int(epoch) if key == 'epoch' else record.get(key)):>11}" for _, key in CURVE_COLUMNS)


def _train(args) -> int:
    from tqdm import tqdm

    from explorer.config.labels import layer_label
    from explorer.runs.jobs import JobManager

    cfg = config_from_args(args)
    records: queue.Queue[dict] = queue.Queue()  # filled on the run's thread, printed on this one
    with JobManager(args.store, max_concurrent=1) as jobs:
        handle = jobs.submit(cfg, on_metrics=records.put)
        if not args.json:
            print(f"run {handle.id} (in {jobs.store.path})")
            print(curve_header(), flush=True)

        def show_curve(bar) -> None:
            while not records.empty():
                line = curve_line(records.get())
                if line is not None and not args.json:
                    bar.write(line, file=sys.stdout)
                    sys.stdout.flush()  # each epoch as it ends, into a pipe (tee, head) as well

        try:
            while handle.total_steps is None and handle.wait(0.05) is None:
                pass  # building: loading data, drawing weights
            with tqdm(total=handle.total_steps, unit="step", file=sys.stderr, dynamic_ncols=True) as bar:
                while handle.wait(0.1) is None:
                    show_curve(bar)
                    bar.update(handle.steps_done - bar.n)
                show_curve(bar)
                bar.update(handle.steps_done - bar.n)
        except KeyboardInterrupt:
            handle.stop()
            handle.wait()
            print(f"run {handle.id}: stopped, {handle.status} with the records it logged", file=sys.stderr)
            return 130
        if handle.status == "failed":
            print(f"run {handle.id} failed; it is kept in {jobs.store.path}", file=sys.stderr)
            raise handle.exception
        final = handle.view().final()
        store_path = jobs.store.path
    if args.json:
        print(json.dumps(strict({"id": handle.id, "store": str(store_path), "status": handle.status,
                                   "diverged_at": handle.diverged_at, "final": final, "config": cfg.to_dict()}),
                         indent=2))
        return 0
    print(f"status: {handle.status}" + (f" at step {handle.diverged_at}" if handle.diverged_at else ""))
    f = final
    if f:
        print(f"step {f['step']}  epoch {f['epoch']:.2f}  train loss {_number(f['train_loss'])}  "
              f"train acc {_number(f['train_acc'])}  test loss {_number(f['test_loss'])}  "
              f"test acc {_number(f['test_acc'])}")
        print(f"{'layer':<17}{'update°':>9}{'signal°':>9}{'weight°':>9}{'|grad|':>11}{'|W|':>9}{'|B|':>9}")
        for row in f["layers"]:
            degrees = "".join(f"{_number(row[k], '.1f'):>9}" for k in ("update_deg", "signal_deg", "weight_deg"))
            print(f"{layer_label(row['layer']):<17}{degrees}{_number(row['grad_norm'], '.3g'):>11}"
                  f"{_number(row['weight_norm'], '.3g'):>9}{_number(row['feedback_norm'], '.3g'):>9}")
    return 0


def _describe(config: dict) -> str:
    """A run's config in a few words: rule, network, data."""
    model = config.get("model", {})
    net = model.get("name", "?") + (str(model["hidden"]).replace(" ", "") if "hidden" in model else "")
    return (f"{config.get('algorithm', {}).get('name', '?')} {net} on {config.get('data', {}).get('name', '?')}, "
            f"seed {config.get('seed', 0)}")


def _local(t: float | None) -> str:
    from datetime import datetime

    return "-" if t is None else datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def _runs(args) -> int:
    from explorer.runs.export import export, resolve, run_document
    from explorer.runs.store import Store

    with Store(args.store) as store:
        if args.runs_command == "list":
            if args.limit is not None and args.limit < 1:
                raise ConfigError(f"--limit must be at least 1, got {args.limit}")
            runs = store.list_runs(group=args.group, status=args.status, limit=args.limit)
            if args.json:
                print(json.dumps(strict([info.to_dict() for info in runs]), indent=2))
                return 0
            print(f"{'id':<18}{'status':<13}{'steps':>13}  {'created':<21}run")
            for info in runs:
                steps = f"{info.steps_done}/{info.total_steps if info.total_steps is not None else '?'}"
                print(f"{info.id:<18}{info.status:<13}{steps:>13}  {_local(info.created):<21}{_describe(info.config)}"
                      + (f"  group {info.group}" if info.group else ""))
            if not runs:
                print(f"(no runs in {store.path})")
            return 0
        if args.runs_command == "show":
            if args.json:
                print(json.dumps(run_document(store, args.id), indent=2))
                return 0
            info = store.get_run(args.id)
            print(f"run {info.id}: {info.status}" + (f" at step {info.diverged_at}" if info.diverged_at is not None else "")
                  + (f"  (group {info.group})" if info.group else ""))
            print(f"  {_describe(info.config)}")
            print(f"  created {_local(info.created)}, started {_local(info.started)}, finished {_local(info.finished)}")
            print(f"  device {info.device or '-'} ({info.device_name or '-'}), explorer {info.version}")
            print(f"  {info.steps_done}/{info.total_steps if info.total_steps is not None else '?'} steps, "
                  f"{info.records} records, checkpoints at steps {store.checkpoint_steps(info.id) or '-'}")
            if info.error:
                print(f"  error: {info.error}")
            last = store.open_run(info.id).final()
            if last:
                print("  last record: " + "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                                    for k, v in last.items() if k != "layers"))
            return 0
        if args.runs_command == "export":
            text = export(store, args.id, args.format)
            if args.out:
                try:
                    with open(args.out, "w") as f:
                        f.write(text)
                except OSError as err:
                    raise ConfigError(f"--out: cannot write {args.out}: {err.strerror}") from err
                print(f"wrote {args.out}", file=sys.stderr)
            else:
                sys.stdout.write(text if text.endswith("\n") else text + "\n")
            return 0
        kind, runs = resolve(store, args.id)  # delete
        if kind == "run":
            store.delete_run(args.id)
            print(f"deleted run {args.id}")
        else:
            n = store.delete_group(args.id)
            print(f"deleted group {args.id} and its {n} run(s)")
        return 0


def _bench(args) -> int:
    from explorer.bench import RULES, format_table, run_benchmark

    rules = tuple(args.rules.split(",")) if args.rules else tuple(RULES)
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise ConfigError(f"--rules: unknown rule {unknown[0]!r}; choose from {', '.join(RULES)}")
    say = None if args.json else (lambda line: print(line, file=sys.stderr))
    result = run_benchmark(rules, steps=args.steps, rounds=args.rounds, device=args.device,
                           memory=not args.no_memory, progress=say)
    print(json.dumps(strict(result), indent=2) if args.json else format_table(result))
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
    from explorer.experiments.parity import run_parity

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
    from explorer.runs.sweep import sweep

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


def select_entries(ids, source: str | None) -> list:
    """The catalogue entries a ``reproduce`` command line names: its ids (an unknown one is a
    `ConfigError` with `catalogue.get`'s message, which names entries like it), else all; only those
    of ``source`` if given (a document's file name, the start of it, or the paper, as the entries'
    ``source`` has it)."""
    from explorer.experiments import catalogue

    if source is not None:
        sources = list(dict.fromkeys(e.source for e in catalogue.CATALOGUE.values()))
        wanted = source.lower()
        picked = [s for s in sources if s.lower() == wanted] or [s for s in sources if s.lower().startswith(wanted)] \
            or [s for s in sources if wanted in s.lower()]
        if not picked:
            raise ConfigError(f"--source: no document {source!r} in the catalogue; documents: {', '.join(sources)}")
    try:
        entries = [catalogue.get(i) for i in dict.fromkeys(ids)] if ids else list(catalogue.CATALOGUE.values())
    except catalogue.EntryNotFound as err:
        raise ConfigError(str(err)) from None
    return [e for e in entries if source is None or e.source in picked]


def _reproduce(args) -> int:
    from explorer.experiments import report
    from explorer.experiments import reproduce as rp
    from explorer.runs.store import Store

    if args.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {args.seeds}")
    entries = select_entries(args.ids, args.source)
    if args.list:
        listed = [{**e.to_dict(), "data_missing": rp.missing_data(e, args.data)} for e in entries]
        if args.json:
            print(json.dumps(strict(listed), indent=2, ensure_ascii=False))
            return 0
        print(f"{'id':<22}{'source':<28}{'ref':<14}{'dataset':<15}{'data':<6}title")
        for e, row in zip(entries, listed):
            print(f"{e.id:<22}{e.source[:27]:<28}{e.ref[:13]:<14}{e.dataset:<15}"
                  f"{'here' if row['data_missing'] is None else 'no':<6}{e.title}")
        if not entries:
            print("(no catalogue entries)")
        return 0
    with Store(args.store) as store:
        interrupted = False
        if not args.no_train:
            try:
                outcome = rp.run(entries, args.scale, args.seeds, store, root=args.data, device=args.device,
                                 parallel=args.parallel)
                interrupted = outcome.interrupted
                print(f"{len(outcome.trained)} run(s) trained, {outcome.skipped} already in {store.path}"
                      + (f", {len(outcome.not_run)} entr{'y' if len(outcome.not_run) == 1 else 'ies'} not run"
                         if outcome.not_run else ""), file=sys.stderr)
                for planned, run_id, status in outcome.trained:
                    if status == "failed":
                        print(f"run {run_id} ({planned.entry_id} {planned.label} seed {planned.seed}) failed: "
                              f"{store.get_run(run_id).error}", file=sys.stderr)
            except KeyboardInterrupt:
                interrupted = True
            if interrupted:
                print("stopped: the run in flight is kept as cancelled; run the same command again to resume",
                      file=sys.stderr)
        df = rp.results(entries, args.scale, args.seeds, store, root=args.data)
        if args.out:
            path = report.write(entries, args.scale, args.seeds, store, args.out, root=args.data)
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(strict(rp.to_json(df)), indent=2, ensure_ascii=False))
    else:
        print(rp.table_text(df))
    return 130 if interrupted else 0


def _embed_bench(args) -> int:
    from explorer.views.embed import embed_benchmark

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
    from explorer.bench import seeds_benchmark

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
    commands = {"train": _train, "runs": _runs, "bench": _bench, "parity": _parity,
                "sweep": _sweep, "reproduce": _reproduce, "embed-bench": _embed_bench, "seeds-bench": _seeds_bench}
    try:
        code = commands[args.command](args)
        sys.stdout.flush()  # a reader that left early shows here, not in the interpreter's last flush
        return code
    except (ConfigError, DatasetNotFound, StoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return reader_left()


SIGPIPE_STATUS = 128 + 13  # what a shell reports for a command ended by SIGPIPE (as `yes | head` ends)


def reader_left() -> int:
    """Standard output's reader closed it (``runs list | head``): stop quietly, as Unix tools do.

    Python ignores SIGPIPE, so a write to a closed pipe raises; the rest of the output (and the
    interpreter's flush at exit) goes to the null device instead, so no second error is printed
    (the recipe in the Python documentation's note on SIGPIPE, module `signal`).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return SIGPIPE_STATUS
