"""The occluding layers' adapter, :class:`MethodLayer`: each call runs an
:class:`~occlude.augment.methods.Occluder`'s ``sample`` and ``region`` on the layer's backend,
paints the region with :func:`occlude.fill.fill_values` and, with ``ignore_class``, masks.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from occlude.augment import geometry as geo
from occlude.augment.methods.occluder import Occluder
from occlude.checks import check_optional_int
from occlude.errors import UsageError
from occlude.fill import Fill, FillLike, fill_values, parse_fill
from occlude.layers import _checks as chk
from occlude.layers._base import (
    LAYER_ARGUMENTS,
    MASKS,
    Batch,
    InputSpec,
    OcclusionLayer,
    Tensor,
    is_integer,
)


class MethodLayer(OcclusionLayer):
    """A layer that runs ``method_class``, an occluder; ``settings`` names its arguments in
    order (``prob`` and ``fill`` among them), which take the method's defaults."""

    method_class: ClassVar[type[Occluder]]
    method: Occluder
    arguments = f"""\
    ignore_class: if set, written into occluded pixels of ``segmentation_masks``.
{LAYER_ARGUMENTS}"""

    def __init__(self, *args: Any, ignore_class: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ignore_class = check_optional_int(ignore_class, "ignore_class")

    def make_method(self, given: dict[str, Any]) -> tuple[Occluder, dict[str, Any]]:
        """The fill is kept as given (or the method's default, by name) for ``get_config``."""
        fill = given.pop("fill", None)
        fill = str(self.method_class().fill) if fill is None else fill
        method = self.method_class(fill=layer_fill(fill, type(self).__name__), **given)
        return method, {"fill": fill}

    def check_inputs(self, specs: dict[str, InputSpec], batched: bool) -> None:
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

    def augment(self, bk: Any, batch: Batch, keys: Tensor) -> Batch:
        """The method's region painted with the fill (and ``ignore_class`` in the masks)."""
        h, w = geo.image_hw(bk, batch.images)
        method, integer = self.method, is_integer(batch.dtype)
        guides = {"saliency": batch.saliency} if self.needs_saliency else {}
        region = method.region(bk, method.sample(bk, keys, h, w, **guides), h, w)
        fill = fill_values(bk, method.fill, batch.images, keys, self.value_range, None, integer)
        images = geo.paint(bk, batch.images, region, fill)
        masks = batch.masks
        if masks is not None and self.ignore_class is not None:
            masks = geo.paint(bk, masks, region, bk.cast(self.ignore_class, masks.dtype))
        return replace(batch, images=images, masks=masks)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(ignore_class=self.ignore_class)
        return config


LAYER_FILLS = ("mean", "noise")
"""The derived fills a layer computes from its batch (``dataset-mean`` needs the dataset)."""


def layer_fill(fill: FillLike, layer: str = "the layer") -> Fill:
    """A layer's ``fill``, parsed as the command line's; the errors name ``fill``."""
    if isinstance(fill, str) and fill.strip().lower() == "dataset-mean":
        raise UsageError(
            f"{layer} needs fill: 'dataset-mean' (the paper's) needs the dataset: pass its "
            "mean colour, fill=occlude.layers.dataset_mean(your_data) (0-255 scale) or "
            "occlude.augment.folder_mean(folder), or a colour such as fill='grey'",
            "fill",
        )
    return parse_fill(fill, LAYER_FILLS)
