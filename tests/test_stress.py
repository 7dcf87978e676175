"""``python -m explorer stress`` (issue 15, item 6): its checks pass here, again on a folder used
before, and fail when the guarantee they check is taken away."""

from __future__ import annotations

import io
import re

import torch

from explorer import cli, stress
from explorer.runs import store as store_module


def test_the_quick_checks_pass_and_pass_again_on_the_same_folder(tmp_path):
    first = stress.run_checks(tmp_path, quick=True)
    assert [r.name for r in first] == [c.name for c in stress.CHECKS]
    for r in first:  # a machine without private mount namespaces skips the full disk, saying why
        assert r.status == "PASS" or (r.name == "full-disk" and r.status == "SKIP" and r.detail), r.line()
    # Again on the same store, which now holds the first pass's runs, its damaged rows among them;
    # the SIGKILL check must find its own run, not the newest one nor the first pass's.
    again = stress.run_checks(tmp_path, quick=True, only=("sigkill", "damaged", "held-lock", "divergence"))
    assert [r.status for r in again] == ["PASS"] * 4, "\n".join(r.line() for r in again)
    killed = [re.search(r"run ([0-9a-f]{16}) killed", r.detail).group(1) for r in (first[1], again[0])]
    assert killed[0] != killed[1]
    with store_module.Store(tmp_path / stress.STORE_NAME) as store:
        assert all(store.get_run(run).status == "interrupted" for run in killed)


def test_a_check_fails_when_its_guarantee_is_taken_away(tmp_path, monkeypatch, capsys):
    def unguarded(blob, what="tensors"):  # what the store did before: torch.load's own errors
        return torch.load(io.BytesIO(blob), weights_only=True)

    monkeypatch.setattr(store_module, "tensors_from_bytes", unguarded)
    assert cli.main(["stress", "--quick", "--folder", str(tmp_path), "--only", "damaged"]) == 1
    out = capsys.readouterr().out
    assert "FAIL damaged" in out and "an empty checkpoint blob raises EOFError, not StoreError" in out
    assert out.strip().endswith("0 passed, 1 failed, 0 skipped")


def test_a_check_that_cannot_run_here_is_skipped_with_its_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(stress.shutil, "which", lambda name: None)
    assert cli.main(["stress", "--quick", "--folder", str(tmp_path), "--only", "full-disk,damaged"]) == 0
    out = capsys.readouterr().out
    assert "SKIP full-disk: needs Linux with unshare(1) to mount a private tmpfs" in out
    assert "PASS damaged" in out and out.strip().endswith("1 passed, 0 failed, 1 skipped")
