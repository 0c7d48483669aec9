"""KeepCutout (KeepAugment's selective cut, Gong et al. 2021) as a Keras layer:
:mod:`occlude.augment.methods.keep_cutout`."""

from __future__ import annotations

import keras

from occlude.augment.methods.keep_cutout import KeepCutout as KeepCutoutMethod
from occlude.layers._occluding import MethodLayer


@keras.saving.register_keras_serializable(package="occlude")
class KeepCutout(MethodLayer):
    """Cutout that avoids the important region: KeepAugment's selective cut.

    The threshold is the ``keep_quantile`` quantile of the importance of a square of side
    ``size`` over every centre pixel of the image (exact, from an integral image).
    Cutout squares (centre uniform over every pixel, clipped) are drawn until one's
    importance is at most the threshold, up to ``max_tries`` draws; if none is, the draw
    of lowest importance (the first among equals) is used. Importance: the sum of
    ``max(saliency, 0)`` inside the square over the whole image's (0 if that is 0).

    Input: a dict with ``images`` and ``saliency`` (B, H, W) maps, any scale (and
    optionally ``labels``, ``segmentation_masks``, passed through as Cutout does).

    Args:
        size, fill, prob, ignore_class, value_range, seed, data_format: as :class:`Cutout`.
        keep_quantile: the quantile of box importance a square may reach (0 to 1).
        max_tries: squares drawn at most per image (up to 10,000).
    """

    method_class = KeepCutoutMethod
    settings = ("size", "keep_quantile", "max_tries", "fill", "prob")
