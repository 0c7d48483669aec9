"""Training-time occlusion as Keras 3 layers (TensorFlow, JAX and PyTorch backends).

Cutout, Hide-and-Seek, Random Erasing, MixUp and CutMix with the papers' definitions and
the CLI's defaults, per-sample draws, an exact ``prob``, and seeds that reproduce under
parallel ``tf.data`` maps; and the saliency-guided KeepCutout, SaliencyMix and
AttentiveCutMix, which read importance maps from a ``saliency`` entry.

Importing this package imports Keras (``import occlude`` does not).
"""

from occlude.layers.attentive_cut_mix import AttentiveCutMix
from occlude.layers.cut_mix import CutMix
from occlude.layers.cutout import Cutout
from occlude.layers.dataset_mean import dataset_mean
from occlude.layers.hide_and_seek import HideAndSeek
from occlude.layers.keep_cutout import KeepCutout
from occlude.layers.mix_up import MixUp
from occlude.layers.random_erasing import RandomErasing
from occlude.layers.saliency_mix import SaliencyMix

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
