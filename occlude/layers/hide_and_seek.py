"""Hide-and-Seek (Singh & Lee 2017) as a Keras layer (the method: ``hide_and_seek.py``)."""

from __future__ import annotations

import keras

from occlude.augment.methods.hide_and_seek import HideAndSeek as HideAndSeekMethod
from occlude.layers._occluding import MethodLayer


@keras.saving.register_keras_serializable(package="occlude")
class HideAndSeek(MethodLayer):
    """Hide-and-Seek: split each image into S x S cells and hide each with ``hide_prob``.

    The cell side S is drawn per image from ``grid`` (0 hides nothing, as in the authors'
    code); the last row and column of cells are clipped at the border. The paper fills
    with the dataset's mean colour, which a layer cannot know, so ``fill`` has no
    default: pass ``fill=dataset_mean(...)`` (the paper) or a colour such as ``'grey'``.

    Args:
        fill: as :class:`Cutout` (required).
        grid: cell sides in pixels to draw from, uniformly ((0, 16, 32, 44, 56)).
        hide_prob: probability that a cell is hidden (0.5).
        prob: probability that an image is augmented at all (1.0).
        ignore_class, value_range, seed, data_format: as :class:`Cutout`.
    """

    method_class = HideAndSeekMethod
    settings = ("fill", "grid", "hide_prob", "prob")
