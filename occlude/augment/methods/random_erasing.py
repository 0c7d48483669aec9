"""Random Erasing (Zhong et al. 2017): one box of random area and log-uniform aspect."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from occlude import draws
from occlude.augment import geometry as geo
from occlude.augment.methods.occluder import BoxOccluder
from occlude.box import Box
from occlude.checks import MAX_DRAWS, check_int, check_range
from occlude.fill import Fill, parse_fill

Tensor = Any

ERASING_AREA = (0.02, 0.4)
"""Random Erasing's s_l and s_h: the erased fraction of the image's area."""
ERASING_ASPECT = (0.3, 1 / 0.3)
"""Random Erasing's r_1 and r_2: the box's height / width, sampled log-uniformly."""
ERASING_ATTEMPTS = 100


class ErasingParams(NamedTuple):
    """The erased box (each coordinate (B, 1)), the coin ``applied``, the draws used
    ``attempts`` and whether a box ``fitted`` within them (else the image is unchanged).
    As JSON: ``{"applied", "boxes": [] or [[x0, y0, x1, y1]], "attempts"}``."""

    boxes: geo.Boxes
    applied: Tensor
    attempts: Tensor
    fitted: Tensor

    @classmethod
    def of(cls, boxes: list[Box], applied: bool = True, attempts: int = 1) -> ErasingParams:
        one = geo.BoxParams.of(boxes or [Box(0, 0, 0, 0)], applied)
        return cls(one.boxes, one.applied, np.asarray([attempts]), np.asarray([bool(boxes)]))

    def to_dict(self) -> dict[str, Any]:
        applied, fitted = bool(np.asarray(self.applied)[0]), bool(np.asarray(self.fitted)[0])
        data = geo.BoxParams(self.boxes, np.asarray([applied and fitted])).to_dict()
        attempts = int(np.asarray(self.attempts)[0]) if applied else 0
        return {**data, "applied": applied, "attempts": attempts}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ErasingParams:
        boxes = [Box.of(b) for b in data["boxes"]]
        return cls.of(boxes, bool(data["applied"]), int(data["attempts"]))


@dataclass(frozen=True)
class RandomErasing(BoxOccluder):
    """Random Erasing: with probability ``prob``, erase one box per image.

    The box's area is a fraction of the image drawn from U(``area_range``); its aspect
    ratio (height / width) is log-uniform over ``aspect_range``, so as many boxes are
    taller than wide as wider than tall. A box that does not fit is redrawn, up to
    ``max_attempts`` times, after which the image is left unchanged. The top-left corner is
    uniform over the positions where the box fits, as in the authors' code.

    Args:
        prob: probability that an image is erased (exactly: 1 erases every image) (0.5).
        area_range: (low, high) fraction of the image's area ((0.02, 0.4)).
        aspect_range: (low, high) height / width ((0.3, 1 / 0.3)).
        fill: as :class:`Cutout`; the default ``'noise'`` is the paper's best variant.
        max_attempts: draws of (area, aspect) before giving up on an image, at most 10,000
            (100).
    """

    name = "random-erasing"
    reference = "Zhong et al. 2017"
    params_type = ErasingParams

    prob: float = 0.5
    fill: Fill = field(default_factory=lambda: parse_fill("noise"))
    area_range: tuple[float, float] = ERASING_AREA
    aspect_range: tuple[float, float] = ERASING_ASPECT
    max_attempts: int = ERASING_ATTEMPTS

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "area_range", check_range(self.area_range, "area_range", 1.0))
        object.__setattr__(self, "aspect_range", check_range(self.aspect_range, "aspect_range"))
        most = MAX_DRAWS
        object.__setattr__(self, "max_attempts", check_int(self.max_attempts, "max_attempts", most))

    def sample(self, bk: Any, keys: Tensor, h: Any, w: Any) -> ErasingParams:
        xp, n = bk.numpy, self.max_attempts
        u = draws.uniform(bk, keys, draws.ERASE, 2 * n)
        (a_lo, a_hi), (r_lo, r_hi) = self.area_range, self.aspect_range
        pixels = bk.cast(xp.multiply(draws.int32(bk, h), draws.int32(bk, w)), "float32")
        area = xp.multiply(xp.add(xp.multiply(u[:, :n], a_hi - a_lo), a_lo), pixels)
        log_r = xp.add(xp.multiply(u[:, n:], math.log(r_hi) - math.log(r_lo)), math.log(r_lo))
        aspect = xp.exp(log_r)
        eh = draws.int32(bk, xp.round(xp.sqrt(xp.multiply(area, aspect))))
        ew = draws.int32(bk, xp.round(xp.sqrt(xp.divide(area, aspect))))
        fits = xp.logical_and(
            xp.logical_and(xp.greater_equal(eh, 1), xp.less_equal(eh, draws.int32(bk, h))),
            xp.logical_and(xp.greater_equal(ew, 1), xp.less_equal(ew, draws.int32(bk, w))),
        )
        first = draws.int32(bk, xp.argmax(draws.int32(bk, fits), axis=1))
        fitted = xp.any(fits, axis=1)
        eh = xp.take_along_axis(eh, xp.expand_dims(first, 1), axis=1)
        ew = xp.take_along_axis(ew, xp.expand_dims(first, 1), axis=1)
        attempts = xp.where(fitted, xp.add(first, 1), n)
        box = geo.inside(bk, keys, eh, ew, h, w)
        return ErasingParams(box, geo.coin(bk, keys, self.prob), attempts, fitted)

    def region(self, bk: Any, params: ErasingParams, h: Any, w: Any) -> geo.Region:
        erased = bk.numpy.logical_and(params.applied, params.fitted)
        return geo.box_region(bk, params.boxes, h, w, erased)

    def at_fraction(self, bk: Any, keys: Tensor, h: int, w: int, fraction: float) -> ErasingParams:
        """The sampler's box at area ``fraction``·H·W, every image; where no aspect fits in
        ``max_attempts`` draws (very large fractions of oblong images; or under half a
        pixel), a box of that area squeezed inside: the shorter side's length at most."""
        xp, area = bk.numpy, fraction * h * w
        exact = replace(self, prob=1.0, area_range=(fraction, fraction)).sample(bk, keys, h, w)
        short = min(min(h, w), round(math.sqrt(area)))
        long = min(max(h, w), round(area / short)) if short else 0
        bh, bw = (short, long) if h <= w else (long, short)
        squeezed = geo.inside(bk, keys, bh, bw, h, w)
        fitted = xp.expand_dims(exact.fitted, 1)
        boxes = geo.Boxes(
            *(xp.where(fitted, a, b) for a, b in zip(exact.boxes, squeezed, strict=True))
        )
        return exact._replace(boxes=boxes, fitted=xp.ones_like(exact.fitted))
