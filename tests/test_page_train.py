"""The Train and Alignment pages, driven through Streamlit's AppTest as a user would."""

from __future__ import annotations

import math
import re
import threading
import time

import pytest
from streamlit.testing.v1 import AppTest

from apptest_tools import APP, button, charts, run_until, set_widget, text
from explorer.runs import workspace as runs
from explorer.runs.store import Store
from explorer.views.urlstate import DEFAULTS

PAGES = APP.replace("app.py", "pages/")


def _app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in {"epochs": "3", **query}.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _finished(at) -> bool:
    words = text(at)
    return "device:" in words and all(f"**: {s}" not in words for s in ("training", "waiting", "paused"))


def _chart(at, title):
    return next(tables[0] for spec, tables in charts(at) if spec.get("title") == title)


def test_train_compares_rules_live_and_shows_what_the_store_holds(store_path):
    at = _app()
    button(at, "Train").click().run()
    group = at.query_params["group"]
    assert group
    run_until(at, _finished)
    store = Store(store_path)
    infos = list(reversed(store.list_runs(group=group)))
    assert [i.config["algorithm"]["name"] for i in infos] == ["bp", "dfa"]
    assert [i.status for i in infos] == ["done", "done"]
    accuracy = _chart(at, "Accuracy")
    for label, info in zip(["BP", "DFA"], infos):
        last = store.metrics(info.id)[-1]
        shown = accuracy[(accuracy["run"] == label) & (accuracy["split"] == "test")]
        assert shown["value"].iloc[-1] == pytest.approx(last["test_acc"])
        assert shown["epoch"].iloc[-1] == 3
        assert last["test_acc"] > 0.5  # three epochs of digits are enough to learn something
    assert "BP**: finished" in text(at) and "samples/s" in text(at)


def test_live_charts_are_light_while_runs_train_and_whole_once_they_end(store_path):
    import json

    from pages.common import LIVE_POINTS

    at = _app(epochs="300")
    button(at, "Train").click().run()
    store = Store(store_path)
    ids = [r.id for r in store.list_runs(group=at.query_params["group"])]
    deadline = time.monotonic() + 60
    while min(len(store.metric_rows(i)) for i in ids) < LIVE_POINTS + 20:
        assert time.monotonic() < deadline, "the runs logged too few records in a minute"
        time.sleep(0.1)
    at.run()  # the page as it is now that they train (drawn at the click, they may have been queued)
    button(at, "Pause").click().run()
    # the click's own run draws the button for the next click, and nothing of the handler's (no "None")
    assert "Resume" in [b.label for b in at.button] and "Pause" not in [b.label for b in at.button]
    assert "None" not in [c.value.strip() for c in at.code] + [m.value.strip() for m in at.markdown]
    run_until(at, lambda a: "BP**: paused" in text(a) and "DFA**: paused" in text(a))
    # while the runs go on: plain SVG curves (`explorer.views.sketch`), thinned, and no Vega chart; the
    # status and both charts are one element (each element is a pass of the browser's at every poll)
    panel = next(m.value for m in at.markdown if 'data-title="Loss"' in m.value)
    assert panel.startswith("device:") and "BP**: paused" in panel and 'data-title="Accuracy"' in panel
    live = re.search(r'<svg class="explorer-live" data-title="Loss".*?</svg>', panel).group(0)
    curves = re.findall(r'<path class="curve" data-run="([^"]+)" data-split="([^"]+)" d="([^"]+)"', live)
    assert sorted((run, split) for run, split, _ in curves) == [("BP", "test"), ("BP", "train"),
                                                                ("DFA", "test"), ("DFA", "train")]
    assert max(len(re.findall(r"[\d.]+,[\d.]+", d)) for *_, d in curves) <= LIVE_POINTS + 1
    assert not [s for s, _ in charts(at) if s.get("title") == "Loss"]
    button(at, "Stop").click().run()
    run_until(at, _finished)
    spec, (loss,) = next((s, t) for s, t in charts(at) if s.get("title") == "Loss")
    logged = min(len(store.metrics(i)) for i in ids)
    assert loss.groupby(["run", "split"]).size().min() >= min(logged, 250) > LIVE_POINTS + 1
    assert "tooltip" in json.dumps(spec)          # a finished chart is read by hovering


def test_compared_rules_start_from_the_same_weights(store_path):
    at = _app(**{"rule2": "fa", "rule3": "dfa"})
    button(at, "Train").click().run()
    run_until(at, _finished)
    store = Store(store_path)
    runs = list(reversed(store.list_runs(group=at.query_params["group"])))
    before = [store.snapshots(r.id)[0] for r in runs]
    assert [s.epoch for s in before] == [0, 0, 0]
    for other in before[1:]:
        for layer, h in before[0].layers.items():
            assert (other.layers[layer] == h).all()   # same forward weights, same probe
    after = [store.snapshots(r.id)[-1].layers["layers.0"] for r in runs]
    assert not (after[0] == after[2]).all()         # and the rules then teach them differently


def test_a_link_reproduces_the_setup(store_path):
    at = _app(lr="0.02", rule3="bdfa", r3_block_size="2", hidden="16,16,16", seed="7")
    assert at.number_input(key="lr").value == pytest.approx(0.02)
    assert at.selectbox(key="rule3").value == "bdfa"
    assert at.text_input(key="hidden").value == "16,16,16"
    button(at, "Train").click().run()
    run_until(at, _finished)
    runs = list(reversed(Store(store_path).list_runs(group=at.query_params["group"])))
    configs = [r.config for r in runs]
    assert [c["algorithm"]["name"] for c in configs] == ["bp", "dfa", "bdfa"]
    assert configs[2]["algorithm"]["block_size"] == 2
    assert {c["optimizer"]["lr"] for c in configs} == {0.02}
    assert {tuple(c["model"]["hidden"]) for c in configs} == {(16, 16, 16)}
    assert {c["seed"] for c in configs} == {7}


def _typed(**query):
    """The page with ``query``: text values come in the link; numbers are typed into their controls
    (a link's number outside its range is refused at the door: test_faults_app.py)."""
    at = _app(**{k: v for k, v in query.items() if isinstance(v, str)})
    for key, value in query.items():
        if not isinstance(value, str):
            set_widget(at, key, value).run()
            assert not at.exception, [e.value for e in at.exception]
    return at


def _column_with(at, kind, key):
    return next(c for c in at.columns if any(w.key == key for w in getattr(c, kind)))


@pytest.mark.parametrize("query, kind, key", [
    ({"hidden": "64,x"}, "text_input", "hidden"),
    ({"init": "uniform", "init_low": "0.5", "init_high": "0.1"}, "selectbox", "init"),
    ({"rule2": "fp", "r2_bp_depth": "5", "hidden": "8,8"}, "selectbox", "rule2"),
    ({"lr": 0.0}, "number_input", "lr"),
])
def test_a_refused_setting_is_flagged_beside_its_control(store_path, query, kind, key):
    at = _typed(**query)
    column = _column_with(at, kind, key)
    assert [w.value for w in column.warning] and "Check this setting" in column.warning[0].value
    assert sum(len(c.warning) for c in at.columns) == 1   # and nowhere else


def test_bad_input_is_named_and_starts_nothing(store_path):
    at = _app(hidden="64,x")
    assert "hidden" in text(at)
    button(at, "Train").click().run()
    assert "Not started" in text(at) and "hidden" in text(at)
    assert Store(store_path).list_runs() == []

    at = _app(rule2="none", rule3="fp", r3_bp_depth="5", hidden="8,8")
    assert "Rule 3: top layers trained by BP must be at most the number of hidden layers (2), got 5" in text(at)
    at = _app(init="uniform", init_low="0.5", init_high="-0.5")
    button(at, "Train").click().run()
    assert "Not started: forward init: low must be less than high, got low=0.5 >= high=-0.5" in text(at)
    assert Store(store_path).list_runs() == []


@pytest.mark.parametrize("query, key, words", [
    ({"init": "uniform", "init_low": "0.5", "init_high": "-0.5"}, "init",
     "forward init: low must be less than high, got low=0.5 >= high=-0.5"),
    ({"fb": "uniform", "fb_low": "0.5", "fb_high": "-0.5"}, "fb", "feedback init: low must be less than high"),
    ({"lr": 0.0}, "lr", "learning rate must be greater than 0, got 0"),
    ({"rule2": "none", "rule3": "fp", "r3_bp_depth": "5", "hidden": "8,8"}, "rule3",
     "Rule 3: top layers trained by BP must be at most the number of hidden layers (2), got 5"),
    ({"rule2": "bdfa", "r2_block_size": 0}, "rule2", "Rule 2: hidden layers per block must be at least 1, got 0"),
    ({"rule2": "usf", "r2_scale": -1.0}, "rule2", "Rule 2: scale of sign(W) must be greater than 0, got -1"),
    ({"rule4": "ntk"}, "hidden", "hidden widths: 'ntk' is defined for an MLP with 1 hidden layer"),
    ({"hidden": "64,x"}, "hidden", "hidden widths must be whole numbers separated by commas"),
    ({"model": "lenet5", "rule2": "bdfa"}, "rule2", "Rule 2: 'bdfa' is defined for mlp"),
])
def test_a_refused_setting_is_told_in_the_page_words_in_its_box(store_path, query, key, words):
    at = _typed(**query)
    kind = {"hidden": "text_input", "lr": "number_input"}.get(key, "selectbox")
    column = _column_with(at, kind, key)
    [warning] = [w.value for c in at.columns for w in c.warning]
    assert warning == f"Check this setting: {words}" or warning.startswith(f"Check this setting: {words}")
    assert column.warning[0].value == warning
    assert not re.search(r"rules\[|init\.|optimizer\.|algorithm\.", warning)   # no config field names


@pytest.mark.parametrize("typed, words", [
    ("nan", "forward init: high must be a number, got 'nan'"),
    ("abc", "forward init: high must be a number, got 'abc'"),
    ("", "forward init: high is required for initialiser 'uniform'"),
])
def test_an_init_box_tells_what_is_wrong_with_its_text(store_path, typed, words):
    at = _app(init="uniform", init_low="-0.1")
    at.text_input(key="init_high").set_value(typed).run()
    [warning] = [w.value for c in at.columns for w in c.warning]
    assert warning == f"Check this setting: {words}"
    at.text_input(key="init_high").set_value(" 0.1 ").run()     # spaces around a number are fine
    assert not [w.value for c in at.columns for w in c.warning]


def test_a_diverged_run_is_named_with_its_step(store_path):
    at = _app(rule2="none", lr="30", loss="mse", epochs="2")
    button(at, "Train").click().run()
    run_until(at, _finished)
    info = Store(store_path).list_runs()[0]
    assert info.status == "diverged"
    assert f"diverged at step {info.diverged_at}" in text(at)
    # the status line names both steps: where the loss went bad, and where the run stopped
    assert f"**BP**: diverged at step {info.diverged_at} · epoch" in text(at)
    assert f"stopped at step {info.steps_done}/{info.total_steps}" in text(at)
    # and, where they differ, how: the host reads a loss at the logging steps only
    after = ", the first logged step after it" in text(at)
    assert after == (info.steps_done != info.diverged_at), (info.steps_done, info.diverged_at)
    loss = _chart(at, "Loss")
    assert loss["step"].max() <= info.diverged_at  # curves up to there
    assert all(math.isfinite(v) for v in loss["value"])


def test_step_takes_one_step_then_resume_finishes(store_path):
    at = _app(epochs="2")
    button(at, "Step").click().run()
    store = Store(store_path)
    group = at.query_params["group"]
    run_until(at, lambda a: all(r.steps_done == 1 and r.status == "paused" for r in store.list_runs(group=group)))
    assert button(at, "Resume")
    button(at, "Resume").click().run()
    run_until(at, _finished)
    assert {r.status for r in store.list_runs(group=group)} == {"done"}


def test_stop_cancels_and_reload_finds_the_runs(store_path):
    at = _app(epochs="200")
    button(at, "Train").click().run()
    group = at.query_params["group"]
    button(at, "Stop").click().run()
    run_until(at, _finished)
    assert "stopped" in text(at)
    again = _app(group=group)   # a reload, or the link in another tab
    assert "BP**: stopped" in text(again) and "DFA**: stopped" in text(again)


def test_classroom_link_hides_controls(store_path):
    at = _app(hide="optimizer,rules", lr="0.01")
    box = next(e for e in at.expander if e.label == "Settings fixed by this link")
    inside = {w.key for w in box.number_input} | {w.key for w in box.selectbox}
    assert {"lr", "opt", "rule1", "rule2"} <= inside
    assert "epochs" not in inside
    assert at.number_input(key="lr").value == pytest.approx(0.01)
    at.multiselect[0].set_value(["rules", "seed"]).run()
    link = at.code[-1].value
    assert "hide=rules%2Cseed" in link and "lr=0.01" in link and "group=" not in link


def test_a_problem_in_a_group_the_link_hides_is_said_above_the_closed_box(store_path):
    at = _app(hide="init", init="uniform", init_low="-0.1")
    words = "forward init: high is required for initialiser 'uniform'"
    box = next(e for e in at.expander if e.label == "Settings fixed by this link")
    assert [w.value for w in box.warning] == [f"Check this setting: {words}"]
    above = [w.value for w in at.main.warning if w not in box.warning and "closed box" in w.value]
    assert above and words in common_plain_undone(above[0])
    at = _app(init="uniform", init_low="-0.1")              # nothing hidden: told beside the box only
    assert not [w for w in at.warning if "closed box" in w.value]


def common_plain_undone(text: str) -> str:
    """A message the page escaped for Markdown, as a person reads it."""
    return re.sub(r"\\(.)", r"\1", text).replace("\u2060", "")


def test_alignment_page_shows_the_measured_angles(store_path):
    at = _app(epochs="2")
    button(at, "Train").click().run()
    run_until(at, _finished)
    page = AppTest.from_file(PAGES + "alignment.py", default_timeout=60)
    page.query_params["group"] = at.query_params["group"]
    page.run()
    assert not page.exception
    update = next(t[0] for s, t in charts(page) if "update" in str(s).lower() and "kind" in t[0])
    store = Store(store_path)
    dfa = [r for r in store.list_runs(group=at.query_params["group"]) if r.config["algorithm"]["name"] == "dfa"][0]
    first_layer = [rec["layers"][0]["update_deg"] for rec in store.metrics(dfa.id)]
    shown = update[(update["run"] == "DFA") & (update["index"] == 1)]["deg"].tolist()
    assert shown == pytest.approx(first_layer)
    assert update[update["run"] == "BP"]["deg"].max() < 1e-3   # backprop against itself: 0°
    norms = next(t[0] for s, t in charts(page) if "norm" in t[0].columns)
    assert (norms["norm"] > 0).all() and set(norms["gradient"]) == {"rule", "backprop"}


def test_alignment_page_draws_light_panels_per_layer_while_runs_train(store_path):
    at = _app(epochs="300")
    button(at, "Train").click().run()
    group = at.query_params["group"]
    store = Store(store_path)
    dfa = next(r.id for r in store.list_runs(group=group) if r.config["algorithm"]["name"] == "dfa")
    try:
        deadline = time.monotonic() + 60
        while len(store.metric_rows(dfa)) < 3:
            assert time.monotonic() < deadline, "DFA logged too few records in a minute"
            time.sleep(0.1)
        at.run()
        button(at, "Pause").click().run()
        run_until(at, lambda a: "BP**: paused" in text(a) and "DFA**: paused" in text(a))
        page = AppTest.from_file(PAGES + "alignment.py", default_timeout=60)
        page.query_params["group"] = group
        page.run()
        assert not page.exception
        assert charts(page) == []    # no Vega chart while the runs are not finished
        [live] = [m.value for m in page.markdown if "explorer-live" in m.value]   # one element
        titles = re.findall(r'<svg class="explorer-live" data-title="([^"]+)"', live)
        # update, signal and weight alignment, then gradient norms: a panel per hidden layer each
        assert titles == ["hidden layer 1", "hidden layer 2"] * 4
        first = live[:live.index("</svg>")]
        path = re.search(r'<path class="curve" data-run="DFA" data-split="update" d="([^"]+)"', first).group(1)
        logged = [rec["layers"][0]["update_deg"] for rec in store.metrics(dfa)]
        assert 3 <= len(re.findall(r"[\d.]+,[\d.]+", path)) == len(logged) <= 100
    finally:
        button(at, "Stop").click().run()
        run_until(at, _finished)
    page.run()   # ended: the whole Vega charts again, with every point
    assert [s for s, _ in charts(page) if "update" in str(s).lower()]


def test_a_dataset_that_is_not_here_says_how_to_get_it(store_path, tmp_path, shared_data):
    at = _app(data="mnist", data_root=str(tmp_path / "empty"))
    assert "MNIST is not in" in text(at) and "digits" in text(at)
    button(at, "Train").click().run()
    assert "Not started" in text(at)
    assert Store(store_path).list_runs() == []
    at = _app(data="mnist", data_root=str(shared_data))
    assert "MNIST is not in" not in text(at)


def test_coming_back_from_another_page_brings_the_setup_back(store_path):
    at = _app(lr="0.02", rule3="fa")
    at.switch_page("pages/alignment.py").run()
    at.query_params.clear()             # what the browser's address holds after the sidebar link
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert at.number_input(key="lr").value == pytest.approx(0.02)
    assert at.selectbox(key="rule3").value == "fa"
    assert at.query_params["lr"] == "0.02"


# A control changed and put back ----------------------------------------------------------------

CONTROL_KEYS = ("data", "model", "hidden", "act", "rule1", "rule2", "rule3", "rule4", "init", "fb", "opt", "lr",
                "momentum", "wd", "bm", "batch", "epochs", "maps", "seed", "device", "dropout", "reduce", "resize",
                "crop", "flip", "sched")


def _control_values(at) -> dict:
    """The value of each setup control on the page (a missing one is missing)."""
    found = {}
    for kind in ("number_input", "text_input", "selectbox", "checkbox"):
        found.update({w.key: w.value for w in at.get(kind) if w.key in CONTROL_KEYS})
    return found


@pytest.mark.parametrize("key, there", [("epochs", 20), ("rule2", "fa"), ("lr", 0.1), ("hidden", "32"),
                                        ("bm", True), ("maps", False)])
def test_a_control_changed_and_put_back_keeps_every_control(store_path, key, there):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()                      # every control at its default: the address has no setup in it
    defaults = _control_values(at)
    assert set(defaults) == set(CONTROL_KEYS)
    set_widget(at, key, there).run()
    assert not at.exception, [e.value for e in at.exception]
    assert _control_values(at)[key] == there
    set_widget(at, key, defaults[key]).run()      # back to the default: the setup leaves the address
    assert not at.exception, [e.value for e in at.exception]
    assert _control_values(at) == defaults
    at.run()                      # and the next run of the page keeps them
    assert not at.exception and _control_values(at) == defaults


def test_putting_a_control_back_after_stop_keeps_every_control(store_path):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    set_widget(at, "epochs", 200).run()
    button(at, "Train").click().run()
    button(at, "Stop").click().run()
    run_until(at, _finished)
    set_widget(at, "epochs", DEFAULTS["epochs"]).run()     # back to the default
    assert not at.exception, [e.value for e in at.exception]
    assert _control_values(at)["epochs"] == DEFAULTS["epochs"] and len(_control_values(at)) == len(CONTROL_KEYS)
    assert "BP**: stopped" in text(at)     # the runs shown stay shown


# The live state ends when the runs end ---------------------------------------------------------

ALLOCATOR_ERROR = ("RuntimeError: [enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't "
                   "allocate memory: you tried to allocate 40000000000 bytes. Error code 12 (Cannot allocate memory)")


@pytest.fixture()
def runs_end_between_looks(monkeypatch):
    """``end(how)``: the next runs started wait before they build, and end (``how``: "done",
    "diverged", "failed" with the allocator's error, or "stopped") between the page's first look at
    them and its second, within one drawing of the page: the moment a page that drew its buttons
    from the first look left them live."""
    from explorer.runs import workspace as runs
    from explorer.engine import trainer
    from explorer.runs.store import FINAL

    def end(how: str) -> None:
        release = threading.Event()
        real_trainer, real_poll, looks = trainer.Trainer, runs.Followed.poll, []

        def held_trainer(config, **kw):
            assert release.wait(60), "the page never looked at its runs twice"
            if how == "failed":
                raise RuntimeError(ALLOCATOR_ERROR.removeprefix("RuntimeError: "))
            return real_trainer(config, **kw)

        def poll(self):
            looks.append(self)
            if len(looks) == 2:
                if how == "stopped":
                    self.stop()
                release.set()
                deadline = time.monotonic() + 60
                while not all(self.store.get_run(i).status in FINAL for i in self.ids):
                    assert time.monotonic() < deadline, "the runs did not end in a minute"
                    time.sleep(0.05)
            return real_poll(self)

        monkeypatch.setattr(trainer, "Trainer", held_trainer)
        monkeypatch.setattr(runs.Followed, "poll", poll)
    return end


def _assert_live_state_ended(at) -> None:
    assert not button(at, "Train").disabled
    assert button(at, "Stop").disabled and button(at, "Pause").disabled
    # what the sidebar counts (drawn after the page; AppTest loses the sidebar after an st.rerun)
    assert runs.activity() == (0, 0)


@pytest.mark.parametrize("how, query, words", [
    ("done", {"epochs": "1"}, ["BP**: finished", "DFA**: finished"]),
    ("diverged", {"rule2": "none", "lr": "30", "loss": "mse", "epochs": "2"}, ["BP diverged at step"]),
    ("failed", {}, ["**BP failed**: not enough memory for this network (it asked for 40 GB); try smaller "
                    "hidden widths", "**DFA failed**: not enough memory"]),
    ("stopped", {"epochs": "200"}, ["BP**: stopped", "DFA**: stopped"]),
])
def test_the_live_state_ends_in_the_drawing_that_sees_the_runs_end(store_path, runs_end_between_looks,
                                                                   how, query, words):
    at = _app(**query)
    runs_end_between_looks(how)
    button(at, "Train").click().run()      # one drawing: the runs end while the page draws it
    assert not at.exception, [e.value for e in at.exception]
    _assert_live_state_ended(at)
    for w in words:
        assert w in text(at)


def test_a_failed_run_says_why_in_plain_words_and_keeps_the_raw_error_aside(store_path, runs_end_between_looks):
    at = _app()
    runs_end_between_looks("failed")
    button(at, "Train").click().run()
    assert all("DefaultCPUAllocator" not in e.value for e in at.error)      # not the headline
    detail = next(e for e in at.expander if e.label == "BP: the error as Python reported it")
    assert ALLOCATOR_ERROR in detail.code[0].value



def test_the_loss_axis_control_sets_the_loss_chart_scale(store_path):
    import json

    at = _app(rule2="none", epochs="2")
    button(at, "Train").click().run()
    run_until(at, _finished)
    axis = next(r for r in at.radio if r.key == "train_loss_axis")
    scales = {}
    for choice in ("log", "linear"):
        axis.set_value(choice).run()
        assert not at.exception
        axis = next(r for r in at.radio if r.key == "train_loss_axis")
        specs = {s.get("title"): json.dumps(s) for s, _ in charts(at)}
        scales[choice] = ('"type": "log"' in specs["Loss"], '"type": "log"' in specs["Accuracy"])
    assert scales == {"log": (True, False), "linear": (False, False)}


def test_after_step_the_button_says_resume_while_the_step_is_still_being_taken(store_path, held_while_building):
    # the runs are "running" in the store: building, then stepping
    at = _app()
    try:
        button(at, "Step").click().run()
        store, group = Store(store_path), at.query_params["group"]
        deadline = time.monotonic() + 60
        while {r.status for r in store.list_runs(group=group)} != {"running"}:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        at.run()
        labels = [b.label for b in at.button]
        assert "Resume" in labels and "Pause" not in labels
    finally:
        held_while_building.set()
    run_until(at, lambda a: all(r.status == "paused" and r.steps_done == 1 for r in store.list_runs(group=group)))
    assert "Resume" in [b.label for b in at.button]
    button(at, "Stop").click().run()


# The registry drives the rule controls ----------------------------------------------------------

def test_each_rule_in_a_slot_shows_the_options_the_registry_gives_it(store_path):
    from explorer.config.registry import OPTIONS, RULES
    from explorer.views import urlstate

    at = _app(hidden="32")     # one hidden layer: every rule fits it (rf and ntk need exactly one)
    help_text = at.selectbox(key="rule2").help
    assert all(f"**{key}**: {spec.label}, {spec.name}" in help_text for key, spec in RULES.items())
    seen = set()
    for key, spec in RULES.items():
        set_widget(at, "rule2", key).run()
        assert not at.exception, [e.value for e in at.exception]
        column = _column_with(at, "selectbox", "rule2")
        shown = {w.key: w for kind in ("number_input", "selectbox", "checkbox") for w in getattr(column, kind)
                 if w.key and w.key.startswith("r2_")}
        assert set(shown) == {f"r2_{o}" for o in spec.options} | ({"r2_shallow"} if spec.shallow else set()), key
        for name in spec.options:
            control, option = shown[f"r2_{name}"], OPTIONS[name]
            assert control.label == option.label and control.help.startswith(option.help)
            assert control.value == urlstate.DEFAULTS[f"r2_{name}"]
            if option.kind == "choice":
                assert control.options == urlstate.option_choices(name)
            seen.add(name)
        assert not [w.value for c in at.columns for w in c.warning], key   # every rule fits the default setup
    assert seen == set(OPTIONS)     # every option of the registry has a control on the page


# The advanced settings: schedule, loss over a batch, augmentation, resizing, dropout ---------------

def test_the_advanced_settings_of_a_link_reach_the_runs(store_path):
    at = _app(rule2="none", epochs="2", sched="multistep", sched_miles="1", sched_gamma="0.5", reduce="sum",
              loss="bce_multi", crop="1", flip="true", dropout="0.25", lr="0.01")
    assert at.selectbox(key="sched").value == "multistep" and at.text_input(key="sched_miles").value == "1"
    assert at.number_input(key="sched_gamma").value == 0.5 and at.selectbox(key="reduce").value == "sum"
    assert at.number_input(key="crop").value == 1 and at.checkbox(key="flip").value is True
    assert at.number_input(key="dropout").value == 0.25
    assert not [w.value for w in at.warning]
    button(at, "Train").click().run()
    run_until(at, _finished)
    [info] = Store(store_path).list_runs(group=at.query_params["group"])
    assert info.status == "done"
    config = info.config
    assert config["optimizer"]["schedule"] == {"name": "multistep", "milestones": [1], "gamma": 0.5}
    assert config["train"]["reduction"] == "sum" and config["train"]["loss"] == "bce_multi"
    assert config["train"]["augment"] == {"crop_padding": 1, "flip": True}
    assert config["model"]["dropout"] == 0.25
    rates = {round(r["epoch"]): r["lr"] for r in Store(store_path).metrics(info.id) if r["epoch"] in (1, 2)}
    assert rates == {1: pytest.approx(0.01), 2: pytest.approx(0.005)}    # halved from epoch 1 (0-based) on


# (control, value set, what the config then holds), set in this order
ADVANCED = [("sched", "step", ("optimizer", "schedule", {"name": "step", "step_size": 100, "gamma": 0.1})),
            ("sched_step", 3, ("optimizer", "schedule", {"name": "step", "step_size": 3, "gamma": 0.1})),
            ("sched_gamma", 0.5, ("optimizer", "schedule", {"name": "step", "step_size": 3, "gamma": 0.5})),
            ("reduce", "sum", ("train", "reduction", "sum")),
            ("loss", "bce_multi", ("train", "loss", "bce_multi")),
            ("crop", 2, ("train", "augment", {"crop_padding": 2, "flip": False})),
            ("flip", True, ("train", "augment", {"crop_padding": 2, "flip": True})),
            ("dropout", 0.5, ("model", "dropout", 0.5))]
RESIZE = [("data", "mnist", ("data", "name", "mnist")), ("resize", "32x32", ("data", "resize", [32, 32]))]


def _inputs(at) -> dict:
    return {w.key: w for kind in ("number_input", "text_input", "selectbox", "checkbox") for w in at.get(kind)}


def _values(at, settings) -> dict:
    shown = _inputs(at)
    return {key: shown[key].value for key, *_ in settings if key in shown}


def test_each_advanced_control_builds_the_config_comes_back_from_its_link_and_leaves_it_at_its_default(store_path):
    from explorer.views import urlstate

    at = _app(epochs="1", rule2="none")
    defaults = _values(at, ADVANCED + RESIZE)
    assert defaults == {key: DEFAULTS[key] for key, *_ in ADVANCED + RESIZE if key not in ("sched_step", "sched_gamma")}
    for key, value, (section, field, expected) in ADVANCED + RESIZE:
        set_widget(at, key, value).run()
        assert not at.exception, [e.value for e in at.exception]
        assert _values(at, [(key,)]) == {key: value}
        assert _built(urlstate.query({**_values(at, ADVANCED + RESIZE), "epochs": 1, "rule2": "none"})
                      )[section][field] == expected, key
    # the config the page starts: set back to digits (MNIST is not in this test's folder), then Train
    set_widget(at, "data", "digits").run()
    button(at, "Train").click().run()
    run_until(at, _finished)
    [info] = Store(store_path).list_runs(group=at.query_params["group"])
    assert info.config["optimizer"]["schedule"] == {"name": "step", "step_size": 3, "gamma": 0.5}
    assert info.config["train"]["reduction"] == "sum" and info.config["train"]["loss"] == "bce_multi"
    assert info.config["train"]["augment"] == {"crop_padding": 2, "flip": True}
    assert info.config["model"]["dropout"] == 0.5 and info.config["data"] == {"name": "digits"}
    # the link of that page, opened anew: the same controls
    link = urlstate.query({**_values(at, ADVANCED + RESIZE), "epochs": 1, "rule2": "none"})
    assert link["sched"] == "step" and link["resize"] == "32x32"   # kept, though digits do not read it
    again = _app(**link)
    assert _values(again, ADVANCED + RESIZE) == _values(at, ADVANCED + RESIZE)
    # every control put back: its value is the default again, so it leaves the link
    set_widget(at, "data", "mnist").run()             # resizing is offered again
    for key, *_ in reversed(ADVANCED + RESIZE):
        if key in defaults:
            set_widget(at, key, defaults[key]).run()
            assert not at.exception, [e.value for e in at.exception]
    assert _values(at, ADVANCED + RESIZE) == defaults
    assert urlstate.query({**_values(at, ADVANCED + RESIZE), "epochs": 1, "rule2": "none"}) == {"epochs": "1",
                                                                                                "rule2": "none"}


def _built(query: dict) -> dict:
    """The base config a page with this address builds."""
    from explorer.views import urlstate

    return urlstate.configs(urlstate.parse(query))[0]


def test_augmentation_and_resizing_are_greyed_out_with_the_reason_where_they_do_not_apply(store_path):
    at = _app(data="moons", crop="4", flip="true", resize="32x32")
    assert at.number_input(key="crop").disabled and at.checkbox(key="flip").disabled
    assert at.text_input(key="resize").disabled
    assert "Augmentation: for image datasets; moons is not one." in text(at)
    assert ("Resizing: for the image datasets read from files (mnist, fashion_mnist, kmnist, notmnist, cifar10)"
            in text(at))
    values = {key: w.value for key, w in _inputs(at).items() if key in ("data", "crop", "flip", "resize")}
    assert values == {"data": "moons", "crop": 4, "flip": True, "resize": "32x32"}    # kept, greyed out
    from explorer.views import urlstate
    base = urlstate.configs(values)[0]
    assert "augment" not in base["train"] and base["data"] == {"name": "moons"}       # and not read
    digits = _app(crop="4")
    assert not digits.number_input(key="crop").disabled and digits.text_input(key="resize").disabled
    resnet = _app(model="resnet20", dropout="0.5")
    assert resnet.number_input(key="dropout").disabled and resnet.number_input(key="dropout").value == 0.5
    assert "Dropout: for the MLP and the CNNs; resnet20 takes none." in text(resnet)
    assert "dropout" not in urlstate.configs({"model": "resnet20", "dropout": 0.5})[0]["model"]


@pytest.mark.parametrize("query, key, kind, words", [
    ({"sched": "weekly"}, "opt", "selectbox",
     "The link's sched='weekly' was not used: learning-rate schedule must be one of none, step, multistep"),
    ({"crop": "four"}, "data", "selectbox",
     "The link's crop='four' was not used: random crop: zero padding: expected a whole number"),
    ({"epochs": "ten"}, "epochs", "number_input",
     "The link's epochs='ten' was not used: epochs: expected a whole number"),
])
def test_a_link_value_the_page_cannot_take_is_named_beside_its_control(store_path, query, key, kind, words):
    at = _app(**query)
    [warning] = [w.value for c in at.columns for w in c.warning]
    assert re.sub(r"\\(.)", r"\1", warning).startswith(words)   # a link's text is escaped for Markdown
    assert _column_with(at, kind, key).warning[0].value == warning
    assert list(query)[0] not in at.query_params           # the control shows its default
    set_widget(at, list(query)[0], DEFAULTS[list(query)[0]]).run()
    at.run()
    assert words in text(at)                                # still told while the control is at its default


def test_a_refused_schedule_is_told_beside_the_optimiser(store_path):
    at = _app(sched="multistep", sched_miles="3,3")
    column = _column_with(at, "selectbox", "opt")
    assert column.warning[0].value == ("Check this setting: schedule: milestone epochs must not repeat an epoch, "
                                       "got [3, 3]")


def test_each_schedule_shows_the_fields_it_reads(store_path):
    from explorer.views import urlstate

    at = _app()
    shown = {}
    for name in urlstate.CHOICES["sched"]:
        set_widget(at, "sched", name).run()
        assert not at.exception, [e.value for e in at.exception]
        shown[name] = {key for key in _inputs(at) if key and key.startswith("sched_")}
    assert shown == {"none": set(), "step": {"sched_step", "sched_gamma"}, "multistep": {"sched_miles", "sched_gamma"},
                     "restarts": {"sched_miles", "sched_lrs", "sched_from"}}
    set_widget(at, "sched_miles", "2").run()
    set_widget(at, "sched_lrs", "0.01").run()
    assert _values(at, [("sched_from",)]) == {"sched_from": "best"} and not [w.value for w in at.warning]


def test_forward_init_offers_no_feedback_only_initialiser_and_a_link_naming_one_is_refused(store_path):
    at = _app()
    assert "sign_concordant" in at.selectbox(key="fb").options
    assert "sign_concordant" not in at.selectbox(key="init").options
    at = _app(init="sign_concordant")
    assert "init='sign_concordant' was not used" in text(at) and at.selectbox(key="init").value == "default"
