"""Catalogue entries of 002_69c287ba4bc32ce9.txt: Thakkar, Patel & Patel, "Feedback Alignment
Methods" (slides of a student project that trained with BioTorch): BP, FA and DFA on MNIST with a
one-hidden-layer ANN and with a small CNN, test accuracy and loss.

The slides give the networks and the numbers only. The rest is BioTorch's usual MNIST recipe,
shortened to match an ANN that reaches only 93.5% with BP: cross-entropy, SGD, batch 64, a few epochs.

Example:
    >>> [e.id for e in ENTRIES]
    ['thakkar-ann', 'thakkar-cnn']
    >>> [r.label for r in ENTRIES[1].runs]
    ['BP', 'FA', 'DFA']
"""

from __future__ import annotations

from explorer.experiments.catalogue.entry import Entry, Published, Run, Scale

SOURCE = "002_69c287ba4bc32ce9.txt"
TITLE = "Thakkar, Patel & Patel, \"Feedback Alignment Methods\""  # how pages name the document

_RUNS = tuple(Run(label, {"algorithm.name": label.lower()}) for label in ("BP", "FA", "DFA"))
_TRAIN = {"epochs": 5, "batch_size": 64, "loss": "cross_entropy"}
_SGD = {"name": "sgd", "lr": 0.01, "momentum": 0.9}
_SMOKE = {"data.train_samples": 256, "data.test_samples": 128, "train.epochs": 1}


def _values(rows: dict[str, tuple[float, float]]) -> tuple[Published, ...]:
    """(test accuracy %, loss) per run; each loss with a tolerance of half its value: the slides do
    not say which loss (test or train, last batch or epoch mean) they print, and FA's and DFA's CNN
    losses (157, 32) are the kind that depend on how far the logits grew, not on a point or two."""
    return tuple(p for label, (acc, loss) in rows.items()
                 for p in (Published(label, "test_acc", acc),
                           Published(label, "test_loss", loss, tolerance=round(loss / 2, 4))))


def _entry(kind: str, title: str, model: dict, rows: dict[str, tuple[float, float]], classroom: tuple[int, int, int],
           notes: str) -> Entry:
    """The slides' "Results on ``kind``" table: BP, FA and DFA on MNIST with ``model``; ``classroom`` is
    (train images, test images, epochs)."""
    train_samples, test_samples, epochs = classroom
    return Entry(
        f"thakkar-{kind.lower()}", SOURCE, f"Results on {kind}", title,
        {"data": {"name": "mnist"}, "model": model, "algorithm": {"name": "bp"}, "init": {"name": "default"},
         "optimizer": dict(_SGD), "train": dict(_TRAIN)},
        _RUNS, _values(rows), tolerance=2.0,
        classroom=Scale({"data.train_samples": train_samples, "data.test_samples": test_samples,
                         "train.epochs": epochs},
                        f"{epochs} epochs of {train_samples:,} images ({test_samples:,} test) instead of 5 of 60,000"),
        smoke=Scale(dict(_SMOKE), "1 epoch of 256 images (128 test) instead of 5 of 60,000"),
        notes=notes)


ENTRIES: tuple[Entry, ...] = (
    _entry("ANN", "One hidden layer of 50 units on MNIST: FA and DFA match BP's accuracy at a higher loss",
           {"name": "mlp", "hidden": [50], "activation": "relu"},
           {"BP": (93.49, 0.2523), "FA": (94.12, 0.9604), "DFA": (95.0, 0.7926)}, (20_000, 5_000, 3),
           "The slides give '1 hidden layer with 50 neurons', MNIST, BioTorch (BioModule(..., mode='dfa')) "
           "and the table only. Chosen: ReLU, PyTorch's default initialisers (BioTorch's own feedback "
           "initialisers may differ), cross-entropy, SGD lr 0.01 momentum 0.9, batch 64, 5 epochs. With one "
           "hidden layer FA and DFA are the same rule (one feedback matrix from the output error to the hidden "
           "layer): our two runs draw the same B and agree exactly, where the slides' differ (94.12% and 95.0%) "
           "by their own draws. Which 'Loss' the table prints is not said; we compare it with the test loss, "
           "with a tolerance of half the published value. Single seed published: 2 points on accuracy."),
    _entry("CNN", "A CNN of 3 convolutions and 2 linear layers on MNIST: FA and DFA lag BP, with exploding losses",
           {"name": "lenet5", "activation": "tanh"},
           {"BP": (97.0, 0.084), "FA": (90.34, 157.07), "DFA": (92.87, 31.87)}, (8_000, 2_000, 2),
           "'CNN with 3 convolutional layers and 2 linear layers', its file named LeNetMNIST: our lenet5 "
           "(convolutions 6/16/120 of 5×5 with average pools, then FC 84 and the output layer; tanh) on 28×28 "
           "inputs (the first convolution padded). Their channel counts, pools and activation are not given. "
           "Training as thakkar-ann (chosen, not given): cross-entropy, SGD lr 0.01 momentum 0.9, batch 64, 5 "
           "epochs. FA's loss of 157 and DFA's of 32 beside 90% accuracy say that their logits grew large; the "
           "loss compared is the test loss, with a tolerance of half the published value."),
)
