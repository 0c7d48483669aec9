"""Importance for saliency-guided augmentation: pure functions of a map.

A map is what ``occlude sensitivity`` measures (the score drop when a region is occluded);
only its positive part is importance: positive evidence for the class. The importance of a
region is its share of the image's total positive mass (0 when there is none).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from occlude.augment.params import Box, box_area
from occlude.errors import UsageError

LABEL_RULES = ("area", "saliency")


def positive(saliency: np.ndarray) -> np.ndarray:
    """The positive part of a map as float64 (NaN counts as no evidence)."""
    arr = np.asarray(saliency, dtype=np.float64)
    if arr.ndim != 2:
        raise UsageError(f"saliency must be an H×W map; received shape {arr.shape}", "saliency")
    return np.where(np.isfinite(arr) & (arr > 0), arr, 0.0)


def share(pos: np.ndarray, mask: np.ndarray) -> float:
    """Importance of the pixels where ``mask`` is true: their share of the positive mass."""
    total = float(pos.sum())
    return float(pos[mask].sum() / total) if total > 0 else 0.0


def boxes_mask(shape: Sequence[int], boxes: Sequence[Box]) -> np.ndarray:
    mask = np.zeros((int(shape[0]), int(shape[1])), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = True
    return mask


def box_share(pos: np.ndarray, box: Box) -> float:
    """Importance inside one box."""
    x0, y0, x1, y1 = box
    total = float(pos.sum())
    return float(pos[y0:y1, x0:x1].sum() / total) if total > 0 else 0.0


def centred_box_shares(pos: np.ndarray, side: int) -> np.ndarray:
    """For every centre pixel, the importance of the ``side`` x ``side`` box centred there
    and clipped at the border (as Cutout places it), in one pass over an integral image."""
    h, w = pos.shape
    integral = np.zeros((h + 1, w + 1), dtype=np.float64)
    integral[1:, 1:] = pos.cumsum(0).cumsum(1)
    y0 = np.clip(np.arange(h) - side // 2, 0, h)
    x0 = np.clip(np.arange(w) - side // 2, 0, w)
    y1 = np.clip(np.arange(h) - side // 2 + side, 0, h)
    x1 = np.clip(np.arange(w) - side // 2 + side, 0, w)
    sums = (integral[y1][:, x1] - integral[y0][:, x1] - integral[y1][:, x0]
            + integral[y0][:, x0])  # fmt: skip
    total = float(pos.sum())
    result: np.ndarray = sums / total if total > 0 else np.zeros((h, w))
    return result


def peak(saliency: np.ndarray) -> tuple[int, int]:
    """``(row, col)`` of the map's largest value (the largest importance whenever any is
    positive; the least negative otherwise), the first in raster order on ties; NaN is
    never the peak."""
    arr = np.asarray(saliency, dtype=np.float64)
    row, col = np.unravel_index(int(np.argmax(np.where(np.isnan(arr), -np.inf, arr))), arr.shape)
    return int(row), int(col)


def grid_cells(shape: Sequence[int], grid: int) -> list[Box]:
    """The ``grid`` x ``grid`` cells, row-major, with edges at floor(i·H/grid)."""
    h, w = int(shape[0]), int(shape[1])
    ys = [i * h // grid for i in range(grid + 1)]
    xs = [j * w // grid for j in range(grid + 1)]
    return [Box(xs[c], ys[r], xs[c + 1], ys[r + 1]) for r in range(grid) for c in range(grid)]


def source_weight(
    src: np.ndarray | None, partner: np.ndarray | None, pasted: np.ndarray, rule: str
) -> float:
    """The source's label weight (the partner gets the rest).

    ``area``: the share of pixels that stay the source's. ``saliency`` (SnapMix-style): the
    source's importance outside the pasted region, a, against the partner's inside it, b;
    a / (a + b), falling back to area when both are 0.
    """
    if rule not in LABEL_RULES:
        raise UsageError(f"label_by must be area or saliency; received {rule!r}", "label_by")
    area = 1.0 - float(pasted.mean())
    if rule == "area" or src is None or partner is None:
        return area
    a = share(src, ~pasted)
    b = share(partner, pasted)
    return a / (a + b) if a + b > 0 else area


def pasted_area(shape: Sequence[int], boxes: Sequence[Box]) -> int:
    return sum(box_area(b) for b in boxes)


def fit(saliency: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """A map at ``shape`` (height, width): bilinear when it is another size."""
    from occlude.imageio import resize_map

    arr = np.asarray(saliency, dtype=np.float32)
    if arr.ndim != 2:
        raise UsageError(f"saliency must be an H×W map; received shape {arr.shape}", "saliency")
    h, w = int(shape[0]), int(shape[1])
    return arr if arr.shape == (h, w) else resize_map(arr, (w, h))
