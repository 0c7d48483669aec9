"""CutMix (Yun et al. 2019): a box of the partner pasted in; lam from the clipped box."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from occlude import draws
from occlude.augment import geometry as geo
from occlude.augment.methods.mixer import Mixer, beta_lam, optional, partner_steps, pasted_share

Tensor = Any

CUTMIX_ALPHA = 1.0


class CutMixParams(NamedTuple):
    """The partner's pixels pasted into ``boxes`` (each coordinate (B, 1)); ``lam`` (B,)
    = 1 - (clipped box area) / (H * W), the source's share of the pixels (1 where not
    ``applied``); ``lam_sampled`` the Beta draw that sized the box; ``partner`` the
    partner's index among the candidates. As JSON (one image): ``{"applied", "boxes":
    [] or [[x0, y0, x1, y1]], "lam", "lam_sampled"}``."""

    boxes: geo.Boxes
    lam: Tensor
    lam_sampled: Tensor
    applied: Tensor
    partner: Tensor

    def to_dict(self) -> dict[str, Any]:
        data = geo.BoxParams(self.boxes, self.applied).to_dict()
        applied = data["applied"]
        lam = optional(self.lam, True)
        return {**data, "lam": lam, "lam_sampled": optional(self.lam_sampled, applied)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CutMixParams:
        one = geo.BoxParams.from_dict(data, one=True)
        sampled = 1.0 if data["lam_sampled"] is None else float(data["lam_sampled"])
        lam, sampled_, partner = (np.asarray([v]) for v in (float(data["lam"]), sampled, 0))
        return cls(one.boxes, lam, sampled_, one.applied, partner)


def cutmix_box(bk: Any, lam: Tensor, cx: Tensor, cy: Tensor, h: Any, w: Any) -> geo.Boxes:
    """(B, 1) boxes of sides round(sqrt(1 - lam) * W) x round(sqrt(1 - lam) * H) centred
    on pixels ``cx, cy`` (B, 1), clipped at the border."""
    xp = bk.numpy
    ratio = xp.sqrt(xp.maximum(xp.subtract(1.0, lam), 0.0))
    bw = draws.int32(bk, xp.round(xp.multiply(ratio, bk.cast(w, "float32"))))
    bh = draws.int32(bk, xp.round(xp.multiply(ratio, bk.cast(h, "float32"))))
    return geo.centred(bk, cx, cy, xp.expand_dims(bw, 1), xp.expand_dims(bh, 1), h, w)


@dataclass(frozen=True)
class CutMix(Mixer):
    """CutMix: paste a box of a partner's pixels; the labels follow the pixels exactly.

    ``lam`` ~ Beta(``alpha``, ``alpha``) per image; the box has sides sqrt(1 - lam) times the
    image's, a centre uniform over every pixel, and is clipped at the border. The partner's
    label weight is the share of pixels actually pasted (after clipping and rounding), so
    labels and pixels agree exactly.

    Args:
        alpha: Beta's parameter (1.0), below 10^6.
        prob: as :class:`MixUp`.
    """

    name = "cutmix"
    reference = "Yun et al. 2019"
    params_type = CutMixParams

    alpha: float = CUTMIX_ALPHA

    def sample(self, bk: Any, keys: Tensor, h: Any, w: Any, others: Any = 1) -> CutMixParams:
        sampled = beta_lam(bk, keys, self.alpha)
        cx, cy = geo.random_centres(bk, keys, draws.CENTRE, 1, h, w)
        boxes = cutmix_box(bk, sampled, cx, cy, h, w)
        applied = geo.coin(bk, keys, self.prob)
        lam = bk.numpy.subtract(1.0, pasted_share(bk, boxes, applied, h, w))
        return CutMixParams(boxes, lam, sampled, applied, partner_steps(bk, keys, others))

    def label_weights(self, bk: Any, params: Any, h: Any, w: Any) -> tuple[Tensor, Tensor]:
        """``lam`` and the pasted share itself (not ``1 - lam``: exactly the pixels')."""
        return params.lam, pasted_share(bk, params.boxes, params.applied, h, w)
