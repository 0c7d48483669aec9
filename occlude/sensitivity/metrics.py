"""Numbers for CI about a sensitivity map: focus on a region, and faithfulness curves.

* focus: the share of the map's positive mass that lies inside an expected region;
* deletion / insertion (Petsiuk et al., RISE, 2018): remove (or restore) pixels in the
  map's order, most important first, and follow the class score. A faithful map makes
  the deletion curve fall fast (small area) and the insertion curve rise fast (large
  area); the same curves for a random pixel order are the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from occlude import saliency as S
from occlude.box import Box
from occlude.draws import NUMPY
from occlude.errors import UsageError
from occlude.scoring import Predict, score_batch


def focus(values: np.ndarray, region: np.ndarray) -> float:
    """Share of ``sum(max(values, 0))`` that falls where ``region`` is true (0 if none):
    the importance of a region (:mod:`occlude.saliency`; NaN and infinities are none).

    >>> focus(np.array([[1.0, -5.0], [3.0, 0.0]]), np.array([[True, True], [False, False]]))
    0.25
    """
    if values.shape != region.shape:
        raise UsageError(
            f"region shape {region.shape} does not match map shape {values.shape}", "region"
        )
    positive = S.positive(NUMPY, values, "float64")
    return float(S.share(NUMPY, positive[region.astype(bool)].sum(), positive.sum()))


def check_box(values: Sequence[Any], param: str = "expect_box") -> Box:
    """``values`` (x0, y0, x1, y1) as a :class:`~occlude.box.Box`, refused (naming
    ``param``) unless x0 < x1 and y0 < y1.

    >>> check_box([1, 2, 5, 4])
    Box(x0=1, y0=2, x1=5, y1=4)
    """
    box = Box.of(values)
    if box.x1 <= box.x0 or box.y1 <= box.y0:
        raise UsageError(f"{param} needs x0 < x1 and y0 < y1; received {tuple(box)}", param)
    return box


def box_mask(shape: tuple[int, int], box: Box) -> np.ndarray:
    """Boolean H×W mask of ``box``, end-exclusive, clipped to the image."""
    mask = np.zeros(shape, dtype=bool)
    mask[check_box(box).clip(shape).slices()] = True
    return mask


@dataclass(frozen=True)
class Curves:
    """Scores after deleting/inserting 0, 1/steps, ..., 1 of the pixels, in two orders."""

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    deletion_random: np.ndarray
    insertion_random: np.ndarray

    @staticmethod
    def auc(scores: np.ndarray) -> float:
        """Area under a curve whose x axis runs from 0 to 1 (trapezoids)."""
        return float(np.sum((scores[1:] + scores[:-1]) / 2.0) / (len(scores) - 1))

    def summary(self) -> dict[str, float]:
        return {
            "deletion_auc": self.auc(self.deletion),
            "insertion_auc": self.auc(self.insertion),
            "deletion_auc_random": self.auc(self.deletion_random),
            "insertion_auc_random": self.auc(self.insertion_random),
        }


def pixel_order(values: np.ndarray) -> np.ndarray:
    """Flat pixel indices, most positive first (ties keep raster order)."""
    return np.argsort(-values.reshape(-1), kind="stable")


def step_masks(order: np.ndarray, shape: tuple[int, int], steps: int) -> np.ndarray:
    """(steps + 1, H, W) booleans: step k marks the first round(k / steps · N) pixels."""
    n = shape[0] * shape[1]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    counts = np.rint(np.linspace(0, n, steps + 1)).astype(np.int64)
    return (rank[None, :] < counts[:, None]).reshape(steps + 1, *shape)


def deletion_insertion(
    image: np.ndarray,
    values: np.ndarray,
    predict: Predict,
    class_index: int,
    *,
    deleted: np.ndarray,
    blurred: np.ndarray,
    steps: int = 20,
    rng: np.random.Generator,
    batch_size: int = 32,
) -> Curves:
    """Deletion and insertion curves for the map's order and for a random order.

    Args:
        image: H×W×3 pixel-space image at the model's input size.
        values: the H×W map whose order is tested.
        deleted: what deleted pixels become (H×W×3, e.g. the grey fill).
        blurred: the canvas insertion starts from (H×W×3, a blurred copy of the image).
        rng: draws the random baseline order.

    Copies are built and scored ``batch_size`` at a time.
    """
    if steps < 1:
        raise UsageError(f"steps must be at least 1; received {steps}", "steps")
    shape = (image.shape[0], image.shape[1])
    orders = [pixel_order(values), rng.permutation(shape[0] * shape[1])]
    jobs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (mask, where, elsewhere)
    for order in orders:
        masks = step_masks(order, shape, steps)
        jobs += [(m, deleted, image) for m in masks]  # deletion: masked pixels deleted
        jobs += [(m, image, blurred) for m in masks]  # insertion: masked pixels restored
    scores = np.empty(len(jobs), dtype=np.float64)
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        batch = np.stack([np.where(m[..., None], a, b) for m, a, b in chunk]).astype(np.float32)
        scores[start : start + len(chunk)] = score_batch(predict, batch)[:, class_index]
    k = steps + 1
    return Curves(
        fractions=np.linspace(0.0, 1.0, k),
        deletion=scores[0:k],
        insertion=scores[k : 2 * k],
        deletion_random=scores[2 * k : 3 * k],
        insertion_random=scores[3 * k : 4 * k],
    )
