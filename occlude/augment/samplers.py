"""Samplers: an explicit ``numpy.random.Generator`` and an image size in, parameters out.

Each follows its paper (see the README for the references and where we differ from
popular libraries). Every sampler first draws the ``prob`` coin; when it comes up
"skip", nothing else is drawn and the parameters say ``applied=False``. ``shape`` is
``(height, width)`` in pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from occlude.augment.params import (
    Box,
    CutmixParams,
    CutoutParams,
    HideAndSeekParams,
    MixupParams,
    RandomErasingParams,
    box_area,
)
from occlude.errors import UsageError

HIDE_AND_SEEK_GRIDS = (0, 16, 32, 44, 56)
"""Cell sides (pixels) drawn per image in Singh & Lee's ImageNet setting; 0 hides nothing."""
ERASING_AREA = (0.02, 0.4)
"""Random Erasing's s_l and s_h: the erased fraction of the image's area."""
ERASING_ASPECT = (0.3, 1 / 0.3)
"""Random Erasing's r_1 and r_2: the box's height / width, sampled log-uniformly."""
ERASING_ATTEMPTS = 100
CUTOUT_SIZE = 0.5
"""Cutout's side as a fraction of the shorter side (CIFAR-10: 16 px on 32 px)."""


def check_shape(shape: Sequence[int]) -> tuple[int, int]:
    """``(height, width)`` as positive ints, or a UsageError naming what was received."""
    if len(shape) < 2 or int(shape[0]) < 1 or int(shape[1]) < 1:
        raise UsageError(f"image shape must be (height, width) >= 1; received {tuple(shape)}")
    return int(shape[0]), int(shape[1])


def check_prob(prob: float, name: str = "--prob") -> float:
    if not 0.0 <= prob <= 1.0:
        raise UsageError(f"{name} must be between 0 and 1; received {prob}")
    return float(prob)


def check_alpha(alpha: float) -> float:
    if not (alpha > 0 and math.isfinite(alpha)):
        raise UsageError(f"--alpha must be a positive number; received {alpha}")
    return float(alpha)


def check_range(bounds: Sequence[float], name: str, upper: float = math.inf) -> tuple[float, float]:
    """``(low, high)`` with ``0 < low <= high <= upper``."""
    if len(bounds) != 2:
        raise UsageError(f"{name} takes two numbers, low,high; received {tuple(bounds)}")
    low, high = float(bounds[0]), float(bounds[1])
    if not (0.0 < low <= high <= upper):
        limit = f" <= {upper:g}" if math.isfinite(upper) else ""
        raise UsageError(f"{name} needs 0 < low <= high{limit}; received {low:g},{high:g}")
    return low, high


def check_grids(grids: Sequence[int]) -> tuple[int, ...]:
    out = tuple(int(g) for g in grids)
    if not out or any(g < 0 for g in out):
        raise UsageError(
            f"--grid needs one or more cell sides >= 0 (0 hides nothing); received {grids}"
        )
    return out


def cutout_side(shape: Sequence[int], size: float) -> int:
    """Cutout's square side in pixels: ``size`` itself from 1 up, else that fraction of
    the shorter side (at least 1 pixel)."""
    h, w = check_shape(shape)
    if not (size > 0 and math.isfinite(size)):
        raise UsageError(f"--size must be positive; received {size}")
    if size >= 1:
        if size != int(size):
            raise UsageError(
                f"--size of 1 or more is a side in pixels and must be whole; received {size}"
            )
        return int(size)
    return max(1, round(size * min(h, w)))


def clip_box(x0: int, y0: int, x1: int, y1: int, shape: tuple[int, int]) -> Box:
    """The part of a box inside an image of ``shape`` (may be empty, never inverted)."""
    h, w = shape
    cx0, cy0 = min(max(x0, 0), w), min(max(y0, 0), h)
    return (cx0, cy0, max(cx0, min(x1, w)), max(cy0, min(y1, h)))


def centred_box(cx: int, cy: int, width: int, height: int, shape: tuple[int, int]) -> Box:
    """A ``width`` x ``height`` box whose centre pixel is ``(cx, cy)``, clipped."""
    x0, y0 = cx - width // 2, cy - height // 2
    return clip_box(x0, y0, x0 + width, y0 + height, shape)


def _coin(rng: np.random.Generator, prob: float) -> bool:
    return bool(rng.random() < prob)


def sample_cutout(
    rng: np.random.Generator,
    shape: Sequence[int],
    *,
    holes: int = 1,
    size: float = CUTOUT_SIZE,
    prob: float = 1.0,
) -> CutoutParams:
    """DeVries & Taylor: ``holes`` squares of side ``size`` with centres uniform over every
    pixel, clipped at the border (so a square may lie partly outside)."""
    hw = check_shape(shape)
    side = cutout_side(hw, size)
    if holes < 1:
        raise UsageError(f"--holes must be at least 1; received {holes}")
    if not _coin(rng, check_prob(prob)):
        return CutoutParams((), applied=False)
    boxes = []
    for _ in range(holes):
        cy = int(rng.integers(0, hw[0]))
        cx = int(rng.integers(0, hw[1]))
        boxes.append(centred_box(cx, cy, side, side, hw))
    return CutoutParams(tuple(boxes))


def sample_hide_and_seek(
    rng: np.random.Generator,
    shape: Sequence[int],
    *,
    grids: Sequence[int] = HIDE_AND_SEEK_GRIDS,
    hide_prob: float = 0.5,
    prob: float = 1.0,
) -> HideAndSeekParams:
    """Singh & Lee: draw the cell side S from ``grids``, split the image into S x S cells
    (the last row and column clipped) and hide each cell with probability ``hide_prob``."""
    h, w = check_shape(shape)
    sides = check_grids(grids)
    hide_prob = check_prob(hide_prob, "--hide-prob")
    if not _coin(rng, check_prob(prob)):
        return HideAndSeekParams(0, (), applied=False)
    side = sides[int(rng.integers(0, len(sides)))]
    if side == 0:
        return HideAndSeekParams(0, ())
    rows, cols = -(-h // side), -(-w // side)
    hide = rng.random((rows, cols)) < hide_prob
    hidden = tuple((r, c) for r, c in np.argwhere(hide).tolist())
    return HideAndSeekParams(side, hidden)


def sample_random_erasing(
    rng: np.random.Generator,
    shape: Sequence[int],
    *,
    area_range: Sequence[float] = ERASING_AREA,
    aspect_range: Sequence[float] = ERASING_ASPECT,
    max_attempts: int = ERASING_ATTEMPTS,
    prob: float = 0.5,
) -> RandomErasingParams:
    """Zhong et al.: area fraction ~ U(area_range), aspect (height / width) log-uniform
    over ``aspect_range``; a box that does not fit is redrawn, up to ``max_attempts``
    times, after which nothing is erased. The top-left corner is uniform over the
    positions where the box fits, as in the authors' code."""
    h, w = check_shape(shape)
    s_low, s_high = check_range(area_range, "--area-range", upper=1.0)
    r_low, r_high = check_range(aspect_range, "--aspect-range")
    if max_attempts < 1:
        raise UsageError(f"max_attempts must be at least 1; received {max_attempts}")
    if not _coin(rng, check_prob(prob)):
        return RandomErasingParams((), attempts=0, applied=False)
    log_low, log_high = math.log(r_low), math.log(r_high)
    for attempt in range(1, max_attempts + 1):
        area = float(rng.uniform(s_low, s_high)) * h * w
        aspect = math.exp(float(rng.uniform(log_low, log_high)))
        eh = round(math.sqrt(area * aspect))
        ew = round(math.sqrt(area / aspect))
        if 1 <= eh <= h and 1 <= ew <= w:
            y0 = int(rng.integers(0, h - eh + 1))
            x0 = int(rng.integers(0, w - ew + 1))
            return RandomErasingParams(((x0, y0, x0 + ew, y0 + eh),), attempts=attempt)
    return RandomErasingParams((), attempts=max_attempts)


def sample_mixup(rng: np.random.Generator, *, alpha: float = 0.2, prob: float = 1.0) -> MixupParams:
    """Zhang et al.: the source's weight lam ~ Beta(alpha, alpha)."""
    alpha = check_alpha(alpha)
    if not _coin(rng, check_prob(prob)):
        return MixupParams(1.0, None, applied=False)
    lam = float(rng.beta(alpha, alpha))
    return MixupParams(lam, lam)


def sample_cutmix(
    rng: np.random.Generator, shape: Sequence[int], *, alpha: float = 1.0, prob: float = 1.0
) -> CutmixParams:
    """Yun et al.: lam ~ Beta(alpha, alpha); a box of sides sqrt(1 - lam) times the
    image's (area (1 - lam) H W) with a uniform centre, clipped at the border. ``lam`` is
    then recomputed from the clipped box, so it is the source's true share of pixels."""
    h, w = check_shape(shape)
    alpha = check_alpha(alpha)
    if not _coin(rng, check_prob(prob)):
        return CutmixParams((), 1.0, None, applied=False)
    lam_sampled = float(rng.beta(alpha, alpha))
    ratio = math.sqrt(1.0 - lam_sampled)
    bw, bh = round(w * ratio), round(h * ratio)
    cx = int(rng.integers(0, w))
    cy = int(rng.integers(0, h))
    box = centred_box(cx, cy, bw, bh, (h, w))
    lam = 1.0 - box_area(box) / (h * w)
    return CutmixParams((box,), lam, lam_sampled)
