"""Initialisers draw what docs/algorithms.md says, for forward weights and feedback matrices."""

from __future__ import annotations

import math

import pytest
import torch

from explorer.engine.build import build
from explorer.config import InitSpec
from explorer.rules.init import draw, fans, sign_concordant_draw, std
from tests.conftest import small_config

G = lambda: torch.Generator().manual_seed(0)  # noqa: E731


@pytest.mark.parametrize("spec,low,high", [
    (InitSpec("uniform", low=-0.2, high=0.5), -0.2, 0.5),
    (InitSpec("standard_uniform"), 0.0, 1.0),
    (InitSpec("lillicrap"), -0.5, 0.5),
    (InitSpec("thesis_1e-3"), 0.0, 0.001),
    (InitSpec("thesis_5e-3"), 0.0, 0.005),
    (InitSpec("thesis_1e-2"), 0.0, 0.01),
    (InitSpec("default"), -1 / math.sqrt(400), 1 / math.sqrt(400)),
    (InitSpec("thesis_stdv"), -1 / math.sqrt(400), 1 / math.sqrt(400)),
    (InitSpec("fan_in", gain=2.0), -2 / math.sqrt(400), 2 / math.sqrt(400)),
    (InitSpec("fan_out"), -1 / math.sqrt(300), 1 / math.sqrt(300)),
])
def test_uniform_families_fill_their_range(spec, low, high):
    w = draw(spec, (300, 400), G())
    assert w.min() >= low and w.max() <= high
    assert w.min() < low + 0.01 * (high - low) and w.max() > high - 0.01 * (high - low)
    assert w.std().item() == pytest.approx((high - low) / math.sqrt(12), rel=0.02)
    assert w.std().item() == pytest.approx(std(spec, (300, 400)), rel=0.02)


@pytest.mark.parametrize("spec,mean,sd", [
    (InitSpec("normal", mean=0.3, std=0.1), 0.3, 0.1),
    (InitSpec("standard_gaussian"), 0.0, 1.0),
    (InitSpec("gaussian"), 1 / 20, 1 / 20),  # N(1/√n_0, 1/n_0) with fan-in 400
    (InitSpec("kaiming"), 0.0, math.sqrt(2 / 400)),
    (InitSpec("xavier", gain=1.0), 0.0, math.sqrt(2 / 700)),
])
def test_normal_families_have_their_mean_and_spread(spec, mean, sd):
    w = draw(spec, (300, 400), G())
    assert w.mean().item() == pytest.approx(mean, abs=0.02 * sd + 1e-4)
    assert w.std().item() == pytest.approx(sd, rel=0.02)


def test_zeros_and_orthogonal():
    assert draw(InitSpec("zeros"), (5, 7), G()).abs().sum() == 0
    q = draw(InitSpec("orthogonal", gain=3.0), (20, 50), G())
    torch.testing.assert_close(q @ q.T, 9.0 * torch.eye(20), atol=1e-4, rtol=0)


def test_fans_follow_torch_for_linear_and_conv_shapes():
    assert fans((10, 3)) == (3, 10)
    assert fans((16, 6, 5, 5)) == (150, 400)


def test_sign_concordant_feedback_has_the_signs_of_w_and_random_magnitudes():
    w = torch.randn(40, 30, generator=G())
    b = sign_concordant_draw(InitSpec("sign_concordant", inner=InitSpec("uniform", low=0.1, high=0.2)), w, G())
    assert torch.equal(torch.sign(b), torch.sign(w))
    assert b.abs().min() >= 0.1 and b.abs().max() <= 0.2 and b.abs().std() > 0.01


def test_forward_init_and_feedback_init_are_chosen_separately():
    built = build(small_config(init={"name": "uniform", "low": 0.0, "high": 0.001},
                               algorithm={"name": "dfa", "feedback_init": {"name": "uniform", "low": -0.5, "high": 0.5}}))
    sd = built.model.state_dict()
    assert sd["layers.0.weight"].min() >= 0 and sd["layers.0.weight"].max() <= 0.001
    assert sd["layers.0.bias"].abs().sum() == 0  # non-default initialisers start biases at zero
    assert sd["layers.0.feedback"].min() < -0.4 and sd["layers.0.feedback"].max() > 0.4
    # The feedback initialiser does not disturb the forward weights: same seed, same W.
    other = build(small_config(init={"name": "uniform", "low": 0.0, "high": 0.001},
                               algorithm={"name": "fa", "feedback_init": {"name": "lillicrap"}}))
    assert torch.equal(other.model.state_dict()["layers.0.weight"], sd["layers.0.weight"])


def test_fa_with_sign_concordant_feedback_init_matches_the_initial_weight_signs():
    built = build(small_config(algorithm={"name": "fa", "feedback_init": {"name": "sign_concordant"}}))
    layer = built.model.layers[1]
    assert torch.equal(torch.sign(layer.feedback), torch.sign(layer.weight.detach()))
