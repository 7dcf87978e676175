"""The Alignment page's words follow what it shows: the caption's reading of the charts in the unit
chosen (degrees or cosine), and, under each kind, why a run has no line, for that run's rule only."""

from __future__ import annotations

import pytest

from apptest_tools import app_on, app_workspace, text

SETUP = {"model": {"hidden": [16, 16]}, "train": {"epochs": 1}, "device": "cpu"}


@pytest.fixture(scope="module")
def group(tmp_path_factory):
    with app_workspace(tmp_path_factory.mktemp("alignment") / "runs.sqlite") as ws:
        found = ws.compare(SETUP, [{"name": "bp"}, {"name": "fa"}, {"name": "dfa"}])
        found.wait(timeout=120)
        yield found.group


def _page(group: str):
    return app_on("pages/alignment.py", group=group)


def test_the_caption_reads_the_charts_in_the_unit_shown(group):
    at = _page(group)
    assert "Below 90° a rule's update still goes downhill; 0° is backprop itself" in text(at)
    at.radio(key="align_unit").set_value("cos").run()
    words = text(at)
    assert "Above 0 a rule's update still goes downhill; 1 is backprop itself" in words and "90°" not in words
    at.radio(key="align_unit").set_value("deg").run()   # put back
    assert "Below 90°" in text(at)


def test_a_run_without_a_line_is_named_with_its_own_reason_only(group):
    words = text(_page(group))
    # weight alignment: BP has no feedback matrix; FA's and DFA's feedback has its lines
    assert "the feedback matrix against the forward weights it stands in for. No line for BP: it has no " \
           "feedback matrix." in words
    assert "stands in for no one forward matrix" not in words   # a reason for a run that is not missing
    assert "No line for FA" not in words and "No line for DFA" not in words
