"""The folder command's image model, its fill values, and the partner matched to a source.

The image model: an ``H x W x C`` array of ``uint8`` (0-255) or ``uint16`` (0-65535)
with ``C`` = 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA). The alpha channel (the
last one when ``C`` is 2 or 4) is never changed: only colour channels are occluded or
mixed. Inputs are never modified; every function returns a new array.

A fill value is a colour (one value per colour channel, in the image's own units; see
:func:`~occlude.augment.methods.occluder.colour_of`) or :class:`Noise`, drawn from its
seed so that an output replays from its parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np

from occlude.errors import UsageError
from occlude.fill import LUMA


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


def colour_part(image: np.ndarray) -> np.ndarray:
    """The colour channels of one image as a float64 batch of one, (1, H, W, C)."""
    return image[None, ..., : colour_channels(image)].astype(np.float64)


def with_colour(image: np.ndarray, painted: np.ndarray) -> np.ndarray:
    """A copy of ``image`` whose colour channels are ``painted`` (a float batch of one, as
    :func:`colour_part` gives), rounded half to even and clipped to the dtype; alpha kept."""
    out = image.copy()
    top, cc = full_scale(image.dtype), colour_channels(image)
    out[..., :cc] = np.clip(np.round(painted[0]), 0, top).astype(image.dtype)
    return out


def colour_values(colour: Colour, channels: int) -> np.ndarray:
    if len(colour) != channels:
        raise UsageError(f"fill needs {channels} colour value(s); received {len(colour)}")
    return np.asarray(colour, dtype=np.float64)


def noise_array(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype[np.generic]
) -> np.ndarray:
    return rng.integers(0, full_scale(dtype), size=shape, dtype=dtype, endpoint=True)


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
