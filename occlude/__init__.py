"""occlude: occlusion sensitivity maps and occlusion augmentations.

In Python: ``occlude.OcclusionSensitivity(model).explain(images)`` gives one
:class:`SensitivityResult` per image, which plots, saves and measures itself (see
docs/python.md). ``import occlude`` loads neither TensorFlow nor matplotlib (nor numpy):
everything is imported on first use. The Keras edge (:mod:`occlude.model`) and the renderer
(:mod:`occlude.render`) are the only modules that import those libraries.
"""

from __future__ import annotations

from typing import Any

from occlude.errors import InputError, ModelError, OccludeError, ScoreError, UsageError

__version__ = "0.2.0"

__all__ = [
    "AttentiveCutMix",
    "Augmented",
    "CutMix",
    "Cutout",
    "HideAndSeek",
    "InputError",
    "KeepCutout",
    "MixUp",
    "ModelError",
    "OccludeError",
    "OcclusionSensitivity",
    "RandomErasing",
    "RobustnessResult",
    "SaliencyMix",
    "ScoreError",
    "SensitivityResult",
    "Sweep",
    "UsageError",
    "__version__",
    "augment_files",
    "augment_image",
    "load_classifier",
    "occlusion_sensitivity",
    "robustness_curve",
]

_LAZY = {
    "OcclusionSensitivity": "occlude.sensitivity.explainer",
    "SensitivityResult": "occlude.sensitivity.result",
    "Sweep": "occlude.sensitivity.core",
    "load_classifier": "occlude.model",
    "occlusion_sensitivity": "occlude.sensitivity.core",
    "RobustnessResult": "occlude.robustness.summary",
    "robustness_curve": "occlude.robustness.curve",
    "augment_image": "occlude.augment.single",
    "augment_files": "occlude.augment.files",
    **dict.fromkeys(("Augmented", "Cutout", "HideAndSeek", "RandomErasing", "MixUp", "CutMix",
                     "KeepCutout", "SaliencyMix", "AttentiveCutMix"), "occlude.augment.methods"),
}  # fmt: skip


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'occlude' has no attribute {name!r}")
