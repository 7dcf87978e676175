"""The command line, run as a user runs it: ``python -m explorer ...`` in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, **kwargs)


def test_train_from_a_config_file_prints_json_with_flags_overriding_the_file(tmp_path):
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


def test_train_prints_a_readable_summary():
    out = run("train", "--rule", "fa", "--epochs", "1", "--hidden", "16,16", "--device", "cpu")
    assert out.returncode == 0, out.stderr
    assert "status: done" in out.stdout and "layers.1" in out.stdout and "test acc" in out.stdout


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
