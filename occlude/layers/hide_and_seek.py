"""Hide-and-Seek (Singh & Lee 2017) as a Keras layer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import keras

from occlude import draws as rnd
from occlude.augment import regions as geo
from occlude.augment.checks import MAX_CELL_SIDE, check_prob, is_whole
from occlude.augment.methods.hide_and_seek import HIDE_AND_SEEK_GRIDS
from occlude.errors import UsageError
from occlude.fill import FillLike
from occlude.layers._base import Batch, Tensor
from occlude.layers._occluding import OccludingLayer

# Cell ids are row * _ROW_STRIDE + column: distinct while a row has fewer cells than this.
_ROW_STRIDE = 1 << 15


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


def _ceil_div(bk: Any, n: Any, d: int) -> Any:
    """ceil(n / d), a Python int when ``n`` is one (static shapes stay static under jit)."""
    if isinstance(n, int):
        return -(-n // d)
    return bk.numpy.floor_divide(bk.numpy.add(rnd.int32(bk, n), d - 1), d)


@keras.saving.register_keras_serializable(package="occlude")
class HideAndSeek(OccludingLayer):
    """Hide-and-Seek: split each image into S x S cells and hide each with ``hide_prob``.

    The cell side S is drawn per image from ``grid`` (0 hides nothing, as in the authors'
    code); the last row and column of cells are clipped at the border. The paper fills
    with the dataset's mean colour, which a layer cannot know, so ``fill`` has no
    default: pass ``fill=dataset_mean(...)`` (the paper) or a colour such as ``'grey'``.

    Args:
        fill: as :class:`Cutout` (required).
        grid: cell sides in pixels to draw from, uniformly.
        hide_prob: probability that a cell is hidden.
        prob: probability that an image is augmented at all.
        ignore_class, value_range, seed, data_format: as :class:`Cutout`.
    """

    def __init__(
        self,
        fill: FillLike | None = None,
        grid: int | Sequence[int] = HIDE_AND_SEEK_GRIDS,
        hide_prob: float = 0.5,
        prob: float = 1.0,
        ignore_class: int | None = None,
        value_range: Sequence[float] = (0, 255),
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        if fill is None:
            raise UsageError(
                "HideAndSeek needs fill: the paper fills hidden cells with the dataset's mean "
                "colour; pass fill=occlude.layers.dataset_mean(your_data) (0-255 scale), or a "
                "colour such as fill='grey'; received fill=None"
            )
        super().__init__(
            fill=fill,
            prob=prob,
            ignore_class=ignore_class,
            value_range=value_range,
            seed=seed,
            data_format=data_format,
            **kwargs,
        )
        self.grid = check_grid(grid)
        self.hide_prob = check_prob(hide_prob, "hide_prob")

    def region(self, bk: Any, batch: Batch, keys: Tensor, applied: Tensor) -> geo.Region:
        xp = bk.numpy
        h, w = geo.image_hw(bk, batch.images)
        pick = rnd.randint(bk, rnd.uniform(bk, keys, rnd.GRID, 1)[:, 0], len(self.grid))
        side = xp.take(bk.convert_to_tensor(list(self.grid), dtype="int32"), pick)
        # A side of 0 hides nothing: one cell covers the image (and the gate below hides it not).
        step = xp.reshape(xp.where(xp.greater(side, 0), side, 1 << 30), (-1, 1))
        row_cell = xp.floor_divide(xp.reshape(xp.arange(h, dtype="int32"), (1, -1)), step)
        col_cell = xp.floor_divide(xp.reshape(xp.arange(w, dtype="int32"), (1, -1)), step)
        # The most cells any drawn side gives: the smallest side's grid.
        finest = min([s for s in self.grid if s > 0], default=1)
        n_rows, n_cols = _ceil_div(bk, h, finest), _ceil_div(bk, w, finest)
        cells = xp.add(
            xp.expand_dims(xp.multiply(xp.arange(n_rows, dtype="int32"), _ROW_STRIDE), 1),
            xp.expand_dims(xp.arange(n_cols, dtype="int32"), 0),
        )
        hidden = xp.less(rnd.uniform_at(bk, keys, rnd.CELLS, cells), self.hide_prob)
        gate = xp.reshape(xp.logical_and(applied, xp.greater(side, 0)), (-1, 1, 1))
        return geo.CellRegion(row_cell, col_cell, xp.logical_and(hidden, gate))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(grid=list(self.grid), hide_prob=self.hide_prob)
        return config
