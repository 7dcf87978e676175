"""Seeds trained together as one stacked network give the numbers of the same seeds run one by one."""

from __future__ import annotations

import math

import pytest
import torch

from explorer import ConfigError, RunConfig, train
from explorer.engine.build import build
from explorer.runs.sweep import sweep
from explorer.engine.seeds import SeedsTrainer, build_seeds, stackable
from explorer.models import MLP, GatedMLP, StackedGatedMLP, StackedMLP, stack_models
from tests.conftest import small_config

SEEDS = (0, 1, 2)


def configs(**sections):
    return [RunConfig.from_dict(small_config(**sections) | {"seed": s}) for s in SEEDS]


def assert_same_history(a, b, tol=1e-5):
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for ra, rb in zip(a, b):
        for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
            assert ra[key] == pytest.approx(rb[key], abs=tol), key
        for la, lb in zip(ra["layers"], rb["layers"]):
            for key in ("update_cos", "signal_cos", "weight_cos", "grad_norm", "feedback_norm"):
                if math.isnan(lb[key]):
                    assert math.isnan(la[key]), key
                else:
                    assert la[key] == pytest.approx(lb[key], abs=tol, rel=1e-4), key


@pytest.mark.parametrize("algorithm,activation", [
    ({"name": "bp"}, "tanh"), ({"name": "dfa"}, "relu"), ({"name": "fa", "sign_refresh": "epoch"}, "tanh"),
    ({"name": "usf"}, "tanh"), ({"name": "fp", "bp_depth": 1}, "relu"), ({"name": "sdfa", "connections": 2}, "sigmoid"),
    ({"name": "rf"}, "relu"), ({"name": "ntk"}, "relu"), ({"name": "ifa"}, "tanh"),
])
def test_stacked_seeds_match_the_same_seeds_run_one_by_one(algorithm, activation):
    hidden = [32] if algorithm["name"] in ("rf", "ntk") else [32, 16]
    cfgs = configs(algorithm=algorithm, model={"name": "mlp", "hidden": hidden, "activation": activation},
                   train={"epochs": 2, "batch_size": 256, "log_every": 2})
    stacked = SeedsTrainer(cfgs).run_all()
    for cfg, result in zip(cfgs, stacked):
        single = train(cfg)
        assert result.config.seed == cfg.seed and result.status == single.status == "done"
        assert_same_history(result.history, single.history)
    # and the seeds really differ from one another
    assert stacked[0].final["test_loss"] != stacked[1].final["test_loss"]


@pytest.mark.parametrize("algorithm,hidden,stacked_class", [
    ({"name": "dfa"}, [32, 16], StackedMLP), ({"name": "ntk"}, [32], StackedGatedMLP)])
def test_each_seed_slice_starts_where_its_own_run_starts(algorithm, hidden, stacked_class):
    cfgs = configs(algorithm=algorithm, model={"name": "mlp", "hidden": hidden, "activation": "relu"})
    stacked = build_seeds(cfgs)
    assert type(stacked.model) is stacked_class
    for s, cfg in enumerate(cfgs):
        own = build(cfg).model.state_dict()
        assert sorted(stacked.model.seed(s)) == sorted(own)  # ntk's frozen gates (weight0, bias0) included
        for key, value in stacked.model.seed(s).items():
            assert torch.equal(value, own[key]), key


def test_only_networks_of_one_kind_stack():
    with pytest.raises(ConfigError, match="model"):
        stack_models([MLP((4,), (8,), 3), GatedMLP((4,), (8,), 3)])


def test_divergence_is_found_per_seed_at_the_step_of_its_own_run():
    cfgs = configs(optimizer={"name": "sgd", "lr": 1000, "momentum": 0.9},
                   model={"name": "mlp", "hidden": [32], "activation": "relu"},
                   train={"epochs": 3, "batch_size": 64, "log_every": 5})
    results = SeedsTrainer(cfgs).run_all()
    for cfg, result in zip(cfgs, results):
        single = train(cfg)
        assert result.status == single.status == "diverged"
        assert result.diverged_at == single.diverged_at
        assert len(result.history) == len(single.history)


def test_what_cannot_be_stacked_says_why():
    assert stackable(RunConfig.from_dict(small_config(algorithm={"name": "brsf"}))) is not None
    with pytest.raises(ConfigError, match="stacked"):
        build_seeds(configs(model={"name": "tutorial_cnn"}))
    mixed = configs()
    mixed[1] = mixed[1].with_values({"optimizer.lr": 0.5})
    with pytest.raises(ConfigError, match="more than its seed"):
        build_seeds(mixed)


def test_sweep_gives_the_same_table_with_and_without_stacking():
    base = small_config(train={"epochs": 2, "batch_size": 256})
    grid = {"algorithm.name": ["dfa", "brsf"]}  # brsf runs one by one either way
    stacked = sweep(base, grid, seeds=2, progress=False)
    plain = sweep(base, grid, seeds=2, progress=False, batch_seeds=False)
    assert list(stacked.table.columns) == list(plain.table.columns)
    assert stacked.table[["run", "seed", "epoch", "metric"]].equals(plain.table[["run", "seed", "epoch", "metric"]])
    assert (stacked.table["value"] - plain.table["value"]).abs().max() < 1e-5
