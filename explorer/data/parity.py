"""The parity task: k digit images side by side, labelled by the parity of the sum of their digits,
with train and test sets drawn afresh every epoch from a base dataset (MNIST or the 8×8 digits)."""

from __future__ import annotations

import numpy as np
import torch

from explorer.config import ConfigError, DataConfig
from explorer.data.base import Dataset
from explorer.data.embedded import load_digits
from explorer.data.idx import load_mnist_like
from explorer.data.splits import seed_of

PROBE_SIZE = 10_000  # the most samples `ParityDataset.probe` hands out
_TRAIN, _TEST, _PROBE = 0, 1, 2  # independent random streams per (seed, stream, epoch)


def _generator(seed: int, stream: int, epoch: int) -> torch.Generator:
    """A CPU generator for one (seed, stream, epoch): the same draws on every device."""
    state = np.random.SeedSequence([seed, stream, epoch]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


class ParityDataset(Dataset):
    """k base images concatenated along the width, (C, H, k·W); label = (sum of their digits) % 2.

    Keeps the base splits (``base_x_*`` images, ``base_y_*`` digits) on the dataset's device, so a
    resample is one random index draw and one gather. ``slot_digits_train`` / ``slot_digits_test``
    (N, k) int64 hold each sample's digits, slot by slot from the left.

    Example:
        >>> base = Dataset("b", torch.arange(4.0).reshape(4, 1, 1, 1), torch.arange(4),
        ...                torch.arange(4.0).reshape(4, 1, 1, 1), torch.arange(4), num_classes=4)
        >>> d = ParityDataset(base, k=2, train_samples=5, test_samples=3, seed=0)
        >>> d.input_shape, bool((d.x_train.flatten(1) == d.slot_digits_train).all())
        ((1, 1, 2), True)
        >>> bool((d.y_train == d.slot_digits_train.sum(1) % 2).all())
        True
    """

    def __init__(self, base: Dataset, k: int, train_samples: int, test_samples: int, seed: int) -> None:
        self.base_x_train, self.base_y_train = base.x_train, base.y_train
        self.base_x_test, self.base_y_test = base.x_test, base.y_test
        self.k, self.train_samples, self.test_samples, self.seed = k, train_samples, test_samples, seed
        self.probe_index = self._indices(len(base.y_test), PROBE_SIZE, _PROBE, 0)
        x_train, y_train, self.slot_digits_train = self._draw(_TRAIN, 0)
        x_test, y_test, self.slot_digits_test = self._draw(_TEST, 0)
        super().__init__("parity", x_train, y_train, x_test, y_test, num_classes=2)
        self.epoch = 0

    def _indices(self, size: int, n: int, stream: int, epoch: int) -> torch.Tensor:
        g = _generator(self.seed, stream, epoch)
        return torch.randint(0, size, (n, self.k), generator=g).to(self.base_x_train.device)

    def _compose(self, images: torch.Tensor, digits: torch.Tensor,
                 index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Samples from base ``index`` (N, k): inputs (N, C, H, k·W), labels, slot digits."""
        n, (c, h, w) = len(index), images.shape[1:]
        x = images[index].permute(0, 2, 3, 1, 4).reshape(n, c, h, self.k * w)
        slots = digits[index]
        return x, slots.sum(1) % 2, slots

    def _draw(self, stream: int, epoch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        images, digits, n = ((self.base_x_train, self.base_y_train, self.train_samples) if stream == _TRAIN
                             else (self.base_x_test, self.base_y_test, self.test_samples))
        return self._compose(images, digits, self._indices(len(digits), n, stream, epoch))

    def resample(self, epoch: int) -> None:
        """Draw ``epoch``'s train and test sets (with replacement, from the base train and test
        splits), in place; the same (seed, epoch) always gives the same sets."""
        self.x_train, self.y_train, self.slot_digits_train = self._draw(_TRAIN, epoch)
        self.x_test, self.y_test, self.slot_digits_test = self._draw(_TEST, epoch)
        self.epoch = epoch

    def probe(self, n: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """The first ``min(n, 10,000)`` samples of a fixed set drawn once from the base test split
        with its own seed: the same at every call, whatever the epoch. Extras: ``slot_digits``."""
        x, y, slots = self._compose(self.base_x_test, self.base_y_test, self.probe_index[:n])
        return x, y, {"slot_digits": slots}


def load_parity(cfg: DataConfig) -> Dataset:
    """The parity task on ``base`` "mnist" (from ``root``, as ``mnist``) or "digits" (the digits
    dataset's own split, seed 0) with ``k`` images per sample (default 3). ``train_samples`` and
    ``test_samples`` default to the base splits' sizes; ``seed`` (0) fixes every epoch's draws.
    Inputs are the base images as their loader standardised them, placed side by side.

    Example:
        >>> d = load_parity(DataConfig("parity", {"base": "digits", "k": 2, "train_samples": 64}))
        >>> d.input_shape, d.num_train, len(d.x_test), d.num_classes
        ((1, 8, 16), 64, 359, 2)
    """
    base_name = cfg.get("base", "mnist")
    if base_name == "digits":
        if cfg.get("root") is not None:
            raise ConfigError("data.root applies to base 'mnist' only, not 'digits'", field="data.root")
        base = load_digits(DataConfig("digits"))
    else:
        base = load_mnist_like(DataConfig("mnist", {"root": cfg.get("root")} if cfg.get("root") else {}))
    return ParityDataset(base, cfg.get("k", 3), cfg.get("train_samples", base.num_train),
                         cfg.get("test_samples", len(base.y_test)), seed_of(cfg))
