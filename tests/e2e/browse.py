"""Moving around the app in the browser, shared by the end-to-end tests: the pages and their
sidebar links, the Train page's status block, the store's view of a group, screenshot names.

Example (in a test)::

    go_to(page, "Alignment")                  # by the sidebar, in the same Streamlit session
    infos = wait_final(app, group)            # the store says every run has ended
    page.screenshot(path=str(screenshot_path(folder, "Alignment", "after")))
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlparse

from tools import app_bench
from explorer.runs.store import Store

TIMEOUT_MS = 90_000
REACT_MS = 60_000  # the app reacting to a click or to its runs ending: generous, for a busy 2-core machine
SCREEN = {"width": 1400, "height": 900}  # a laptop's screen, and a classroom projector's
APP = Path(__file__).resolve().parents[2] / "app.py"
PAGE_TITLES = re.findall(r'st\.Page\([^)]*title="([^"]+)"', APP.read_text())

# The words of a run's state on the Train page (the status line after "label: ").
STATES = ("waiting", "training", "paused", "finished", "stopped", "failed", "diverged", "interrupted")
# The status block of the Train page ("device: …", where the device is known, then one line per
# run, "label: words"), or "": Markdown outside alerts, expanders, captions and widget labels.
STATUS_JS = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stMarkdownContainer"]')]
    .filter(e => !e.closest('[data-testid="stAlert"], [data-testid="stExpander"], [data-testid="stCaptionContainer"], [data-testid="stWidgetLabel"]'))
    .map(e => e.innerText.trim())
    .find(t => t.startsWith('device:') || /^[^:\\n]{1,60}: (""" + "|".join(STATES) + """)/.test(t)) || ''"""


def wait_final(app, group: str, timeout_ms: float = TIMEOUT_MS) -> list:
    """Wait until every run of ``group`` has ended in the store; return their infos, first started first."""
    store = Store(app.store)
    try:
        deadline = time.monotonic() + timeout_ms / 1000
        while not app_bench.group_final(store, group):
            assert time.monotonic() < deadline, f"the runs of group {group} were still going after {timeout_ms / 1000:g} s"
            time.sleep(0.2)
        return list(reversed(store.list_runs(group=group)))
    finally:
        store.close()


def wait_held(app, groups: list[str], runs: int) -> None:
    """Wait until ``runs`` runs of ``groups`` are in the store, each started and held after its first step."""
    store = Store(app.store)
    try:
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while True:
            infos = [i for g in groups for i in store.list_runs(group=g)]
            if len(infos) == runs and all(i.status == "paused" and i.steps_done == 1 for i in infos):
                return
            assert time.monotonic() < deadline, f"not all held after a step: {[(i.status, i.steps_done) for i in infos]}"
            time.sleep(0.2)
    finally:
        store.close()


def go_to(page, title: str) -> None:
    """Open the page ``title`` from the sidebar (same session) and wait until its script has run."""
    link = page.locator('[data-testid="stSidebarNavLink"]').filter(has_text=re.compile(rf"(^|[^\w]){re.escape(title)}\s*$"))
    path = urlparse(link.get_attribute("href")).path
    link.click()
    page.wait_for_url(lambda url: urlparse(url).path == path, timeout=TIMEOUT_MS)
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)


def screenshot_path(folder: Path, title: str, suffix: str = "") -> Path:
    """``NN-title.png`` (NN: the page's place in the sidebar), or ``NN-title-suffix.png``.

    Example:
        >>> screenshot_path(Path("shots"), "Train", "before").name
        '01-train-before.png'
    """
    index = PAGE_TITLES.index(title) + 1 if title in PAGE_TITLES else 0
    return folder / f"{index:02d}-{title.lower().replace(' ', '-')}{'-' + suffix if suffix else ''}.png"


# The words a person reads for each way a run ends (the store's status -> the page's words).
END_WORDS = {"done": "finished", "failed": "failed", "diverged": "diverged", "cancelled": "stopped"}

# What the page shows about its live state: its buttons, the sidebar, the status, errors, exceptions.
PAGE_STATE_JS = """() => {
    const main = document.querySelector('[data-testid="stMain"]') || document.body;
    // Streamlit keeps the last run's elements, marked stale, until the rerun replaces them
    const buttons = [...main.querySelectorAll('button')].filter(b => !b.closest('[data-stale="true"]'));
    const button = name => buttons.find(b => b.innerText.trim() === name);
    const enabled = name => button(name) ? !button(name).disabled : null;
    const sidebar = document.querySelector('[data-testid="stSidebar"]');
    return {train: enabled('Train'), stop: enabled('Stop'), resume: enabled('Resume'),
            buttons: buttons.map(b => b.innerText.trim()).filter(t => t),
            sidebar: sidebar ? sidebar.innerText : '',
            status: (""" + STATUS_JS + """)(),
            alerts: [...main.querySelectorAll('[data-testid="stAlert"]')].map(e => e.innerText.trim()),
            exceptions: [...document.querySelectorAll('[data-testid="stException"]')].map(e => e.innerText.slice(0, 400))};
}"""


def page_state(page) -> dict:
    """The page's buttons (``train``/``stop``: True enabled, False disabled, None absent), the sidebar's
    text, the Train page's status block, its alerts and the exceptions it shows."""
    return page.evaluate(PAGE_STATE_JS)


def status_lines(status: str) -> list[tuple[str, str]]:
    """The Train page's status block as (run label, words), in run order.

    Example:
        >>> status_lines("device: CPU\\nBP: finished · epoch 2.0/2\\nDFA: failed")
        [('BP', 'finished · epoch 2.0/2'), ('DFA', 'failed')]
        >>> status_lines("BP: failed")
        [('BP', 'failed')]
    """
    return [tuple(line.split(": ", 1)) for line in status.splitlines()
            if ": " in line and not line.startswith("device:")]


def ended_problems(state: dict, infos) -> list[str]:
    """What is wrong, once the runs ``infos`` (the store's, first started first) have all ended, with a
    page that shows ``state`` (`page_state`): it must be back to rest and say how each run ended."""
    problems = []
    if state["train"] is not True:
        problems.append(f"Train is {'absent' if state['train'] is None else 'disabled'}")
    if state["stop"] is not False:
        problems.append(f"Stop is {'absent' if state['stop'] is None else 'enabled'}")
    if "Training now: 0 run(s)" not in state["sidebar"]:
        said = [line for line in state["sidebar"].splitlines() if "Training now" in line]
        problems.append(f"the sidebar says {said[0] if said else state['sidebar'].strip()!r}, not 'Training now: 0 run(s)'")
    lines = status_lines(state["status"])
    if len(lines) != len(infos):
        problems.append(f"the status lists {len(lines)} run(s) for {len(infos)}: {state['status']!r}")
    for (label, words), info in zip(lines, infos):
        if not words.startswith(END_WORDS[info.status]):
            problems.append(f"{label} {END_WORDS[info.status]} (the store says {info.status!r}) but the page says {words!r}")
    problems += [f"the page shows an exception: {text}" for text in state["exceptions"]]
    return problems


def wait_ended(page, infos, timeout_ms: float = REACT_MS) -> list[str]:
    """Poll the page until it shows the runs ``infos`` ended (`ended_problems` is empty) or
    ``timeout_ms`` has passed; return the problems left (empty: the page followed)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        problems = ended_problems(page_state(page), infos)
        if not problems or time.monotonic() > deadline:
            return problems
        page.wait_for_timeout(250)


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label``: click its box and the option. A rerun
    that redraws the box as it opens closes its list, so the box is clicked again until it opens."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = page.locator(f'[data-testid="stSelectbox"] input[aria-label="{label}"]')
    item = page.get_by_role("option", name=option, exact=True)
    deadline = time.monotonic() + REACT_MS / 1000
    while True:
        box.click(timeout=REACT_MS)
        try:
            item.wait_for(timeout=3_000)
            break
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise
    item.click()


def control_value(page, label: str) -> str:
    """What the control labelled ``label`` shows (a selectbox's choice, or the text in its box)."""
    select = page.locator(f'[data-testid="stSelectbox"] input[aria-label="{label}"]')
    return select.input_value() if select.count() else page.get_by_label(label, exact=True).input_value()


def set_control(page, label: str, value: str) -> None:
    """Set the control labelled ``label`` as a person would: pick from a selectbox, or type and press Enter."""
    if page.locator(f'[data-testid="stSelectbox"] input[aria-label="{label}"]').count():
        choose(page, label, value)
    else:
        box = page.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Enter")


# The labels of every control in the page's main area, in order.
CONTROLS_JS = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stWidgetLabel"]')]
    .map(e => e.innerText.trim()).filter(t => t)"""


def controls(page) -> list[str]:
    """The labels of every control the page shows (widgets in its main area)."""
    return page.evaluate(CONTROLS_JS)


def settled_controls(page, timeout_s: float = REACT_MS / 1000) -> list[str]:
    """`controls` once the page has drawn them all: the same list read twice, half a second apart,
    with the page idle (the Train page draws its buttons and curves first, the setup after them)."""
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        app_bench.wait_idle(page, timeout_s)
        now = controls(page)
        if now == last or time.monotonic() > deadline:
            return now
        last = now
        page.wait_for_timeout(500)
