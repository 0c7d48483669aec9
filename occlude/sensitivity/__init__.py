"""Occlusion sensitivity: pure window geometry, the batched sweep, metrics, and the job."""

from occlude.scoring import Predict
from occlude.sensitivity.core import (
    SensitivityResult,
    assemble,
    check_scales,
    count_windows,
    fill_pixels,
    occlusion_sensitivity,
)
from occlude.sensitivity.options import ClassTarget, SensitivityOptions, parse_class
from occlude.sensitivity.windows import axis_starts, default_patch_sizes, window_boxes

__all__ = [
    "ClassTarget",
    "Predict",
    "SensitivityOptions",
    "SensitivityResult",
    "assemble",
    "axis_starts",
    "check_scales",
    "count_windows",
    "default_patch_sizes",
    "fill_pixels",
    "occlusion_sensitivity",
    "parse_class",
    "window_boxes",
]
