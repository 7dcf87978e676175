"""Damaged data files are refused at load, before any step, naming the file and what is wrong, and
leave nothing behind (issue 15, item 1).

Every case writes a dataset folder in the real format (MNIST's gzip'd IDX files, CIFAR-10's
pickled batches) with bytes built here, independently of the readers, then damages one file. The
load must raise `DatasetFileError` whose message holds the damaged file's path and the fault, and
the folder must hold exactly what it held before. A fuzz walk checks the class: cut, flipped or
padded bytes anywhere either load the data written or raise `DatasetFileError`, nothing else.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct

import numpy as np
import pytest
import torch

import explorer
from explorer.config import DataConfig, RunConfig
from explorer.data import DatasetError, DatasetFileError, DatasetNotFound, load_dataset
from explorer.data.idx import read_idx
from explorer.data.idxfile import read_idx_file
from explorer.data.vision import find_or_download
from tests.test_datasets import offline

N_TRAIN, N_TEST = 30, 10


# ----------------------------------------------------------------------------------------------
# Files in the real formats, written byte by byte.


def idx_bytes(values: np.ndarray, magic: int | None = None, count: int | None = None,
              dims: tuple[int, ...] | None = None) -> bytes:
    """IDX of unsigned bytes: magic 0x08 << 8 | ndim, big-endian sizes, the values. The keyword
    arguments overwrite what the header says (to lie about the body)."""
    ndim = values.ndim
    sizes = (len(values) if count is None else count, *(values.shape[1:] if dims is None else dims))
    head = struct.pack(">I", 0x800 | ndim if magic is None else magic) + struct.pack(f">{len(sizes)}I", *sizes)
    return head + values.astype(np.uint8).tobytes()


def images_of(n: int, offset: int = 0) -> np.ndarray:
    return ((np.arange(n)[:, None, None] + offset) * 7 % 256 * np.ones((1, 28, 28))).astype(np.uint8)


def labels_of(n: int) -> np.ndarray:
    return (np.arange(n) * 3 % 10).astype(np.uint8)


def idx_folder(root, folder: str = "MNIST", splits: tuple[str, ...] = ("train", "t10k")):
    """``root/folder/raw`` with valid gzip'd IDX files for ``splits``: its path."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    for split in splits:
        n = N_TRAIN if split == "train" else N_TEST
        (raw / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images_of(n))))
        (raw / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels_of(n))))
    return raw


def cifar_rows(n: int) -> np.ndarray:
    return (np.arange(n)[:, None] + np.arange(3072)[None, :] % 251).astype(np.uint8)


def cifar_batch(data: object = None, labels: object = None, n: int = 4, **extra) -> bytes:
    """A CIFAR batch as the real files hold one: a pickled dict, protocol 2."""
    entry = {"batch_label": "b", "data": cifar_rows(n) if data is None else data,
             "labels": [i % 10 for i in range(n)] if labels is None else labels, **extra}
    return pickle.dumps({k: v for k, v in entry.items() if v is not _DROP}, protocol=2)


_DROP = object()


def cifar_folder(root):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(cifar_batch())
    return folder


def tree(root) -> dict[str, str]:
    """Every path under ``root`` with a digest of its bytes ("dir" for folders)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = "dir"
        for f in filenames:
            p = os.path.join(dirpath, f)
            regular = os.path.isfile(p) and not os.path.islink(p)  # not a pipe, nor a link to a device
            out[os.path.relpath(p, root)] = hashlib.sha1(open(p, "rb").read()).hexdigest() if regular else "special"
    return out


def refused(cfg: DataConfig, root, file, *fragments: str) -> str:
    """Loads ``cfg`` expecting `DatasetFileError` naming ``file`` and every fragment, with the tree
    under ``root`` unchanged; returns the message."""
    before = tree(root)
    with pytest.raises(DatasetFileError) as err:
        load_dataset(cfg, "cpu")
    message = str(err.value)
    assert str(file) in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert tree(root) == before
    return message


# ----------------------------------------------------------------------------------------------
# The MNIST family.

TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"
VALID_GZ_IMAGES = gzip.compress(idx_bytes(images_of(N_TRAIN)))

IDX_CASES = [
    # (case, file, its new bytes, fragments the message must hold)
    ("truncated gzip", TRAIN_IMAGES, VALID_GZ_IMAGES[:len(VALID_GZ_IMAGES) // 2], ["gzip stream is cut short"]),
    ("not gzip", TRAIN_IMAGES, b"<html>404 not found</html>" * 10, ["not a gzip file"]),
    ("empty file", TRAIN_LABELS, b"", ["the file is empty"]),
    ("empty gzip", TEST_LABELS, gzip.compress(b""), ["the file is empty"]),
    ("labels magic in an images file", TRAIN_IMAGES, gzip.compress(idx_bytes(labels_of(N_TRAIN))),
     ["magic number 2049", "start with 2051"]),
    ("images in a labels file", TRAIN_LABELS, VALID_GZ_IMAGES, ["magic number 2051", "start with 2049"]),
    ("text magic", TEST_IMAGES, gzip.compress(b"P5 28 28 255\n" + bytes(800)), ["not an IDX magic number"]),
    ("int32 values", TRAIN_LABELS, gzip.compress(idx_bytes(labels_of(N_TRAIN), magic=0x0C01)),
     ["not unsigned bytes"]),
    ("header cut", TRAIN_IMAGES, gzip.compress(struct.pack(">IH", 0x803, 7)), ["ends inside its header (6 of 16"]),
    ("32x32 images", TRAIN_IMAGES,
     gzip.compress(idx_bytes(np.zeros((N_TRAIN, 32, 32), np.uint8))), ["are 32×32", "28×28"]),
    ("60,000 declared over a short body", TRAIN_IMAGES,
     gzip.compress(idx_bytes(images_of(N_TRAIN), count=60_000)),
     ["declares 60,000 images (47,040,000 bytes)", f"{N_TRAIN} whole images"]),
    ("more bytes than declared", TEST_IMAGES, gzip.compress(idx_bytes(images_of(N_TEST)) + b"\0" * 100),
     ["more bytes follow the 10 images"]),
    ("no images", TEST_IMAGES, gzip.compress(idx_bytes(np.zeros((0, 28, 28), np.uint8))), ["declares no images"]),
    ("billions declared", TRAIN_LABELS, gzip.compress(idx_bytes(labels_of(5), count=2**32 - 1)),
     ["4,294,967,295 labels", "at most 1,000,000"]),
    ("fewer labels than images", TRAIN_LABELS, gzip.compress(idx_bytes(labels_of(N_TRAIN - 20))),
     [f"10 labels for {N_TRAIN} images in {TRAIN_IMAGES}"]),
    ("more labels than images", TEST_LABELS, gzip.compress(idx_bytes(labels_of(N_TEST * 6))),
     [f"60 labels for {N_TEST} images in {TEST_IMAGES}"]),
    ("a label of 200", TRAIN_LABELS, gzip.compress(idx_bytes(np.r_[labels_of(5), 200, labels_of(N_TRAIN - 6)])),
     ["label 200 at position 5", "0..9"]),
    ("damaged deflate stream", TRAIN_IMAGES,
     VALID_GZ_IMAGES[:40] + bytes(b ^ 0xFF for b in VALID_GZ_IMAGES[40:80]) + VALID_GZ_IMAGES[80:], ["damaged"]),
]


@pytest.mark.parametrize("case, name, content, fragments", IDX_CASES, ids=[c[0] for c in IDX_CASES])
def test_a_damaged_mnist_file_is_refused_naming_it_and_leaves_nothing(tmp_path, case, name, content, fragments):
    raw = idx_folder(tmp_path)
    (raw / name).write_bytes(content)
    refused(DataConfig("mnist", {"root": str(tmp_path)}), tmp_path, raw / name, *fragments)


def test_the_undamaged_folder_loads_with_the_values_written(tmp_path):
    """The cases above are damage to this folder, which loads: the refusals are the damage's."""
    idx_folder(tmp_path)
    d = load_dataset(DataConfig("mnist", {"root": str(tmp_path)}), "cpu")
    assert d.num_train == N_TRAIN and d.y_train.tolist() == labels_of(N_TRAIN).tolist()
    assert d.y_test.tolist() == labels_of(N_TEST).tolist()
    pixels = d.x_train[:, 0, 0, 0]
    assert torch.equal(pixels.argsort(stable=True), torch.tensor(images_of(N_TRAIN)[:, 0, 0]).argsort(stable=True))


def test_an_unpacked_file_beside_its_gz_is_read_and_checked_first(tmp_path):
    raw = idx_folder(tmp_path)
    (raw / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(N_TRAIN, 11, np.uint8)))
    refused(DataConfig("mnist", {"root": str(tmp_path)}), tmp_path, raw / "train-labels-idx1-ubyte",
            "label 11 at position 0", f"{N_TRAIN} labels lie outside 0..9")


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_a_folder_pipe_or_device_where_a_file_should_be_is_named_not_read(tmp_path, name):
    """A named pipe would make the reader wait for a writer forever, /dev/zero never ends."""
    folder = idx_folder(tmp_path) if name == "mnist" else cifar_folder(tmp_path)
    cfg = DataConfig(name, {"root": str(tmp_path)})
    for make, kind in ((os.mkdir, "a folder"), (os.mkfifo, "a named pipe"),
                       (lambda p: os.symlink("/dev/zero", p), "a character device")):
        target = folder / (TEST_LABELS if name == "mnist" else "data_batch_2")
        original = target.read_bytes()
        target.unlink()
        make(target)
        refused(cfg, tmp_path, target, f"not a regular file ({kind})")
        os.rmdir(target) if target.is_dir() and not target.is_symlink() else target.unlink()
        target.write_bytes(original)


@pytest.mark.parametrize("name, folder", [("fashion_mnist", "FashionMNIST"), ("kmnist", "KMNIST")])
def test_the_whole_mnist_family_is_checked(tmp_path, name, folder):
    raw = idx_folder(tmp_path, folder)
    (raw / TEST_LABELS).write_bytes(gzip.compress(idx_bytes(labels_of(N_TEST - 1))))
    refused(DataConfig(name, {"root": str(tmp_path)}), tmp_path, raw / TEST_LABELS,
            f"9 labels for {N_TEST} images in {TEST_IMAGES}")


def test_notmnist_is_checked_before_it_is_split(tmp_path):
    raw = idx_folder(tmp_path, "notMNIST", ("t10k",))
    (raw / TEST_LABELS).write_bytes(gzip.compress(idx_bytes(np.r_[labels_of(N_TEST - 1), 10])))
    refused(DataConfig("notmnist", {"root": str(tmp_path)}), tmp_path, raw / TEST_LABELS,
            f"label 10 at position {N_TEST - 1:,}")


def test_parity_on_damaged_mnist_is_refused_too(tmp_path):
    raw = idx_folder(tmp_path)
    (raw / TRAIN_IMAGES).write_bytes(VALID_GZ_IMAGES[:100])
    refused(DataConfig("parity", {"root": str(tmp_path), "k": 2}), tmp_path, raw / TRAIN_IMAGES, "cut short")


# ----------------------------------------------------------------------------------------------
# CIFAR-10.


class Payload:
    """What a hostile pickle would run: make a folder (the test checks it is never made)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


CIFAR_CASES = [
    ("empty file", lambda m: b"", ["not a CIFAR batch pickle", "EOFError"]),
    ("not a pickle", lambda m: b"\x89PNG\r\n\x1a\n" + bytes(200), ["not a CIFAR batch pickle"]),
    ("truncated pickle", lambda m: cifar_batch()[:5000], ["not a CIFAR batch pickle"]),
    ("code in the pickle", lambda m: pickle.dumps({"data": Payload(m), "labels": []}, protocol=2),
     ["should not name posix.mkdir"]),
    ("bytes after the pickle", lambda m: cifar_batch() + b"\0" * 10, ["10 bytes follow the end of its pickle"]),
    ("a list", lambda m: pickle.dumps([1, 2, 3], protocol=2), ["holds a list, not a CIFAR batch"]),
    ("no data", lambda m: cifar_batch(data=_DROP), ["a CIFAR batch has 'data'", "'batch_label', 'labels'"]),
    ("no labels", lambda m: cifar_batch(labels=_DROP, fine_labels=[0, 1, 2, 3]), ["a CIFAR batch has 'labels'"]),
    ("float64 data", lambda m: cifar_batch(data=cifar_rows(4).astype(np.float64) * 1.5),
     ["'data' holds float64 values", "uint8"]),
    ("a list for data", lambda m: cifar_batch(data=[[0] * 3072] * 4), ["'data' is a list, not a numpy array"]),
    ("rows of 1024", lambda m: cifar_batch(data=np.zeros((4, 1024), np.uint8)), ["'data' has shape (4, 1024)"]),
    ("images as 4-D", lambda m: cifar_batch(data=np.zeros((4, 3, 32, 32), np.uint8)),
     ["'data' has shape (4, 3, 32, 32)", "N×3072"]),
    ("no images", lambda m: cifar_batch(data=np.zeros((0, 3072), np.uint8), labels=[]), ["'data' has shape (0, 3072)"]),
    ("fewer labels", lambda m: cifar_batch(labels=[1, 2, 3]), ["3 labels for 4 images"]),
    ("a label of 10", lambda m: cifar_batch(labels=[0, 1, 10, 3]), ["label 10 at position 2", "0..9"]),
    ("a negative label", lambda m: cifar_batch(labels=[0, -1, 2, 3]), ["label -1 at position 1"]),
    ("a label past int64", lambda m: cifar_batch(labels=[0, 1, 2**70, 3]), [f"label {2**70} at position 2"]),
    ("float labels", lambda m: cifar_batch(labels=[0.0, 1.5, 2.0, 3.0]), ["labels hold float64 values"]),
    ("text labels", lambda m: cifar_batch(labels="0123"), ["labels have shape ()"]),
    ("nested labels", lambda m: cifar_batch(labels=[[0, 1], [2, 3]]), ["labels have shape (2, 2)"]),
]


@pytest.mark.parametrize("case, content, fragments", CIFAR_CASES, ids=[c[0] for c in CIFAR_CASES])
@pytest.mark.parametrize("batch", ["data_batch_3", "test_batch"])
def test_a_damaged_cifar_batch_is_refused_naming_it_and_leaves_nothing(tmp_path, case, content, fragments, batch):
    folder = cifar_folder(tmp_path / "data")
    marker = tmp_path / "pwned"
    (folder / batch).write_bytes(content(marker))
    refused(DataConfig("cifar10", {"root": str(tmp_path / "data")}), tmp_path, folder / batch, *fragments)
    assert not marker.exists()  # no pickled code ran


def test_a_cifar_batch_larger_than_the_cap_is_refused_before_it_is_unpickled(tmp_path, monkeypatch):
    folder = cifar_folder(tmp_path)
    unpickled = []
    monkeypatch.setattr("explorer.data.cifar.MOST_BYTES", len(cifar_batch()) - 1)
    monkeypatch.setattr("explorer.data.cifar._ArrayUnpickler.load", lambda self: unpickled.append(1))
    refused(DataConfig("cifar10", {"root": str(tmp_path)}), tmp_path, folder / "data_batch_1",
            f"{len(cifar_batch()):,} bytes; a CIFAR batch here holds at most")
    assert unpickled == []


def test_cifar_batches_with_bytes_keys_or_label_arrays_load(tmp_path):
    """What the checks accept: keys as str (Python 2's pickles) or bytes, labels a list or an int array."""
    folder = cifar_folder(tmp_path)
    (folder / "data_batch_2").write_bytes(pickle.dumps({b"data": cifar_rows(4), b"labels": [9, 8, 7, 6]}))
    (folder / "test_batch").write_bytes(cifar_batch(labels=np.array([5, 4, 3, 2], np.int32)))
    d = load_dataset(DataConfig("cifar10", {"root": str(tmp_path)}), "cpu")
    assert d.y_train[4:8].tolist() == [9, 8, 7, 6] and d.y_test.tolist() == [5, 4, 3, 2]
    assert d.num_train == 20 and d.input_shape == (3, 32, 32)


# ----------------------------------------------------------------------------------------------
# The class of fault: any cut, flip or padding of any file.


def outcomes(load, path, rng, rounds: int) -> set[str]:
    """Damages ``path`` ``rounds`` times (cut at a random length, one byte flipped, bytes appended);
    each load must return data or raise `DatasetFileError` naming ``path``. What happened, by kind."""
    original = path.read_bytes()
    seen = set()
    for _ in range(rounds):
        kind = rng.choice(["cut", "flip", "pad"])
        content = bytearray(original)
        if kind == "cut":
            content = content[:rng.integers(0, len(content))]
        elif kind == "flip":
            content[rng.integers(0, len(content))] ^= 1 << int(rng.integers(0, 8))
        else:
            content += bytes(rng.integers(0, 256, int(rng.integers(1, 50)), dtype=np.uint8))
        path.write_bytes(bytes(content))
        try:
            load()
            seen.add(f"{kind}: loaded")
        except DatasetFileError as err:
            assert str(path) in str(err)
            seen.add(f"{kind}: refused")
    path.write_bytes(original)
    return seen


def test_random_damage_to_any_idx_file_loads_or_is_refused_naming_it(tmp_path):
    raw = idx_folder(tmp_path)
    for f in (TRAIN_LABELS, TEST_IMAGES):  # an unpacked copy, read in place of its .gz
        (raw / f.removesuffix(".gz")).write_bytes(gzip.decompress((raw / f).read_bytes()))
    rng = np.random.default_rng(15)
    cfg = DataConfig("mnist", {"root": str(tmp_path)})
    seen = set()
    for name in (TRAIN_IMAGES, "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", TEST_LABELS):
        seen |= outcomes(lambda: load_dataset(cfg, "cpu"), raw / name, rng, 30)
    assert {"cut: refused", "flip: refused", "pad: refused"} <= seen


def test_random_damage_to_a_cifar_batch_loads_or_is_refused_naming_it(tmp_path):
    folder = cifar_folder(tmp_path)
    rng = np.random.default_rng(16)
    cfg = DataConfig("cifar10", {"root": str(tmp_path)})
    seen = outcomes(lambda: load_dataset(cfg, "cpu"), folder / "test_batch", rng, 60)
    assert {"cut: refused", "flip: refused", "pad: refused"} <= seen


# ----------------------------------------------------------------------------------------------
# Downloads that fail, and the run that never starts.


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_a_failed_download_leaves_no_folders_behind(tmp_path, monkeypatch, name):
    """torchvision makes ``<root>/MNIST/raw`` (or ``<root>``) before it downloads; offline, those
    folders go again, and what was in the data folder before stays."""
    offline(monkeypatch)
    (tmp_path / "mine.txt").write_text("kept")
    for root in (tmp_path / "new" / "data", tmp_path):
        with pytest.raises(DatasetNotFound, match="could not be downloaded"):
            load_dataset(DataConfig(name, {"root": str(root)}), "cpu")
        assert tree(tmp_path) == {"mine.txt": hashlib.sha1(b"kept").hexdigest()}


def test_a_download_that_fails_midway_removes_what_it_wrote_and_only_that(tmp_path):
    raw = tmp_path / "Mine" / "raw"
    raw.mkdir(parents=True)
    (raw / "a.gz").write_bytes(b"the user's own")

    def partial():
        (raw / "b.gz.part").write_bytes(b"half a file")
        (tmp_path / "archive.tar.gz").write_bytes(b"half an archive")
        (raw / "extracted").mkdir()
        (raw / "extracted" / "x").write_bytes(b"x")
        raise OSError("connection reset")
    with pytest.raises(DatasetNotFound, match="connection reset"):
        find_or_download("Mine", tmp_path, "Mine/raw", ("a.gz", "b.gz"), lambda: None, partial)
    kept = hashlib.sha1(b"the user's own").hexdigest()
    assert tree(tmp_path) == {"Mine": "dir", "Mine/raw": "dir", "Mine/raw/a.gz": kept}


def test_a_run_on_a_damaged_file_is_refused_before_any_step(tmp_path, monkeypatch):
    raw = idx_folder(tmp_path)
    (raw / TRAIN_LABELS).write_bytes(gzip.compress(idx_bytes(np.r_[200, labels_of(N_TRAIN - 1)])))
    steps = []
    monkeypatch.setattr(explorer.Trainer, "step", lambda self: steps.append(1))
    cfg = {"data": {"name": "mnist", "root": str(tmp_path)}, "model": {"name": "mlp", "hidden": [8]},
           "train": {"epochs": 1, "batch_size": 10}, "device": "cpu"}
    for start in (explorer.train, explorer.Trainer, explorer.build):
        with pytest.raises(DatasetError, match=f"{raw / TRAIN_LABELS}: label 200 at position 0"):
            start(RunConfig.from_dict(cfg))
    assert steps == []


def test_real_mnist_reads_as_torchvisions_reader_reads_it(shared_data):
    """The checking reader, from the .gz, gives torchvision's values for the real files."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    raw = shared_data / "MNIST" / "raw"
    if not (raw / "t10k-images-idx3-ubyte").exists():
        pytest.skip("no unpacked MNIST files to compare with")
    images, labels = read_idx("mnist", DataConfig("mnist", {"root": str(shared_data)}))["t10k"]
    assert torch.equal(images[:, 0], read_image_file(str(raw / "t10k-images-idx3-ubyte")))
    assert torch.equal(labels, read_label_file(str(raw / "t10k-labels-idx1-ubyte")))
    assert torch.equal(read_idx_file(raw / TEST_IMAGES, (28, 28)), images[:, 0])
