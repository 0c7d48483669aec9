"""Attentive CutMix (Walawalkar et al. 2020) as a Keras layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from occlude import draws as rnd
from occlude.augment import regions as geo
from occlude.augment import saliency as sal
from occlude.augment.checks import MAX_CELLS_GRID, check_int, check_label_by, is_whole
from occlude.errors import UsageError
from occlude.layers._base import Batch, Tensor
from occlude.layers._mixing import MixingLayer


@keras.saving.register_keras_serializable(package="occlude")
class AttentiveCutMix(MixingLayer):
    """Paste the partner's ``top_k`` most important cells of a ``grid`` x ``grid`` grid.

    Cell boundaries are at floor(i * H / grid) and floor(j * W / grid). A cell's importance
    is the sum of ``max(saliency, 0)`` inside it over the whole image's; the partner's
    ``top_k`` cells (ties to the lower cell index, in raster order) are pasted from the
    partner at the same cells. Labels as :class:`SaliencyMix`: ``'area'`` (the exact pixel
    share of the pasted cells) or ``'saliency'``.

    Args:
        grid: cells per side, at most 32.
        top_k: cells pasted, 1 to grid * grid.
        prob, label_by, num_classes, value_range, seed, data_format: as :class:`SaliencyMix`.
    """

    needs_saliency = True

    def __init__(
        self,
        grid: int = 7,
        top_k: int = 6,
        prob: float = 1.0,
        label_by: str = "area",
        num_classes: int | None = None,
        value_range: Sequence[float] = (0, 255),
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            prob=prob,
            num_classes=num_classes,
            value_range=value_range,
            seed=seed,
            data_format=data_format,
            **kwargs,
        )
        grid = check_int(grid, "grid", most=MAX_CELLS_GRID)
        if not (is_whole(top_k) and 1 <= top_k <= grid**2):
            raise UsageError(
                f"top_k must be an int from 1 to grid * grid = {grid**2}; received {top_k!r}",
                "top_k",
            )
        self.grid, self.top_k = grid, int(top_k)
        self.label_by = check_label_by(label_by)

    def augment(self, bk: Any, batch: Batch, keys: Tensor) -> Batch:
        xp = bk.numpy
        partner, applied = self.partners(bk, keys)
        b = bk.shape(batch.images)[0]
        h, w = geo.image_hw(bk, batch.images)
        rows, cols = sal.cell_bounds(bk, h, self.grid), sal.cell_bounds(bk, w, self.grid)
        maps = sal.positive(bk, batch.saliency)
        sums = sal.cell_sums(bk, maps, rows, cols)
        theirs = xp.take(sums, partner, axis=0)
        chosen = sal.top_k_mask(bk, xp.reshape(theirs, (b, -1)), self.top_k)
        gate = xp.reshape(applied, (-1, 1, 1))
        chosen = xp.logical_and(xp.reshape(chosen, (b, self.grid, self.grid)), gate)
        row_t = bk.convert_to_tensor(rows, dtype="int32")
        col_t = bk.convert_to_tensor(cols, dtype="int32")
        sizes = xp.multiply(
            xp.expand_dims(xp.subtract(row_t[1:], row_t[:-1]), 1),
            xp.expand_dims(xp.subtract(col_t[1:], col_t[:-1]), 0),
        )
        pasted = xp.sum(xp.where(chosen, xp.expand_dims(sizes, 0), 0), axis=(1, 2))
        total_px = bk.cast(xp.multiply(rnd.int32(bk, h), rnd.int32(bk, w)), "float32")
        area = xp.divide(bk.cast(pasted, "float32"), total_px)
        if self.label_by == "area":
            weight = area
        else:
            total = xp.sum(sums, axis=(1, 2))
            inside = xp.sum(xp.where(chosen, sums, 0.0), axis=(1, 2))
            within = xp.sum(xp.where(chosen, theirs, 0.0), axis=(1, 2))
            outside = sal.share(bk, xp.subtract(total, inside), total)
            within = sal.share(bk, within, xp.take(total, partner, axis=0))
            weight = sal.label_weights(bk, "saliency", area, outside, within, applied)
        region = geo.CellRegion(sal.cell_of(bk, rows, h, b), sal.cell_of(bk, cols, w, b), chosen)
        return self.paste(bk, batch, partner, region, weight)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(grid=self.grid, top_k=self.top_k, label_by=self.label_by)
        return config
