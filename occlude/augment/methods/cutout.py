"""Cutout (DeVries & Taylor 2017): squares with centres uniform over every pixel, clipped."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from occlude import draws
from occlude.augment import geometry as geo
from occlude.augment.methods.occluder import BoxOccluder
from occlude.checks import MAX_HOLES, check_int, check_size

CUTOUT_SIZE = 0.5
"""Cutout's side as a fraction of the shorter side (CIFAR-10: 16 px on 32 px)."""


def square_side(bk: Any, size: float, h: Any, w: Any) -> Any:
    """The side in pixels: ``size`` from 1 up, else that fraction of the shorter side
    (rounded half to even, at least 1)."""
    if size >= 1:
        return int(size)
    if isinstance(h, int) and isinstance(w, int):
        return max(1, round(size * min(h, w)))
    shorter = bk.cast(bk.numpy.minimum(draws.int32(bk, h), draws.int32(bk, w)), "float32")
    return bk.numpy.maximum(draws.int32(bk, bk.numpy.round(shorter * size)), 1)


@dataclass(frozen=True)
class Cutout(BoxOccluder):
    """Cutout: ``holes`` squares of side ``size`` per image, filled with ``fill``.

    Each centre is uniform over every pixel and the square is clipped at the border, so
    it may lie partly outside the image (the paper found this mattered). ``size`` below 1
    is a fraction of the shorter side (0.5: 16 px on 32 px CIFAR), from 1 up pixels.

    Args:
        holes: squares per image (their union is occluded), at most 1024 (default 1).
        size: the side, a fraction of the shorter side (< 1) or pixels (>= 1) (0.5).
        fill: ``'grey'`` (default), ``'black'``, ``'white'``, a number or (R, G, B) on the
            0-255 scale, ``'mean'`` (the image's own), ``'noise'`` (uniform over the
            value range) or, for files, ``'dataset-mean'`` (a layer takes the colour:
            ``occlude.layers.dataset_mean``).
        prob: probability that an image is occluded (1.0).
    """

    name = "cutout"
    reference = "DeVries & Taylor 2017"

    holes: int = 1
    size: float = CUTOUT_SIZE

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "holes", check_int(self.holes, "holes", most=MAX_HOLES))
        object.__setattr__(self, "size", check_size(self.size))

    def sample(self, bk: Any, keys: Any, h: Any, w: Any) -> geo.BoxParams:
        side = draws.int32(bk, square_side(bk, self.size, h, w))
        cx, cy = geo.random_centres(bk, keys, draws.CENTRE, self.holes, h, w)
        return geo.BoxParams(
            geo.centred(bk, cx, cy, side, side, h, w), geo.coin(bk, keys, self.prob)
        )

    def at_fraction(self, bk: Any, keys: Any, h: int, w: int, fraction: float) -> geo.BoxParams:
        """One square of area ``fraction``·H·W (as near as whole pixels allow, at most the
        shorter side) placed uniformly where it fits inside."""
        side = min(h, w, round(math.sqrt(fraction * h * w)))
        return geo.BoxParams(geo.inside(bk, keys, side, side, h, w), geo.coin(bk, keys, 1.0))
