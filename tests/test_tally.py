"""`Tally`: an interval's losses and right answers, reduced on the device and read once."""

from __future__ import annotations

import math

import torch

from explorer.engine.tally import Tally

NAN, INF = float("nan"), float("inf")


def test_each_seed_gets_its_own_mean_accuracy_and_first_non_finite_step():
    tally = Tally(seeds=2)
    steps = [([1.0, 2.0], [[1, 1, 0, 0], [1, 1, 1, 1]]),
             ([3.0, INF], [[1, 0, 0, 0], [0, 0, 0, 0]]),
             ([NAN, 4.0], [[1, 1, 1, 1], [1, 0, 0, 0]]),
             ([5.0, NAN], [[0, 0, 0, 0], [1, 1, 0, 0]])]
    for losses, right in steps:
        tally.add(torch.tensor(losses), torch.tensor(right, dtype=torch.bool))
    assert tally.steps == 4
    (loss0, acc0, bad0, *_), (loss1, acc1, bad1, *_) = tally.read()
    assert math.isnan(loss0) and math.isnan(loss1)  # a non-finite step makes the mean non-finite
    assert (acc0, acc1) == (7 / 16, 7 / 16)
    assert (bad0, bad1) == (2, 1)                   # the interval's index of the first bad step


def test_reading_starts_a_new_interval_and_regression_has_no_accuracy():
    tally = Tally(seeds=1)
    tally.add(torch.tensor([10.0]), None)
    tally.read()
    assert tally.steps == 0
    tally.add(torch.tensor([1.0]), None)
    tally.add(torch.tensor([2.0]), None)
    [(loss, acc, bad, *_)] = tally.read()
    assert loss == 1.5 and math.isnan(acc) and bad is None
