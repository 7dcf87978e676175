"""The app benchmark (`tools.app_bench`) at a small size, on the tests' app and browser.

No timing is asserted here (the figures depend on the machine and its load); only facts about
the measurements that a broken benchmark would get wrong.
"""

from __future__ import annotations

import math

import pytest

from tools import app_bench


def test_the_benchmark_measures_three_finite_figures(app, browser, epochs):
    r = app_bench.run_app_benchmark(epochs, rounds=1, warmup=False, toggle=False, server=app, browser=browser)
    assert 0 < r["first_point_s"] < 600
    assert 0 < r["first_record_s"] < 600
    assert math.isnan(r["cold_first_point_s"])  # no warm-up asked for
    assert r["refresh_window_s"] > 0, "the runs ended before their first point was drawn: nothing to time"
    assert math.isfinite(r["refresh_per_s"]) and r["refresh_per_s"] >= 0
    assert r["refresh_per_s"] == pytest.approx(r["refreshes"] / r["refresh_window_s"])
    assert r["longest_gap_s"] <= r["refresh_window_s"] + 1e-9
    # one app round between two direct rounds, each with both runs
    assert len(r["direct_runs"]) == 2 and len(r["app_runs"]) == 1
    assert all(list(runs) == ["BP", "DFA"] for runs in [*r["direct_runs"], *r["app_runs"]])
    assert all(v > 0 and math.isfinite(v) for runs in [*r["direct_runs"], *r["app_runs"]] for v in runs.values())
    assert r["app_samples_per_s"] == pytest.approx(sum(r["app_runs"][0].values()))
    beside = [sum(runs.values()) for runs in r["direct_runs"]]
    assert r["direct_samples_per_s"] == pytest.approx(sum(beside) / 2)   # the median of two is their mean
    assert r["overhead"] == pytest.approx(1 - r["app_samples_per_s"] / (sum(beside) / 2))
    assert r["overheads"] == [pytest.approx(r["overhead"])] and r["overhead"] < 1
    # the benchmark trained the page's default preset with the asked epochs, in the app's store
    from explorer.runs.store import Store

    with Store(app.store) as store:
        infos = list(reversed(store.list_runs(group=r["group"])))
    assert [i.config["algorithm"]["name"] for i in infos] == ["bp", "dfa"]
    assert {i.config["train"]["epochs"] for i in infos} == {epochs} and {i.status for i in infos} == {"done"}
    report = app_bench.format_report(r).splitlines()
    assert sum("x the target" in line for line in report) == 3


def test_the_floor_page_trains_the_default_comparison_and_polls_while_it_runs(browser, epochs):
    from explorer.runs.store import Store

    with app_bench.serve(script=app_bench.FLOOR_PAGE, extra_args=("--runner.postScriptGC", "false")) as floor:
        r = app_bench.floor_round(floor, browser, epochs)
        # its Stop button ends a long comparison: the same-run measurement works on it too
        toggled = app_bench.toggled_overhead(floor, browser, pairs=1, window_s=1.0, settle_s=1.0)
        with Store(floor.store) as store:
            infos = list(reversed(store.list_runs(group=r["group"])))
            long = [i for i in store.list_runs() if i.config["train"]["epochs"] == app_bench.TOGGLE_EPOCHS]
    assert [i.config["algorithm"]["name"] for i in infos] == ["bp", "dfa"]
    assert {i.config["train"]["epochs"] for i in infos} == {epochs} and {i.status for i in infos} == {"done"}
    assert list(r["runs"]) == ["BP", "DFA"] and all(v > 0 and math.isfinite(v) for v in r["runs"].values())
    # a count, not a rate: a starved server redraws seldom, but a page that polls redraws while they train
    assert r["status_changes"] >= 2, "the floor page's line did not change while the runs trained: it did not poll"
    assert len(toggled["closed"]) == 2 and math.isfinite(toggled["overhead"])
    assert sorted(i.config["algorithm"]["name"] for i in long) == ["bp", "dfa"]
    assert {i.status for i in long} == {"cancelled"}


def test_a_report_with_a_floor_lists_the_rounds_in_the_order_they_ran():
    result = {"epochs": 5, "device": "CPU", "first_point_s": 1.0, "cold_first_point_s": 3.0,
              "refresh_per_s": 2.5, "refresh_window_s": 8.0, "longest_gap_s": 0.6,
              "direct_samples_per_s": 100.0, "app_samples_per_s": 75.0, "overhead": 0.25, "overheads": [0.25, 0.3],
              "direct_runs": [{"BP": 100.0}, {"BP": 101.0}, {"BP": 102.0}, {"BP": 103.0}, {"BP": 104.0}],
              "app_runs": [{"BP": 75.0}, {"BP": 70.0}], "floor_runs": [{"BP": 90.0}, {"BP": 95.0}],
              "floor_overheads": [0.1, 0.05], "floor_overhead": 0.075, "floor_status_per_s": 2.2}
    lines = app_bench.format_report(result).splitlines()
    rounds = [line.split(":")[0].strip() for line in lines if line.startswith("  ")]
    assert rounds == ["direct 1", "app 1", "direct 2", "floor 1", "direct 3", "app 2", "direct 4", "floor 2", "direct 5"]
    assert "  floor 2:        BP 95 (overhead 5.0 %)" in lines
    floor_line = next(line for line in lines if line.startswith("floor:"))
    assert "7.5 %" in floor_line and "17.5 points more" in floor_line


def test_the_overhead_sets_each_app_round_against_the_direct_rounds_beside_it():
    direct = [{"BP": 100.0}, {"BP": 80.0}, {"BP": 120.0}, {"BP": 100.0}]
    app = [{"BP": 72.0}, {"BP": 50.0}, {"BP": 99.0}]
    assert app_bench._overheads(direct, app) == pytest.approx([0.2, 0.5, 0.1])
    assert app_bench._median([0.2, 0.5, 0.1]) == pytest.approx(0.2)
    assert app_bench._median([0.2, 0.5]) == pytest.approx(0.35)


def test_a_missing_browser_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_CHROMIUM", str(tmp_path / "no-such-chromium"))
    with pytest.raises(app_bench.BrowserMissing, match="EXPLORER_CHROMIUM"):
        app_bench.chromium_path()


def test_bad_options_are_refused_before_anything_starts(capsys):
    assert app_bench.main(["--set", "runner.postScriptGC"]) == 2
    assert "OPTION=VALUE" in capsys.readouterr().err
    assert app_bench.main(["--epochs", "0"]) == 2
    assert app_bench.main(["--rounds", "0"]) == 2
    assert "--rounds" in capsys.readouterr().err
    assert app_bench.main(["--seconds", "0"]) == 2
    assert "--seconds" in capsys.readouterr().err


def test_rounds_last_about_the_asked_seconds_at_the_slower_runs_pace(monkeypatch):
    # digits keeps 1,438 training samples; the page's default batch of 64 makes 22 whole batches an epoch
    assert app_bench.default_epoch_samples() == 22 * 64
    monkeypatch.setattr(app_bench, "direct_throughput", lambda epochs, timeout: {"BP": 4 * 14_080.0, "DFA": 14_080.0})
    assert app_bench.epochs_lasting(10.0) == 100  # 10 s x 14,080 samples/s / 1,408 samples an epoch
    assert app_bench.epochs_lasting(0.01) == 1


def test_one_long_run_counts_windows_with_the_page_closed_and_open_in_turns(app, browser):
    r = app_bench.toggled_overhead(app, browser, pairs=1, window_s=1.0, settle_s=1.0)
    assert len(r["closed"]) == 2 and len(r["open"]) == 1   # closed, open, closed
    assert all(v > 0 and math.isfinite(v) for v in [*r["closed"], *r["open"]])
    assert r["overheads"] == [pytest.approx(1 - r["open"][0] / ((r["closed"][0] + r["closed"][1]) / 2))]
    assert r["overhead"] == r["overheads"][0]
    from explorer.runs.store import Store

    with Store(app.store) as store:  # the default comparison, long enough, stopped from the page at the end
        infos = [i for i in store.list_runs() if i.config["train"]["epochs"] == app_bench.TOGGLE_EPOCHS]
    assert sorted(i.config["algorithm"]["name"] for i in infos) == ["bp", "dfa"]
    assert {i.status for i in infos} == {"cancelled"}


class _Rows:
    """A store stand-in: each run's records, revealed a batch at a time."""

    def __init__(self, batches):
        self.batches = batches

    def metric_rows(self, run_id, *, after=0):
        rows = self.batches[run_id].pop(0) if self.batches[run_id] else []
        return [row for row in rows if row[0] > after]


def test_a_window_counts_the_samples_each_run_trained_over_its_own_clock(monkeypatch):
    monkeypatch.setattr(app_bench.time, "sleep", lambda s: None)
    store = _Rows({"a": [[(1, 0.0, {"samples": 100, "time": 1.0}), (2, 0.0, {"samples": 300, "time": 2.0})],
                         [(3, 0.0, {"samples": 1300, "time": 4.0})]],
                   "b": [[(1, 0.0, {"samples": 50, "time": 1.0})], [(2, 0.0, {"samples": 550, "time": 6.0})]]})
    reader = app_bench._RecordsReader(store, ["a", "b"])
    # a: (1300 - 300) / (4 - 2) = 500 samples/s; b: (550 - 50) / (6 - 1) = 100 samples/s
    assert reader.rate_over(1.0) == pytest.approx(600.0)
    with pytest.raises(RuntimeError, match="no new record in 1.5 s"):
        reader.rate_over(1.0, patience=0.5)   # nothing new stored: no rate to tell
