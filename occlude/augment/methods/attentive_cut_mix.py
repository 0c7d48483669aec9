"""Attentive CutMix (Walawalkar et al. 2020): the partner's most important grid cells."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from occlude import draws
from occlude import saliency as S
from occlude.augment import geometry as geo
from occlude.augment.methods.mixer import GuidedMixer, optional, partner_steps
from occlude.checks import MAX_CELLS_GRID, check_int, is_whole
from occlude.errors import UsageError

Tensor = Any


class AttentiveCutMixParams(NamedTuple):
    """The pasted ``cells`` (B, K) (row-major indices, ascending) and their ``boxes``;
    ``lam`` (B,) the source's label weight (1 where not ``applied``) and ``share`` the
    partner's; ``partner``; the partner's ``importance`` in the pasted cells. As JSON (one
    image): ``{"applied", "cells", "boxes", "lam", "importance", "label_by"}``."""

    cells: Tensor
    boxes: geo.Boxes
    lam: Tensor
    share: Tensor
    applied: Tensor
    partner: Tensor
    importance: Tensor
    label_by: str = "area"

    def to_dict(self) -> dict[str, Any]:
        data = geo.BoxParams(self.boxes, self.applied).to_dict()
        on = data["applied"]
        cells = [int(c) for c in np.asarray(self.cells).reshape(-1)] if on else []
        return {"applied": on, "cells": cells, "boxes": data["boxes"],
                "lam": optional(self.lam, True), "importance": optional(self.importance, on),
                "label_by": self.label_by}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttentiveCutMixParams:
        one = geo.BoxParams.from_dict(data, one=True)
        cells = np.asarray([[int(c) for c in data["cells"]] or [0]], "int32")
        lam, importance = float(data["lam"]), data["importance"] or 0.0
        values = (np.asarray([v]) for v in (lam, 1.0 - lam, 0, importance))
        lam_, share, partner, inside = values
        return cls(cells, one.boxes, lam_, share, one.applied, partner, inside,
                   str(data["label_by"]))  # fmt: skip


def top_cells(bk: Any, chosen: Tensor, k: int) -> Tensor:
    """(B, k) int32: the indices of each row's ``k`` true entries of ``chosen`` (B, N),
    ascending (exact integer arithmetic on every backend)."""
    xp = bk.numpy
    n = bk.shape(chosen)[1]
    flags = draws.int32(bk, chosen)
    rank = xp.subtract(xp.cumsum(flags, axis=1), 1)  # (B, N): the j-th true entry has j
    slot = xp.equal(xp.expand_dims(rank, 2), xp.reshape(xp.arange(k, dtype="int32"), (1, 1, -1)))
    hit = xp.logical_and(slot, xp.expand_dims(xp.greater(flags, 0), 2))
    index = xp.reshape(xp.arange(n, dtype="int32"), (1, -1, 1))
    return xp.sum(xp.where(hit, index, 0), axis=1)


@dataclass(frozen=True)
class AttentiveCutMix(GuidedMixer):
    """Attentive CutMix: paste the partner's ``top_k`` most important cells of a grid.

    Cell boundaries are at floor(i * H / grid) and floor(j * W / grid). A cell's importance
    is the sum of ``max(saliency, 0)`` inside it over the whole image's; the partner's
    ``top_k`` cells (ties to the lower cell index, in raster order) are pasted from the
    partner at the same cells. No draw but the coin and the partner.

    Args:
        grid: cells per side, at most 32 (7).
        top_k: cells pasted, 1 to grid * grid (6).
        prob, label_by: as :class:`SaliencyMix`.
    """

    name = "attentive-cutmix"
    reference = "Walawalkar et al. 2020"
    params_type = AttentiveCutMixParams

    grid: int = 7
    top_k: int = 6
    label_by: str = "area"

    def __post_init__(self) -> None:
        super().__post_init__()
        grid = check_int(self.grid, "grid", most=MAX_CELLS_GRID)
        object.__setattr__(self, "grid", grid)
        top_k = self.top_k
        if not (is_whole(top_k) and 1 <= top_k <= grid**2):
            raise UsageError(f"top_k must be an int from 1 to grid * grid = {grid**2}; "
                             f"received {top_k!r}", ("top_k", "grid"))  # fmt: skip
        object.__setattr__(self, "top_k", int(top_k))

    def sample(
        self, bk: Any, keys: Tensor, h: Any, w: Any, others: Any = 1
    ) -> AttentiveCutMixParams:
        """The coin and the partner; the cells wait for the partner's map (:meth:`place`)."""
        xp = bk.numpy
        cells = xp.zeros((bk.shape(keys)[0], self.top_k), dtype="int32")
        boxes = geo.Boxes(cells, cells, cells, cells)
        ones = xp.ones_like(bk.cast(keys, "float32"))
        zeros = xp.zeros_like(ones)
        applied = geo.coin(bk, keys, self.prob)
        partner = partner_steps(bk, keys, others)
        return AttentiveCutMixParams(
            cells, boxes, ones, zeros, applied, partner, zeros, self.label_by
        )

    def place(
        self, bk: Any, params: Any, saliency: Tensor | None, partner_saliency: Tensor
    ) -> AttentiveCutMixParams:
        xp = bk.numpy
        b, h, w = (bk.shape(partner_saliency)[i] for i in range(3))
        rows, cols = S.cell_bounds(bk, h, self.grid), S.cell_bounds(bk, w, self.grid)
        sums = S.cell_sums(bk, S.positive(bk, partner_saliency), rows, cols)
        chosen = S.top_k_mask(bk, xp.reshape(sums, (b, -1)), self.top_k)
        cells = top_cells(bk, chosen, self.top_k)
        row_t, col_t = (bk.convert_to_tensor(e, dtype="int32") for e in (rows, cols))
        r, q = xp.floor_divide(cells, self.grid), xp.mod(cells, self.grid)
        boxes = geo.Boxes(xp.take(col_t, q), xp.take(row_t, r), xp.take(col_t, xp.add(q, 1)),
                          xp.take(row_t, xp.add(r, 1)))  # fmt: skip
        placed: AttentiveCutMixParams = self.placed(bk, params, boxes, saliency,
                                                    partner_saliency, cells=cells)  # fmt: skip
        return placed
