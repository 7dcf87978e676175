"""Random crops with zero padding and horizontal flips of a batch of images, on its device.

Each sample's crop offsets and flip are drawn on the host from the run's own augmentation stream
(`AUGMENT`, beside the weights', feedback's and batches' streams of `explorer.engine.build`), so a
seed gives the same augmented batches on every device and turning augmentation on leaves the
minibatch order as it was. The images themselves never leave the device: one gather takes every
sample's crop, mirrored where it flips.

Example:
    >>> x = torch.arange(9.0).reshape(1, 1, 3, 3)
    >>> apply(x, 1, torch.tensor([[0, 0]]), torch.tensor([True]))[0, 0].tolist()  # shifted down-right, mirrored
    [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [4.0, 3.0, 0.0]]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from explorer.config.augmentation import Augmentation

AUGMENT = 3  # the run's random stream for augmentation: derived_seed(seed, AUGMENT)


def draw(n: int, aug: Augmentation, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` samples' crop offsets (n, 2) — rows, columns into the padded image, each in 0 … 2·padding —
    and flips (n,) bools, from ``generator`` (on the host). Without a crop the offsets are all
    ``padding`` = 0; without flips no sample flips; nothing is drawn for what is off.

    Example:
        >>> offsets, flips = draw(4, Augmentation(2, True), torch.Generator().manual_seed(0))
        >>> offsets.shape, bool(((0 <= offsets) & (offsets <= 4)).all()), flips.dtype
        (torch.Size([4, 2]), True, torch.bool)
    """
    p = aug.crop_padding
    offsets = (torch.randint(0, 2 * p + 1, (n, 2), generator=generator) if p
               else torch.zeros(n, 2, dtype=torch.long))
    flips = torch.rand(n, generator=generator) < 0.5 if aug.flip else torch.zeros(n, dtype=torch.bool)
    return offsets, flips


def apply(x: torch.Tensor, padding: int, offsets: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Images ``x`` (n, C, H, W) padded with ``padding`` zeros, cropped back to H × W at ``offsets``
    (n, 2) and mirrored left to right where ``flips`` (n,) is set; on ``x``'s device."""
    n, _, h, w = x.shape
    offsets, flips = offsets.to(x.device), flips.to(x.device)
    padded = F.pad(x, (padding,) * 4) if padding else x
    rows = offsets[:, :1] + torch.arange(h, device=x.device)                    # (n, H)
    across = torch.arange(w, device=x.device)
    across = torch.where(flips[:, None], w - 1 - across, across)                # mirrored crop: read right to left
    cols = offsets[:, 1:] + across                                               # (n, W)
    samples = torch.arange(n, device=x.device)[:, None, None, None]
    channels = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[samples, channels, rows[:, None, :, None], cols[:, None, None, :]]


def augment(x: torch.Tensor, aug: Augmentation, generators: list[torch.Generator]) -> torch.Tensor:
    """A batch of images (…, C, H, W) augmented; with a leading seed axis (S, batch, C, H, W) seed s
    draws from ``generators[s]`` exactly what its own run would.

    Example:
        >>> x = torch.ones(2, 1, 4, 4)
        >>> augment(x, Augmentation(crop_padding=1), [torch.Generator().manual_seed(0)]).shape
        torch.Size([2, 1, 4, 4])
    """
    image = x.shape[-3:]
    runs = x.reshape(len(generators), -1, *image)
    draws = [draw(runs.shape[1], aug, g) for g in generators]
    offsets, flips = torch.cat([o for o, _ in draws]), torch.cat([f for _, f in draws])
    return apply(runs.reshape(-1, *image), aug.crop_padding, offsets, flips).reshape(x.shape)
