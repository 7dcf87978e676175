"""Augmentation on the device: crops and flips against an independent computation (torch's pad,
a slice at the offsets, torch's flip), the batches a run trains on, determinism per seed, stacked
seeds, and the refusal for data that are not images."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from explorer import ConfigError, RunConfig, Trainer, train
from explorer.config import DataConfig
from explorer.config.augmentation import Augmentation
from explorer.config.dataset_options import IMAGE_DATASETS
from explorer.data import load_dataset
from explorer.engine.augment import apply, augment, draw
from explorer.engine.build import derived_seed
from explorer.engine.seeds import SeedsTrainer
from tests.conftest import small_config
from tests.test_seeds import assert_same_history


def by_hand(x, padding, offsets, flips):
    """Each sample on its own: zero-pad, slice the crop at its offsets, mirror if it flips."""
    h, w = x.shape[-2:]
    out = []
    for image, (top, left), flip in zip(x, offsets.tolist(), flips.tolist()):
        crop = F.pad(image, (padding, padding, padding, padding))[:, top:top + h, left:left + w]
        out.append(torch.flip(crop, dims=[-1]) if flip else crop)
    return torch.stack(out)


@pytest.mark.parametrize("padding", [0, 1, 3])
def test_crops_and_flips_are_the_slices_of_the_padded_images(padding):
    g = torch.Generator().manual_seed(padding)
    x = torch.randn(16, 3, 5, 7, generator=g)  # channels, and height ≠ width
    offsets = torch.randint(0, 2 * padding + 1, (16, 2), generator=g)
    flips = torch.rand(16, generator=g) < 0.5
    assert flips.any() and (~flips).any()
    torch.testing.assert_close(apply(x, padding, offsets, flips), by_hand(x, padding, offsets, flips), rtol=0, atol=0)


def test_an_augmented_batch_is_the_hand_computation_from_the_same_generator():
    x = torch.randn(32, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    aug = Augmentation(crop_padding=2, flip=True)
    got = augment(x, aug, [torch.Generator().manual_seed(7)])
    g = torch.Generator().manual_seed(7)  # the draws, in their documented order: offsets, then flips
    offsets = torch.randint(0, 5, (32, 2), generator=g)
    flips = torch.rand(32, generator=g) < 0.5
    torch.testing.assert_close(got, by_hand(x, 2, offsets, flips), rtol=0, atol=0)
    assert not torch.equal(got, x)


def test_offsets_cover_the_whole_range_and_half_the_samples_flip():
    offsets, flips = draw(20_000, Augmentation(crop_padding=2, flip=True), torch.Generator().manual_seed(0))
    assert sorted(offsets.unique().tolist()) == [0, 1, 2, 3, 4]
    assert abs(flips.float().mean().item() - 0.5) < 0.02
    offsets, flips = draw(10, Augmentation(crop_padding=0, flip=True), torch.Generator().manual_seed(0))
    assert not offsets.any()  # flips only: the image stays in place


def test_the_run_trains_on_its_batches_augmented_from_its_own_stream():
    cfg = small_config(train={"epochs": 1, "batch_size": 64, "augment": {"crop_padding": 2, "flip": True}}, seed=5)
    trainer = Trainer(cfg)
    seen = []
    trainer.built.model.register_forward_pre_hook(lambda _m, args: seen.append(args[0].clone()))
    trainer.step()
    data = trainer.built.data
    idx = trainer._order[0, :64]
    g = torch.Generator().manual_seed(derived_seed(5, 3))
    offsets, flips = torch.randint(0, 5, (64, 2), generator=g), torch.rand(64, generator=g) < 0.5
    torch.testing.assert_close(seen[0], by_hand(data.x_train[idx], 2, offsets, flips), rtol=0, atol=0)


def test_augmentation_leaves_the_batch_order_and_is_the_same_for_the_same_seed():
    plain = Trainer(small_config())
    plain.step()
    cfg = small_config(train={"epochs": 2, "batch_size": 64, "augment": {"crop_padding": 1, "flip": True}})
    a, b = train(cfg), train(cfg)
    assert [r["train_loss"] for r in a.history] == [r["train_loss"] for r in b.history]
    augmented = Trainer(cfg)
    augmented.step()
    assert torch.equal(plain._order, augmented._order)
    other = train(cfg | {"seed": 1})
    assert other.final["train_loss"] != a.final["train_loss"]


def test_stacked_seeds_augment_like_single_runs():
    cfgs = [RunConfig.from_dict(small_config(
        train={"epochs": 2, "batch_size": 128, "log_every": 4, "augment": {"crop_padding": 1, "flip": True}})
        | {"seed": s}) for s in (0, 1, 2)]
    for cfg, result in zip(cfgs, SeedsTrainer(cfgs).run_all()):
        assert_same_history(result.history, train(cfg).history)


def test_the_image_datasets_are_those_whose_inputs_are_images():
    for name in ("digits", "random", "mnist1d", "moons", "spiral", "parity_bits", "teacher"):
        data = load_dataset(DataConfig(name), "cpu")
        assert (name in IMAGE_DATASETS) == (data.x_train.dim() == 4), name


@pytest.mark.parametrize("data", ["moons", "mnist1d", "random", "teacher"])
def test_augmentation_of_data_that_are_not_images_is_refused_by_name(data):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({"data": {"name": data}, "train": {"augment": {"flip": True}}})
    assert err.value.field == "train.augment"


@pytest.mark.parametrize("augment,field", [
    ({"crop_padding": -1}, "train.augment.crop_padding"), ({"crop_padding": 1.5}, "train.augment.crop_padding"),
    ({"flip": "yes"}, "train.augment.flip"), ({"rotate": 10}, "train.augment.rotate"), ([1], "train.augment"),
])
def test_bad_augment_options_are_refused_by_name(augment, field):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({"train": {"augment": augment}})
    assert err.value.field == field


def test_the_config_round_trips_and_nothing_asked_is_no_augmentation():
    cfg = RunConfig.from_dict({"train": {"augment": {"crop_padding": 4, "flip": True}}})
    assert cfg.to_dict()["train"]["augment"] == {"crop_padding": 4, "flip": True}
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert RunConfig.from_dict({"train": {"augment": {}}}) == RunConfig.from_dict({})
