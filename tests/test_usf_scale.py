"""uSF with ``algorithm.scale`` left out: each layer's feedback is sign(W_l) times the standard deviation
of that layer's own forward initialiser, computed here from the layer's fan-in; and where that stands
beside the thesis's ``stdv`` (000, section 3.6.8)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explorer.engine.build import build
from explorer.engine.trainer import Trainer
from explorer.rules.reference import usf_feedback
from tests.conftest import small_config


def usf_built(init="default", scale=None):
    algorithm = {"name": "usf"} if scale is None else {"name": "usf", "scale": scale}
    return build({"data": {"name": "random", "features": 20, "classes": 5}, "model": {"hidden": [12, 7]},
                  "algorithm": algorithm, "init": init, "device": "cpu"})


def test_default_init_feedback_is_sign_w_times_one_over_sqrt_three_fan_in():
    built = usf_built()
    layers = built.structure.layers
    assert not hasattr(layers[0], "feedback")  # nothing goes back to the data
    for layer, fan_in in zip(layers[1:], (12, 7)):
        # the default initialiser is U(-1/√fan_in, 1/√fan_in): standard deviation 1/√(3·fan_in)
        std = 1.0 / math.sqrt(3 * fan_in)
        w = layer.weight.detach().numpy().astype(np.float64)
        np.testing.assert_allclose(layer.feedback.numpy(), usf_feedback(w, std), rtol=1e-6)
        np.testing.assert_allclose(layer.feedback.numpy(), np.sign(w) * std, rtol=1e-6)
        assert np.abs(w).max() <= 1.0 / math.sqrt(fan_in)  # the bound, √3 times the std


def test_xavier_init_feedback_uses_xavier_s_std_per_layer():
    built = usf_built("xavier")
    for layer, (fan_in, fan_out) in zip(built.structure.layers[1:], ((12, 7), (7, 5))):
        std = math.sqrt(2.0 / (fan_in + fan_out))
        assert torch.allclose(layer.feedback, torch.sign(layer.weight.detach()) * std)


def test_a_given_scale_is_the_same_for_every_layer():
    built = usf_built(scale=0.25)
    for layer in built.structure.layers[1:]:
        assert torch.allclose(layer.feedback, 0.25 * torch.sign(layer.weight.detach()))


def test_the_feedback_follows_the_signs_of_the_new_weights():
    trainer = Trainer(small_config(algorithm={"name": "usf"}, optimizer={"name": "sgd", "lr": 0.5, "momentum": 0.0}))
    for _ in range(3):
        trainer.step()
    for layer, fan_in in zip(trainer.built.structure.layers[1:], (32, 16)):
        assert torch.allclose(layer.feedback, torch.sign(layer.weight.detach()) / math.sqrt(3 * fan_in))


@pytest.mark.parametrize("fan_in", [1, 50, 1024])
def test_the_thesis_s_stdv_is_the_bound_not_the_std(fan_in):
    # The thesis (Nøkland's code) draws W ~ U(-stdv, stdv) with stdv = 1/√fan_in and sends the error
    # back through sign(W) · stdv: its scale is √3 times the standard deviation uSF uses by default.
    g = torch.Generator().manual_seed(0)
    stdv = 1.0 / math.sqrt(fan_in)
    w = torch.empty(200_000).uniform_(-stdv, stdv, generator=g)
    assert w.std().item() == pytest.approx(stdv / math.sqrt(3), rel=0.01)
