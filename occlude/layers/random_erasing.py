"""Random Erasing (Zhong et al. 2017) as a Keras layer."""

from __future__ import annotations

import keras

from occlude.augment.methods.random_erasing import RandomErasing as RandomErasingMethod
from occlude.layers._occluding import MethodLayer


@keras.saving.register_keras_serializable(package="occlude")
class RandomErasing(MethodLayer):
    """Random Erasing: with probability ``prob``, erase one box per image.

    The box's area is a fraction of the image drawn from U(``area_range``); its aspect
    ratio (height / width) is log-uniform over ``aspect_range``, so as many boxes are
    taller than wide as wider than tall. A box that does not fit is redrawn, up to
    ``max_attempts`` times, after which the image is left unchanged. The top-left corner is
    uniform over the positions where the box fits, as in the authors' code.

    Args:
        prob: probability that an image is erased (exactly: 1 erases every image) (0.5).
        area_range: (low, high) fraction of the image's area ((0.02, 0.4)).
        aspect_range: (low, high) height / width ((0.3, 1 / 0.3)).
        fill: as :class:`Cutout`; the default ``'noise'`` is the paper's best variant.
        max_attempts: draws of (area, aspect) before giving up on an image, at most 10,000
            (100).
        ignore_class, value_range, seed, data_format: as :class:`Cutout`.
    """

    method_class = RandomErasingMethod
    settings = ("prob", "area_range", "aspect_range", "fill", "max_attempts")
