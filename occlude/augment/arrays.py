"""Image files <-> the augment array model (see :mod:`occlude.augment.functional`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from occlude.augment import functional as F
from occlude.errors import UsageError
from occlude.imageio import open_image

FORMATS = ("same", "png", "jpg", "webp")
JPEG_QUALITY = 95
WRITABLE = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
"""Extensions we can write; other input extensions fall back to PNG with ``same``."""


def pil_to_array(img: Image.Image) -> np.ndarray:
    """A decoded image in the augment model.

    Grey (1, L) stays grey; LA keeps alpha; palettes become RGB, or RGBA when they have
    transparency; 16-bit grey (I;16*, I) stays 16-bit (I clipped to 0-65535); float (F)
    becomes 8-bit grey; CMYK, YCbCr and the rest become RGB.
    """
    mode = img.mode
    grey: np.ndarray | None = None
    if mode.startswith("I;16"):
        grey = np.asarray(img).astype(np.uint16)
    elif mode == "I":
        grey = np.clip(np.asarray(img), 0, 65535).astype(np.uint16)
    elif mode == "F":
        grey = np.clip(np.rint(np.asarray(img)), 0, 255).astype(np.uint8)
    if grey is not None:
        return grey[..., None]
    if mode in ("1", "L"):
        target = "L"
    elif mode in ("LA", "La"):
        target = "LA"
    elif mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in img.info):
        target = "RGBA"
    else:
        target = "RGB"
    arr = np.asarray(img if mode == target else img.convert(target), dtype=np.uint8)
    return arr.reshape(arr.shape[0], arr.shape[1], -1)


def load_array(path: str | Path, notes: list[str] | None = None) -> np.ndarray:
    """Read ``path`` (EXIF-upright, first frame) into the augment model."""
    return pil_to_array(open_image(Path(path), notes))


def array_to_pil(arr: np.ndarray, suffix: str = ".png") -> Image.Image:
    """An array in the augment model as a Pillow image the format of ``suffix`` can store.

    16-bit stays 16-bit only in PNG and TIFF (elsewhere it is divided by 257 and
    rounded); JPEG drops alpha; BMP stores grey + alpha as RGBA.
    """
    ext = suffix.lower()
    out = F.check_image(arr)
    if out.dtype == np.uint16 and ext not in (".png", ".tif", ".tiff"):
        out = np.rint(out / 257.0).astype(np.uint8)
    channels = out.shape[2]
    if ext in (".jpg", ".jpeg") and channels in (2, 4):
        out = out[..., : channels - 1]
    elif ext == ".bmp" and channels == 2:
        out = np.concatenate([np.repeat(out[..., :1], 3, axis=2), out[..., 1:]], axis=2)
    if out.shape[2] == 1:
        return Image.fromarray(np.ascontiguousarray(out[..., 0]))
    return Image.fromarray(np.ascontiguousarray(out))


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise UsageError(f"unknown fmt {fmt!r}; choose {', '.join(FORMATS)}", "fmt")
    return fmt


def output_suffix(path: Path, fmt: str) -> str:
    """The extension for ``fmt``: ``same`` keeps the input's (PNG if unwritable)."""
    if check_format(fmt) == "same":
        return path.suffix if path.suffix.lower() in WRITABLE else ".png"
    return f".{fmt}"
