"""One parity setup behind three front ends: the ``parity`` command, the Parity page and
`ParityWidget` submit the same run configs for the same choices, and the final table they show is
the mean, standard deviation and 95% interval across seeds of the runs' own records."""

from __future__ import annotations

import json
import math
import statistics

import pytest
from scipy import stats

from apptest_tools import app_on, button, run_until, set_widget
from explorer import cli
from explorer.config import RunConfig
from explorer.experiments.parity_table import Series, final_table
from explorer.experiments.references import PARITY
from explorer.runs.store import FINAL, Store
from explorer.runs.sweep import METRICS
from explorer.runs.workspace import Workspace
from explorer.widgets.parity import ParityWidget

# One setup, as each front end is given it. The command line has no hidden-units flag (it trains
# the published 512), so the page and the widget are set to 512 too.
K, RULES, LR, SEEDS, EPOCHS, TRAIN, TEST, HIDDEN, BATCH = 2, ["bp", "rf:linear"], 0.3, 2, 1, 64, 32, 512, 16
COMMAND = ["parity", "--k", str(K), "--base", "digits", "--rules", ",".join(RULES), "--lr", str(LR),
           "--seeds", str(SEEDS), "--epochs", str(EPOCHS), "--train-samples", str(TRAIN), "--test-samples", str(TEST),
           "--batch-size", str(BATCH), "--device", "cpu"]
PAGE = {"par_k": K, "par_seeds": SEEDS, "par_epochs": EPOCHS, "par_train": TRAIN, "par_test": TEST,
        "par_hidden": HIDDEN, "par_batch": BATCH, "par_lr_sgd": LR, "par_rules": RULES, "par_device": "cpu"}
LABELS = {"bp": "BP", "rf:linear": "RF linear"}


def _same(configs) -> list[dict]:
    """Config dicts in one order (rule, then seed), each read back as a `RunConfig` would have it."""
    dicts = [RunConfig.from_dict(c if isinstance(c, dict) else c.to_dict()).to_dict() for c in configs]
    return sorted(dicts, key=lambda d: (json.dumps(d["algorithm"], sort_keys=True), d["seed"]))


def _command_line_configs(monkeypatch, capsys, tmp_path, command=COMMAND) -> tuple[list[RunConfig], str]:
    """What ``python -m explorer parity …`` trains: every config that reaches the trainer (recorded,
    not trained: each run returns one epoch's record); and what it printed."""
    import explorer.runs.tasks as tasks_module

    trained = []

    def train_task(runs, sink, **_):
        """Each run one epoch's record, told to the sweep's sink as a trained run would be."""
        ends = []
        for run, cfg in runs:
            trained.append(cfg)
            sink.send(tasks_module.Records(run, [{"epoch": 1.0, "step": 4, **{m: 0.5 for m in METRICS}}], [0.0], 4))
            ends.append(tasks_module.Ended(run, "done", 4))
        return ends

    monkeypatch.setattr(tasks_module, "train_task", train_task)
    assert cli.main([*command, "--out", str(tmp_path / "parity.csv")]) == 0
    out = capsys.readouterr().out
    assert "bp" in out
    return trained, out


def _by_hand(accs: list[float]) -> tuple[float, float, float]:
    """Mean, standard deviation and 95% half-width (Student's t) of one epoch's accuracies."""
    n = len(accs)
    mean = sum(accs) / n
    sd = math.sqrt(sum((a - mean) ** 2 for a in accs) / (n - 1))
    return mean, sd, stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)


def _last_accuracies(store: Store, infos) -> dict[str, list[float]]:
    """Rule key -> each run's test accuracy at its last epoch, read from the store."""
    out: dict[str, list[float]] = {}
    for info in infos:
        algorithm = info.config["algorithm"]
        rule = f"rf:{algorithm['variant']}" if algorithm["name"] == "rf" else algorithm["name"]
        last = [r for r in store.metrics(info.id) if float(r["epoch"]).is_integer()][-1]
        assert last["epoch"] == EPOCHS
        out.setdefault(rule, []).append(last["test_acc"])
    return out


def test_the_command_line_says_when_the_published_values_are_not_of_the_base_it_ran_on(monkeypatch, capsys, tmp_path):
    # k = 3 has published values (the thesis's, on MNIST parity); k = 2 has none to set beside
    at_3 = [*COMMAND[:1], "--k", "3", *COMMAND[3:]]
    note = "the published values were measured on MNIST parity, not on digits"
    assert note in _command_line_configs(monkeypatch, capsys, tmp_path, at_3)[1]
    assert note not in _command_line_configs(monkeypatch, capsys, tmp_path)[1]


def test_the_command_line_the_page_and_the_widget_submit_the_same_configs_and_tables(
        monkeypatch, capsys, tmp_path, store_path):
    command, _ = _command_line_configs(monkeypatch, capsys, tmp_path)
    monkeypatch.undo()
    monkeypatch.setenv("EXPLORER_STORE", str(store_path))  # undone above with the trainer patches

    # The page: its controls, then Run; what it submitted is what the store holds.
    at = app_on("pages/parity.py")
    for key, value in PAGE.items():
        set_widget(at, key, value)
        at.run()
    assert not at.warning, [w.value for w in at.warning]
    button(at, "Run experiment").click()
    at.run()
    run_until(at, lambda at: len(Store(store_path).list_runs()) == 4
              and all(r.status in FINAL for r in Store(store_path).list_runs()), timeout=120)
    at.run()
    with Store(store_path) as store:
        page_infos = store.list_runs()
        page_accs = _last_accuracies(store, page_infos)

    # The widget: started from a config (the settings it has no control for), then its controls.
    with Workspace(tmp_path / "widget.sqlite") as ws:
        w = ParityWidget({"data": {"name": "parity", "base": "digits", "train_samples": TRAIN, "test_samples": TEST},
                          "train": {"batch_size": BATCH}, "optimizer": {"momentum": 0.0, "weight_decay": 1e-3},
                          "device": "cpu"}, workspace=ws, interval=0.05)
        w.k.value, w.rules.value, w.optimizer.value, w.lr.value = K, RULES, "sgd", LR
        w.hidden.value, w.epochs.value, w.seeds.value = HIDDEN, EPOCHS, SEEDS
        w.play.click()
        w.wait(timeout=120)
        widget_infos = ws.store.list_runs()
        widget_accs = _last_accuracies(ws.store, widget_infos)
        summary = w.summary()

    configs = _same(command)
    assert len(configs) == 4 and configs == _same(i.config for i in page_infos) == _same(i.config for i in widget_infos)
    first = configs[0]   # the choices made above, so a front end that dropped one would differ here
    assert first["data"] == {"name": "parity", "base": "digits", "k": K, "train_samples": TRAIN, "test_samples": TEST}
    assert first["model"]["hidden"] == [HIDDEN] and first["optimizer"]["lr"] == LR and first["train"]["loss"] == "bce"
    assert first["optimizer"]["momentum"] == 0.0 and first["optimizer"]["weight_decay"] == 1e-3
    assert sorted(c["seed"] for c in configs) == [0, 0, 1, 1] and {c["device"] for c in configs} == {"cpu"}

    # Each final table against the runs' own last records, by hand.
    shown = at.dataframe[0].value.set_index("series")
    for rule in RULES:
        mean, sd, half = _by_hand(page_accs[rule])
        row = shown.loc[LABELS[rule]]
        assert row["test accuracy"] == f"{100 * mean:.1f}%" and row["± 95% CI"] == f"{100 * half:.1f}%"
        assert row["seeds"] == SEEDS and row["published"] == "–"   # the literature has no k = 2
        mean, sd, half = _by_hand(widget_accs[rule])
        mine = summary.set_index("series").loc[LABELS[rule]]
        assert mine["rule"] == rule and mine["n"] == SEEDS and mine["epoch"] == EPOCHS
        assert mine["mean"] == pytest.approx(mean) and mine["std"] == pytest.approx(sd)
        assert mine["ci95"] == pytest.approx(half) and math.isnan(mine["published"])
        assert w.final[LABELS[rule]]["mean"] == pytest.approx(mean)


def test_the_final_table_is_taken_at_the_last_epoch_over_the_seeds_that_reached_it():
    bp, rf = Series("BP", "bp", "sgd", 0.5), Series("RF linear", "rf:linear", "sgd", 0.5)
    ahead = [{"epoch": 1.0, "test_acc": 0.6}, {"epoch": 1.5, "test_acc": 0.1}, {"epoch": 2.0, "test_acc": 0.9}]
    behind = [{"epoch": 1.0, "test_acc": 0.7}]
    third = [{"epoch": 1.0, "test_acc": 0.2}, {"epoch": 2.0, "test_acc": 0.95}, {"epoch": 3.0, "test_acc": math.nan}]
    table = final_table(1, {bp: [ahead, behind, third], rf: [behind]}).set_index("series")
    # BP: epoch 2 (epoch 3 holds only a NaN, epoch 1.5 is not an epoch end), two seeds of three reached it.
    mean, sd, half = _by_hand([0.9, 0.95])
    assert table.loc["BP", "epoch"] == 2.0 and table.loc["BP", "n"] == 2
    assert table.loc["BP", "mean"] == pytest.approx(statistics.mean([0.9, 0.95]))
    assert table.loc["BP", "std"] == pytest.approx(statistics.stdev([0.9, 0.95])) == pytest.approx(sd)
    assert table.loc["BP", "ci95"] == pytest.approx(half)
    assert table.loc["BP", "low"] == pytest.approx(mean - half) and table.loc["BP", "high"] == 1.0   # clipped
    assert table.loc["BP", "published"] == PARITY[(1, "bp")]
    # One seed: its value, and no interval.
    assert table.loc["RF linear", "mean"] == 0.7 and table.loc["RF linear", "n"] == 1
    assert math.isnan(table.loc["RF linear", "ci95"]) and table.loc["RF linear", "published"] == PARITY[(1, "rf:linear")]
