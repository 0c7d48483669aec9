"""CutMix (Yun et al. 2019) as a Keras layer: :mod:`occlude.augment.methods.cut_mix`."""

from __future__ import annotations

import keras

from occlude.augment.methods.cut_mix import CutMix as CutMixMethod
from occlude.layers._mixing import MixerLayer


@keras.saving.register_keras_serializable(package="occlude")
class CutMix(MixerLayer):
    """CutMix: paste a box of a partner's pixels; the labels follow the pixels exactly.

    ``lam`` ~ Beta(``alpha``, ``alpha``) per sample; the box has sides sqrt(1 - lam) times the
    image's, a centre uniform over every pixel, and is clipped at the border. The partner's
    label weight is the share of pixels actually pasted (after clipping and rounding), so
    labels and pixels agree exactly. Segmentation masks are pasted with the pixels.

    Args:
        alpha: Beta's parameter (1.0), below 10^6.
        prob: probability that a sample is mixed (otherwise image and label are unchanged).
        num_classes, value_range, seed, data_format: as :class:`~occlude.layers.MixUp`.
    """

    method_class = CutMixMethod
