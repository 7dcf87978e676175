"""Hidden-representation capture (MLPs, CNNs, ResNets), probe sets, snapshots, per-digit parts."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from explorer import ConfigError
from explorer.engine.build import build
from explorer.data import Dataset
from explorer.models import MLP
from explorer.engine.representations import MAX_PROBE, Probe, Snapshot, capture, per_digit, tap_names
from tests.conftest import small_config


def images(channels: int, side: int, n: int = 12, seed: int = 0) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, channels, side, side, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return Dataset("images", x, y, x, y, 10)


@pytest.fixture(scope="module")
def mlp():
    return build(small_config())


def test_capture_of_an_mlp_is_each_hidden_layer_after_its_activation(mlp):
    x = mlp.data.x_test[:50]
    acts = capture(mlp, x)
    assert list(acts) == ["layers.0", "layers.1"] == mlp.hidden_names
    l0, l1 = mlp.model.layers[0], mlp.model.layers[1]
    with torch.no_grad():
        h0 = torch.tanh(l0(x.flatten(1)))
        h1 = torch.tanh(l1(h0))
    for got, want in zip(acts.values(), (h0, h1)):
        assert got.dtype == torch.float32 and got.device.type == "cpu" and not got.requires_grad
        torch.testing.assert_close(got, want)


def test_capture_in_batches_equals_one_batch_and_restores_train_flags_and_handlers(mlp):
    x = mlp.data.x_test
    whole = capture(mlp, x)
    pieces = capture(mlp, x, batch_size=7)
    for name in whole:  # equal up to rounding: the batch size changes the matmul's blocking
        torch.testing.assert_close(whole[name], pieces[name])
    assert mlp.model.training
    assert all(t.handler is None for t in mlp.structure.taps)
    mlp.model.eval()
    try:
        capture(mlp, x[:5])
        assert not mlp.model.training
    finally:
        mlp.model.train()


@pytest.mark.parametrize("model,data", [("tutorial_cnn", images(1, 16)), ("lenet5", images(1, 28)),
                                        ("resnet20", images(3, 8))])
def test_capture_of_conv_nets_gives_every_tap_and_the_last_one_determines_the_logits(model, data):
    built = build(small_config(model={"name": model}), data=data)
    s, net, x = built.structure, built.model, data.x_test
    stats = {n: b.clone() for n, b in net.named_buffers()}
    acts = capture(built, x, batch_size=5)
    assert list(acts) == [s.names[o] for o in s.tap_owner] == tap_names(s)
    assert len(acts) == len(s.taps) >= 3
    for h, shape in zip(acts.values(), s.tap_shapes):
        assert h.shape == (x.shape[0], torch.Size(shape).numel())
    last = acts[list(acts)[-1]]
    net.eval()
    with torch.no_grad():
        logits = net(x)
        if model == "resnet20":
            predicted = net.fc(last.view(x.shape[0], *s.tap_shapes[-1]).mean((2, 3)))
        else:
            predicted = s.output(last)
    net.train()
    torch.testing.assert_close(predicted, logits)
    # eval mode: batch-norm statistics untouched; train flags back as they were
    assert all(torch.equal(stats[n], b) for n, b in net.named_buffers())
    assert all(m.training for m in net.modules())


def test_capture_keeps_a_handler_already_set_and_restores_handlers_after_an_error(mlp):
    tap0 = mlp.structure.taps[0]
    double = lambda tap, h: 2 * h  # noqa: E731
    tap0.handler = double
    try:
        x = mlp.data.x_test[:20]
        acts = capture(mlp, x)
        with torch.no_grad():
            h0 = torch.tanh(mlp.model.layers[0](x.flatten(1)))
            h1 = torch.tanh(mlp.model.layers[1](2 * h0))
        torch.testing.assert_close(acts["layers.0"], h0)  # what the tap sees, before its handler
        torch.testing.assert_close(acts["layers.1"], h1)  # the handler still shaped the forward pass
        assert tap0.handler is double
        with pytest.raises(RuntimeError):
            capture(mlp, torch.zeros(3, 5))  # wrong input width: the model raises
        assert tap0.handler is double and mlp.structure.taps[1].handler is None
        assert mlp.model.training
    finally:
        tap0.handler = None


def test_capture_of_chosen_layers_and_its_errors(mlp):
    x = mlp.data.x_test[:10]
    assert list(capture(mlp, x, layers=["layers.1"])) == ["layers.1"]
    with pytest.raises(ConfigError, match="layers: 'layers.2' is not a tapped layer"):
        capture(mlp, x, layers=["layers.2"])
    with pytest.raises(ConfigError, match="batch_size"):
        capture(mlp, x, batch_size=0)


def test_tap_names_refuse_two_taps_with_one_owner():
    s = SimpleNamespace(names=["a", "b"], tap_owner=[0, 0])
    with pytest.raises(ValueError, match="a owns more than one tap"):
        tap_names(s)


def test_probe_is_the_same_samples_every_time_and_checks_its_size(mlp):
    a, b = Probe.of(mlp.data, 40), Probe.of(mlp.data, 40)
    assert len(a) == 40 and torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert torch.equal(a.x, mlp.data.x_test[:40])
    assert len(Probe.of(mlp.data, MAX_PROBE)) == mlp.data.x_test.shape[0]  # up to n
    for bad in (0, MAX_PROBE + 1, 2.5, True):
        with pytest.raises(ConfigError, match=r"^n \(probe samples\)"):
            Probe.of(mlp.data, bad)


def test_probe_carries_the_datasets_extras():
    class Slots(Dataset):
        def probe(self, n):
            return self.x_test[:n], self.y_test[:n], {"slot_digits": torch.arange(2 * n).view(n, 2)}

    d = Slots("slots", torch.zeros(4, 3), torch.zeros(4, dtype=torch.long), torch.ones(6, 3),
              torch.ones(6, dtype=torch.long), 2)
    p = Probe.of(d, 3)
    assert p.extras["slot_digits"].tolist() == [[0, 1], [2, 3], [4, 5]]
    assert p.x.shape == (3, 3)


def test_snapshot_take_records_the_capture_and_when(mlp):
    probe = Probe.of(mlp.data, 30)
    snap = Snapshot.take(mlp, probe, epoch=3, step=120, batch_size=8)
    assert (snap.epoch, snap.step) == (3, 120)
    want = capture(mlp, probe.x)
    assert list(snap.layers) == list(want)
    for n in want:
        torch.testing.assert_close(snap.layers[n], want[n])


def _pre_activation(built, x):
    with torch.no_grad():
        return built.model.layers[0](x.flatten(1))


@pytest.mark.parametrize("k", [1, 2, 4, 8])
def test_per_digit_parts_plus_bias_are_the_first_pre_activation(mlp, k):
    x = mlp.data.x_test[:30]
    parts = per_digit(mlp, x, k, batch_size=8)
    assert parts.shape == (30, k, 32) and parts.dtype == torch.float32
    torch.testing.assert_close(parts.sum(1) + mlp.model.layers[0].bias.detach(), _pre_activation(mlp, x),
                               atol=1e-5, rtol=1e-5)


def test_per_digit_part_of_a_slot_depends_only_on_that_slots_pixels(mlp):
    x = mlp.data.x_test[:10]
    k, width = 4, 2
    base = per_digit(mlp, x, k)
    for j in range(k):
        changed = x.clone()
        changed[..., j * width:(j + 1) * width] += torch.randn_like(changed[..., j * width:(j + 1) * width])
        parts = per_digit(mlp, changed, k)
        for i in range(k):
            same = torch.allclose(parts[:, i], base[:, i])
            assert same == (i != j), (i, j)


def test_per_digit_part_is_the_layer_on_that_slot_alone(mlp):
    x = mlp.data.x_test[:25]
    k, width = 2, 4
    parts = per_digit(mlp, x, k)
    bias = mlp.model.layers[0].bias.detach()
    for j in range(k):
        alone = torch.zeros_like(x)
        alone[..., j * width:(j + 1) * width] = x[..., j * width:(j + 1) * width]
        torch.testing.assert_close(parts[:, j], _pre_activation(mlp, alone) - bias, atol=1e-5, rtol=1e-5)


def test_per_digit_with_several_channels_matches_the_flattened_columns():
    c, h, k, w = 2, 3, 3, 4
    net = MLP((c, h, k * w), hidden=(5,), outputs=2)
    x = torch.randn(7, c, h, k * w)
    parts = per_digit(SimpleNamespace(model=net), x, k)
    weight, flat = net.layers[0].weight.detach(), x.flatten(1)
    for j in range(k):
        cols = [ch * h * k * w + row * k * w + j * w + col
                for ch in range(c) for row in range(h) for col in range(w)]
        torch.testing.assert_close(parts[:, j], flat[:, cols] @ weight[:, cols].T)
    torch.testing.assert_close(parts.sum(1) + net.layers[0].bias.detach(), net.layers[0](flat).detach())


def test_per_digit_refuses_what_it_cannot_split(mlp):
    x = mlp.data.x_test[:4]
    with pytest.raises(ConfigError, match="k: the input width 8 is not divisible by k=3"):
        per_digit(mlp, x, 3)
    with pytest.raises(ConfigError, match=r"^k \(digits per input\)"):
        per_digit(mlp, x, 0)
    with pytest.raises(ConfigError, match="^x must be images"):
        per_digit(mlp, x.flatten(1), 2)
    with pytest.raises(ConfigError, match="^x: 1×8×4 = 32 input features"):
        per_digit(mlp, x[..., :4], 2)
    resnet = build(small_config(model={"name": "resnet20"}), data=images(1, 8))
    with pytest.raises(ConfigError, match="need an MLP, got ResNet"):
        per_digit(resnet, resnet.data.x_test, 2)


def test_per_digit_equals_the_product_by_hand_for_a_parity_like_input():
    # two 2×2 "digits" side by side, a 1-unit layer with known weights
    net = MLP((1, 2, 4), hidden=(1,), outputs=2)
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.arange(8.0).view(1, 8))  # row-major: row 0 = cols 0..3
    x = torch.tensor([[[[1.0, 0.0, 0.0, 1.0], [0.0, 2.0, 0.0, 0.0]]]])
    parts = per_digit(SimpleNamespace(model=net), x, 2)
    # slot 0 holds (0,0)=1 at weight 0 and (1,1)=2 at weight 5; slot 1 holds (0,3)=1 at weight 3
    assert parts.view(2).tolist() == [1 * 0 + 2 * 5, 1 * 3]
