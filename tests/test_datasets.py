"""The datasets beyond digits / random / MNIST: MNIST-1D, the 2-D toys, sparse parity, the teacher
tasks, the MNIST family, CIFAR-10 (on small files written here) and the parity task."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import explorer
from explorer.config import ConfigError, DataConfig, RunConfig
from explorer.data import LOADERS, DatasetFileError, DatasetNotFound, ParityDataset, load_dataset
from explorer.config.dataset_options import DATASET_OPTIONS
from tests.test_data import write_idx

TOYS = ("moons", "circles", "xor", "spiral", "gaussians")


def load(name: str, **options):
    """A dataset through the config's validation, as ``explorer.train`` loads it."""
    return load_dataset(RunConfig.from_dict({"data": {"name": name, **options}}).data, "cpu")


def offline(monkeypatch) -> None:
    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")
    monkeypatch.setattr("urllib.request.urlopen", no_network)


def nearest_neighbour_accuracy(d) -> float:
    nearest = torch.cdist(d.x_test, d.x_train).argmin(1)
    return (d.y_train[nearest] == d.y_test).float().mean().item()


# ----------------------------------------------------------------------------------------------
# Registry and validation.


def test_every_dataset_with_options_has_a_loader_and_bad_options_name_their_field():
    assert set(LOADERS) == set(DATASET_OPTIONS)
    bad = [({"name": "moons", "noise": -0.1}, "data.noise"), ({"name": "teacher", "kind": "cubic"}, "data.kind"),
           ({"name": "parity", "base": "cifar10"}, "data.base"), ({"name": "spiral", "classes": 1}, "data.classes"),
           ({"name": "xor", "test_fraction": 1.0}, "data.test_fraction"),
           ({"name": "cifar10", "bits": 3}, "data.bits")]
    for data, field in bad:
        with pytest.raises(ConfigError, match=field):
            RunConfig.from_dict({"data": data})


@pytest.mark.parametrize("data, field", [
    ({"name": "parity_bits", "bits": 4, "k": 5}, "data.k"),
    ({"name": "moons", "samples": 2, "test_fraction": 0.1}, "data.test_fraction"),
    ({"name": "mnist1d", "samples": 9}, "data.samples"),
    ({"name": "gaussians", "seed": 2**32}, "data.seed"),
    ({"name": "parity", "base": "digits", "root": "/data"}, "data.root"),
])
def test_options_that_only_the_loader_can_check_are_config_errors(data, field):
    with pytest.raises(ConfigError, match=field):
        load(**data)


# ----------------------------------------------------------------------------------------------
# Embedded datasets.


def test_mnist1d_is_generated_offline_deterministically_and_leaves_global_seeds_alone():
    np.random.seed(123)
    expected_next = np.random.RandomState(123).random_sample()
    d = load("mnist1d", samples=200, seed=5)
    assert np.random.random_sample() == expected_next  # make_dataset's np.random.seed was undone
    assert tuple(d.x_train.shape) == (160, 40) and tuple(d.x_test.shape) == (40, 40)
    assert d.x_train.dtype == torch.float32 and d.num_classes == 10
    assert (d.y_train.bincount(minlength=10) + d.y_test.bincount(minlength=10)).tolist() == [20] * 10
    assert torch.equal(load("mnist1d", samples=200, seed=5).x_train, d.x_train)
    assert not torch.equal(load("mnist1d", samples=200, seed=6).x_train, d.x_train)


@pytest.mark.parametrize("name", TOYS)
def test_toys_are_2d_standardised_split_and_seeded(name):
    d = load(name, samples=500, test_fraction=0.3, seed=1)
    assert tuple(d.x_train.shape) == (350, 2) and tuple(d.x_test.shape) == (150, 2)
    assert d.x_train.mean(0).abs().max().item() < 1e-5 and d.x_train.std().item() == pytest.approx(1.0, rel=1e-3)
    assert d.num_classes == 2 and set(d.y_train.tolist()) == {0, 1}
    assert torch.equal(load(name, samples=500, test_fraction=0.3, seed=1).x_test, d.x_test)
    assert not torch.equal(load(name, samples=500, test_fraction=0.3, seed=2).x_test, d.x_test)


@pytest.mark.parametrize("name", TOYS)
def test_toy_labels_follow_the_points_and_noise_blurs_them(name):
    clean, noisy = load(name, samples=1000, noise=0.0), load(name, samples=1000, noise=3.0)
    assert nearest_neighbour_accuracy(clean) > 0.95
    assert nearest_neighbour_accuracy(noisy) < 0.8


@pytest.mark.parametrize("name", ["spiral", "gaussians"])
def test_spiral_and_gaussians_take_a_number_of_classes(name):
    d = load(name, samples=600, classes=5, noise=0.0)
    assert d.num_classes == 5 and (d.y_train.bincount() + d.y_test.bincount()).tolist() == [120] * 5
    assert nearest_neighbour_accuracy(d) > 0.9


def test_parity_bits_labels_are_the_parity_of_the_first_k_bits_only():
    d = load("parity_bits", bits=12, k=3, samples=2000, test_samples=500, seed=4)
    assert tuple(d.x_train.shape) == (2000, 12) and tuple(d.x_test.shape) == (500, 12)
    assert set(d.x_train.unique().tolist()) == {-1.0, 1.0} and d.num_classes == 2
    x, y = torch.cat([d.x_train, d.x_test]), torch.cat([d.y_train, d.y_test])
    assert torch.equal(y, (x[:, :3].prod(1) < 0).long())
    assert 0.45 < y.float().mean().item() < 0.55
    # A parity of 3 bits is uncorrelated with every single bit (and every pair).
    assert (x * (2 * y[:, None] - 1).float()).mean(0).abs().max().item() < 0.1


def linear_fit(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Least-squares weights (outputs, inputs) and the share of y's variance they explain."""
    w = torch.linalg.lstsq(x.double(), y.double()).solution
    residual = y.double() - x.double() @ w
    return w.T, 1 - (residual.var(0).sum() / y.double().var(0).sum()).item()


def test_linear_teacher_targets_are_t_times_x_with_t_uniform_in_minus_one_one():
    d = load("teacher", kind="linear", samples=300, test_samples=100, seed=2)
    assert d.regression and d.num_classes == 0 and tuple(d.y_test.shape) == (100, 10)
    assert d.x_train.std().item() == pytest.approx(1.0, abs=0.05)
    t, explained = linear_fit(d.x_train, d.y_train)
    assert tuple(t.shape) == (10, 30) and explained > 0.999999
    assert t.abs().max().item() <= 1.0 and t.abs().max().item() > 0.9
    assert torch.allclose(d.x_test.double() @ t.T, d.y_test.double(), atol=1e-4)  # one teacher for both splits
    assert not torch.equal(load("teacher", samples=300, test_samples=100, seed=3).y_train, d.y_train)


def test_nonlinear_teacher_targets_are_far_from_linear_but_not_flat():
    d = load("teacher", kind="nonlinear", samples=4000, test_samples=100, seed=0)
    assert tuple(d.y_train.shape) == (4000, 10) and d.regression
    _, explained = linear_fit(torch.cat([d.x_train, torch.ones(4000, 1)], 1), d.y_train)
    assert 0.3 < explained < 0.85
    assert d.y_train.std(0).min().item() > 0.2


def test_regression_and_toys_train_end_to_end():
    base = {"model": {"name": "mlp", "hidden": [64]}, "device": "cpu", "seed": 0}
    teacher = explorer.train({**base, "data": {"name": "teacher", "samples": 2000},
                              "train": {"epochs": 3, "loss": "mse"}})
    assert teacher.final["test_loss"] < 1.0  # predicting 0 costs var(y) = 30 · var(U[-1, 1]) = 10
    moons = explorer.train({**base, "data": {"name": "moons"}, "train": {"epochs": 3}})
    assert moons.final["test_acc"] > 0.85


# ----------------------------------------------------------------------------------------------
# The MNIST family and CIFAR-10 from a data folder.


def label_coded_images(labels: np.ndarray) -> np.ndarray:
    """28×28 images whose every pixel is 20 × label, so an image says which label it belongs to."""
    return np.repeat(labels[:, None, None] * 20, 28 * 28).reshape(-1, 28, 28)


@pytest.mark.parametrize("name, folder", [("fashion_mnist", "FashionMNIST"), ("kmnist", "KMNIST")])
def test_fashion_mnist_and_kmnist_are_read_like_mnist_from_their_folders(tmp_path, name, folder):
    train_labels, test_labels = np.arange(40) % 10, np.arange(12)[::-1] % 10
    write_idx(tmp_path / folder / "raw", "train", label_coded_images(train_labels), train_labels)
    write_idx(tmp_path / folder / "raw", "t10k", label_coded_images(test_labels), test_labels)
    d = load(name, root=str(tmp_path), test_samples=10)
    assert tuple(d.x_train.shape) == (40, 1, 28, 28) and tuple(d.x_test.shape) == (10, 1, 28, 28)
    assert d.y_test.tolist() == test_labels[:10].tolist() and d.num_classes == 10
    assert abs(d.x_train.mean().item()) < 1e-5 and d.x_train.std().item() == pytest.approx(1.0, rel=1e-3)
    # Pixels still match labels, and the test images use the train statistics.
    assert torch.equal(d.x_test[:, 0, 0, 0], d.x_train[:10, 0, 0, 0][d.y_test])


@pytest.mark.parametrize("name, folder", [("fashion_mnist", "FashionMNIST"), ("kmnist", "KMNIST"),
                                          ("cifar10", "cifar-10-batches-py")])
def test_missing_datasets_offline_say_which_folder_and_files(tmp_path, monkeypatch, name, folder):
    offline(monkeypatch)
    with pytest.raises(DatasetNotFound) as err:
        load(name, root=str(tmp_path / "empty"))
    message = str(err.value)
    assert str(tmp_path / "empty" / folder) in message and "could not be downloaded" in message
    assert "\n" not in message and "network is unreachable" in message  # one line, torchvision's mirrors left out
    assert ("data_batch_1" in message and "test_batch" in message) if name == "cifar10" else (
        "train-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message)


def test_missing_notmnist_is_not_downloaded_and_names_its_two_files(tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("notMNIST has no download to try")
    monkeypatch.setattr("urllib.request.urlopen", no_download)
    with pytest.raises(DatasetNotFound, match="cannot be downloaded") as err:
        load("notmnist", root=str(tmp_path))
    assert str(tmp_path / "notMNIST" / "raw") in str(err.value)
    assert "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz" in str(err.value)


def test_notmnist_is_split_by_class_deterministically_and_keeps_images_with_labels(tmp_path):
    labels = np.arange(100) % 10
    write_idx(tmp_path / "notMNIST" / "raw", "t10k", label_coded_images(labels), labels)
    d = load("notmnist", root=str(tmp_path), test_fraction=0.3)
    assert d.y_train.bincount().tolist() == [7] * 10 and d.y_test.bincount().tolist() == [3] * 10
    pixel = torch.cat([d.x_train, d.x_test])[:, 0, 14, 14]
    label = torch.cat([d.y_train, d.y_test])
    assert all(len(pixel[label == c].unique()) == 1 for c in range(10))
    assert len(pixel.unique()) == 10 and torch.equal(pixel.argsort(stable=True), label.argsort(stable=True))
    assert torch.equal(load("notmnist", root=str(tmp_path), test_fraction=0.3).y_test, d.y_test)
    # The first train_samples are a shuffle, not one letter.
    assert len(load("notmnist", root=str(tmp_path), train_samples=20).y_train.unique()) > 5


def test_real_notmnist_from_the_shared_folder(shared_data):
    d = load("notmnist", root=str(shared_data))
    assert d.num_train == 8000 and len(d.y_test) == 2000 and d.input_shape == (1, 28, 28)
    assert d.y_test.bincount().tolist() == [200] * 10
    train_rows = {hash(r.numpy().tobytes()) for r in d.x_train.flatten(1)[:2000]}
    assert sum(hash(r.numpy().tobytes()) in train_rows for r in d.x_test.flatten(1)) < 50


def write_cifar_batch(path, images: np.ndarray, labels: list[int], legacy_numpy: bool = False) -> None:
    """A batch pickled as CIFAR's are (protocol 2, rows of 3072 bytes: red, green, blue planes);
    ``legacy_numpy`` names numpy.core as pickles from numpy 1 (and the real files) do."""
    data = pickle.dumps({"batch_label": "test", "labels": labels, "data": images.reshape(len(images), -1),
                         "filenames": [f"{i}.png" for i in range(len(labels))]}, protocol=2)
    path.write_bytes(data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray") if legacy_numpy else data)


def cifar_folder(root, per_batch: int = 4, n_test: int = 6):
    """Batches whose image i has planes filled with i, 2i + 50 and 3i + 100 (red, green, blue)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def images(start: int, n: int) -> np.ndarray:
        i = np.arange(start, start + n, dtype=np.uint8)[:, None, None]
        return np.stack([np.broadcast_to(v, (n, 32, 32)) for v in (i, 2 * i + 50, 3 * i + 100)], 1).astype(np.uint8)
    for b in range(5):
        write_cifar_batch(folder / f"data_batch_{b + 1}", images(b * per_batch, per_batch),
                          [(b * per_batch + j) % 10 for j in range(per_batch)], legacy_numpy=b == 0)
    write_cifar_batch(folder / "test_batch", images(40, n_test), [9 - j for j in range(n_test)])
    return folder


def test_cifar10_is_read_from_its_pickles_in_channel_first_order(tmp_path):
    cifar_folder(tmp_path)
    d = load("cifar10", root=str(tmp_path))
    assert tuple(d.x_train.shape) == (20, 3, 32, 32) and tuple(d.x_test.shape) == (6, 3, 32, 32)
    assert d.y_train.tolist() == [i % 10 for i in range(20)] and d.y_test.tolist() == [9, 8, 7, 6, 5, 4]
    # Standardised per channel with the train statistics: the three planes become the same z-score.
    assert d.x_train.mean((0, 2, 3)).abs().max().item() < 1e-5
    assert torch.allclose(d.x_train.std((0, 2, 3)), torch.ones(3), rtol=1e-3)
    assert torch.allclose(d.x_train[:, 0], d.x_train[:, 2], atol=1e-4)
    assert (d.x_test[:, :, 0, 0] > d.x_train[:, :, 0, 0].max()).all()  # later images, larger values
    assert d.num_classes == 10 and load("cifar10", root=str(tmp_path), train_samples=7).num_train == 7


def test_cifar10_pickles_may_hold_numpy_arrays_and_nothing_else(tmp_path):
    folder = cifar_folder(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    (folder / "test_batch").write_bytes(pickle.dumps({"data": Evil(), "labels": []}, protocol=2))
    with pytest.raises(DatasetFileError, match="test_batch: not a CIFAR batch pickle .*should not name .*print"):
        load("cifar10", root=str(tmp_path))


# ----------------------------------------------------------------------------------------------
# The parity task.


def index_coded_mnist(root, n_train: int = 30, n_test: int = 20):
    """MNIST files whose train image i is filled with i (< 100) and test image j with 150 + j."""
    raw = root / "MNIST" / "raw"
    write_idx(raw, "train", np.repeat(np.arange(n_train), 784).reshape(-1, 28, 28), np.arange(n_train) % 10)
    write_idx(raw, "t10k", np.repeat(150 + np.arange(n_test), 784).reshape(-1, 28, 28), np.arange(n_test) % 10)


def test_parity_samples_are_k_base_images_side_by_side_labelled_by_the_parity_of_their_sum():
    d = load("parity", base="digits", k=3, train_samples=200, test_samples=50, seed=1)
    assert d.input_shape == (1, 8, 24) and d.num_classes == 2 and d.num_train == 200 and len(d.y_test) == 50
    assert tuple(d.slot_digits_train.shape) == (200, 3) and d.slot_digits_train.dtype == torch.int64
    assert torch.equal(d.y_train, d.slot_digits_train.sum(1) % 2)
    assert torch.equal(d.y_test, d.slot_digits_test.sum(1) % 2)
    for slot in range(3):
        part = d.x_train[..., 8 * slot:8 * (slot + 1)].flatten(1)
        nearest = torch.cdist(part, d.base_x_train.flatten(1), compute_mode="donot_use_mm_for_euclid_dist").min(1)
        assert nearest.values.max().item() < 1e-5  # every slot is a base train image…
        assert torch.equal(d.base_y_train[nearest.indices], d.slot_digits_train[:, slot])  # …of that digit
    assert 0.4 < d.y_train.float().mean().item() < 0.6


def test_parity_with_one_image_is_odd_or_even_and_defaults_to_the_digits_split():
    d = load("parity", base="digits", k=1)
    assert d.input_shape == (1, 8, 8) and d.num_train == 1438 and len(d.y_test) == 359
    assert torch.equal(d.y_train, d.slot_digits_train[:, 0] % 2)


def test_parity_resamples_deterministically_from_seed_and_epoch_from_the_right_splits(tmp_path):
    index_coded_mnist(tmp_path)
    d = load("parity", root=str(tmp_path), k=2, train_samples=100, test_samples=40, seed=3)
    assert d.num_train == 100 and d.input_shape == (1, 28, 56)  # more samples than the 30 base images
    epoch0 = (d.x_train.clone(), d.y_train.clone(), d.x_test.clone(), d.slot_digits_train.clone())
    assert d.x_train.max() < d.x_test.min()  # train from the base train split, test from the test split
    d.resample(1)
    assert not torch.equal(d.x_train, epoch0[0]) and not torch.equal(d.x_test, epoch0[2])
    epoch1 = d.x_train.clone()
    assert torch.equal(d.y_train, d.slot_digits_train.sum(1) % 2) and d.x_train.max() < d.x_test.min()
    d.resample(0)
    assert torch.equal(d.x_train, epoch0[0]) and torch.equal(d.y_train, epoch0[1])
    assert torch.equal(d.x_test, epoch0[2]) and torch.equal(d.slot_digits_train, epoch0[3])
    d.resample(1)
    assert torch.equal(d.x_train, epoch1)
    other_seed = load("parity", root=str(tmp_path), k=2, train_samples=100, test_samples=40, seed=4)
    assert not torch.equal(other_seed.x_train, epoch0[0])
    # Defaults: the base splits' sizes.
    full = load("parity", root=str(tmp_path))
    assert full.num_train == 30 and len(full.y_test) == 20 and full.input_shape == (1, 28, 84)


def test_parity_probe_is_fixed_across_calls_and_epochs_and_capped(tmp_path):
    index_coded_mnist(tmp_path)
    d = load("parity", root=str(tmp_path), k=3, train_samples=10, test_samples=10)
    x, y, extras = d.probe(500)
    assert tuple(x.shape) == (500, 1, 28, 84) and tuple(extras["slot_digits"].shape) == (500, 3)
    assert torch.equal(y, extras["slot_digits"].sum(1) % 2)
    assert x.min() > d.x_train.max()  # drawn from the base test split
    d.resample(5)
    x2, y2, extras2 = d.probe(500)
    assert torch.equal(x, x2) and torch.equal(y, y2) and torch.equal(extras["slot_digits"], extras2["slot_digits"])
    assert torch.equal(d.probe(20)[0], x[:20])
    assert len(d.probe(20_000)[1]) == 10_000
    assert not torch.equal(x[:10], d.x_test)  # its own draw, not the epoch's test set


def test_a_parity_dataset_moved_to_another_device_resamples_there():
    d = load_dataset(DataConfig("parity", {"base": "digits", "k": 2, "train_samples": 16, "test_samples": 8}), "cpu")
    moved = d.to("meta")
    assert isinstance(moved, ParityDataset) and moved.base_x_train.device.type == "meta"
    moved.resample(1)
    assert moved.x_train.device.type == "meta" and moved.slot_digits_test.device.type == "meta"
    assert tuple(moved.x_train.shape) == (16, 1, 8, 16) and moved.probe(4)[0].device.type == "meta"
    assert d.x_train.device.type == "cpu" and d.base_x_test.device.type == "cpu"


def test_training_on_parity_resamples_every_epoch(monkeypatch):
    epochs = []
    original = ParityDataset.resample
    monkeypatch.setattr(ParityDataset, "resample", lambda self, epoch: (epochs.append(epoch), original(self, epoch)))
    result = explorer.train({"data": {"name": "parity", "base": "digits", "k": 1}, "device": "cpu",
                             "model": {"name": "mlp", "hidden": [64]}, "train": {"epochs": 3}})
    assert sorted(set(epochs) - {0}) == [1, 2] and result.final["test_acc"] > 0.9


def test_an_mnist_file_that_is_not_idx_is_refused_naming_the_file(tmp_path):
    """torchvision's reader fails on a wrong magic number with a bare AssertionError; the error a
    person reads must name the file and its format instead."""
    import gzip

    from explorer.data import DatasetFileError

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "t10k"):
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{split}-{kind}-ubyte"
            (raw / f"{name}.gz").write_bytes(gzip.compress(b"not an idx file"))
            (raw / name).write_bytes(b"not an idx file")
    with pytest.raises(DatasetFileError, match=r"train-images-idx3-ubyte: magic number .* not an IDX magic number"):
        load_dataset(DataConfig("mnist", {"root": str(tmp_path)}), torch.device("cpu"))


def test_many_runs_reading_one_gz_at_once_all_read_it_and_write_nothing(tmp_path):
    """Runs started together (the Reproduce page, ``--parallel``) read the same .gz at once; each
    decompresses it as it reads, so none writes a file another could trip on."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(2)
    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw, "train", rng.integers(0, 256, (300, 28, 28)), np.arange(300) % 10)
    write_idx(raw, "t10k", rng.integers(0, 256, (50, 28, 28)), np.arange(50) % 10)
    before = sorted(p.name for p in raw.iterdir())
    with ThreadPoolExecutor(4) as pool:
        loaded = list(pool.map(lambda _: load("mnist", root=str(tmp_path)), range(4)))
    assert all(torch.equal(d.x_train, loaded[0].x_train) for d in loaded) and loaded[0].num_train == 300
    assert sorted(p.name for p in raw.iterdir()) == before
