"""``data.resize``: images resized at load against torchvision's own resize, the shapes the door and
the networks see, and the refusals."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.functional as TF

from explorer import ConfigError, RunConfig
from explorer.config import DataConfig
from explorer.data import load_dataset
from explorer.data.idx import read_idx
from explorer.data.shapes import DataShape, shape_of
from explorer.data.vision import image_dataset, resize
from explorer.engine.build import build


@pytest.mark.parametrize("size", [(32, 32), (14, 14), (20, 36)])
def test_resize_is_torchvision_bilinear_without_antialiasing(size):
    g = torch.Generator().manual_seed(0)
    images = torch.rand(5, 3, 28, 28, generator=g)
    expected = TF.resize(images, list(size), interpolation=TF.InterpolationMode.BILINEAR, antialias=False)
    assert torch.allclose(resize(images, size), expected, atol=1e-6)


def test_a_hand_computed_upsampling():
    # 2 → 3 pixels, half-pixel centres: output pixel j sits at (j + 0.5)·2/3 − 0.5 = −1/6, 1/2, 7/6 in
    # the input, clamped to [0, 1]: values a, (a + b)/2, b
    x = torch.tensor([[[[1.0, 4.0]]]])
    assert resize(x, (1, 3)).flatten().tolist() == pytest.approx([1.0, 2.5, 4.0])


def test_image_dataset_resizes_before_it_standardises():
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (6, 1, 28, 28), generator=g, dtype=torch.uint8)
    labels = torch.arange(6) % 3
    d = image_dataset("t", (images, labels), (images[:2], labels[:2]), DataConfig("mnist", {"resize": (32, 32)}), 3)
    expected = TF.resize(images.float() / 255.0, [32, 32], antialias=False)
    expected = (expected - expected.mean()) / expected.std()
    assert d.input_shape == (1, 32, 32)
    assert torch.allclose(d.x_train, expected, atol=1e-5)
    assert torch.allclose(d.x_test, expected[:2], atol=1e-5)


def test_real_mnist_resized_matches_torchvision(shared_data):
    cfg = DataConfig.from_dict({"name": "mnist", "root": str(shared_data), "resize": [32, 32],
                                "train_samples": 50, "test_samples": 7})
    d = load_dataset(cfg, "cpu")
    raw = read_idx("mnist", cfg)
    train = TF.resize(raw["train"][0][:50].float() / 255.0, [32, 32], antialias=False)
    test = TF.resize(raw["t10k"][0][:7].float() / 255.0, [32, 32], antialias=False)
    mean, std = train.mean(), train.std()
    assert torch.allclose(d.x_train, (train - mean) / std, atol=1e-5)
    assert torch.allclose(d.x_test, (test - mean) / std, atol=1e-5)
    assert DataShape.of(d) == shape_of(cfg)


def test_lenet5_on_resized_mnist_sees_32x32_images(shared_data):
    built = build({"data": {"name": "mnist", "root": str(shared_data), "resize": [32, 32], "train_samples": 64,
                            "test_samples": 16}, "model": {"name": "lenet5"}, "device": "cpu"})
    assert built.data.input_shape == (1, 32, 32)
    assert built.model.convs[0].in_channels == 1
    # 32 → C1 (padded) 32 → S2 16 → C3 12 → S4 6 → C5 2: 120·2·2 inputs to F6
    assert built.model.fcs[0].in_features == 120 * 2 * 2


def test_the_door_reports_the_resized_shape():
    assert shape_of(DataConfig.from_dict({"name": "cifar10", "resize": [16, 24]})).input_shape == (3, 16, 24)
    assert shape_of(DataConfig.from_dict({"name": "kmnist"})).input_shape == (1, 28, 28)


def test_round_trip_and_old_configs_unchanged():
    cfg = RunConfig.from_dict({"data": {"name": "mnist", "resize": [32, 32]}})
    assert cfg.data.get("resize") == (32, 32)
    assert cfg.to_dict()["data"]["resize"] == [32, 32]
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert "resize" not in RunConfig.from_dict({"data": {"name": "mnist"}}).to_dict()["data"]


@pytest.mark.parametrize("value,field", [
    ([32], "data.resize"), ("32x32", "data.resize"), ([0, 32], "data.resize[0]"), ([32, 2000], "data.resize[1]"),
    ([32.5, 32], "data.resize[0]"), ([True, 32], "data.resize[0]"),
])
def test_bad_sizes_are_refused_naming_the_field(value, field):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({"data": {"name": "mnist", "resize": value}})
    assert err.value.field == field


@pytest.mark.parametrize("name", ["digits", "random", "moons", "parity"])
def test_non_image_or_drawn_datasets_refuse_resize(name):
    with pytest.raises(ConfigError, match="data.resize") as err:
        RunConfig.from_dict({"data": {"name": name, "resize": [32, 32]}})
    assert err.value.field == "data.resize"
