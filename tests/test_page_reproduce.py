"""AppTest of the Reproduce page on small catalogue entries of its own (the built-in digits, a missing
CIFAR-10): the published values it shows, a smoke-scale run from the page to its end with the
measured column read back from the store, resume (finished runs are not offered again), a missing
dataset's message in place of the Run button, and links that name no entry or no scale."""

from __future__ import annotations

import pytest

from apptest_tools import app_on, button, charts, run_until, text
from explorer.experiments import catalogue
from explorer.experiments import reproduce as rp
from explorer.experiments.catalogue import Entry, Published, Run, Scale
from explorer.runs.store import Store

SETTING = {"data": {"name": "digits"}, "model": {"name": "mlp", "hidden": [16], "activation": "tanh"},
           "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "train": {"epochs": 3, "batch_size": 64},
           "device": "cpu"}
TINY = Entry("test-tiny", "999_test.txt", "Table T.1", "BP against DFA on the digits", SETTING,
             (Run("BP", {"algorithm.name": "bp"}), Run("DFA", {"algorithm.name": "dfa"})),
             (Published("BP", "test_acc", 95.0), Published("DFA", "test_acc", 90.0, approx=True),
              Published("DFA", "test_loss", 0.3, at=1)),
             tolerance=5.0, classroom=Scale({"train.epochs": 2}, "2 epochs instead of 3"),
             smoke=Scale({"train.epochs": 1}, "1 epoch instead of 3"))
CIFAR = Entry("test-cifar", "998_test.txt", "Table T.2", "A CNN on CIFAR-10",
              {"data": {"name": "cifar10"}, "model": {"name": "cifar_cnn"}, "train": {"epochs": 2}, "device": "cpu"},
              (Run("BP", {"algorithm.name": "bp"}),), (Published("BP", "test_acc", 70.0),),
              tolerance=2.0, classroom=Scale({"train.epochs": 1}, "1 epoch"), smoke=Scale({"train.epochs": 1}, "1 epoch"))

# As the entries' published values are printed: typed here, not read from the entries.
TYPED = [("BP", "test accuracy", "95%"), ("DFA", "test accuracy", "≈90%"), ("DFA", "test loss", "0.3")]


@pytest.fixture
def entries(store_path, tmp_path, monkeypatch):
    """The catalogue holds only TINY and CIFAR (the same dict object, wherever it was imported);
    the data folder is an empty one, so CIFAR-10 is missing."""
    monkeypatch.setenv("EXPLORER_DATA", str(tmp_path / "data"))
    saved = dict(catalogue.CATALOGUE)
    catalogue.CATALOGUE.clear()
    catalogue.CATALOGUE.update({TINY.id: TINY, CIFAR.id: CIFAR})
    yield store_path
    catalogue.CATALOGUE.clear()
    catalogue.CATALOGUE.update(saved)


def _published(at):
    return at.dataframe[0].value


def test_picking_an_entry_shows_its_published_values(entries):
    at = app_on("pages/reproduce.py", entry=TINY.id)
    assert at.selectbox(key="entry").value == TINY.id
    assert at.selectbox(key="scale").value == "classroom"   # the default scale
    table = _published(at)
    assert [tuple(row) for row in table[["run", "metric", "published"]].itertuples(index=False)] == TYPED
    assert "2 epochs instead of 3" in text(at)   # what classroom scale shrinks
    assert not button(at, "Run").disabled
    # The document filter: another document's entries are not listed, the search narrows too.
    at.selectbox(key="rp_doc").set_value("998_test.txt").run()
    assert at.selectbox(key="entry").value == TINY.id   # the entry shown stays listed
    assert at.selectbox(key="entry").options[1:] == [f"{CIFAR.ref}: {CIFAR.title}"]


def test_a_table_of_quoted_bandwidths_offers_no_run_and_says_why(store_path):
    at = app_on("pages/reproduce.py", entry="dipasquale-t3.26", scale="smoke")
    assert not at.exception, [e.value for e in at.exception]
    assert [i.value for i in at.info if "no training run measures a memory bandwidth" in i.value]
    assert not [b for b in at.button if b.label == "Run"]
    assert set(at.dataframe[-1].value["verdict"]) == {"not run"} and Store(store_path).list_runs() == []


def test_a_class_link_folds_the_controls_it_fixes(entries):
    at = app_on("pages/reproduce.py", entry=CIFAR.id, scale="smoke", hide="catalogue,size")
    assert [e.label for e in at.expander][:1] == ["Settings fixed by this link"]
    fixed = at.expander[0]
    assert fixed.selectbox(key="entry").value == CIFAR.id and fixed.selectbox(key="scale").value == "smoke"
    assert at.subheader[0].value == f"{CIFAR.ref}: {CIFAR.title}"


@pytest.mark.parametrize("seeds, words", [(11, "seeds: at most 10 on this page, got 11"),
                                         (0, "seeds must be a whole number of at least 1, got 0")])
def test_a_seed_count_the_page_does_not_take_is_told_and_offers_no_run(entries, seeds, words):
    at = app_on("pages/reproduce.py", entry=TINY.id, scale="smoke")
    at.number_input(key="seeds").set_value(seeds).run()   # the box takes any number typed; the page checks it
    assert not at.exception, [e.value for e in at.exception]
    assert any(words in e.value for e in at.error), [e.value for e in at.error]
    assert not [b for b in at.button if b.label == "Run"]
    assert Store(entries).list_runs() == []


def test_a_smoke_run_ends_with_the_table_measured_from_the_store(entries):
    at = app_on("pages/reproduce.py", entry=TINY.id, scale="smoke")
    assert "1 epoch instead of 3" in text(at)
    button(at, "Run").click().run()
    store = Store(entries)

    def ended(a) -> bool:
        runs = store.list_runs()
        return len(runs) == 2 and all(r.status == "done" for r in runs) and "-" not in list(a.dataframe[-1].value["measured"])

    run_until(at, ended, timeout=180)
    at.run()   # the page drawn once more after the end: its final charts
    runs = {r.config["algorithm"]["name"]: r for r in store.list_runs()}
    assert sorted(runs) == ["bp", "dfa"] and all(r.config["train"]["epochs"] == 1 for r in runs.values())
    last = {name: store.metrics(run.id)[-1] for name, run in runs.items()}
    assert all(r["epoch"] == 1.0 for r in last.values())
    table = at.dataframe[-1].value
    measured = {(row.run, row.metric): row.measured for row in table.itertuples()}
    # one seed: no interval; two decimals (trailing zeros dropped) above 1, three significant digits below
    def shown(value: float, unit: str = "") -> str:
        text = f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) >= 1 else f"{value:.3g}"
        return text + unit

    assert measured[("BP", "test accuracy")] == shown(100 * last["bp"]["test_acc"], "%")
    assert measured[("DFA", "test accuracy")] == shown(100 * last["dfa"]["test_acc"], "%")
    assert measured[("DFA", "test loss")] == shown(last["dfa"]["test_loss"])
    assert [row.published for row in table.itertuples()] == [p for _, _, p in TYPED]
    assert set(table["verdict"]) <= {"reproduced", "differs"}
    # The curves: one chart per published metric, the published values marked on them.
    drawn = [tables for _, tables in charts(at) if any("published" in t.columns for t in tables)]
    assert len(drawn) == 2
    marked = sorted(float(v) for tables in drawn for t in tables if "published" in t.columns for v in t["published"])
    assert 0.3 in marked and 95.0 in marked and 90.0 in marked
    # Resume: every run is finished, so Run offers nothing; two seeds offer only seed 1's two runs.
    assert button(at, "Run").disabled
    assert "All 2 runs" in text(at)
    at.number_input(key="seeds").set_value(2).run()
    assert not button(at, "Run").disabled
    assert "the 2 of 4 runs" in button(at, "Run").help


def test_an_entry_whose_data_is_missing_says_where_to_put_it_and_offers_no_run(entries):
    at = app_on("pages/reproduce.py", entry=CIFAR.id)
    words = "\n".join(w.value for w in at.warning)
    assert "cifar-10-batches-py" in words and str(entries.parent / "data") in words
    assert "Run" not in [b.label for b in at.button]


def test_a_link_naming_no_entry_or_scale_says_which_parameter(entries):
    at = app_on("pages/reproduce.py", entry="no-such-entry", scale="huge")
    errors = "\n".join(e.value for e in at.warning)
    assert "The link's entry='no-such-entry' was not used: entry: names no entry of the catalogue" in errors
    assert "The link's scale='huge' was not used: scale must be one of classroom, smoke, full" in errors
    assert at.selectbox(key="entry").value == TINY.id   # the catalogue is still there
    assert "entry" not in at.query_params or at.query_params["entry"] != "no-such-entry"


def test_runs_in_the_store_are_followed_live_then_shown_final(entries):
    # The runs are written into the store by the test, step by step, so nothing races: first two
    # seeds of BP and DFA half-way through their first of 2 epochs (classroom), then finished.
    store = Store(entries)
    planned = rp.plan([TINY], "classroom", seeds=2)
    ids = [store.create_run(p.config) for p in planned]
    acc = {("BP", 0): 0.5, ("BP", 1): 0.7, ("DFA", 0): 0.4, ("DFA", 1): 0.4}
    for run_id, p in zip(ids, planned):
        store.start_run(run_id)
        store.update_progress(run_id, steps_done=10, total_steps=40)
        store.append_metrics(run_id, [{"step": s, "epoch": s / 20, "test_acc": acc[p.label, p.seed] * s / 10,
                                       "test_loss": 1.0 / s} for s in (5, 10)])
    at = app_on("pages/reproduce.py", entry=TINY.id, seeds="2")
    assert at.number_input(key="seeds").value == 2
    status = at.get("progress")[0].proto   # 10 of 40 steps done in each run
    assert status.value == 25
    assert "4 runs: 4 training" in status.text and "BP · seed 1: epoch 0.5/2" in status.text
    assert button(at, "Run").disabled and not button(at, "Stop").disabled
    live = "\n".join(m.value for m in at.markdown if "explorer-live" in m.value)
    assert live.count('class="curve"') == 4   # two runs (mean over seeds) on each of two metrics
    assert 'class="band"' in live             # BP's seeds differ: its interval is shaded
    assert not charts(at)                     # Vega charts come when the runs have ended
    for run_id in ids:
        store.finish_run(run_id, "done", steps_done=40)
    at.run()
    assert not any("explorer-live" in m.value for m in at.markdown)
    bands = [next(t for t in tables if "mean" in t.columns) for _, tables in charts(at)]
    test_acc = bands[0]   # the first published metric's chart
    bp = test_acc[test_acc["run"] == "BP"].sort_values("epoch")
    # mean over seeds of the accuracies written above, in %: (0.5 + 0.7) / 2 × s / 10
    assert list(bp["epoch"]) == [0.25, 0.5] and list(bp["mean"]) == pytest.approx([30.0, 60.0])
    table = at.dataframe[-1].value
    assert list(table[table["run"] == "BP"]["measured"])[0].startswith("60 ± ")
