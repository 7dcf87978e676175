"""explorer.views.run_table: the runs table, its filters, overlay labels, deleting and the Train page link."""

from __future__ import annotations

import json
import math

import pytest

from explorer.views import frames, run_table
from explorer.config import RunConfig
from explorer.runs.store import Store, UnknownRun
from explorer.views.urlstate import configs, parse


@pytest.fixture()
def store(tmp_path):
    with Store(tmp_path / "runs.sqlite") as s:
        yield s


def _run(store, group=None, status="done", records=(), **config) -> str:
    run = store.create_run(config, group=group)
    if records:
        store.append_metrics(run, list(records))
    if status != "queued":
        store.finish_run(run, status, diverged_at=7 if status == "diverged" else None,
                         error="out of memory" if status == "failed" else None)
    return run


def test_rows_describe_each_run_with_its_last_record(store):
    recs = [{"step": s, "epoch": s / 4, "test_acc": a, "test_loss": 1 - a} for s, a in ((2, 0.5), (4, 0.75))]
    a = _run(store, records=recs, algorithm={"name": "bdfa", "block_size": 2}, model={"hidden": [8, 8, 8]})
    b = _run(store, status="diverged", records=[{"step": 1, "test_loss": math.nan}],
             data={"name": "xor"}, model={"name": "mlp", "hidden": [4], "activation": "tanh"})
    infos = store.list_runs()
    frame = run_table.runs_frame(infos, run_table.finals(store, infos))
    assert list(frame.columns) == run_table.COLUMNS
    assert frame["id"].tolist() == [b, a]
    first, second = frame.iloc[1], frame.iloc[0]
    assert (first["rule"], first["data"], first["network"]) == ("BDFA block 2", "digits", "MLP 8-8-8 relu")
    assert (first["test_acc"], first["test_loss"]) == ("75.0%", "0.25")         # the last record's, for people
    assert (second["status"], second["notes"]) == ("diverged", "diverged at step 7")
    assert second["network"] == "MLP 4 tanh" and second["test_loss"] == "–"     # NaN loss: a dash
    assert second["test_acc"] == "–"                                           # none logged: a dash, not "None"


def test_a_failed_runs_note_is_its_message_and_its_exception_class_is_searchable(store):
    run = store.create_run({"data": {"name": "mnist"}})
    store.finish_run(run, "failed", error="explorer.data.errors.DatasetFileError: /d/labels: 2 labels for 3 images")
    info = store.get_run(run)
    assert run_table.describe(info)["notes"] == "/d/labels: 2 labels for 3 images"
    assert run_table.matches(run_table.search_text(info), "datasetfileerror")
    assert not run_table.matches(run_table.search_text(info), "explorer.data")   # the module path is not shown


@pytest.mark.parametrize("value, shown", [
    (6e-14, "6e-14"), (0.00000000000006, "6e-14"), (6.4e-5, "6.4e-5"), (1.4999999999999, "1.5"),
    (0.123456, "0.123"), (21820.4, "21,820"), (999.96, "1,000"), (12, "12"), (0.0, "0"),
    (None, "–"), (math.nan, "–"), (math.inf, "–")])
def test_numbers_read_as_a_person_writes_them(value, shown):
    assert run_table.readable(value) == shown


@pytest.mark.parametrize("value, shown", [(0.94718, "94.7%"), (1.0, "100.0%"), (0.0005, "0.1%"),
                                          (None, "–"), (math.nan, "–")])
def test_accuracies_read_as_percentages_with_one_decimal(value, shown):
    assert run_table.percent(value) == shown


def test_filters_combine_and_text_terms_match_word_starts(store):
    dfa = _run(store, algorithm={"name": "dfa"}, seed=12, optimizer={"name": "adam", "lr": 0.001})
    bdfa = _run(store, algorithm={"name": "bdfa", "block_size": 1}, seed=1)
    moons = _run(store, status="failed", data={"name": "moons"}, seed=1)
    infos = store.list_runs()
    ids = lambda found: {i.id for i in found}  # noqa: E731
    assert ids(run_table.filter_runs(infos)) == {dfa, bdfa, moons}
    assert ids(run_table.filter_runs(infos, rules=["dfa"])) == {dfa}
    assert ids(run_table.filter_runs(infos, datasets=["digits"], statuses=["done"])) == {dfa, bdfa}
    assert ids(run_table.filter_runs(infos, statuses=["failed", "done"], rules=["bp"])) == {moons}
    assert ids(run_table.filter_runs(infos, text="dfa")) == {dfa}                     # not bdfa
    assert ids(run_table.filter_runs(infos, text="DFA")) == {dfa}
    assert ids(run_table.filter_runs(infos, text='"seed 1"')) == {bdfa, moons}         # not seed 12
    assert ids(run_table.filter_runs(infos, text="seed 1")) == {dfa, bdfa, moons}      # word starts
    assert ids(run_table.filter_runs(infos, text="adam 0.001")) == {dfa}
    assert ids(run_table.filter_runs(infos, text="adam moons")) == set()              # every term
    assert ids(run_table.filter_runs(infos, text=bdfa[:5])) == {bdfa}                 # an id's start
    assert ids(run_table.filter_runs(infos, text=bdfa[4:9])) == set()                  # not its middle
    assert run_table.options(infos) == {"rules": ["bdfa", "bp", "dfa"], "datasets": ["digits", "moons"]}


def test_overlay_labels_name_what_differs_and_are_unique(store):
    g = store.create_group(seed=0)
    bp = _run(store, group=g, algorithm={"name": "bp"})
    dfa = _run(store, group=g, algorithm={"name": "dfa"})
    same = _run(store, algorithm={"name": "bp"})
    other = _run(store, algorithm={"name": "bp"}, optimizer={"name": "sgd", "lr": 0.2})
    get = store.get_run
    assert run_table.overlay_labels([get(bp), get(dfa)]) == ["BP", "DFA"]
    assert run_table.overlay_labels([get(bp), get(other)]) == ["BP lr 0.05", "BP lr 0.2"]
    labels = run_table.overlay_labels([get(bp), get(same), get(dfa)])
    assert labels == [f"BP #{bp[:6]}", f"BP #{same[:6]}", "DFA"]
    assert len(set(labels)) == 3
    # The rule stays the first word, so each rule keeps its colour on the chart.
    assert all(label.split(" ")[0] in ("BP", "DFA") for label in labels)


def test_overlay_reads_records_incrementally_and_marks_divergence(store):
    a = _run(store, status="queued", seed=0)
    b = _run(store, status="diverged", records=[{"step": 3, "epoch": 0.5, "train_loss": 1.0},
                                                 {"step": 7, "epoch": 1.0, "train_loss": math.inf}], seed=1)
    overlay = run_table.Overlay(store, [a, b])
    assert overlay.poll() == 2 and not overlay.finished
    store.append_metrics(a, [{"step": 1, "epoch": 0.25, "train_loss": 2.0, "test_acc": 0.1}])
    assert overlay.poll() == 1 and overlay.poll() == 0
    store.finish_run(a, "done")
    overlay.poll()
    assert overlay.finished
    table = frames.curves(overlay.records)
    assert table[table["run"] == "BP seed 1"]["step"].tolist() == [3]      # the infinite loss left out
    assert overlay.diverged() == {"BP seed 1": 1.0} and overlay.diverged("step") == {"BP seed 1": 7}
    store.delete_run(a)
    with pytest.raises(UnknownRun):
        overlay.poll()


def test_delete_refuses_live_runs_and_removes_empty_groups(store):
    g = store.create_group(seed=0)
    done = _run(store, group=g)
    live = _run(store, group=g, status="queued")          # owned by this process, which lives
    message = run_table.refusal(store.get_run(live), "BP")
    assert message == "BP is still waiting to train; stop it first (Stop, beside Delete) and delete it once it has ended."
    assert run_table.refusal(store.get_run(done)) is None
    deleted, problems = run_table.delete_runs(store, [done, live])
    assert deleted == [] and problems == [message.replace("BP", f"Run {live}")]
    assert {i.id for i in store.list_runs()} == {done, live}        # all or nothing

    store.finish_run(live, "cancelled")
    deleted, problems = run_table.delete_runs(store, [done])
    assert deleted == [done] and problems == [] and store.get_group(g)   # a run is left: group stays
    deleted, problems = run_table.delete_runs(store, [live, "0123456789abcdef"])
    assert deleted == [live] and "no run 0123456789abcdef" in problems[0]
    with pytest.raises(UnknownRun):
        store.get_group(g)


def test_a_run_whose_process_died_may_be_deleted(store):
    run = _run(store, status="queued")
    with store._write("pretending the owner died") as c:
        c.execute("UPDATE runs SET owner_pid = 999999999, owner_token = 'x' WHERE id = ?", (run,))
    info = store.get_run(run)
    assert info.active and run_table.refusal(info) is None


def test_train_query_reproduces_the_group_setup(store):
    g = store.create_group(seed=3)
    for rule in ({"name": "bp"}, {"name": "sdfa", "connections": 2}):
        _run(store, group=g, algorithm=rule, seed=3, model={"hidden": [32, 8], "activation": "tanh"},
             optimizer={"name": "adam", "lr": 0.002}, train={"epochs": 4})
    infos = list(reversed(store.list_runs(group=g)))
    query = run_table.train_query(infos)
    assert query["group"] == g
    values = parse({k: v for k, v in query.items() if k != "group"})
    base, rules = configs(values)
    assert rules == [i.config["algorithm"] for i in infos]
    for rule, info in zip(rules, infos):   # the Train page would start exactly these runs again
        assert RunConfig.from_dict({**base, "algorithm": rule}).to_dict() == info.config


def test_train_query_keeps_only_the_group_when_the_train_page_cannot_show_the_setup(store):
    g = store.create_group(seed=0)
    _run(store, group=g, data={"name": "moons", "samples": 300})     # no Train control for samples
    assert run_table.train_query(store.list_runs(group=g)) == {"group": g}
    with pytest.raises(ValueError, match="one group"):
        run_table.train_query([store.get_run(_run(store))])


def test_config_json_is_the_stored_config(store):
    info = store.get_run(_run(store, algorithm={"name": "usf", "scale": 0.5}, seed=4))
    assert json.loads(run_table.config_json(info)) == info.config


@pytest.mark.parametrize("bad", [{"model": 5}, {"model": {"hidden": 5}}, {"algorithm": {"name": ["bp"]}}])
def test_a_run_whose_stored_config_does_not_validate_is_listed_with_its_problem(store, bad):
    """A stored config with a section of the wrong type (written by hand, or by another version)
    is a row like the others, its rule unknown and its notes saying what is wrong; the runs beside
    it are described as usual."""
    import sqlite3

    good = _run(store, algorithm={"name": "dfa"}, seed=1)
    broken = _run(store, algorithm={"name": "fa"})
    with sqlite3.connect(store.path) as c:
        c.execute("UPDATE runs SET config = ? WHERE id = ?", (json.dumps(bad), broken))
    infos = store.list_runs()
    frame = run_table.runs_frame(infos, run_table.finals(store, infos)).set_index("id")
    assert frame.loc[good, "rule"] == "DFA" and frame.loc[good, "notes"] == ""
    assert frame.loc[broken, "rule"] == "?"
    problem = next(i for i in infos if i.id == broken).problem
    assert problem and frame.loc[broken, "notes"] == f"cannot be used as stored: {problem}"
    assert len(run_table.overlay_labels(infos)) == 2 and all(run_table.search_text(i) for i in infos)


def test_stop_asks_the_queued_runs_first_so_none_starts_between_two_requests(store, monkeypatch):
    running, queued, ended = _run(store, status="queued"), _run(store, status="queued"), _run(store)
    store.start_run(running)
    gone = "00000000000000aa"
    order = []
    ask = store.request_stop
    monkeypatch.setattr(store, "request_stop", lambda run_id: (order.append(run_id), ask(run_id))[1])
    asked, notes = run_table.stop_runs(store, [running, gone, ended, queued])
    assert order == [queued, running, gone, ended]           # the queued run first, the rest as selected
    assert asked == [queued, running]
    assert len(notes) == 2 and gone in notes[0] and notes[1] == f"Run {ended} had already ended (done)."
    assert store.stop_requests([running, queued, ended]) == {running, queued}
