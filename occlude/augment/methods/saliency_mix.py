"""SaliencyMix (Uddin et al. 2021): a CutMix box centred on the partner's salient peak."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from occlude import saliency as S
from occlude.augment import geometry as geo
from occlude.augment.methods.cut_mix import cutmix_box
from occlude.augment.methods.mixer import GuidedMixer, beta_lam, optional, partner_steps

Tensor = Any


class SaliencyMixParams(NamedTuple):
    """The pasted ``boxes`` (each coordinate (B, 1)); ``lam`` (B,) the source's label
    weight (by ``label_by``; 1 where not ``applied``) and ``share`` the partner's;
    ``lam_sampled`` the Beta draw; ``partner``; the partner's ``peak`` ``row``, ``col`` and
    ``importance`` inside the box. As JSON (one image): ``{"applied", "boxes", "lam",
    "lam_sampled", "peak": [row, col], "importance", "label_by"}``."""

    boxes: geo.Boxes
    lam: Tensor
    share: Tensor
    lam_sampled: Tensor
    applied: Tensor
    partner: Tensor
    row: Tensor
    col: Tensor
    importance: Tensor
    label_by: str = "area"

    def to_dict(self) -> dict[str, Any]:
        data = geo.BoxParams(self.boxes, self.applied).to_dict()
        on = data["applied"]
        peak = [int(np.asarray(v).reshape(-1)[0]) for v in (self.row, self.col)] if on else None
        return {**data, "lam": optional(self.lam, True),
                "lam_sampled": optional(self.lam_sampled, on), "peak": peak,
                "importance": optional(self.importance, on), "label_by": self.label_by}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SaliencyMixParams:
        one = geo.BoxParams.from_dict(data, one=True)
        lam, peak = float(data["lam"]), data["peak"] or [0, 0]
        values = (lam, 1.0 - lam, data["lam_sampled"] or 1.0, 0, *peak, data["importance"] or 0.0)
        lam_, share, sampled, partner, row, col, importance = (np.asarray([v]) for v in values)
        return cls(one.boxes, lam_, share, sampled, one.applied, partner, row, col, importance,
                   str(data["label_by"]))  # fmt: skip


@dataclass(frozen=True)
class SaliencyMix(GuidedMixer):
    """SaliencyMix: CutMix with the box centred on the partner's saliency peak.

    ``lam`` ~ Beta(``alpha``, ``alpha``) per image; the box has CutMix's sides, sqrt(1 - lam)
    times the image's, is centred on the partner's map's maximum (the first in raster
    order on ties) and clipped at the border; the partner's pixels there (and its map's)
    are pasted at the same place, so the patch carries the partner's object.

    Args:
        alpha, prob: as :class:`CutMix`.
        label_by: ``'area'`` (default): the partner weighs its exact share of pixels;
            ``'saliency'`` (SnapMix-style): ``b / (a + b)``, ``a`` the source's importance
            outside the box and ``b`` the partner's inside it (area if ``a + b`` is 0).
    """

    name = "saliency-mix"
    reference = "Uddin et al. 2021 (SaliencyMix)"
    params_type = SaliencyMixParams

    label_by: str = "area"

    def sample(self, bk: Any, keys: Tensor, h: Any, w: Any, others: Any = 1) -> SaliencyMixParams:
        """λ, the coin and the partner; the box waits for the partner's map (:meth:`place`)."""
        xp = bk.numpy
        sampled = beta_lam(bk, keys, self.alpha)
        zeros = xp.zeros_like(keys)
        boxes = geo.Boxes(*(xp.expand_dims(zeros, 1) for _ in range(4)))
        ones = xp.ones_like(sampled)
        applied = geo.coin(bk, keys, self.prob)
        return SaliencyMixParams(boxes, ones, xp.zeros_like(sampled), sampled, applied,
                                 partner_steps(bk, keys, others), zeros, zeros,
                                 xp.zeros_like(sampled), self.label_by)  # fmt: skip

    def place(
        self, bk: Any, params: Any, saliency: Tensor | None, partner_saliency: Tensor
    ) -> SaliencyMixParams:
        h, w = bk.shape(partner_saliency)[1], bk.shape(partner_saliency)[2]
        px, py = S.peak(bk, partner_saliency)
        centre = (bk.numpy.expand_dims(px, 1), bk.numpy.expand_dims(py, 1))
        boxes = cutmix_box(bk, params.lam_sampled, *centre, h, w)
        placed: SaliencyMixParams = self.placed(bk, params, boxes, saliency, partner_saliency,
                                                row=py, col=px)  # fmt: skip
        return placed
