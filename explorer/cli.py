"""The command line: ``python -m explorer train | runs | bench | parity | sweep | reproduce | embed-bench | seeds-bench | stress``.

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
    python -m explorer stress --folder /tmp/stress

No error shows a traceback: each is one line, "error: …", and an exit status (2 for bad input: a
flag, a file, a config, a data file, the store); ``--debug`` or ``EXPLORER_DEBUG=1`` shows it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import queue
import re
import signal
import sys
import tempfile
import threading
import traceback
from typing import Any

from explorer.config import ACTIVATIONS, DEVICES, LOSSES, MODEL_OPTIONS, OPTIMIZERS, ConfigError, RunConfig
from explorer.config.bounds import MAX_SAMPLES, MAX_STEPS, MAX_WIDTH
from explorer.config.fields import integer, number
from explorer.config.schema import CUDA_GRAPH, REDUCTIONS, changed
from explorer.config.dataset_options import DATASET_OPTIONS
from explorer.config.registry import OPTIONS, RULES, help_text
from explorer.data import DatasetError
from explorer.experiments.catalogue.entry import SCALES
from explorer.runs.export import strict
from explorer.views.urlstate import parse_widths
from explorer.runs.store import STATUSES, StoreError

DESCRIPTION = ("See how neural networks learn when the backward pass is not backpropagation: train runs, "
               "list and export them, run the parity task and sweeps, and time the engine.")

NONE_WORD = "none"
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
    "cuda_graph": ("train.cuda_graph", str, CUDA_GRAPH),
    "seed": ("seed", int, None), "device": ("device", str, DEVICES),
    # every rule option of the registry; a rule that does not take one ignores it. An option whose
    # choices include None (sign_refresh: B as drawn) takes it on the command line as the word "none"
    **{name: (f"algorithm.{name}", {"int": int, "float": float}.get(o.kind, str),
              tuple(NONE_WORD if c is None else c for c in o.choices)) for name, o in OPTIONS.items()},
}


def whole(low: int | None = None, high: int | None = None):
    """An argparse ``type``: a whole number (``1e3`` too) within ``low`` … ``high``, checked by the
    config's own reader (`explorer.config.fields.integer`); anything else is a usage error that
    argparse words as "argument --FLAG: …".

    Example:
        >>> whole(1, 10)("1e1"), whole()("-3")
        (10, -3)
        >>> whole(1)("0")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be at least 1, got 0
    """
    def parse(text: str) -> int:
        try:
            value: float = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        try:
            return integer(value, "value", minimum=low, maximum=high)
        except ConfigError as err:
            raise argparse.ArgumentTypeError(err.problem) from None

    parse.__name__ = "whole number"
    return parse


def real(low: float | None = None, high: float | None = None, *, above: float | None = None):
    """An argparse ``type``: a finite number within the bounds given (`explorer.config.fields.number`).

    Example:
        >>> real(0, 5)("2.5")
        2.5
        >>> real()("nan")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be a finite number, got nan
    """
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        try:
            return number(value, "value", minimum=low, maximum=high, above=above)
        except ConfigError as err:
            raise argparse.ArgumentTypeError(err.problem) from None

    parse.__name__ = "number"
    return parse


# The bounds of the flags that set no config field (those that do are checked by the config, with
# `explorer.config.bounds`): counts of seeds, threads or parallel runs, and the store's lock wait.
MAX_SEED_COUNT = 1000        # --seeds of parity, sweep, reproduce, seeds-bench: seeds trained or stacked
MAX_THREADS = 1024           # --threads, --parallel
MAX_LOCK_WAIT = 24 * 3600.0  # s: --lock-wait; a day is past any writer that will ever let go


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


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors read like the config's ("--steps must be at least 1,
    got 0") and, like every other error of the command line, are one line: ``error: …`` and where
    the flags are listed, exit status 2 (argparse's own prints the whole usage first)."""

    def error(self, message: str):
        flag, _, problem = re.fullmatch(r"(?:argument (\S+?): )?(.*)", message, re.S).group(1, 0, 2)
        words = f"{flag} {problem}" if flag and problem.startswith("must ") else message
        self.exit(2, f"error: {' '.join(words.split())} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m explorer", description=DESCRIPTION)
    p.add_argument("--debug", action="store_true",
                   help="show the traceback of an error (anywhere on the line; or set EXPLORER_DEBUG=1)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", help="the run store, an SQLite file (default: $EXPLORER_STORE, "
                                       "else ~/.explorer/runs.sqlite)")
    store.add_argument("--lock-wait", type=real(0, MAX_LOCK_WAIT), metavar="SECONDS",
                       help="how long in all a write waits for another process that holds the store's lock, "
                            "retrying with backoff (default: 30)")
    t = sub.add_parser("train", parents=[store], epilog=rules_epilog(),
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="train one run into the store; print its curve (a line per epoch) and its final metrics")
    t.add_argument("--config", help="a RunConfig as a JSON file; flags below override its fields")
    for flag, (key, kind, names) in TRAIN_FLAGS.items():
        t.add_argument(f"--{flag.replace('_', '-')}", type={int: whole(), float: real()}.get(kind, kind),
                       metavar=flag.upper(), help=flag_help(key, names))
    t.add_argument("--hidden", help="hidden widths of the MLP, e.g. 256,256 or 4x256")
    t.add_argument("--batch-manhattan", action="store_true", help="sets optimizer.batch_manhattan")
    t.add_argument("--schedule", metavar="JSON", help='sets optimizer.schedule, e.g. {"name": "step", "step_size": 10, '
                                                      '"gamma": 0.5}; "multistep" and "restarts" too')
    t.add_argument("--augment", metavar="JSON", help='sets train.augment, e.g. {"crop_padding": 4, "flip": true}')
    t.add_argument("--resize", metavar="H,W", help="sets data.resize: image inputs resized at load, e.g. 32,32")
    t.add_argument("--json", action="store_true", help="print the result as JSON")
    b = sub.add_parser("bench", help="throughput and peak memory of every rule vs a plain autograd loop")
    b.add_argument("--rules", help="comma-separated rules (default: all)")
    b.add_argument("--steps", type=whole(1, MAX_STEPS), default=50, help="timed steps per round (default 50)")
    b.add_argument("--rounds", type=whole(1, MAX_STEPS), default=5,
                   help="alternating rounds; each rule's best counts (default 5)")
    b.add_argument("--device", help=", ".join(DEVICES))
    b.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("--cuda-graph", choices=CUDA_GRAPH, default="auto",
                   help="on CUDA: replay the Trainer's ordinary steps from a CUDA graph (auto) or step eagerly (off)")
    b.add_argument("--no-peer", action="store_true",
                   help="skip the plain DFA loop (TinyDFA's approach, the least a DFA step costs) timed beside the rules")
    b.add_argument("--profile", metavar="RULE",
                   help="instead: split one rule's Trainer step (batch, rule backward, optimiser, records, the "
                        "logging step per interval) against the plain loop's, in mean ms per --steps steps")
    q = sub.add_parser("parity", help="the parity task: rules × seeds, summary with 95%% CIs beside published values")
    q.add_argument("--k", type=whole(), default=3, help="digits per sample")
    q.add_argument("--rules", default="bp,dfa,ntk,rf", help="comma-separated; rf:gaussian, rf:relu, rf:linear")
    q.add_argument("--seeds", type=whole(1, MAX_SEED_COUNT), default=3, help="seeds per rule and lr (default 3)")
    q.add_argument("--epochs", type=whole(), default=20, help="epochs, each of freshly drawn samples (default 20)")
    q.add_argument("--base", default="mnist", help="base dataset: mnist or digits")
    q.add_argument("--root", help="data folder holding MNIST/raw (else $EXPLORER_DATA)")
    q.add_argument("--train-samples", type=whole(), help="samples drawn per epoch (default: the base train size)")
    q.add_argument("--test-samples", type=whole(), help="test samples drawn (default: the base test size)")
    q.add_argument("--optimizer", default="sgd", help="sets optimizer.name (default sgd): " + ", ".join(OPTIMIZERS))
    q.add_argument("--lr", default="0.01", help="learning rate, or a comma-separated list to choose from")
    q.add_argument("--momentum", type=real(), default=0.0, help="sets optimizer.momentum (default 0)")
    q.add_argument("--batch-size", type=whole(), default=64, help="sets train.batch_size (default 64)")
    q.add_argument("--device", help=", ".join(DEVICES))
    q.add_argument("--out", help="CSV file for the summary (default: parity-k<k>.csv)")
    e = sub.add_parser("embed-bench", help="t-SNE time: openTSNE (used by explorer.views.embed) beside scikit-learn")
    e.add_argument("--sizes", default="5000,10000", help="comma-separated point counts")
    e.add_argument("--dim", type=whole(1, MAX_WIDTH), default=512, help="dimensions of each point (default 512)")
    e.add_argument("--n-iter", type=whole(1, MAX_STEPS), default=500, help="t-SNE iterations (default 500)")
    e.add_argument("--threads", type=whole(1, MAX_THREADS), default=1, help="threads each library may use (default 1)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    k = sub.add_parser("seeds-bench", help="time of S seeds stacked into one network vs one seed")
    k.add_argument("--seeds", type=whole(1, MAX_SEED_COUNT), default=3,
                   help="seeds stacked into one network (default 3)")
    k.add_argument("--steps", type=whole(1, MAX_STEPS), default=200, help="timed steps of each (default 200)")
    k.add_argument("--rule", default="dfa", help=flag_help("algorithm.name", tuple(RULES)))
    k.add_argument("--device", help=", ".join(DEVICES))
    k.add_argument("--json", action="store_true", help="print one JSON object")
    cluster = argparse.ArgumentParser(add_help=False)
    cluster.add_argument("--backend", choices=("local", "ray"), default="local",
                         help="where the runs train: here (local, the default) or on a Ray cluster, one task per "
                              "grid point with its seeds (ray); the store is written by this process either way")
    cluster.add_argument("--ray-address", metavar="ADDRESS",
                         help="an existing Ray cluster (auto, ray://head:10001, or head:6379); without it a local "
                              "Ray instance is started and shut down at the end")
    cluster.add_argument("--ray-cpus", type=real(0, MAX_THREADS), default=1.0, metavar="N",
                         help="CPUs each Ray task asks for (default 1)")
    cluster.add_argument("--ray-gpus", type=real(0, 64), default=0.0, metavar="N",
                         help="GPUs each Ray task asks for, or a fraction of one: 0.25 puts four on a GPU (default 0)")
    cluster.add_argument("--ray-retries", type=whole(0, 100), default=3, metavar="N",
                         help="how often Ray runs a task again whose worker was lost (default 3); the retry "
                              "resumes from the run's last stored checkpoint")
    w = sub.add_parser("sweep", parents=[store, cluster],
                       help="every combination of a grid for every seed, into the store; summary with 95%% CIs")
    w.add_argument("--config", required=True, help="the base RunConfig (JSON file)")
    w.add_argument("--grid", required=True, help='JSON file: {"algorithm.name": ["bp", "dfa"], "optimizer.lr": [0.1, 0.01]}')
    w.add_argument("--seeds", type=whole(1, MAX_SEED_COUNT), default=3, help="seeds per grid point (default 3)")
    w.add_argument("--out", default="sweep.csv", help="CSV file for the summary")
    g = sub.add_parser("reproduce", parents=[store, cluster],
                       help="replay the catalogue of published tables: train into the store (resuming), then "
                            "published | measured (mean, 95%% CI) | verdict")
    g.add_argument("ids", nargs="*", metavar="ID", help="catalogue entries (default: all, or those of --source)")
    g.add_argument("--scale", default="classroom", choices=SCALES,
                   help="full: the document's setting; classroom: minutes on a laptop CPU; smoke: seconds "
                        "(default: classroom)")
    g.add_argument("--seeds", type=whole(1, MAX_SEED_COUNT), default=1, help="seeds per run, 0 to N-1 (default: 1)")
    g.add_argument("--device", choices=DEVICES, help="where to train: " + ", ".join(DEVICES))
    g.add_argument("--parallel", type=whole(1, MAX_THREADS), default=1, metavar="N",
                   help="runs trained at once (default 1; a GPU takes several small networks at once faster, "
                        "but measured step times are then shared)")
    g.add_argument("--data", metavar="DIR", help="the data folder holding MNIST/raw, notMNIST/raw, "
                                                 "cifar-10-batches-py, ... (default: $EXPLORER_DATA)")
    g.add_argument("--source", metavar="DOC", help="only the entries of this document: its name as --list "
                                                   "shows it, or the start of it (e.g. 'di pasquale'), or its "
                                                   "file name in shared/seeds (e.g. 000)")
    g.add_argument("--list", action="store_true", help="list the entries (id, source, ref, title, dataset, "
                                                       "whether its data is here); train nothing")
    g.add_argument("--no-train", action="store_true", help="train nothing; the table of what the store holds")
    g.add_argument("--json", action="store_true", help="print the list or the table as JSON")
    g.add_argument("--out", metavar="DIR", help="write the report there: README.md and a PNG chart per entry")
    st = sub.add_parser("stress", help="check the fault-tolerance claims: processes on one store, SIGKILL, a kill "
                                       "mid-checkpoint, damaged rows and blobs, a full disk, a held lock, divergence "
                                       "under every rule; PASS/FAIL/SKIP each, exit 1 if one fails")
    st.add_argument("--folder", metavar="DIR", help="where the checks keep their store (default: a fresh temporary "
                                                   "folder); a folder used before is fine")
    st.add_argument("--quick", action="store_true", help="smaller checks: seconds each, for tests")
    st.add_argument("--only", metavar="CHECKS", help="comma-separated checks to run (default: all)")
    st.add_argument("--json", action="store_true", help="print the results as one JSON list")
    r = sub.add_parser("runs", help="the runs in the store: list, show, export, delete")
    rs = r.add_subparsers(dest="runs_command", required=True, metavar="RUNS_COMMAND")
    rl = rs.add_parser("list", parents=[store], help="the stored runs, newest first")
    rl.add_argument("--group", help="only this group's runs")
    rl.add_argument("--status", choices=STATUSES, help="only runs with this status")
    rl.add_argument("--limit", type=whole(1, MAX_STEPS), help="at most this many")
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


MAX_JSON_BYTES = 16 * 2**20  # a JSON file named on the command line: far past any config or grid


def read_json(path: str, flag: str) -> Any:
    """A JSON file named on the command line; a file that cannot be read, is not UTF-8 text, is
    larger than `MAX_JSON_BYTES` or is not JSON is a `ConfigError` naming the flag and the file.

    Example:
        >>> read_json("/nowhere.json", "--config")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: --config: cannot read /nowhere.json: No such file or directory
    """
    if not path.strip():
        raise ConfigError(f"{flag}: the file's path is empty", field=flag)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_JSON_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"{flag}: cannot read {path}: {err.strerror or err}", field=flag) from None
    if len(data) > MAX_JSON_BYTES:
        raise ConfigError(f"{flag}: {path} is larger than {MAX_JSON_BYTES // 2**20} MiB; not a JSON file of "
                          f"settings", field=flag)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{flag}: {path} is not a JSON file: byte {err.start} is not UTF-8 text",
                          field=flag) from None
    return json_flag(text, f"{flag} {path}", quote=False)


def json_flag(text: str, flag: str, *, quote: bool = True) -> Any:
    """A flag's JSON text; anything that is not JSON (nested too deep, numbers too long) is a
    `ConfigError` naming the flag, and quoting the text (its start) unless ``quote`` is false.

    Example:
        >>> json_flag('{"flip": true}', "--augment")
        {'flip': True}
        >>> json_flag("{flip", "--augment")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: --augment: not valid JSON ({flip: Expecting property name enclosed in double quotes: line 1 column 2 (char 1))
    """
    quoted = (text if len(text) <= 60 else text[:59] + "…") + ": " if quote else ""
    try:
        return json.loads(text)
    except RecursionError:
        raise ConfigError(f"{flag}: not valid JSON ({quoted}nested too deep)", field=flag) from None
    except ValueError as err:  # json.JSONDecodeError, and an integer of more digits than Python reads
        raise ConfigError(f"{flag}: not valid JSON ({quoted}{err})", field=flag) from None


def hidden_widths(text: str, flag: str = "--hidden") -> list[int]:
    """``--hidden``: the widths as the one width parser reads them (`explorer.views.urlstate.parse_widths`),
    which refuses an empty width (``64,,64`` is not ``64,64``) and more layers than a config takes
    (``10000000000x64`` would fill the memory first).

    Example:
        >>> hidden_widths("64,64"), hidden_widths("2x8"), hidden_widths("")
        ([64, 64], [8, 8], [])
        >>> hidden_widths("64,,64")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: --hidden has an empty width between commas: '64,,64'; write widths like 64,64
    """
    return parse_widths(text, flag)


# the config fields that flags other than TRAIN_FLAGS set
OTHER_TRAIN_FLAGS = {"model.hidden": "--hidden", "optimizer.batch_manhattan": "--batch-manhattan",
                     "optimizer.schedule": "--schedule", "train.augment": "--augment", "data.resize": "--resize"}


def flag_of(field: str | None, given: set[str]) -> str | None:
    """The ``train`` flag among ``given`` that sets ``field`` or the section holding it.

    Example:
        >>> flag_of("model.hidden[1]", {"--hidden"}), flag_of("optimizer.lr", {"--hidden"})
        ('--hidden', None)
        >>> flag_of("optimizer.schedule.gamma", {"--schedule", "--lr"})
        '--schedule'
    """
    keys = {key: f"--{flag.replace('_', '-')}" for flag, (key, _, _) in TRAIN_FLAGS.items()} | OTHER_TRAIN_FLAGS
    for key, flag in keys.items():
        if flag in given and field and (field == key or field.startswith((key + ".", key + "["))):
            return flag
    return None


def flag_value(value: Any, names: Any) -> Any:
    """What a train flag's value sets: the value, or None (the field left out, at its default) for
    the word "none" where the flag's names offer it.

    Example:
        >>> flag_value("none", TRAIN_FLAGS["sign_refresh"][2]), flag_value("epoch", TRAIN_FLAGS["sign_refresh"][2])
        (None, 'epoch')
        >>> flag_value("none", None)
        'none'
    """
    return None if value == NONE_WORD and names is not None and NONE_WORD in names else value


def train_flags_given(args: argparse.Namespace) -> set[str]:
    """The ``train`` flags a command line gives (what `flag_of` may name)."""
    given = {f"--{flag.replace('_', '-')}" for flag in TRAIN_FLAGS if getattr(args, flag) is not None}
    others = {"--hidden": args.hidden is not None, "--batch-manhattan": bool(args.batch_manhattan),
              "--schedule": args.schedule is not None, "--augment": args.augment is not None,
              "--resize": args.resize is not None}
    return given | {flag for flag, set_ in others.items() if set_}


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The run config of a ``train`` command line: the file (if any), then the flags. A value the
    config refuses is a `ConfigError` that says where it came from: the flag, or the file."""
    base: dict[str, Any] = read_json(args.config, "--config") if args.config is not None else {}
    for flag, (key, _, names) in TRAIN_FLAGS.items():
        value = getattr(args, flag)
        if value is not None and names and NONE_WORD in names and value not in names:
            # the config's own words would leave out the flag's word for None
            raise ConfigError(f"--{flag.replace('_', '-')}: must be one of {', '.join(names)}; got {value!r}",
                              field=key)
    changes = {key: flag_value(getattr(args, flag), names) for flag, (key, _, names) in TRAIN_FLAGS.items()
               if getattr(args, flag) is not None}
    if args.hidden is not None:
        changes["model.hidden"] = hidden_widths(args.hidden)
    if args.batch_manhattan:
        changes["optimizer.batch_manhattan"] = True
    for flag, key in (("schedule", "optimizer.schedule"), ("augment", "train.augment")):
        if getattr(args, flag) is not None:
            changes[key] = json_flag(getattr(args, flag), f"--{flag}")
    if args.resize is not None:
        changes["data.resize"] = parse_widths(args.resize, "--resize")
    given = train_flags_given(args)
    source = f"--config {args.config}" if args.config is not None else None
    try:
        RunConfig.from_dict(base)  # the file alone first, so that its own faults are named as its
        source = None
        # the flags change the file as written, not its validated form: that form holds every default
        # (model.hidden of the default MLP), which --model lenet5 would then be refused for
        cfg = RunConfig.from_dict(changed(base, changes))
    except ConfigError as err:
        source = source or flag_of(err.field, given) or (f"--config {args.config}" if args.config is not None else None)
        if source is None:
            raise
        raise ConfigError(f"{source}: {err}", field=err.field) from None
    return cfg


def unused_rule_flags(args: argparse.Namespace, rule: str) -> list[str]:
    """A note for each rule option's flag given to a rule that does not take it: the run leaves it
    out (so one command line can loop over rules), and says so rather than drop it without a word.

    Example:
        >>> unused_rule_flags(argparse.Namespace(**{name: None for name in OPTIONS} | {"bp_depth": 5}), "ifa")
        ["note: --bp-depth is left out: rule 'ifa' takes no top layers trained by BP (an option of fp)"]
    """
    notes = []
    for name, option in OPTIONS.items():
        if getattr(args, name, None) is not None and name not in RULES[rule].options:
            takers = ", ".join(key for key, spec in RULES.items() if name in spec.options)
            notes.append(f"note: --{name.replace('_', '-')} is left out: rule {rule!r} takes no {option.label} "
                         f"(an option of {takers})")
    return notes


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


class EpochCurve:
    """The printed curve's lines, fed every record of a run in order: a line's train loss and
    accuracy are means over the whole epoch. A record holds them over the steps since the record
    before, so each counts by its steps; alone, the epoch's last record would cover its last few
    steps, and the line would move with ``--log-every``.

    Example:
        >>> curve = EpochCurve()
        >>> curve.add({"step": 1, "epoch": 0.5, "train_loss": 2.0, "train_acc": 0.0}) is None
        True
        >>> curve.add({"step": 4, "epoch": 2.0, "train_loss": 1.0, "train_acc": 1.0, "test_loss": 1.5,
        ...            "test_acc": 0.5})   # three steps at 1.0 after one at 2.0: 1.25 over the epoch
        '          2     1.2500     0.7500     1.5000     0.5000'
    """

    TRAIN = ("train_loss", "train_acc")

    def __init__(self) -> None:
        self.step, self.steps, self.sums = 0, 0, dict.fromkeys(self.TRAIN, 0.0)

    def add(self, record: dict) -> str | None:
        step = int(record.get("step", self.step))
        span, self.step = step - self.step, step
        self.steps += span
        for key in self.TRAIN:
            value = record.get(key)
            self.sums[key] += span * (value if isinstance(value, (int, float)) else math.nan)
        if not float(record["epoch"]).is_integer():
            return None
        means = {key: total / self.steps for key, total in self.sums.items()} if self.steps else {}
        self.steps, self.sums = 0, dict.fromkeys(self.TRAIN, 0.0)
        return curve_line({**record, **means})


def _train(args) -> int:
    cfg = config_from_args(args)  # checked before torch loads: a mistyped flag is told at once
    from tqdm import tqdm

    from explorer.config.labels import layer_label
    from explorer.engine.build import resolve_device
    from explorer.runs.jobs import JobManager

    for note in unused_rule_flags(args, cfg.algorithm.name):
        print(note, file=sys.stderr)
    root = cfg.data.get("root")
    if root and not os.path.isdir(os.path.expanduser(root)):   # a typo: told before any run, not downloaded into
        flag = flag_of("data.root", train_flags_given(args)) or "data.root"
        raise ConfigError(f"{flag}: no folder {root} (it should hold the dataset's files in "
                          "torchvision's layout; the built-in digits need none)", field="data.root")
    records: queue.Queue[dict] = queue.Queue()  # filled on the run's thread, printed on this one
    with JobManager(args.store, max_concurrent=1, store_timeout=args.lock_wait) as jobs:
        handle = jobs.submit(cfg, on_metrics=records.put)

        curve = EpochCurve()

        def show_curve(bar) -> None:
            while not records.empty():
                line = curve.add(records.get())
                if line is not None and not args.json:
                    bar.write(line, file=sys.stdout)
                    sys.stdout.flush()  # each epoch as it ends, into a pipe (tee, head) as well

        try:
            while handle.total_steps is None and handle.wait(0.05) is None:
                pass  # building: loading data, drawing weights
            if handle.total_steps is None and isinstance(handle.exception, ConfigError):
                # refused as it was built, against the data (a batch larger than the training set, a
                # network the images do not fit): a setup that cannot run, not a run that failed
                jobs.store.delete_run(handle.id)
                err, flag = handle.exception, flag_of(handle.exception.field, train_flags_given(args))
                words = str(err).removeprefix(f"{err.field}: ")
                raise ConfigError(f"{flag}: {words}" if flag else str(err), field=err.field) from None
            if not args.json:
                print(f"run {handle.id} (in {jobs.store.path})")
            if handle.total_steps is not None:  # built: the same device as the run's, then its curve
                if not args.json:
                    print(f"device: {resolve_device(cfg)[1]}", file=sys.stderr)
                    print(curve_header(), flush=True)
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
        reason = jobs.store.get_run(handle.id).error if handle.status == "diverged" else None  # train.diverge's words
        store_path = jobs.store.path
    if args.json:
        print(json.dumps(strict({"id": handle.id, "store": str(store_path), "status": handle.status,
                                   "diverged_at": handle.diverged_at, "reason": reason, "final": final,
                                   "config": cfg.to_dict()}),
                         indent=2))
        return 0
    print(f"status: {handle.status}" + (f" at step {handle.diverged_at}: {reason}" if handle.diverged_at else ""))
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


def _describe(info) -> str:
    """A run in a few words: rule, network, data, seed; a run whose row or config cannot be used
    says so (`RunInfo.problem`) instead of guessing.

    Example:
        >>> from types import SimpleNamespace as Row
        >>> _describe(Row(config={"algorithm": {"name": "dfa"}, "model": {"name": "mlp", "hidden": [8, 8]},
        ...                       "data": {"name": "digits"}, "seed": 1}, problem=None, damaged=False))
        'dfa mlp[8,8] on digits, seed 1'
        >>> _describe(Row(config={"algorithm": {"name": "bp", "train_hidden": False}, "model": {"name": "mlp",
        ...                       "hidden": [20]}, "data": {"name": "teacher"}}, problem=None, damaged=False))
        'bp (shallow) mlp[20] on teacher, seed 0'
        >>> _describe(Row(config={}, problem="its config is not JSON", damaged=True))
        'DAMAGED: its config is not JSON'
    """
    problem = getattr(info, "problem", None)
    if getattr(info, "damaged", False):
        return f"DAMAGED: {problem}"
    if problem:  # what the config says cannot be trusted to describe the run: its text, not a guess
        return f"NOT VALID: {problem}; stored config {json.dumps(info.config)[:120]}"
    config = info.config if isinstance(info.config, dict) else {}
    model = config.get("model") if isinstance(config.get("model"), dict) else {}
    section = lambda name: config.get(name) if isinstance(config.get(name), dict) else {}  # noqa: E731
    net = str(model.get("name", "?")) + (str(model["hidden"]).replace(" ", "") if "hidden" in model else "")
    shallow = " (shallow)" if section("algorithm").get("train_hidden") is False else ""  # hidden layers frozen
    words = (f"{section('algorithm').get('name', '?')}{shallow} {net} on {section('data').get('name', '?')}, "
             f"seed {config.get('seed', 0)}")
    return words


def _open_store(args):
    """The store of ``--store`` with the write wait of ``--lock-wait`` (the store's default without it)."""
    from explorer.runs.store import Store

    return Store(args.store) if args.lock_wait is None else Store(args.store, timeout=args.lock_wait)


def _ray_options(args):
    """`cluster.RayOptions` from the Ray flags, or None for the local backend (a Ray flag without
    ``--backend ray`` is a usage error: it would be silently ignored)."""
    from explorer.runs.cluster import RayOptions

    if args.backend != "ray":
        given = [flag for flag, value, default in (("--ray-address", args.ray_address, None), ("--ray-cpus", args.ray_cpus, 1.0),
                                                   ("--ray-gpus", args.ray_gpus, 0.0), ("--ray-retries", args.ray_retries, 3))
                 if value != default]
        if given:
            raise ConfigError(f"{given[0]} goes with --backend ray", field="backend")
        return None
    if args.ray_cpus <= 0:
        raise ConfigError(f"--ray-cpus must be above 0, got {args.ray_cpus:g}", field="ray_cpus")
    return RayOptions(address=args.ray_address, cpus=args.ray_cpus, gpus=args.ray_gpus, max_retries=args.ray_retries)


def _local(t: float | None) -> str:
    from datetime import datetime

    return "-" if t is None else datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def _run_not_group(store, run_id: str):
    """The run ``run_id``; a group's id is told as a group's, with the command that lists its runs."""
    from explorer.runs.store import UnknownRun

    try:
        return store.get_run(run_id)
    except UnknownRun:
        try:
            store.get_group(run_id)
        except UnknownRun:
            raise UnknownRun(f"no run {run_id} in {store.path}") from None
        raise UnknownRun(f"{run_id} is a group, not a run: `runs list --group {run_id}` lists its runs") from None


def _runs(args) -> int:
    from explorer.runs.export import export, resolve, run_document
    from explorer.runs.store import UnknownRun, check_id, default_path
    from explorer.runs.sweep_groups import swept

    if getattr(args, "id", None) is not None:
        check_id(args.id, "run id" if args.runs_command == "show" else "run or group id")
    if getattr(args, "group", None) is not None:
        check_id(args.group, "--group: group id")
    # these commands read or delete what is stored: a path with no store (a typo) is said so, not made
    path = default_path() if args.store is None else os.path.expanduser(args.store)
    if not os.path.lexists(path):
        if args.runs_command == "list":
            print("[]" if args.json else f"(no runs: there is no run store at {path} yet; `train` makes one)")
            return 0
        where = "--store" if args.store is not None else "the default store"
        raise StoreError(f"{where}: there is no run store at {path}")
    with _open_store(args) as store:
        if args.runs_command == "list":
            runs = store.list_runs(group=args.group, status=args.status, limit=args.limit)
            if args.json:
                print(json.dumps(strict([info.to_dict() for info in runs]), indent=2))
                return 0
            print(f"{'id':<18}{'status':<13}{'steps':>13}  {'created':<21}run")
            labels: dict[str, str | None] = {}   # group -> its label, read once
            for info in runs:
                steps = f"{info.steps_done}/{info.total_steps if info.total_steps is not None else '?'}"
                if info.group and info.group not in labels:
                    try:
                        labels[info.group] = store.get_group(info.group).label
                    except UnknownRun:   # a damaged store: the run is listed without its grid point
                        labels[info.group] = None
                point = swept(labels.get(info.group), info.config if isinstance(info.config, dict) else {})
                given = "".join(f" {key}={'-' if value is None else json.dumps(value)}" for key, value in point.items())
                print(f"{info.id:<18}{info.status:<13}{steps:>13}  {_local(info.created):<21}{_describe(info)}{given}"
                      + (f"  group {info.group}" if info.group else ""))
            if not runs:
                print(f"(no runs in {store.path})")
            return 0
        if args.runs_command == "show":
            info = _run_not_group(store, args.id)
            if args.json:
                document = run_document(store, args.id)
                print(json.dumps(document, indent=2))
                if document.get("problem"):
                    print(f"error: run {args.id} cannot be used as stored: {document['problem']}", file=sys.stderr)
                    return 2
                return 0
            print(f"run {info.id}: {info.status}" + (f" at step {info.diverged_at}" if info.diverged_at is not None else "")
                  + (f"  (group {info.group})" if info.group else ""))
            print(f"  {_describe(info)}")
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
            if info.problem:
                print(f"error: run {info.id} cannot be used as stored: {info.problem}", file=sys.stderr)
                return 2
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
    from explorer.bench import RULES, format_profile, format_table, profile_step, run_benchmark
    from explorer.engine.device import choose_device

    try:
        choose_device(args.device)   # before any work, and told by its flag as the other commands do
    except ConfigError as err:
        raise ConfigError(f"--device: {err.problem}", field="--device") from None

    if args.profile is not None:
        if args.profile not in RULES:
            raise ConfigError(f"--profile: unknown rule {args.profile!r}; choose from {', '.join(RULES)}")
        result = profile_step(args.profile, steps=max(args.steps, 2), device=args.device)
        print(json.dumps(strict(result), indent=2) if args.json else format_profile(result))
        return 0
    rules = tuple(args.rules.split(",")) if args.rules else tuple(RULES)
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise ConfigError(f"--rules: unknown rule {unknown[0]!r}; choose from {', '.join(RULES)}")
    say = None if args.json else (lambda line: print(line, file=sys.stderr))
    result = run_benchmark(rules, steps=args.steps, rounds=args.rounds, device=args.device,
                           memory=not args.no_memory, progress=say, peer=not args.no_peer,
                           cuda_graph=args.cuda_graph)
    print(json.dumps(strict(result), indent=2) if args.json else format_table(result))
    return 0


def check_out_folder(path: str, flag: str) -> str:
    """An output folder's path, checked before any work: a folder there, or one that can be made
    (its nearest existing parent takes a new entry, tried with a temporary file); else a
    `ConfigError` naming the flag.

    Example:
        >>> check_out_folder("/etc/passwd", "--out")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: --out: /etc/passwd is a file, not a folder
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"{flag}: {path} is a file, not a folder", field=flag)
    parent = os.path.abspath(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ConfigError(f"{flag}: cannot make {path}: {parent} is a file, not a folder", field=flag)
    refusal = _refusal_to_write(parent)
    if refusal:
        raise ConfigError(f"{flag}: cannot write in {parent} ({refusal})", field=flag)
    return path


def _refusal_to_write(folder: str) -> str | None:
    """Why ``folder`` takes no new file (tried with a temporary file, deleted at once), else None:
    permission bits do not tell, as root passes them and a read-only mount or ``/proc`` refuses anyway."""
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        return str(err.strerror or err)
    return None


def rates(text: str, flag: str) -> list[float]:
    """Learning rates, one or comma-separated, each a finite number greater than 0.

    Example:
        >>> rates("0.5, 1e-2", "--lr")
        [0.5, 0.01]
        >>> rates("0.5,-1", "--lr")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: --lr: every learning rate must be a finite number greater than 0, got -1
    """
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{flag} must be a number or comma-separated numbers, got {text!r}", field=flag) from None
    for value, written in zip(values, (v.strip() for v in text.split(",") if v.strip())):
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{flag}: every learning rate must be a finite number greater than 0, got {written}",
                              field=flag)
    return values


def check_store_folder(path: str | None) -> None:
    """A ``--store`` given on the line must be in a folder that is there: a mistyped path is told,
    not made (the default store, ``~/.explorer/runs.sqlite``, makes its own folder).

    Example:
        >>> check_store_folder("/nowhere/at/all/runs.sqlite")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: --store: no folder /nowhere/at/all (make it first, or leave --store out for ~/.explorer/runs.sqlite)
    """
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(os.path.expanduser(path)))
    if os.path.isdir(folder):
        return
    there = folder
    while not os.path.exists(there):
        there = os.path.dirname(there)
    if not os.path.isdir(there):   # a file where the path needs a folder
        raise ConfigError(f"--store: {there} is a file, not a folder", field="--store")
    raise ConfigError(f"--store: no folder {folder} (make it first, or leave --store out for "
                      "~/.explorer/runs.sqlite)", field="--store")


def check_out(path: str, flag: str) -> str:
    """An output file's path, checked before any work: its folder must exist and take a new file,
    and the file, if it is there, must open for writing (a `ConfigError` naming the flag and the
    file, rather than a failed write after a long run). Both are tried, not read from permission
    bits, which root passes and a read-only mount or ``/proc`` refuses anyway: the folder with a
    temporary file, deleted at once, the file opened to append and closed unchanged.

    Example:
        >>> check_out("/nowhere/at/all.csv", "--out")
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: --out: cannot write /nowhere/at/all.csv: no folder /nowhere/at
    """
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ConfigError(f"{flag}: cannot write {path}: no folder {folder}", field=flag)
    if os.path.isdir(path):
        raise ConfigError(f"{flag}: cannot write {path}: it is a folder", field=flag)
    refusal = _refusal_to_write(folder)
    if refusal:
        raise ConfigError(f"{flag}: cannot write {path}: the folder {folder} takes no new file ({refusal})",
                          field=flag)
    if os.path.exists(path):
        try:
            open(path, "a").close()   # append mode: the file is opened for writing, not changed
        except OSError as err:
            raise ConfigError(f"{flag}: cannot write {path}: {err.strerror or err}", field=flag) from None
    return path


def save_csv(frame, path: str, flag: str) -> None:
    """Write a table as CSV; a file that cannot be written is a `ConfigError` naming the flag and the file."""
    try:
        frame.to_csv(path, index=False)
    except OSError as err:
        raise ConfigError(f"{flag}: cannot write {path}: {err.strerror or err}", field=flag) from None


EMBED_MIN_POINTS = 91  # embed-bench: t-SNE at perplexity 30 needs more than 3 × 30 points


def whole_value(text: str, flag: str, low: int | None = None, high: int | None = None) -> int:
    """One whole number of a flag's list, read like a flag of its own (`whole`); a `ConfigError` naming the flag.

    Example:
        >>> whole_value(" 5000", "--sizes", 91)
        5000
        >>> whole_value("0", "--sizes", 91)
        Traceback (most recent call last):
        ...
        explorer.config.ConfigError: --sizes must be at least 91, got 0
    """
    try:
        return whole(low, high)(text.strip())
    except argparse.ArgumentTypeError as err:
        raise ConfigError(f"{flag} {err}", field=flag) from None


def _print_summary(final, title: str) -> None:
    print(title)
    print(final.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


# A parity setup's field (`ParitySetup`, whose messages use the page's words) -> the flag that sets it.
PARITY_FLAGS = {"k": "--k", "base": "--base", "root": "--root", "rules": "--rules", "optimizers": "--optimizer",
                "seeds": "--seeds", "epochs": "--epochs", "train_samples": "--train-samples",
                "test_samples": "--test-samples", "batch_size": "--batch-size"}


def parity_flag_error(err: ConfigError) -> ConfigError:
    """``err`` about a parity setup's field, said of the flag that sets it (else ``err`` itself).

    Example:
        >>> str(parity_flag_error(ConfigError("epochs: a whole number from 1 to 1,000, got 0", field="epochs")))
        '--epochs: a whole number from 1 to 1,000, got 0'
    """
    words = str(err)
    flag = "--lr" if err.field == "optimizers" and words.startswith("learning rate") else PARITY_FLAGS.get(err.field)
    if flag is None:
        return err
    return ConfigError(f"{flag}: {words.partition(': ')[2] or words}", field=flag)


def _parity(args) -> int:
    from explorer.experiments.parity import run_parity

    out = check_out(args.out or f"parity-k{args.k}.csv", "--out")
    data = {k: v for k, v in {"root": args.root, "train_samples": args.train_samples,
                              "test_samples": args.test_samples}.items() if v is not None}
    try:
        _, summary, final = run_parity(args.k, args.rules.split(","), rates(args.lr, "--lr"), args.seeds,
                                       base=args.base, epochs=args.epochs, optimizer=args.optimizer,
                                       momentum=args.momentum, batch_size=args.batch_size, data_options=data,
                                       device=args.device)
    except ConfigError as err:
        raise parity_flag_error(err) from None
    save_csv(summary, out, "--out")
    title = (f"parity of {args.k} digit(s), final test accuracy (mean, 95% CI over {args.seeds} seeds) at each "
             f"rule's chosen lr; summary written to {out}")
    if args.base != "mnist" and final["published"].notna().any():
        title += f" (the published values were measured on MNIST parity, not on {args.base})"
    _print_summary(final, title)
    return 0


def _sweep(args) -> int:
    from explorer.runs.sweep import sweep

    ray = _ray_options(args)
    check_out(args.out, "--out")
    base, grid = RunConfig.from_dict(read_json(args.config, "--config")), read_json(args.grid, "--grid")
    with _open_store(args) as store:
        newest = [r.id for r in store.list_runs(limit=1)]
        try:
            result = sweep(base, grid, args.seeds, backend=args.backend, ray=ray, store=store)
        finally:  # also where a sweep stopped part way: where its runs are, if it stored any
            if [r.id for r in store.list_runs(limit=1)] != newest:
                print(f"runs stored in {store.path}", file=sys.stderr)
    save_csv(result.summary, args.out, "--out")
    s = result.summary
    final = s[(s["metric"] == "test_acc") & (s["epoch"] == s["epoch"].max())]
    _print_summary(final[[*result.grid_keys, "mean", "ci95", "n"]],
                   f"final test accuracy (mean, 95% CI over seeds); summary written to {args.out}")
    if result.best_lr is not None:
        _print_summary(result.best_lr, "learning rate with the best mean test accuracy over the last epochs:")
    return 0


def select_entries(ids, source: str | None) -> list:
    """The catalogue entries a ``reproduce`` command line names: its ids (an unknown one is a
    `ConfigError` with `catalogue.get`'s message, which names entries like it), else all; only those
    of ``source`` if given (a document's file name, the start of it, or the paper, as the entries'
    ``source`` has it)."""
    from explorer.experiments import catalogue

    if source is not None and not source.strip():
        raise ConfigError("--source: give a document's name (or the start of it); it is empty", field="--source")
    if source is not None:
        # each document by its file name (or the paper) and by its name: "000", "Di Pasquale", "lillicrap"
        names = {s: (s.lower(), catalogue.document_name(s).lower()) for s in catalogue.document_names()}
        wanted = source.lower()
        picked = ([s for s, ns in names.items() if wanted in ns] or [s for s, ns in names.items()
                  if any(n.startswith(wanted) for n in ns)] or [s for s, ns in names.items() if any(wanted in n for n in ns)])
        if not picked:
            known = ", ".join(catalogue.short_document_name(s) + (f" ({s})" if catalogue.document_name(s) != s else "")
                              for s in names)
            raise ConfigError(f"--source: no document {source!r} in the catalogue; documents: {known}", field="--source")
    try:
        entries = [catalogue.get(i) for i in dict.fromkeys(ids)] if ids else list(catalogue.CATALOGUE.values())
    except catalogue.EntryNotFound as err:
        raise ConfigError(str(err)) from None
    return [e for e in entries if source is None or e.source in picked]


def _reproduce(args) -> int:
    from explorer.experiments import catalogue, report
    from explorer.experiments import reproduce as rp

    ray = _ray_options(args)
    if ray is not None and args.parallel != 1:
        raise ConfigError("--parallel: on Ray the cluster decides how many runs train at once; leave it out",
                          field="parallel")
    entries = select_entries(args.ids, args.source)
    if args.list:
        listed = [{**e.to_dict(), "data_missing": rp.missing_data(e, args.data)} for e in entries]
        if args.json:
            print(json.dumps(strict(listed), indent=2, ensure_ascii=False))
            return 0
        columns = {"id": [e.id for e in entries], "document": [catalogue.short_document_name(e.source) for e in entries],
                   "ref": [e.ref for e in entries], "dataset": [e.dataset for e in entries],
                   "data": ["here" if row["data_missing"] is None else "no" for row in listed]}
        widths = {name: max(map(len, [name, *values])) + 2 for name, values in columns.items()}
        print("".join(f"{name:<{widths[name]}}" for name in columns) + "title")
        for i, e in enumerate(entries):
            print("".join(f"{values[i]:<{widths[name]}}" for name, values in columns.items()) + e.title)
        if not entries:
            print("(no catalogue entries)")
        return 0
    if args.out:
        check_out_folder(args.out, "--out")
    if args.device is not None and ray is None and not args.no_train:  # (a Ray cluster has its own devices)
        from explorer.engine.device import choose_device

        try:
            choose_device(args.device)  # a device this machine lacks: said once, not as a failed run per plan
        except ConfigError as err:
            raise ConfigError(f"--device: {str(err).removeprefix('device: ')}", field="device") from None
    with _open_store(args) as store:
        interrupted = False
        if not args.no_train:
            try:
                outcome = rp.run(entries, args.scale, args.seeds, store, root=args.data, device=args.device,
                                 parallel=args.parallel, ray=ray)
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

    sizes = [whole_value(v, "--sizes", EMBED_MIN_POINTS, MAX_SAMPLES) for v in args.sizes.split(",") if v.strip()]
    if not sizes:
        raise ConfigError("--sizes: give at least one point count", field="--sizes")
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


def _stress(args) -> int:
    from dataclasses import asdict

    from explorer import stress

    names = [c.name for c in stress.CHECKS]
    only = tuple(n.strip() for n in args.only.split(",") if n.strip()) if args.only else ()
    unknown = [n for n in only if n not in names]
    if unknown:
        raise ConfigError(f"--only: no check {unknown[0]!r}; checks: {', '.join(names)}", field="--only")
    if args.folder is not None:
        check_out_folder(args.folder, "--folder")
    say = None if args.json else (lambda result: print(result.line(), flush=True))
    results = stress.run_checks(args.folder, quick=args.quick, only=only, report=say)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        print(stress.summary(results))
    return 1 if any(r.status == "FAIL" for r in results) else 0


def debugging(argv: list[str]) -> tuple[bool, list[str]]:
    """Whether to show tracebacks (``--debug`` anywhere on the line, or ``EXPLORER_DEBUG`` set to
    anything but 0), and the command line without ``--debug``.

    Example:
        >>> debugging(["runs", "list", "--debug"])[1]
        ['runs', 'list']
    """
    env = os.environ.get("EXPLORER_DEBUG", "").strip() not in ("", "0")
    return env or "--debug" in argv, [a for a in argv if a != "--debug"]


def one_line(err: BaseException, limit: int = 400) -> str:
    """An unexpected error as one line: its type and its message, blanks and lines run together.

    Example:
        >>> one_line(ZeroDivisionError("division by zero"))
        'ZeroDivisionError: division by zero'
    """
    text = " ".join(str(err).split())
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return type(err).__name__ + (f": {text}" if text else "")


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status: 0 done, 1 an unexpected error, 2 bad input (a
    usage error, a config, a data file, a store), 130 interrupted, 141 the reader left. No error
    shows a traceback unless asked for (``--debug`` or ``EXPLORER_DEBUG=1``, which print it before
    the error's line and keep its status): each is one line, "error: …", on standard error.

    Example:
        >>> main(["bench", "--steps", "0"])
        2
    """
    debug, argv = debugging(list(sys.argv[1:] if argv is None else argv))
    with stop_on_terminate():
        return _main(argv, debug)


def _terminated(signum, frame):
    raise KeyboardInterrupt  # a stop asked from outside (kill, a process manager): as Ctrl-C


@contextlib.contextmanager
def stop_on_terminate():
    """While the command runs, SIGTERM stops it as Ctrl-C does (a training run ends ``cancelled``
    with every record it logged, instead of dying with its last records unwritten); the handler
    before is put back after. Only in the main thread, where Python runs signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str], debug: bool) -> int:
    commands = {"train": _train, "runs": _runs, "bench": _bench, "parity": _parity, "sweep": _sweep,
                "reproduce": _reproduce, "embed-bench": _embed_bench, "seeds-bench": _seeds_bench,
                "stress": _stress}
    try:
        try:
            args = _parser().parse_args(argv)
        except SystemExit as done:  # --help, or a usage error argparse has already printed
            if sys.stdout is not None:
                sys.stdout.flush()
            return done.code if isinstance(done.code, int) else 2
        if args.command != "runs":   # they read a store, and say when there is none
            check_store_folder(getattr(args, "store", None))
        code = commands[args.command](args)
        if sys.stdout is not None:  # None: started with standard output closed
            sys.stdout.flush()  # a reader that left early shows here, not in the interpreter's last flush
        return code
    except BrokenPipeError:
        return reader_left()
    except (ConfigError, DatasetError, StoreError) as err:
        show_traceback(debug)
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        show_traceback(debug)
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # the last resort: one line, never a traceback unless asked for
        show_traceback(debug)
        if isinstance(err, OSError) and err.filename is not None:
            print(f"error: {err.filename}: {err.strerror or one_line(err)}", file=sys.stderr)
        else:
            print(f"error: {one_line(err)}" + ("" if debug else " (run again with --debug for the traceback)"),
                  file=sys.stderr)
        return 1


def show_traceback(debug: bool) -> None:
    """With ``--debug``, the traceback of the error being handled, on standard error, before its
    one line: the exit status stays the one the error has without it."""
    if debug:
        traceback.print_exc(file=sys.stderr)


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
