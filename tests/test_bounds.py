"""Bounds at the door: every number a config holds is finite and in its declared range, and a run
that would not fit the device's memory is refused before anything is allocated."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from explorer.config import DATASET_OPTIONS, ConfigError, RunConfig
from explorer.config.registry import OPTIONS, RULES
from explorer.data import load_dataset
from explorer.data.shapes import DataShape, shape_of
from explorer.engine.build import build
from explorer.engine.footprint import check_fits, estimate, free_memory
from explorer.engine.optim import make_optimizer

NAN, INF = float("nan"), float("inf")
TRIED = {"nan": NAN, "+inf": INF, "-inf": -INF, "0": 0, "negative": -1, "1e308": 1e308}

# Each numeric field: where its value goes in a config, and the tried values it accepts, with why.
FIELDS: dict[str, tuple] = {
    "optimizer.lr": (lambda v: {"optimizer": {"name": "sgd", "lr": v}}, {}),
    "optimizer.momentum": (lambda v: {"optimizer": {"name": "sgd", "momentum": v}},
                           {"0": "plain SGD, no momentum"}),
    "optimizer.weight_decay": (lambda v: {"optimizer": {"weight_decay": v}}, {"0": "no weight decay"}),
    "train.epochs": (lambda v: {"train": {"epochs": v}}, {}),
    "train.batch_size": (lambda v: {"train": {"batch_size": v}}, {}),
    "train.log_every": (lambda v: {"train": {"log_every": v}}, {}),
    "train.snapshot_samples": (lambda v: {"train": {"snapshot_samples": v}}, {}),
    "train.snapshots[0]": (lambda v: {"train": {"epochs": 3, "snapshots": [v]}}, {"0": "epoch 0: before training"}),
    "seed": (lambda v: {"seed": v}, {"0": "a seed like any other"}),
    "model.hidden[0]": (lambda v: {"model": {"name": "mlp", "hidden": [v]}}, {}),
    "optimizer.schedule.step_size": (lambda v: {"optimizer": {"schedule": {"name": "step", "step_size": v}}}, {}),
    "optimizer.schedule.gamma": (lambda v: {"optimizer": {"schedule": {"name": "step", "step_size": 1, "gamma": v}}},
                                 {}),
    "optimizer.schedule.milestones[0]": (lambda v: {"optimizer": {"schedule": {"name": "multistep",
                                                                               "milestones": [v]}}}, {}),
    "train.augment.crop_padding": (lambda v: {"train": {"augment": {"crop_padding": v}}}, {"0": "no crop"}),
}
for section, wrap in (("init", lambda d: {"init": d}),
                      ("algorithm.feedback_init", lambda d: {"algorithm": {"name": "dfa", "feedback_init": d}})):
    FIELDS.update({
        f"{section}.low": (lambda v, w=wrap: w({"name": "uniform", "low": v, "high": 1e6}),
                           {"0": "U[0, high] is a range", "negative": "U[-1, high] is a range"}),
        f"{section}.high": (lambda v, w=wrap: w({"name": "uniform", "low": -1e6, "high": v}),
                            {"0": "U[low, 0] is a range", "negative": "U[low, -1] is a range"}),
        f"{section}.mean": (lambda v, w=wrap: w({"name": "normal", "mean": v, "std": 1.0}),
                            {"0": "a centred normal", "negative": "a normal centred at -1"}),
        f"{section}.std": (lambda v, w=wrap: w({"name": "normal", "std": v}), {}),
        f"{section}.gain": (lambda v, w=wrap: w({"name": "xavier", "gain": v}), {}),
    })
# The rules' options, from the registry: each given to the rule that takes it.
for key, spec in RULES.items():
    for name in spec.options:
        if OPTIONS[name].kind in ("int", "float"):
            FIELDS[f"algorithm.{name}"] = (
                lambda v, key=key, name=name: {"algorithm": {"name": key, name: v},
                                               "model": {"name": "mlp", "hidden": [8, 8]}},
                {"0": "BP depth 0: DFA in every layer"} if name == "bp_depth" else {})
# The datasets' options, from DATASET_OPTIONS: every dataset's own.
ZERO_IS_FINE = {"seed": "a seed like any other", "noise": "points without noise"}
for dataset, options in DATASET_OPTIONS.items():
    for name, option in options.items():
        if option.kind in ("int", "float"):
            FIELDS[f"data[{dataset}].{name}"] = (
                lambda v, dataset=dataset, name=name: {"data": {"name": dataset, name: v}},
                {"0": ZERO_IS_FINE[name]} if name in ZERO_IS_FINE else {})


CASES = [(key, tried) for key in FIELDS for tried in TRIED]


@pytest.mark.parametrize("key,tried", CASES, ids=[f"{k}={t}" for k, t in CASES])
def test_every_numeric_option_refuses_non_finite_and_out_of_range_values_by_name(key, tried):
    place, accepted = FIELDS[key]
    d = place(TRIED[tried])
    field = "data." + key.split(".", 1)[1] if key.startswith("data[") else key
    if tried in accepted:  # the value means something (the reason is in FIELDS)
        cfg = RunConfig.from_dict(d)
        assert RunConfig.from_dict(cfg.to_dict()) == cfg
        return
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict(d)
    assert err.value.field == field
    assert str(err.value).startswith(field)


def test_every_numeric_option_of_the_tables_is_tried():
    numeric = {f"algorithm.{n}" for spec in RULES.values() for n in spec.options if OPTIONS[n].kind != "choice"}
    numeric |= {f"data[{d}].{n}" for d, opts in DATASET_OPTIONS.items() for n, o in opts.items()
                if o.kind in ("int", "float")}
    assert numeric <= set(FIELDS)
    assert len(numeric) > 30


@pytest.mark.parametrize("d,field", [
    ({"optimizer": {"lr": 1e308}}, "optimizer.lr"),                      # died in the optimiser
    ({"init": {"name": "uniform", "low": -1e308, "high": 1e308}}, "init.low"),  # in the initialiser
    ({"train": {"epochs": 1e20}}, "train.epochs"),                       # in SQLite
    ({"data": {"name": "random", "samples": 1e30}}, "data.samples"),     # in an overflow
    ({"model": {"hidden": [10**7, 10**7]}}, "model.hidden[0]"),          # in the allocator
    ({"model": {"hidden": [8] * 1025}}, "model.hidden"),
    ({"seed": 2**63}, "seed"),                                           # an SQLite INTEGER holds 2**63 - 1
    ({"data": {"name": "moons", "seed": 2**32}}, "data.seed"),          # numpy's legacy seeding
    ({"optimizer": {"lr": 1e-300}}, "optimizer.lr"),                     # 0 in a float32
])
def test_the_values_the_issue_names_are_refused_at_the_door(d, field):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict(d)
    assert err.value.field == field


def test_the_limits_fit_the_types_they_end_up_in():
    cfg = RunConfig.from_dict({"seed": 2**63 - 1, "optimizer": {"lr": 1e6, "weight_decay": 1e6},
                               "train": {"epochs": 10**6, "batch_size": 10**8, "log_every": 10**15},
                               "init": {"name": "uniform", "low": -1e6, "high": 1e6}})
    torch.manual_seed(cfg.seed)                                  # torch takes the largest seed
    assert torch.tensor(cfg.train.log_every, dtype=torch.int64).item() == 10**15
    for value in (cfg.optimizer.lr, cfg.init.low, cfg.init.high, 1e-12):
        assert math.isfinite(torch.tensor(value, dtype=torch.float32).item())
        assert torch.tensor(value, dtype=torch.float32).item() != 0


# Memory at the door ---------------------------------------------------------------------------

def _rule_buffers(model: torch.nn.Module) -> tuple[int, int]:
    """(elements of the feedback buffers, of every other buffer) of a built network."""
    feedback = other = 0
    for name, b in model.named_buffers():
        if name.rsplit(".", 1)[-1] in ("feedback", "feedback_magnitude"):
            feedback += b.numel()
        else:
            other += b.numel()
    return feedback, other


@pytest.mark.parametrize("rule,model,optimizer", [
    ("bp", {"name": "mlp", "hidden": [16, 8]}, {"name": "sgd", "momentum": 0.9}),
    ("fa", {"name": "mlp", "hidden": [16, 8]}, {"name": "adam"}),
    ("usf", {"name": "mlp", "hidden": [16]}, {"name": "rmsprop", "momentum": 0.5}),
    ("bdfa", {"name": "mlp", "hidden": [16, 8, 8, 4]}, {"name": "adagrad"}),
    ("fp", {"name": "mlp", "hidden": [16, 8, 8]}, {"name": "adadelta"}),
    ("sdfa", {"name": "tutorial_cnn"}, {"name": "sgd", "momentum": 0.0}),
    ("dfa", {"name": "resnet20"}, {"name": "adam"}),
    ("ntk", {"name": "mlp", "hidden": [16], "activation": "relu"}, {"name": "sgd"}),
    ("rf", {"name": "mlp", "hidden": [16], "activation": "relu"}, {"name": "adam"}),
])
def test_the_estimate_counts_what_a_built_run_holds(rule, model, optimizer):
    algorithm = {"name": rule, **{"bdfa": {"block_size": 2}, "fp": {"bp_depth": 1}}.get(rule, {})}
    cfg = RunConfig.from_dict({"data": {"name": "digits"}, "model": model, "algorithm": algorithm,
                               "optimizer": optimizer, "train": {"batch_size": 32}, "device": "cpu"})
    data = load_dataset(cfg.data, "cpu")
    if model["name"] != "mlp":  # the digits' 8×8 are too small for a CNN: 16×16 images of the same count
        data = dataclasses.replace(data, x_train=data.x_train.repeat(1, 1, 2, 2),
                                   x_test=data.x_test.repeat(1, 1, 2, 2))
    fp = estimate(cfg, DataShape.of(data))
    built = build(cfg, "cpu", data)
    feedback, other = _rule_buffers(built.model)
    assert fp.parameters == 4 * (sum(p.numel() for p in built.model.parameters()) + other)
    assert fp.feedback == 4 * feedback
    trainable = [p for _, p in built.trainable()]
    assert fp.gradients == 2 * 4 * sum(p.numel() for p in trainable)
    opt = make_optimizer(cfg.optimizer, trainable)
    for p in trainable:
        p.grad = torch.ones_like(p)
    opt.step()
    state = sum(t.numel() for s in opt.state.values() for t in s.values() if torch.is_tensor(t) and t.dim() > 0)
    assert fp.optimiser == 4 * state
    assert fp.dataset == sum(t.numel() * t.element_size() for t in (data.x_train, data.y_train, data.x_test, data.y_test))


def test_the_activations_of_an_mlp_are_its_layers_outputs_for_a_batch_and_their_gradients():
    cfg = RunConfig.from_dict({"model": {"name": "mlp", "hidden": [100], "activation": "relu"},
                               "train": {"batch_size": 50}})
    fp = estimate(cfg, DataShape((20,), 5, train=1000, test=300))
    # per sample: the input, the hidden layer's output and its ReLU, the 5 logits; kept and differentiated
    assert fp.batch == 4 * 2 * 50 * (20 + 100 + 100 + 5)
    assert fp.evaluation == 4 * 2 * 300 * 100  # the test set at once: the widest layer in and out
    assert fp.activations == max(fp.batch, fp.evaluation)


@pytest.mark.parametrize("data", [
    {"name": "digits"}, {"name": "random", "samples": 50, "test_samples": 7, "features": 3, "classes": 4},
    {"name": "mnist1d", "samples": 205}, {"name": "moons", "samples": 101, "test_fraction": 0.3},
    {"name": "spiral", "samples": 60, "classes": 3}, {"name": "parity_bits", "bits": 6, "k": 2, "samples": 40},
    {"name": "teacher", "samples": 30, "test_samples": 9},
    {"name": "parity", "base": "digits", "k": 2, "train_samples": 64, "test_samples": 16},
])
def test_a_dataset_s_shape_is_known_without_loading_it(data):
    cfg = RunConfig.from_dict({"data": data}).data
    loaded = load_dataset(cfg, "cpu")
    shape = shape_of(cfg)
    assert shape == DataShape.of(loaded)
    tensors = [loaded.x_train, loaded.y_train, loaded.x_test, loaded.y_test]
    tensors += [getattr(loaded, k) for k in ("base_x_train", "base_y_train", "base_x_test", "base_y_test")
                if hasattr(loaded, k)]
    assert shape.nbytes() == sum(t.numel() * t.element_size() for t in tensors)


def test_a_network_too_large_for_the_memory_is_refused_naming_the_widths_without_allocating():
    cfg = RunConfig.from_dict({"model": {"name": "mlp", "hidden": [10]}, "device": "cpu"})
    huge = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, hidden=(10**7, 10**7)))
    with pytest.raises(ConfigError) as err:  # 10**14 weights: an attempt to allocate would fail otherwise
        check_fits(huge, "cpu", free=10**9)
    assert err.value.field == "model.hidden"
    assert str(err.value).startswith("model.hidden: this network needs about 1.6 PB (parameters 400 TB")
    assert str(err.value).endswith("this machine has 1.0 GB free")
    legal = cfg.with_values({"model.hidden": [10**6, 10**6]})  # in range at the door, 4 TB of weights
    with pytest.raises(ConfigError) as err:
        check_fits(legal, "cpu", free=10**9)
    assert err.value.field == "model.hidden"
    assert check_fits(cfg, "cpu", free=10**9).total < 10**9


def test_the_field_blamed_is_the_one_that_sets_the_largest_part():
    many = RunConfig.from_dict({"data": {"name": "random", "samples": 10**7, "features": 1000},
                                "model": {"hidden": [10]}})
    with pytest.raises(ConfigError) as err:  # 40 GB of inputs
        check_fits(many, "cpu", free=10**9)
    assert err.value.field == "data.samples" and "dataset 40 GB" in str(err.value)
    wide_batch = RunConfig.from_dict({"data": {"name": "random", "samples": 10**5, "features": 1000},
                                      "model": {"hidden": [10_000]}, "train": {"batch_size": 10**5}})
    with pytest.raises(ConfigError) as err:
        check_fits(wide_batch, "cpu", free=10**9)
    assert err.value.field == "train.batch_size"


def test_a_dataset_already_on_the_device_is_not_counted_again():
    cfg = RunConfig.from_dict({"model": {"hidden": [8]}})
    data = load_dataset(cfg.data, "cpu")
    assert check_fits(cfg, "cpu", data).dataset == 0
    assert check_fits(cfg, "cpu").dataset == DataShape.of(data).nbytes() > 0


def test_free_memory_is_positive_and_at_most_the_machine_s():
    total = next(int(line.split()[1]) * 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal:"))
    assert 0 < free_memory("cpu") <= total


def test_build_refuses_a_network_too_large_for_the_machine_before_allocating_it():
    # 10**6 × 10**6 weights in float32 are 4 TB: no machine running the suite has that free, and
    # building it for real would end in the allocator, not in this error.
    with pytest.raises(ConfigError) as caught:
        build({"model": {"hidden": [10**6, 10**6]}, "device": "cpu"})
    assert caught.value.field == "model.hidden" and "TB" in str(caught.value) and "free" in str(caught.value)
