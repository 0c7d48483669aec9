"""Pure functions: an image array and explicit parameters in, a new image array out.

The image model: an ``H x W x C`` array of ``uint8`` (0-255) or ``uint16`` (0-65535)
with ``C`` = 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA). The alpha channel (the
last one when ``C`` is 2 or 4) is never changed: only colour channels are occluded or
mixed. Inputs are never modified; every function returns a new array.

A fill is either a colour (one value per colour channel, in the image's own units; see
:func:`fill_colour`) or :class:`Noise`, per-pixel uniform noise over the full range drawn
from its own seed so that an output can be replayed from its parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np

from occlude.box import Box
from occlude.errors import UsageError
from occlude.fill import Fill

# ITU-R 601-2 luma, the weights Pillow uses for RGB -> L.
LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class Noise:
    """Per-pixel, per-channel uniform noise over ``0..max``: ``keyed``, from the image's
    int32 key ``seed`` (:func:`occlude.fill.noise`); else from ``default_rng(seed)`` (the
    version-1 records and the NumPy-only methods)."""

    seed: int
    keyed: bool = False


Colour: TypeAlias = tuple[float, ...]
FillValue: TypeAlias = Colour | Noise


def colour_channels(image: np.ndarray) -> int:
    """How many leading channels carry colour (the rest is alpha)."""
    channels = int(image.shape[2])
    return channels - 1 if channels in (2, 4) else channels


def full_scale(dtype: np.dtype[np.generic] | type) -> int:
    """The white level of a supported dtype: 255 or 65535."""
    kind = np.dtype(dtype)
    if kind == np.uint8:
        return 255
    if kind == np.uint16:
        return 65535
    raise UsageError(f"images must be uint8 or uint16 arrays; received {kind}")


def check_image(image: np.ndarray) -> np.ndarray:
    """The image as an array in the model above, or a UsageError saying what is wrong."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4) or 0 in arr.shape[:2]:
        raise UsageError(f"images must be H x W x C with C in 1-4; received shape {arr.shape}")
    full_scale(arr.dtype)
    return arr


def rgb_to_channels(rgb: Sequence[float], channels: int, scale: float = 1.0) -> Colour:
    """An 8-bit RGB colour in an image's colour model: luma for grey, times ``scale``."""
    r, g, b = (float(v) * scale for v in rgb)
    if channels == 1:
        return (r,) if r == g == b else (LUMA[0] * r + LUMA[1] * g + LUMA[2] * b,)
    return (r, g, b)


def fill_colour(
    fill: Fill, image: np.ndarray, dataset_mean: Sequence[float] | None = None
) -> Colour:
    """Resolve a non-noise :class:`~occlude.fill.Fill` into ``image``'s units.

    Constants and ``dataset-mean`` are 8-bit RGB: grey images get their luma, and 16-bit
    images scale them by 257 (so 255 becomes 65535). ``mean`` is the image's own mean per
    colour channel (alpha ignored).
    """
    arr = check_image(image)
    cc = colour_channels(arr)
    scale = full_scale(arr.dtype) / 255.0
    if fill.kind == "constant":
        return rgb_to_channels(fill.rgb, cc, scale)
    if fill.kind == "dataset-mean":
        if dataset_mean is None:
            raise UsageError("fill dataset-mean needs the dataset's mean colour")
        return rgb_to_channels(dataset_mean, cc, scale)
    if fill.kind == "mean":
        means = arr[..., :cc].reshape(-1, cc).mean(axis=0, dtype=np.float64)
        return tuple(float(m) for m in means)
    raise UsageError(f"fill {fill} is not a colour; use Noise for noise")


def _colour_array(colour: Colour, image: np.ndarray) -> np.ndarray:
    cc = colour_channels(image)
    if len(colour) != cc:
        raise UsageError(f"fill needs {cc} colour value(s); received {len(colour)}")
    top = full_scale(image.dtype)
    return np.clip(np.rint(np.asarray(colour, dtype=np.float64)), 0, top).astype(image.dtype)


def colour_part(image: np.ndarray) -> np.ndarray:
    """The colour channels of one image as a float64 batch of one, (1, H, W, C)."""
    return image[None, ..., : colour_channels(image)].astype(np.float64)


def colour_values(colour: Colour, channels: int) -> np.ndarray:
    if len(colour) != channels:
        raise UsageError(f"fill needs {channels} colour value(s); received {len(colour)}")
    return np.asarray(colour, dtype=np.float64)


def noise_array(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype[np.generic]
) -> np.ndarray:
    return rng.integers(0, full_scale(dtype), size=shape, dtype=dtype, endpoint=True)


def _paint(view: np.ndarray, colour: np.ndarray) -> None:
    """``view[...] = colour``, laying the colour out as one contiguous row first.

    Broadcasting a 1-4 value vector over a block is ~30x slower than copying a ready row.
    """
    view[...] = np.ascontiguousarray(np.broadcast_to(colour, view.shape[1:]))


def erase_boxes(image: np.ndarray, boxes: Sequence[Box], fill: FillValue) -> np.ndarray:
    """Cutout and Random Erasing: paint each box (in order; later boxes win) with ``fill``.

    Noise is drawn box by box, row-major within a box, from one ``default_rng(seed)``.
    """
    arr = check_image(image)
    out = arr.copy()
    cc = colour_channels(arr)
    rng = np.random.default_rng(fill.seed) if isinstance(fill, Noise) else None
    colour = None if isinstance(fill, Noise) else _colour_array(fill, arr)
    for x0, y0, x1, y1 in boxes:
        if x1 <= x0 or y1 <= y0:
            continue
        if rng is not None:
            out[y0:y1, x0:x1, :cc] = noise_array(rng, (y1 - y0, x1 - x0, cc), arr.dtype)
        elif colour is not None:
            _paint(out[y0:y1, x0:x1, :cc], colour)
    return out

    return out


def match_partner(partner: np.ndarray, source: np.ndarray) -> np.ndarray:
    """The partner in the source's colour model, bit depth and size, without alpha.

    Grey sources get the partner's luma, RGB sources a grey partner repeated; depth is
    scaled by 257 (up) or divided by it and rounded (down); the size is matched with
    Pillow's bilinear resampling.
    """
    from PIL import Image

    p, s = check_image(partner), check_image(source)
    cc, pcc = colour_channels(s), colour_channels(p)
    if cc == pcc and p.dtype == s.dtype:
        matched = p if p.shape[2] == cc else np.ascontiguousarray(p[..., :cc])
    else:
        colour = p[..., :pcc].astype(np.float64)
        if cc == 1 and pcc == 3:
            colour = colour @ np.asarray(LUMA)[:, None]
        elif cc == 3 and pcc == 1:
            colour = np.repeat(colour, 3, axis=2)
        colour *= full_scale(s.dtype) / full_scale(p.dtype)
        matched = np.clip(np.rint(colour), 0, full_scale(s.dtype)).astype(s.dtype)
    h, w = s.shape[:2]
    if matched.shape[:2] == (h, w):
        return matched.copy() if matched is p else matched
    img = Image.fromarray(matched if cc == 3 else matched[..., 0])
    resized = np.asarray(img.resize((w, h), Image.Resampling.BILINEAR))
    return resized.reshape(h, w, cc).astype(s.dtype)
