"""Hostile command lines: every one ends with one "error: …" line naming the flag or the file, a
non-zero exit status and no traceback (issue 15, item 5).

The table runs ``python -m explorer`` in this process (`explorer.cli.main`); a subprocess only where
the process itself is the point (a reader that closed the pipe).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import small_config
from explorer import cli
from explorer.runs.store import Store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def files(tmp_path) -> dict[str, str]:
    """Hostile files: binary, a JSON list, nested too deep, an integer of 5000 digits, Infinity, a folder."""
    made = {"binary": bytes(range(256)) * 4, "list": b"[1, 2]", "deep": b"[" * 100_000,
            "digits": b'{"seed": ' + b"9" * 5000 + b"}", "infinite": b'{"train": {"epochs": Infinity}}',
            "nan": b'{"optimizer": {"lr": NaN}}', "not-a-store": b"these are notes\n" * 64}
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
    return {name: str(tmp_path / name) for name in made} | {"folder": str(tmp_path)}


# (argv, a fragment the error line must hold: the flag, the field or the file)
CASES = [
    (["train", "--config", "{binary}"], "--config: {binary} is not a JSON file"),
    (["train", "--config", "{list}"], "--config {list}: a run config must be an object"),
    (["train", "--config", "{deep}"], "--config {deep}: not valid JSON (nested too deep)"),
    (["train", "--config", "{digits}"], "--config {digits}: not valid JSON"),
    (["train", "--config", "{infinite}"], "--config {infinite}: train.epochs"),
    (["train", "--config", "{nan}"], "--config {nan}: optimizer.lr must be a finite number"),
    (["train", "--config", "{folder}"], "--config: cannot read {folder}"),
    (["train", "--config", "/dev/zero"], "--config: /dev/zero is larger than"),
    (["train", "--config", ""], "--config: the file's path is empty"),
    (["train", "--epochs", "1e20"], "--epochs: train.epochs must be at most 1000000"),
    (["train", "--epochs", "1.5"], "--epochs must be a whole number"),
    (["train", "--lr", "1e39"], "--lr: optimizer.lr must be at most"),
    (["train", "--lr", "nan"], "--lr must be a finite number"),
    (["train", "--seed", "1e30"], "--seed: seed must be at most"),
    (["train", "--hidden", "64,,64"], "--hidden has an empty width"),
    (["train", "--hidden", "64,"], "--hidden has an empty width"),
    (["train", "--hidden", "99999999999x64"], "--hidden: at most 1024 hidden layers"),
    (["train", "--hidden", "0"], "--hidden: model.hidden[0] must be at least 1"),
    (["train", "--schedule", "[" * 100_000], "--schedule: not valid JSON"),
    (["train", "--schedule", '{"name": "step", "step_size": 1e30}'], "--schedule: optimizer.schedule.step_size"),
    (["train", "--block-size", "1e9"], "--block-size: algorithm.block_size must be at most"),
    (["train", "--store", "{not-a-store}"], "{not-a-store} is not an explorer run store"),
    (["train", "--lock-wait", "-1"], "--lock-wait must be at least 0"),
    (["train", "--lock-wait", "inf"], "--lock-wait must be a finite number"),
    (["bench", "--steps", "0"], "--steps must be at least 1"),
    (["bench", "--rounds", "0"], "--rounds must be at least 1"),
    (["bench", "--steps", "1e30"], "--steps must be at most"),
    (["seeds-bench", "--seeds", "100000"], "--seeds must be at most 1000"),
    (["embed-bench", "--sizes", "0"], "--sizes must be at least 91"),
    (["embed-bench", "--sizes", "100,x"], "--sizes must be a whole number"),
    (["parity", "--base", "digits", "--epochs", "1e20"], "--epochs: a whole number from 1 to 1,000, got 1"),
    (["parity", "--base", "digits", "--k", "0"], "--k: between 1 and 10 digits per sample, got 0"),
    (["parity", "--base", "digits", "--rules", "bp,nope"], "--rules: 'nope' is not a rule here"),
    (["parity", "--base", "digits", "--lr", "0.5,-1"], "--lr: every learning rate must be a finite number greater "
                                                       "than 0, got -1"),
    (["parity", "--base", "digits", "--lr", "nan"], "--lr: every learning rate must be a finite number"),
    (["parity", "--base", "digits", "--optimizer", "nope"], "--optimizer: unknown optimiser 'nope'"),
    (["parity", "--base", "digits", "--train-samples", "5"], "--train-samples: a whole number from 10 to 200,000"),
    (["parity", "--base", "mnist", "--root", "{folder}"], "--root: MNIST is not in {folder}/MNIST/raw"),
    (["parity", "--seeds", "0"], "--seeds must be at least 1"),
    (["parity", "--base", "digits", "--epochs", "1", "--seeds", "1", "--rules", "bp", "--out", "{folder}/no/p.csv"],
     "--out: cannot write {folder}/no/p.csv"),
    (["parity", "--base", "digits", "--epochs", "1", "--seeds", "1", "--rules", "bp", "--out", "/proc/p.csv"],
     "--out: cannot write /proc/p.csv: the folder /proc takes no new file"),
    (["sweep", "--config", "{binary}", "--grid", "{list}"], "--config: {binary} is not a JSON file"),
    (["sweep", "--config", "{list}", "--grid", "{list}"], "a run config must be an object"),
    (["reproduce", "--seeds", "0", "--list"], "--seeds must be at least 1"),
    (["reproduce", "--source", " ", "--list"], "--source: give a document's name"),
    (["runs", "list", "--limit", "1e30"], "--limit must be at most"),
    (["runs", "list", "--store", "{binary}"], "{binary} is not an explorer run store"),
    (["runs", "show", "../../etc/passwd"], "run id must be 16 lowercase hex characters"),
    (["runs", "list", "--group", "nonexistent"], "--group: group id must be 16 lowercase hex characters"),
    (["train", "--rule", "fa", "--sign-refresh", "bogus"], "--sign-refresh: must be one of none, init, epoch, step; "
                                                           "got 'bogus'"),
    (["stress", "--only", "nope"], "--only: no check 'nope'"),
    (["stress", "--folder", "{binary}"], "--folder: {binary} is a file, not a folder"),
    (["reproduce", "lillicrap-linear", "--scale", "smoke", "--out", "{binary}"], "--out: {binary} is a file, not a folder"),
    (["reproduce", "lillicrap-linear", "--scale", "smoke", "--out", "{binary}/report"],
     "--out: cannot make {binary}/report: {binary} is a file, not a folder"),
    (["reproduce", "lillicrap-linear", "--scale", "smoke", "--out", "/proc/report"], "--out: cannot write in /proc"),
]


def fill(text: str, files: dict[str, str]) -> str:
    for name, path in files.items():
        text = text.replace("{" + name + "}", path)
    return text


@pytest.mark.parametrize("argv, expected", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_a_hostile_command_line_is_one_error_line_naming_the_flag_or_file(argv, expected, files, store_path, capsys):
    code = cli.main([fill(a, files) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.count("error:") == 1
    assert fill(expected, files) in err


def test_an_unexpected_error_is_one_line_unless_debug_asks_for_the_traceback(monkeypatch, capsys, store_path):
    def broken(args):
        return 1 // 0

    monkeypatch.setattr(cli, "_runs", broken)
    assert cli.main(["runs", "list"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["error: ZeroDivisionError: integer division or modulo by zero "
                                        "(run again with --debug for the traceback)"]
    assert cli.main(["runs", "list", "--debug"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):") and "return 1 // 0" in err
    assert err.strip().splitlines()[-1] == "error: ZeroDivisionError: integer division or modulo by zero"
    monkeypatch.setenv("EXPLORER_DEBUG", "1")
    assert cli.main(["runs", "list"]) == 1 and "Traceback" in capsys.readouterr().err


def test_debug_adds_the_traceback_and_keeps_the_exit_status(capsys, store_path):
    assert cli.main(["train", "--lr", "-1"]) == 2
    plain = capsys.readouterr().err
    assert cli.main(["train", "--lr", "-1", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last):" in err and "ConfigError" in err
    assert err.endswith(plain) and plain.startswith("error: --lr")


def test_an_interrupt_is_one_line_and_status_130(monkeypatch, capsys, store_path):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_bench", interrupted)
    assert cli.main(["bench"]) == 130 and capsys.readouterr().err == "error: interrupted\n"


def test_the_benchmarks_refuse_zero_steps_as_a_library_too():
    from explorer.bench import run_benchmark, seeds_benchmark

    for call in (lambda: run_benchmark(steps=0), lambda: run_benchmark(rounds=0), lambda: seeds_benchmark(steps=0)):
        with pytest.raises(ValueError, match="must be a whole number of at least 1"):
            call()


def _damage(path, run_id: str, config_text: str) -> None:
    with sqlite3.connect(path) as c:
        c.execute("UPDATE runs SET config = ? WHERE id = ?", (config_text, run_id))
    c.close()


def test_runs_show_says_a_stored_config_does_not_validate_and_list_marks_a_damaged_row(store_path, capsys):
    with Store(store_path) as store:
        invalid, not_json, fine = (store.create_run(small_config(seed=s)) for s in range(3))
    _damage(store_path, invalid, json.dumps({"train": {"epochs": -1}}))
    _damage(store_path, not_json, "{cut")
    assert cli.main(["runs", "show", invalid]) == 2
    out, err = capsys.readouterr()
    assert f"run {invalid}: queued" in out and "? ?" not in out
    assert f"error: run {invalid} cannot be used as stored: its config does not validate: train.epochs" in err
    assert cli.main(["runs", "show", not_json]) == 2
    out, err = capsys.readouterr()
    assert "DAMAGED: its config is not JSON" in out and "not JSON" in err and "Traceback" not in err
    assert cli.main(["runs", "show", fine]) == 0
    assert cli.main(["runs", "list"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "DAMAGED" in lines[not_json] and "NOT VALID: its config does not validate" in lines[invalid]
    assert "bp mlp[32,16] on digits, seed 2" in lines[fine] and "DAMAGED" not in lines[fine] + lines[invalid]


def test_lock_wait_is_how_long_a_command_waits_for_another_writer(store_path, capsys):
    with Store(store_path) as store:
        run = store.create_run(small_config())
        store.finish_run(run, "done")
    holder = sqlite3.connect(store_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert cli.main(["runs", "delete", run, "--lock-wait", "0.3"]) == 2
        err = capsys.readouterr().err
        assert "locked by another writer (waited 0.3 s" in err and "Traceback" not in err
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert cli.main(["runs", "delete", run, "--lock-wait", "5"]) == 0


def test_a_reader_that_closed_the_pipe_ends_the_command_quietly(store_path):
    with Store(store_path) as store:
        for seed in range(3):
            store.create_run(small_config(seed=seed))
    read, write = os.pipe()
    os.close(read)  # the reader has left before the first line: every write meets a closed pipe
    for argv in (["runs", "list", "--json"], ["runs", "list"]):
        child = subprocess.run([sys.executable, "-m", "explorer", *argv], cwd=ROOT, stdout=write,
                               stderr=subprocess.PIPE, text=True, timeout=120, env=dict(os.environ))
        assert child.returncode == 141 and child.stderr == "", child.stderr  # 128 + SIGPIPE, as `yes | head`
    os.close(write)


def test_sigterm_stops_a_training_run_as_ctrl_c_does_keeping_its_records(store_path):
    import signal
    import time

    child = subprocess.Popen([sys.executable, "-m", "explorer", "train", "--store", str(store_path), "--dataset",
                              "digits", "--hidden", "8", "--epochs", "1000", "--log-every", "1", "--device", "cpu"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        run = child.stdout.readline().split()[1]  # "run <id> (in <store>)"
        with Store(store_path) as store:
            deadline = time.monotonic() + 120
            while (seen := store.get_run(run).records) < 3:
                assert time.monotonic() < deadline and child.poll() is None
                time.sleep(0.05)
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130 and "Traceback" not in err and f"run {run}: stopped, cancelled" in err
    with Store(store_path) as store:
        info, steps = store.get_run(run), [r["step"] for r in store.metrics(run)]
    assert info.status == "cancelled" and len(steps) >= seen and steps == list(range(1, len(steps) + 1))


def test_runs_show_json_of_a_damaged_run_prints_the_document_and_says_so(store_path, capsys):
    with Store(store_path) as store:
        run = store.create_run(small_config())
    _damage(store_path, run, "[1, 2]")
    assert cli.main(["runs", "show", run, "--json"]) == 2
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert document["damaged"] is True and document["raw_config"] == "[1, 2]"
    assert err == f"error: run {run} cannot be used as stored: {document['problem']}\n"
