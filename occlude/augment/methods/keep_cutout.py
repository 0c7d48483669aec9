"""KeepAugment's selective cut (Gong et al. 2021): Cutout that spares what the label needs.

A Cutout box (centre uniform over every pixel, clipped) is redrawn until the importance
inside it is at most a threshold: the ``keep_quantile`` quantile of the importance of such a
box over all centres of the image. After ``max_tries`` draws the least important draw is
kept, and the parameters say so (``ran_out``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from occlude.augment import functional as F
from occlude.augment import regions as geo
from occlude.augment import saliency as S
from occlude.augment.checks import check_int, check_prob, check_size
from occlude.augment.methods.base import ArrayOccluder, Augmented, Context, expect
from occlude.augment.methods.cutout import CUTOUT_SIZE, square_side
from occlude.augment.params import Box, Params, boxes_from, boxes_json, centred_box, coin
from occlude.draws import NUMPY
from occlude.errors import UsageError
from occlude.fill import Fill, parse_fill


@dataclass(frozen=True)
class KeepCutoutParams:
    """The box kept, how many draws it took, its importance and the threshold."""

    boxes: tuple[Box, ...]
    attempts: int = 0
    importance: float | None = None
    threshold: float | None = None
    ran_out: bool = False
    applied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "boxes": boxes_json(self.boxes),
            "attempts": self.attempts,
            "importance": self.importance,
            "threshold": self.threshold,
            "ran_out": self.ran_out,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeepCutoutParams:
        return cls(boxes_from(data["boxes"]), int(data["attempts"]), data["importance"],
                   data["threshold"], bool(data["ran_out"]), bool(data["applied"]))  # fmt: skip


def sample_keep_cutout(
    rng: np.random.Generator,
    saliency: np.ndarray,
    *,
    size: float = CUTOUT_SIZE,
    keep_quantile: float = 0.5,
    max_tries: int = 10,
    prob: float = 1.0,
) -> KeepCutoutParams:
    """Draw Cutout boxes until one holds at most the ``keep_quantile`` quantile of box
    importance (over every centre); the draws are the coin, then (row, column) per try."""
    h, w = saliency.shape
    side = square_side(NUMPY, check_size(size), h, w)
    if not coin(rng, check_prob(prob)):
        return KeepCutoutParams((), applied=False)
    table = S.integral(NUMPY, S.positive(NUMPY, saliency[None]))
    total = S.totals(NUMPY, table)
    every = np.maximum(S.centred_box_sums(NUMPY, table, side, h, w), 0.0)
    threshold = float(np.quantile(S.share(NUMPY, every, total[:, None])[0], keep_quantile))
    best: tuple[float, Box] | None = None
    for attempt in range(1, max_tries + 1):
        cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
        box = centred_box(cx, cy, side, side, (h, w))
        corners = geo.Boxes(*(np.asarray([v], np.int32) for v in box))
        value = float(S.share(NUMPY, S.box_sums(NUMPY, table, corners), total)[0])
        if value <= threshold:
            return KeepCutoutParams((box,), attempt, value, threshold)
        if best is None or value < best[0]:
            best = (value, box)
    assert best is not None
    return KeepCutoutParams((best[1],), max_tries, best[0], threshold, ran_out=True)


@dataclass(frozen=True)
class KeepCutout(ArrayOccluder):
    """Cutout whose box avoids the important regions of the image's own map."""

    name = "keep-cutout"
    reference = "Gong et al. 2021 (KeepAugment)"
    guided = True
    params_type = KeepCutoutParams

    fill: Fill = field(default_factory=lambda: parse_fill("grey"))
    size: float = CUTOUT_SIZE
    keep_quantile: float = 0.5
    max_tries: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "size", check_size(self.size))
        object.__setattr__(self, "keep_quantile", check_prob(self.keep_quantile, "keep_quantile"))
        object.__setattr__(self, "max_tries", check_int(self.max_tries, "max_tries"))

    def sample(self, rng: np.random.Generator, shape: Sequence[int]) -> KeepCutoutParams:
        raise UsageError("keep-cutout samples from a saliency map: call it with a Context "
                         "that holds one", "saliency")  # fmt: skip

    def sample_with(self, rng: np.random.Generator, saliency: np.ndarray) -> KeepCutoutParams:
        return sample_keep_cutout(rng, saliency, size=self.size, keep_quantile=self.keep_quantile,
                                  max_tries=self.max_tries, prob=self.prob)  # fmt: skip

    def __call__(
        self, image: np.ndarray, rng: np.random.Generator, context: Context = Context()
    ) -> Augmented:
        arr = F.check_image(image)
        if context.saliency is None:
            raise UsageError("keep-cutout needs the image's saliency map", "saliency")
        params = self.sample_with(rng, S.fit(context.saliency, arr.shape[:2]))
        if not params.applied:
            return Augmented(arr.copy(), params)
        fill = self.fill_value(rng, arr, context.dataset_mean)
        return Augmented(self.apply(arr, params, fill=fill), params, fill=fill)

    def paint(self, image: np.ndarray, params: Params, fill: F.FillValue) -> np.ndarray:
        return F.erase_boxes(image, expect(params, KeepCutoutParams).boxes, fill)

    @classmethod
    def at_fraction(
        cls, rng: np.random.Generator, shape: tuple[int, int], fraction: float
    ) -> Params:
        raise UsageError("keep-cutout needs a saliency map: it has no robustness curve", "methods")
