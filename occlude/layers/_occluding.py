"""The base of the occluding layers (Cutout, Hide-and-Seek, Random Erasing, KeepCutout).

A subclass draws a region per sample; the base applies the ``prob`` coin, paints the
region with the fill and, when ``ignore_class`` is set, writes it into occluded mask pixels.
Labels, masks (by default) and any other dict entry pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from occlude.errors import UsageError
from occlude.layers import _checks as chk
from occlude.layers import _fill
from occlude.layers import _geometry as geo
from occlude.layers._base import MASKS, Batch, OcclusionLayer, Spec, Tensor, is_integer


class OccludingLayer(OcclusionLayer):
    """Occlude a region of each sample with ``fill``."""

    def __init__(
        self,
        *,
        fill: _fill.FillLike,
        prob: float,
        ignore_class: int | None = None,
        value_range: Sequence[float] = (0, 255),
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            prob=prob, value_range=value_range, seed=seed, data_format=data_format, **kwargs
        )
        self.fill = fill
        self._fill = _fill.parse_fill(fill)
        self.ignore_class = chk.check_optional_int(ignore_class, "ignore_class")

    def check_inputs(self, specs: dict[str, Spec], batched: bool) -> None:
        """``ignore_class`` must be a value of the masks' dtype (a cast would change it)."""
        if MASKS not in specs or self.ignore_class is None:
            return
        dtype = specs[MASKS].dtype
        if chk.dtype_kind(dtype) == "float":
            return
        info = (0, 1) if dtype == "bool" else (np.iinfo(dtype).min, np.iinfo(dtype).max)
        if not info[0] <= self.ignore_class <= info[1]:
            raise UsageError(
                f"{type(self).__name__}: ignore_class={self.ignore_class} is not a value of "
                f"segmentation_masks' dtype {dtype} ({info[0]} to {info[1]})",
                "ignore_class",
            )

    def region(self, bk: Any, batch: Batch, keys: Tensor, applied: Tensor) -> geo.Region:
        """The pixels to occlude in each sample, none where ``applied`` (B,) is false."""
        raise NotImplementedError

    def augment(self, bk: Any, batch: Batch, keys: Tensor) -> Batch:
        region = self.region(bk, batch, keys, self.applied(bk, keys))
        integer = is_integer(batch.dtype)
        fill = _fill.resolve(bk, self._fill, batch.images, keys, self.value_range, integer)
        images = geo.paint(bk, batch.images, region, fill)
        masks = batch.masks
        if masks is not None and self.ignore_class is not None:
            masks = geo.paint(bk, masks, region, bk.cast(self.ignore_class, masks.dtype))
        return replace(batch, images=images, masks=masks)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(fill=_fill.fill_config(self.fill), ignore_class=self.ignore_class)
        return config
