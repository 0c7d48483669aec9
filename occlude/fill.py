"""Fill values for occluded pixels, shared by ``sensitivity``, ``augment`` and the layers.

A fill is parsed once (:func:`parse_fill`) from text (``grey``, ``black``, ``white``,
``mean``, ``blur``, ``dataset-mean``, ``noise``, a number, or ``R,G,B``), or from what a
layer takes (a number or an (R, G, B) sequence), with colours on the 0-255 scale; and it
is resolved once, per image of a batch, over a backend namespace (:func:`fill_values`:
the layers on Keras's backend, the folder command on :data:`occlude.draws.NUMPY`), on the
images' ``value_range``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from occlude import draws
from occlude.checks import is_number
from occlude.errors import UsageError
from occlude.image import check_image, colour_channels, colour_part, full_scale
from occlude.values import read_float

GREY = 127.5
LUMA = (0.299, 0.587, 0.114)
"""ITU-R 601-2 luma, the weights Pillow uses for RGB -> L."""

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


FillLike: TypeAlias = "Fill | str | float | Sequence[float]"


def constant(value: float | tuple[float, float, float]) -> Fill:
    rgb = (float(value),) * 3 if isinstance(value, (int, float)) else tuple(map(float, value))
    if len(rgb) != 3 or not all(0.0 <= v <= 255.0 for v in rgb):
        raise UsageError(f"fill colour must be 0-255 per channel; received {value!r}", "fill")
    return Fill("constant", (rgb[0], rgb[1], rgb[2]))


def _number(value: object) -> bool:
    return is_number(value) and math.isfinite(value)


def parse_fill(text: FillLike, allowed: Collection[str] = DERIVED) -> Fill:
    """A ``fill`` (text as on the command line, a number, or R, G, B on the 0-255 scale);
    ``allowed`` lists the derived fills a command supports."""
    if isinstance(text, Fill):
        return parse_fill(str(text), allowed) if text.kind != "constant" else text
    if not isinstance(text, str):
        values = [text] if _number(text) else list(text) if isinstance(text, Sequence) else []
        if not values or not all(_number(v) for v in values):
            raise UsageError(f"fill must be {_choices(allowed)}; received {text!r}", "fill")
        if len(values) not in (1, 3):
            raise UsageError(f"fill {text!r}: give one number or three (R,G,B)", "fill")
        return constant(float(values[0]) if len(values) == 1 else tuple(values))  # type: ignore[arg-type]
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
    return ", ".join(["grey", "black", "white", *allowed]) + ", a number or R,G,B"


def channel_colour(rgb: Sequence[float], channels: int | None) -> tuple[float, ...]:
    """An RGB colour for ``channels`` colour channels: the one value when all three are
    equal, itself for 3, its luma for 1."""
    r, g, b = (float(v) for v in rgb)
    if r == g == b:
        return (r,)
    if channels == 3:
        return (r, g, b)
    if channels == 1:
        return (LUMA[0] * r + LUMA[1] * g + LUMA[2] * b,)
    raise UsageError(
        f"fill {tuple(rgb)} is a colour for 1 or 3 channels; received images with {channels} "
        "channels",
        "fill",
    )


def colour(
    bk: Any,
    fill: Fill,
    images: Any,
    value_range: tuple[float, float],
    dataset_mean: Sequence[float] | None = None,
) -> Any:
    """The colour a non-noise fill paints on each image of ``images`` (B, H, W, C floats):
    (B, C) for ``mean`` (each image's own), else (1, C) or (1, 1) on ``value_range``."""
    xp = bk.numpy
    c = bk.shape(images)[3]
    if fill.kind == "mean":
        return xp.mean(xp.reshape(images, (bk.shape(images)[0], -1, c)), axis=1)
    if fill.kind == "dataset-mean":
        if dataset_mean is None:
            raise UsageError("fill dataset-mean needs the dataset's mean colour", "fill")
        rgb: Sequence[float] = dataset_mean
    elif fill.kind == "constant":
        rgb = fill.rgb
    else:
        raise UsageError(f"fill {fill} is not a colour", "fill")
    low, high = value_range
    channels = c if isinstance(c, int) else None  # unknown in a graph
    values = [low + v / 255.0 * (high - low) for v in channel_colour(rgb, channels)]
    return bk.cast(bk.convert_to_tensor([values]), images.dtype)


def fill_values(
    bk: Any,
    fill: Fill,
    images: Any,
    keys: Any,
    value_range: tuple[float, float],
    dataset_mean: Sequence[float] | None = None,
    integer: bool = True,
) -> Any:
    """What ``fill`` paints on ``images`` (B, H, W, C floats), broadcastable against their
    row view (B, H, W * C) (see :func:`occlude.augment.geometry.paint`)."""
    if fill.kind == "noise":
        return noise(bk, images, keys, value_range, integer)
    col = colour(bk, fill, images, value_range, dataset_mean)
    if bk.shape(col)[1] == 1:
        return bk.numpy.reshape(col, (-1, 1, 1))
    return bk.numpy.expand_dims(bk.numpy.tile(col, (1, bk.shape(images)[2])), 1)


def noise(bk: Any, images: Any, keys: Any, value_range: tuple[float, float], integer: bool) -> Any:
    """Independent uniform noise per pixel and channel over ``value_range``, in the row
    view: continuous for float images, every whole value equally likely for integer ones."""
    xp = bk.numpy
    low, high = value_range
    _, h, w, c = bk.shape(images)
    index = xp.reshape(xp.arange(h * w * c, dtype="int32"), (h, w * c))
    u = draws.uniform_at(bk, keys, draws.NOISE, index, light=True)
    if integer:
        levels = math.floor(high - low) + 1
        drawn = xp.add(xp.minimum(xp.floor(xp.multiply(u, levels)), levels - 1), low)
    else:
        drawn = xp.add(xp.multiply(u, high - low), low)
    return bk.cast(drawn, images.dtype)


# --- resolved for one image of the array model (:mod:`occlude.image`) -------------------


@dataclass(frozen=True)
class Noise:
    """Per-pixel, per-channel uniform noise over ``0..max``: ``keyed``, from the image's
    int32 key ``seed`` (:func:`noise`); else from ``default_rng(seed)`` (the version-1
    records)."""

    seed: int
    keyed: bool = False


Colour: TypeAlias = tuple[float, ...]
FillValue: TypeAlias = Colour | Noise
"""What the folder command paints and records: a colour (one value per colour channel,
in the image's own units) or :class:`Noise`, drawn from its seed so that it replays."""


def colour_of(fill: Fill, image: np.ndarray, dataset_mean: Sequence[float] | None = None) -> Colour:
    """A non-noise ``fill`` in one image's units (:func:`colour` on NumPy)."""
    arr = check_image(image)
    top, cc = full_scale(arr.dtype), colour_channels(arr)
    found = colour(draws.NUMPY, fill, colour_part(arr), (0, top), dataset_mean)
    return tuple(float(v) for v in np.broadcast_to(found[0], (cc,)))


def colour_values(value: Colour, channels: int) -> np.ndarray:
    if len(value) != channels:
        raise UsageError(f"fill needs {channels} colour value(s); received {len(value)}")
    return np.asarray(value, dtype=np.float64)


def noise_array(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype[np.generic]
) -> np.ndarray:
    """A version-1 record's noise: NumPy's generator, every whole value of the dtype."""
    return rng.integers(0, full_scale(dtype), size=shape, dtype=dtype, endpoint=True)


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
