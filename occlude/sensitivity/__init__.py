"""Occlusion sensitivity: pure window geometry and the batched, streamed sweep."""

from occlude.sensitivity.core import (
    Predict,
    SensitivityResult,
    count_windows,
    fill_pixels,
    occlusion_sensitivity,
)
from occlude.sensitivity.windows import axis_starts, default_patch_sizes, window_boxes

__all__ = [
    "Predict",
    "SensitivityResult",
    "axis_starts",
    "count_windows",
    "default_patch_sizes",
    "fill_pixels",
    "occlusion_sensitivity",
    "window_boxes",
]
