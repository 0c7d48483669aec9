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

The parts stay importable from their modules (:mod:`~occlude.augment.functional`: the
image model; :mod:`~occlude.augment.methods`: the methods and parameter records;
:mod:`~occlude.augment.seeding`), and from here. Importing this
package loads nothing; the methods load numpy only.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "METHODS",
    "AttentiveCutMix",
    "AugmentReport",
    "Augmented",
    "CutMix",
    "Cutout",
    "HideAndSeek",
    "KeepCutout",
    "Method",
    "MixUp",
    "RandomErasing",
    "SaliencyMix",
    "augment",
    "augment_files",
    "augmentation",
    "folder_mean",
    "replay",
]

_PARTS = {
    **dict.fromkeys(("METHODS", "AttentiveCutMix", "Augmented", "CutMix", "Cutout",
                     "HideAndSeek", "KeepCutout", "Method", "MixUp", "RandomErasing",
                     "SaliencyMix", "augmentation"), "occlude.augment.methods"),
    **dict.fromkeys(("AugmentReport", "augment_files", "folder_mean"), "occlude.augment.files"),
    "replay": "occlude.augment.manifest",
    "augment": "occlude.augment.single",
    **dict.fromkeys(("Noise", "match_partner"), "occlude.augment.functional"),
    **dict.fromkeys(("Context", "CutMixParams", "MixUpParams", "Params", "params_from_dict"),
                    "occlude.augment.methods"),
    **dict.fromkeys(("output_rng", "output_seed"), "occlude.augment.seeding"),
    "load_array": "occlude.imageio",
}  # fmt: skip
"""Everything, imported when first asked for: ``occlude.augment.methods`` (the methods,
which the layers use) loads without the folder pipeline."""


def __getattr__(name: str) -> Any:
    if name in _PARTS:
        import importlib

        return getattr(importlib.import_module(_PARTS[name]), name)
    raise AttributeError(f"module 'occlude.augment' has no attribute {name!r}")
