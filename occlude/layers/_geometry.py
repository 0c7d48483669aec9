"""Boxes and regions in backend ops: integer pixel boxes, end-exclusive, clipped.

A region is a (B, H, W) boolean tensor: true on the pixels a layer occludes or pastes.
Heights and widths may be Python ints (static shapes) or scalar tensors (dynamic ones).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from occlude.layers import _random as rnd

Tensor = Any


class Boxes(NamedTuple):
    """Per-sample boxes ``[x0, x1) x [y0, y1)``, each (B,) or (B, K) int32, already clipped."""

    x0: Tensor
    y0: Tensor
    x1: Tensor
    y1: Tensor


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


def region(bk: Any, boxes: Boxes, h: Any, w: Any) -> Tensor:
    """(B, H, W) bool: the union of each sample's boxes (the coordinates (B,) or (B, K))."""
    xp = bk.numpy
    if len(bk.shape(boxes.x0)) == 1:
        boxes = Boxes(*(xp.expand_dims(c, 1) for c in boxes))
    ys = xp.reshape(xp.arange(h, dtype="int32"), (1, 1, -1))
    xs = xp.reshape(xp.arange(w, dtype="int32"), (1, 1, -1))

    def inside(pos: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
        lo, hi = xp.expand_dims(lo, 2), xp.expand_dims(hi, 2)
        return xp.logical_and(xp.greater_equal(pos, lo), xp.less(pos, hi))

    rows = inside(ys, boxes.y0, boxes.y1)  # (B, K, H)
    cols = inside(xs, boxes.x0, boxes.x1)  # (B, K, W)
    both = xp.logical_and(xp.expand_dims(rows, 3), xp.expand_dims(cols, 2))
    return xp.any(both, axis=1)


def random_centres(bk: Any, keys: Tensor, stream: int, count: int, h: Any, w: Any) -> Any:
    """(B, count) centre pixels ``cx, cy``, each uniform over every pixel of the image."""
    u = rnd.uniform(bk, keys, stream, 2 * count)
    return rnd.randint(bk, u[:, :count], w), rnd.randint(bk, u[:, count:], h)
