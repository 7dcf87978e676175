"""The thesis's ResNet tables 3.7-3.25 in the catalogue (`di_pasquale_resnet`): the published values
and the iterations against the rows typed here from the thesis's text, every entry validated at the
three scales, and every entry trained at smoke scale on a small CIFAR-10 folder in the real format."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from explorer.engine.trainer import train
from explorer.experiments.catalogue import CATALOGUE, di_pasquale_resnet

# The tables as printed in 000_f576d27fd47a6f1f.txt, sections 3.5.4-3.6.10: (epochs, lr, test accuracy
# in %, None for "No improve") per "Iteration" row.
ROWS = {
    "dipasquale-t3.7": [(200, 0.001, 91.56), (200, 0.0001, 92.58)],
    "dipasquale-t3.8": [(150, 0.1, 50.64), (150, 0.05, 53.99), (200, 0.01, 60.09), (200, 0.005, 64.04),
                        (200, 0.001, 64.74)],
    "dipasquale-t3.9": [(150, 0.1, 49.60), (175, 0.05, 52.61)],
    "dipasquale-t3.10": [(150, 0.1, 10.0)],  # epochs "none" in the thesis; 150 assumed (see the entry's notes)
    "dipasquale-t3.11": [(5, 0.1, 10.0)],
    "dipasquale-t3.12": [(22, 0.1, 10.0)],
    "dipasquale-t3.13": [(200, 0.1, 51.57), (200, 0.05, 54.32), (200, 0.01, 60.37), (200, 0.005, 62.48),
                         (200, 0.001, 66.83)],
    "dipasquale-t3.14": [(200, 0.001, 68.26), (200, 0.0001, None)],
    "dipasquale-t3.15": [(200, 0.00001, 72.16), (200, 0.000001, None)],
    "dipasquale-t3.16": [(200, 0.0001, 45.86), (200, 0.00005, None)],
    "dipasquale-t3.17": [(215, 0.0001, 46.84)],
    "dipasquale-t3.18": [(133, 0.0001, 39.66)],
    "dipasquale-t3.19": [(200, 0.00001, 85.12), (100, 0.000001, 86.86)],
    "dipasquale-t3.20": [(150, 0.00001, 83.58), (96, 0.000001, 86.14)],
    "dipasquale-t3.21": [(200, 0.001, 85.43), (200, 0.0001, 87.05)],
    "dipasquale-t3.22": [(200, 0.00001, 84.97), (130, 0.000001, 87.14)],
    "dipasquale-t3.23": [(150, 0.00001, 88.96), (200, 0.000001, 90.25)],
    "dipasquale-t3.24": [(150, 0.00001, 78.25), (200, 0.000001, 80.51)],
    "dipasquale-t3.25": [(200, 0.001, 88.18), (200, 0.0001, 90.03), (200, 0.00001, 90.05)],
}
# Numbers the text gives beside a table: (id, epoch) -> test accuracy (3.5.7: "32% in epoch 2").
TEXT = {("dipasquale-t3.12", 2): 32.0}

# What each table trains (sections 3.5-3.6): rule, feedback initialiser, sign refresh, uSF scale, Batch
# Manhattan, network, forward initialiser.
RULES = {
    "dipasquale-t3.7": ("bp", None, None, None, False, "resnet18", "default"),
    "dipasquale-t3.8": ("fa", None, None, None, False, "resnet18", "default"),
    "dipasquale-t3.9": ("fa", "fan_out", None, None, False, "resnet18", "default"),
    "dipasquale-t3.10": ("fa", "lillicrap", None, None, False, "resnet18", "uniform"),
    "dipasquale-t3.11": ("dfa", (-0.001, 0.001), None, None, False, "resnet18", "default"),
    "dipasquale-t3.12": ("dfa", (-0.0001, 0.0001), None, None, False, "resnet18", "default"),
    "dipasquale-t3.13": ("fa", "sign_concordant", None, None, False, "resnet18", "default"),
    "dipasquale-t3.14": ("fa", "sign_concordant", None, None, False, "resnet18", "default"),
    "dipasquale-t3.15": ("fa", "sign_concordant", None, None, True, "resnet18", "default"),
    "dipasquale-t3.16": ("dfa", (0.0, 1e-7), None, None, True, "resnet18", "default"),
    "dipasquale-t3.17": ("dfa", (0.0, 0.0001), None, None, True, "resnet18", "default"),
    "dipasquale-t3.18": ("dfa", "thesis_stdv", None, None, True, "resnet18", "default"),
    "dipasquale-t3.19": ("fa", None, "epoch", None, True, "resnet18", "default"),
    "dipasquale-t3.20": ("brsf", None, None, None, True, "resnet18", "default"),
    "dipasquale-t3.21": ("fa", None, "epoch", None, False, "resnet18", "default"),
    "dipasquale-t3.22": ("fa", None, "epoch", None, True, "resnet34", "default"),
    "dipasquale-t3.23": ("usf", None, None, None, True, "resnet18", "default"),
    "dipasquale-t3.24": ("usf", None, None, 0.001, True, "resnet18", "default"),
    "dipasquale-t3.25": ("usf", None, None, None, False, "resnet18", "default"),
}

ENTRIES = di_pasquale_resnet.ENTRIES


def typed_published() -> dict:
    out = {}
    for entry_id, rows in ROWS.items():
        end = 0
        for epochs, _, value in rows:
            end += epochs
            if value is not None:
                out[(entry_id, "test_acc", end)] = value
    for (entry_id, epoch), value in TEXT.items():
        out[(entry_id, "test_acc", epoch)] = value
    return out


def test_the_published_values_are_the_thesis_s_nothing_missing_nothing_extra():
    catalogue = {}
    for entry in ENTRIES:
        assert len(entry.runs) == 1  # one configuration per table, its iterations one run
        for p in entry.published:
            assert p.run == entry.runs[0].label and not p.approx
            key = (entry.id, p.metric, p.at)
            assert key not in catalogue
            catalogue[key] = p.value
    assert catalogue == typed_published()
    assert [e.id for e in ENTRIES] == list(ROWS)
    assert all(e.id in CATALOGUE and e.source == "000_f576d27fd47a6f1f.txt" for e in ENTRIES)
    assert [e.ref for e in ENTRIES] == [f"Table 3.{n}" for n in range(7, 26)]


def test_each_iteration_restarts_from_the_best_weights_at_the_table_s_rate():
    for entry in ENTRIES:
        rows = ROWS[entry.id]
        (_, cfg), = entry.configs("full")
        assert cfg.train.epochs == sum(epochs for epochs, _, _ in rows)
        assert cfg.optimizer.lr == rows[0][1]
        schedule = entry.setting["optimizer"].get("schedule")
        if len(rows) == 1:
            assert schedule is None
            continue
        ends = np.cumsum([epochs for epochs, _, _ in rows])[:-1].tolist()
        assert schedule == {"name": "restarts", "milestones": ends, "lrs": [lr for _, lr, _ in rows[1:]],
                            "from": "best"}


def test_the_shared_setting_is_kuangliu_s_cifar_code():
    for entry in ENTRIES:
        (_, cfg), = entry.configs("full")
        assert (cfg.data.name, cfg.optimizer.name, cfg.optimizer.momentum, cfg.optimizer.weight_decay) == \
            ("cifar10", "sgd", 0.9, 5e-4)
        assert (cfg.train.batch_size, cfg.train.loss) == (128, "cross_entropy")
        assert (cfg.train.augment.crop_padding, cfg.train.augment.flip) == (4, True)
        assert "train_samples" not in cfg.data.options and "resize" not in cfg.data.options


@pytest.mark.parametrize("entry_id", list(RULES))
def test_each_table_trains_its_rule(entry_id):
    rule, feedback, refresh, scale, manhattan, model, init = RULES[entry_id]
    (_, cfg), = CATALOGUE[entry_id].configs("full")
    a = cfg.algorithm
    assert (a.name, a.sign_refresh, a.scale, cfg.optimizer.batch_manhattan, cfg.model.name, cfg.init.name) == \
        (rule, refresh, scale, manhattan, model, init)
    if isinstance(feedback, tuple):
        assert (a.feedback_init.name, a.feedback_init.low, a.feedback_init.high) == ("uniform", *feedback)
    elif feedback is None:
        assert a.feedback_init is None
    else:
        assert a.feedback_init.name == feedback
    if entry_id == "dipasquale-t3.10":  # Lillicrap: forward U(±0.0001), feedback U(±0.5)
        assert (cfg.init.low, cfg.init.high) == (-0.0001, 0.0001)


@pytest.mark.parametrize("scale", ["full", "classroom", "smoke"])
def test_every_entry_validates_at_every_scale(scale, tmp_path):
    for entry in ENTRIES:
        (label, cfg), = entry.configs(scale, root=str(tmp_path), seed=1)
        assert label == entry.runs[0].label and cfg.data.get("root") == str(tmp_path) and cfg.seed == 1
        assert cfg.data.name == "cifar10" and cfg.model.name in ("resnet18", "resnet34")


def test_the_smaller_scales_keep_the_rates_and_the_restarts():
    for entry in ENTRIES:
        rows = ROWS[entry.id]
        (_, classroom), = entry.configs("classroom")
        assert classroom.train.epochs == 2 * len(rows) and classroom.optimizer.lr == rows[0][1]
        assert classroom.data.get("train_samples") == 5_000 and classroom.data.get("resize") == (16, 16)
        (_, smoke), = entry.configs("smoke")
        assert smoke.train.epochs == min(2, len(rows)) and smoke.data.get("train_samples") == 16
        if len(rows) > 1:
            assert classroom.optimizer.schedule.milestones == tuple(range(2, 2 * len(rows), 2))
            assert list(classroom.optimizer.schedule.lrs) == [lr for _, lr, _ in rows[1:]]
            assert smoke.optimizer.schedule.milestones == (1,)


def write_cifar_batch(path, images: np.ndarray, labels: list[int]) -> None:
    """A batch pickled as CIFAR-10's are (protocol 2; rows of 3072 bytes: red, green, blue planes)."""
    path.write_bytes(pickle.dumps({"batch_label": "fake", "labels": labels, "data": images.reshape(len(images), -1),
                                   "filenames": [f"{i}.png" for i in range(len(labels))]}, protocol=2))


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    """cifar-10-batches-py with 5 × 8 training and 16 test images of random pixels."""
    root = tmp_path_factory.mktemp("cifar")
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, n in [*((f"data_batch_{b}", 8) for b in range(1, 6)), ("test_batch", 16)]:
        write_cifar_batch(folder / name, rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8),
                          rng.integers(0, 10, n).tolist())
    return root


@pytest.mark.parametrize("entry_id", list(ROWS))
def test_every_entry_trains_at_smoke_scale(entry_id, cifar_root):
    entry = CATALOGUE[entry_id]
    (_, cfg), = entry.configs("smoke", root=str(cifar_root), device="cpu")
    result = train(cfg)
    assert result.status in ("done", "diverged")
    epochs = [r for r in result.history if float(r["epoch"]).is_integer()]
    if result.status == "done":
        assert [r["epoch"] for r in epochs] == [float(e) for e in range(1, cfg.train.epochs + 1)]
        assert all(math.isfinite(r["test_acc"]) and math.isfinite(r["train_loss"]) for r in epochs)
    if len(ROWS[entry_id]) > 1 and result.status == "done":  # the second epoch ran at the second row's rate
        assert epochs[-1]["lr"] == pytest.approx(ROWS[entry_id][1][1])
