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

from occlude.box import Box as Box
from occlude.box import boxes_from as boxes_from
from occlude.box import boxes_json as boxes_json
from occlude.errors import UsageError

Cell: TypeAlias = tuple[int, int]
"""``(row, col)`` of a Hide-and-Seek grid cell."""


class Params(Protocol):
    """Any method's sampled parameters."""

    @property
    def applied(self) -> bool: ...

    def to_dict(self) -> dict[str, Any]: ...


def box_area(box: Box) -> int:
    return Box.of(box).area


def clip_box(x0: int, y0: int, x1: int, y1: int, shape: tuple[int, int]) -> Box:
    return Box(x0, y0, x1, y1).clip(shape)


def centred_box(cx: int, cy: int, width: int, height: int, shape: tuple[int, int]) -> Box:
    return Box.centred(cx, cy, width, height, shape)


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
