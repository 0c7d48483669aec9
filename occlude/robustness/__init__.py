"""Robustness curves: top-1 accuracy as a growing fraction of each image is occluded.

``robustness_curve(model, images, labels)`` gives a :class:`RobustnessResult`: its rows,
:meth:`~RobustnessResult.plot`, :meth:`~RobustnessResult.to_dict` (the command's JSON) and
:meth:`~RobustnessResult.gate`.
"""

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
    occluded,
    resolve_label,
)
from occlude.robustness.curve import robustness_curve
from occlude.robustness.job import RobustnessJob
from occlude.robustness.summary import Gate, RobustnessResult, table

__all__ = [
    "FRACTIONS",
    "Gate",
    "RobustnessJob",
    "RobustnessResult",
    "Row",
    "Sample",
    "aggregate",
    "case_rng",
    "check_fractions",
    "check_methods",
    "evaluate",
    "image_cases",
    "jobs_per_image",
    "occluded",
    "resolve_label",
    "robustness_curve",
    "table",
]
