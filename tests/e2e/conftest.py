"""End-to-end fixtures: the app under ``streamlit run`` on a free port, Debian's Chromium driven by
Playwright for Python, and the folder the screenshots go to (``artifacts/screenshots/``).

The browser tests run with the rest of the suite. Where Playwright or Chromium is missing they
fail and say what to install; ``EXPLORER_E2E=skip`` skips them on purpose (a machine without a
browser). ``$EXPLORER_CHROMIUM`` names another Chromium than ``/usr/bin/chromium``.

The app is started once per test session with a temporary run store (``EXPLORER_STORE``),
without its file watcher (the tests must not rerun when a page's source changes under them) and
without Streamlit's full garbage collection after every script run (``runner.postScriptGC``): with
torch loaded that collection holds the GIL for about half a second after each run, the live view
reruns twice a second, and the trainings and pages then crawl (the file took 140 s with it, 65 s
without, on this 2-core machine under the same load; ``python -m tools.app_bench`` measures the
app as shipped). Its output is kept and shown when it fails to start. A failed test leaves a
screenshot of each page it had open, named after the test.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tools import app_bench

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
SKIP = os.environ.get("EXPLORER_E2E", "").strip().lower() == "skip"


def pytest_collection_modifyitems(config, items):
    if not SKIP:
        return
    mark = pytest.mark.skip(reason="EXPLORER_E2E=skip: the browser tests are skipped on purpose")
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(mark)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """``artifacts/screenshots/`` at the repository root (ignored by git), made if absent."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def app():
    """The app served by ``python -m streamlit run app.py`` on a free port: an `app_bench.AppServer`
    with ``url`` and ``store`` (a temporary run store)."""
    options = ("--server.fileWatcherType", "none", "--runner.postScriptGC", "false")
    with app_bench.serve(extra_args=options) as server:
        yield server


LIVE_SECONDS = 3.0  # runs train about this long, so a page polls them several times while they train


@pytest.fixture(scope="session")
def epochs() -> int:
    """Epochs of the Train page's default comparison that train for about `LIVE_SECONDS` on this
    machine without the app (timed: a fixed count ends before the first poll on a fast machine;
    with the app, or with more runs at once, they last longer)."""
    return app_bench.epochs_lasting(LIVE_SECONDS)


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (Debian's) under Playwright; fails, saying what is missing, if it cannot start."""
    try:
        with app_bench.open_browser() as launched:
            yield launched
    except app_bench.BrowserMissing as err:
        pytest.fail(f"{err}. Set EXPLORER_E2E=skip to skip the browser tests on purpose.", pytrace=False)


@pytest.fixture
def new_page(browser, screenshots, request):
    """``new_page()`` opens a page in a fresh browser context (its own cookies and Streamlit session;
    ``new_page(viewport)`` at another size than `app_bench.VIEWPORT`);
    every context is closed after the test, with a screenshot of its page if the test failed."""
    contexts = []

    def make(viewport: dict | None = None):
        context = browser.new_context(viewport=viewport or app_bench.VIEWPORT)
        contexts.append(context)
        return context.new_page()

    yield make
    failed = any(getattr(request.node, f"rep_{when}", None) is not None
                 and getattr(request.node, f"rep_{when}").failed for when in ("setup", "call"))
    for i, context in enumerate(contexts):
        if failed:
            for page in context.pages:
                name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
                try:
                    page.screenshot(path=str(screenshots / f"failed-{name}-{i}.png"), full_page=True)
                except Exception:  # noqa: BLE001 (a screenshot must not hide the test's own failure)
                    pass
        context.close()
