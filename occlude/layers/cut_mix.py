"""CutMix (Yun et al. 2019) as a Keras layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from occlude import draws as rnd
from occlude.augment import regions as geo
from occlude.augment.checks import check_alpha
from occlude.layers._base import Batch, Tensor
from occlude.layers._mixing import MixingLayer


def cutmix_boxes(bk: Any, keys: Tensor, lam: Tensor, h: Any, w: Any) -> geo.Boxes:
    """Boxes of sides round(sqrt(1 - lam) * W) x round(sqrt(1 - lam) * H), centred on a pixel
    drawn uniformly from every pixel, clipped at the border."""
    xp = bk.numpy
    ratio = xp.sqrt(xp.maximum(xp.subtract(1.0, lam), 0.0))
    bw = rnd.int32(bk, xp.round(xp.multiply(ratio, bk.cast(w, "float32"))))
    bh = rnd.int32(bk, xp.round(xp.multiply(ratio, bk.cast(h, "float32"))))
    cx, cy = geo.random_centres(bk, keys, rnd.CENTRE, 1, h, w)
    return geo.centred(bk, cx[:, 0], cy[:, 0], bw, bh, h, w)


def pixel_share(bk: Any, boxes: geo.Boxes, applied: Tensor, h: Any, w: Any) -> Tensor:
    """(B,) float32: the pasted pixels' exact share of the image (0 where not applied)."""
    xp = bk.numpy
    total = bk.cast(xp.multiply(rnd.int32(bk, h), rnd.int32(bk, w)), "float32")
    share = xp.divide(bk.cast(geo.area(bk, boxes), "float32"), total)
    return xp.where(applied, share, 0.0)


@keras.saving.register_keras_serializable(package="occlude")
class CutMix(MixingLayer):
    """CutMix: paste a box of a partner's pixels; the labels follow the pixels exactly.

    ``lam`` ~ Beta(``alpha``, ``alpha``) per sample; the box has sides sqrt(1 - lam) times the
    image's, a centre uniform over every pixel, and is clipped at the border. The partner's
    label weight is the share of pixels actually pasted (after clipping and rounding), so
    labels and pixels agree exactly. Segmentation masks are pasted with the pixels.

    Args:
        alpha: Beta's parameter.
        prob: probability that a sample is mixed (otherwise image and label are unchanged).
        num_classes, value_range, seed, data_format: as :class:`~occlude.layers.MixUp`.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        prob: float = 1.0,
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

    def augment(self, bk: Any, batch: Batch, keys: Tensor) -> Batch:
        partner, applied = self.partners(bk, keys)
        h, w = geo.image_hw(bk, batch.images)
        lam = rnd.beta_symmetric(bk, keys, rnd.LAMBDA, self.alpha)
        boxes = cutmix_boxes(bk, keys, lam, h, w)
        region = geo.box_region(bk, boxes, h, w, applied)
        return self.paste(bk, batch, partner, region, pixel_share(bk, boxes, applied, h, w))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(alpha=self.alpha)
        return config
