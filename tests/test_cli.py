"""The command line, run as a user runs it: ``python -m explorer ...`` in a subprocess."""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from explorer import cli, config
from explorer.config.dataset_options import DATASET_OPTIONS
from explorer.runs.jobs import JobManager
from explorer.runs.store import Store

from conftest import small_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def store_path(tmp_path, monkeypatch):
    """Every command here writes its runs into a store of its own, never into ~/.explorer."""
    path = tmp_path / "runs.sqlite"
    monkeypatch.setenv("EXPLORER_STORE", str(path))
    return path


def run(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, **kwargs)


def test_train_from_a_config_file_prints_json_with_flags_overriding_the_file(tmp_path, store_path):
    cfg = {"model": {"name": "mlp", "hidden": [32], "activation": "tanh"}, "algorithm": {"name": "dfa"},
           "train": {"epochs": 5, "batch_size": 64}, "device": "cpu"}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(cfg))
    out = run("train", "--config", str(path), "--epochs", "2", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)  # strict JSON: NaN would not parse
    assert result["status"] == "done" and result["diverged_at"] is None
    assert result["config"]["train"]["epochs"] == 2 and result["config"]["algorithm"]["name"] == "dfa"
    assert result["final"]["epoch"] == 2.0 and 0.5 < result["final"]["test_acc"] <= 1.0
    assert "step/s" in out.stderr or "it/s" in out.stderr or "%" in out.stderr  # the tqdm bar
    with Store(store_path) as store:  # the run is in the store, under the printed id
        info = store.get_run(result["id"])
        assert info.status == "done" and info.config == result["config"] and result["store"] == str(store_path)
        assert store.metrics(info.id)[-1]["test_acc"] == result["final"]["test_acc"]


def test_train_prints_its_curve_a_line_per_epoch_then_a_readable_summary(tmp_path):
    other = tmp_path / "elsewhere" / "my-runs.sqlite"
    other.parent.mkdir()
    out = run("train", "--rule", "fa", "--epochs", "3", "--hidden", "16,16", "--device", "cpu", "--store", str(other))
    assert out.returncode == 0, out.stderr
    assert "status: done" in out.stdout and "test acc" in out.stdout
    lines = out.stdout.splitlines()
    run_id = lines[0].split()[1]  # "run <id> (in <store>)"
    assert lines[1].split() == ["epoch", "train", "loss", "train", "acc", "test", "loss", "test", "acc"]
    curve = [line.split() for line in lines[2:5]]
    with Store(other) as store:
        assert store.get_run(run_id).config["algorithm"]["name"] == "fa"
        ends = [r for r in store.metrics(run_id) if float(r["epoch"]).is_integer()]
    assert [row[0] for row in curve] == ["1", "2", "3"] and len(ends) == 3
    for row, record in zip(curve, ends):  # each epoch's line: its end's test figures (its train ones: the
        printed = [float(v) for v in row[3:]]   # whole epoch's means, checked in the test after the next)
        assert printed == pytest.approx([record["test_loss"], record["test_acc"]], abs=5e-5)
    assert lines[5] == "status: done"
    layers = [line[:17].strip() for line in lines[8:]]  # the alignment table names layers in words
    assert layers == ["hidden layer 1", "hidden layer 2"]


def test_a_reader_that_leaves_early_ends_the_output_quietly(store_path):
    """``runs list | head``: once the reader has gone, the listing stops without a traceback."""
    with Store(store_path) as store:
        for _ in range(200):  # more than one buffer of output, so a print itself meets the closed pipe
            store.create_run(TINY)
    child = subprocess.Popen([sys.executable, "-m", "explorer", "runs", "list"], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # the reader leaves before the first line (the child is still importing)
    err, code = child.stderr.read(), child.wait(300)
    assert "Traceback" not in err and "BrokenPipeError" not in err and err == ""
    assert code == 141  # 128 + SIGPIPE: what a shell reports for a tool its reader left (`yes | head`)


def subcommand_parsers(parser):
    """Every parser under ``parser`` (itself, its subcommands, theirs), with its command words."""
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from subcommand_parsers(sub)


def modules_loaded(*argv: str, code: int = 0) -> set[str]:
    """The modules ``python -m explorer ARGV`` imports, read from Python's own ``-X importtime`` log;
    the command must exit with ``code``."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "explorer", *argv], capture_output=True,
                         text=True, cwd=ROOT, timeout=300)
    assert out.returncode == code, out.stderr[-2000:]
    return {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}


def test_help_the_run_list_and_a_mistyped_flag_answer_without_loading_torch_pandas_or_scipy(store_path):
    """A student's ``--help``, ``runs list`` or mistyped flag is answered in a fraction of a second:
    the package and the command line import torch, pandas and scipy only for the work that uses them."""
    for argv, code in ((["--help"], 0), (["runs", "list"], 0), (["train", "--lr", "-1"], 2)):
        heavy = {"torch", "pandas", "scipy", "sklearn"} & modules_loaded(*argv, code=code)
        assert not heavy, f"python -m explorer {' '.join(argv)} loaded {sorted(heavy)}"
    assert "torch" in modules_loaded("train", "--epochs", "1", "--hidden", "4")  # the test can see an import


def test_every_help_is_plain_text_without_markup():
    helps = dict(subcommand_parsers(cli._parser()))
    assert {"python -m explorer train", "python -m explorer runs list", "python -m explorer parity"} <= set(helps)
    for prog, parser in helps.items():
        assert "`" not in parser.format_help(), prog
    top = run("--help")
    assert top.returncode == 0 and "`" not in top.stdout and "train" in top.stdout


@pytest.fixture(scope="module")
def train_help() -> str:
    """``train --help`` as a user sees it, its lines joined (a long list wraps)."""
    out = subprocess.run([sys.executable, "-m", "explorer", "train", "--help"], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    return " ".join(out.stdout.split())


@pytest.mark.parametrize("flag, names", [("--rule", config.RULES), ("--dataset", list(DATASET_OPTIONS)),
                                         ("--model", list(config.MODEL_OPTIONS)), ("--loss", config.LOSSES),
                                         ("--optimizer", config.OPTIMIZERS), ("--activation", config.ACTIVATIONS),
                                         ("--device", config.DEVICES)])
def test_train_help_lists_every_name_the_config_accepts(train_help, flag, names):
    listed = train_help.split(f"{flag} {flag[2:].upper()} sets ", 1)[1].split(" --", 1)[0]  # "data.name: digits, ..."
    assert listed.split(": ", 1)[1].split(", ") == list(names)


def test_train_help_names_every_rule_and_option_of_the_registry(train_help):
    from explorer.config.registry import OPTIONS, RULES

    rules = train_help.split("rules (--rule): ", 1)[1]
    assert all(f"{key}: {' '.join(spec.help.split())}" in rules for key, spec in RULES.items())
    for name, option in OPTIONS.items():
        flag = f"--{name.replace('_', '-')}"
        said = train_help.split(f"{flag} {name.upper()} sets algorithm.{name} ", 1)[1].split(" --", 1)[0]
        takers = [key for key, spec in RULES.items() if name in spec.options]
        assert said.startswith(f"(rule {', '.join(takers)}): {' '.join(option.help.split())}"), said


def test_rule_option_flags_set_the_rule_and_a_rule_that_does_not_take_one_ignores_it():
    args = cli._parser().parse_args(["train", "--rule", "bdfa", "--block-size", "2", "--hidden", "4x8"])
    cfg = cli.config_from_args(args)
    assert cfg.algorithm.block_size == 2 and cfg.model.hidden == (8, 8, 8, 8)
    cfg = cli.config_from_args(cli._parser().parse_args(["train", "--rule", "fa", "--block-size", "2",
                                                         "--sign-refresh", "epoch"]))
    assert cfg.algorithm.block_size is None and cfg.algorithm.sign_refresh == "epoch"
    with pytest.raises(config.ConfigError) as caught:
        cli.config_from_args(cli._parser().parse_args(["train", "--rule", "sdfa", "--connections", "0"]))
    assert caught.value.field == "algorithm.connections"


def test_a_rule_option_flag_the_rule_does_not_take_is_left_out_with_a_note(capsys, store_path):
    code, _, err = main(capsys, "train", "--rule", "ifa", "--bp-depth", "5", "--hidden", "8", "--epochs", "1",
                        "--device", "cpu", "--json")
    assert code == 0
    assert err.splitlines()[0] == "note: --bp-depth is left out: rule 'ifa' takes no top layers trained by BP " \
                                  "(an option of fp)"
    with Store(store_path) as store:
        [info] = store.list_runs()
    assert info.config["algorithm"] == {"name": "ifa"}


def test_model_flag_switches_network_without_the_default_mlps_widths(tmp_path):
    # the default MLP's hidden widths must not ride along into a network that takes none
    for name in ("lenet5", "resnet20", "tutorial_cnn"):
        cfg = cli.config_from_args(cli._parser().parse_args(["train", "--model", name, "--dataset", "mnist"]))
        assert cfg.model.name == name and cfg.model.hidden is None
    # a file that does give widths, with --model naming a network that takes none, is a real conflict
    path = tmp_path / "mlp.json"
    path.write_text(json.dumps({"model": {"hidden": [32]}}))
    with pytest.raises(config.ConfigError) as caught:
        cli.config_from_args(cli._parser().parse_args(["train", "--config", str(path), "--model", "lenet5"]))
    assert caught.value.field == "model.hidden"


def test_sign_refresh_none_puts_a_files_refresh_back_to_plain_fa(tmp_path):
    path = tmp_path / "signs.json"
    path.write_text(json.dumps({"algorithm": {"name": "fa", "sign_refresh": "epoch"}}))
    args = ["train", "--config", str(path)]
    assert cli.config_from_args(cli._parser().parse_args(args)).algorithm.sign_refresh == "epoch"
    cfg = cli.config_from_args(cli._parser().parse_args([*args, "--sign-refresh", "none"]))
    assert cfg.algorithm.name == "fa" and cfg.algorithm.sign_refresh is None
    with pytest.raises(config.ConfigError) as caught:
        cli.config_from_args(cli._parser().parse_args([*args, "--sign-refresh", "never"]))
    assert caught.value.field == "algorithm.sign_refresh" and "--sign-refresh" in str(caught.value)


def test_hidden_widths_are_read_by_the_one_width_parser():
    from explorer.views.urlstate import parse_widths

    for text in ("256,256", "64, 32", "3x16"):
        assert list(cli.config_from_args(cli._parser().parse_args(["train", "--hidden", text])).model.hidden) == \
            parse_widths(text)
    out = run("train", "--hidden", "64,x")
    assert out.returncode == 2 and "--hidden must be whole numbers" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("argv, words", [
    (("train", "--lr", "nan"), "error: --lr must be a finite number, got nan (see python -m explorer train --help)"),
    (("runs", "list", "--limit", "-1"), "error: --limit must be at least 1, got -1"),
    (("runs",), "error: the following arguments are required: RUNS_COMMAND"),
    (("train", "--epochs", "abc"), "error: --epochs must be a whole number, got 'abc'")])
def test_a_usage_error_is_one_line_naming_the_flag_with_exit_code_2(argv, words):
    out = run(*argv)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith(words), out.stderr  # argparse's usage block left out


def test_a_bad_field_is_a_clear_error_and_exit_code_2(tmp_path):
    out = run("train", "--lr", "-1")
    assert out.returncode == 2 and "optimizer.lr" in out.stderr and "Traceback" not in out.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    out = run("train", "--config", str(bad))
    assert out.returncode == 2 and "--config" in out.stderr and "Traceback" not in out.stderr


def test_bench_prints_one_json_object_with_every_asked_rule_and_the_plain_loop():
    out = run("bench", "--rules", "bp,dfa", "--steps", "2", "--rounds", "1", "--no-memory", "--json",
              "--device", "cpu")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result["rules"]) == {"bp", "dfa"}
    for row in (*result["rules"].values(), result["plain_autograd"]):
        assert row["samples_per_s"] > 0
    ratio = result["rules"]["dfa"]["samples_per_s"] / result["rules"]["bp"]["samples_per_s"]
    assert abs(result["ratios"]["dfa_over_bp"] - ratio) < 1e-9


def main(capsys, *argv) -> tuple[int, str, str]:
    """The command line in this process: (exit code, stdout, stderr)."""
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


TINY = small_config(model={"name": "mlp", "hidden": [8]}, train={"epochs": 1})


def test_runs_list_show_export_and_delete(capsys, store_path, tmp_path):
    with JobManager(store_path) as jobs:
        alone = jobs.submit(TINY)
        pair = jobs.submit_group([TINY, TINY | {"algorithm": {"name": "dfa"}}])
        assert [h.wait(60) for h in (alone, *pair)] == ["done"] * 3
    group = pair[0].group
    code, out, _ = main(capsys, "runs", "list", "--json")
    listed = json.loads(out)
    assert code == 0 and [r["id"] for r in listed] == [pair[1].id, pair[0].id, alone.id]
    assert all({"id", "status", "config", "created"} <= set(r) and r["status"] == "done" for r in listed)
    assert listed[0]["config"]["algorithm"]["name"] == "dfa" and listed[0]["group"] == group
    code, out, _ = main(capsys, "runs", "list", "--group", group)
    assert code == 0 and alone.id not in out and pair[0].id in out and "dfa mlp[8] on digits" in out
    code, out, _ = main(capsys, "runs", "show", alone.id, "--json")
    shown = json.loads(out)  # strict JSON: NaN became null
    assert code == 0 and shown["id"] == alone.id and [r["step"] for r in shown["metrics"]] == [1, 4, 8, 12, 16, 20, 22]
    assert shown["metrics"][0]["layers"][0]["weight_cos"] is None and shown["checkpoints"] == [22]
    code, out, _ = main(capsys, "runs", "show", alone.id)
    assert code == 0 and f"run {alone.id}: done" in out and "22/22 steps, 7 records" in out
    code, out, _ = main(capsys, "runs", "export", group, "--format", "csv")
    table = pd.read_csv(io.StringIO(out))
    assert code == 0 and len(table) == 14 and set(table["run"]) == {pair[0].id, pair[1].id}
    assert set(table["rule"]) == {"bp", "dfa"} and "layers.0.update_cos" in table.columns
    code, _, err = main(capsys, "runs", "export", alone.id, "--format", "json", "--out", str(tmp_path / "one.json"))
    assert code == 0 and json.loads((tmp_path / "one.json").read_text())["id"] == alone.id
    code, out, _ = main(capsys, "runs", "export", group, "--format", "json")
    assert code == 0 and [r["id"] for r in json.loads(out)["runs"]] == [pair[0].id, pair[1].id]
    code, out, _ = main(capsys, "runs", "delete", group)
    assert code == 0 and "deleted group" in out and "2 run(s)" in out
    code, out, _ = main(capsys, "runs", "delete", alone.id)
    assert code == 0 and json.loads(main(capsys, "runs", "list", "--json")[1]) == []
    code, _, err = main(capsys, "runs", "show", alone.id)
    assert code == 2 and f"no run {alone.id}" in err


def test_runs_list_says_what_a_sweep_gave_each_run(capsys, store_path):
    from explorer.runs.sweep import sweep

    # two rules × two rates: the rows would read alike but for their grid points; block_size is bdfa's
    # own option, which validation leaves out of dfa's config
    base = TINY | {"algorithm": {"name": "dfa", "block_size": 2}}
    sweep(base, {"algorithm.name": ["dfa", "bdfa"], "optimizer.lr": [0.1, 0.02]}, seeds=1, store=str(store_path))
    code, out, _ = main(capsys, "runs", "list")
    rows = out.splitlines()[1:]
    given = sorted(re.search(r"on digits, seed 0 (.*)  group", row).group(1) for row in rows)
    assert code == 0 and given == ['algorithm.name="bdfa" optimizer.lr=0.02', 'algorithm.name="bdfa" optimizer.lr=0.1',
                                   'algorithm.name="dfa" optimizer.lr=0.02', 'algorithm.name="dfa" optimizer.lr=0.1']
    sweep(base, {"algorithm.block_size": [2, 4]}, seeds=1, store=str(store_path))
    newest = main(capsys, "runs", "list", "--limit", "2")[1].splitlines()[1:]
    assert sorted(re.search(r"seed 0 (\S+)", row).group(1) for row in newest) == ["algorithm.block_size=-"] * 2


def test_malformed_ids_and_bad_store_files_are_clear_errors(capsys, tmp_path):
    for argv in (("runs", "show", "1 OR 1=1"), ("runs", "delete", "../x"), ("runs", "export", "ABCDEF")):
        code, out, err = main(capsys, *argv)
        assert code == 2 and "must be 16 lowercase hex characters" in err and out == ""
    code, _, err = main(capsys, "runs", "list", "--limit", "0")
    assert code == 2 and "--limit must be at least 1" in err
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database " * 50)
    code, _, err = main(capsys, "runs", "list", "--store", str(notes))
    assert code == 2 and "is not an explorer run store" in err and notes.read_text() == "not a database " * 50


def test_runs_show_given_a_group_id_says_it_is_a_group(capsys, store_path):
    with Store(store_path) as store:
        group = store.create_group(seed=0, label="a comparison")
    for extra in ((), ("--json",)):
        code, out, err = main(capsys, "runs", "show", group, *extra)
        assert (code, out) == (2, "")
        assert err == f"error: {group} is a group, not a run: `runs list --group {group}` lists its runs\n"
    code, _, err = main(capsys, "runs", "show", "0" * 16)
    assert code == 2 and err == f"error: no run {'0' * 16} in {store_path}\n"


def test_runs_commands_on_a_path_with_no_store_make_nothing_there(capsys, tmp_path):
    missing = tmp_path / "typo" / "runs.sqlite"
    code, out, _ = main(capsys, "runs", "list", "--store", str(missing))
    assert code == 0 and f"there is no run store at {missing}" in out
    assert json.loads(main(capsys, "runs", "list", "--json", "--store", str(missing))[1]) == []
    for argv in (("show", "0" * 16), ("export", "0" * 16), ("delete", "0" * 16)):
        code, _, err = main(capsys, "runs", *argv, "--store", str(missing))
        assert code == 2 and err.startswith(f"error: --store: there is no run store at {missing}"), err
    assert list(tmp_path.iterdir()) == []  # neither the folder nor an empty store was made


def test_reproduce_on_a_device_the_machine_lacks_is_one_error_before_any_run(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("explorer.engine.device.available_devices", lambda: {"cpu"})
    store = tmp_path / "runs.sqlite"
    code, _, err = main(capsys, "reproduce", "lillicrap-linear", "--device", "cuda", "--store", str(store))
    assert code == 2 and err == "error: --device: 'cuda' was asked for but this machine has none; use 'auto' or 'cpu'\n"
    assert not store.exists()


def test_bench_on_a_device_the_machine_lacks_names_its_flag(capsys, monkeypatch):
    monkeypatch.setattr("explorer.engine.device.available_devices", lambda: {"cpu"})
    code, _, err = main(capsys, "bench", "--device", "cuda", "--steps", "2")
    assert code == 2 and err == "error: --device: 'cuda' was asked for but this machine has none; use 'auto' or 'cpu'\n"


@pytest.mark.parametrize("argv, expected", [   # digits: 1,797 images less the 359 (a fifth) held out
    (["--batch-size", "100000"], "error: --batch-size: train.batch_size must be at most the 1,438 training samples "
                                 "of 'digits', got 100,000\n"),
    (["--rule", "sdfa", "--connections", "1000"], "error: --connections: algorithm.connections must be at most the "
                                                  "source width 10, got 1000\n"),
    (["--loss", "bce"], "error: --loss: 'bce' needs a two-class dataset; 'digits' has 10 classes\n"),
])
def test_a_setup_refused_against_its_data_names_the_flag_and_stores_no_run(capsys, store_path, argv, expected):
    code, out, err = main(capsys, "train", "--epochs", "1", "--device", "cpu", *argv)
    assert (code, out, err) == (2, "", expected)
    with Store(store_path) as store:
        assert store.list_runs() == []


def test_a_mistyped_store_or_data_folder_is_told_before_any_run_and_nothing_is_made(capsys, tmp_path, store_path):
    code, _, err = main(capsys, "train", "--store", str(tmp_path / "typo" / "runs.sqlite"), "--epochs", "1")
    assert code == 2 and err.startswith(f"error: --store: no folder {tmp_path / 'typo'}"), err
    code, _, err = main(capsys, "train", "--dataset", "mnist", "--data-root", str(tmp_path / "nowhere"),
                        "--epochs", "1", "--device", "cpu")
    assert code == 2 and err.startswith(f"error: --data-root: no folder {tmp_path / 'nowhere'}"), err
    assert list(tmp_path.iterdir()) == []   # no folder made, and no store with a failed run in it
    (tmp_path / "notes.txt").write_text("a file")
    code, _, err = main(capsys, "sweep", "--store", str(tmp_path / "notes.txt" / "runs" / "runs.sqlite"),
                        "--config", "c.json", "--grid", "g.json", "--out", str(tmp_path / "s.csv"))
    assert (code, err) == (2, f"error: --store: {tmp_path / 'notes.txt'} is a file, not a folder\n")
    assert (tmp_path / "notes.txt").read_text() == "a file"


def test_a_run_that_fails_in_train_is_stored_as_failed_and_exits_2(capsys, tmp_path, store_path):
    (tmp_path / "empty").mkdir()   # a folder without the files: the run starts, and fails on them
    code, _, err = main(capsys, "train", "--dataset", "mnist", "--data-root", str(tmp_path / "empty"),
                        "--hidden", "8", "--epochs", "1", "--device", "cpu")
    assert code == 2 and "error:" in err and "failed; it is kept in" in err
    with Store(store_path) as store:
        [info] = store.list_runs()
    assert info.status == "failed" and "MNIST" in info.error


def test_reproduce_list_json_parses_with_the_keys_of_every_entry(capsys):
    from explorer.experiments.catalogue import CATALOGUE

    assert cli.main(["reproduce", "--list", "--json", "--data", "/nowhere"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["id"] for e in listed] == list(CATALOGUE)
    for e in listed:
        assert {"id", "source", "ref", "title", "scales", "published", "dataset", "data_missing"} <= set(e)
        assert set(e["scales"]) == {"full", "classroom", "smoke"}
        assert (e["data_missing"] is None) == (e["dataset"] not in ("mnist", "fashion_mnist", "kmnist", "notmnist",
                                                                    "cifar10", "parity") or
                                               e["setting"]["data"].get("base", "mnist") != "mnist")
    document = listed[0]["source"]
    assert cli.main(["reproduce", "--list", "--json", "--source", document[:3]]) == 0
    assert [e["id"] for e in json.loads(capsys.readouterr().out)] == \
        [e.id for e in CATALOGUE.values() if e.source == document]


def test_reproduce_list_names_each_document_and_cuts_no_column_but_the_title(capsys):
    from explorer.experiments.catalogue import CATALOGUE

    assert cli.main(["reproduce", "--list", "--data", "/nowhere"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["id", "document", "ref", "dataset", "data", "title"]
    starts = [header.index(name) for name in ("document", "ref", "dataset", "data  ", "title")]
    by_id = {row.split()[0]: row for row in rows}
    assert list(by_id) == list(CATALOGUE)
    for entry_id, document, ref in (("dipasquale-t3.1", "Di Pasquale 2019", "Table 3.1"),
                                    ("biotorch-fashion", "Sanfiz & Akrout 2021", "Table (Fashion-MNIST, LeNet)"),
                                    ("zarlenga-t1", "Espinosa Zarlenga & Niklasson", "Table 1")):
        row = by_id[entry_id]
        assert row[starts[0]:starts[1]].strip() == document and row[starts[1]:starts[2]].strip() == ref
    # a document is picked by its name as listed, in any case, or by the start of it
    for words in ("Di Pasquale 2019", "di pasquale", "000"):
        assert cli.main(["reproduce", "--list", "--json", "--source", words]) == 0
        assert {e["id"].split("-")[0] for e in json.loads(capsys.readouterr().out)} == {"dipasquale"}


def test_reproduce_a_bad_id_or_document_exits_2_naming_it(capsys, monkeypatch):
    from explorer.experiments import catalogue

    fake = argparse.Namespace(source="000_x.txt", id="x")
    monkeypatch.setattr(catalogue, "CATALOGUE", {"dp-3.1": fake, "dp-3.12": fake, "shah-1": fake})
    assert cli.main(["reproduce", "dp-3.2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no catalogue entry 'dp-3.2'") and "dp-3.1" in err and "Traceback" not in err
    assert cli.main(["reproduce", "--source", "nosuch.txt", "--list"]) == 2
    assert "--source: no document 'nosuch.txt' in the catalogue; documents: 000_x.txt" in capsys.readouterr().err


def test_reproduce_trains_resumes_prints_the_table_and_writes_the_report(capsys, monkeypatch, tmp_path):
    from explorer.experiments import catalogue
    from explorer.experiments.catalogue import Entry, Published, Run, Scale

    setting = {"data": {"name": "random", "samples": 128, "features": 8}, "model": {"hidden": [4]},
               "train": {"epochs": 3}, "device": "cpu"}
    demo = Entry("demo", "000_demo.txt", "Table 1", "BP", setting, (Run("BP", {}),),
                 (Published("BP", "test_acc", 50.0),), 100.0, Scale({"train.epochs": 2}, "2 epochs"),
                 Scale({"train.epochs": 1}, "1 epoch"))
    cifar = Entry("cifar", "000_demo.txt", "Table 2", "CIFAR", {**setting, "data": {"name": "cifar10"}},
                  (Run("BP", {}),), (Published("BP", "test_acc", 60.0),), 1.0, Scale({}, "-"), Scale({}, "-"))
    monkeypatch.setattr(catalogue, "CATALOGUE", {"demo": demo, "cifar": cifar})
    store = tmp_path / "runs.sqlite"
    args = ["reproduce", "--scale", "smoke", "--store", str(store), "--data", str(tmp_path), "--parallel", "2", "--json"]
    assert cli.main(args + ["--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr()
    rows = json.loads(out.out)
    assert [(r["id"], r["verdict"], r["n"]) for r in rows] == [("demo", "reproduced", 1), ("cifar", "not run", 0)]
    assert rows[1]["detail"] == f"not run: in {tmp_path}, put cifar-10-batches-py (data_batch_1 … data_batch_5, test_batch)"
    assert "1 run(s) trained, 0 already in" in out.err
    assert (tmp_path / "report" / "README.md").exists() and (tmp_path / "report" / "demo.png").stat().st_size > 0
    assert cli.main(args[:-1] + ["demo"]) == 0   # again: nothing to train; the table for a terminal
    out = capsys.readouterr()
    assert "0 run(s) trained, 1 already in" in out.err and len(Store(store).list_runs()) == 1
    assert out.out.splitlines()[0].split() == ["entry", "ref", "run", "metric", "published", "measured", "n",
                                               "verdict", "detail", "order"]
    empty = tmp_path / "empty.sqlite"
    assert cli.main(["reproduce", "demo", "--no-train", "--json", "--store", str(empty)]) == 0
    assert [r["verdict"] for r in json.loads(capsys.readouterr().out)] == ["not run"]
    assert Store(empty).list_runs() == []


def test_train_flags_for_schedules_augmentation_reduction_dropout_and_resizing(capsys):
    args = cli._parser().parse_args(["train", "--dataset", "mnist", "--schedule", '{"name": "step", "step_size": 2, '
                                     '"gamma": 0.5}', "--augment", '{"crop_padding": 4, "flip": true}', "--reduction",
                                     "sum", "--dropout", "0.25", "--resize", "32,32"])
    d = cli.config_from_args(args).to_dict()
    assert d["optimizer"]["schedule"] == {"name": "step", "step_size": 2, "gamma": 0.5}
    assert d["train"]["augment"] == {"crop_padding": 4, "flip": True} and d["train"]["reduction"] == "sum"
    assert d["model"]["dropout"] == 0.25 and d["data"]["resize"] == [32, 32]
    assert cli.main(["train", "--schedule", "{bad"]) == 2
    assert capsys.readouterr().err.startswith("error: --schedule: not valid JSON ({bad: ")


def test_the_printed_train_columns_are_whole_epoch_means_whatever_the_logging_interval(tmp_path):
    lines = {}
    for every in ("1", "1000"):
        store = tmp_path / f"log{every}.sqlite"
        out = run("train", "--rule", "dfa", "--epochs", "2", "--hidden", "16", "--device", "cpu", "--seed", "3",
                  "--log-every", every, "--store", str(store))
        assert out.returncode == 0, out.stderr
        lines[every] = [line.split() for line in out.stdout.splitlines()[2:4]]
    assert lines["1"] == lines["1000"], lines   # the same training, logged more or less often
    with Store(tmp_path / "log1.sqlite") as store:   # one record a step: the epoch's mean by hand
        [info] = store.list_runs()
        records = store.metrics(info.id)
    for epoch, line in enumerate(lines["1"], start=1):
        steps = [r for r in records if epoch - 1 < r["epoch"] <= epoch]
        assert float(line[1]) == pytest.approx(sum(r["train_loss"] for r in steps) / len(steps), abs=1e-4)
        assert float(line[2]) == pytest.approx(sum(r["train_acc"] for r in steps) / len(steps), abs=1e-4)
