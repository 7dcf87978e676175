"""`python -m tools.biotorch_peer`: explorer's DFA beside BioTorch's (not a dependency; no timed assertions)."""

from __future__ import annotations

import sys

import pytest

from tools import biotorch_peer


def test_without_biotorch_it_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "biotorch", None)  # import biotorch now raises ImportError
    assert biotorch_peer.main(["--rounds", "1", "--steps", "1"]) == 2
    assert "pip install --no-deps biotorch==0.0.16" in capsys.readouterr().out


def test_the_bound_is_backprops_arithmetic_plus_the_projections_over_dfas():
    """Multiply-adds per sample of the bench's MLP 784-1024×4-10, counted here by hand."""
    forward = 784 * 1024 + 3 * 1024 * 1024 + 1024 * 10
    input_grads = 3 * 1024 * 1024 + 1024 * 10     # layers 2-5 (the data needs none)
    projections = 4 * 10 * 1024                      # e @ B_l for the four hidden layers
    theirs, ours = 2 * forward + input_grads + projections, 2 * forward + projections
    logging = 1024 * forward / (50 * 256) + (2 * forward + input_grads) / 50  # test set; bp reference
    b = biotorch_peer.bounds()
    assert (b["biotorch_macs"], b["explorer_macs"]) == (theirs, ours)
    assert b["bound"] == pytest.approx(theirs / ours)
    assert b["bound_with_logging"] == pytest.approx(theirs / (ours + logging))


def test_a_biotorch_step_trains_the_network():
    pytest.importorskip("biotorch")
    import torch
    from explorer.config import DataConfig
    from explorer.data.embedded import load_random
    data = load_random(DataConfig("random", {"samples": 256, "features": 784, "classes": 10}))
    loop = biotorch_peer.BioTorchDFALoop(data, torch.device("cpu"))
    first = [p.detach().clone() for p in loop.net.parameters() if p.requires_grad]
    loop.step()
    after = [p for p in loop.net.parameters() if p.requires_grad]
    assert all(not torch.equal(a, b) for a, b in zip(first, after))
