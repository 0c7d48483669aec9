"""Importance in a map, once, over a backend namespace ``bk``: the guided augmentations'
and sensitivity's focus (:func:`occlude.sensitivity.metrics.focus`).

A map is what ``occlude sensitivity`` measures (the score drop when a region is occluded);
only its positive part is importance: positive evidence for the class (NaN and infinities
are none). The importance of a region is its share of the image's positive mass: the sum
of ``max(saliency, 0)`` inside it over the sum over the whole image, 0 when that is 0.

Every function takes maps with a leading batch axis, (B, H, W) (or (B, H, W, 1)), on
:data:`occlude.draws.NUMPY` (the folder command, focus: a batch of one) or Keras's backend
(the layers). Box and cell sums come from an integral image (float32), so every centre
pixel's box is summed at once. :func:`fit` brings a map read from a file to the image's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from occlude import draws as rnd
from occlude.errors import UsageError

Tensor = Any


def maps_of(bk: Any, saliency: Tensor, dtype: str = "float32") -> Tensor:
    """(B, H, W) maps in ``dtype`` from (B, H, W) or (B, H, W, 1)."""
    maps = bk.cast(saliency, dtype)
    return maps[..., 0] if len(bk.shape(maps)) == 4 else maps


def positive(bk: Any, saliency: Tensor, dtype: str = "float32") -> Tensor:
    """(B, H, W) in ``dtype``: the positive part of the maps (NaN and infinities count as 0)."""
    xp = bk.numpy
    maps = maps_of(bk, saliency, dtype)
    keep = xp.logical_and(xp.isfinite(maps), xp.greater(maps, 0.0))
    return xp.where(keep, maps, 0.0)


def integral(bk: Any, maps: Tensor) -> Tensor:
    """(B, H + 1, W + 1): ``S[b, y, x]`` is the sum of ``maps[b, :y, :x]``."""
    xp = bk.numpy
    sums = xp.cumsum(xp.cumsum(maps, axis=1), axis=2)
    return xp.pad(sums, ((0, 0), (1, 0), (1, 0)))


def totals(bk: Any, table: Tensor) -> Tensor:
    """(B,) each map's whole sum: the integral image's last entry."""
    return table[:, -1, -1]


def centred_box_sums(bk: Any, table: Tensor, side: Any, h: Any, w: Any) -> Tensor:
    """(B, H * W) sums of the clipped ``side`` x ``side`` box centred on every pixel (as
    Cutout places it; raster order), from the integral image ``table``: whole rows first
    (cheap gathers), then columns."""
    xp = bk.numpy

    def bounds(n: Any) -> tuple[Tensor, Tensor]:
        start = xp.subtract(xp.arange(n, dtype="int32"), xp.floor_divide(rnd.int32(bk, side), 2))
        lo = xp.clip(start, 0, rnd.int32(bk, n))
        return lo, xp.clip(xp.add(start, rnd.int32(bk, side)), 0, rnd.int32(bk, n))

    (y0, y1), (x0, x1) = bounds(h), bounds(w)
    bands = xp.subtract(xp.take(table, y1, axis=1), xp.take(table, y0, axis=1))  # (B, H, W + 1)
    sums = xp.subtract(xp.take(bands, x1, axis=2), xp.take(bands, x0, axis=2))  # (B, H, W)
    return xp.reshape(sums, (bk.shape(table)[0], -1))


def region_sums(bk: Any, maps: Tensor, region: Tensor) -> Tensor:
    """(B,) each map's sum where ``region`` (B, H, W) is true (one pass; cheaper than an
    integral image when only one region per sample is needed)."""
    inside = bk.numpy.where(region, maps, 0.0)
    return bk.numpy.sum(inside, axis=(1, 2))


def share(bk: Any, part: Tensor, total: Tensor) -> Tensor:
    """Importance: ``part / total``, 0 where the total is 0."""
    xp = bk.numpy
    safe = xp.where(xp.greater(total, 0.0), total, 1.0)
    return xp.where(xp.greater(total, 0.0), xp.divide(part, safe), 0.0)


def peak(bk: Any, saliency: Tensor) -> tuple[Tensor, Tensor]:
    """(B,) ``x, y`` of each raw map's largest value (the largest importance whenever any is
    positive; the least negative otherwise), the first in raster order on ties, NaN never
    (computed explicitly: TensorFlow does not promise which index its argmax returns on ties)."""
    xp = bk.numpy
    maps = maps_of(bk, saliency)
    b, w = bk.shape(maps)[0], bk.shape(maps)[2]
    flat = xp.reshape(maps, (b, -1))
    flat = xp.where(xp.isnan(flat), float("-inf"), flat)
    top = xp.max(flat, axis=1, keepdims=True)
    first = first_where(bk, xp.equal(flat, top))
    return xp.mod(first, rnd.int32(bk, w)), xp.floor_divide(first, rnd.int32(bk, w))


def first_where(bk: Any, ok: Tensor) -> Tensor:
    """(B,) index of each row's first true entry (the last index if none is)."""
    xp = bk.numpy
    n = bk.shape(ok)[1]
    order = xp.expand_dims(xp.arange(n, dtype="int32"), 0)
    first = xp.min(xp.where(ok, order, rnd.int32(bk, n)), axis=1)
    return xp.minimum(first, xp.subtract(rnd.int32(bk, n), 1))


def cell_bounds(bk: Any, n: Any, grid: int) -> Any:
    """The grid + 1 cell edges ``floor(i * n / grid)``, i = 0..grid, along a side of ``n``:
    a list of ints for a static side, else an int32 tensor."""
    if isinstance(n, int):
        return [i * n // grid for i in range(grid + 1)]
    steps = bk.numpy.multiply(bk.numpy.arange(grid + 1, dtype="int32"), rnd.int32(bk, n))
    return bk.numpy.floor_divide(steps, grid)


def cell_sums(bk: Any, maps: Tensor, rows: Any, cols: Any) -> Tensor:
    """(B, G, G) each cell's sum (edges from :func:`cell_bounds`): band by band for static
    edges (a pass over the maps), else from an integral image at the cell corners."""
    xp = bk.numpy
    if isinstance(rows, list) and isinstance(cols, list):
        bands = [xp.sum(maps[:, :, c0:c1], axis=2) for c0, c1 in pairwise(cols)]
        per_col = xp.stack(bands, axis=2)  # (B, H, G)
        cells = [xp.sum(per_col[:, r0:r1], axis=1) for r0, r1 in pairwise(rows)]
        return xp.stack(cells, axis=1)
    table = integral(bk, maps)
    corners = xp.take(xp.take(table, rows, axis=1), cols, axis=2)  # (B, G + 1, G + 1)
    inner = xp.add(corners[:, 1:, 1:], corners[:, :-1, :-1])
    return xp.subtract(inner, xp.add(corners[:, :-1, 1:], corners[:, 1:, :-1]))


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


def fit(saliency: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """One map (H×W, as read from a file) at ``shape`` (height, width): bilinear when it is
    another size. The folder command's; a layer's maps come at the images' size."""
    from occlude.imageio import resize_map

    arr = np.asarray(saliency, dtype=np.float32)
    if arr.ndim != 2:
        raise UsageError(f"saliency must be an H×W map; received shape {arr.shape}", "saliency")
    h, w = int(shape[0]), int(shape[1])
    return arr if arr.shape == (h, w) else resize_map(arr, (w, h))
