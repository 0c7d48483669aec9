"""Cutout (DeVries & Taylor 2017) as a Keras layer."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras

from occlude.augment.methods.cutout import CUTOUT_SIZE
from occlude.errors import UsageError
from occlude.layers import _geometry as geo
from occlude.layers import _random as rnd
from occlude.layers._base import Batch, Tensor
from occlude.layers._checks import MAX_HOLES, check_int, is_number
from occlude.layers._fill import FillLike
from occlude.layers._occluding import OccludingLayer


def check_size(size: float) -> float:
    if not (is_number(size) and size > 0):
        raise UsageError(f"size must be a positive number; received {size!r}", "size")
    if not math.isfinite(size) or (size >= 1 and size != int(size)):
        raise UsageError(
            f"size of 1 or more is a side in pixels and must be whole; received {size!r}", "size"
        )
    return float(size)


def square_side(bk: Any, size: float, h: Any, w: Any) -> Any:
    """The side in pixels: ``size`` from 1 up, else that fraction of the shorter side
    (rounded half to even, at least 1), as the CLI."""
    if size >= 1:
        return int(size)
    if isinstance(h, int) and isinstance(w, int):
        return max(1, round(size * min(h, w)))
    shorter = bk.cast(bk.numpy.minimum(rnd.int32(bk, h), rnd.int32(bk, w)), "float32")
    return bk.numpy.maximum(rnd.int32(bk, bk.numpy.round(shorter * size)), 1)


@keras.saving.register_keras_serializable(package="occlude")
class Cutout(OccludingLayer):
    """Cutout: ``holes`` squares of side ``size`` per image, filled with ``fill``.

    Each centre is uniform over every pixel and the square is clipped at the border, so
    it may lie partly outside the image (the paper found this mattered). ``size`` below 1
    is a fraction of the shorter side (0.5: 16 px on 32 px CIFAR), from 1 up pixels.

    Args:
        holes: squares per image (their union is occluded), at most 1024.
        size: the side, a fraction of the shorter side (< 1) or pixels (>= 1).
        fill: ``'grey'``, ``'black'``, ``'white'``, a number or (R, G, B) on the 0-255
            scale, ``'mean'`` (the image's own) or ``'noise'`` (uniform over value_range).
        prob: probability that an image is occluded.
        ignore_class: if set, written into occluded pixels of ``segmentation_masks``.
        value_range: the images' (low, high); fills are scaled to it.
        seed: int for reproducible draws (docs/training.md), None for fresh ones.
        data_format: ``'channels_last'`` (B, H, W, C) or ``'channels_first'`` (B, C, H, W);
            None: Keras's ``image_data_format()``. The draws are the same for both.
    """

    def __init__(
        self,
        holes: int = 1,
        size: float = CUTOUT_SIZE,
        fill: FillLike = "grey",
        prob: float = 1.0,
        ignore_class: int | None = None,
        value_range: Sequence[float] = (0, 255),
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            fill=fill,
            prob=prob,
            ignore_class=ignore_class,
            value_range=value_range,
            seed=seed,
            data_format=data_format,
            **kwargs,
        )
        self.holes = check_int(holes, "holes", most=MAX_HOLES)
        self.size = check_size(size)

    def region(self, bk: Any, batch: Batch, keys: Tensor, applied: Tensor) -> geo.Region:
        h, w = geo.image_hw(bk, batch.images)
        side = rnd.int32(bk, square_side(bk, self.size, h, w))
        cx, cy = geo.random_centres(bk, keys, rnd.CENTRE, self.holes, h, w)
        return geo.box_region(bk, geo.centred(bk, cx, cy, side, side, h, w), h, w, applied)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(holes=self.holes, size=self.size)
        return config
