"""occlude: occlusion sensitivity maps and occlusion augmentations.

``import occlude`` loads neither TensorFlow nor matplotlib (nor numpy): everything is
imported on first use. The Keras edge (:mod:`occlude.model`) and the renderer
(:mod:`occlude.render`) are the only modules that import those libraries.
"""

from __future__ import annotations

from typing import Any

from occlude.errors import InputError, ModelError, OccludeError, ScoreError, UsageError

__version__ = "0.2.0"

__all__ = [
    "AttentiveCutmix",
    "Augmented",
    "Cutmix",
    "Cutout",
    "HideAndSeek",
    "InputError",
    "KeepCutout",
    "Mixup",
    "ModelError",
    "OccludeError",
    "RandomErasing",
    "RobustnessResult",
    "SaliencyMix",
    "ScoreError",
    "SensitivityResult",
    "UsageError",
    "__version__",
    "augment_files",
    "augment_image",
    "load_classifier",
    "occlusion_sensitivity",
    "robustness_curve",
]

_LAZY = {
    "load_classifier": "occlude.model",
    "occlusion_sensitivity": "occlude.sensitivity.core",
    "SensitivityResult": "occlude.sensitivity.core",
    "RobustnessResult": "occlude.robustness.summary",
    "robustness_curve": "occlude.robustness.curve",
    "augment_image": "occlude.augment.single",
    "augment_files": "occlude.augment.files",
    **dict.fromkeys(("Augmented", "Cutout", "HideAndSeek", "RandomErasing", "Mixup", "Cutmix",
                     "KeepCutout", "SaliencyMix", "AttentiveCutmix"), "occlude.augment.methods"),
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'occlude' has no attribute {name!r}")
