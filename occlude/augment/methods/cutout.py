"""Cutout (DeVries & Taylor 2017): squares with centres uniform over every pixel, clipped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from occlude.augment import functional as F
from occlude.augment.methods.base import Occluder, expect
from occlude.augment.params import (
    Box,
    Params,
    boxes_from,
    boxes_json,
    centred_box,
    check_count,
    check_prob,
    check_shape,
    coin,
)
from occlude.errors import UsageError
from occlude.fill import Fill, parse_fill

CUTOUT_SIZE = 0.5
"""Cutout's side as a fraction of the shorter side (CIFAR-10: 16 px on 32 px)."""


@dataclass(frozen=True)
class CutoutParams:
    """The clipped squares to fill."""

    boxes: tuple[Box, ...]
    applied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "boxes": boxes_json(self.boxes)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CutoutParams:
        return cls(boxes_from(data["boxes"]), bool(data["applied"]))


def check_size(size: float) -> float:
    """A side: a fraction of the shorter side below 1, whole pixels from 1 up."""
    if not (size > 0 and math.isfinite(size)):
        raise UsageError(f"size must be positive; received {size}", "size")
    if size >= 1 and size != int(size):
        raise UsageError(
            f"size of 1 or more is a side in pixels and must be whole; received {size}", "size"
        )
    return float(size)


def cutout_side(shape: Sequence[int], size: float) -> int:
    """Cutout's square side in pixels: ``size`` itself from 1 up, else that fraction of
    the shorter side (at least 1 pixel)."""
    h, w = check_shape(shape)
    size = check_size(size)
    return int(size) if size >= 1 else max(1, round(size * min(h, w)))


def sample_cutout(
    rng: np.random.Generator,
    shape: Sequence[int],
    *,
    holes: int = 1,
    size: float = CUTOUT_SIZE,
    prob: float = 1.0,
) -> CutoutParams:
    """``holes`` squares of side ``size`` with centres uniform over every pixel, clipped
    at the border (so a square may lie partly outside)."""
    hw = check_shape(shape)
    side = cutout_side(hw, size)
    check_count(holes, "holes")
    if not coin(rng, check_prob(prob)):
        return CutoutParams((), applied=False)
    boxes = []
    for _ in range(holes):
        cy = int(rng.integers(0, hw[0]))
        cx = int(rng.integers(0, hw[1]))
        boxes.append(centred_box(cx, cy, side, side, hw))
    return CutoutParams(tuple(boxes))


def square_inside(rng: np.random.Generator, shape: tuple[int, int], fraction: float) -> Box:
    """A square of area ``fraction``·H·W (as near as whole pixels allow) inside the image."""
    h, w = shape
    side = min(h, w, round(math.sqrt(fraction * h * w)))
    y0 = int(rng.integers(0, h - side + 1))
    x0 = int(rng.integers(0, w - side + 1))
    return Box(x0, y0, x0 + side, y0 + side)


@dataclass(frozen=True)
class Cutout(Occluder):
    """``holes`` squares of side ``size`` (a fraction of the shorter side below 1, pixels
    from 1 up), centres uniform over every pixel, clipped at the border."""

    name = "cutout"
    reference = "DeVries & Taylor 2017"
    params_type = CutoutParams

    fill: Fill = field(default_factory=lambda: parse_fill("grey"))
    holes: int = 1
    size: float = CUTOUT_SIZE

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "holes", check_count(self.holes, "holes"))
        object.__setattr__(self, "size", check_size(self.size))

    def sample(self, rng: np.random.Generator, shape: Sequence[int]) -> CutoutParams:
        return sample_cutout(rng, shape, holes=self.holes, size=self.size, prob=self.prob)

    def paint(self, image: np.ndarray, params: Params, fill: F.FillValue) -> np.ndarray:
        return F.erase_boxes(image, expect(params, CutoutParams).boxes, fill)

    @classmethod
    def at_fraction(
        cls, rng: np.random.Generator, shape: tuple[int, int], fraction: float
    ) -> CutoutParams:
        """One square of area ``fraction``·H·W placed uniformly where it fits inside."""
        return CutoutParams((square_inside(rng, shape, fraction),))
