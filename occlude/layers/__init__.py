"""Training-time occlusion as Keras 3 layers (TensorFlow, JAX and PyTorch backends).

Cutout, Hide-and-Seek, Random Erasing, MixUp and CutMix with the papers' definitions and
the CLI's defaults, per-sample draws, an exact ``prob``, and seeds that reproduce under
parallel ``tf.data`` maps; and the saliency-guided KeepCutout, SaliencyMix and
AttentiveCutMix, which read importance maps from a ``saliency`` entry.

Each layer is one line below: its method (:mod:`occlude.augment.methods`, which documents
its settings) and the order of its positional arguments.

Importing this package imports Keras (``import occlude`` does not).
"""

from occlude.augment import methods as m
from occlude.layers._mixing import MixerLayer
from occlude.layers._occluding import MethodLayer
from occlude.mean_colour import dataset_mean

Cutout = MethodLayer.of(m.Cutout, "holes", "size", "fill", "prob")
HideAndSeek = MethodLayer.of(m.HideAndSeek, "fill", "grid", "hide_prob", "prob")
RandomErasing = MethodLayer.of(
    m.RandomErasing, "prob", "area_range", "aspect_range", "fill", "max_attempts"
)
KeepCutout = MethodLayer.of(m.KeepCutout, "size", "keep_quantile", "max_tries", "fill", "prob")
MixUp = MixerLayer.of(m.MixUp, "alpha", "prob")
CutMix = MixerLayer.of(m.CutMix, "alpha", "prob")
SaliencyMix = MixerLayer.of(m.SaliencyMix, "alpha", "prob", "label_by")
AttentiveCutMix = MixerLayer.of(m.AttentiveCutMix, "grid", "top_k", "prob", "label_by")

__all__ = [
    "AttentiveCutMix",
    "CutMix",
    "Cutout",
    "HideAndSeek",
    "KeepCutout",
    "MixUp",
    "RandomErasing",
    "SaliencyMix",
    "dataset_mean",
]
