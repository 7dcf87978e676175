"""Multiply-adds per sample of a training step, against hand counts and against torch's own FLOP
counter run on the rule's backward; and the thesis's Table 3.28 as sums of its typed steps."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from explorer import RunConfig
from explorer.data import Dataset
from explorer.engine.build import build
from explorer.engine.cost import (
    THESIS_RULES, THESIS_STEPS, bound_vs_bp, cost_table, operation_counts, thesis_complexity,
)

BIG = {"data": {"name": "random", "features": 784, "classes": 10}, "model": {"name": "mlp", "hidden": [1024, 1024]}}

# Table 3.28 of the thesis (000), typed from the table
TABLE_3_28 = {"BP": 17, "FA": 12, "DFA": 10, "DFA+Signgrad": 11, "FAsign+Signgrad": 22, "FArand+Signgrad": 22,
              "FAsign": 21, "Sign+signgrad": 22, "Sign": 21}


def counts(rule, **options):
    return operation_counts(BIG | {"algorithm": {"name": rule, **options}})


def test_bp_on_784_1024_1024_10_by_hand():
    c = counts("bp")
    forward = 784 * 1024 + 1024 * 1024 + 1024 * 10
    assert c.forward == forward == 1_861_632
    assert c.weight_grads == forward
    assert c.backward == 1024 * 1024 + 10 * 1024  # W_3ᵀ and W_2ᵀ; nothing below the first layer
    assert c.total == 2 * forward + 1024 * 1024 + 10 * 1024
    assert [row["backward"] for row in c.layers] == [0, 1024 * 1024, 10 * 1024]


def test_dfa_on_784_1024_1024_10_by_hand():
    c = counts("dfa")
    forward = 784 * 1024 + 1024 * 1024 + 1024 * 10
    assert (c.forward, c.weight_grads, c.backward) == (forward, forward, 10 * 1024 + 10 * 1024)
    assert bound_vs_bp(BIG | {"algorithm": {"name": "dfa"}}) == pytest.approx(
        (2 * forward + 1024 * 1024 + 10 * 1024) / (2 * forward + 2 * 10 * 1024))


def test_the_other_rules_by_hand():
    n = 1024
    assert counts("fa").total == counts("bp").total == counts("usf").total
    assert counts("sdfa", connections=3).backward == 3 * n + 3 * n
    assert counts("ssdfa").backward == n + n
    assert counts("ifa").backward == 10 * n + n * n       # e B_1, then δ_1 W_2ᵀ
    assert counts("fp", bp_depth=1).backward == 10 * n + n * n  # W_3ᵀ to the top layer, then δ_2 B_1
    assert counts("bdfa", block_size=1).backward == 10 * n + n * n  # block 2's source is δ of layer 2
    shallow = operation_counts(BIG | {"algorithm": {"name": "dfa", "train_hidden": False}})
    assert (shallow.weight_grads, shallow.backward) == (n * 10, 0)


def test_random_features_train_the_output_layer_only():
    c = operation_counts({"data": {"name": "random", "features": 30}, "model": {"hidden": [100]},
                          "algorithm": {"name": "rf"}})
    assert (c.forward, c.weight_grads, c.backward) == (30 * 100 + 100 * 10, 100 * 10, 0)


@pytest.mark.parametrize("rule,options", [
    ("bp", {}), ("fa", {}), ("usf", {}), ("dfa", {}), ("ifa", {}), ("bdfa", {"block_size": 2}),
    ("fp", {"bp_depth": 1}), ("rf", {}), ("ntk", {}),
])
def test_the_counts_are_torch_s_flop_counter_on_the_rule_s_own_backward(rule, options):
    hidden = [32] if rule in ("rf", "ntk") else [40, 30, 20]
    b = build({"data": {"name": "random", "features": 50, "classes": 7}, "model": {"hidden": hidden},
               "algorithm": {"name": rule, **options}, "device": "cpu"})
    x, y = b.data.x_train[:16], b.data.y_train[:16]
    with FlopCounterMode(display=False) as flops:
        b.rule.backward(b.model, x, y, b.loss_fn)
    assert flops.get_total_flops() == 2 * 16 * operation_counts(b).total  # a multiply-add is 2 FLOPs


def test_sparse_feedback_counts_its_non_zeros_only():
    b = build({"data": {"name": "random", "features": 50, "classes": 7}, "model": {"hidden": [40, 30]},
               "algorithm": {"name": "sdfa", "connections": 2}, "device": "cpu"})
    assert all(int((layer.feedback != 0).sum(0).max()) == 2 for layer in b.structure.layers[:-1])
    assert operation_counts(b).backward == 2 * 40 + 2 * 30


def image_built(model, rule):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 1, 28, 28, generator=g), torch.arange(32) % 10
    return build({"data": {"name": "mnist"}, "model": {"name": model}, "algorithm": {"name": rule},
                  "device": "cpu"}, data=Dataset("mnist", x, y, x[:8], y[:8], num_classes=10))


def test_lenet5_by_hand():
    # C1 6@5×5 padded: 28·28·6·25; C3 16@5×5 on 14×14: 10·10·16·25·6; C5 120@5×5 on 5×5: 120·25·16; F6, output
    macs = [28 * 28 * 6 * 25, 10 * 10 * 16 * 25 * 6, 120 * 25 * 16, 120 * 84, 84 * 10]
    bp = operation_counts(RunConfig.from_dict({"data": {"name": "mnist"}, "model": {"name": "lenet5"}}))
    assert [row["forward"] for row in bp.layers] == macs
    assert bp.backward == sum(macs[1:])
    dfa = operation_counts(RunConfig.from_dict({"data": {"name": "mnist"}, "model": {"name": "lenet5"},
                                                "algorithm": {"name": "dfa"}}))
    assert dfa.backward == 10 * (6 * 14 * 14 + 16 * 5 * 5 + 120 + 84)  # e B_l at each pooled tap


@pytest.mark.parametrize("rule", ["bp", "dfa", "fa"])
def test_conv_counts_are_torch_s_flop_counter(rule):
    b = image_built("lenet5", rule)
    x, y = b.data.x_train[:4], b.data.y_train[:4]
    with FlopCounterMode(display=False) as flops:
        b.rule.backward(b.model, x, y, b.loss_fn)
    assert flops.get_total_flops() == 2 * 4 * operation_counts(b).total


def test_cost_table():
    t = cost_table([BIG | {"algorithm": {"name": r}} for r in ("bp", "dfa", "fa")])
    assert list(t.columns) == ["rule", "forward", "weight_grads", "backward", "total", "ratio_to_bp", "bound_vs_bp"]
    assert t["rule"].tolist() == ["bp", "dfa", "fa"]
    assert t["ratio_to_bp"].tolist()[0] == 1.0 and t["ratio_to_bp"].tolist()[2] == 1.0
    assert t["bound_vs_bp"][1] == pytest.approx(1 / t["ratio_to_bp"][1])


def test_table_3_28_totals_are_the_sums_of_the_typed_steps():
    assert thesis_complexity() == TABLE_3_28
    assert set(THESIS_STEPS) == set(THESIS_RULES) == set(TABLE_3_28)
    units = {0, 1, 2, 3}  # nothing, multiply or sign, copy or write, transpose
    assert all(cost in units for steps in THESIS_STEPS.values() for _, cost in steps)
    # the lists the thesis gives: 9 steps for BP, 8 for FA and DFA, 13 for the sign-concordant variants
    assert [len(THESIS_STEPS[r]) for r in ("BP", "FA", "DFA", "FAsign+Signgrad", "Sign")] == [9, 8, 8, 13, 12]
    for cfg in THESIS_RULES.values():
        if cfg is not None:
            RunConfig.from_dict(cfg)
