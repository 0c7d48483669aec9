"""Importance from saliency maps, for the saliency-guided layers.

Only the positive part of a map counts ("positive evidence for the class"). The
importance of a region is the sum of ``max(saliency, 0)`` inside it over the sum over the
whole image, and 0 when that total is 0. Box and cell sums come from an integral image
(float32), so every centre pixel's box is summed at once.
"""

from __future__ import annotations

from typing import Any

from occlude import draws as rnd
from occlude.augment import regions as geo
from occlude.errors import UsageError

Tensor = Any
LABEL_BY = ("area", "saliency")


def check_label_by(label_by: str) -> str:
    if label_by not in LABEL_BY:
        raise UsageError(f"label_by must be 'area' or 'saliency'; received {label_by!r}")
    return label_by


def positive(bk: Any, saliency: Tensor) -> Tensor:
    """(B, H, W) float32: the positive part of maps given as (B, H, W) or (B, H, W, 1)."""
    maps = bk.cast(saliency, "float32")
    if len(bk.shape(maps)) == 4:
        maps = maps[..., 0]
    return bk.numpy.maximum(maps, 0.0)


def integral(bk: Any, maps: Tensor) -> Tensor:
    """(B, H + 1, W + 1): ``S[b, y, x]`` is the sum of ``maps[b, :y, :x]``."""
    xp = bk.numpy
    sums = xp.cumsum(xp.cumsum(maps, axis=1), axis=2)
    return xp.pad(sums, ((0, 0), (1, 0), (1, 0)))


def _at(bk: Any, table: Tensor, ys: Tensor, xs: Tensor) -> Tensor:
    """``table[b, ys[b, ...], xs[b, ...]]`` for index tensors of one shape (B, ...)."""
    xp = bk.numpy
    width = bk.shape(table)[2]
    flat = xp.reshape(table, (bk.shape(table)[0], -1))
    index = xp.add(xp.multiply(ys, width), xs)
    shape = bk.shape(index)
    picked = xp.take_along_axis(flat, xp.reshape(index, (shape[0], -1)), axis=1)
    return xp.reshape(picked, shape)


def box_sums(bk: Any, table: Tensor, boxes: geo.Boxes) -> Tensor:
    """Sums inside clipped boxes (coordinates (B,) or (B, ...)) from an integral ``table``."""
    xp = bk.numpy
    inner = xp.add(_at(bk, table, boxes.y1, boxes.x1), _at(bk, table, boxes.y0, boxes.x0))
    outer = xp.add(_at(bk, table, boxes.y0, boxes.x1), _at(bk, table, boxes.y1, boxes.x0))
    return xp.subtract(inner, outer)


def totals(bk: Any, table: Tensor) -> Tensor:
    """(B,) each map's whole sum: the integral image's last entry."""
    return table[:, -1, -1]


def region_sums(bk: Any, maps: Tensor, region: geo.Region) -> Tensor:
    """(B,) each map's sum inside a region (one pass; cheaper than an integral image when
    only one region per sample is needed)."""
    inside = bk.numpy.where(region.expand(bk, 1), maps, 0.0)
    return bk.numpy.sum(inside, axis=(1, 2))


def share(bk: Any, part: Tensor, total: Tensor) -> Tensor:
    """Importance: ``part / total``, 0 where the total is 0."""
    xp = bk.numpy
    safe = xp.where(xp.greater(total, 0.0), total, 1.0)
    return xp.where(xp.greater(total, 0.0), xp.divide(part, safe), 0.0)


def peak(bk: Any, saliency: Tensor) -> tuple[Tensor, Tensor]:
    """(B,) ``x, y`` of each map's maximum, the first in raster order on ties (computed
    explicitly: TensorFlow does not promise which index its argmax returns on ties)."""
    xp = bk.numpy
    maps = bk.cast(saliency, "float32")
    if len(bk.shape(maps)) == 4:
        maps = maps[..., 0]
    b, w = bk.shape(maps)[0], bk.shape(maps)[2]
    flat = xp.reshape(maps, (b, -1))
    top = xp.max(flat, axis=1, keepdims=True)
    n = bk.shape(flat)[1]
    order = xp.expand_dims(xp.arange(n, dtype="int32"), 0)
    first = xp.min(xp.where(xp.equal(flat, top), order, rnd.int32(bk, n)), axis=1)
    first = xp.minimum(first, xp.subtract(rnd.int32(bk, n), 1))  # an all-NaN map: pixel n - 1
    return xp.mod(first, rnd.int32(bk, w)), xp.floor_divide(first, rnd.int32(bk, w))


def top_k_mask(bk: Any, values: Tensor, k: int) -> Tensor:
    """(B, N) bool: each row's ``k`` largest values, ties to the lower index (stable)."""
    xp = bk.numpy
    n = bk.shape(values)[1]
    a, b = xp.expand_dims(values, 2), xp.expand_dims(values, 1)  # a: this cell, b: others
    index = xp.arange(n, dtype="int32")
    lower = xp.less(xp.expand_dims(index, 1), xp.expand_dims(index, 0))  # [j, i]: j < i
    ahead = xp.logical_or(xp.greater(b, a), xp.logical_and(xp.equal(b, a), xp.transpose(lower)))
    rank = xp.sum(rnd.int32(bk, ahead), axis=2)
    return xp.less(rank, k)


def label_weights(
    bk: Any,
    label_by: str,
    area_share: Tensor,
    source_outside: Tensor,
    partner_inside: Tensor,
    applied: Tensor,
) -> Tensor:
    """(B,) the partner's label weight: its pixel share (``area``), or SnapMix-style
    ``b / (a + b)`` with ``a`` the source's importance outside the pasted region and ``b``
    the partner's inside it (``saliency``; the area share when ``a + b`` is 0)."""
    xp = bk.numpy
    if label_by == "area":
        return xp.where(applied, area_share, 0.0)
    a, b = source_outside, partner_inside
    ok = xp.greater(xp.add(a, b), 0.0)
    weight = xp.divide(b, xp.where(ok, xp.add(a, b), 1.0))
    return xp.where(applied, xp.where(ok, weight, area_share), 0.0)
