"""The lesson presets as views of catalogue entries: every run validates (offline and on the entry's
own data), shares the lesson's seed and is one of the entry's runs; the published values shown ARE
the entry's, and equal the documents' (typed here from them); "≈" marks values read off a plot;
`compare` reads the right numbers off hand-made records; and every run of every lesson takes a
logged training step whose record `compare` can read."""

from __future__ import annotations

import math
import re

import pytest
import torch

from explorer.config import ConfigError
from explorer.engine.trainer import Trainer, train
from explorer.experiments import catalogue
from explorer.experiments.lessons import (
    LESSONS, OFFLINE, Lesson, compare, differ_in_rule_only, get, measure, shown,
)

torch.set_num_threads(1)

# Published values typed from the documents (not read from the catalogue): lesson -> {(run, metric): value}.
DOCUMENTS = {
    # Lillicrap et al. 2016, Fig. 2d (MNIST test error, %).
    "lillicrap_mnist": {("BP", "test_error"): 2.4, ("FA", "test_error"): 2.1, ("Shallow", "test_error"): 7.2},
    # BioTorch, LeNet on MNIST, top-1 test error (%).
    "biotorch_lenet": {("BP", "test_error"): 0.91, ("FA", "test_error"): 1.7, ("DFA", "test_error"): 1.61,
                       ("uSF", "test_error"): 0.94, ("brSF", "test_error"): 0.91, ("frSF", "test_error"): 0.97},
    # Espinosa Zarlenga & Niklasson, Table 1 (100 layers of 200 units); BP at chance (Section 6.2.1).
    "deep_dfa": {("BP", "test_acc"): 10.0, ("100 (DFA)", "test_acc"): 89.2, ("50", "test_acc"): 90.8,
                 ("25", "test_acc"): 93.2},
    # Di Pasquale, Table 3.28: ResNet-18 accuracies and cost units.
    "sign_manhattan": {("BP", "test_acc"): 92.58, ("FA", "test_acc"): 68.26, ("FAsign", "test_acc"): 87.05,
                       ("FAsign+Signgrad", "test_acc"): 86.86, ("Sign", "test_acc"): 90.05,
                       ("Sign+signgrad", "test_acc"): 90.25},
    "step_cost": {("BP", "thesis_cost"): 17, ("FA", "thesis_cost"): 12, ("DFA", "thesis_cost"): 10,
                  ("DFA+Signgrad", "thesis_cost"): 11, ("FAsign+Signgrad", "thesis_cost"): 22,
                  ("FArand+Signgrad", "thesis_cost"): 22, ("FAsign", "thesis_cost"): 21,
                  ("Sign+signgrad", "thesis_cost"): 22, ("Sign", "thesis_cost"): 21},
    # Di Pasquale, Table 3.1 (best test accuracy, %).
    "feedback_range": {("BP", "test_acc"): 55, ("DFA", "test_acc"): 49, ("FA", "test_acc"): 26,
                       ("IFA", "test_acc"): 24},
    # Shah, Table III (train and test accuracy, %).
    "sparse_dfa": {("BP", "train_acc"): 99.12, ("BP", "test_acc"): 73.53, ("DFA", "train_acc"): 99.38,
                   ("DFA", "test_acc"): 79.97, ("SSDFA", "train_acc"): 99.26, ("SSDFA", "test_acc"): 78.94},
    # Daniely & Malach via the parity thesis, Fig. 2.1 (test accuracy, %; read off plots).
    "parity_k1": {("k=1 BP (Adadelta)", "test_acc"): 98.5, ("k=1 NTK", "test_acc"): 98.0,
                  ("k=1 RF gaussian", "test_acc"): 92.0},
    "parity_k3": {("k=3 BP (Adadelta)", "test_acc"): 80.0, ("k=3 NTK", "test_acc"): 50.0,
                  ("k=3 RF gaussian", "test_acc"): 50.0},
}


@pytest.mark.parametrize("key", list(DOCUMENTS))
def test_compare_shows_the_documents_values(key):
    lesson = get(key)
    table = compare(lesson, {})
    published = {(row.label, row.metric): row.published for row in table.itertuples() if not math.isnan(row.published)}
    assert published == pytest.approx(DOCUMENTS[key])


def test_a_lessons_published_values_are_its_entrys_own_objects():
    for key, lesson in LESSONS.items():
        entries = [catalogue.get(e) for e in (lesson.entry, *lesson.also)]
        for p in lesson.published():
            assert any(any(p is q for q in e.published) for e in entries), (key, p)
        # Nothing of the entry's for the lesson's runs and metrics is left out.
        wanted = {(q.run, q.metric) for q in entries[0].published
                  if q.run in lesson.labels() and q.metric in lesson.metrics}
        assert wanted <= {(p.run, p.metric) for p in lesson.published()}, key


def test_values_read_off_a_plot_show_approx_and_the_others_do_not():
    parity = shown(compare(get("parity_k1"), {}))
    assert list(parity["published"]) == ["≈98.5%", "≈98%", "≈92%"]
    deep = shown(compare(get("deep_dfa"), {})).set_index(["label", "metric"])["published"]
    assert deep[("BP", "test accuracy")] == "≈10%" and deep[("25", "test accuracy")] == "93.2%"
    assert deep[("25", "update norm")] == "–"
    linear = shown(compare(get("lillicrap_linear"), {}))["published"]
    assert list(linear) == ["≈1e-11", "–", "≈1e-11", "–", "≈1", "–"]


def test_every_lesson_validates_offline_with_one_seed_and_the_entrys_runs():
    for key, lesson in LESSONS.items():
        entry = catalogue.get(lesson.entry)
        configs, labels = lesson.configs(), lesson.labels()
        assert len(configs) == len(labels) and set(labels) <= {r.label for r in entry.runs}, key
        assert len({c.seed for c in configs}) == 1, key
        assert {c.data.name for c in configs} <= {"digits", "teacher", "random", "parity"}, key
        assert all(c.data.get("base", "digits") == "digits" for c in configs), key
        # The offline run of a label is that run's rule: the entry's algorithm, maybe with fewer layers per block.
        classroom = dict(entry.configs("classroom"))
        for label, cfg in zip(labels, configs):
            assert cfg.algorithm.name == classroom[label].algorithm.name, (key, label)
        assert lesson.page in ("train", "parity") and lesson.title and 2 <= lesson.text.count(". ") + 1 <= 8, key
        # The text says which table or figure it is a view of.
        assert re.sub(r"\s*\(.*\)", "", entry.ref).lower() in lesson.text.lower(), key


def test_the_entrys_own_dataset_is_its_classroom_scale_read_from_the_given_folder():
    for key, lesson in LESSONS.items():
        configs = lesson.configs(lesson.dataset, root="/data/here")
        classroom = dict(catalogue.get(lesson.entry).configs("classroom", root="/data/here"))
        assert [c.to_dict() for c in configs] == [classroom[label].to_dict() for label in lesson.labels()], key
    cfgs = get("biotorch_lenet").configs("mnist", root="/data/here")
    assert {(c.model.name, c.data.name, c.data.get("root")) for c in cfgs} == {("lenet5", "mnist", "/data/here")}
    assert get("parity_k3").configs("mnist")[0].data.get("base") == "mnist"
    with pytest.raises(ValueError, match="digits, cifar10"):
        get("resnet_sign").configs("mnist")


def test_offline_changes_keep_the_runs_apart_where_they_differ():
    bm = {label: cfg.optimizer.batch_manhattan for label, cfg in
          zip(get("sign_manhattan").labels(), get("sign_manhattan").configs())}
    assert bm == {"BP": False, "FA": False, "FAsign": False, "FAsign+Signgrad": True, "Sign": False,
                  "Sign+signgrad": True}
    lrs = {cfg.optimizer.lr for cfg in get("sign_manhattan").configs()}
    assert lrs == {0.05, 3e-4}
    blocks = [cfg.algorithm.block_size for cfg in get("deep_dfa").configs()[1:]]
    assert blocks == [16, 8, 4] and len(get("deep_dfa").configs()[0].model.hidden) == 16
    assert differ_in_rule_only(get("sparse_dfa").configs()) and not differ_in_rule_only(get("step_cost").configs())


def test_overrides_reach_every_run_and_bad_values_name_lesson_run_and_field():
    configs = get("biotorch_lenet").configs(overrides={"train.epochs": 2, "device": "cpu"})
    assert {(c.train.epochs, c.device) for c in configs} == {(2, "cpu")}
    with pytest.raises(ConfigError, match=r"lesson 'biotorch_lenet', run 'BP': optimizer\.lr") as caught:
        get("biotorch_lenet").configs(overrides={"optimizer.lr": -1})
    assert caught.value.field == "optimizer.lr"     # a front end places it by its field
    bad = Lesson("bad", "t", "x. y.", "train", "lillicrap-linear", offline={"train.batch_size": 0})
    with pytest.raises(ConfigError, match="lesson 'bad', run 'BP'") as caught:
        bad.configs()
    assert caught.value.field == "train.batch_size"


def test_a_lesson_refuses_what_does_not_fit_its_entry():
    with pytest.raises(ValueError, match="none of the runs of lillicrap-linear: BP, FA, Shallow"):
        Lesson("bad", "t", "x.", "train", "lillicrap-linear", runs=("DFA",))
    with pytest.raises(ValueError, match="no catalogue entry 'nope'"):
        Lesson("bad", "t", "x.", "train", "nope")
    with pytest.raises(ValueError, match="unique"):
        Lesson("bad", "t", "x.", "train", "lillicrap-linear", runs=("BP", "BP"))
    with pytest.raises(ValueError, match="page"):
        Lesson("bad", "t", "x.", "slides", "lillicrap-linear")


def test_get_with_a_bad_key_names_the_valid_keys():
    with pytest.raises(KeyError) as info:
        get("lilicrap")
    message = str(info.value)
    assert "lilicrap" in message and all(key in message for key in LESSONS)
    assert list(LESSONS)[:2] == ["lillicrap_linear", "lillicrap_mnist"]  # ordered as written


def test_parity_lessons_and_the_parity_experiment_share_one_source():
    from explorer.experiments.references import PARITY, PARITY_APPROX

    for k in (1, 3):
        table = compare(get(f"parity_k{k}"), {}).set_index("label")["published"]
        assert table[f"k={k} BP (Adadelta)"] == pytest.approx(100 * PARITY[(k, "bp")])
        assert table[f"k={k} NTK"] == pytest.approx(100 * PARITY[(k, "ntk")])
        assert table[f"k={k} RF gaussian"] == pytest.approx(100 * PARITY[(k, "rf:gaussian")])
    assert {(1, "bp"), (1, "rf:linear")} <= PARITY_APPROX


def test_measure_derives_errors_times_and_angles():
    layers = [{"update_deg": 80.0, "signal_deg": 70.0}, {"update_deg": math.nan, "signal_deg": 50.0},
              {"update_deg": 20.0, "signal_deg": 30.0}]
    record = {"step": 400, "time": 2.0, "test_acc": 0.9, "train_acc": 0.96, "test_loss": 0.25, "layers": layers}
    assert measure(record, "test_error") == pytest.approx(10.0)
    assert measure(record, "train_error") == pytest.approx(4.0)
    assert measure(record, "step_ms") == pytest.approx(5.0)
    assert measure(record, "nse") == pytest.approx(0.025)
    assert measure(record, "update_deg") == 80.0 and measure(record, "update_deg_mean") == 50.0
    assert measure(record, "update_deg_last") == 20.0
    assert math.isnan(measure({}, "test_error")) and math.isnan(measure({"layers": []}, "update_deg"))


def test_compare_puts_measured_beside_published():
    lesson = get("lillicrap_mnist")
    finals = {"BP": {"test_acc": 0.975, "layers": [{"update_deg": 0.0}]},
              "FA": {"test_acc": 0.96, "layers": [{"update_deg": 33.0}]}}   # Shallow: not finished
    table = compare(lesson, finals)
    assert list(table.columns) == ["label", "metric", "measured", "published", "unit", "approx", "source"]
    assert len(table) == 3 * 2
    err = table[table.metric == "test_error"].set_index("label")
    assert err.loc["BP", "measured"] == pytest.approx(2.5) and err.loc["BP", "published"] == 2.4
    assert err.loc["FA", "measured"] == pytest.approx(4.0) and err.loc["FA", "published"] == 2.1
    assert math.isnan(err.loc["Shallow", "measured"]) and err.loc["Shallow", "published"] == 7.2
    assert set(err["unit"]) == {"%"} and err.loc["BP", "source"] == \
        "Lillicrap et al. 2016 (Nat. Commun. 7:13276), Fig. 2d (MNIST)"
    angle = table[table.metric == "update_deg"].set_index("label")
    assert angle.loc["FA", "measured"] == 33.0 and math.isnan(angle.loc["FA", "published"])
    assert angle.loc["FA", "unit"] == "°" and angle.loc["FA", "source"] == ""
    with pytest.raises(ValueError, match="its runs: BP, FA, Shallow"):
        compare(lesson, {"DFA": {}})
    # Where the document reads its value at the best epoch, the source says so.
    assert compare(get("feedback_range"), {})["source"].iloc[0] == \
        'Di Pasquale 2019, master\'s thesis (Politecnico di Torino), Table 3.1, best epoch'


def test_compare_times_steps_relative_to_the_first_run():
    lesson = get("step_cost")
    finals = {label: {"step": 64, "time": 0.064 * (1 + i / 10)} for i, label in enumerate(lesson.labels())}
    table = compare(lesson, finals).set_index(["label", "metric"])["measured"]
    assert table[("BP", "step_ms")] == pytest.approx(1000 * 0.064 / 64)
    assert table[("DFA", "step_ms")] == pytest.approx(1.2)
    assert table[("BP", "step_ratio")] == pytest.approx(1.0)
    assert table[("DFA", "step_ratio")] == pytest.approx(1.2)
    assert table[("Sign", "step_ratio")] == pytest.approx(1.8)


def test_a_short_lesson_run_gives_records_compare_can_read():
    lesson = get("lillicrap_mnist")
    configs = lesson.configs(overrides={"train.epochs": 1, "device": "cpu"})
    results = {label: train(cfg) for label, cfg in zip(lesson.labels(), configs)}
    table = compare(lesson, {label: r.final for label, r in results.items()}).set_index(["label", "metric"])
    for label, r in results.items():
        assert r.status == "done"
        assert table.loc[(label, "test_error"), "measured"] == pytest.approx(100 * (1 - r.final["test_acc"]))
        assert table.loc[(label, "test_error"), "measured"] < 50  # one epoch already learns the digits
    assert table.loc[("BP", "update_deg"), "measured"] == pytest.approx(0.0, abs=1e-3)
    assert 5 < table.loc[("FA", "update_deg"), "measured"] < 90
    assert math.isnan(table.loc[("Shallow", "update_deg"), "measured"])  # its hidden layer does not learn


def _every_run():
    for lesson in LESSONS.values():
        for label in lesson.labels():
            yield pytest.param(lesson.key, label, id=f"{lesson.key}-{label}")


@pytest.mark.parametrize("key,label", list(_every_run()))
def test_every_run_of_every_lesson_takes_a_logged_step(key, label):
    lesson = get(key)
    cfg = lesson.configs(OFFLINE, overrides={"device": "cpu", "train.log_every": 1})[lesson.labels().index(label)]
    trainer = Trainer(cfg)
    trainer.step()
    record = trainer.history[-1]
    table = compare(lesson, {label: record})
    mine = table[table.label == label]
    assert len(mine) == len(lesson.metrics)
    assert record["step"] == 1 and len(record["layers"]) >= 1
    if "test_acc" in lesson.metrics:
        assert 0 <= mine[mine.metric == "test_acc"]["measured"].item() <= 100
