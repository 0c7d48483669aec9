"""Hide-and-Seek (Singh & Lee 2017): hide whole grid cells, each with probability hide_prob."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, TypeAlias

import numpy as np

from occlude import draws
from occlude.augment import geometry as geo
from occlude.augment.methods.occluder import Occluder
from occlude.checks import MAX_CELL_SIDE, check_prob, is_whole
from occlude.errors import UsageError
from occlude.fill import Fill, parse_fill

Cell: TypeAlias = tuple[int, int]
"""``(row, col)`` of a grid cell."""

Tensor = Any

HIDE_AND_SEEK_GRIDS = (0, 16, 32, 44, 56)
"""Cell sides (pixels) drawn per image in Singh & Lee's ImageNet setting; 0 hides nothing."""
GRID_FRACTION = 1 / 7
"""Robustness curves: the cell side as a fraction of the shorter side (32 px at 224)."""
_ROW_STRIDE = 1 << 15
"""Cell ids are row * _ROW_STRIDE + column: distinct while a row has fewer cells than this."""


class CellParams(NamedTuple):
    """The cell side ``grid`` (B,) (0 hides nothing, the reference code's "no hiding"
    choice) and ``hidden`` (B, R, Q) cells, the last row and column never hidden (cells
    past them are read there). As JSON: ``{"applied", "grid", "hidden": [[row, col]...]}``."""

    grid: Tensor
    hidden: Tensor
    applied: Tensor

    @classmethod
    def of(cls, grid: int, hidden: Sequence[Cell], applied: bool = True) -> CellParams:
        rows, cols = (max([cell[k] for cell in hidden], default=0) + 2 for k in (0, 1))
        cells = np.zeros((1, rows, cols), bool)
        for r, c in hidden:
            cells[0, r, c] = True
        return cls(np.asarray([grid], "int32"), cells, np.asarray([applied]))

    def to_dict(self) -> dict[str, Any]:
        applied, grid = bool(np.asarray(self.applied)[0]), int(np.asarray(self.grid)[0])
        shown = applied and grid > 0
        hidden = np.argwhere(np.asarray(self.hidden)[0]).tolist() if shown else []
        return {"applied": applied, "grid": grid if shown else 0, "hidden": hidden}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellParams:
        cells = [(int(r), int(c)) for r, c in data["hidden"]]
        return cls.of(int(data["grid"]), cells, bool(data["applied"]))


def check_grid(grid: int | Sequence[int]) -> tuple[int, ...]:
    sides: tuple[object, ...] = (grid,)
    if isinstance(grid, Iterable) and not isinstance(grid, (str, bytes)):
        sides = tuple(grid)
    whole = [s for s in sides if is_whole(s) and 0 <= s <= MAX_CELL_SIDE]
    if not sides or len(whole) != len(sides):
        raise UsageError(
            f"grid must be one or more cell sides in pixels, ints from 0 (hides nothing) to "
            f"{MAX_CELL_SIDE}; received {grid!r}",
            "grid",
        )
    return tuple(int(s) for s in whole)


def _ceil_div(bk: Any, n: Any, d: Any) -> Any:
    """ceil(n / d), a Python int when both are (static shapes stay static under jit)."""
    if isinstance(n, int) and isinstance(d, int):
        return -(-n // d)
    return bk.numpy.floor_divide(bk.numpy.add(draws.int32(bk, n), bk.numpy.subtract(d, 1)), d)


def _positions(bk: Any, n: Any) -> Tensor:
    return bk.numpy.reshape(bk.numpy.arange(n, dtype="int32"), (1, -1))


def _step(bk: Any, side: Tensor) -> Tensor:
    """(B, 1) cell sides, a side of 0 as one cell over the whole image."""
    return bk.numpy.reshape(bk.numpy.where(bk.numpy.greater(side, 0), side, 1 << 30), (-1, 1))


@dataclass(frozen=True)
class HideAndSeek(Occluder):
    """Hide-and-Seek: split each image into S x S cells and hide each with ``hide_prob``.

    The cell side S is drawn per image from ``grid`` (0 hides nothing, as in the authors'
    code); the last row and column of cells are clipped at the border.

    Args:
        fill: as :class:`Cutout`; the paper's ``'dataset-mean'`` by default, which a layer
            cannot know, so a layer's ``fill`` is required: ``fill=dataset_mean(...)`` (the
            paper) or a colour such as ``'grey'``.
        grid: cell sides in pixels to draw from, uniformly ((0, 16, 32, 44, 56)).
        hide_prob: probability that a cell is hidden (0.5).
        prob: probability that an image is augmented at all (1.0).
    """

    name = "hide-and-seek"
    reference = "Singh & Lee 2017"
    params_type = CellParams

    fill: Fill = field(default_factory=lambda: parse_fill("dataset-mean"))
    grid: tuple[int, ...] = HIDE_AND_SEEK_GRIDS
    hide_prob: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "grid", check_grid(self.grid))
        object.__setattr__(self, "hide_prob", check_prob(self.hide_prob, "hide_prob"))

    def sample(self, bk: Any, keys: Tensor, h: Any, w: Any) -> CellParams:
        xp = bk.numpy
        pick = draws.randint(bk, draws.uniform(bk, keys, draws.GRID, 1)[:, 0], len(self.grid))
        side = xp.take(bk.convert_to_tensor(list(self.grid), dtype="int32"), pick)
        # The most cells any drawn side gives (the smallest side's grid), and one more.
        finest = min([s for s in self.grid if s > 0], default=1)
        n_rows, n_cols = _ceil_div(bk, h, finest) + 1, _ceil_div(bk, w, finest) + 1
        cells = xp.add(
            xp.expand_dims(xp.multiply(xp.arange(n_rows, dtype="int32"), _ROW_STRIDE), 1),
            xp.expand_dims(xp.arange(n_cols, dtype="int32"), 0),
        )
        hidden = xp.less(draws.uniform_at(bk, keys, draws.CELLS, cells), self.hide_prob)
        step = _step(bk, side)
        rows = xp.less(
            xp.reshape(xp.arange(n_rows, dtype="int32"), (1, -1)), _ceil_div(bk, h, step)
        )
        cols = xp.less(
            xp.reshape(xp.arange(n_cols, dtype="int32"), (1, -1)), _ceil_div(bk, w, step)
        )
        inside = xp.logical_and(xp.expand_dims(rows, 2), xp.expand_dims(cols, 1))
        return CellParams(side, xp.logical_and(hidden, inside), geo.coin(bk, keys, self.prob))

    def region(self, bk: Any, params: CellParams, h: Any, w: Any) -> geo.Region:
        xp = bk.numpy
        step = _step(bk, params.grid)
        n_rows, n_cols = bk.shape(params.hidden)[1], bk.shape(params.hidden)[2]
        rows = xp.floor_divide(_positions(bk, h), step)
        cols = xp.floor_divide(_positions(bk, w), step)
        shown = xp.logical_and(params.applied, xp.greater(params.grid, 0))
        hidden = xp.logical_and(params.hidden, xp.reshape(shown, (-1, 1, 1)))
        return geo.CellRegion(xp.minimum(rows, n_rows - 1), xp.minimum(cols, n_cols - 1), hidden)

    def at_fraction(self, bk: Any, keys: Tensor, h: int, w: int, fraction: float) -> CellParams:
        """Cells of side 1/7 of the shorter side, each hidden with probability ``fraction``."""
        side = max(1, round(min(h, w) * GRID_FRACTION))
        return replace(self, grid=(side,), hide_prob=fraction, prob=1.0).sample(bk, keys, h, w)
