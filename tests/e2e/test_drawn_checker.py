"""The checker of what pages draw (`drawn`), on drawings made to be wrong and right: it must see a
NaN in a path, a series whose x goes back, an axis number with too many digits and a console
error, and must pass a clean drawing. No app: the drawings are set as the page's content."""

from __future__ import annotations

from .drawn import Watch

CLEAN = """<svg class="explorer-live" data-title="Loss"><text>0.25</text><text>100</text>
  <path class="curve" data-run="BP" data-split="train" d="M10.0,50.0 L20.0,40.0 L30.0,35.5"/>
  <path class="band" data-run="BP" d="M10.0,5.0 L30.0,6.0 L30.0,9.0 L10.0,8.0 Z"/></svg>"""
WRONG = """<svg class="explorer-live" data-title="Loss"><text>1.4999999999999998</text>
  <path class="curve" data-run="DFA" data-split="test" d="M10.0,50.0 L30.0,40.0 L20.0,35.0"/>
  <path class="band" data-run="DFA" d="M48.0,28.0 L839.0,nan L48.0,244.0 Z"/>
  <polyline points="1,2 Infinity,3"/></svg>"""


def drawn(browser, html: str) -> list[str]:
    page = browser.new_page()
    try:
        watch = Watch(page)
        page.set_content(f"<html><body>{html}</body></html>")
        return watch.problems()
    finally:
        page.close()


def test_a_clean_drawing_passes(browser):
    assert drawn(browser, CLEAN) == []


def test_nan_backward_series_long_numbers_and_console_errors_are_seen(browser):
    problems = drawn(browser, WRONG + "<script>console.error('boom')</script>")
    said = "\n".join(problems)
    assert 'series "DFA / test": x goes back or stays put at point 2 of 3' in said, said
    assert "L839.0,nan" in said and "Infinity" in said, said
    assert 'an axis reads "1.4999999999999998"' in said, said
    assert "console error: boom" in said, said
