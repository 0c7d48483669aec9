"""Training-time occlusion as Keras 3 layers (TensorFlow, JAX and PyTorch backends).

Cutout, Hide-and-Seek, Random Erasing, MixUp and CutMix with the papers' definitions and
the CLI's defaults, per-sample draws, an exact ``prob``, and seeds that reproduce under
parallel ``tf.data`` maps. Importing this package imports Keras (``import occlude`` does
not).
"""

from occlude.layers.cut_mix import CutMix
from occlude.layers.cutout import Cutout
from occlude.layers.dataset_mean import dataset_mean
from occlude.layers.hide_and_seek import HideAndSeek
from occlude.layers.mix_up import MixUp
from occlude.layers.random_erasing import RandomErasing

__all__ = ["CutMix", "Cutout", "HideAndSeek", "MixUp", "RandomErasing", "dataset_mean"]
