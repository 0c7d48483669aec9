"""MixUp (Zhang et al. 2018): ``lam * image + (1 - lam) * partner``, lam ~ Beta(alpha, alpha)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from occlude.augment import geometry as geo
from occlude.augment.methods.mixer import Mixer, beta_lam, optional, partner_steps

Tensor = Any

MIXUP_ALPHA = 0.2
"""The paper's ImageNet value (1.0 for CIFAR)."""


class MixUpParams(NamedTuple):
    """``lam`` (B,): the source's weight (1 where not ``applied``), ``lam_sampled`` the
    Beta draw, ``partner`` the partner's index among the candidates. As JSON (one image):
    ``{"applied", "lam", "lam_sampled"}`` (``lam_sampled`` None where not applied)."""

    lam: Tensor
    lam_sampled: Tensor
    applied: Tensor
    partner: Tensor

    def to_dict(self) -> dict[str, Any]:
        applied = bool(np.asarray(self.applied).reshape(-1)[0])
        lam = optional(self.lam, True)
        return {"applied": applied, "lam": lam, "lam_sampled": optional(self.lam_sampled, applied)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MixUpParams:
        sampled = 1.0 if data["lam_sampled"] is None else float(data["lam_sampled"])
        one = (float(data["lam"]), sampled, bool(data["applied"]), 0)
        return cls(*(np.asarray([v]) for v in one))


@dataclass(frozen=True)
class MixUp(Mixer):
    """MixUp: ``lam * image + (1 - lam) * partner``, and the labels with the same ``lam``.

    ``lam`` ~ Beta(``alpha``, ``alpha``) per image; the partner is drawn uniformly from the
    other inputs (a layer's: the other samples of its batch). Integer images are rounded
    half to even.

    Args:
        alpha: Beta's parameter (0.2, the paper's ImageNet value; 1.0 for CIFAR), below 10^6.
        prob: probability that an image is mixed (otherwise image and label are unchanged)
            (1.0).
    """

    name = "mixup"
    reference = "Zhang et al. 2018"
    params_type = MixUpParams
    pastes = False

    alpha: float = MIXUP_ALPHA

    def sample(self, bk: Any, keys: Tensor, h: Any, w: Any, others: Any = 1) -> MixUpParams:
        sampled = beta_lam(bk, keys, self.alpha)
        applied = geo.coin(bk, keys, self.prob)
        lam = bk.numpy.where(applied, sampled, 1.0)
        return MixUpParams(lam, sampled, applied, partner_steps(bk, keys, others))

    def paint(self, bk: Any, images: Tensor, params: Any, partner: Tensor) -> Tensor:
        """In the images' float dtype, the labels taking the same lam and 1 - lam. An image
        left alone has lam 1: ``1 * a + 0 * b`` is ``a`` (a pass of ``where`` over the
        batch would cost more than the blend), unless its partner has non-finite pixels."""
        xp = bk.numpy
        own = bk.cast(xp.reshape(params.lam, (-1,) + (1,) * (len(bk.shape(images)) - 1)),
                      images.dtype)  # fmt: skip
        return xp.add(xp.multiply(own, images), xp.multiply(xp.subtract(1.0, own), partner))
