"""Training-time occlusion as Keras 3 layers (TensorFlow, JAX and PyTorch backends).

Importing this package imports Keras (the rest of ``occlude`` does not).
"""

from occlude.layers.cut_mix import CutMix
from occlude.layers.cutout import Cutout
from occlude.layers.hide_and_seek import HideAndSeek
from occlude.layers.mix_up import MixUp
from occlude.layers.random_erasing import RandomErasing

__all__ = ["CutMix", "Cutout", "HideAndSeek", "MixUp", "RandomErasing"]
