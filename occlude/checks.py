"""The library's checks of settings, each written once: every method's (the folder
command, the Python API and the Keras layers all go through them) and the library's own
seeds, batch sizes, ``repeats``, ``top_k`` and ``min_focus``.

A number must be a real number (an ``int``, a ``float`` or a NumPy scalar, never a
``bool``), finite, and within its limits; errors name the Python parameter (``cli/flags.py``
turns it into a flag), say the limit and what was received.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import TypeGuard

import numpy as np

from occlude.errors import UsageError

MAX_HOLES = 1024
"""Cutout's most squares per image (each is drawn and painted: the cost grows with them)."""
MAX_DRAWS = 10_000
"""The most boxes RandomErasing (``max_attempts``) and KeepCutout (``max_tries``) draw per image."""
MAX_ALPHA = 1e6
"""The mixers' alpha stays below it: lam ~ Beta(alpha, alpha) is then already 0.5 within
0.0004 (one standard deviation), and the float32 sampler is checked up to it."""
MAX_CELLS_GRID = 32
"""AttentiveCutMix's most cells per side: it ranks every pair of the grid * grid cells."""
MAX_CELL_SIDE = 1 << 30
"""Hide-and-Seek's largest cell side in pixels (a side above the image's is one cell)."""


def is_number(value: object) -> TypeGuard[float]:
    """A real number: ``int``, ``float`` or a NumPy scalar, but not a ``bool``."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_whole(value: object) -> TypeGuard[int]:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _no_bool(value: object, name: str, kind: str) -> None:
    if isinstance(value, (bool, np.bool_)):
        raise UsageError(f"{name} must be {kind}, not a bool; received {value!r}", name)


def check_prob(prob: float, name: str = "prob") -> float:
    _no_bool(prob, name, "a number")
    if not (is_number(prob) and 0.0 <= prob <= 1.0):
        raise UsageError(f"{name} must be between 0 and 1; received {prob!r}", name)
    return float(prob)


def check_int(value: int, name: str, most: int | None = None, least: int = 1) -> int:
    """A whole-number setting from ``least`` (to ``most``), as a Python ``int``."""
    _no_bool(value, name, "an int")
    if most is not None and not (is_whole(value) and least <= value <= most):
        raise UsageError(f"{name} must be an int from {least} to {most}; received {value!r}", name)
    if not (is_whole(value) and value >= least):
        raise UsageError(f"{name} must be an int, at least {least}; received {value!r}", name)
    return int(value)


def check_alpha(alpha: float, name: str = "alpha") -> float:
    _no_bool(alpha, name, "a number")
    if not (is_number(alpha) and 0 < alpha < MAX_ALPHA):
        raise UsageError(
            f"{name} must be a positive number below {MAX_ALPHA:,.0f}; received {alpha!r}", name
        )
    return float(alpha)


def check_seed(seed: int | None) -> int | None:
    if seed is not None and not is_whole(seed):
        raise UsageError(f"seed must be an int or None; received {seed!r}", "seed")
    return None if seed is None else int(seed)


def check_optional_int(value: int | None, name: str, least: int | None = None) -> int | None:
    """An int (at least ``least``) or None, as a Python ``int``."""
    if value is None:
        return None
    if not is_whole(value) or (least is not None and value < least):
        kind = "an int" if least is None else f"an int, at least {least},"
        raise UsageError(f"{name} must be {kind} or None; received {value!r}", name)
    return int(value)


def _pair(bounds: Sequence[float], name: str) -> tuple[float, float]:
    """Two finite real numbers."""
    if isinstance(bounds, (str, bytes)) or not hasattr(bounds, "__len__") or len(bounds) != 2:
        raise UsageError(f"{name} must be (low, high); received {bounds!r}", name)
    if not all(is_number(v) for v in bounds):
        raise UsageError(f"{name} must be two numbers (not bools); received {bounds!r}", name)
    low, high = float(bounds[0]), float(bounds[1])
    if not (math.isfinite(low) and math.isfinite(high)):
        raise UsageError(f"{name} must be finite; received {bounds!r}", name)
    return low, high


def check_value_range(value_range: Sequence[float]) -> tuple[float, float]:
    low, high = _pair(value_range, "value_range")
    if not low < high:
        raise UsageError(
            f"value_range needs finite low < high; received {value_range!r}", "value_range"
        )
    return low, high


def check_range(bounds: Sequence[float], name: str, upper: float = math.inf) -> tuple[float, float]:
    """``(low, high)``, finite, with ``0 < low <= high <= upper``."""
    low, high = _pair(bounds, name)
    if not 0.0 < low <= high <= upper:
        limit = f" <= {upper:g}" if math.isfinite(upper) else ""
        raise UsageError(f"{name} needs 0 < low <= high{limit}; received {low:g},{high:g}", name)
    return low, high


def check_size(size: float) -> float:
    """A square's side: a fraction of the shorter side below 1, whole pixels from 1 up."""
    if not (is_number(size) and size > 0):
        raise UsageError(f"size must be a positive number; received {size!r}", "size")
    if not math.isfinite(size) or (size >= 1 and size != int(size)):
        raise UsageError(
            f"size of 1 or more is a side in pixels and must be whole; received {size!r}", "size"
        )
    return float(size)


LABEL_BY = ("area", "saliency")
"""How the guided mixers weigh labels: by pixel share, or SnapMix-style by importance."""


def check_label_by(label_by: str) -> str:
    if label_by not in LABEL_BY:
        raise UsageError(
            f"label_by must be 'area' or 'saliency'; received {label_by!r}", "label_by"
        )
    return label_by
