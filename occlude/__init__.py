"""occlude: occlusion sensitivity maps and occlusion augmentations.

In Python: ``occlude.OcclusionSensitivity(model).explain(images)`` gives one
:class:`SensitivityResult` per image, which plots, saves and measures itself (see
docs/python.md). ``import occlude`` loads neither TensorFlow nor matplotlib (nor numpy):
everything is imported on first use. The Keras edge (:mod:`occlude.model`) and the renderer
(:mod:`occlude.render`) are the only modules that import those libraries.
"""

from __future__ import annotations

from occlude.errors import InputError, ModelError, OccludeError, ScoreError, UsageError
from occlude.exports import lazy as _lazy

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
    "occlude.sensitivity.explainer": "OcclusionSensitivity",
    "occlude.sensitivity.result": "SensitivityResult",
    "occlude.sensitivity.core": "Sweep occlusion_sensitivity",
    "occlude.model": "load_classifier",
    "occlude.robustness.summary": "RobustnessResult",
    "occlude.robustness.curve": "robustness_curve",
    "occlude.augment.single": "augment_image",
    "occlude.augment.files": "augment_files",
    "occlude.augment.methods": "Augmented Cutout HideAndSeek RandomErasing MixUp CutMix "
    "KeepCutout SaliencyMix AttentiveCutMix",
}
__getattr__, __dir__ = _lazy(__name__, globals(), _LAZY)
