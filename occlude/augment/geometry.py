"""Boxes, regions and painting over a backend namespace (see :mod:`occlude.draws`).

Boxes are :class:`occlude.box.Box` batched: (B,) or (B, K) int32 ``x0, y0, x1, y1``,
end-exclusive, clipped. A region says which pixels a layer
occludes or pastes in each sample. It is built directly at the images' resolution in a
*row view*, (B, H, W * C): TensorFlow's ``where`` is several times slower on 4-D tensors
or with a small last axis, and the row view avoids both (see ``bench/bench_layers.py``).
Heights and widths may be Python ints (static shapes) or scalar tensors (dynamic ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from occlude import draws as rnd
from occlude.box import Box

Tensor = Any


class Boxes(NamedTuple):
    """Per-sample boxes ``[x0, x1) x [y0, y1)``, each (B,) or (B, K) int32."""

    x0: Tensor
    y0: Tensor
    x1: Tensor
    y1: Tensor


def coin(bk: Any, keys: Tensor, prob: float) -> Tensor:
    """(B,) bool: the ``prob`` coin of each sample (its first draw)."""
    return bk.numpy.less(rnd.uniform(bk, keys, rnd.COIN, 1)[:, 0], prob)


class BoxParams(NamedTuple):
    """What a box method draws: ``boxes`` (each coordinate (B, K) int32) painted where
    ``applied`` (B,) bool. As JSON (one image): ``{"applied": ..., "boxes": [[x0, y0,
    x1, y1], ...]}``, the boxes of an image the coin skipped left out."""

    boxes: Boxes
    applied: Tensor

    @classmethod
    def of(cls, boxes: list[Box], applied: bool = True) -> BoxParams:
        """One image's boxes (a batch of one, on NumPy)."""
        coords = np.asarray([list(b) for b in boxes], "int32").reshape(1, -1, 4)
        return cls(Boxes(*np.moveaxis(coords, 2, 0)), np.asarray([applied]))

    def to_dict(self) -> dict[str, Any]:
        applied = bool(np.asarray(self.applied)[0])
        coords = np.stack([np.asarray(c).reshape(1, -1)[0] for c in self.boxes], axis=1)
        boxes = [[int(v) for v in box] for box in coords] if applied else []
        return {"applied": applied, "boxes": boxes}

    @classmethod
    def from_dict(cls, data: dict[str, Any], one: bool = False) -> BoxParams:
        """From the JSON; ``one``: a method of one box gets an empty one where none was."""
        boxes = [Box.of(b) for b in data["boxes"]] or ([Box(0, 0, 0, 0)] if one else [])
        return cls.of(boxes, bool(data["applied"]))


def image_hw(bk: Any, images: Tensor) -> tuple[Any, Any]:
    shape = bk.shape(images)
    return shape[1], shape[2]


def centred(bk: Any, cx: Tensor, cy: Tensor, bw: Tensor, bh: Tensor, h: Any, w: Any) -> Boxes:
    """A ``bw`` x ``bh`` box whose centre pixel is ``(cx, cy)`` (top-left at ``c - side // 2``,
    as the CLI), clipped at the border."""
    xp = bk.numpy
    x0 = xp.subtract(cx, xp.floor_divide(bw, 2))
    y0 = xp.subtract(cy, xp.floor_divide(bh, 2))
    return clip(bk, Boxes(x0, y0, xp.add(x0, bw), xp.add(y0, bh)), h, w)


def clip(bk: Any, boxes: Boxes, h: Any, w: Any) -> Boxes:
    xp = bk.numpy
    hi_w, hi_h = rnd.int32(bk, w), rnd.int32(bk, h)
    x0, y0 = xp.clip(boxes.x0, 0, hi_w), xp.clip(boxes.y0, 0, hi_h)
    x1 = xp.maximum(x0, xp.minimum(boxes.x1, hi_w))
    y1 = xp.maximum(y0, xp.minimum(boxes.y1, hi_h))
    return Boxes(x0, y0, x1, y1)


def area(bk: Any, boxes: Boxes) -> Tensor:
    xp = bk.numpy
    return xp.multiply(xp.subtract(boxes.x1, boxes.x0), xp.subtract(boxes.y1, boxes.y0))


def random_centres(bk: Any, keys: Tensor, stream: int, count: int, h: Any, w: Any) -> Any:
    """(B, count) centre pixels ``cx, cy``, each uniform over every pixel of the image."""
    u = rnd.uniform(bk, keys, stream, 2 * count)
    return rnd.randint(bk, u[:, :count], w), rnd.randint(bk, u[:, count:], h)


def inside(bk: Any, keys: Tensor, eh: Any, ew: Any, h: Any, w: Any) -> Boxes:
    """(B, 1) boxes of ``eh`` x ``ew`` (ints or (B, 1) int32) with the top-left corner uniform
    over the positions where they fit (Random Erasing's placement; the ``PLACE`` stream)."""
    xp = bk.numpy
    corner = rnd.uniform(bk, keys, rnd.PLACE, 2)
    y0 = rnd.randint(bk, corner[:, :1], xp.add(xp.maximum(xp.subtract(h, eh), 0), 1))
    x0 = rnd.randint(bk, corner[:, 1:], xp.add(xp.maximum(xp.subtract(w, ew), 0), 1))
    return Boxes(x0, y0, xp.add(x0, ew), xp.add(y0, eh))


class Region(Protocol):
    def expand(self, bk: Any, channels: int) -> Tensor:
        """(B, H, W * channels) bool, true on the region's pixels (every channel)."""


@dataclass(frozen=True)
class BoxRegion:
    """The union of K boxes per sample: ``rows`` (B, K, H) and ``cols`` (B, K, W) say which
    rows and columns each box covers."""

    rows: Tensor
    cols: Tensor

    def expand(self, bk: Any, channels: int) -> Tensor:
        xp = bk.numpy
        if bk.shape(self.rows)[1] == 1:
            cols = xp.repeat(self.cols[:, 0], channels, axis=1)
            return xp.logical_and(xp.expand_dims(self.rows[:, 0], 2), xp.expand_dims(cols, 1))
        # Several boxes: how many cover each pixel, as one batched product of 0/1 matrices
        # (exact in float32), instead of a pass over the batch per box.
        rows = bk.cast(xp.transpose(self.rows, (0, 2, 1)), "float32")  # (B, H, K)
        cols = bk.cast(xp.repeat(self.cols, channels, axis=2), "float32")  # (B, K, W * C)
        return xp.greater(xp.matmul(rows, cols), 0.0)


def box_region(bk: Any, boxes: Boxes, h: Any, w: Any, applied: Tensor) -> BoxRegion:
    """The region of ``boxes`` (coordinates (B,) or (B, K)) in samples where ``applied``."""
    xp = bk.numpy
    if len(bk.shape(boxes.x0)) == 1:
        boxes = Boxes(*(xp.expand_dims(c, 1) for c in boxes))
    gate = xp.reshape(applied, (-1, 1, 1))

    def inside(n: Any, lo: Tensor, hi: Tensor) -> Tensor:
        pos = xp.reshape(xp.arange(n, dtype="int32"), (1, 1, -1))
        lo, hi = xp.expand_dims(lo, 2), xp.expand_dims(hi, 2)
        return xp.logical_and(xp.greater_equal(pos, lo), xp.less(pos, hi))

    rows = xp.logical_and(inside(h, boxes.y0, boxes.y1), gate)
    return BoxRegion(rows, inside(w, boxes.x0, boxes.x1))


@dataclass(frozen=True)
class CellRegion:
    """Hidden cells of a grid per sample: pixel (y, x) of sample b lies in cell
    (``row_cell[b, y]``, ``col_cell[b, x]``), which is in the region if ``hidden[b, r, c]``."""

    row_cell: Tensor  # (B, H) int32
    col_cell: Tensor  # (B, W) int32
    hidden: Tensor  # (B, R, Q) bool

    def expand(self, bk: Any, channels: int) -> Tensor:
        xp = bk.numpy
        b, n_rows = bk.shape(self.hidden)[0], bk.shape(self.hidden)[1]
        cols = xp.expand_dims(xp.repeat(self.col_cell, channels, axis=1), 1)
        cols = xp.broadcast_to(cols, (b, n_rows, bk.shape(cols)[2]))
        # Each cell row's pattern along the (channel-expanded) columns: (B, R, W * C) ...
        pattern = xp.take_along_axis(rnd.int32(bk, self.hidden), cols, axis=2)
        # ... then each image row takes its cell row's pattern (a gather of whole rows).
        offsets = xp.multiply(xp.arange(b, dtype="int32"), rnd.int32(bk, n_rows))
        index = xp.reshape(xp.add(self.row_cell, xp.expand_dims(offsets, 1)), (-1,))
        flat = xp.reshape(pattern, (-1, bk.shape(pattern)[2]))
        rows = xp.take(flat, index, axis=0)
        return xp.greater(xp.reshape(rows, (b, -1, bk.shape(flat)[1])), 0)


def row_view(bk: Any, x: Tensor) -> Tensor:
    """(B, H, W, C) as (B, H, W * C); a (B, H, W) tensor as (B, H, W)."""
    shape = bk.shape(x)
    if len(shape) == 3:
        return x
    return bk.numpy.reshape(x, (shape[0], shape[1], shape[2] * shape[3]))


def paint(bk: Any, x: Tensor, region: Region, value: Tensor) -> Tensor:
    """``x`` (B, H, W[, C]) with ``value`` (row view, broadcastable) on ``region``."""
    shape = bk.shape(x)
    channels = shape[3] if len(shape) == 4 else 1
    out = bk.numpy.where(region.expand(bk, channels), value, row_view(bk, x))
    return bk.numpy.reshape(out, shape)
