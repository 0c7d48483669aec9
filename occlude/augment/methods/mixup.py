"""MixUp (Zhang et al. 2018): output = lam * source + (1 - lam) * partner, lam ~ Beta."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from occlude.augment import functional as F
from occlude.augment.checks import check_alpha, check_prob
from occlude.augment.methods.base import Mixer, expect
from occlude.augment.params import Params, coin

MIXUP_ALPHA = 0.2
"""The paper's ImageNet value (1.0 for CIFAR)."""


@dataclass(frozen=True)
class MixupParams:
    """``lam_sampled`` is the Beta draw (None when not applied); ``lam`` is the source's
    weight actually used (1.0 when not applied)."""

    lam: float
    lam_sampled: float | None
    applied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "lam": self.lam, "lam_sampled": self.lam_sampled}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MixupParams:
        sampled = None if data["lam_sampled"] is None else float(data["lam_sampled"])
        return cls(float(data["lam"]), sampled, bool(data["applied"]))


def sample_mixup(
    rng: np.random.Generator, *, alpha: float = MIXUP_ALPHA, prob: float = 1.0
) -> MixupParams:
    """The source's weight lam ~ Beta(alpha, alpha)."""
    alpha = check_alpha(alpha)
    if not coin(rng, check_prob(prob)):
        return MixupParams(1.0, None, applied=False)
    lam = float(rng.beta(alpha, alpha))
    return MixupParams(lam, lam)


@dataclass(frozen=True)
class Mixup(Mixer):
    """lam ~ Beta(alpha, alpha); ``rint(lam * a + (1 - lam) * b)`` with a partner b drawn
    uniformly from the other inputs."""

    name = "mixup"
    reference = "Zhang et al. 2018"
    params_type = MixupParams

    alpha: float = MIXUP_ALPHA

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "alpha", check_alpha(self.alpha))

    def sample(self, rng: np.random.Generator, shape: Sequence[int]) -> MixupParams:
        return sample_mixup(rng, alpha=self.alpha, prob=self.prob)

    def mix(self, image: np.ndarray, params: Params, partner: np.ndarray) -> np.ndarray:
        return F.mixup(image, partner, expect(params, MixupParams).lam)
