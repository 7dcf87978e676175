"""The lesson presets: every run validates (offline and MNIST versions), shares the lesson's seed and
has a unique label; every published figure is one of REFERENCES.md (or explorer/references.py);
`compare` reads the right numbers off hand-made records; and every run of every lesson takes a
logged training step whose record `compare` can read."""

from __future__ import annotations

import math
import re

import pytest
import torch

from explorer.views import frames
from explorer.experiments import lessons
from explorer.config import AlgorithmConfig, ConfigError
from explorer.experiments.lessons import LESSONS, Lesson, Reference, compare, get, measure
from explorer.engine.trainer import Trainer, train
from tests.conftest import SHARED_DATA

REFERENCES_MD = SHARED_DATA.parent / "REFERENCES.md"
REFERENCES_PY = lessons.__file__.replace("lessons.py", "references.py")
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:e-?\d+)?")

torch.set_num_threads(1)


def test_every_lesson_validates_with_one_seed_and_one_config_per_label():
    for key, lesson in LESSONS.items():
        configs, labels = lesson.configs(), lesson.labels()
        assert len(configs) == len(labels) == len(lesson.rules), key
        assert len({c.seed for c in configs}) == 1, key
        assert len(set(labels)) == len(labels), (key, labels)
        for cfg, rule in zip(configs, lesson.rules):
            assert cfg.algorithm == AlgorithmConfig.from_dict(rule), (key, rule)
        assert lesson.page in ("train", "parity") and re.fullmatch(r"[a-z0-9_]+", key)
        assert lesson.title and 2 <= lesson.text.count(". ") + 1 <= 7, key


def test_mnist_versions_read_mnist_from_the_given_folder():
    with_mnist = [lesson for lesson in LESSONS.values() if lesson.mnist is not None]
    assert {"lillicrap_mnist", "parity_k1", "parity_k3", "biotorch_lenet"} <= {lesson.key for lesson in with_mnist}
    for lesson in with_mnist:
        configs = lesson.configs("mnist", root="/data/here")
        assert len({c.seed for c in configs}) == 1
        for cfg in configs:
            uses_mnist = cfg.data.name == "mnist" or cfg.data.get("base") == "mnist"
            assert uses_mnist and cfg.data.get("root") == "/data/here", lesson.key
    # LeNet does not fit the 8×8 digits, so only the MNIST version is LeNet itself.
    assert {c.model.name for c in get("biotorch_lenet").configs("mnist")} == {"lenet5"}
    with pytest.raises(ValueError, match="no MNIST version"):
        get("resnet_sign").configs("mnist")
    with pytest.raises(ValueError, match="digits, mnist"):
        get("lillicrap_mnist").configs("cifar10")


def test_overrides_reach_every_run_and_bad_values_name_lesson_run_and_field():
    configs = get("biotorch_lenet").configs(overrides={"train.epochs": 2, "device": "cpu"})
    assert {(c.train.epochs, c.device) for c in configs} == {(2, "cpu")}
    with pytest.raises(ConfigError, match=r"lesson 'biotorch_lenet', run 'BP': optimizer\.lr") as caught:
        get("biotorch_lenet").configs(overrides={"optimizer.lr": -1})
    assert caught.value.field == "optimizer.lr"     # a front end places it by its field
    # Per-run changes: only the Batch Manhattan runs step by the sign of the gradient.
    lesson = get("sign_manhattan")
    bm = {label: cfg.optimizer.batch_manhattan for label, cfg in zip(lesson.labels(), lesson.configs())}
    assert bm == {"BP": False, "FA": False, "FA, signs every epoch": False, "FA, signs every epoch + BM": True,
                  "uSF": False, "uSF + BM": True}


def test_get_with_a_bad_key_names_the_valid_keys():
    with pytest.raises(KeyError) as info:
        get("lilicrap")
    message = str(info.value)
    assert "lilicrap" in message
    assert all(key in message for key in LESSONS)
    assert list(LESSONS)[:2] == ["lillicrap_linear", "lillicrap_mnist"]  # ordered as written


def test_a_lesson_refuses_references_that_do_not_fit_its_runs():
    base, rules = {"model": {"hidden": [8]}}, ({"name": "bp"}, {"name": "dfa"})
    ref = Reference("DFA", 1.61, "test_error", "%", "BioTorch", "LeNet")
    assert Lesson("ok", "t", "x.", "train", base, rules, (ref,)).labels() == ["BP", "DFA"]
    with pytest.raises(ValueError, match="none of the runs: BP, DFA"):
        Lesson("bad", "t", "x.", "train", base, rules, (Reference("FA", 1.7, "test_error", "%", "s", "s"),))
    with pytest.raises(ValueError, match="measured in '%'"):
        Lesson("bad", "t", "x.", "train", base, rules, (Reference("DFA", 98.4, "test_acc", "", "s", "s"),))
    with pytest.raises(ValueError, match="labels must be unique"):
        Lesson("bad", "t", "x.", "train", base, ({"name": "bp"}, {"name": "bp"}), ())
    with pytest.raises(ValueError, match="page"):
        Lesson("bad", "t", "x.", "slides", base, rules, ())


def _published_numbers() -> set[float]:
    """Every number written in REFERENCES.md, and those of references.py (fractions) as percentages."""
    numbers = {float(n) for n in NUMBER.findall(REFERENCES_MD.read_text(encoding="utf-8"))}
    with open(REFERENCES_PY, encoding="utf-8") as f:
        for n in NUMBER.findall(f.read()):
            numbers |= {float(n), round(100 * float(n), 6)}
    return numbers


@pytest.mark.skipif(not REFERENCES_MD.exists(), reason=f"{REFERENCES_MD} not found")
def test_every_reference_is_a_published_figure():
    numbers = _published_numbers()
    text = REFERENCES_MD.read_text(encoding="utf-8")
    assert 7.2 in numbers and 45.94 in numbers and 1e-11 in numbers and 98.5 in numbers
    assert 7.3 not in numbers  # the check can fail
    refs = [(lesson.key, ref) for lesson in LESSONS.values() for ref in lesson.references]
    assert len(refs) >= 30
    for key, ref in refs:
        assert any(math.isclose(ref.value, n, rel_tol=1e-9) for n in numbers), (key, ref)
        author = re.split(r"[ ,(]", ref.source)[0]
        assert author in text, (key, ref.source)
        assert ref.setting, (key, ref)


def test_parity_lessons_take_their_figures_from_explorer_references():
    from explorer.experiments.references import PARITY

    for k in (1, 3):
        refs = {ref.label: ref.value for ref in get(f"parity_k{k}").references}
        assert refs["BP"] == pytest.approx(100 * PARITY[(k, "bp")])
        assert refs["NTK"] == pytest.approx(100 * PARITY[(k, "ntk")])
        assert refs["RF gaussian"] == pytest.approx(100 * PARITY[(k, "rf:gaussian")])
    assert get("parity_k3").references[1].label == "DFA" and "DFA" not in {r.label for r in get("parity_k1").references}


def test_measure_derives_errors_times_and_angles():
    layers = [{"update_deg": 80.0, "signal_deg": 70.0}, {"update_deg": math.nan, "signal_deg": 50.0},
              {"update_deg": 20.0, "signal_deg": 30.0}]
    record = {"step": 400, "time": 2.0, "test_acc": 0.9, "train_acc": 0.96, "test_loss": 0.25, "layers": layers}
    assert measure(record, "test_error") == pytest.approx(10.0)
    assert measure(record, "train_error") == pytest.approx(4.0)
    assert measure(record, "test_acc") == pytest.approx(90.0)
    assert measure(record, "step_ms") == pytest.approx(5.0)
    assert measure(record, "nse") == pytest.approx(0.025)
    assert measure(record, "test_loss") == 0.25
    assert measure(record, "update_deg") == 80.0           # the first hidden layer
    assert measure(record, "update_deg_mean") == 50.0      # over the layers where it is defined
    assert measure(record, "update_deg_last") == 20.0
    assert measure(record, "signal_deg_mean") == pytest.approx(50.0)
    assert math.isnan(measure({}, "test_error")) and math.isnan(measure({"step": 0, "time": 1.0}, "step_ms"))
    assert math.isnan(measure({"layers": []}, "update_deg"))


def test_compare_puts_measured_beside_published():
    lesson = get("lillicrap_mnist")
    finals = {"BP": {"test_acc": 0.975, "layers": [{"update_deg": 0.0}]},
              "FA": {"test_acc": 0.96, "layers": [{"update_deg": 33.0}]}}   # Shallow: not finished
    table = compare(lesson, finals)
    assert list(table.columns) == ["label", "metric", "measured", "published", "unit", "source"]
    assert len(table) == 3 * 2
    err = table[table.metric == "test_error"].set_index("label")
    assert err.loc["BP", "measured"] == pytest.approx(2.5) and err.loc["BP", "published"] == 2.4
    assert err.loc["FA", "measured"] == pytest.approx(4.0) and err.loc["FA", "published"] == 2.1
    assert math.isnan(err.loc["Shallow", "measured"]) and err.loc["Shallow", "published"] == 7.2
    assert set(err["unit"]) == {"%"} and err.loc["BP", "source"].startswith("Lillicrap")
    angle = table[table.metric == "update_deg"].set_index("label")
    assert angle.loc["FA", "measured"] == 33.0 and math.isnan(angle.loc["FA", "published"])
    assert angle.loc["FA", "unit"] == "°" and angle.loc["FA", "source"] == ""
    with pytest.raises(ValueError, match="its runs: BP, FA, Shallow"):
        compare(lesson, {"DFA": {}})


def test_compare_times_steps_relative_to_the_first_run():
    lesson = get("step_cost")
    finals = {label: {"step": 64, "time": 0.064 * (1 + i / 10)} for i, label in enumerate(lesson.labels())}
    table = compare(lesson, finals).set_index(["label", "metric"])["measured"]
    assert table[("BP", "step_ms")] == pytest.approx(1000 * 0.064 / 64)
    assert table[("DFA", "step_ms")] == pytest.approx(1.2)
    assert table[("BP", "step_ratio")] == pytest.approx(1.0)
    assert table[("DFA", "step_ratio")] == pytest.approx(1.2)
    assert table[("brSF", "step_ratio")] == pytest.approx(2.0)


def test_compare_reads_the_linear_teacher_and_its_alignment():
    lesson = get("lillicrap_linear")
    fa = "FA, B ~ U[-0.5, 0.5]"
    finals = {"BP": {"test_loss": 1e-12, "layers": [{"signal_deg": 0.0}]},
              fa: {"test_loss": 3e-12, "layers": [{"signal_deg": 25.0}]},
              "Shallow": {"test_loss": 9.5, "layers": [{"signal_deg": math.nan}]}}
    table = compare(lesson, finals).set_index(["label", "metric"])
    assert table.loc[(fa, "nse"), "measured"] == pytest.approx(3e-13)
    assert table.loc[("Shallow", "nse"), "measured"] == pytest.approx(0.95)
    assert table.loc[(fa, "signal_deg"), "published"] == 22
    assert table.loc[(fa, "signal_deg"), "measured"] == 25.0


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


# DFA's weight-alignment target multiplies conv kernels as if they were matrices
# (explorer/algorithms/dfa.py, weight_alignment_target), so DFA on LeNet and ResNets fails at its
# first logged step. Remove this mark when that is fixed.
def _every_run():
    for lesson in LESSONS.values():
        for label in lesson.labels():
            yield pytest.param(lesson.key, label, id=f"{lesson.key}-{label}")


@pytest.mark.parametrize("key,label", list(_every_run()))
def test_every_run_of_every_lesson_takes_a_logged_step(key, label):
    lesson = get(key)
    cfg = lesson.configs(overrides={"device": "cpu", "train.log_every": 1})[lesson.labels().index(label)]
    trainer = Trainer(cfg)
    trainer.step()
    record = trainer.history[-1]
    table = compare(lesson, {label: record})
    mine = table[table.label == label]
    assert len(mine) == len(lesson.shown_metrics())
    assert record["step"] == 1 and len(record["layers"]) >= 1
    if "test_acc" in lesson.shown_metrics():
        assert 0 <= mine[mine.metric == "test_acc"]["measured"].item() <= 100


@pytest.mark.parametrize("key", list(LESSONS))
def test_a_lesson_names_each_run_as_every_page_does(key):
    """One label per run: the lesson's legend and the label a page gives the stored run (its
    messages, the Runs page) are the same words ("sDFA 1 connection", "IFA, B ~ U[-0.1, 0.1]")."""
    lesson = get(key)
    assert lesson.labels() == [frames.run_label(cfg) for cfg in lesson.configs()]
