"""`explorer.experiments.reproduce` and `report`: planning, resume, verdicts against stores made by
hand (mean and 95% CI recomputed here with scipy), where a published value is read (final, best,
an epoch), missing data, and the report's files.

The entries here are made in the tests (small networks on generated data), so these tests
hold whatever the catalogue holds.
"""

from __future__ import annotations

import json
import math
import struct
import threading

import pytest
from scipy import stats

from explorer.config import ConfigError
from explorer.experiments import report
from explorer.experiments import reproduce as rp
from explorer.experiments.catalogue import Entry, Published, Run, Scale
from explorer.runs.store import Store

SETTING = {"data": {"name": "random", "samples": 256, "features": 16}, "model": {"name": "mlp", "hidden": [8], "activation": "tanh"},
           "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "train": {"epochs": 4, "batch_size": 64},
           "device": "cpu"}


def entry(published=(), tolerance=2.5, id="demo", setting=SETTING, runs=None, **kw) -> Entry:
    runs = runs or (Run("BP", {}), Run("DFA", {"algorithm.name": "dfa"}))
    return Entry(id, "000_demo.txt", "Table 9.9", "BP and DFA on the digits", setting, runs, tuple(published),
                 tolerance, Scale({"train.epochs": 2}, "2 epochs instead of 4"), Scale({"train.epochs": 1}, "1 epoch"),
                 **kw)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "runs.sqlite") as s:
        yield s


def fake_run(store: Store, planned: rp.Planned, accs, status="done") -> str:
    """A finished run of ``planned`` whose records end epoch i + 1 with test accuracy accs[i], each
    after a record halfway through the epoch (accuracy 0, loss 9: never the best, never the last)."""
    run_id = store.create_run(planned.config)
    records = []
    for i, acc in enumerate(accs):
        records.append({"step": 10 * i + 5, "epoch": i + 0.5, "test_acc": 0.0, "test_loss": 9.0})
        records.append({"step": 10 * i + 10, "epoch": float(i + 1), "test_acc": acc, "test_loss": 1.0 - acc})
    store.append_metrics(run_id, records)
    store.finish_run(run_id, status, diverged_at=records[-1]["step"] if status == "diverged" else None)
    return run_id


def by_label(planned, label, seed=0):
    return next(p for p in planned if p.label == label and p.seed == seed)


# Planning and resume ----------------------------------------------------------------------------


def test_plan_orders_entries_seeds_and_runs_and_applies_the_scale():
    planned = rp.plan([entry(), entry(id="other")], "classroom", seeds=2)
    assert [(p.entry_id, p.label, p.seed) for p in planned] == [
        ("demo", "BP", 0), ("demo", "DFA", 0), ("demo", "BP", 1), ("demo", "DFA", 1),
        ("other", "BP", 0), ("other", "DFA", 0), ("other", "BP", 1), ("other", "DFA", 1)]
    assert {p.config.train.epochs for p in planned} == {2} and {p.config.seed for p in planned} == {0, 1}
    assert {p.config.algorithm.name for p in planned if p.label == "DFA"} == {"dfa"}
    with pytest.raises(ConfigError) as caught:
        rp.plan([entry()], "classroom", seeds=0)
    assert caught.value.field == "seeds"


def test_a_second_run_trains_nothing_and_cancelled_runs_train_again(store):
    e = entry(published=[Published("BP", "test_acc", 50.0)], tolerance=50.0)
    first = rp.run([e], "smoke", seeds=1, store=store, progress=False)
    assert [(p.label, status) for p, _, status in first.trained] == [("BP", "done"), ("DFA", "done")]
    runs = store.list_runs()
    records = sum(len(store.metrics(r.id)) for r in runs)
    assert len(runs) == 2 and records > 0
    assert {store.get_group(r.group).label for r in runs} == {"reproduce demo smoke"}
    second = rp.run([e], "smoke", seeds=1, store=store, progress=False)
    assert second.trained == [] and second.skipped == 2
    assert len(store.list_runs()) == 2 and sum(len(store.metrics(r.id)) for r in store.list_runs()) == records
    # A run that did not finish is trained again; one on another device or data folder counts as done.
    planned = rp.plan([e], "smoke", seeds=1, device="cuda", root="/elsewhere")
    assert rp.pending(planned, store) == []
    for r in store.list_runs():
        store.delete_run(r.id)
    cancelled = store.create_run(planned[0].config)
    store.finish_run(cancelled, "cancelled")
    assert [p.label for p in rp.pending(planned, store)] == ["BP", "DFA"]


def test_stop_cancels_the_run_in_flight_and_the_next_call_resumes(store):
    # 200 epochs: thousands of steps, which no machine trains between two looks 0.1 s apart
    e = entry(setting={**SETTING, "train": {"epochs": 200, "batch_size": 16}},
              published=[Published("BP", "test_acc", 50.0), Published("DFA", "test_acc", 50.0)])
    stop, ticks = threading.Event(), []

    def tick(t: rp.Tick) -> None:
        ticks.append(t)
        stop.set()

    outcome = rp.run([e], "full", store=store, progress=tick, stop=stop)
    assert outcome.interrupted and [s for _, _, s in outcome.trained] == ["cancelled"]
    assert (ticks[0].run, ticks[0].runs, ticks[0].epochs_total) == (1, 2, 400)
    info = store.get_run(outcome.trained[0][1])
    assert info.status == "cancelled" and info.steps_done < info.total_steps
    assert [p.label for p in rp.pending(rp.plan([e], "full"), store)] == ["BP", "DFA"]
    details = list(rp.results([e], "full", 1, store)["detail"])
    assert details[0] == "not run: its last run was cancelled; python -m explorer reproduce demo --scale full runs it again"
    assert details[1] == "not run: no finished run in the store (python -m explorer reproduce demo --scale full)"


# Results and verdicts -----------------------------------------------------------------------------


def test_mean_ci_and_verdict_against_scipy_with_tolerance_edges(store):
    accs = {0: 0.5, 1: 0.625, 2: 0.75}   # BP's final test accuracy per seed: 50, 62.5, 75 %
    e = entry(published=[Published("BP", "test_acc", 65.0), Published("DFA", "test_acc", 60.0, tolerance=2.0),
                         Published("DFA", "test_loss", 0.5, tolerance=0.1)])
    planned = rp.plan([e], "full", seeds=3)
    for seed, acc in accs.items():
        fake_run(store, by_label(planned, "BP", seed), [0.1, acc])
        fake_run(store, by_label(planned, "DFA", seed), [0.2, 0.625])   # 62.5 % every seed
    df = rp.results([e], "full", 3, store)
    values = [100 * a for a in accs.values()]
    low, high = stats.t.interval(0.95, len(values) - 1, loc=sum(values) / 3, scale=stats.sem(values))
    bp = df.iloc[0]
    assert bp["n"] == 3 and bp["mean"] == pytest.approx(62.5) and bp["ci95"] == pytest.approx((high - low) / 2)
    assert bp["verdict"] == "reproduced" and bp["tolerance"] == 2.5 and bp["detail"] == ""  # |62.5 - 65| = 2.5
    dfa = df.iloc[1]
    assert dfa["verdict"] == "differs" and dfa["detail"] == "by +2.5 points" and dfa["tolerance"] == 2.0
    assert dfa["ci95"] == 0.0
    loss = df.iloc[2]
    assert loss["mean"] == pytest.approx(0.375) and loss["verdict"] == "differs" and loss["unit"] == ""
    assert loss["detail"] == "by -0.125"
    # just past the edge: differs
    e2 = entry(published=[Published("BP", "test_acc", 65.01)])
    assert rp.results([e2], "full", 3, store).iloc[0]["verdict"] == "differs"
    # one seed: no interval
    one = rp.results([e], "full", 1, store).iloc[0]
    assert one["n"] == 1 and math.isnan(one["ci95"]) and one["mean"] == 50.0


def test_values_read_at_final_best_and_an_epoch(store):
    e = entry(published=[Published("BP", "test_acc", 0, at="final"), Published("BP", "test_acc", 0, at="best"),
                         Published("BP", "test_acc", 0, at=2), Published("BP", "test_loss", 0, at="best"),
                         Published("BP", "test_acc", 0, at=9)])
    planned = rp.plan([e], "full")
    fake_run(store, by_label(planned, "BP"), [0.25, 0.875, 0.5, 0.625])
    df = rp.results([e], "full", 1, store)
    assert list(df["mean"]) == [62.5, 87.5, 87.5, 0.125, 62.5]
    assert "epoch 9 is past the run (4 epochs): its last record" in df.iloc[4]["detail"]


def test_order_of_runs_diverged_seeds_and_runs_not_made(store):
    e = entry(published=[Published("BP", "test_acc", 98.0), Published("DFA", "test_acc", 97.0)], tolerance=0.1)
    planned = rp.plan([e], "classroom", seeds=2)
    fake_run(store, by_label(planned, "BP", 0), [0.5])
    fake_run(store, by_label(planned, "DFA", 0), [0.75])
    df = rp.results([e], "classroom", 1, store)
    assert list(df["order"]) == ["differs", "differs"]
    assert df.iloc[0]["detail"] == "by -48.0 points; classroom scale: 2 epochs instead of 4"
    fake_run(store, by_label(planned, "BP", 1), [0.25], status="diverged")
    df = rp.results([e], "classroom", 2, store)
    assert df.iloc[0]["n"] == 1 and "1 of 2 seeds diverged" in df.iloc[0]["detail"]
    assert df.iloc[1]["detail"] == "by -22.0 points; 1 of 2 seeds run; classroom scale: 2 epochs instead of 4"
    fresh = rp.results([entry(published=e.published, id="fresh", setting={**SETTING, "seed": 5})], "full", 1, store)
    assert list(fresh["verdict"]) == ["not run", "not run"] and list(fresh["order"]) == ["-", "-"]
    assert fresh.iloc[0]["detail"].startswith("not run: no finished run in the store")
    assert rp.order_agrees([3, 2, 1], [30, 20, 10]) == "agrees" and rp.order_agrees([3, 3], [1, 2]) == "-"
    assert rp.order_agrees([3, 3, 1], [1, 2, 3]) == "differs" and rp.order_agrees([3, 3, 1], [2, 1, 0.5]) == "agrees"


# Missing data -----------------------------------------------------------------------------------


def test_missing_cifar_says_where_to_put_it_and_the_others_still_run(store, tmp_path):
    cifar = entry(id="cifar", setting={**SETTING, "data": {"name": "cifar10"}},
                  published=[Published("BP", "test_acc", 60.0)])
    digits = entry(runs=(Run("BP", {}),))
    folder = tmp_path / "data"
    message = f"not run: in {folder}, put cifar-10-batches-py (data_batch_1 … data_batch_5, test_batch)"
    assert rp.missing_data(cifar, str(folder)) == message
    outcome = rp.run([cifar, digits], "smoke", store=store, root=str(folder), progress=False)
    assert outcome.not_run == {"cifar": message} and [p.entry_id for p, _, _ in outcome.trained] == ["demo"]
    row = rp.results([cifar], "smoke", 1, store, root=str(folder)).iloc[0]
    assert row["verdict"] == "not run" and row["detail"] == message
    (folder / "cifar-10-batches-py").mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / "cifar-10-batches-py" / name).write_bytes(b"")
    assert rp.missing_data(cifar, str(folder)) is None
    mixed = entry(runs=(Run("BP", {}), Run("BP on CIFAR", {"data": {"name": "cifar10"}})))
    assert rp.missing_data(mixed, str(tmp_path / "empty")).startswith(f"not run: in {tmp_path / 'empty'}, put cifar-10")
    mnist = entry(id="mnist", setting={**SETTING, "data": {"name": "mnist"}})
    assert rp.missing_data(mnist, str(folder)) == (
        f"not run: in {folder}, put MNIST/raw (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        f"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)")


def test_an_entry_whose_setting_does_not_validate_is_not_run_with_the_reason(store):
    bad = entry(id="bad", setting={**SETTING, "train": {"epochs": -1}}, published=[Published("BP", "test_acc", 1.0)])
    outcome = rp.run([bad], "full", store=store, progress=False)
    assert "train.epochs" in outcome.not_run["bad"] and outcome.trained == []
    assert "does not validate" in rp.results([bad], "full", 1, store).iloc[0]["detail"]


def test_an_entry_of_values_no_run_measures_is_not_trained(store):
    # Tables 3.26-3.27 quote CUDA kernels' bandwidths: training their placeholder setting would
    # measure nothing; an entry with one trainable value beside them (Table 3.28's costs) trains
    from explorer.experiments.catalogue import get

    quoted = [get("dipasquale-t3.26"), get("dipasquale-t3.27")]
    outcome = rp.run(quoted, "smoke", store=store, progress=False)
    assert outcome.trained == [] and store.list_runs() == []
    assert set(outcome.not_run) == {"dipasquale-t3.26", "dipasquale-t3.27"}
    table = rp.results(quoted, "smoke", 1, store)
    assert set(table["verdict"]) == {"not run"} and len(table) == 2 + 4
    assert all("no training run measures a memory bandwidth" in d for d in table["detail"])
    mixed = entry(published=[Published("BP", "thesis_cost", 17.0), Published("BP", "test_acc", 90.0)])
    assert rp.run([mixed], "full", store=store, progress=False).not_run == {}


# Text and report ------------------------------------------------------------------------------


def test_table_text_and_json_carry_published_measured_and_verdict(store):
    e = entry(published=[Published("BP", "test_acc", 91.0, approx=True)])
    planned = rp.plan([e], "full", seeds=2)
    fake_run(store, by_label(planned, "BP", 0), [0.875])
    fake_run(store, by_label(planned, "BP", 1), [0.875])
    df = rp.results([e], "full", 2, store)
    text = rp.table_text(df)
    assert "≈91%" in text and "87.5 ± 0% " in text and "differs" in text and "by -3.5 points" in text
    rows = json.loads(json.dumps(rp.to_json(df)))
    assert rows[0]["verdict"] == "differs" and rows[0]["mean"] == 87.5 and set(rp.COLUMNS) == set(rows[0])


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_a_two_epoch_charts_axis_reads_1_2_as_the_png_renderer_draws_it():
    import re

    import pandas as pd
    import vl_convert as vlc

    e = entry(published=[Published("BP", "test_acc", 90.0)])
    curves = pd.DataFrame({"run": ["BP", "BP"], "epoch": [1.0, 2.0], "mean": [50.0, 75.0], "low": [50.0, 75.0],
                           "high": [50.0, 75.0], "n": [1, 1]})
    svg = vlc.vegalite_to_svg(report.entry_chart(e, curves, rp.published_points(e, "classroom")).to_dict())
    x_axis = svg[svg.index('aria-label="X-axis'):]
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", x_axis)
    assert labels[:labels.index("epoch")] == ["1", "2"]      # was "1 2 2": a tick at 1.5 printed as a whole number


def test_report_names_the_seed_documents_not_their_files(store, tmp_path):
    from explorer.experiments.catalogue import get

    text = report.write([get("dipasquale-t3.26")], "classroom", 1, store, tmp_path / "out").read_text()
    assert "| [dipasquale-t3.26](#dipasquale-t326) | Di Pasquale 2019 | Table 3.26 |" in text
    assert "Di Pasquale 2019, master's thesis (Politecnico di Torino), Table 3.26" in text and "000_f576" not in text


def test_report_writes_markdown_with_the_table_and_a_chart_per_entry(store, tmp_path):
    e = entry(published=[Published("BP", "test_acc", 90.0), Published("DFA", "test_acc", 80.0, approx=True, at=1)])
    planned = rp.plan([e], "classroom", seeds=2)
    for p in planned:
        fake_run(store, p, [0.5, 0.75])
    path = report.write([e], "classroom", 2, store, tmp_path / "out")
    text = path.read_text()
    assert path.name == "README.md" and "| BP | test_acc | 90% | 75 ± 0% | 2 | differs |" in text
    assert "| DFA | test_acc (epoch 1) | ≈80% | 50 ± 0% | 2 | differs |" in text
    assert "At classroom scale: 2 epochs instead of 4." in text and "![demo" in text
    width, height = png_size(tmp_path / "out" / "demo.png")
    assert report.WIDTH < width < report.WIDTH + 400 and report.HEIGHT < height < report.HEIGHT + 200
    spec = report.entry_chart(e, rp.curves(e, "classroom", 2, store), rp.published_points(e, "classroom")).to_dict()
    rows = [row for data in spec["datasets"].values() for row in data]
    assert sorted((r["run"], r["epoch"], r["published"]) for r in rows if "published" in r) == \
        [("BP", 2, 90.0), ("DFA", 1, 80.0)]
    assert sorted((r["run"], r["epoch"], r["mean"]) for r in rows if "mean" in r) == \
        [("BP", 1, 50.0), ("BP", 2, 75.0), ("DFA", 1, 50.0), ("DFA", 2, 75.0)]


def test_parallel_runs_train_every_pending_run_once_in_groups_per_entry_and_seed(store):
    e = entry(published=[Published("BP", "test_acc", 50.0)], tolerance=50.0)
    seen = []
    outcome = rp.run([e], "smoke", seeds=2, store=store, progress=False, parallel=3,
                     on_run=lambda p, info: seen.append((p.label, p.seed, info.status)))
    assert sorted(seen) == [("BP", 0, "done"), ("BP", 1, "done"), ("DFA", 0, "done"), ("DFA", 1, "done")]
    assert not outcome.interrupted and len(store.list_runs()) == 4
    groups = {}
    for info in store.list_runs():
        groups.setdefault(info.group, set()).add(info.config["seed"])
    assert sorted(map(sorted, groups.values())) == [[0], [1]]
    assert rp.run([e], "smoke", seeds=2, store=store, progress=False, parallel=3).trained == []
    with pytest.raises(ConfigError):
        rp.run([e], "smoke", store=store, parallel=0)


def test_a_value_published_at_the_end_of_an_iteration_is_read_at_the_end_of_that_iteration_at_any_scale():
    """Table 3.7: BP 91.56% after the first iteration (200 epochs at lr 1e-3), 92.58% after the
    second (200 more at 1e-4). Classroom scale keeps both iterations with 2 epochs each, so the
    first value is read at epoch 2, not at the run's last record."""
    from explorer.experiments import catalogue
    from explorer.experiments.reproduce import published_points, scaled_epoch

    entry = catalogue.get("dipasquale-t3.7")
    points = published_points(entry, "classroom")
    assert sorted(zip(points["epoch"], points["published"])) == [(2, 91.56), (4, 92.58)]
    assert scaled_epoch(entry, "BP", "full", 200) == 200
    assert scaled_epoch(entry, "BP", "classroom", 123) == 123   # not the end of an iteration: as published
