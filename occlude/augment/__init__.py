"""Paper-faithful occlusion augmentations: one call per array, method objects, folders.

* :func:`augment`: one image array, a method by name (or object) and a seed ->
  :class:`Augmented` (``image``, ``params``, ``label_weights``); also
  ``occlude.augment_image`` at the top level (``occlude.augment`` is this package);
* the method classes (``Cutout``, ``HideAndSeek``, ``RandomErasing``, ``Mixup``,
  ``Cutmix``, ``KeepCutout``, ``SaliencyMix``, ``AttentiveCutmix``) for repeated use:
  ``method(image, rng)``; :data:`METHODS` names them;
* :func:`augment_files`: files and folders with a manifest, on the job runner;
  :func:`replay` rebuilds one output from its record.

Example::

    from occlude.augment import augment, replay

    result = augment(image, "random-erasing", seed=0, prob=1.0)
    result.image, result.params_dict(), result.label_weights

The parts stay importable from their modules (:mod:`~occlude.augment.functional`: the
painters; :mod:`~occlude.augment.methods`: samplers and parameter records;
:mod:`~occlude.augment.seeding`), and by their old names from here. Importing this
package loads numpy and Pillow only.
"""

from __future__ import annotations

from typing import Any

from occlude.augment.files import AugmentReport, augment_files
from occlude.augment.manifest import replay
from occlude.augment.methods import (
    METHODS,
    AttentiveCutmix,
    Augmented,
    Cutmix,
    Cutout,
    HideAndSeek,
    KeepCutout,
    Method,
    Mixup,
    RandomErasing,
    SaliencyMix,
    augmentation,
)
from occlude.augment.single import augment

__all__ = [
    "METHODS",
    "AttentiveCutmix",
    "AugmentReport",
    "Augmented",
    "Cutmix",
    "Cutout",
    "HideAndSeek",
    "KeepCutout",
    "Method",
    "Mixup",
    "RandomErasing",
    "SaliencyMix",
    "augment",
    "augment_files",
    "augmentation",
    "replay",
]

_PARTS = {
    **dict.fromkeys(("Noise", "cutmix", "erase_boxes", "fill_colour", "hidden_mask",
                     "hide_cells", "match_partner", "mixup"), "occlude.augment.functional"),
    **dict.fromkeys(("Context", "CutmixParams", "CutoutParams", "HideAndSeekParams",
                     "MixupParams", "RandomErasingParams", "params_from_dict", "sample_cutmix",
                     "sample_cutout", "sample_hide_and_seek", "sample_mixup",
                     "sample_random_erasing"), "occlude.augment.methods"),
    **dict.fromkeys(("Box", "Params", "box_area"), "occlude.augment.params"),
    **dict.fromkeys(("output_rng", "output_seed"), "occlude.augment.seeding"),
    "load_array": "occlude.augment.arrays",
}  # fmt: skip
"""The parts, importable from here by their old names (not in ``__all__``)."""


def __getattr__(name: str) -> Any:
    if name in _PARTS:
        import importlib

        return getattr(importlib.import_module(_PARTS[name]), name)
    raise AttributeError(f"module 'occlude.augment' has no attribute {name!r}")
