"""Classroom links on the Playground and Parity pages (the Train page's are in test_page_train.py):
``?hide=…`` folds chosen groups of controls into a closed box, and "Share this setup" builds
such a link, leaving out the runs shown unless asked. On every page the controls left shown close
up, leaving no empty column where a hidden group was, and every group a page offers to hide hides
something."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from apptest_tools import app_on
from explorer.views.urlstate import CONTROLS as TRAIN_GROUPS


@pytest.mark.parametrize("page, hide, inside, outside, runs_param", [
    ("pages/playground.py", "network", {"pg_hidden", "pg_act", "pg_rules"}, {"pg_lr", "pg_data"}, "play"),
    ("pages/parity.py", "rules,size", {"par_rules", "par_opts", "par_seeds", "par_epochs", "par_hidden"},
     {"par_k", "par_base"}, "parity"),
])
def test_a_classroom_link_folds_the_hidden_controls_away_and_builds_such_links(
        page, hide, inside, outside, runs_param, store_path):
    at = app_on(page, hide=hide)
    box = next(e for e in at.expander if e.label == "Settings fixed by this link")
    keys = {w.key for kind in (box.number_input, box.selectbox, box.multiselect, box.text_input) for w in kind}
    assert inside <= keys and not outside & keys
    share = next(m for m in at.multiselect if m.label == "controls to hide")
    assert share.value == sorted(hide.split(","))
    at.query_params[runs_param] = "0123456789abcdef"   # runs shown: left out of the link unless asked
    share.set_value(["rules"] if "rules" in share.options else [share.options[0]]).run()
    link = at.code[-1].value
    assert f"hide={share.value[0]}" in link and runs_param + "=" not in link


def _keys(node) -> set[str]:
    """The widget keys inside an element of the app's tree."""
    own = {node.key} if getattr(node, "key", None) else set()
    return own.union(*(_keys(child) for child in getattr(node, "children", {}).values()))


def _grid(at) -> list[set[str]]:
    """The columns of the page's rows of columns that hold a control, in reading order (each as
    the keys it holds), the rows one after the other."""
    found = []

    def walk(node):
        children = list(getattr(node, "children", {}).values())
        if children and all(getattr(child, "type", None) == "column" for child in children):
            row = [_keys(child) for child in children]
            if any(row):
                found.extend(row)
        for child in children:
            walk(child)

    walk(at.main)
    return found


@pytest.mark.parametrize("page, hide, first", [
    ("pages/train.py", "data", "model"),
    ("pages/train.py", "data,model,rules", "init"),
    ("pages/train.py", "model,optimizer", "data"),
    ("pages/parity.py", "task", "par_rules"),
    ("pages/parity.py", "rules", "par_k"),
    ("pages/playground.py", "data,network", "pg_opt"),
])
def test_the_shown_controls_close_up_where_a_hidden_group_was(page, hide, first, store_path):
    at = app_on(page, hide=hide)
    grid = _grid(at)
    filled = [bool(column) for column in grid]
    assert filled == sorted(filled, reverse=True), f"an empty column before a filled one: {grid}"
    assert first in grid[0]


@pytest.mark.parametrize("group", TRAIN_GROUPS)
def test_every_group_the_train_page_offers_to_hide_hides_its_own_controls(group, store_path):
    at = app_on("pages/train.py", hide=group)
    box = next(e for e in at.expander if e.label == "Settings fixed by this link")
    hidden = _keys(box)
    assert hidden, f"hide={group} hid nothing"
    assert not hidden & set().union(*_grid(at))
    shown = set().union(*_grid(app_on("pages/train.py")))
    assert hidden < shown      # only that group's: the rest stay in the grid


def test_the_share_link_of_the_default_setup_is_the_bare_address(store_path):
    at = app_on("pages/train.py")
    link = at.code[-1].value
    assert not link.endswith("?") and "?" not in link, link


@pytest.mark.parametrize("page, chosen", [
    ("pages/playground.py", {"pg_rules": ["BP", "FA", "DFA", "sDFA"]}),
    ("pages/parity.py", {"par_rules": ["BP", "FA"], "par_opts": ["sgd", "adam"]}),
])
def test_the_share_link_keeps_every_choice_of_a_control_that_takes_several(page, chosen, store_path):
    """A control with several choices is in the address once per choice (``pg_rules=BP&pg_rules=FA…``),
    and the link built from that address names every one of them, not only the last."""
    at = app_on(page, **chosen)
    assert not at.warning, [w.value for w in at.warning]   # the address was taken as it is
    query = parse_qs(urlparse(at.code[-1].value).query)
    assert {key: query.get(key) for key in chosen} == chosen, at.code[-1].value
