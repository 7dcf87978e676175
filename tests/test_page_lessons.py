"""The Lessons page through AppTest: a preset runs in one click and is shown beside its published values,
the catalogue entry's it is a classroom view of, with a link to that entry on the Reproduce page."""

from __future__ import annotations

import math
import re

import pytest
from streamlit.testing.v1 import AppTest

from apptest_tools import APP, _elements, button, run_until, text
from explorer.experiments import lessons
from explorer.config.labels import number_text
from explorer.runs.store import Store


def _lessons_page(lesson: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/lessons.py").run()
    at.selectbox(key="lesson").set_value(lesson).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="lesson").value == lesson
    return at


def test_a_lesson_runs_in_one_click_beside_its_published_values(store_path):
    lesson = lessons.get("lillicrap_linear")
    at = _lessons_page(lesson.key)
    published = at.dataframe[0].value
    assert list(published["run"]) == [p.run for p in lesson.published()]
    assert list(published["published"]) == ["≈1e-11", "≈1e-11", "≈1"]      # read off a plot
    assert set(published["what"]) == {"normalised squared error"}          # in words, not the key nse
    button(at, "Run this lesson").click().run()
    store = Store(store_path)
    run_until(at, lambda a: all(r.status == "done" for r in store.list_runs()) and len(store.list_runs()) == 3
              and "training" not in text(a), timeout=120)
    at.run()
    table = at.dataframe[-1].value
    runs = list(reversed(store.list_runs()))
    assert [r.config["algorithm"]["name"] for r in runs] == [c.algorithm.name for c in lesson.configs()]
    for label, run in zip(lesson.labels(), runs):
        final = store.metrics(run.id)[-1]
        for metric in lesson.metrics:
            shown = table[(table["label"] == label) & (table["metric"] == lessons.words_of(metric))]["measured"].iloc[0]
            expected = lessons.measure(final, metric)
            assert shown == number_text(expected, lessons.unit_of(metric))
    for p in lesson.published():
        assert table[(table["label"] == p.run) & (table["metric"] == lessons.words_of(p.metric))]["published"].iloc[0] \
            == p.text()
    # Issue 12, item 6: no raw None, no long decimals (the linear task's errors reach 1e-13).
    cells = [str(v) for column in ("measured", "published") for v in table[column]]
    assert all(c == "–" or re.fullmatch(r"≈?-?[\d.]+(e[-+]\d+)?( ?[%°×]| ms)?", c) and len(c) <= 9 for c in cells), cells
    # The lesson's point: FA learns the linear task, the shallow network does not.
    errors = {row["label"]: row["measured"] for _, row in table.iterrows()
              if row["metric"] == lessons.words_of(lesson.metrics[0])}
    assert all(math.isfinite(float(v)) for v in errors.values())
    # The loss axis control is offered, and the legend names the runs as the lesson does.
    assert at.radio(key="lesson_loss_axis").value is not None


@pytest.mark.parametrize("key", ["resnet_sign", "parity_k1"])
def test_a_lesson_names_its_catalogue_entry_and_links_to_it(key):
    lesson = lessons.get(key)
    entry = lesson.catalogue_entry
    at = _lessons_page(key)
    assert at.markdown[0].value.startswith(f"A classroom view of **{entry.ref}** of {lessons.document(entry)}")
    [link] = [e for e in _elements(at._tree, "page_link") if e.proto.page == "reproduce"]
    assert link.proto.query_string == f"entry={entry.id}&scale=classroom"
    published = at.dataframe[0].value
    assert list(published["published"]) == [p.text() for p in lesson.published()]
    if key == "parity_k1":
        assert list(published["published"]) == ["≈98.5%", "≈98%", "≈92%"]


def test_open_on_the_train_page_carries_the_setup(store_path):
    lesson = lessons.get("sparse_dfa")
    at = _lessons_page(lesson.key)
    button(at, "Open on the Train page").click().run()
    assert not at.exception
    cfgs = lesson.configs()
    assert at.selectbox(key="rule3").value == cfgs[2].algorithm.name
    assert at.number_input(key="lr").value == pytest.approx(cfgs[0].optimizer.lr)
    assert at.number_input(key="batch").value == cfgs[0].train.batch_size


def test_open_on_the_train_page_shows_the_lesson_and_nothing_left_from_before(store_path):
    """A student who changed the Train page earlier in the session opens a lesson there: every
    control shows the lesson's value, or the page's default where the lesson has none."""
    from explorer.views.urlstate import DEFAULTS

    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.selectbox(key="rule4").set_value("fa").run()
    at.number_input(key="seed").set_value(7).run()
    at.number_input(key="wd").set_value(0.001).run()
    at.switch_page("pages/lessons.py").run()
    at.selectbox(key="lesson").set_value("sparse_dfa").run()
    button(at, "Open on the Train page").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Train"
    cfgs = lessons.get("sparse_dfa").configs()
    assert at.selectbox(key="rule4").value == DEFAULTS["rule4"] and len(cfgs) < 4
    assert at.number_input(key="seed").value == cfgs[0].seed
    assert at.number_input(key="wd").value == pytest.approx(cfgs[0].optimizer.weight_decay)
    assert "wd" not in at.query_params or at.query_params["wd"] != ["0.001"]


@pytest.mark.parametrize("key, why", [("lillicrap_linear", "the Train page cannot hold this lesson's setup: the "
                                                          "dataset's option kind='linear' has no control on the Train page"),
                                      ("feedback_range", "the Train page gives every rule the same feedback")])
def test_a_lesson_the_train_page_cannot_hold_leaves_its_button_off_saying_why(store_path, key, why):
    at = _lessons_page(key)
    opener = button(at, "Open on the Train page")
    assert opener.disabled and why in opener.help and not at.error


def test_a_lesson_with_more_runs_than_the_train_page_holds_says_so(store_path):
    at = _lessons_page("sign_manhattan")
    opener = button(at, "Open on the Train page")
    assert opener.disabled and opener.help == "this lesson has 6 runs; the Train page holds 4 rules"


@pytest.mark.parametrize("key", ["parity_k1", "parity_k3"])
def test_a_parity_lesson_opens_on_the_parity_page_with_its_whole_setup(store_path, key):
    from explorer.experiments.parity import ParitySetup

    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/parity.py").run()
    at.number_input(key="par_seeds").set_value(2).run()          # set earlier in the session
    at.switch_page("pages/lessons.py").run()
    at.selectbox(key="lesson").set_value(key).run()
    assert not [b for b in at.button if b.label == "Open on the Train page"]
    button(at, "Open on the Parity page").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Parity"
    want = ParitySetup.of(lessons.get(key).configs())
    assert at.number_input(key="par_k").value == want.k and at.number_input(key="par_seeds").value == want.seeds
    assert list(at.multiselect(key="par_rules").value) == list(want.rules)
    assert list(at.multiselect(key="par_opts").value) == list(want.optimizers) == ["adadelta"]
    assert at.number_input(key="par_epochs").value == want.epochs
