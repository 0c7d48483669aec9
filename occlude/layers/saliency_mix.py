"""SaliencyMix (Uddin et al. 2021) as a Keras layer: :mod:`occlude.augment.methods.saliency_mix`."""

from __future__ import annotations

import keras

from occlude.augment.methods.saliency_mix import SaliencyMix as SaliencyMixMethod
from occlude.layers._mixing import MixerLayer


@keras.saving.register_keras_serializable(package="occlude")
class SaliencyMix(MixerLayer):
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
        label_by: ``'area'`` (default) or ``'saliency'``.
    """

    method_class = SaliencyMixMethod
    settings = ("alpha", "prob", "label_by")
    needs_saliency = True
