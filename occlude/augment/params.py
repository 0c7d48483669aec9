"""What a sampler draws.

Boxes are ``(x0, y0, x1, y1)`` in pixels, end-exclusive, already clipped to the image, so
``image[y0:y1, x0:x1]`` is exactly the region that changed. Each method's parameter record
(``CutoutParams`` ...) lives beside its method, in :mod:`occlude.augment.methods`; all of
them have ``applied`` (false when the ``prob`` coin skipped the output; the image is then
unchanged and nothing else was drawn), ``to_dict()`` for the manifest and ``from_dict``.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeAlias

from occlude.box import Box as Box
from occlude.box import boxes_from as boxes_from
from occlude.box import boxes_json as boxes_json

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
