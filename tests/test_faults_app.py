"""The app as a shared classroom server (issue 15, item 4): hostile links and the server's caps.

A link's value a page cannot use is refused at the door, named with the reason (and the allowed
range, from the bounds the registry and the config declare), and the address is rewritten to what
is used; a repeated parameter uses its last valid value. Runs past the host's caps are refused
before they start (steps per run, runs per session and in all) or stopped when their time is up.
Every page is driven through Streamlit's AppTest; runs are held with Step or paused, never raced.
"""

from __future__ import annotations

import re
import time

import pytest
from streamlit.testing.v1 import AppTest

from apptest_tools import APP, button, run_until, set_widget, text
from explorer.config import RunConfig
from explorer.config.bounds import MAX_EPOCHS, MAX_LAYERS, MAX_LR, MAX_MOMENTUM, MAX_SAMPLES
from explorer.runs.jobs import JobManager
from explorer.runs.store import Store
from explorer.views import caps
from explorer.views.urlstate import DEFAULTS


def _open(page: str | None, query: list[tuple[str, str]]) -> AppTest:
    """The app opened on ``page`` (None: the Train page, the app's first) with ``query`` as its
    address, repeated keys included, as a browser opens a link."""
    at = AppTest.from_file(APP, default_timeout=60)
    if page is not None:
        at.run()
        at.switch_page(page)
    for key, value in query:
        before = at.query_params.get(key)
        at.query_params[key] = value if before is None else [*([before] if isinstance(before, str) else before), value]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _told(at) -> str:
    """The page's warnings as a person reads them (the page escapes a link's text for Markdown)."""
    return re.sub(r"\\(.)", r"\1", "\n".join(w.value for w in at.warning)).replace("\u2060", "")


def _address(at) -> dict:
    return {k: v for k, v in at.query_params.items()}


# The Train page: every refused value named, with the reason and the range; the address is what is used

@pytest.mark.parametrize("query, param, reason, kept", [
    ([("rule2", "xyz")], "rule2", "Rule 2 must be one of none, bp, fa, dfa", {}),
    ([("lr", "-1")], "lr", f"learning rate must be greater than 0, got -1 (allowed: greater than 0 and at most "
                           f"{MAX_LR:g})", {}),
    ([("lr", "nan")], "lr", "learning rate: expected a finite number", {}),
    ([("batch", "0")], "batch", f"batch size must be at least 1, got 0 (allowed: at least 1 and at most {MAX_SAMPLES})",
     {}),
    ([("momentum", "2")], "momentum", f"momentum must be at most {MAX_MOMENTUM:g}, got 2", {}),
    ([("rule2", "ifa"), ("r2_bp_depth", "5")], "r2_bp_depth", "Rule 2 (ifa) takes no top layers trained by BP",
     {"rule2": "ifa"}),
    ([("init_std", "0.3")], "init_std", "forward init (default) takes no std", {}),
    ([("rule2", "bdfa"), ("r2_block_size", "0")], "r2_block_size",
     f"Rule 2: hidden layers per block must be at least 1, got 0 (allowed: at least 1 and at most {MAX_LAYERS})",
     {"rule2": "bdfa"}),
    ([("epochs", "1e23")], "epochs", f"epochs: expected a whole number (allowed: at least 1 and at most {MAX_EPOCHS})",
     {}),
    ([("epochs", "1000000000"), ("seed", "3")], "epochs", f"epochs must be at most {MAX_EPOCHS}", {"seed": "3"}),
    ([("colour", "red")], "colour", "colour is not a setting of this page", {}),
    ([("rule", "fa")], "rule", "rule is not a setting of this page (did you mean rule1, rule2, rule3, rule4?)", {}),
    ([("group", "../../x")], "group", "runs shown: group id must be 16 lowercase hex characters", {}),
    ([("hide", "nonsense")], "hide", "names no group of controls of this page ('nonsense')", {}),
])
def test_a_refused_link_value_is_named_and_the_address_shows_what_is_used(store_path, query, param, reason, kept):
    at = _open(None, query)
    told = _told(at)
    assert f"The link's {param}={query[-1][1]!r} was not used: {reason}" in told or \
        f"The link's {param}=" in told and reason in told, told
    assert _address(at) == kept                                    # the refused value left the address
    for key, value in kept.items():                                # what stays is what the controls show
        assert str(at.selectbox(key=key).value if key.startswith("rule") else at.number_input(key=key).value) == value
    if param in ("lr", "batch", "momentum", "epochs"):
        assert at.number_input(key=param).value == DEFAULTS[param]   # and the control its default


def test_a_linked_batch_past_the_dataset_is_told_beside_its_control_not_refused(store_path):
    """Its trouble is the dataset, another setting: ?data=mnist&batch=10000 is a fine link, and
    ?batch=100000 on the digits is told once, beside the batch size, with no range contradicting it."""
    at = _open(None, [("batch", "100000")])
    assert "Not used from this link" not in _told(at)
    assert at.number_input(key="batch").value == 100_000
    [told] = [w.value for c in at.columns for w in c.warning if "batch" in w.value]
    assert told == "Check this setting: batch size must be at most the 1,438 training samples of 'digits', got 100,000"
    at = _open(None, [("data", "mnist"), ("batch", "10000")])
    assert "batch" not in _told(at) and at.number_input(key="batch").value == 10_000


def test_a_hide_list_with_one_unknown_name_hides_the_groups_it_does_name(store_path):
    at = _open(None, [("hide", "optimizer,train")])
    assert ("The link's hide='optimizer,train' was used in part: hidden controls: names no group of controls "
            "of this page ('train')") in _told(at), _told(at)
    assert _address(at) == {"hide": "optimizer"}
    box = next(e for e in at.expander if e.label == "Settings fixed by this link")
    assert "lr" in {w.key for w in box.number_input}


def test_a_link_text_is_shown_as_text_not_markdown(store_path):
    at = _open(None, [("note", "[click](http://evil.example) **now** $x$")])
    [box] = [w.value for w in at.warning]
    assert "[click]\\(http:\u2060//evil.example) **now** \\$x\\$" in box      # no link, no maths


def test_a_repeated_parameter_uses_its_last_valid_value_and_names_the_rest(store_path):
    at = _open(None, [("lr", "0.1"), ("lr", "abc"), ("lr", "5")])
    assert at.number_input(key="lr").value == 5.0
    assert _address(at) == {"lr": "5"}                             # "abc" is not kept in the address
    told = _told(at)
    assert "The link's lr='abc' was not used: learning rate: expected a number" in told
    assert "The link gave lr 3 times: its last valid value, lr='5', is used (lr='0.1' is left aside)" in told
    at = _open(None, [("lr", "0.2"), ("lr", "-1")])               # the last one refused: the last valid one
    assert at.number_input(key="lr").value == 0.2 and _address(at) == {"lr": "0.2"}


def test_a_link_past_the_steps_cap_is_refused_naming_the_cap(store_path, monkeypatch):
    from explorer import Trainer

    monkeypatch.setenv("EXPLORER_MAX_STEPS", "1000")
    steps = Trainer(RunConfig.from_dict({"train": {"epochs": 100}})).total_steps   # the trainer's own count
    assert steps > 1000
    at = _open(None, [("epochs", "100"), ("lr", "0.1")])
    told = _told(at)
    assert (f"The link's epochs='100' was not used: epochs: 100 epochs of {steps // 100} steps make {steps:,} "
            f"training steps; this server trains at most 1,000 steps per run (its host can raise "
            f"EXPLORER_MAX_STEPS)") in told
    assert _address(at) == {"lr": "0.1"} and at.number_input(key="epochs").value == DEFAULTS["epochs"]
    # the same number typed into the control: flagged beside it, and Train starts nothing
    set_widget(at, "epochs", 100).run()
    assert "Check this setting: epochs: 100 epochs" in text(at)
    button(at, "Train").click().run()
    assert "Not started: epochs: 100 epochs" in text(at) and Store(store_path).list_runs() == []


def test_steps_are_counted_as_the_trainer_counts_them():
    from explorer import Trainer

    for d in ({"train": {"epochs": 3, "batch_size": 50}},
              {"data": {"name": "random", "samples": 300, "features": 4, "classes": 3}, "train": {"epochs": 2}},
              {"data": {"name": "parity", "base": "digits", "k": 2, "train_samples": 500, "test_samples": 100},
               "model": {"hidden": [16]}, "train": {"epochs": 2, "batch_size": 32, "loss": "cross_entropy"}}):
        cfg = RunConfig.from_dict({**d, "device": "cpu"})
        assert caps.steps_of(cfg) == Trainer(cfg).total_steps


# The other pages -------------------------------------------------------------------------------

@pytest.mark.parametrize("page, query, told, kept", [
    ("pages/parity.py", [("par_k", "-3")], "The link's par_k='-3' was not used: k (digits per sample) must be from "
                                          "1 to 10, got -3", {}),
    ("pages/parity.py", [("par_rules", "BP"), ("par_rules", "bogus"), ("par_epochs", "5000")],
     "The link's par_rules='bogus' was not used: rules must be one of", {"par_rules": "BP"}),
    ("pages/parity.py", [("par_epochs", "5000")], "The link's par_epochs='5000' was not used: epochs: a whole "
                                                  "number from 1 to 1,000", {}),
    ("pages/parity.py", [("parity", "0123456789abcdef")], "this server's store has no group 0123456789abcdef", {}),
    ("pages/playground.py", [("pg_lr", "nan"), ("pg_epochs", "7")], "The link's pg_lr='nan' was not used: learning "
                                                                    "rate: expected a finite number", {"pg_epochs": "7"}),
    ("pages/playground.py", [("pg_share", "0.95")], "The link's pg_share='0.95' was not used: train share must be "
                                                    "from 0.1 to 0.9", {}),
    ("pages/runs.py", [("runs_limit", "7"), ("runs_q", "dfa")], "The link's runs_limit='7' was not used: newest must "
                                                                "be one of 100, 500, 2000, 10000", {"runs_q": "dfa"}),
    ("pages/lessons.py", [("lesson", "nope")], "The link's lesson='nope' was not used: Lesson must be one of", {}),
    ("pages/reproduce.py", [("seeds", "0")], "The link's seeds='0' was not used: seeds must be from 1 to 10", None),
    ("pages/alignment.py", [("group", "../../x")], "The link's group='../../x' was not used: runs shown: group id "
                                                   "must be 16 lowercase hex characters", {}),
])
def test_every_page_names_what_it_refuses_from_a_link(store_path, page, query, told, kept):
    at = _open(page, query)
    assert told in _told(at), _told(at)
    address = _address(at)
    assert all(key not in address or address[key] != value for key, value in query if value in told.split("'"))
    if kept is not None:
        assert address == kept


def test_parity_shows_the_value_it_uses(store_path):
    at = _open("pages/parity.py", [("par_k", "-3")])
    assert at.number_input(key="par_k").value == 3 and "par_k" not in at.query_params
    at = _open("pages/parity.py", [("par_k", "5")])
    assert at.number_input(key="par_k").value == 5 and at.query_params["par_k"] == "5"


def test_representations_says_why_a_linked_run_cannot_be_shown(store_path):
    bad = _open("pages/representations.py", [("run", "../../x")])
    assert "The link's run='../../x' was not used: run id must be 16 lowercase hex characters" in _told(bad)
    assert "kept no hidden maps" not in text(bad) and "run" not in bad.query_params
    absent = _open("pages/representations.py", [("run", "0123456789abcdef")])
    assert "this server's store has no run 0123456789abcdef" in _told(absent)
    store = Store(store_path)      # a real run that kept no maps: then that is the reason given
    run = store.create_run({"model": {"hidden": [4]}, "train": {"epochs": 1}})
    store.finish_run(run, "done")
    kept = _open("pages/representations.py", [("run", run)])
    assert "This run kept no hidden maps" in text(kept) and not _told(kept)
    assert kept.query_params["run"] == run


# Caps on starts, and on time -------------------------------------------------------------------

@pytest.mark.parametrize("variable, words", [
    ("EXPLORER_SESSION_RUNS", "9 more runs would make 9 queued or training in this session; this server takes at "
                              "most 2 per session (its host can raise EXPLORER_SESSION_RUNS)"),
    ("EXPLORER_TOTAL_RUNS", "9 more runs would make 9 queued or training on this server, for every session "
                            "together; it takes at most 2 (its host can raise EXPLORER_TOTAL_RUNS)"),
])
def test_a_start_past_the_runs_caps_is_refused_naming_the_cap(store_path, monkeypatch, variable, words):
    monkeypatch.setenv(variable, "2")
    at = _open("pages/parity.py", [])          # the default experiment: 3 rules × 3 seeds
    button(at, "Run experiment").click().run()
    assert not at.exception
    assert f"Not started: {words}" in text(at)
    assert Store(store_path).list_runs() == []


def test_the_guard_stops_a_run_past_its_time_and_says_why(tmp_path):
    with JobManager(tmp_path / "runs.sqlite", max_concurrent=1) as jobs:
        limits = caps.Caps(max_seconds=0.3)
        guard = caps.Guard(jobs, limits, every=0.05)
        held = jobs.submit({"model": {"hidden": [4]}, "train": {"epochs": 1}, "device": "cpu"}, paused=True)
        quick = caps.Caps(max_seconds=3600)
        assert held.wait(timeout=60) == "cancelled"            # held forever but for the guard
        deadline = time.monotonic() + 30
        while held.id not in guard.stopped and time.monotonic() < deadline:
            time.sleep(0.05)
        info = jobs.store.get_run(held.id)
        assert info.status == "cancelled" and info.error == caps.stop_words("max_seconds", limits)
        assert "EXPLORER_MAX_SECONDS" in info.error and info.steps_done == 0
        guard.caps = quick                                   # a run within its time is left alone
        done = jobs.submit({"model": {"hidden": [4]}, "train": {"epochs": 1}, "device": "cpu"})
        assert done.wait(timeout=60) == "done" and jobs.store.get_run(done.id).error is None
        guard.close()


def test_the_guard_stops_a_run_past_its_steps(tmp_path):
    with JobManager(tmp_path / "runs.sqlite", max_concurrent=1) as jobs:
        run = jobs.submit({"model": {"hidden": [4]}, "train": {"epochs": 3}, "device": "cpu"}, paused=True)
        run.step(8)                                  # 8 steps, then it waits: only the guard ends it
        deadline = time.monotonic() + 60
        while run.steps_done < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        guard = caps.Guard(jobs, caps.Caps(max_steps=5), every=0.05)
        assert run.wait(timeout=60) == "cancelled"
        deadline = time.monotonic() + 30
        while run.id not in guard.stopped and time.monotonic() < deadline:
            time.sleep(0.05)
        info = jobs.store.get_run(run.id)
        assert info.steps_done == 8 and info.error == caps.stop_words("max_steps", guard.caps)
        guard.close()


def test_the_guard_frees_a_worker_held_by_a_paused_run_only_while_others_wait(tmp_path):
    now = [0.0]                                      # the guard's clock: the test moves it
    config = {"model": {"hidden": [4]}, "train": {"epochs": 3}, "device": "cpu"}
    with JobManager(tmp_path / "runs.sqlite", max_concurrent=1) as jobs:
        limits = caps.Caps(max_paused=60)
        guard = caps.Guard(jobs, limits, every=3600, clock=lambda: now[0])   # looks only when told
        held = jobs.submit(config, paused=True)      # a tab paused it and closed: it keeps the worker
        deadline = time.monotonic() + 60
        while held.status != "paused" and time.monotonic() < deadline:
            time.sleep(0.05)
        guard.check()
        now[0] = 1000.0
        guard.check()
        assert held.held, "nobody waits for the worker: a long pause is left alone"
        held.step(2)
        while held.steps_done < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        waiting = jobs.submit(config)
        guard.check()                                # the steps restarted the count, at 1000 s
        now[0] = 1059.0
        guard.check()
        assert held.held and waiting.position == 1, "59 s paused since its last step is within the cap"
        now[0] = 1061.0
        guard.check()
        assert held.wait(timeout=60) == "cancelled"
        guard.check()                                # records why, now that it has ended
        info = jobs.store.get_run(held.id)
        assert info.error == ("stopped by the server: it stayed paused for 60 s while other runs waited for a "
                              "worker (its host can raise EXPLORER_MAX_PAUSED)")
        assert info.steps_done == 2
        assert waiting.wait(timeout=120) == "done"   # the freed worker trains the run that waited
        guard.close()


def test_the_train_page_shows_a_run_the_server_stopped_at_its_time(store_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_MAX_SECONDS", "0.5")
    at = _open(None, [("epochs", "3"), ("rule2", "none")])
    button(at, "Step").click().run()            # started paused: it waits, holding a worker
    run_until(at, lambda at: "was stopped by the server" in text(at), timeout=60)
    assert "it trained for its longest time, 0.5 s (its host can raise EXPLORER_MAX_SECONDS)" in text(at)
    [info] = Store(store_path).list_runs()
    assert info.status == "cancelled" and "EXPLORER_MAX_SECONDS" in info.error
    assert not button(at, "Train").disabled     # the page is at rest again


# Where the caps come from ----------------------------------------------------------------------

def test_caps_come_from_the_file_and_the_environment_wins(tmp_path):
    file = tmp_path / "caps.toml"
    file.write_text("[caps]\nmax_steps = 5000\nmax_seconds = 60\nsession_runs = 3\n", encoding="utf-8")
    assert caps.load(environ={}, path=file) == caps.Caps(max_steps=5000, max_seconds=60.0, session_runs=3)
    assert caps.load(environ={"EXPLORER_CAPS": str(file), "EXPLORER_MAX_STEPS": "7"}).max_steps == 7
    assert caps.load(environ={}, path=None) == caps.Caps()
    assert caps.load(environ={"EXPLORER_MAX_PAUSED": "120"}, path=None).max_paused == 120.0
    file.write_text("[caps]\nmax_step = 5\n", encoding="utf-8")
    with pytest.raises(caps.CapsFileError, match=r"unknown key caps.max_step"):
        caps.load(environ={}, path=file)
    file.write_text("[caps]\nmax_seconds = -1\n", encoding="utf-8")
    with pytest.raises(caps.CapsFileError, match=r"caps.max_seconds in .*caps.toml must be a number greater than 0"):
        caps.load(environ={}, path=file)
    with pytest.raises(caps.CapsFileError, match="EXPLORER_TOTAL_RUNS must be a whole number greater than 0"):
        caps.load(environ={"EXPLORER_TOTAL_RUNS": "lots"}, path=None)


def test_a_page_refuses_to_run_with_caps_it_cannot_read(store_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_MAX_SECONDS", "forever")
    at = _open("pages/playground.py", [])
    assert "This server's caps cannot be read" in "\n".join(e.value for e in at.error)
    assert "EXPLORER_MAX_SECONDS must be a number greater than 0, got 'forever'" in "\n".join(e.value for e in at.error)


def test_a_guard_that_cannot_look_says_why_and_goes_on_when_it_can():
    import threading
    import time

    from explorer.views import caps

    release = threading.Event()

    class Flaky:   # two looks fail; the third waits until the test has read what the guard says
        def __init__(self):
            self.calls = 0

        def active(self):
            self.calls += 1
            if self.calls <= 2:
                raise OSError("the run store is busy")
            if self.calls == 3:
                release.wait(60)
            return []

    jobs = Flaky()
    guard = caps.Guard(jobs, caps.Caps(), every=0.01)
    try:
        deadline = time.monotonic() + 60
        while jobs.calls < 3 and time.monotonic() < deadline:   # the third look has begun: two have failed
            time.sleep(0.01)
        seen = guard.last_error
        release.set()
        while jobs.calls < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        release.set()
        guard.close()
    assert seen == "OSError: the run store is busy"
    assert guard.last_error is None   # a later look succeeded: nothing left to say
