"""SaliencyMix (Uddin et al. 2021) as a Keras layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from occlude import draws as rnd
from occlude.augment import regions as geo
from occlude.augment import saliency as sal
from occlude.augment.checks import check_alpha, check_label_by
from occlude.augment.methods.cut_mix import pasted_share
from occlude.layers._base import Batch, Tensor
from occlude.layers._mixing import MixingLayer


@keras.saving.register_keras_serializable(package="occlude")
class SaliencyMix(MixingLayer):
    """CutMix with the box centred on the partner's saliency peak.

    ``lam`` ~ Beta(``alpha``, ``alpha``) per sample; the box has CutMix's sides, sqrt(1 - lam)
    times the image's, is centred on the partner's map's maximum (the first in raster
    order on ties) and clipped at the border; the partner's pixels there are pasted at the
    same place. Labels: ``label_by='area'`` weighs the partner by its exact share of
    pixels; ``'saliency'`` (SnapMix-style) by ``b / (a + b)``, ``a`` the source's
    importance outside the box and ``b`` the partner's inside it (area if ``a + b`` is 0).

    Input: a dict with ``images`` and ``saliency`` (B, H, W) maps, any scale, only their
    positive part counting as importance; optionally ``labels`` and ``segmentation_masks``
    (pasted with the pixels, as is the saliency map).

    Args:
        alpha, prob, num_classes, value_range, seed, data_format: as :class:`CutMix`.
        label_by: ``'area'`` or ``'saliency'``.
    """

    needs_saliency = True

    def __init__(
        self,
        alpha: float = 1.0,
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
        self.alpha = check_alpha(alpha)
        self.label_by = check_label_by(label_by)

    def augment(self, bk: Any, batch: Batch, keys: Tensor) -> Batch:
        xp = bk.numpy
        partner, applied = self.partners(bk, keys)
        h, w = geo.image_hw(bk, batch.images)
        lam = rnd.beta_symmetric(bk, keys, rnd.LAMBDA, self.alpha)
        ratio = xp.sqrt(xp.maximum(xp.subtract(1.0, lam), 0.0))
        bw = rnd.int32(bk, xp.round(xp.multiply(ratio, bk.cast(w, "float32"))))
        bh = rnd.int32(bk, xp.round(xp.multiply(ratio, bk.cast(h, "float32"))))
        px, py = sal.peak(bk, batch.saliency)
        cx, cy = xp.take(px, partner, axis=0), xp.take(py, partner, axis=0)
        boxes = geo.centred(bk, cx, cy, bw, bh, h, w)
        stacked = geo.Boxes(*(xp.expand_dims(c, 1) for c in boxes))
        area = pasted_share(bk, stacked, applied, h, w)
        maps = sal.positive(bk, batch.saliency) if self.label_by == "saliency" else None
        theirs = None if maps is None else xp.take(maps, partner, axis=0)
        everywhere = geo.box_region(bk, boxes, h, w, xp.greater_equal(lam, 0.0))
        weight = sal.pasted_weights(bk, self.label_by, area, maps, theirs, everywhere, applied)
        return self.paste(bk, batch, partner, geo.box_region(bk, boxes, h, w, applied), weight)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(alpha=self.alpha, label_by=self.label_by)
        return config
