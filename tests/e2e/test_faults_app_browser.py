"""A hostile link in the real browser: the page names every value it refuses, the address bar
shows what is used, and the console stays clean (issue 15, item 4; the AppTest cases are in
tests/test_faults_app.py). Screenshots: ``artifacts/screenshots/faults-*.png``."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from tools import app_bench

from .browse import TIMEOUT_MS
from .drawn import Watch

LINK = ("lr=0.1&lr=abc&lr=5&batch=0&rule2=bdfa&r2_block_size=0&epochs=1e23&momentum=2&colour=red"
        "&note=%5Bclick%5D(http://evil.example)&hidden=%5Bx%5D(https://evil.example/b)")


def _told(page) -> str:
    return page.locator('[data-testid="stAlert"]').first.inner_text(timeout=TIMEOUT_MS).replace("\u2060", "")


def test_a_hostile_link_is_named_and_the_address_shows_what_is_used(app, new_page, screenshots):
    page = new_page()
    watch = Watch(page)
    app_bench.open_train_page(page, f"{app.url}/?{LINK}")
    page.get_by_text("Not used from this link").wait_for(timeout=TIMEOUT_MS)
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    told = _told(page)
    for words in ("lr='abc' was not used", "The link gave lr 3 times: its last valid value, lr='5', is used",
                  "batch='0' was not used: batch size must be at least 1", "r2_block_size='0' was not used",
                  "epochs='1e23' was not used", "momentum='2' was not used", "colour='red' was not used"):
        assert words in told, told
    assert "note='[click](http://evil.example)' was not used" in told          # shown as text,
    assert page.locator('a[href*="evil.example"]').count() == 0               # not as a link
    page.wait_for_function("() => !location.search.includes('abc')", timeout=TIMEOUT_MS)
    assert page.locator('a[href*="evil.example"]').count() == 0
    address = parse_qs(urlparse(page.url).query)
    # what the controls use: a text control keeps its text, told beside it (not linked either)
    assert address == {"lr": ["5"], "rule2": ["bdfa"], "hidden": ["[x](https://evil.example/b)"]}, page.url
    page.get_by_text("Check this setting: hidden widths must be whole numbers").wait_for(timeout=TIMEOUT_MS)
    lr = page.get_by_label("learning rate", exact=True)
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    lr.wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function("""() => [...document.querySelectorAll('input')]
        .some(i => i.getAttribute('aria-label') === 'learning rate' && i.value === '5')""", timeout=20_000)
    assert float(lr.input_value()) == 5.0
    page.screenshot(path=str(screenshots / "faults-train-link.png"), full_page=False)

    other = new_page()                    # the Representations page, given a path for a run id
    watch_other = Watch(other)
    other.goto(f"{app.url}/representations?run=../../x", timeout=TIMEOUT_MS)
    other.get_by_text("Not used from this link").wait_for(timeout=TIMEOUT_MS)
    app_bench.wait_idle(other, TIMEOUT_MS / 1000)
    assert "run id must be 16 lowercase hex characters" in _told(other)
    assert "kept no hidden maps" not in other.inner_text("body")
    other.wait_for_function("() => !location.search.includes('run=')", timeout=TIMEOUT_MS)
    other.screenshot(path=str(screenshots / "faults-representations-link.png"), full_page=False)

    watch.assert_clean("after the hostile link")
    watch_other.assert_clean("after the link with a path for a run id")


def test_a_value_typed_into_a_control_is_checked_beside_it_not_blamed_on_a_link(app, new_page, screenshots):
    """A student types learning rate 0 on a page opened with a link (?epochs=3): the page says so
    beside the control, not as "Not used from this link", however many other controls change
    afterwards, the address keeps what the control shows, and once the value is fixed no warning is left."""
    from .browse import set_control

    page = new_page()
    watch = Watch(page)
    app_bench.open_train_page(page, f"{app.url}/?epochs=3")
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    set_control(page, "learning rate", "0")
    page.get_by_text("Check this setting: learning rate must be greater than 0").wait_for(timeout=TIMEOUT_MS)
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    for epochs in ("4", "5"):   # later reruns, each from another control
        set_control(page, "epochs", epochs)
        page.wait_for_function(f"() => location.search.includes('epochs={epochs}')", timeout=TIMEOUT_MS)
        app_bench.wait_idle(page, TIMEOUT_MS / 1000)
        body = page.inner_text("body")
        assert "Not used from this link" not in body and "The link's" not in body, body
        assert "Check this setting: learning rate must be greater than 0" in body, body
        assert parse_qs(urlparse(page.url).query).get("lr") == ["0"], page.url
    page.screenshot(path=str(screenshots / "faults-typed-lr0.png"), full_page=False)
    set_control(page, "learning rate", "0.05")
    page.get_by_text("Check this setting").wait_for(state="detached", timeout=TIMEOUT_MS)
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    alerts = page.locator('[data-testid="stAlert"]').all_inner_texts()  # the "Choose the setup below" hint only
    assert [a for a in alerts if not a.startswith("Choose the setup below")] == [], alerts
    assert parse_qs(urlparse(page.url).query).get("lr") in (None, ["0.05"]), page.url
    watch.assert_clean("after typing a learning rate of 0 and putting it back")


def test_an_init_range_typed_then_left_for_another_control_is_kept(app, new_page):
    """A student sets the forward init's range, confirming each box with Enter, presses Escape, and
    picks a feedback init: the range stays, in the boxes and in the address (Streamlit's number box
    with no default empties itself on Escape after Enter, so these boxes take text)."""
    from .browse import choose, control_value, set_control

    page = new_page()
    watch = Watch(page)
    app_bench.open_train_page(page, f"{app.url}/")
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    choose(page, "forward init", "uniform")
    page.get_by_label("forward init: high", exact=True).wait_for(timeout=TIMEOUT_MS)
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    set_control(page, "forward init: low", "-0.2")
    page.wait_for_function("() => location.search.includes('init_low=-0.2')", timeout=TIMEOUT_MS)
    set_control(page, "forward init: high", "0.2")
    page.wait_for_function("() => location.search.includes('init_high=0.2')", timeout=TIMEOUT_MS)
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    page.keyboard.press("Escape")             # in the box just confirmed
    choose(page, "feedback init", "normal")
    page.wait_for_function("() => location.search.includes('fb=normal')", timeout=TIMEOUT_MS)
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    assert (control_value(page, "forward init: low"), control_value(page, "forward init: high")) == ("-0.2", "0.2")
    address = parse_qs(urlparse(page.url).query)
    assert address["init_low"] == ["-0.2"] and address["init_high"] == ["0.2"], page.url
    # the next box to fill, told once the rerun the choice started has drawn (awaited: on a busy
    # machine the address can change before the script's last elements arrive)
    page.get_by_text("feedback init: std is required for initialiser 'normal'").first.wait_for(timeout=TIMEOUT_MS)
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    body = page.inner_text("body")
    assert "forward init: low is required" not in body and "forward init: high is required" not in body
    watch.assert_clean("after setting an init range and a feedback init")


def test_a_number_typed_outside_its_old_range_is_told_beside_it_and_starts_nothing(app, new_page, screenshots):
    """A student types epochs -1 and presses Enter. Streamlit's number box does not send a value
    outside its own min/max: it turned red and the page kept the old value, so Train trained 20
    epochs under a box showing -1 (a student walkthrough). The boxes take any number now, and the
    page's own check names it beside the control; Train starts nothing; putting it back clears it."""
    from explorer.runs.store import Store

    from .browse import set_control

    page = new_page()
    watch = Watch(page)
    app_bench.open_train_page(page, f"{app.url}/")
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    with Store(app.store) as store:
        before = len(store.list_runs())
    set_control(page, "epochs", "-1")
    page.get_by_text("Check this setting: epochs must be at least 1, got -1").wait_for(timeout=TIMEOUT_MS)
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Not started: epochs must be at least 1, got -1").wait_for(timeout=TIMEOUT_MS)
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    page.screenshot(path=str(screenshots / "faults-typed-epochs-minus-one.png"), full_page=False)
    with Store(app.store) as store:
        assert len(store.list_runs()) == before, "Train started runs with a setting the page refused"
    set_control(page, "epochs", "2")
    page.get_by_text("Check this setting").wait_for(state="detached", timeout=TIMEOUT_MS)

    page.goto(f"{app.url}/playground", timeout=TIMEOUT_MS)   # another page, another box: the same
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    set_control(page, "samples", "3")
    page.get_by_text("samples must be between 20 and 20,000, got 3").wait_for(timeout=TIMEOUT_MS)
    app_bench.wait_idle(page, TIMEOUT_MS / 1000)
    assert page.get_by_role("button", name="Train", exact=True).is_disabled()
    set_control(page, "samples", "500")
    page.get_by_text("samples must be between").wait_for(state="detached", timeout=TIMEOUT_MS)
    watch.assert_clean("after typing numbers outside the boxes' old ranges and putting them back")
