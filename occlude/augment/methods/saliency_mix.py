"""SaliencyMix (Uddin et al. 2021): a CutMix box centred on the partner's salient peak.

λ ~ Beta(α, α); a box of sides √(1−λ)·W × √(1−λ)·H is centred on the partner's most
important pixel (its map's peak, the first in raster order on ties), clipped at the border,
and the partner's pixels there are pasted at the same place in the source, so the pasted
patch carries the partner's object. The label follows ``label_by``: ``area`` (the source
keeps its pixel share) or ``saliency`` (SnapMix-style importance weights).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from occlude.augment import functional as F
from occlude.augment import regions as geo
from occlude.augment import saliency as S
from occlude.augment.checks import check_alpha, check_label_by, check_prob
from occlude.augment.methods.base import ArrayMixer, Augmented, Context, expect
from occlude.augment.params import Box, Params, boxes_from, boxes_json, centred_box, coin
from occlude.draws import NUMPY
from occlude.errors import UsageError


@dataclass(frozen=True)
class SaliencyMixParams:
    """The pasted box, the source's label weight ``lam`` (by ``label_by``), the raw Beta
    draw, the partner's peak ``(row, col)`` and the partner's importance inside the box."""

    boxes: tuple[Box, ...]
    lam: float
    lam_sampled: float | None
    peak: tuple[int, int] | None = None
    importance: float | None = None
    label_by: str = "area"
    applied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "boxes": boxes_json(self.boxes),
            "lam": self.lam,
            "lam_sampled": self.lam_sampled,
            "peak": list(self.peak) if self.peak else None,
            "importance": self.importance,
            "label_by": self.label_by,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SaliencyMixParams:
        peak = tuple(data["peak"]) if data["peak"] is not None else None
        sampled = None if data["lam_sampled"] is None else float(data["lam_sampled"])
        return cls(boxes_from(data["boxes"]), float(data["lam"]), sampled, peak,  # type: ignore[arg-type]
                   data["importance"], str(data["label_by"]), bool(data["applied"]))  # fmt: skip


def saliency_box(
    partner: np.ndarray, shape: tuple[int, int], lam: float
) -> tuple[Box, tuple[int, int]]:
    """The box of area (1 − λ) H W centred on the partner map's peak, clipped."""
    h, w = shape
    ratio = math.sqrt(1.0 - lam)
    px, py = S.peak(NUMPY, partner[None])
    row, col = int(py[0]), int(px[0])
    return centred_box(col, row, round(w * ratio), round(h * ratio), shape), (row, col)


@dataclass(frozen=True)
class SaliencyMix(ArrayMixer):
    """λ ~ Beta(α, α); the partner's salient box pasted at its own place."""

    name = "saliency-mix"
    reference = "Uddin et al. 2021 (SaliencyMix)"
    guided = True
    params_type = SaliencyMixParams

    alpha: float = 1.0
    label_by: str = "area"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "alpha", check_alpha(self.alpha))
        object.__setattr__(self, "label_by", check_label_by(self.label_by))

    def sample(self, rng: np.random.Generator, shape: Sequence[int]) -> SaliencyMixParams:
        raise UsageError("saliency-mix samples from the partner's saliency map: call it with "
                         "a Context that holds them", "partner_saliency")  # fmt: skip

    def __call__(
        self, image: np.ndarray, rng: np.random.Generator, context: Context = Context()
    ) -> Augmented:
        """The draws: the coin, λ, then the partner's index."""
        arr = F.check_image(image)
        shape = (int(arr.shape[0]), int(arr.shape[1]))
        if not coin(rng, check_prob(self.prob)):
            return Augmented(arr.copy(), SaliencyMixParams((), 1.0, None, applied=False))
        lam = float(rng.beta(self.alpha, self.alpha))
        if len(context.partners) == 0 or context.partner_saliency is None:
            raise UsageError(f"{self.name} needs partner images and their saliency maps",
                             "partner_saliency")  # fmt: skip
        index = int(rng.integers(0, len(context.partners)))
        partner_map = S.fit(context.partner_saliency[index], shape)
        box, top = saliency_box(partner_map, shape, lam)
        weight, inside = guided_weight(self.label_by, context.saliency, partner_map, [box])
        params = SaliencyMixParams((box,), weight, lam, top, inside, self.label_by)
        partner = F.match_partner(context.partners[index], arr)
        return Augmented(self.apply(arr, params, partner=partner), params, partner_index=index)

    def mix(self, image: np.ndarray, params: Params, partner: np.ndarray) -> np.ndarray:
        return F.cutmix(image, partner, expect(params, SaliencyMixParams).boxes)


def guided_weight(
    label_by: str, saliency: np.ndarray | None, partner_map: np.ndarray, boxes: list[Box]
) -> tuple[float, float]:
    """One image's label weight (the source's, by ``label_by``) and the partner's
    importance inside the pasted ``boxes``, with :mod:`~occlude.augment.saliency` on NumPy."""
    h, w = partner_map.shape
    region = geo.box_region(NUMPY, geo.BoxParams.of(boxes).boxes, h, w, np.asarray([True]))
    area = np.asarray([region.expand(NUMPY, 1).mean()])
    partner = S.positive(NUMPY, partner_map[None])
    source = None if saliency is None else S.positive(NUMPY, S.fit(saliency, (h, w))[None])
    applied = np.asarray([True])
    weight = S.pasted_weights(NUMPY, label_by, area, source, partner, region, applied)
    inside = S.share(NUMPY, S.region_sums(NUMPY, partner, region), partner.sum(axis=(1, 2)))
    return 1.0 - float(weight[0]), float(inside[0])
