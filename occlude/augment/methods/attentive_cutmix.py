"""Attentive CutMix (Walawalkar et al. 2020): the partner's most important grid cells.

The image is split into ``grid`` × ``grid`` cells (edges at floor(i·H/grid)); the partner's
``top_k`` cells by importance (ties: the lower cell index first) are pasted from the partner
at the same cells. The label follows ``label_by``: ``area`` (the pasted pixel share, k/49 of
the image when the sides divide by 7) or ``saliency`` (SnapMix-style importance weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from occlude.augment import functional as F
from occlude.augment import regions as geo
from occlude.augment import saliency as S
from occlude.augment.checks import check_int, check_label_by, check_prob
from occlude.augment.methods.base import ArrayMixer, Augmented, Context, expect
from occlude.augment.params import Box, Params, boxes_from, boxes_json, coin
from occlude.draws import NUMPY
from occlude.errors import UsageError


@dataclass(frozen=True)
class AttentiveCutmixParams:
    """The pasted cells (row-major indices and their boxes), the source's label weight
    ``lam`` (by ``label_by``), and the partner's importance in the pasted cells."""

    cells: tuple[int, ...]
    boxes: tuple[Box, ...]
    lam: float
    importance: float | None = None
    label_by: str = "area"
    applied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "cells": list(self.cells),
            "boxes": boxes_json(self.boxes),
            "lam": self.lam,
            "importance": self.importance,
            "label_by": self.label_by,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttentiveCutmixParams:
        return cls(tuple(int(c) for c in data["cells"]), boxes_from(data["boxes"]),
                   float(data["lam"]), data["importance"], str(data["label_by"]),
                   bool(data["applied"]))  # fmt: skip


def top_cells(partner: np.ndarray, grid: int, top_k: int) -> list[int]:
    """The ``top_k`` most important cells of a ``grid`` × ``grid`` split (stable order)."""
    maps = S.positive(NUMPY, partner[None])
    h, w = partner.shape
    sums = S.cell_sums(NUMPY, maps, S.cell_bounds(NUMPY, h, grid), S.cell_bounds(NUMPY, w, grid))
    chosen = S.top_k_mask(NUMPY, sums.reshape(1, -1), top_k)[0]
    return [int(c) for c in np.flatnonzero(chosen)]


@dataclass(frozen=True)
class AttentiveCutmix(ArrayMixer):
    """The partner's ``top_k`` of ``grid`` × ``grid`` cells pasted at their places."""

    name = "attentive-cutmix"
    reference = "Walawalkar et al. 2020 (Attentive CutMix)"
    guided = True
    params_type = AttentiveCutmixParams

    grid: int = 7
    top_k: int = 6
    label_by: str = "area"

    def __post_init__(self) -> None:
        check_prob(self.prob)
        object.__setattr__(self, "grid", check_int(self.grid, "grid"))
        object.__setattr__(self, "top_k", check_int(self.top_k, "top_k"))
        if self.top_k > self.grid * self.grid:
            raise UsageError(f"top_k {self.top_k} is more than the grid's {self.grid ** 2} "
                             "cells", ("top_k", "grid"))  # fmt: skip
        object.__setattr__(self, "label_by", check_label_by(self.label_by))

    def sample(self, rng: np.random.Generator, shape: Sequence[int]) -> AttentiveCutmixParams:
        raise UsageError("attentive-cutmix chooses cells from the partner's saliency map: "
                         "call it with a Context that holds them", "partner_saliency")  # fmt: skip

    def __call__(
        self, image: np.ndarray, rng: np.random.Generator, context: Context = Context()
    ) -> Augmented:
        """The draws: the coin, then the partner's index."""
        arr = F.check_image(image)
        shape = (int(arr.shape[0]), int(arr.shape[1]))
        if not coin(rng, self.prob):
            return Augmented(arr.copy(), AttentiveCutmixParams((), (), 1.0, applied=False))
        if len(context.partners) == 0 or context.partner_saliency is None:
            raise UsageError(f"{self.name} needs partner images and their saliency maps",
                             "partner_saliency")  # fmt: skip
        index = int(rng.integers(0, len(context.partners)))
        partner_map = S.fit(context.partner_saliency[index], shape)
        cells = top_cells(partner_map, self.grid, self.top_k)
        every = S.grid_cells(shape, self.grid)
        boxes = tuple(every[c] for c in cells)
        weight, inside = guided_weight(self.label_by, context.saliency, partner_map, list(boxes))
        params = AttentiveCutmixParams(tuple(cells), boxes, weight, inside, self.label_by)
        partner = F.match_partner(context.partners[index], arr)
        return Augmented(self.apply(arr, params, partner=partner), params, partner_index=index)

    def mix(self, image: np.ndarray, params: Params, partner: np.ndarray) -> np.ndarray:
        return F.cutmix(image, partner, expect(params, AttentiveCutmixParams).boxes)


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
