"""MixUp (Zhang et al. 2018) as a Keras layer: :mod:`occlude.augment.methods.mix_up`."""

from __future__ import annotations

import keras

from occlude.augment.methods.mix_up import MixUp as MixUpMethod
from occlude.layers._mixing import MixerLayer


@keras.saving.register_keras_serializable(package="occlude")
class MixUp(MixerLayer):
    """MixUp: ``lam * image + (1 - lam) * partner``, and the labels with the same ``lam``.

    ``lam`` ~ Beta(``alpha``, ``alpha``) per sample; the partner is drawn per sample from the
    other samples of the batch. Segmentation masks are refused (class indices cannot be
    blended). Integer images are rounded half to even, as the CLI.

    Args:
        alpha: Beta's parameter (0.2, the paper's ImageNet value; 1.0 for CIFAR), below 10^6.
        prob: probability that a sample is mixed (otherwise image and label are unchanged).
        num_classes: converts integer class labels (0 to num_classes - 1; others are an
            error) to one-hot; without it they are an error.
        value_range, seed, data_format: as :class:`~occlude.layers.Cutout`.
    """

    method_class = MixUpMethod
    pastes = False
