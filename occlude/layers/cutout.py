"""Cutout (DeVries & Taylor 2017) as a Keras layer: :mod:`occlude.augment.methods.cutout`."""

from __future__ import annotations

import keras

from occlude.augment.methods.cutout import Cutout as CutoutMethod
from occlude.layers._occluding import MethodLayer


@keras.saving.register_keras_serializable(package="occlude")
class Cutout(MethodLayer):
    """Cutout: ``holes`` squares of side ``size`` per image, filled with ``fill``.

    Each centre is uniform over every pixel and the square is clipped at the border, so
    it may lie partly outside the image (the paper found this mattered). ``size`` below 1
    is a fraction of the shorter side (0.5: 16 px on 32 px CIFAR), from 1 up pixels.

    Args:
        holes: squares per image (their union is occluded), at most 1024 (default 1).
        size: the side, a fraction of the shorter side (< 1) or pixels (>= 1) (0.5).
        fill: ``'grey'`` (default), ``'black'``, ``'white'``, a number or (R, G, B) on the
            0-255 scale, ``'mean'`` (the image's own) or ``'noise'`` (uniform over
            value_range).
        prob: probability that an image is occluded (1.0).
        ignore_class: if set, written into occluded pixels of ``segmentation_masks``.
        value_range: the images' (low, high); fills are scaled to it.
        seed: int for reproducible draws (docs/training.md), None for fresh ones.
        data_format: ``'channels_last'`` (B, H, W, C) or ``'channels_first'`` (B, C, H, W);
            None: Keras's ``image_data_format()``. The draws are the same for both.
    """

    method_class = CutoutMethod
    settings = ("holes", "size", "fill", "prob")
