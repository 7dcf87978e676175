"""`ParityWidget`, headless: it runs the Parity page's setup (`ParitySetup`) and shows the page's
final table; refused values are shown beside their control and start nothing."""

from __future__ import annotations

import pytest

from explorer.experiments.parity import ParitySetup
from explorer.experiments.references import PARITY
from explorer.runs.workspace import Workspace
from explorer.widgets.parity import ParityWidget, default_config


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    path = tmp_path_factory.mktemp("parity-widget") / "runs.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXPLORER_STORE", str(path))  # run ids given as text are looked up here
        with Workspace(path) as workspace:
            yield workspace


def chart_rows(view) -> int:
    return sum(len(rows) for rows in view.spec.get("datasets", {}).values())


def test_parity_widget_runs_rules_over_seeds_and_shows_the_pages_final_table(ws):
    cfg = default_config().with_values({"data.train_samples": 200, "train.epochs": 2, "model.hidden": [16],
                                        "device": "cpu"})
    w = ParityWidget(cfg, rules=["bp", "ntk"], seeds=2, workspace=ws, interval=0.05)
    assert w.config == cfg and len(w.configs) == 4
    w.play.click()
    w.wait(timeout=120)
    assert w.status == "done" and w.progress == 1.0
    assert sorted(w.final) == ["BP", "NTK"]
    assert w.final["BP"]["published"] == PARITY[(3, "bp")] and w.final["NTK"]["published"] == PARITY[(3, "ntk")]
    assert w.final["BP"]["n"] == 2 and w.final["BP"]["epoch"] == 2.0
    assert 0.0 <= w.final["BP"]["low"] <= w.final["BP"]["mean"] <= w.final["BP"]["high"] <= 1.0
    assert chart_rows(w.chart) > 0
    # The table the Parity page shows, with the same columns, accuracies in %.
    shown = w.summary(readable=True)
    assert list(shown.columns) == ["series", "optimiser", "lr", "epoch", "test accuracy", "± 95% CI",
                                   "seeds", "published", "difference (points)"]
    bp = shown.set_index("series").loc["BP"]
    assert bp["published"] == "≈80.0%" and bp["seeds"] == 2
    assert bp["test accuracy"] == f"{100 * w.final['BP']['mean']:.1f}%"
    assert "<th>± 95% CI</th>" in w.table.value and "<td>≈80.0%</td>" in w.table.value and "<td>≈50.0%</td>" in w.table.value
    again = ParityWidget(run=[v.id for v in w.runs.views])  # the same runs, read back from the store
    assert again.final == w.final and again.configs == w.configs and list(again.rules.value) == ["bp", "ntk"]
    assert again.setup == w.setup


def test_parity_widget_refuses_bad_values_next_to_the_control(ws):
    w = ParityWidget(workspace=ws)
    w.k.value = 0
    w.lr.value = -1.0
    assert w.start() is None
    assert w.errors["data"].value.count("k: between 1 and 10") == 1
    assert "learning rate (sgd): must be greater than 0" in w.errors["optimizer"].value
    assert w.errors["rules"].value == "" and w.status == "ready" and w.runs is None


def test_parity_widget_holds_a_setup_the_notebook_gives_and_one_seed_starts():
    setup = ParitySetup(k=1, rules=("bp", "rf:linear"), optimizers={"adadelta": 1.0}, seeds=1, hidden=32,
                        train_samples=300, test_samples=None)
    w = ParityWidget(setup)
    assert w.setup == setup and w.configs == setup.configs() and w.seeds.value == 1
    assert w.setup.problems() == {}
    assert w.published() == {"BP": PARITY[(1, "bp")], "RF linear": PARITY[(1, "rf:linear")]}
    mnist = ParityWidget(ParitySetup(base="mnist", root="/nonexistent"))
    assert mnist.setup.problems()["root"].startswith("data folder: MNIST is not in /nonexistent")
    mnist.base.value = "digits"   # the folder means nothing for the built-in digits
    assert mnist.setup.root == "" and mnist.setup.problems() == {}
