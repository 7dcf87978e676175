"""``train.augment``: random crops with zero padding and horizontal flips of image inputs.

``{"crop_padding": p, "flip": true}`` pads each training image with p zero pixels on every side and
takes a crop of the image's own size at a random offset, then mirrors it left to right with
probability 1/2; each sample draws its own, batch by batch, on the device (`explorer.engine.augment`).
Test inputs are never augmented. Only image datasets (`IMAGE_DATASETS`) take it.

Example:
    >>> Augmentation.from_dict({"crop_padding": 4, "flip": True})
    Augmentation(crop_padding=4, flip=True)
    >>> read_augment({"crop_padding": 0, "flip": False}) is None  # nothing to do
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from explorer.config.bounds import MAX_CROP_PADDING
from explorer.config.fields import boolean, integer, reject_unknown, require_mapping


@dataclass(frozen=True)
class Augmentation:
    """Zero padding before a random crop (0: no crop) and whether to flip at random."""

    crop_padding: int = 0
    flip: bool = False

    @classmethod
    def from_dict(cls, d: Any, path: str = "train.augment") -> Augmentation:
        d = require_mapping(d, path)
        reject_unknown(d, {"crop_padding", "flip"}, path, "train.augment")
        return cls(integer(d.get("crop_padding", 0), f"{path}.crop_padding", minimum=0, maximum=MAX_CROP_PADDING),
                   boolean(d.get("flip", False), f"{path}.flip"))

    def to_dict(self) -> dict:
        return {"crop_padding": self.crop_padding, "flip": self.flip}


def read_augment(value: Any, path: str = "train.augment") -> Augmentation | None:
    """None where nothing is asked (absent, or no padding and no flip), else an `Augmentation`."""
    if value is None:
        return None
    aug = Augmentation.from_dict(value, path)
    return aug if aug.crop_padding or aug.flip else None
