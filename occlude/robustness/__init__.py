"""Robustness curves: top-1 accuracy as a growing fraction of each image is occluded."""

from occlude.robustness.core import (
    FRACTIONS,
    Row,
    Sample,
    aggregate,
    case_rng,
    check_fractions,
    check_methods,
    evaluate,
    image_cases,
    jobs_per_image,
    occlude,
    resolve_label,
)
from occlude.robustness.job import RobustnessJob

__all__ = [
    "FRACTIONS",
    "RobustnessJob",
    "Row",
    "Sample",
    "aggregate",
    "case_rng",
    "check_fractions",
    "check_methods",
    "evaluate",
    "image_cases",
    "jobs_per_image",
    "occlude",
    "resolve_label",
]
