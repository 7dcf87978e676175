"""Classroom links on the Playground and Parity pages (the Train page's are in test_page_train.py):
``?hide=…`` folds chosen groups of controls into a closed box, and "Share this setup" builds
such a link, leaving out the runs shown unless asked."""

from __future__ import annotations

import pytest

from apptest_tools import app_on


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
