"""CutMix (Yun et al. 2019): a box of the partner pasted in; lam from the clipped box."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from occlude.augment import functional as F
from occlude.augment.checks import check_alpha, check_prob, check_shape
from occlude.augment.methods.base import Mixer, expect
from occlude.augment.params import Box, Params, box_area, boxes_from, boxes_json, centred_box, coin

CUTMIX_ALPHA = 1.0


@dataclass(frozen=True)
class CutmixParams:
    """The partner's pixels pasted into ``boxes`` (one box). ``lam`` = 1 - (clipped box
    area) / (H * W), the source's share of the pixels; ``lam_sampled`` is the raw Beta
    draw that sized the box."""

    boxes: tuple[Box, ...]
    lam: float
    lam_sampled: float | None
    applied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "boxes": boxes_json(self.boxes),
            "lam": self.lam,
            "lam_sampled": self.lam_sampled,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CutmixParams:
        sampled = None if data["lam_sampled"] is None else float(data["lam_sampled"])
        return cls(boxes_from(data["boxes"]), float(data["lam"]), sampled, bool(data["applied"]))


def cutmix_box(rng: np.random.Generator, shape: tuple[int, int], lam: float) -> Box:
    """A box of sides sqrt(1 - lam) times the image's, centre uniform, clipped."""
    h, w = shape
    ratio = math.sqrt(1.0 - lam)
    bw, bh = round(w * ratio), round(h * ratio)
    cx = int(rng.integers(0, w))
    cy = int(rng.integers(0, h))
    return centred_box(cx, cy, bw, bh, (h, w))


def sample_cutmix(
    rng: np.random.Generator, shape: Sequence[int], *, alpha: float = CUTMIX_ALPHA,
    prob: float = 1.0,
) -> CutmixParams:  # fmt: skip
    """lam ~ Beta(alpha, alpha); a box of area (1 - lam) H W with a uniform centre,
    clipped at the border. ``lam`` is then recomputed from the clipped box, so it is the
    source's true share of pixels."""
    h, w = check_shape(shape)
    alpha = check_alpha(alpha)
    if not coin(rng, check_prob(prob)):
        return CutmixParams((), 1.0, None, applied=False)
    lam_sampled = float(rng.beta(alpha, alpha))
    box = cutmix_box(rng, (h, w), lam_sampled)
    lam = 1.0 - box_area(box) / (h * w)
    return CutmixParams((box,), lam, lam_sampled)


@dataclass(frozen=True)
class Cutmix(Mixer):
    """lam ~ Beta(alpha, alpha); the partner's pixels pasted into a box of (1 - lam) of
    the image with a uniform centre, clipped; lam recomputed from the clipped box."""

    name = "cutmix"
    reference = "Yun et al. 2019"
    params_type = CutmixParams

    alpha: float = CUTMIX_ALPHA

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "alpha", check_alpha(self.alpha))

    def sample(self, rng: np.random.Generator, shape: Sequence[int]) -> CutmixParams:
        return sample_cutmix(rng, shape, alpha=self.alpha, prob=self.prob)

    def mix(self, image: np.ndarray, params: Params, partner: np.ndarray) -> np.ndarray:
        return F.cutmix(image, partner, expect(params, CutmixParams).boxes)
