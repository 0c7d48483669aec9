"""occlude: occlusion sensitivity maps and occlusion augmentations.

``import occlude`` loads neither TensorFlow nor matplotlib: the Keras edge
(:mod:`occlude.model`) and the renderer (:mod:`occlude.render`) are imported on use.
"""

from __future__ import annotations

from typing import Any

from occlude.errors import InputError, ModelError, OccludeError, UsageError
from occlude.sensitivity import SensitivityResult, occlusion_sensitivity

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "ModelError",
    "OccludeError",
    "SensitivityResult",
    "UsageError",
    "__version__",
    "load_classifier",
    "occlusion_sensitivity",
]


def __getattr__(name: str) -> Any:
    if name == "load_classifier":
        from occlude.model import load_classifier

        return load_classifier
    raise AttributeError(f"module 'occlude' has no attribute {name!r}")
