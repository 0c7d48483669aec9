"""Hide-and-Seek (Singh & Lee 2017): hide whole grid cells, each with probability hide_prob."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from occlude.augment import functional as F
from occlude.augment.checks import check_prob, check_shape
from occlude.augment.methods.base import ArrayOccluder, expect
from occlude.augment.params import Cell, Params, coin
from occlude.errors import UsageError
from occlude.fill import Fill, parse_fill

HIDE_AND_SEEK_GRIDS = (0, 16, 32, 44, 56)
"""Cell sides (pixels) drawn per image in Singh & Lee's ImageNet setting; 0 hides nothing."""
GRID_FRACTION = 1 / 7
"""Robustness curves: the cell side as a fraction of the shorter side (32 px at 224)."""


@dataclass(frozen=True)
class HideAndSeekParams:
    """The cell side ``grid`` and the hidden cells; ``grid == 0`` hides nothing (the
    reference code's "no hiding" choice)."""

    grid: int
    hidden: tuple[Cell, ...]
    applied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "grid": self.grid,
            "hidden": [list(c) for c in self.hidden],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HideAndSeekParams:
        cells = tuple((int(r), int(c)) for r, c in data["hidden"])
        return cls(int(data["grid"]), cells, bool(data["applied"]))


def check_grids(grids: Sequence[int]) -> tuple[int, ...]:
    out = tuple(int(g) for g in grids)
    if not out or any(g < 0 for g in out):
        raise UsageError(
            f"grid needs one or more cell sides >= 0 (0 hides nothing); received {grids}", "grid"
        )
    return out


def hide_at_random(
    rng: np.random.Generator, shape: tuple[int, int], side: int, hide_prob: float
) -> tuple[Cell, ...]:
    """Each ``side`` x ``side`` cell hidden independently with probability ``hide_prob``
    (the last row and column are clipped at the border)."""
    h, w = shape
    hide = rng.random((-(-h // side), -(-w // side))) < hide_prob
    return tuple((int(r), int(c)) for r, c in np.argwhere(hide).tolist())


def sample_hide_and_seek(
    rng: np.random.Generator,
    shape: Sequence[int],
    *,
    grids: Sequence[int] = HIDE_AND_SEEK_GRIDS,
    hide_prob: float = 0.5,
    prob: float = 1.0,
) -> HideAndSeekParams:
    """Draw the cell side S from ``grids``, split the image into S x S cells and hide
    each cell with probability ``hide_prob``."""
    hw = check_shape(shape)
    sides = check_grids(grids)
    hide_prob = check_prob(hide_prob, "hide_prob")
    if not coin(rng, check_prob(prob)):
        return HideAndSeekParams(0, (), applied=False)
    side = sides[int(rng.integers(0, len(sides)))]
    if side == 0:
        return HideAndSeekParams(0, ())
    return HideAndSeekParams(side, hide_at_random(rng, hw, side, hide_prob))


@dataclass(frozen=True)
class HideAndSeek(ArrayOccluder):
    """A cell side drawn per image from ``grid``; each cell hidden with ``hide_prob``."""

    name = "hide-and-seek"
    reference = "Singh & Lee 2017"
    params_type = HideAndSeekParams

    fill: Fill = field(default_factory=lambda: parse_fill("dataset-mean"))
    grid: tuple[int, ...] = HIDE_AND_SEEK_GRIDS
    hide_prob: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "grid", check_grids(self.grid))
        object.__setattr__(self, "hide_prob", check_prob(self.hide_prob, "hide_prob"))

    def sample(self, rng: np.random.Generator, shape: Sequence[int]) -> HideAndSeekParams:
        return sample_hide_and_seek(
            rng, shape, grids=self.grid, hide_prob=self.hide_prob, prob=self.prob
        )

    def paint(self, image: np.ndarray, params: Params, fill: F.FillValue) -> np.ndarray:
        p = expect(params, HideAndSeekParams)
        return F.hide_cells(image, p.grid, p.hidden, fill)

    @classmethod
    def at_fraction(
        cls, rng: np.random.Generator, shape: tuple[int, int], fraction: float
    ) -> HideAndSeekParams:
        """Cells of side 1/7 of the shorter side, each hidden with probability ``fraction``."""
        side = max(1, round(min(shape) * GRID_FRACTION))
        return HideAndSeekParams(side, hide_at_random(rng, shape, side, fraction))
