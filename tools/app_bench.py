"""How the Streamlit app feels, measured in a real browser: ``python -m tools.app_bench``.

Three figures on the Train page's default preset (digits, MLP 64-64, BP and DFA, SGD), with only
the number of epochs raised so that the live figures are measured over several seconds (by default
as many as train for about ten seconds here, found by a short run first: machines differ by 4x):

1. **time to first point**: from the click on *Train* to the first point of the loss curve drawn in
   the browser (target: under 2 s). Measured in the page: a click listener notes the click, a
   ``MutationObserver`` notes the first loss-chart mark with data. A short warm-up comparison on the
   same fresh server goes first; its figure is reported as the cold start.
2. **live refresh rate**: how many times a second the loss curve is redrawn with new data while the
   runs train (target: at least 2). The same observer notes every change of the drawn curve; the
   window runs from the first point to the moment the store says every run has ended.
3. **polling overhead**: the training throughput (samples / time of each run's last record, summed
   over the comparison's runs) with the page open and polling, against the same comparison trained
   without the app through `explorer.runs.workspace.Workspace` in this process (target: less than 10% lower).
   App rounds alternate with direct rounds (direct, app, direct, app, …, direct); each app round
   is set against the mean of the direct rounds beside it, and the median round is reported.
   The same figure is also measured inside one long comparison trained by the app, with the
   page closed and open in turns (`toggled_overhead`): the machine's changes of pace, which
   separate rounds cannot escape, then weigh on both sides alike.

With ``--floor``, every app round is followed by a *floor* round (and a direct round): the same
comparison started from ``tools/bench_floor.py``, the Train page's live view with one line of text
in it, polled by the same helper at the same rate. Its overhead is what polling costs on this
machine whatever a page draws, so the report can say how much of the app's is its own.

The app runs as ``streamlit run app.py`` on a free local port with a temporary run store; the
browser is the system's Chromium (``$EXPLORER_CHROMIUM``, else ``/usr/bin/chromium`` or ``chromium``
on the PATH) driven by Playwright for Python (``pip install playwright``; ``playwright install`` is
not needed). Both are imported only when a measurement starts. The end-to-end tests start the app
and the browser through `serve` and `open_browser`, so both share one way of doing it.

Example:
    >>> print(format_report({"epochs": 30, "device": "CPU", "first_point_s": 1.0, "cold_first_point_s": 3.0,
    ...                      "refresh_per_s": 2.5, "refresh_window_s": 8.0, "longest_gap_s": 0.6,
    ...                      "direct_samples_per_s": 20000.0, "app_samples_per_s": 19000.0,
    ...                      "overhead": 0.05, "direct_runs": [], "app_runs": []}).splitlines()[2])
    time to first point   1.00 s    < 2 s               0.50x the target  meets
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

FIRST_POINT_TARGET_S = 2.0    # click on Train -> first point drawn, at most
REFRESH_TARGET_PER_S = 2.0    # live redraws per second while training, at least
OVERHEAD_TARGET = 0.10        # throughput lost to the app's polling, at most
DEFAULT_SECONDS = 10.0        # each round trains about this long: the refresh rate and throughput need seconds
CALIBRATION_EPOCHS = 20       # a short direct run first, timed to find the epochs that last DEFAULT_SECONDS
DEFAULT_ROUNDS = 5            # app rounds, each between two direct rounds; the figures are medians
REPO = Path(__file__).resolve().parents[1]
FLOOR_PAGE = "tools/bench_floor.py"  # the live view with nothing in it (see --floor)
VIEWPORT = {"width": 1400, "height": 1000}


class BrowserMissing(RuntimeError):
    """Playwright for Python or a Chromium to drive is not installed."""


# The app and the browser ------------------------------------------------------------------------

def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """A running ``streamlit run app.py``: its ``url`` (no trailing slash), ``store`` (the run store
    it trains into), ``log`` (its output) and ``process``."""

    def __init__(self, url: str, store: Path, log: Path, process: subprocess.Popen) -> None:
        self.url, self.store, self.log, self.process = url, store, log, process

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def __repr__(self) -> str:
        return f"AppServer({self.url!r}, store={str(self.store)!r}, pid={self.process.pid})"


@contextlib.contextmanager
def serve(store: str | os.PathLike | None = None, *, port: int | None = None, timeout: float = 120.0,
          extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None,
          app_dir: str | os.PathLike = REPO, script: str = "app.py") -> Iterator[AppServer]:
    """Start ``python -m streamlit run app.py`` (or ``script``, relative to ``app_dir``; headless, on
    ``port`` or a free one, usage stats off)
    with ``EXPLORER_STORE`` set to ``store`` (default: a new temporary file), wait until its health
    check answers, yield an `AppServer`, and stop it afterwards. Its output goes to a log file beside
    the store; the log's tail is in the error if the app does not come up within ``timeout`` s."""
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="explorer-app-")))
        store_path = Path(store) if store is not None else folder / "runs.sqlite"
        port = port or free_port()
        log_path = folder / "streamlit.log"
        cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false", *extra_args]
        child_env = {**os.environ, **(env or {}), "EXPLORER_STORE": str(store_path)}
        log = stack.enter_context(open(log_path, "wb"))
        process = subprocess.Popen(cmd, cwd=app_dir, env=child_env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        server = AppServer(f"http://127.0.0.1:{port}", store_path, log_path, process)
        stack.callback(_stop, process)
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {process.returncode} before it served; "
                                   f"its output:\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"streamlit did not answer {server.url}/_stcore/health within {timeout:g} s; "
                                   f"its output:\n{server.log_tail()}")
            time.sleep(0.2)
        yield server


def _stop(process: subprocess.Popen) -> None:
    """Stop the server we started (by its own process id), politely first."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def chromium_path() -> str:
    """The Chromium to drive: ``$EXPLORER_CHROMIUM``, else ``/usr/bin/chromium``, else ``chromium``
    or ``chromium-browser`` on the PATH; `BrowserMissing` if there is none."""
    wanted = os.environ.get("EXPLORER_CHROMIUM")
    if wanted:
        if not (os.path.isfile(wanted) and os.access(wanted, os.X_OK)):
            raise BrowserMissing(f"$EXPLORER_CHROMIUM is {wanted!r}, which is not an executable file")
        return wanted
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise BrowserMissing("no Chromium found (looked at $EXPLORER_CHROMIUM, /usr/bin/chromium and the PATH); "
                         "install Debian's package: apt-get install chromium")


@contextlib.contextmanager
def open_browser(headless: bool = True) -> Iterator[Any]:
    """A Playwright ``Browser`` on the system's Chromium (`chromium_path`); `BrowserMissing` if
    Playwright for Python or Chromium is not installed."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise BrowserMissing("Playwright for Python is not installed: pip install playwright "
                             "(the system's Chromium is used, so `playwright install` is not needed)") from err
    executable = chromium_path()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=headless, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def wait_idle(page, timeout: float = 60.0) -> None:
    """Wait until the app's script has finished its current run (Streamlit marks its root element)."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', state="attached",
                           timeout=timeout * 1000)


def open_train_page(page, url: str, timeout: float = 90.0) -> None:
    """Load the Train page at ``url`` and wait until its Train button is there and the script is idle."""
    page.goto(url, timeout=timeout * 1000)
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=timeout * 1000)
    wait_idle(page, timeout)


def group_of(page) -> str | None:
    """The group id in the page's URL (``?group=…``), if any."""
    from urllib.parse import parse_qs, urlparse

    return parse_qs(urlparse(page.url).query).get("group", [None])[0]


# In the page: the loss chart is the live SVG titled "Loss" (`explorer.views.sketch`, while runs train)
# or the Vega chart titled "Loss" (else the first chart); a "drawn point" is a curve, line or symbol
# mark with path data. Every change of the drawn marks is noted.
OBSERVER_JS = r"""
() => {
  if (window.__explorerBench) return;
  const S = window.__explorerBench = {clickAt: null, firstAt: null, changes: [], statusChanges: [],
                                      last: '', lastStatus: ''};
  const charts = () => [...document.querySelectorAll('svg.explorer-live, [data-testid="stVegaLiteChart"]')];
  const lossChart = () => {
    const all = charts();
    return all.find(c => c.getAttribute('data-title') === 'Loss'
                         || [...c.querySelectorAll('.role-title text')].some(t => t.textContent.trim() === 'Loss'))
           || all[0] || null;
  };
  const marks = (chart) => chart ? [...chart.querySelectorAll('path.curve, .mark-line.role-mark path, .mark-symbol.role-mark path')]
                                     .map(p => p.getAttribute('d') || '').filter(d => d.length > 0) : [];
  const status = () => {
    const main = document.querySelector('[data-testid="stMain"]') || document.body;
    return [...main.querySelectorAll('[data-testid="stMarkdownContainer"]')].map(e => e.innerText).join('\n');
  };
  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('button');
    if (S.clickAt === null && button && button.innerText.trim() === 'Train') S.clickAt = performance.now();
  }, true);
  new MutationObserver(() => {
    if (S.clickAt === null) return;
    const now = performance.now();
    const drawn = marks(lossChart());
    if (drawn.length > 0) {
      const signature = drawn.join('|');
      if (signature !== S.last) {
        S.last = signature;
        S.changes.push(now);
        if (S.firstAt === null) S.firstAt = now;
      }
    }
    const text = status();
    if (text !== S.lastStatus) { S.lastStatus = text; S.statusChanges.push(now); }
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}
"""


def click_train_and_time_first_point(page, timeout: float = 120.0) -> dict:
    """On a loaded Train page (`open_train_page`): start watching, click *Train*, wait for the first
    point of the loss curve. Returns ``first_point_s`` (from the click, in the page's clock), the
    new ``group`` id from the URL and ``clicked`` (this machine's ``time.time()`` just before the click)."""
    page.evaluate(OBSERVER_JS)
    clicked = time.time()
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function("() => window.__explorerBench.firstAt !== null", timeout=timeout * 1000)
    t = page.evaluate("() => [window.__explorerBench.clickAt, window.__explorerBench.firstAt]")
    page.wait_for_function("() => new URLSearchParams(location.search).get('group')", timeout=timeout * 1000)
    return {"first_point_s": (t[1] - t[0]) / 1000, "group": group_of(page), "clicked": clicked}


def first_record_s(store_path: str | os.PathLike, group: str, since: float) -> float:
    """Seconds from ``since`` (a ``time.time()``) until the first record of ``group`` reached the
    store: the server's share of the time to the first point (the rest is polling and drawing)."""
    from explorer.runs.store import Store

    store = Store(store_path)
    try:
        logged = [rows[0][1] for info in store.list_runs(group=group) if (rows := store.metric_rows(info.id))]
        return min(logged) - since if logged else math.nan
    finally:
        store.close()


def group_final(store, group: str) -> bool:
    """Every run of ``group`` in ``store`` (an `explorer.runs.store.Store`) has its final status."""
    from explorer.runs.store import FINAL

    infos = store.list_runs(group=group)
    return bool(infos) and all(info.status in FINAL for info in infos)


def measure_refresh(page, store_path: str | os.PathLike, group: str, *, window_s: float | None = None,
                    timeout: float = 600.0) -> dict:
    """After `click_train_and_time_first_point`: how often the loss curve changed, from its first
    point until the group's runs have all ended in the store (or ``window_s`` s after the first
    point). Returns ``refresh_per_s`` (nan if the runs ended before the first point), the number of
    ``refreshes``, the ``refresh_window_s``, the ``longest_gap_s`` between two redraws and
    ``status_per_s`` (changes of the page's text, for comparison)."""
    from explorer.runs.store import Store

    store = Store(store_path)
    try:
        start = time.monotonic()
        first_at = page.evaluate("() => window.__explorerBench.firstAt")
        while not group_final(store, group):
            now_ms = page.evaluate("() => performance.now()")
            if window_s is not None and (now_ms - first_at) / 1000 >= window_s:
                break
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"the runs of group {group} were still going after {timeout:g} s")
            time.sleep(0.1)
        end_at, changes, status_changes = page.evaluate(
            "() => [performance.now(), window.__explorerBench.changes, window.__explorerBench.statusChanges]")
    finally:
        store.close()
    window = (end_at - first_at) / 1000
    inside = [t for t in changes if first_at < t <= end_at]
    moments = [first_at, *inside, end_at]
    gaps = [(b - a) / 1000 for a, b in zip(moments, moments[1:])]
    status_inside = [t for t in status_changes if first_at < t <= end_at]
    return {"refresh_per_s": len(inside) / window if window > 0 else math.nan, "refreshes": len(inside),
            "refresh_window_s": window, "longest_gap_s": max(gaps) if window > 0 else math.nan,
            "status_per_s": len(status_inside) / window if window > 0 else math.nan}


def _throughputs(runs: list[tuple[str, dict | None]]) -> dict[str, float]:
    out = {}
    for label, last in runs:
        if not last or not last.get("time"):
            raise RuntimeError(f"run {label} logged no timed record, so its throughput is unknown")
        out[label] = last["samples"] / last["time"]
    return out


def group_throughput(store_path: str | os.PathLike, group: str) -> dict[str, float]:
    """Samples per second of each run of ``group`` (the last record's samples / time), by label."""
    from explorer.config.labels import run_label, unique_labels
    from explorer.runs.store import Store

    store = Store(store_path)
    try:
        infos = list(reversed(store.list_runs(group=group)))
        labels = unique_labels([run_label(info.config) for info in infos])
        return _throughputs([(label, (store.metrics(info.id) or [None])[-1]) for label, info in zip(labels, infos)])
    finally:
        store.close()


def direct_throughput(epochs: int, *, warmup: bool = True, timeout: float = 900.0) -> dict[str, float]:
    """Samples per second of each run of the Train page's default comparison with ``epochs`` epochs,
    trained without the app through `explorer.runs.workspace.Workspace` (a temporary store) in this process."""
    from explorer.views import urlstate
    from explorer.runs.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="explorer-direct-") as folder:
        with Workspace(Path(folder) / "runs.sqlite") as ws:
            if warmup:  # first-use costs (kernels, allocator) out of the timed run, as in the app
                ws.compare(*urlstate.configs({"epochs": 1, "maps": False})).wait(timeout=timeout)
            found = ws.compare(*urlstate.configs({"epochs": epochs}))
            found.wait(timeout=timeout)
            return _throughputs([(label, (found.records[label] or [None])[-1]) for label in found.labels])


def epochs_lasting(seconds: float, *, timeout: float = 900.0) -> int:
    """Epochs of the default comparison that train for about ``seconds`` without the app on this
    machine, from a timed run of `CALIBRATION_EPOCHS` (the throughput of its slower run)."""
    rates = direct_throughput(CALIBRATION_EPOCHS, timeout=timeout)
    return max(1, round(seconds * min(rates.values()) / default_epoch_samples()))


def default_epoch_samples() -> int:
    """Samples one epoch of the default comparison trains on (whole batches of the training set)."""
    from explorer.views import urlstate
    from explorer.config import RunConfig
    from explorer.data import load_dataset

    base, rules = urlstate.configs({})
    cfg = RunConfig.from_dict(base | {"algorithm": rules[0]})
    return load_dataset(cfg.data, "cpu").num_train // cfg.train.batch_size * cfg.train.batch_size


# The benchmark ----------------------------------------------------------------------------------

def run_app_benchmark(epochs: int | None = None, *, seconds: float = DEFAULT_SECONDS, rounds: int = DEFAULT_ROUNDS,
                      warmup: bool = True, floor: bool = False, toggle: bool = True, window_s: float | None = None,
                      headless: bool = True, timeout: float = 900.0,
                      server: AppServer | None = None, browser=None, server_options: dict[str, str] | None = None,
                      progress: Callable[[str], None] | None = None) -> dict:
    """Measure the three figures (see the module's text) in one go and return them with their parts.

    ``epochs`` of the default comparison per round; None: as many as train for about ``seconds``
    here (`epochs_lasting`). ``rounds`` app rounds alternate with ``rounds + 1`` direct rounds (direct, app, direct, …,
    direct): each app round is compared with the mean of the direct rounds on either side of it,
    so a machine that speeds up or slows down meanwhile (a shared 2-core machine does, by 10-20%)
    weighs on both sides alike; the figures are the medians over the app rounds. ``floor`` adds a
    floor round (`floor_round`, on a second server) and a direct round after each app round. ``server`` and
    ``browser`` (from `serve` and `open_browser`) are used if given, else started here and stopped
    at the end; ``server_options`` ({"server.fileWatcherType": "auto"}, …) go to the ``streamlit
    run`` started here.

    Keys: ``first_point_s``; ``first_record_s`` (click to the first record in the store);
    ``cold_first_point_s`` (the warm-up's, on the fresh server; nan without warm-up);
    ``refresh_per_s``, ``refreshes``, ``refresh_window_s``, ``longest_gap_s``, ``status_per_s``
    (see `measure_refresh`); ``direct_samples_per_s`` and ``app_samples_per_s`` (summed over the
    runs, medians over the rounds), ``overhead`` (median over the app rounds of 1 - app / direct
    beside it), ``overheads`` (each round's), ``direct_runs`` and ``app_runs`` (per round, per run);
    ``epochs``, ``group`` (the last app round's), ``device``, ``server_options`` and
    ``load_average`` (the machine's 1-minute load at the start and the end). With ``floor``, also
    ``floor_overhead``, ``floor_overheads``, ``floor_runs`` and ``floor_status_per_s`` (median).
    With ``toggle`` (the default), also ``toggle_overhead``, ``toggle_overheads``, ``toggle_closed``
    and ``toggle_open`` (`toggled_overhead`: the page open and closed in turns in one long run);
    with ``floor`` too, ``floor_toggle_overhead`` and ``floor_toggle_overheads`` (the same, floor page).
    """
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be a whole number of at least 1 (or None), got {epochs!r}")
    if not (isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 < seconds < math.inf):
        raise ValueError(f"seconds must be a positive number, got {seconds!r}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a whole number of at least 1, got {rounds!r}")
    say = progress or (lambda line: None)
    options = dict(server_options or {})
    load = [_load()]
    with contextlib.ExitStack() as stack:
        if server is None:
            say("starting streamlit run app.py …")
            extra = tuple(arg for key, value in options.items() for arg in (f"--{key}", str(value)))
            server = stack.enter_context(serve(extra_args=extra))
        if browser is None:
            browser = stack.enter_context(open_browser(headless=headless))
        cold = math.nan
        if warmup:
            say("warm-up comparison through the app (1 epoch) …")
            cold = _app_round(server, browser, 1, timeout)["first_point_s"]
        floor_server = stack.enter_context(serve(script=FLOOR_PAGE)) if floor else None
        if epochs is None:
            say(f"timing {CALIBRATION_EPOCHS} epochs without the app, to train about {seconds:g} s a round …")
            epochs = epochs_lasting(seconds, timeout=timeout)
        say(f"direct run without the app ({epochs} epochs) …")
        direct, app, low = [direct_throughput(epochs, timeout=timeout)], [], []
        for i in range(rounds):
            say(f"round {i + 1}/{rounds}: through the app, page open, then directly again …")
            app.append(_app_round(server, browser, epochs, timeout, window_s=window_s))
            direct.append(direct_throughput(epochs, timeout=timeout))
            if floor_server is not None:
                say(f"round {i + 1}/{rounds}: through the floor page, then directly again …")
                low.append(floor_round(floor_server, browser, epochs, timeout))
                direct.append(direct_throughput(epochs, timeout=timeout))
        if toggle:
            say(f"one long comparison through the app, the page closed and open in turns ({TOGGLE_PAIRS} open windows) …")
            toggled = toggled_overhead(server, browser, timeout=timeout)
            if floor_server is not None:
                say("the same on the floor page …")
                floor_toggled = toggled_overhead(floor_server, browser, timeout=timeout)
    load.append(_load())
    totals = [sum(r.values()) for r in direct]
    app_totals = [sum(r["runs"].values()) for r in app]
    in_order = [r["runs"] for pair in zip(app, low) for r in pair] if floor else [r["runs"] for r in app]
    every = _overheads(direct, in_order)  # app (and floor) rounds, in the order they ran between direct rounds
    overheads, floor_overheads = (every[::2], every[1::2]) if floor else (every, [])
    last = app[-1]
    result = {"epochs": epochs, "rounds": rounds, "device": last["device"], "group": last["group"],
              "server_options": options, "load_average": load,
              "first_point_s": _median([r["first_point_s"] for r in app]),
              "first_record_s": _median([r["first_record_s"] for r in app]), "cold_first_point_s": cold,
              **{key: _median([r["refresh"][key] for r in app]) for key in app[0]["refresh"]},
              "direct_samples_per_s": _median(totals), "app_samples_per_s": _median(app_totals),
              "overhead": _median(overheads), "overheads": overheads,
              "direct_runs": direct, "app_runs": [r["runs"] for r in app]}
    if toggle:
        result.update({"toggle_overhead": toggled["overhead"], "toggle_overheads": toggled["overheads"],
                       "toggle_closed": toggled["closed"], "toggle_open": toggled["open"]})
        if floor:
            result.update({"floor_toggle_overhead": floor_toggled["overhead"],
                           "floor_toggle_overheads": floor_toggled["overheads"]})
    if floor:
        result.update({"floor_overhead": _median(floor_overheads), "floor_overheads": floor_overheads,
                       "floor_runs": [r["runs"] for r in low],
                       "floor_status_per_s": _median([r["status_per_s"] for r in low])})
    return result


def _app_round(server: AppServer, browser, epochs: int, timeout: float, window_s: float | None = None) -> dict:
    """Train the default comparison from a freshly opened Train page, watch it to its end, and
    return what was measured: ``first_point_s``, ``first_record_s``, ``refresh`` (see
    `measure_refresh`), ``runs`` (samples/s per run), ``group`` and ``device``."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        open_train_page(page, f"{server.url}/?epochs={epochs}")
        first = click_train_and_time_first_point(page, timeout=timeout)
        refresh = measure_refresh(page, server.store, first["group"], window_s=window_s, timeout=timeout)
        _wait_final(server.store, first["group"], timeout)
    finally:
        context.close()
    return {"first_point_s": first["first_point_s"], "group": first["group"], "refresh": refresh,
            "first_record_s": first_record_s(server.store, first["group"], first["clicked"]),
            "runs": group_throughput(server.store, first["group"]),
            "device": _device_name(server.store, first["group"])}


def floor_round(server: AppServer, browser, epochs: int, timeout: float = 600.0) -> dict:
    """Train the default comparison from a fresh ``tools/bench_floor.py`` (served by ``server``) and
    watch it to its end; returns ``runs`` (samples/s per run), ``group``, ``status_changes`` (how
    often the page's line of text changed while the runs trained) and ``status_per_s`` (the same a second)."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/?epochs={epochs}", timeout=timeout * 1000)
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=timeout * 1000)
        wait_idle(page, timeout)
        page.evaluate(OBSERVER_JS)
        page.get_by_role("button", name="Train", exact=True).click()
        page.wait_for_function("() => new URLSearchParams(location.search).get('group')", timeout=timeout * 1000)
        group = group_of(page)
        start = page.evaluate("() => performance.now()")
        _wait_final(server.store, group, timeout)
        end, changes = page.evaluate("() => [performance.now(), window.__explorerBench.statusChanges]")
    finally:
        context.close()
    inside = [t for t in changes if start < t <= end]
    return {"runs": group_throughput(server.store, group), "group": group, "status_changes": len(inside),
            "status_per_s": len(inside) / ((end - start) / 1000) if end > start else math.nan}


TOGGLE_PAIRS = 4          # page-open windows in the one-run measurement, each between two closed ones
TOGGLE_WINDOW_S = 4.0     # seconds each window is counted over
TOGGLE_SETTLE_S = 1.5     # after opening (a page load, a full script run) or closing, before counting
TOGGLE_EPOCHS = 50_000    # more than the measurement needs (stopped from the page after it), within the
                          # server's default cap of 2,000,000 steps a run (22 steps an epoch)


def toggled_overhead(server: AppServer, browser, *, pairs: int = TOGGLE_PAIRS, window_s: float = TOGGLE_WINDOW_S,
                     settle_s: float = TOGGLE_SETTLE_S, timeout: float = 600.0) -> dict:
    """Polling's cost inside one long comparison trained by the app: windows with the Train page
    closed (``about:blank``) and open on the runs (their link, as a reload would) alternate, closed
    first and last, and each window's throughput is read from the records the runs stored in it.
    Rounds of separate runs (`run_app_benchmark`) are at the mercy of the machine's changes of pace
    between them (here two training threads in one process ran at about 93,000 or about 130,000
    samples/s, keeping one pace for tens of seconds); windows seconds apart in the same runs are not.

    Returns ``closed`` and ``open`` (samples/s summed over the runs, per window, in order),
    ``overheads`` (each open window against the mean of the closed windows on either side) and
    ``overhead`` (their median)."""
    from explorer.runs.store import Store

    context = browser.new_context(viewport=VIEWPORT)
    store = Store(server.store)
    try:
        page = context.new_page()
        open_train_page(page, f"{server.url}/?epochs={TOGGLE_EPOCHS}", timeout)
        page.get_by_role("button", name="Train", exact=True).click()
        page.wait_for_function("() => new URLSearchParams(location.search).get('group')", timeout=timeout * 1000)
        link = page.url
        reader = _RecordsReader(store, [info.id for info in store.list_runs(group=group_of(page))])
        deadline = time.monotonic() + timeout  # every run training (a record stored) before the first window
        while len(reader.newest()) < len(reader.run_ids):
            if time.monotonic() > deadline:
                raise RuntimeError(f"runs {reader.run_ids} stored no record in {timeout:g} s")
            time.sleep(0.1)
        rates: dict[str, list[float]] = {"closed": [], "open": []}
        for state in ["closed", "open"] * pairs + ["closed"]:
            if state == "open":
                open_train_page(page, link, timeout)
            else:
                page.goto("about:blank")
            time.sleep(settle_s)
            rates[state].append(reader.rate_over(window_s))
        open_train_page(page, link, timeout)
        page.get_by_role("button", name="Stop", exact=True).click()
        _wait_final(server.store, group_of(page), timeout)
    finally:
        store.close()
        context.close()
    overheads = _overheads([{"runs": r} for r in rates["closed"]], [{"runs": r} for r in rates["open"]])
    return {**rates, "overheads": overheads, "overhead": _median(overheads)}


class _RecordsReader:
    """The newest record of each of some runs, read incrementally from the store (each record once)."""

    def __init__(self, store, run_ids: list[str]) -> None:
        self.store, self.run_ids = store, run_ids
        self.seen = {run_id: 0 for run_id in run_ids}
        self.last: dict[str, dict] = {}

    def newest(self) -> dict[str, dict]:
        for run_id in self.run_ids:
            rows = self.store.metric_rows(run_id, after=self.seen[run_id])
            if rows:
                self.seen[run_id], _, self.last[run_id] = rows[-1]
        return dict(self.last)

    def rate_over(self, seconds: float, patience: float = 60.0) -> float:
        """Samples per second trained by the runs together over the next ``seconds`` (from their
        records' own clocks: samples seen and training time), waiting up to ``patience`` s more for
        a run that has stored no new record by then (a starved server flushes late; the rate, read
        from the records, does not depend on when they were read)."""
        before = self.newest()
        time.sleep(seconds)
        deadline = time.monotonic() + patience
        while True:
            after = self.newest()
            missing = [run_id for run_id in self.run_ids if run_id not in before or after[run_id] is before[run_id]]
            if not missing:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"runs {missing} stored no new record in {seconds + patience:g} s")
            time.sleep(0.1)
        return sum((after[i]["samples"] - before[i]["samples"]) / (after[i]["time"] - before[i]["time"])
                   for i in self.run_ids)


def _overheads(direct: list[dict[str, float]], app: list[dict[str, float]]) -> list[float]:
    """Each app round's lost share of throughput: 1 - its total / the mean of the direct rounds on
    either side of it (``direct`` has one round more than ``app``; samples/s per run)."""
    totals = [sum(r.values()) for r in direct]
    return [1 - sum(r.values()) / ((totals[i] + totals[i + 1]) / 2) for i, r in enumerate(app)]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return math.nan


def _wait_final(store_path, group: str, timeout: float) -> None:
    from explorer.runs.store import Store

    store = Store(store_path)
    try:
        deadline = time.monotonic() + timeout
        while not group_final(store, group):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the runs of group {group} were still going after {timeout:g} s")
            time.sleep(0.1)
    finally:
        store.close()


def _device_name(store_path, group: str) -> str:
    from explorer.runs.store import Store

    store = Store(store_path)
    try:
        return next((i.device_name for i in store.list_runs(group=group) if i.device_name), "?")
    finally:
        store.close()


def format_report(result: dict) -> str:
    """The three figures, each beside its target as a ratio (measured / target) and a verdict."""
    def row(name, value, unit, target, ratio, ok):
        verdict = "—" if math.isnan(ratio) else "meets" if ok else "misses"
        return f"{name:<21}{value:>5} {unit:<4} {target:<19}{ratio:>5.2f}x the target  {verdict}"

    first, rate, over = result["first_point_s"], result["refresh_per_s"], result["overhead"]
    options = " ".join(f"--{k} {v}" for k, v in result.get("server_options", {}).items())
    load = result.get("load_average")
    lines = [
        f"explorer app benchmark: Train page default preset (digits MLP 64-64, BP and DFA), "
        f"{result['epochs']} epochs, {result.get('rounds', 1)} app round(s), device {result.get('device', '?')}"
        + (f", load average {load[0]:.1f} -> {load[-1]:.1f} on {os.cpu_count()} CPUs" if load else "")
        + (f", streamlit {options}" if options else ""),
        f"{'figure':<21}{'value':>5} {'':<4} {'target':<19}ratio",
        row("time to first point", f"{first:.2f}", "s", f"< {FIRST_POINT_TARGET_S:g} s",
            first / FIRST_POINT_TARGET_S, first < FIRST_POINT_TARGET_S),
        row("live refresh rate", f"{rate:.2f}", "/s", f">= {REFRESH_TARGET_PER_S:g} /s",
            rate / REFRESH_TARGET_PER_S, rate >= REFRESH_TARGET_PER_S),
        row("polling overhead", f"{100 * over:.1f}", "%", f"< {100 * OVERHEAD_TARGET:g} %",
            over / OVERHEAD_TARGET, over < OVERHEAD_TARGET),
        *([row("  same run, on/off", f"{100 * result['toggle_overhead']:.1f}", "%", f"< {100 * OVERHEAD_TARGET:g} %",
               result["toggle_overhead"] / OVERHEAD_TARGET, result["toggle_overhead"] < OVERHEAD_TARGET)]
          if "toggle_overhead" in result else []),
        "",
        f"first point: the first record was stored {result.get('first_record_s', math.nan):.2f} s after the click; "
        f"on a fresh server (the warm-up, 1 epoch) the first point took {result['cold_first_point_s']:.2f} s",
        f"refresh: {result.get('refreshes', '?')} redraws of the loss curve in {result['refresh_window_s']:.1f} s, "
        f"longest gap {result['longest_gap_s']:.2f} s; the page's text changed "
        f"{result.get('status_per_s', math.nan):.2f} times a second",
        f"throughput (medians): {result['direct_samples_per_s']:,.0f} samples/s without the app, "
        f"{result['app_samples_per_s']:,.0f} with the page open",
    ]
    if "toggle_overhead" in result:
        lines.append("same run, on/off: one comparison trained by the app, windows of the page closed / open: "
                     + " / ".join(f"{c:,.0f}" for c in result["toggle_closed"]) + " closed, "
                     + " / ".join(f"{o:,.0f}" for o in result["toggle_open"]) + " open samples/s; overheads "
                     + ", ".join(f"{100 * o:.1f} %" for o in result["toggle_overheads"]))
    floor = "floor_overhead" in result
    if floor:
        lines.append(f"floor: the live view with one line of text, polled the same way "
                     f"({result['floor_status_per_s']:.2f} redraws/s), cost {100 * result['floor_overhead']:.1f} % "
                     f"(median); the Train page costs {100 * (over - result['floor_overhead']):.1f} points more")
        if "floor_toggle_overhead" in result:
            lines.append(f"floor, same run on/off: {100 * result['floor_toggle_overhead']:.1f} % (windows "
                         + ", ".join(f"{100 * o:.1f} %" for o in result["floor_toggle_overheads"]) + ")")

    def runs(label: str, per_run: dict) -> str:
        return f"  {label:<16}" + ", ".join(f"{k} {v:,.0f}" for k, v in per_run.items())

    kinds = [("app", result["app_runs"], result.get("overheads", []))]
    if floor:
        kinds.append(("floor", result["floor_runs"], result["floor_overheads"]))
    between = [(kind, i, per_run[i], lost[i] if i < len(lost) else None)
               for i in range(len(kinds[0][1])) for kind, per_run, lost in kinds]
    for n, per_run in enumerate(result["direct_runs"]):
        lines.append(runs(f"direct {n + 1}:", per_run))
        if n < len(between):
            kind, i, measured, lost = between[n]
            lines.append(runs(f"{kind} {i + 1}:", measured) + (f" (overhead {100 * lost:.1f} %)" if lost is not None else ""))
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options, for ``python -m tools.app_bench``."""
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of the default preset's comparison in each round (default: as many as "
                             "train for --seconds here)")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                        help=f"without --epochs: train about this long a round (default {DEFAULT_SECONDS:g})")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                        help=f"app rounds, each between two direct rounds; medians are reported (default {DEFAULT_ROUNDS})")
    parser.add_argument("--no-warmup", action="store_true", help="skip the 1-epoch warm-up through the app")
    parser.add_argument("--floor", action="store_true",
                        help=f"after each app round, also train from {FLOOR_PAGE} (the live view with one line "
                             "of text): what polling costs whatever a page draws")
    parser.add_argument("--no-toggle", action="store_true",
                        help="skip the one-run measurement (the page closed and open in turns while one comparison trains)")
    parser.add_argument("--headed", action="store_true", help="show the browser window")
    parser.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                        help="a Streamlit option for the app's server, e.g. runner.postScriptGC=false (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark for parsed `add_arguments` options; print the report (or JSON)."""
    for name in ("epochs", "rounds"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            print(f"error: --{name} must be at least 1", file=sys.stderr)
            return 2
    if not 0 < args.seconds < math.inf:
        print(f"error: --seconds must be a positive number, got {args.seconds}", file=sys.stderr)
        return 2
    options = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            print(f"error: --set takes OPTION=VALUE, got {item!r}", file=sys.stderr)
            return 2
        options[key.strip().lstrip("-")] = value.strip()
    say = None if args.json else (lambda line: print(line, file=sys.stderr))
    try:
        result = run_app_benchmark(args.epochs, seconds=args.seconds, rounds=args.rounds, warmup=not args.no_warmup,
                                   floor=args.floor, toggle=not args.no_toggle, headless=not args.headed,
                                   server_options=options, progress=say)
    except BrowserMissing as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        from explorer.runs.export import strict

        print(json.dumps(strict(result), indent=2))
    else:
        print(format_report(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.app_bench [--epochs N | --seconds S] [--rounds N] [--no-warmup] [--floor] [--no-toggle] [--headed]
    [--set OPTION=VALUE] [--json]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tools.app_bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
