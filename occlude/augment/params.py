"""What a sampler draws, and the checks every method shares.

Boxes are ``(x0, y0, x1, y1)`` in pixels, end-exclusive, already clipped to the image, so
``image[y0:y1, x0:x1]`` is exactly the region that changed. Each method's parameter record
(``CutoutParams`` ...) lives beside its method, in :mod:`occlude.augment.methods`; all of
them have ``applied`` (false when the ``prob`` coin skipped the output; the image is then
unchanged and nothing else was drawn), ``to_dict()`` for the manifest and ``from_dict``.

Errors name the Python parameter that was wrong and what was received.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol, TypeAlias

from occlude.errors import UsageError

Box: TypeAlias = tuple[int, int, int, int]
"""``(x0, y0, x1, y1)``: columns ``x0..x1-1`` and rows ``y0..y1-1``."""

Cell: TypeAlias = tuple[int, int]
"""``(row, col)`` of a Hide-and-Seek grid cell."""


class Params(Protocol):
    """Any method's sampled parameters."""

    @property
    def applied(self) -> bool: ...

    def to_dict(self) -> dict[str, Any]: ...


def box_area(box: Box) -> int:
    """Pixels inside ``box`` (0 for an empty box)."""
    x0, y0, x1, y1 = box
    return max(0, x1 - x0) * max(0, y1 - y0)


def boxes_json(boxes: Sequence[Box]) -> list[list[int]]:
    return [list(b) for b in boxes]


def boxes_from(data: Any) -> tuple[Box, ...]:
    """Boxes from a manifest list of ``[x0, y0, x1, y1]``."""
    return tuple((int(b[0]), int(b[1]), int(b[2]), int(b[3])) for b in data)


def clip_box(x0: int, y0: int, x1: int, y1: int, shape: tuple[int, int]) -> Box:
    """The part of a box inside an image of ``shape`` (may be empty, never inverted)."""
    h, w = shape
    cx0, cy0 = min(max(x0, 0), w), min(max(y0, 0), h)
    return (cx0, cy0, max(cx0, min(x1, w)), max(cy0, min(y1, h)))


def centred_box(cx: int, cy: int, width: int, height: int, shape: tuple[int, int]) -> Box:
    """A ``width`` x ``height`` box whose centre pixel is ``(cx, cy)``, clipped."""
    x0, y0 = cx - width // 2, cy - height // 2
    return clip_box(x0, y0, x0 + width, y0 + height, shape)


def coin(rng: Any, prob: float) -> bool:
    """The ``prob`` coin every sampler draws first."""
    return bool(rng.random() < prob)


def check_shape(shape: Sequence[int]) -> tuple[int, int]:
    """``(height, width)`` as positive ints, or a UsageError naming what was received."""
    if len(shape) < 2 or int(shape[0]) < 1 or int(shape[1]) < 1:
        raise UsageError(f"shape must be (height, width) >= 1; received {tuple(shape)}", "shape")
    return int(shape[0]), int(shape[1])


def check_prob(prob: float, name: str = "prob") -> float:
    if not 0.0 <= prob <= 1.0:
        raise UsageError(f"{name} must be between 0 and 1; received {prob}", name)
    return float(prob)


def check_alpha(alpha: float, name: str = "alpha") -> float:
    if not (alpha > 0 and math.isfinite(alpha)):
        raise UsageError(f"{name} must be a positive number; received {alpha}", name)
    return float(alpha)


def check_range(bounds: Sequence[float], name: str, upper: float = math.inf) -> tuple[float, float]:
    """``(low, high)`` with ``0 < low <= high <= upper``."""
    if len(bounds) != 2:
        raise UsageError(f"{name} takes two numbers, low,high; received {tuple(bounds)}", name)
    low, high = float(bounds[0]), float(bounds[1])
    if not (0.0 < low <= high <= upper):
        limit = f" <= {upper:g}" if math.isfinite(upper) else ""
        raise UsageError(f"{name} needs 0 < low <= high{limit}; received {low:g},{high:g}", name)
    return low, high


def check_count(value: int, name: str, least: int = 1) -> int:
    """A whole number of at least ``least``."""
    if isinstance(value, bool) or int(value) != value:
        raise UsageError(f"{name} must be a whole number; received {value}", name)
    if value < least:
        raise UsageError(f"{name} must be at least {least}; received {value}", name)
    return int(value)
