"""Every page as a person sees it at 1400×900, before any run and after runs, with what it draws
checked (`drawn.Watch`: finite paths, series going left to right, readable axis numbers, no
console errors), and the pages that train (Train, Playground, Parity) checked while they train too.

The tests run in file order and share what they trained (`RAN`): a comparison held with Step on
the Train page and then finished, a Playground run, a Parity experiment; the last test opens every
page on them. Sizes come from the conftest's ``epochs`` (timed on this machine), so the runs train
for seconds and the pages draw several live frames; every frame is checked as it is drawn, so
nothing is raced. Screenshots: ``artifacts/screenshots/NN-page-before.png`` and ``…-after.png``.
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

from tools import app_bench
from explorer.runs.store import Store

from .browse import (PAGE_TITLES, REACT_MS, SCREEN, go_to, page_state, screenshot_path, status_lines,
                     wait_ended, wait_final)
from .drawn import Watch

RAN: dict[str, str] = {}  # what the tests trained: "group" (Train), "play" (Playground), "parity"
PARAM_OF_PAGE = {"Playground": "play", "Parity": "parity"}  # the others show ?group=


def open_watched(new_page, url: str):
    page = new_page(SCREEN)
    watch = Watch(page)
    page.goto(url, timeout=REACT_MS)
    app_bench.wait_idle(page, REACT_MS / 1000)
    return page, watch


def click(page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()


def param(page, name: str, timeout_ms: float = REACT_MS) -> str:
    """The value of ``name`` in the page's URL, once it is there."""
    page.wait_for_url(re.compile(rf"[?&]{name}=[^&]+"), timeout=timeout_ms)
    return parse_qs(urlparse(page.url).query)[name][0]


def wait_steps(page, step: int) -> None:
    """Wait until every run's status says it has taken ``step`` steps."""
    deadline = time.monotonic() + REACT_MS / 1000
    while True:
        lines = status_lines(page_state(page)["status"])
        if lines and all(f"step {step}/" in words and words.startswith("paused") for _, words in lines):
            return
        assert time.monotonic() < deadline, f"after {step} Step(s), the status says {lines}"
        page.wait_for_timeout(250)


def in_view(locator) -> bool:
    """The element is wholly on the screen, as the page is now scrolled."""
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= SCREEN["height"]


def first_points_problems(watch: Watch, runs: set[str]) -> list[str]:
    """Wait until the live loss chart draws a point of each of ``runs`` (the first step's record);
    a problem if it does not within `REACT_MS`."""
    deadline = time.monotonic() + REACT_MS / 1000
    while True:
        live = [c for c in watch.snapshot()["charts"] if c["kind"] == "live" and c["title"] == "Loss"]
        drawn = {s["name"].split(" / ")[0] for c in live for s in c["series"] if s["points"] >= 1}
        if runs <= drawn:
            return []
        if time.monotonic() > deadline:
            return [f"after the first Step the live loss chart draws no point for {sorted(runs - drawn)} "
                    f"(live charts: {live})"]
        watch.page.wait_for_timeout(250)


def stop_if_going(page, app, group: str) -> None:
    """Press Stop if the runs of ``group`` have not all ended (a test that failed holding them)."""
    store = Store(app.store)
    try:
        going = not app_bench.group_final(store, group)
    finally:
        store.close()
    if going:
        click(page, "Stop")
        wait_final(app, group)


def live_and_final(page, watch: Watch, groups: list[str], app) -> list[str]:
    """After a page started ``groups``: wait for their end in the store and for the page's final
    charts; the problems drawn or logged meanwhile, and one if no frame was drawn while they trained."""
    for group in groups:
        wait_final(app, group)
    page.wait_for_selector('[data-testid="stVegaLiteChart"]', state="attached", timeout=REACT_MS)
    watch.wait_vega()
    snapshot = watch.snapshot()
    problems = list(watch.problems())
    if snapshot["liveFrames"] == 0:
        problems.append("no live chart was drawn while the runs trained")
    return problems


def tour(page, watch: Watch, folder, suffix: str, open_page) -> list[str]:
    """Open every page in turn (``open_page(title)``), screenshot it (``NN-page-suffix.png``) and
    return what each drew, logged or showed wrong, each problem under the page it first appeared on."""
    problems, reported = [], set()
    for title in PAGE_TITLES:
        console = len(watch.console)
        open_page(title)
        # Right after a page loads, Streamlit may mark the script idle before its first run has
        # started; its elements are grey placeholders until then.
        page.wait_for_function('() => !document.querySelector(\'[data-testid="stSkeleton"]\')', timeout=REACT_MS)
        watch.wait_vega()
        page.screenshot(path=str(screenshot_path(folder, title, suffix)))
        found = [*watch.snapshot()["problems"], *watch.console[console:],
                 *(f"the page shows an exception: {e}" for e in page_state(page)["exceptions"])]
        problems += [f"{title}: {p}" for p in found if p not in reported]
        reported.update(found)
    return problems


def assert_none(problems: list[str], when: str) -> None:
    assert not problems, f"{when}:\n  " + "\n  ".join(problems)


def test_every_page_before_a_run(app, new_page, screenshots):
    page, watch = open_watched(new_page, f"{app.url}/")
    assert_none(tour(page, watch, screenshots, "before", lambda title: go_to(page, title)), "Before any run")


def test_train_page_held_by_step_then_finished(app, new_page, epochs):
    page, watch = open_watched(new_page, f"{app.url}/?epochs={epochs}")
    unseen = [] if in_view(page.get_by_role("button", name="Train", exact=True)) else [
        f"at {SCREEN['width']}×{SCREEN['height']} the Train button is below the fold"]
    click(page, "Step")
    RAN["group"] = group = param(page, "group")
    try:
        wait_steps(page, 1)
        problems = unseen + first_points_problems(watch, {"BP", "DFA"})
        state = page_state(page)
        if state["resume"] is not True:
            assert_none([*problems, f"after Step the runs are paused ({state['status']!r}), but no Resume button "
                                    f"offers to go on (buttons: {state['buttons']})"], "While the runs were held by Step")
        click(page, "Resume")
        infos = wait_final(app, group)
    finally:  # runs left paused would count in every later page's "Training now"
        stop_if_going(page, app, group)
    assert [i.status for i in infos] == ["done", "done"], [(i.status, i.error) for i in infos]
    problems += wait_ended(page, infos)
    if not problems:
        watch.wait_vega()
    assert_none([*problems, *watch.problems()], "While the runs were held by Step, and after they finished")


def test_playground_draws_well_while_training_and_after(app, new_page, epochs):
    # seconds of training here (a painted map per epoch makes a Playground epoch slow)
    page, watch = open_watched(new_page, f"{app.url}/playground?pg_epochs={max(10, min(100, epochs // 2))}")
    click(page, "Train")
    RAN["play"] = group = param(page, "play")
    problems = live_and_final(page, watch, [group], app)
    first_map = page.locator('[data-testid="stVegaLiteChart"]').first
    if not in_view(first_map):   # the button that painted it is in view: the maps must be too
        problems.append(f"at {SCREEN['width']}×{SCREEN['height']} the Playground's maps are below the fold "
                        f"(the first at {first_map.bounding_box()})")
    assert_none(problems, "The Playground, while it trained and after")


def test_parity_draws_well_while_training_and_after(app, new_page, epochs):
    # two seeds (the band needs two), six runs, about as many samples as the Train page's comparison
    samples = max(1000, 150 * epochs)
    page, watch = open_watched(new_page, f"{app.url}/parity?par_seeds=2&par_epochs=3&par_train={samples}&par_test=200")
    click(page, "Run experiment")
    RAN["parity"] = groups = param(page, "parity")
    assert_none(live_and_final(page, watch, groups.split(","), app), "The Parity page, while it trained and after")


def test_parity_with_one_seed_draws_its_curves_with_no_band_to_warn_about(app, new_page, epochs):
    # one seed: no interval at any epoch, so the band is nothing but NaN (Vega warned "Infinite extent")
    samples = max(500, 75 * epochs)
    page, watch = open_watched(new_page, f"{app.url}/parity?par_seeds=1&par_epochs=2&par_train={samples}&par_test=200")
    click(page, "Run experiment")
    for group in param(page, "parity").split(","):
        wait_final(app, group)
    page.wait_for_selector('[data-testid="stVegaLiteChart"]', state="attached", timeout=REACT_MS)
    watch.wait_vega()
    assert_none(watch.problems(), "The Parity page with one seed")


def test_every_page_after_the_runs(app, new_page, screenshots):
    # Every page is opened on the runs the tests above trained, in this process (run apart, or in
    # another worker, this test would tour empty pages and prove little).
    missing = {"group", "play", "parity"} - set(RAN)
    assert not missing, f"the tests before this one left no runs for {sorted(missing)}"
    page, watch = open_watched(new_page, f"{app.url}/?group={RAN.get('group', '')}")
    paths = {title: urlparse(page.locator('[data-testid="stSidebarNavLink"]').filter(
        has_text=re.compile(rf"(^|[^\w]){re.escape(title)}\s*$")).get_attribute("href")).path for title in PAGE_TITLES}

    def open_page(title: str) -> None:  # by its link, as a student given the link would
        name = PARAM_OF_PAGE.get(title, "group")
        page.goto(f"{app.url}{paths[title]}?{name}={RAN.get(name, '')}", timeout=REACT_MS)
        app_bench.wait_idle(page, REACT_MS / 1000)

    assert_none(tour(page, watch, screenshots, "after", open_page), "After the runs")
