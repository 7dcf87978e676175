"""The library pieces the front ends share: URL setup, tidy frames, charts, the workspace of runs."""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest
from scipy import stats

from explorer.views import charts, frames, urlstate
from explorer.runs import export
from explorer.config import ConfigError, RunConfig
from explorer.config.registry import OPTIONS, RULES
from explorer.runs.workspace import Workspace, comparison_configs
from explorer.runs.store import Store
from explorer.config.labels import run_label, unique_labels


# --- urlstate ---------------------------------------------------------------------------------

SETUPS = [
    {},
    {"rule2": "bdfa", "r2_block_size": 2, "hidden": "32,32,32"},
    {"rule1": "fa", "r1_sign_refresh": "epoch", "rule2": "none", "fb": "uniform", "fb_low": -0.5, "fb_high": 0.5},
    {"rule3": "sdfa", "r3_connections": 2, "opt": "adam", "lr": 0.001, "bm": True, "epochs": 3, "seed": 4},
    {"rule2": "rf", "r2_variant": "linear", "hidden": "128", "act": "linear", "maps": False},
    {"init": "normal", "init_std": 0.1, "rule3": "usf", "r3_scale": 0.5, "r1_shallow": True, "device": "cpu"},
]


@pytest.mark.parametrize("values", SETUPS)
def test_setup_round_trips_through_configs_and_a_query_string(values):
    base, rules = urlstate.configs(values)
    back = urlstate.params(base, rules)
    assert back == values
    from urllib.parse import parse_qsl
    assert urlstate.parse(dict(parse_qsl(urlstate.query_string(back)))) == values


def test_fa_from_the_page_is_plain_fa_unless_signs_are_asked_for():
    _, rules = urlstate.configs({"rule1": "fa", "rule2": "fa", "r2_sign_refresh": "init"})
    assert rules == [{"name": "fa"}, {"name": "fa", "sign_refresh": "init"}]
    base, _ = urlstate.configs({})
    assert urlstate.params(base, rules) == {"rule1": "fa", "rule2": "fa", "r2_sign_refresh": "init"}


def test_setup_builds_the_configs_it_says():
    base, rules = urlstate.configs({"rule1": "bp", "rule2": "fa", "rule3": "usf", "fb": "uniform",
                                    "fb_low": -0.1, "fb_high": 0.1, "wd": 1e-3, "opt": "adam", "epochs": 4})
    cfgs = comparison_configs(base, rules)
    assert [c.algorithm.name for c in cfgs] == ["bp", "fa", "usf"]
    assert cfgs[0].algorithm.feedback_init is None          # bp has no feedback matrices
    assert cfgs[1].algorithm.feedback_init.high == 0.1      # fa takes the shared feedback init
    assert cfgs[2].algorithm.feedback_init is None          # usf's feedback is scale * sign(W)
    assert {c.optimizer.name for c in cfgs} == {"adam"} and cfgs[0].optimizer.momentum == 0
    assert cfgs[0].train.snapshots == tuple(urlstate.snapshot_epochs(4)) == (0, 1, 2, 3, 4)
    assert len({c.seed for c in cfgs}) == 1


@pytest.mark.parametrize("values, field, param", [
    ({"hidden": "64,,x"}, "model.hidden", "hidden"),
    ({"rules": "bp"}, "rules", None),
    ({"rule2": "backprop"}, "rule2", "rule2"),
])
def test_bad_setup_values_name_their_parameter(values, field, param):
    with pytest.raises(ConfigError, match=f"^{re.escape(field)}") as caught:
        urlstate.configs(values)
    assert caught.value.field == field
    if param is not None:
        assert urlstate.explain(caught.value, values)[0] == param


# Every rule of the registry, each option at a value other than its default: the page's flat
# parameters hold it, and a link gives back the same configs.
def rule_at_other_values(key: str) -> dict:
    rule = {"name": key}
    for name in RULES[key].options:
        option = OPTIONS[name]
        if option.kind == "choice":
            rule[name] = next(c for c in option.choices if c not in (None, option.default))
        elif option.kind == "int":
            rule[name] = 2 if option.default != 2 else 3
        else:
            rule[name] = 0.5
    return rule


@pytest.mark.parametrize("key", list(RULES))
def test_every_rule_round_trips_through_the_page_parameters_and_a_link(key):
    from urllib.parse import parse_qsl

    layers = 1 if RULES[key].hidden_layers[1] == 1 else 3   # rf and ntk take one hidden layer; fp's depth 2 needs 3
    base = {"model": {"name": "mlp", "hidden": [16] * layers}, "train": {"epochs": 2}}
    at_defaults = {"name": key, "scale": 1.0} if key == "usf" else {"name": key}   # (the page's uSF scale)
    rules = [{"name": "bp"}, at_defaults, rule_at_other_values(key)]
    before = comparison_configs(base, rules)
    values = urlstate.params(base, rules)
    assert values["rule3"] == key and not any(k.startswith("r2_") for k in values)
    assert {k: v for k, v in values.items() if k.startswith("r3_")} == {
        f"r3_{name}": value for name, value in rule_at_other_values(key).items() if name != "name"}
    link = urlstate.parse(dict(parse_qsl(urlstate.query_string(values))))
    assert link == values
    assert comparison_configs(*urlstate.configs(link)) == before


def test_a_link_without_a_rule_option_means_what_it_always_meant():
    # The defaults of the option parameters are a format: links made before the registry keep their
    # meaning. A change of a default in the registry fails here rather than changing old links.
    assert {name: urlstate.DEFAULTS[f"r1_{name}"] for name in OPTIONS} == {
        "block_size": 1, "bp_depth": 0, "connections": 1, "sign_refresh": "none", "scale": 1.0, "variant": "gaussian"}
    _, rules = urlstate.configs({"rule1": "usf", "rule2": "fa", "rule3": "bdfa", "rule4": "rf"})
    assert rules == [{"name": "usf", "scale": 1.0}, {"name": "fa"}, {"name": "bdfa", "block_size": 1},
                     {"name": "rf", "variant": "gaussian"}]


def test_a_setting_the_page_cannot_show_is_refused_by_field():
    # uSF's scale left out (each layer's forward-init std) has no number for the page's box
    with pytest.raises(ConfigError) as caught:
        urlstate.params({}, [{"name": "bp"}, {"name": "usf"}])
    assert caught.value.field == "rules[1].algorithm.scale"
    # another rule's option and a feedback initialiser given to a rule without feedback matrices are
    # ignored by the config, and so by the page
    base, _ = urlstate.configs({})
    assert urlstate.params(base, [{"name": "bp", "block_size": 4, "feedback_init": {"name": "xavier"}},
                                  {"name": "dfa", "feedback_init": {"name": "kaiming"}}]) == {"fb": "kaiming"}


@pytest.mark.parametrize("values, param, words", [
    ({"rule2": "bdfa", "r2_block_size": 0}, "r2_block_size", "Rule 2: hidden layers per block must be at least 1, got 0"),
    ({"rule2": "none", "rule4": "sdfa", "r4_connections": 0}, "r4_connections",
     "Rule 4: non-zeros per feedback column must be at least 1, got 0"),
    ({"rule2": "usf", "r2_scale": -2.0}, "r2_scale", "Rule 2: scale of sign(W) must be greater than 0, got -2"),
    ({"rule2": "fa", "r2_shallow": True, "model": "lenet5", "rule3": "ifa"}, "rule3", "Rule 3: 'ifa' is defined for mlp"),
    ({"fb": "sign_concordant"}, "fb", "feedback init: sign_concordant needs a feedback matrix shaped like"),
    ({"init": "normal", "init_std": -1.0}, "init_std", "forward init: std must be"),
    ({"hidden": "64,0"}, "hidden", "hidden widths must be at least 1, got 0"),
    ({"batch": 0}, "batch", "batch size must be at least 1, got 0"),
    ({"rule1": "none", "rule2": "none"}, "rules", "rules: choose at least one learning rule"),
])
def test_a_refused_setup_is_placed_by_its_field_in_the_page_words(values, param, words):
    with pytest.raises(ConfigError) as caught:
        comparison_configs(*urlstate.configs(values))
    placed, said = urlstate.explain(caught.value, values)
    assert placed == param and said.startswith(words), said
    assert not re.search(r"rules\[|algorithm\.|optimizer\.|train\.|model\.", said)   # the page's words


def test_parse_names_the_parameter_and_types_values():
    assert urlstate.parse({"epochs": "3", "lr": "1e-3", "maps": "false"}) == {"epochs": 3, "lr": 0.001, "maps": False}
    for query, field in (({"epochs": "3.5"}, "epochs"), ({"lr": "fast"}, "lr"), ({"bm": "yes"}, "bm"),
                         ({"colour": "red"}, "colour")):
        with pytest.raises(ConfigError, match=f"^{field}:"):
            urlstate.parse(query)


def test_params_refuses_what_the_page_cannot_show():
    with pytest.raises(ConfigError, match="at most 4"):
        urlstate.params({}, [{"name": "bp"}] * 5)
    with pytest.raises(ConfigError, match="same feedback"):
        urlstate.params({}, [{"name": "fa", "feedback_init": {"name": "xavier"}}, {"name": "dfa"} | {
            "feedback_init": {"name": "kaiming"}}])


def test_snapshot_epochs_spread_evenly():
    for epochs in (1, 7, 10, 33, 200):
        got = urlstate.snapshot_epochs(epochs)
        assert got[0] == 0 and got[-1] == epochs and got == sorted(set(got))
        assert len(got) <= urlstate.MAP_CHECKPOINTS + 2


# --- frames -----------------------------------------------------------------------------------

def _record(step, loss, acc=0.5, cos=0.5):
    return {"step": step, "epoch": step / 10, "train_loss": loss, "test_loss": loss, "train_acc": acc,
            "test_acc": acc, "layers": [{"layer": "l0", "index": 1, "update_cos": cos, "grad_norm": 0.0,
                                         "bp_grad_norm": 1.0, "weight_cos": float("nan")}]}


def test_curves_drop_non_finite_values_so_lines_end_where_the_run_did():
    table = frames.curves({"DFA": [_record(1, 2.0), _record(2, float("inf")), _record(3, float("nan"))]})
    loss = table[table["measure"] == "loss"]
    assert loss["step"].tolist() == [1, 1]
    assert len(table[table["measure"] == "accuracy"]) == 6


def test_alignment_derives_degrees_and_skips_missing_kinds():
    table = frames.alignment({"FA": [_record(1, 1.0, cos=0.5), _record(2, 1.0, cos=-1.0)]})
    assert table["kind"].unique().tolist() == ["update"]      # weight_cos is NaN: left out
    assert table["deg"].tolist() == pytest.approx([60.0, 180.0])


def test_norms_leave_out_zeros_for_the_log_scale():
    table = frames.norms({"FA": [_record(1, 1.0)]})
    assert table["gradient"].tolist() == ["backprop"]


def test_band_matches_an_independent_t_interval():
    rng = np.random.default_rng(0)
    values = rng.uniform(0.4, 0.9, size=(5, 3))   # 5 seeds x 3 epochs
    seeds = [[{"epoch": float(e + 1), "test_acc": values[s, e]} for e in range(3)]
             + [{"epoch": 0.5, "test_acc": 99.0}] for s in range(5)]
    table = frames.band({"BP": seeds})
    assert table["epoch"].tolist() == [1.0, 2.0, 3.0]           # the mid-epoch record is ignored
    for e in range(3):
        low, high = stats.t.interval(0.95, 4, loc=values[:, e].mean(), scale=stats.sem(values[:, e]))
        row = table.iloc[e]
        assert (row["low"], row["high"], row["n"]) == (pytest.approx(low), pytest.approx(high), 5)


def test_an_accuracy_band_stays_between_zero_and_one():
    seeds = [[{"epoch": 1.0, "test_acc": a, "test_loss": a}] for a in (0.99, 0.95, 0.97)]
    acc = frames.band({"BP": seeds}).iloc[0]    # mean 0.97, half-width t(0.975, 2) * 0.02 / sqrt(3) = 0.0497
    assert acc["high"] == 1.0 and acc["low"] == pytest.approx(0.97 - 0.0497, abs=1e-4)
    loss = frames.band({"BP": seeds}, "test_loss").iloc[0]
    assert loss["high"] > 1.0   # a loss is not clipped


def test_labels_are_unique_and_name_the_options():
    labels = [run_label({"algorithm": a}) for a in
              ({"name": "bdfa", "block_size": 2}, {"name": "bdfa", "block_size": 4}, {"name": "bp"}, {"name": "bp"})]
    assert unique_labels(labels) == ["BDFA block 2", "BDFA block 4", "BP", "BP (2)"]


# --- charts -----------------------------------------------------------------------------------

def test_each_rule_keeps_its_colour_whatever_the_order():
    one = charts.colors(["BP", "DFA"]).to_dict()
    two = charts.colors(["DFA", "FA", "BP"]).to_dict()
    colour = {label: c for label, c in zip(two["domain"], two["range"])}
    assert dict(zip(one["domain"], one["range"])) == {"BP": colour["BP"], "DFA": colour["DFA"]}
    many = charts.colors(["DFA", "DFA (2)", "mystery"]).to_dict()["range"]
    assert len(set(many)) == 3


def test_alignment_chart_marks_the_right_angle():
    table = frames.alignment({"FA": [_record(1, 1.0)]})
    for unit, line in (("deg", 90), ("cos", 0)):
        spec = charts.alignment_chart(table, unit=unit).to_dict()
        rules = [layer for layer in spec["spec"]["layer"] if layer["mark"]["type"] == "rule"]
        assert rules[0]["encoding"]["y"]["datum"] == line
    with pytest.raises(ValueError, match="unit"):
        charts.alignment_chart(table, unit="rad")


def test_learning_curves_mark_divergence_and_refuse_unknown_measures():
    table = frames.curves({"DFA": [_record(1, 2.0), _record(2, 1.0)]})
    spec = charts.learning_curves(table, "loss", diverged={"DFA": 0.2}).to_dict()
    texts = [ds for ds in spec["datasets"].values() if ds and "text" in ds[0]]
    assert [[{k: v for k, v in row.items() if k != "row"} for row in ds] for ds in texts] == \
        [[{"run": "DFA", "epoch": 0.2, "text": "DFA diverged"}]]   # "row": its line of text (test_charts)
    with pytest.raises(ValueError, match="measure"):
        charts.learning_curves(table, "speed")


def test_live_charts_leave_out_tooltips_and_points():
    import json

    records = {"BP": [_record(1, 2.0), _record(2, 1.0)]}
    curves = frames.curves(records)
    for make in (lambda live: charts.learning_curves(curves, "loss", live=live),
                 lambda live: charts.alignment_chart(frames.alignment(records), live=live),
                 lambda live: charts.norms_chart(frames.norms(records), live=live)):
        assert "tooltip" in json.dumps(make(False).to_dict())
        assert "tooltip" not in json.dumps(make(True).to_dict())
    assert charts.learning_curves(curves, "loss").to_dict()["mark"]["point"] is True   # short curves: points
    assert charts.learning_curves(curves, "loss", live=True).to_dict()["mark"]["point"] is False


def test_charts_render_offline_as_png_and_svg():
    chart = charts.learning_curves(frames.curves({"BP": [_record(1, 2.0), _record(2, 1.0)]}), "loss")
    assert export.picture(chart, "png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in export.picture(chart, "svg")[:200]
    with pytest.raises(ValueError, match="format"):
        export.picture(chart, "gif")


# --- runs -------------------------------------------------------------------------------------

TINY = {"model": {"hidden": [8]}, "train": {"epochs": 1}, "device": "cpu"}


def test_comparison_configs_refuse_by_rule_index():
    # sdfa's connections default to 1 (the registry); a value it cannot take is refused by rule index
    assert comparison_configs(TINY, [{"name": "bp"}, {"name": "sdfa"}])[1].algorithm.connections == 1
    with pytest.raises(ConfigError, match=r"^rules\[1\]: algorithm.connections") as caught:
        comparison_configs(TINY, [{"name": "bp"}, {"name": "sdfa", "connections": 0}])
    assert caught.value.field == "rules[1].algorithm.connections"
    with pytest.raises(ConfigError, match="at least one"):
        comparison_configs(TINY, [])
    with pytest.raises(ConfigError, match="at most 4"):
        comparison_configs(TINY, [{"name": "bp"}] * 5)


def test_a_comparison_reads_each_record_once_and_all_of_them(tmp_path):
    with Workspace(tmp_path / "runs.sqlite") as ws:
        found = ws.compare(RunConfig.from_dict({**TINY, "algorithm": {"name": "fa"}}), [{"name": "bp"}, {"name": "fa"}])
        found.wait(timeout=60)
        assert found.poll() == 0                      # nothing new after the end
        for label, run_id in zip(found.labels, found.ids):
            assert found.records[label] == ws.store.metrics(run_id)
        assert found.statuses() == ["done", "done"] and found.finished


def test_a_group_trained_elsewhere_is_watched_but_not_steered(tmp_path):
    path = tmp_path / "runs.sqlite"
    store = Store(path)
    group = store.create_group(0)
    store.create_run(RunConfig.from_dict(TINY), group=group)   # queued by "another process"
    with Workspace(path) as ws:
        found = ws.comparison(group)
        assert found.statuses() == ["queued"] and not found.controllable
        with pytest.raises(RuntimeError, match="another process"):
            found.pause()


def test_paused_comparison_takes_single_steps(tmp_path):
    with Workspace(tmp_path / "runs.sqlite") as ws:
        found = ws.compare(TINY, [{"name": "bp"}, {"name": "dfa"}], paused=True)
        found.step(3)
        # the store shows a run's third step (its records flushed) a moment before it marks it paused
        deadline = time.monotonic() + 60
        while (any(i.steps_done < 3 for i in found.infos) or any(s != "paused" for s in found.statuses())) \
                and time.monotonic() < deadline:
            found.poll()
            time.sleep(0.05)
        assert [i.steps_done for i in found.infos] == [3, 3]
        assert all(s == "paused" for s in found.statuses())
        found.resume()
        found.wait(timeout=60)
        assert found.statuses() == ["done", "done"]
        assert math.isfinite(found.records["BP"][-1]["test_loss"])
