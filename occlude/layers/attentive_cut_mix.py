"""Attentive CutMix (Walawalkar et al. 2020) as a Keras layer:
:mod:`occlude.augment.methods.attentive_cut_mix`."""

from __future__ import annotations

import keras

from occlude.augment.methods.attentive_cut_mix import AttentiveCutMix as AttentiveCutMixMethod
from occlude.layers._mixing import MixerLayer


@keras.saving.register_keras_serializable(package="occlude")
class AttentiveCutMix(MixerLayer):
    """Paste the partner's ``top_k`` most important cells of a ``grid`` x ``grid`` grid.

    Cell boundaries are at floor(i * H / grid) and floor(j * W / grid). A cell's importance
    is the sum of ``max(saliency, 0)`` inside it over the whole image's; the partner's
    ``top_k`` cells (ties to the lower cell index, in raster order) are pasted from the
    partner at the same cells. Labels as :class:`SaliencyMix`: ``'area'`` (the exact pixel
    share of the pasted cells) or ``'saliency'``.

    Args:
        grid: cells per side, at most 32.
        top_k: cells pasted, 1 to grid * grid.
        prob, label_by, num_classes, value_range, seed, data_format: as :class:`SaliencyMix`.
    """

    method_class = AttentiveCutMixMethod
    settings = ("grid", "top_k", "prob", "label_by")
    needs_saliency = True
