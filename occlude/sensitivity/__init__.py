"""Occlusion sensitivity: pure window geometry, the batched sweep, metrics, the Python
object (:class:`OcclusionSensitivity`), its results and the command's job."""

from occlude.scoring import Predict
from occlude.sensitivity.core import (
    Sweep,
    assemble,
    fill_pixels,
    occlusion_sensitivity,
    sweep_images,
)
from occlude.sensitivity.explainer import OcclusionSensitivity
from occlude.sensitivity.options import ClassTarget, SensitivityOptions, parse_class
from occlude.sensitivity.result import SensitivityResult
from occlude.sensitivity.windows import (
    axis_starts,
    check_scales,
    count_windows,
    default_patch_sizes,
    window_boxes,
)

__all__ = [
    "ClassTarget",
    "OcclusionSensitivity",
    "Predict",
    "SensitivityOptions",
    "SensitivityResult",
    "Sweep",
    "assemble",
    "axis_starts",
    "check_scales",
    "count_windows",
    "default_patch_sizes",
    "fill_pixels",
    "occlusion_sensitivity",
    "parse_class",
    "sweep_images",
    "window_boxes",
]
