"""How image files are held as arrays (:func:`occlude.imageio.load_array`, the augment
command, ``replay``): an ``H x W x C`` array of ``uint8`` (0-255) or ``uint16``
(0-65535) with ``C`` = 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA).

The alpha channel (the last one when ``C`` is 2 or 4) is never changed: only colour
channels are occluded or mixed. Inputs are never modified: what paints returns a copy.
NumPy only.
"""

from __future__ import annotations

import numpy as np

from occlude.errors import UsageError


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
