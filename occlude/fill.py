"""Fill values for occluded pixels, shared by ``sensitivity`` and ``augment``.

A fill is parsed once from text (``grey``, ``black``, ``white``, ``mean``, ``blur``,
``dataset-mean``, ``noise``, a number, or ``R,G,B``) and resolved per image into pixel
values in the 0-255 range.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from occlude.errors import UsageError
from occlude.values import read_float

GREY = 127.5

_CONSTANTS = {
    "grey": (GREY, GREY, GREY),
    "gray": (GREY, GREY, GREY),
    "black": (0.0, 0.0, 0.0),
    "white": (255.0, 255.0, 255.0),
}
# Fills computed from data rather than given as a colour.
DERIVED = ("mean", "blur", "dataset-mean", "noise")


@dataclass(frozen=True)
class Fill:
    """``kind`` is ``constant`` (with ``rgb``) or one of :data:`DERIVED`."""

    kind: str
    rgb: tuple[float, float, float] = (GREY, GREY, GREY)

    def __str__(self) -> str:
        if self.kind != "constant":
            return self.kind
        for name, rgb in _CONSTANTS.items():
            if rgb == self.rgb and name != "gray":
                return name
        r, g, b = self.rgb
        return f"{r:g},{g:g},{b:g}" if not r == g == b else f"{r:g}"

    def as_json(self) -> str | list[float]:
        return list(self.rgb) if self.kind == "constant" else self.kind


def constant(value: float | tuple[float, float, float]) -> Fill:
    rgb = (float(value),) * 3 if isinstance(value, (int, float)) else tuple(map(float, value))
    if len(rgb) != 3 or not all(0.0 <= v <= 255.0 for v in rgb):
        raise UsageError(f"fill colour must be 0-255 per channel; received {value!r}", "fill")
    return Fill("constant", (rgb[0], rgb[1], rgb[2]))


def parse_fill(text: str, allowed: Collection[str] = DERIVED) -> Fill:
    """Parse a ``--fill`` value; ``allowed`` lists the derived fills a command supports."""
    key = text.strip().lower()
    if key in _CONSTANTS:
        return Fill("constant", _CONSTANTS[key])
    if key in DERIVED:
        if key not in allowed:
            raise UsageError(
                f"fill {text!r} is not available here; choose {_choices(allowed)}", "fill"
            )
        return Fill(key)
    numbers = [read_float(p) for p in key.split(",")]
    parts = [n for n in numbers if n is not None]
    if len(parts) != len(numbers):  # not a name, and not plain numbers (nan, 1_0 ...)
        raise UsageError(
            f"unknown fill {text!r}; choose {_choices(allowed)}, a number or R,G,B", "fill"
        )
    if len(parts) == 1:
        return constant(parts[0])
    if len(parts) == 3:
        return constant((parts[0], parts[1], parts[2]))
    raise UsageError(f"fill {text!r}: give one number or three (R,G,B)", "fill")


def _choices(allowed: Collection[str]) -> str:
    return ", ".join(["grey", "black", "white", *allowed])


def channel_means(image: np.ndarray) -> tuple[float, float, float]:
    """Per-channel mean of an H×W×3 image, in its own pixel units."""
    m = np.asarray(image, dtype=np.float64).reshape(-1, image.shape[-1]).mean(axis=0)
    return (float(m[0]), float(m[1]), float(m[2]))


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of an H×W×C float image, edges reflected."""
    if sigma <= 0:
        return np.asarray(image, dtype=np.float32).copy()
    radius = max(1, round(3.0 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    out = np.asarray(image, dtype=np.float64)
    for axis in (0, 1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect" if out.shape[axis] > 1 else "edge")
        acc = np.zeros_like(out)
        n = out.shape[axis]
        for k, w in enumerate(kernel):
            acc += w * np.take(padded, np.arange(k, k + n), axis=axis)
        out = acc
    return out.astype(np.float32)
