"""Fills for the occluding layers: parsed once, resolved per batch in backend ops.

Colours are on the 0-255 scale, as on the command line, and are mapped onto the layer's
``value_range``: ``grey`` is 127.5 / 255 of the way from low to high.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from occlude.errors import UsageError
from occlude.fill import GREY
from occlude.layers import _random as rnd
from occlude.layers._checks import is_number

FillLike: TypeAlias = str | float | Sequence[float]

_NAMED = {
    "grey": (GREY,) * 3,
    "gray": (GREY,) * 3,
    "black": (0.0,) * 3,
    "white": (255.0,) * 3,
}
# ITU-R 601-2 luma, as Pillow and the CLI use for RGB -> grey.
_LUMA = (0.299, 0.587, 0.114)
_CHOICES = "'grey', 'black', 'white', 'mean', 'noise', a number or (R, G, B) on the 0-255 scale"


@dataclass(frozen=True)
class Fill:
    """``kind`` is ``constant`` (with ``rgb`` on the 0-255 scale), ``mean`` or ``noise``."""

    kind: str
    rgb: tuple[float, float, float] = (GREY, GREY, GREY)


def parse_fill(fill: FillLike) -> Fill:
    """A layer's ``fill`` argument, checked; the error names what was received."""
    if isinstance(fill, str):
        key = fill.strip().lower()
        if key in _NAMED:
            r, g, b = _NAMED[key]
            return Fill("constant", (r, g, b))
        if key in ("mean", "noise"):
            return Fill(key)
        if key == "dataset-mean":
            raise UsageError(
                "fill='dataset-mean' needs the dataset: pass its mean colour, "
                "fill=occlude.layers.dataset_mean(...), or another fill"
            )
        try:
            values = [float(p) for p in key.split(",")]
        except ValueError:
            raise UsageError(f"fill must be {_CHOICES}; received {fill!r}") from None
        return _constant(values, fill)
    if is_number(fill):
        return _constant([float(fill)], fill)
    if isinstance(fill, Sequence) and all(is_number(v) for v in fill):
        return _constant([float(v) for v in fill], fill)
    raise UsageError(f"fill must be {_CHOICES}; received {fill!r}", "fill")


def _constant(values: list[float], received: object) -> Fill:
    if len(values) == 1:
        values *= 3
    if len(values) != 3 or not all(math.isfinite(v) and 0.0 <= v <= 255.0 for v in values):
        raise UsageError(
            f"fill must be one number or three (R, G, B), each 0-255; received {received!r}"
        )
    return Fill("constant", (values[0], values[1], values[2]))


def fill_config(fill: FillLike) -> str | float | list[float]:
    """``fill`` in a JSON-friendly form for ``get_config``."""
    if isinstance(fill, (str, int, float)):
        return fill
    if is_number(fill):
        return float(fill)
    return [float(v) for v in fill]


def channel_colour(rgb: tuple[float, float, float], channels: int | None) -> tuple[float, ...]:
    """An RGB colour for ``channels`` colour channels: itself for 3, its luma for 1, and
    the one value for any count when all three are equal."""
    r, g, b = rgb
    if r == g == b:
        return (r,)
    if channels == 3:
        return rgb
    if channels == 1:
        return (_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b,)
    raise UsageError(
        f"fill {rgb} is a colour for 1 or 3 channels; received images with {channels} channels"
    )


def resolve(
    bk: Any,
    fill: Fill,
    images: Any,
    keys: Any,
    value_range: tuple[float, float],
    integer: bool,
) -> Any:
    """The fill for a float batch ``images`` (B, H, W, C), broadcastable against its row
    view (B, H, W * C)."""
    xp = bk.numpy
    low, high = value_range
    _, _, w, c = bk.shape(images)
    if fill.kind == "mean":
        means = xp.mean(xp.reshape(images, (bk.shape(images)[0], -1, c)), axis=1)
        return xp.expand_dims(xp.tile(means, (1, w)), 1)
    if fill.kind == "noise":
        return noise(bk, images, keys, value_range, integer)
    colour = channel_colour(fill.rgb, c if isinstance(c, int) else None)
    scaled = bk.convert_to_tensor([low + v / 255.0 * (high - low) for v in colour])
    scaled = bk.cast(scaled, images.dtype)
    return scaled[0] if len(colour) == 1 else xp.tile(scaled, (w,))


def noise(bk: Any, images: Any, keys: Any, value_range: tuple[float, float], integer: bool) -> Any:
    """Independent uniform noise per pixel and channel over ``value_range``, in the row
    view: continuous for float images, every whole value equally likely for integer
    ones (as the CLI)."""
    xp = bk.numpy
    low, high = value_range
    _, h, w, c = bk.shape(images)
    index = xp.reshape(xp.arange(h * w * c, dtype="int32"), (h, w * c))
    u = rnd.uniform_at(bk, keys, rnd.NOISE, index, light=True)
    if integer:
        levels = math.floor(high - low) + 1
        drawn = xp.add(xp.minimum(xp.floor(xp.multiply(u, levels)), levels - 1), low)
    else:
        drawn = xp.add(xp.multiply(u, high - low), low)
    return bk.cast(drawn, images.dtype)
