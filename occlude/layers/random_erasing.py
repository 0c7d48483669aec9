"""Random Erasing (Zhong et al. 2017) as a Keras layer."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras

from occlude.augment.methods.random_erasing import (
    ERASING_AREA,
    ERASING_ASPECT,
    ERASING_ATTEMPTS,
)
from occlude.layers import _geometry as geo
from occlude.layers import _random as rnd
from occlude.layers._base import Batch, Tensor
from occlude.layers._checks import MAX_DRAWS, check_int, check_range
from occlude.layers._fill import FillLike
from occlude.layers._occluding import OccludingLayer


@keras.saving.register_keras_serializable(package="occlude")
class RandomErasing(OccludingLayer):
    """Random Erasing: with probability ``prob``, erase one box per image.

    The box's area is a fraction of the image drawn from U(``area_range``); its aspect
    ratio (height / width) is log-uniform over ``aspect_range``, so as many boxes are
    taller than wide as wider than tall. A box that does not fit is redrawn, up to
    ``max_attempts`` times, after which the image is left unchanged. The top-left corner is
    uniform over the positions where the box fits, as in the authors' code.

    Args:
        prob: probability that an image is erased (exactly: 1 erases every image).
        area_range: (low, high) fraction of the image's area.
        aspect_range: (low, high) height / width.
        fill: as :class:`Cutout`; the default ``'noise'`` is the paper's best variant.
        max_attempts: draws of (area, aspect) before giving up on an image, at most 10,000.
        ignore_class, value_range, seed, data_format: as :class:`Cutout`.
    """

    def __init__(
        self,
        prob: float = 0.5,
        area_range: Sequence[float] = ERASING_AREA,
        aspect_range: Sequence[float] = ERASING_ASPECT,
        fill: FillLike = "noise",
        max_attempts: int = ERASING_ATTEMPTS,
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
        self.area_range = check_range(area_range, "area_range", upper=1.0)
        self.aspect_range = check_range(aspect_range, "aspect_range")
        self.max_attempts = check_int(max_attempts, "max_attempts", most=MAX_DRAWS)

    def boxes(self, bk: Any, keys: Tensor, h: Any, w: Any) -> tuple[geo.Boxes, Tensor]:
        """The erased box of each sample and whether one fitted within ``max_attempts``."""
        xp = bk.numpy
        n = self.max_attempts
        u = rnd.uniform(bk, keys, rnd.ERASE, 2 * n)
        (a_lo, a_hi), (r_lo, r_hi) = self.area_range, self.aspect_range
        pixels = bk.cast(xp.multiply(rnd.int32(bk, h), rnd.int32(bk, w)), "float32")
        area = xp.multiply(xp.add(xp.multiply(u[:, :n], a_hi - a_lo), a_lo), pixels)
        log_r = xp.add(xp.multiply(u[:, n:], math.log(r_hi) - math.log(r_lo)), math.log(r_lo))
        aspect = xp.exp(log_r)
        eh = rnd.int32(bk, xp.round(xp.sqrt(xp.multiply(area, aspect))))
        ew = rnd.int32(bk, xp.round(xp.sqrt(xp.divide(area, aspect))))
        fits = xp.logical_and(
            xp.logical_and(xp.greater_equal(eh, 1), xp.less_equal(eh, rnd.int32(bk, h))),
            xp.logical_and(xp.greater_equal(ew, 1), xp.less_equal(ew, rnd.int32(bk, w))),
        )
        first = xp.expand_dims(rnd.int32(bk, xp.argmax(rnd.int32(bk, fits), axis=1)), 1)
        eh = xp.take_along_axis(eh, first, axis=1)[:, 0]
        ew = xp.take_along_axis(ew, first, axis=1)[:, 0]
        corner = rnd.uniform(bk, keys, rnd.PLACE, 2)
        y0 = rnd.randint(bk, corner[:, 0], xp.maximum(xp.subtract(h, eh), 0) + 1)
        x0 = rnd.randint(bk, corner[:, 1], xp.maximum(xp.subtract(w, ew), 0) + 1)
        box = geo.Boxes(x0, y0, xp.add(x0, ew), xp.add(y0, eh))
        return box, xp.any(fits, axis=1)

    def region(self, bk: Any, batch: Batch, keys: Tensor, applied: Tensor) -> geo.Region:
        h, w = geo.image_hw(bk, batch.images)
        box, found = self.boxes(bk, keys, h, w)
        return geo.box_region(bk, box, h, w, bk.numpy.logical_and(applied, found))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            area_range=list(self.area_range),
            aspect_range=list(self.aspect_range),
            max_attempts=self.max_attempts,
        )
        return config
