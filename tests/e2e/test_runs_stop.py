"""Stop, from the Runs page in the browser, a run that another process trains into the app's store
(``python -m explorer train``, or a sweep on a local Ray instance whose driver writes the store): the
page writes a stop request, the command reads it and ends the run ``cancelled``. Screenshots:
``artifacts/screenshots/runs-stop-*.png``."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect

from tools import app_bench
from explorer.runs.store import Store

from .browse import REACT_MS, TIMEOUT_MS
from .drawn import Watch

REPO = app_bench.REPO


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} after {timeout:g} s"
        time.sleep(0.2)


def command_of(kind: str, store, folder) -> list[str]:
    """A command that trains one long run into ``store``: the train command, or a sweep on Ray."""
    if kind == "train":
        return [sys.executable, "-m", "explorer", "train", "--store", str(store), "--dataset", "digits",
                "--hidden", "8", "--epochs", "5000", "--device", "cpu"]
    (folder / "base.json").write_text('{"model": {"hidden": [8]}, "train": {"epochs": 5000}, "device": "cpu"}')
    (folder / "grid.json").write_text('{"algorithm.name": ["dfa"]}')
    return [sys.executable, "-m", "explorer", "sweep", "--store", str(store), "--config", str(folder / "base.json"),
            "--grid", str(folder / "grid.json"), "--seeds", "1", "--backend", "ray", "--out", str(folder / "s.csv")]


@pytest.mark.parametrize("kind", ["train", "ray-sweep"])
def test_the_runs_page_stops_a_run_another_process_trains(app, new_page, screenshots, tmp_path, kind):
    if kind == "ray-sweep":
        pytest.importorskip("ray")
    store = Store(app.store)
    before = {i.id for i in store.list_runs()}
    command = command_of(kind, app.store, tmp_path)
    # its output goes to a file: `train` prints a line per epoch, and a pipe nobody reads fills (64 KiB)
    # and blocks the command in a write, where it can read no stop request
    log = open(tmp_path / "command.log", "wb")
    train = subprocess.Popen(command, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"},
                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        # running and past its first step: a run is "running" while it builds, and stopped then it
        # ends with no step taken (seen on a loaded machine)
        info = _wait(lambda: next((i for i in store.list_runs() if i.id not in before and i.status == "running"
                                   and (i.steps_done or 0) > 0), None),
                     300, f"the {kind} command's run was not training")
        page = new_page()
        watch = Watch(page)
        page.goto(f"{app.url}/runs", timeout=TIMEOUT_MS)
        app_bench.wait_idle(page, TIMEOUT_MS / 1000)
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.wait_for(timeout=TIMEOUT_MS)
        box = grid.bounding_box()
        # the newest run is the first row; its checkbox is in the row-marker column at the left
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
        stop = page.locator(".st-key-runs_stop button").first
        # the page is live now (its curves redrawn twice a second), so it is not waited idle: each
        # thing a person looks for is waited for instead
        page.get_by_text("1 run(s) selected").wait_for(timeout=TIMEOUT_MS)
        page.locator("svg.explorer-live").first.wait_for(timeout=TIMEOUT_MS)   # the light live curves
        expect(stop).to_be_enabled(timeout=TIMEOUT_MS)
        stop.click()
        page.get_by_text("Stop asked for 1 run(s); the process that trains them stops them within a few seconds."
                         ).wait_for(timeout=REACT_MS)
        page.screenshot(path=str(screenshots / f"runs-stop-{kind}-asked.png"), full_page=False)
        assert store.get_run(info.id).stop_requested is not None
        code = train.wait(timeout=60)
        assert code == 0, (tmp_path / "command.log").read_text(errors="replace")[-2000:]  # it stopped its run and ended
        ended = store.get_run(info.id)
        assert ended.status == "cancelled" and 0 < ended.steps_done < ended.total_steps, ended
        # the live view ends with the run: the whole run's Vega charts take the sketch's place
        page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=TIMEOUT_MS)
        assert page.locator("svg.explorer-live").count() == 0
        page.locator(".st-key-runs_refresh button").first.click()
        page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=TIMEOUT_MS)
        app_bench.wait_idle(page, TIMEOUT_MS / 1000)
        page.screenshot(path=str(screenshots / f"runs-stop-{kind}-cancelled.png"), full_page=False)
        watch.assert_clean("after stopping a run from the Runs page")
    finally:
        if train.poll() is None:
            train.kill()
            train.wait()
        log.close()
        store.close()
