"""Paper-faithful occlusion augmentations: one call per array, method objects, folders.

* :func:`augment`: one image array, a method by name (or object) and a seed ->
  :class:`Augmented` (``image``, ``params``, ``label_weights``); also
  ``occlude.augment_image`` at the top level (``occlude.augment`` is this package);
* the method classes (``Cutout``, ``HideAndSeek``, ``RandomErasing``, ``MixUp``,
  ``CutMix``, ``KeepCutout``, ``SaliencyMix``, ``AttentiveCutMix``) for repeated use:
  ``method(image, rng)``; :data:`METHODS` names them;
* :func:`augment_files`: files and folders with a manifest, on the job runner;
  :func:`replay` rebuilds one output from its record.

Example::

    from occlude.augment import augment, replay

    result = augment(image, "random-erasing", seed=0, prob=1.0)
    result.image, result.params_dict(), result.label_weights

The parts stay importable from their modules (:mod:`occlude.image`: the image
model; :mod:`~occlude.augment.methods`: the methods; :mod:`~occlude.draws`, the seeds),
and from here. Importing this package loads nothing; the methods load numpy only.
"""

from __future__ import annotations

from occlude.exports import lazy as _lazy
from occlude.exports import names as _names

_PRODUCT = {  # what the package offers: its __all__
    "occlude.augment.methods": "METHODS Method Augmented augmentation Cutout HideAndSeek "
    "RandomErasing MixUp CutMix KeepCutout SaliencyMix AttentiveCutMix",
    "occlude.augment.files": "AugmentReport augment_files",
    "occlude.mean_colour": "folder_mean",
    "occlude.augment.manifest": "replay",
    "occlude.augment.single": "augment",
}
_PARTS = {  # parts, importable from here too
    "occlude.augment.methods": "Context Params params_from_dict",
    "occlude.augment.methods.cut_mix": "CutMixParams",
    "occlude.augment.methods.mix_up": "MixUpParams",
    "occlude.augment.methods.mixer": "match_partner",
    "occlude.fill": "Noise",
    "occlude.draws": "output_rng output_seed",
    "occlude.imageio": "load_array",
}
__all__ = _names(_PRODUCT)
# Each name is imported from its module when first asked for (``occlude.augment.methods``,
# which the layers use, loads without the folder pipeline).
__getattr__, __dir__ = _lazy(__name__, globals(), _PRODUCT, _PARTS)
