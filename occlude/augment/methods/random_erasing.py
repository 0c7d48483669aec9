"""Random Erasing (Zhong et al. 2017): one box of random area and log-uniform aspect."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
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
    check_count,
    check_prob,
    check_range,
    check_shape,
    coin,
)
from occlude.fill import Fill, parse_fill

ERASING_AREA = (0.02, 0.4)
"""Random Erasing's s_l and s_h: the erased fraction of the image's area."""
ERASING_ASPECT = (0.3, 1 / 0.3)
"""Random Erasing's r_1 and r_2: the box's height / width, sampled log-uniformly."""
ERASING_ATTEMPTS = 100


@dataclass(frozen=True)
class RandomErasingParams:
    """The erased box, if one fitted: ``boxes`` is empty when the coin said "erase" but no
    box fitted within ``attempts`` draws (the image is then unchanged)."""

    boxes: tuple[Box, ...]
    attempts: int = 1
    applied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "boxes": boxes_json(self.boxes), "attempts": self.attempts}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RandomErasingParams:
        return cls(boxes_from(data["boxes"]), int(data["attempts"]), bool(data["applied"]))


def fit_box(
    rng: np.random.Generator,
    shape: tuple[int, int],
    area: Callable[[], float],
    aspect_range: tuple[float, float],
    attempts: int,
    min_side: int = 1,
) -> tuple[int, int, int] | None:
    """Draw an area (``area()``) and a log-uniform aspect (height / width) until a box of
    sides ``>= min_side`` fits; ``(height, width, attempt)``, or None after ``attempts``."""
    h, w = shape
    log_low, log_high = math.log(aspect_range[0]), math.log(aspect_range[1])
    for attempt in range(1, attempts + 1):
        size = area()
        aspect = math.exp(float(rng.uniform(log_low, log_high)))
        eh, ew = round(math.sqrt(size * aspect)), round(math.sqrt(size / aspect))
        if min_side <= eh <= h and min_side <= ew <= w:
            return eh, ew, attempt
    return None


def place(rng: np.random.Generator, shape: tuple[int, int], eh: int, ew: int) -> Box:
    """An ``eh`` x ``ew`` box with its top-left corner uniform where it fits."""
    y0 = int(rng.integers(0, shape[0] - eh + 1))
    x0 = int(rng.integers(0, shape[1] - ew + 1))
    return Box(x0, y0, x0 + ew, y0 + eh)


def sample_random_erasing(
    rng: np.random.Generator,
    shape: Sequence[int],
    *,
    area_range: Sequence[float] = ERASING_AREA,
    aspect_range: Sequence[float] = ERASING_ASPECT,
    max_attempts: int = ERASING_ATTEMPTS,
    prob: float = 0.5,
) -> RandomErasingParams:
    """Area fraction ~ U(area_range), aspect (height / width) log-uniform over
    ``aspect_range``; a box that does not fit is redrawn, up to ``max_attempts`` times,
    after which nothing is erased. The top-left corner is uniform over the positions where
    the box fits, as in the authors' code."""
    h, w = check_shape(shape)
    s_low, s_high = check_range(area_range, "area_range", upper=1.0)
    aspect = check_range(aspect_range, "aspect_range")
    check_count(max_attempts, "max_attempts")
    if not coin(rng, check_prob(prob)):
        return RandomErasingParams((), attempts=0, applied=False)
    fitted = fit_box(rng, (h, w), lambda: float(rng.uniform(s_low, s_high)) * h * w,
                     aspect, max_attempts)  # fmt: skip
    if fitted is None:
        return RandomErasingParams((), attempts=max_attempts)
    eh, ew, attempt = fitted
    return RandomErasingParams((place(rng, (h, w), eh, ew),), attempts=attempt)


def box_inside(rng: np.random.Generator, shape: tuple[int, int], fraction: float) -> Box:
    """A box of area ``fraction``·H·W, aspect log-uniform over ERASING_ASPECT, inside.

    An aspect that does not fit is redrawn; after ERASING_ATTEMPTS draws the box is
    squeezed to fit (only very large fractions of very oblong images get there).
    """
    h, w = shape
    area = fraction * h * w
    fitted = fit_box(rng, shape, lambda: area, ERASING_ASPECT, ERASING_ATTEMPTS, min_side=0)
    if fitted is None:
        bh = min(h, max(1, round(math.sqrt(area))))
        bw = min(w, max(1, round(area / bh)))
    else:
        bh, bw, _ = fitted
    return place(rng, shape, bh, bw)


@dataclass(frozen=True)
class RandomErasing(Occluder):
    """One box of area ``area_range`` and log-uniform aspect ``aspect_range``, placed
    where it fits; up to ``max_attempts`` draws, then the image is left unchanged."""

    name = "random-erasing"
    reference = "Zhong et al. 2017"
    params_type = RandomErasingParams

    prob: float = 0.5
    fill: Fill = field(default_factory=lambda: parse_fill("noise"))
    area_range: tuple[float, float] = ERASING_AREA
    aspect_range: tuple[float, float] = ERASING_ASPECT
    max_attempts: int = ERASING_ATTEMPTS

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "area_range", check_range(self.area_range, "area_range", 1.0))
        object.__setattr__(self, "aspect_range", check_range(self.aspect_range, "aspect_range"))
        object.__setattr__(self, "max_attempts", check_count(self.max_attempts, "max_attempts"))

    def sample(self, rng: np.random.Generator, shape: Sequence[int]) -> RandomErasingParams:
        return sample_random_erasing(
            rng,
            shape,
            area_range=self.area_range,
            aspect_range=self.aspect_range,
            max_attempts=self.max_attempts,
            prob=self.prob,
        )

    def paint(self, image: np.ndarray, params: Params, fill: F.FillValue) -> np.ndarray:
        return F.erase_boxes(image, expect(params, RandomErasingParams).boxes, fill)

    @classmethod
    def at_fraction(
        cls, rng: np.random.Generator, shape: tuple[int, int], fraction: float
    ) -> RandomErasingParams:
        """One box of area ``fraction``·H·W, log-uniform aspect, placed inside."""
        return RandomErasingParams((box_inside(rng, shape, fraction),))
