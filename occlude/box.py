"""The one box: ``Box(x0, y0, x1, y1)`` in pixels, half-open, so ``image[y0:y1, x0:x1]``.

Columns ``x0 .. x1 - 1`` and rows ``y0 .. y1 - 1``. Augmentation regions, sensitivity
windows, the incremental engine's dirty regions, ``focus`` and ``--expect-box`` all use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple


class Box(NamedTuple):
    """``[x0, x1) x [y0, y1)`` in whole pixels; a tuple, so it unpacks and compares as one."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return max(0, self.x1 - self.x0)

    @property
    def height(self) -> int:
        return max(0, self.y1 - self.y0)

    @property
    def area(self) -> int:
        """Pixels inside (0 for an empty box)."""
        return self.width * self.height

    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` to index an H×W[×C] array with."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def clip(self, shape: tuple[int, int]) -> Box:
        """The part inside an image of ``(height, width)`` (may be empty, never inverted)."""
        h, w = shape
        cx0, cy0 = min(max(self.x0, 0), w), min(max(self.y0, 0), h)
        return Box(cx0, cy0, max(cx0, min(self.x1, w)), max(cy0, min(self.y1, h)))

    @classmethod
    def centred(cls, cx: int, cy: int, width: int, height: int, shape: tuple[int, int]) -> Box:
        """A ``width`` x ``height`` box whose centre pixel is ``(cx, cy)`` (top-left at
        ``c - side // 2``), clipped to ``shape``."""
        x0, y0 = cx - width // 2, cy - height // 2
        return cls(x0, y0, x0 + width, y0 + height).clip(shape)

    @classmethod
    def of(cls, values: Sequence[Any]) -> Box:
        """A box from four numbers ``[x0, y0, x1, y1]`` (a manifest or JSON list)."""
        x0, y0, x1, y1 = (int(v) for v in values)
        return cls(x0, y0, x1, y1)


def boxes_json(boxes: Sequence[Box]) -> list[list[int]]:
    return [list(b) for b in boxes]


def boxes_from(data: Any) -> tuple[Box, ...]:
    """Boxes from a JSON list of ``[x0, y0, x1, y1]``."""
    return tuple(Box.of(b) for b in data)
