"""The app in a real browser: train from the Train page, watch live curves and alignment, find the
run again after a reload and from its link, keep two users' runs apart, screenshot every page.

One comparison (a digits MLP with BP, DFA and FA, learning rate 0.1 set in the page) is trained
once for the module and looked at by the tests that follow, in file order; each test first puts
the page where it needs it. It trains for the conftest's ``epochs``, timed on this machine to last
seconds: on a fast machine a fixed few epochs end before the page's first poll. Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools import app_bench
from explorer.config.labels import run_label, unique_labels

from .browse import (PAGE_TITLES, STATUS_JS, TIMEOUT_MS, choose, go_to, screenshot_path, status_lines, wait_final,
                     wait_held)

TALL = {"width": 1400, "height": 2400}

# Every chart's title and its count of drawn marks (line or symbol paths with data): the Vega
# charts, and the live SVG curves the Train page draws while runs train (`explorer.views.sketch`).
CHARTS_JS = """() => [...document.querySelectorAll('svg.explorer-live, [data-testid="stVegaLiteChart"]')].map(c => ({
    title: c.getAttribute('data-title')
           || [...c.querySelectorAll('.role-title text')].map(t => t.textContent.trim()).join(' '),
    text: [...c.querySelectorAll('text')].map(t => t.textContent.trim()).join(' '),
    marks: [...c.querySelectorAll('path.curve, .mark-line.role-mark path, .mark-symbol.role-mark path')]
             .filter(p => (p.getAttribute('d') || '').length > 0).length}))"""

# Remember every status text the page shows from now on (to see that it was live).
WATCH_STATUS_JS = """() => {
    window.__statuses = [];
    const note = () => {
        const text = (""" + STATUS_JS + """)();
        if (text && window.__statuses[window.__statuses.length - 1] !== text) window.__statuses.push(text);
    };
    new MutationObserver(note).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def status(page) -> dict[str, str]:
    """The Train page's status, run label -> its words ("finished · epoch 4.0/4 · …")."""
    return dict(status_lines(page.evaluate(STATUS_JS)))


def wait_status(page, labels: set[str], words: str = "finished") -> dict[str, str]:
    """Wait until the status lists exactly ``labels``, each with ``words``; return it."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    want = sorted(labels)
    try:
        page.wait_for_function(
            """([want, words]) => {
                const text = (""" + STATUS_JS + """)();
                const runs = text.split('\\n').filter(l => l.includes(': ') && !l.startsWith('device:'));
                const labels = runs.map(l => l.split(': ')[0]).sort();
                return JSON.stringify(labels) === JSON.stringify(want) && runs.every(l => l.includes(words));
            }""", arg=[want, words], timeout=TIMEOUT_MS)
    except PlaywrightTimeout:
        shown = page.evaluate(STATUS_JS)
        raise AssertionError(f"after {TIMEOUT_MS / 1000:g} s the status is not {want} all {words!r}; "
                             f"it says {shown!r} (page {page.url})") from None
    return status(page)


def wait_curves(page, titles=("Loss", "Accuracy")) -> list[dict]:
    """Wait until the charts titled ``titles`` are on the page with drawn marks; return all charts."""
    page.wait_for_function(
        """([titles, js]) => {
            const charts = eval(js)();
            return titles.every(t => charts.some(c => c.title === t && c.marks > 0));
        }""", arg=[list(titles), CHARTS_JS], timeout=TIMEOUT_MS)
    return page.evaluate(CHARTS_JS)


def wait_legend(page, labels) -> list[dict]:
    """Wait until the Loss chart names every run in ``labels`` (a run queued behind the others has
    no point, so no legend entry, when the first curves appear) and the Accuracy chart has drawn
    its lines too (Vega draws each chart in its own time once the runs end); return all charts."""
    page.wait_for_function(
        """([labels, js]) => {
            const charts = eval(js)();
            const loss = charts.find(c => c.title === "Loss"), accuracy = charts.find(c => c.title === "Accuracy");
            return loss && loss.marks > 0 && labels.every(l => loss.text.includes(l)) && accuracy && accuracy.marks > 0;
        }""", arg=[list(labels), CHARTS_JS], timeout=TIMEOUT_MS)
    return page.evaluate(CHARTS_JS)


def select_value(page, label: str) -> str:
    return page.locator(f'[data-testid="stSelectbox"] input[aria-label="{label}"]').input_value()


def number_value(page, label: str) -> str:
    return page.get_by_label(label, exact=True).input_value()


def labels_of(infos) -> list[str]:
    """The labels the app gives these runs ("BP", "DFA", "FA signs each init", …)."""
    return unique_labels([run_label(info.config) for info in infos])


def screenshot(page, folder: Path, title: str) -> Path:
    path = screenshot_path(folder, title)
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="module")
def trained(app, browser, epochs):
    """A comparison set up and trained from the Train page: epochs from the URL, learning rate 0.1
    and a third rule (FA) chosen in the page, then Train clicked. Yields the page and what it saw."""
    context = browser.new_context(viewport=TALL)  # tall: the screenshots show whole pages
    page = context.new_page()
    try:
        app_bench.open_train_page(page, f"{app.url}/?epochs={epochs}")
        lr = page.get_by_label("learning rate", exact=True)
        lr.fill("0.1")
        lr.press("Enter")
        page.wait_for_url(re.compile(r"[?&]lr=0\.1(&|$)"), timeout=TIMEOUT_MS)
        choose(page, "Rule 3", "fa")
        page.wait_for_url(re.compile(r"[?&]rule3=fa(&|$)"), timeout=TIMEOUT_MS)
        app_bench.wait_idle(page, TIMEOUT_MS / 1000)
        page.evaluate(WATCH_STATUS_JS)
        page.get_by_role("button", name="Train", exact=True).click()
        page.wait_for_url(re.compile(r"[?&]group=[0-9a-f]+"), timeout=TIMEOUT_MS)
        group = app_bench.group_of(page)
        charts = wait_curves(page)
        infos = wait_final(app, group)
        labels = labels_of(infos)
        final = wait_status(page, set(labels))
        charts = wait_legend(page, labels)
        yield {"epochs": epochs, "page": page, "url": page.url, "group": group, "charts": charts, "infos": infos, "labels": labels,
               "final": final, "statuses": page.evaluate("() => window.__statuses")}
    finally:
        context.close()


def test_train_page_trains_bp_and_dfa_with_live_curves(trained, screenshots):
    page = trained["page"]
    assert [i.config["algorithm"]["name"] for i in trained["infos"]] == ["bp", "dfa", "fa"]
    assert all(i.status == "done" for i in trained["infos"])
    assert {i.config["optimizer"]["lr"] for i in trained["infos"]} == {0.1}
    epochs = trained["epochs"]
    assert {i.config["train"]["epochs"] for i in trained["infos"]} == {epochs}
    assert {i.config["data"]["name"] for i in trained["infos"]} == {"digits"}
    # live: the page said the runs were training before it said they had finished
    assert any("training" in s for s in trained["statuses"]), trained["statuses"]
    for label, words in trained["final"].items():
        assert f"epoch {epochs:.1f}/{epochs}" in words and "samples/s" in words, (label, words)
    assert list(trained["final"]) == trained["labels"]
    titles = {c["title"]: c for c in trained["charts"]}
    assert titles["Loss"]["marks"] > 0 and titles["Accuracy"]["marks"] > 0
    assert all(label in titles["Loss"]["text"] for label in trained["labels"])  # the legend
    screenshot(page, screenshots, "Train")


def test_reload_finds_the_run_again(trained):
    page = trained["page"]
    if page.url != trained["url"]:
        page.goto(trained["url"])
    page.reload()
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=TIMEOUT_MS)
    assert app_bench.group_of(page) == trained["group"]
    assert wait_status(page, set(trained["labels"])) == trained["final"]
    wait_curves(page)
    assert number_value(page, "learning rate") == "0.1"


def test_alignment_page_shows_the_alignment_of_the_run(trained, screenshots):
    page = trained["page"]
    if app_bench.group_of(page) != trained["group"]:
        app_bench.open_train_page(page, trained["url"])
    go_to(page, "Alignment")
    try:
        page.wait_for_selector('[data-testid="stVegaLiteChart"]', state="attached", timeout=10_000)
        page.wait_for_function(
            """js => eval(js)().some(c => c.marks > 0 && c.text.includes('DFA'))""", arg=CHARTS_JS,
            timeout=TIMEOUT_MS)
    finally:
        screenshot(page, screenshots, "Alignment")


def test_the_link_opens_the_same_setup_and_runs_in_a_fresh_context(app, trained, new_page):
    page = new_page()
    page.goto(trained["url"])
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=TIMEOUT_MS)
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    assert number_value(page, "learning rate") == "0.1"
    assert number_value(page, "epochs") == str(trained["epochs"])
    assert [select_value(page, f"Rule {i}") for i in (1, 2, 3)] == ["bp", "dfa", "fa"]
    assert select_value(page, "Rule 4") in ("none", "—")  # the empty slot, however it is written
    assert select_value(page, "Dataset") == "digits"
    assert app_bench.group_of(page) == trained["group"]
    assert wait_status(page, set(trained["labels"])) == trained["final"]
    wait_curves(page)


def test_two_users_training_at_once_see_only_their_own_runs(app, new_page, epochs):
    first, second = new_page(), new_page()
    urls = {first: f"{app.url}/?epochs={epochs}", second: f"{app.url}/?epochs={epochs}&rule1=fa&rule2=none"}
    for page, url in urls.items():  # both load at the same time
        page.goto(url, wait_until="commit")
    for page in urls:
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=TIMEOUT_MS)
        app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    for page in urls:  # Step: each run starts and is held after one step, so all three train at once
        page.get_by_role("button", name="Step", exact=True).click()
    for page in urls:
        page.wait_for_url(re.compile(r"[?&]group=[0-9a-f]+"), timeout=TIMEOUT_MS)
    groups = [app_bench.group_of(page) for page in urls]
    assert groups[0] != groups[1]
    wait_held(app, groups, runs=3)
    for page in urls:
        page.get_by_role("button", name="Resume", exact=True).click()
    runs = [wait_final(app, g) for g in groups]
    assert [[i.config["algorithm"]["name"] for i in r] for r in runs] == [["bp", "dfa"], ["fa"]]
    # they trained at the same time: every run started before any of them ended
    assert max(i.started for r in runs for i in r) < min(i.finished for r in runs for i in r)
    labels = [labels_of(r) for r in runs]
    for page, group, own, other in zip(urls, groups, labels, labels[::-1]):
        assert list(wait_status(page, set(own))) == own  # its own runs, and only them
        assert app_bench.group_of(page) == group
        wait_curves(page)
        legend = " ".join(c["text"] for c in page.evaluate(CHARTS_JS))
        words = f" {legend} "   # whole labels only: "FA" is inside "DFA"
        assert all(f" {label} " in words for label in own), legend
        assert not any(f" {label} " in words for label in other), legend


def test_screenshot_of_every_page(trained, screenshots):
    assert len(PAGE_TITLES) == 8, PAGE_TITLES   # seven pages and Reproduce (issue 14)
    page = trained["page"]
    if app_bench.group_of(page) != trained["group"]:
        app_bench.open_train_page(page, trained["url"])
    taken = []
    for title in PAGE_TITLES:
        go_to(page, title)
        page.wait_for_timeout(300)  # let charts finish drawing
        taken.append(screenshot(page, screenshots, title))
    assert all(p.stat().st_size > 0 for p in taken)
    assert len({p.name for p in taken}) == len(PAGE_TITLES)
