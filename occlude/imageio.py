"""Image files in and out: the one place that talks to Pillow's file formats.

Reading applies the EXIF orientation (pixels as a viewer shows them) and takes the
first frame of animated files. Writing is atomic: a temporary file in the target
folder, then a rename, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageOps

from occlude.errors import InputError

# Formats Pillow writes for each extension we produce.
_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".gif": "GIF",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def open_image(path: Path) -> Image.Image:
    """Decode an image file fully (first frame), upright as a viewer shows it.

    Raises:
        InputError: the file is missing, empty, truncated, corrupt or not an image.
    """
    try:
        with Image.open(path) as img:
            img.seek(0)
            img.load()
            upright = ImageOps.exif_transpose(img)
            if upright is img:
                upright = img.copy()
    except Image.DecompressionBombError as exc:
        raise InputError(f"{path}: refused, too many pixels ({exc})") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        reason = str(exc) or type(exc).__name__
        if Path(path).exists() and Path(path).stat().st_size == 0:
            reason = "empty file"
        raise InputError(f"{path}: cannot read image ({reason})") from None
    return upright


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB view of any mode: alpha is dropped, grey is replicated, 16-bit is scaled."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        grey = np.clip(np.rint(arr / top * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if img.mode == "F":
        grey = np.clip(np.rint(np.asarray(img)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if img.mode in ("P", "PA") and "transparency" in img.info:
        img = img.convert("RGBA")
    return img.convert("RGB")


def read_rgb(path: Path) -> np.ndarray:
    """The image at ``path`` as an H×W×3 uint8 RGB array."""
    return np.asarray(to_rgb(open_image(path)), dtype=np.uint8)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """Open a temporary file next to ``path``; rename it over ``path`` on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through ``write(handle)`` atomically."""
    with atomic_file(path) as handle:
        write(handle)


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_file(path) as handle:
        handle.write(data)


def save_image(img: Image.Image, path: Path, quality: int = 95) -> None:
    """Save ``img`` atomically in the format its extension names."""
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unsupported output extension")
    params: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP"):
        params["quality"] = quality
    if fmt == "JPEG":
        params["subsampling"] = 0 if quality >= 90 else 2
    write_atomic(path, lambda handle: img.save(handle, format=fmt, **params))


def resize_rgb(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An H×W×3 uint8 image resized to ``size`` = (height, width) as float32 pixels.

    Bilinear with Pillow's antialiasing; no resampling when the size already matches.
    """
    height, width = size
    if image.shape[:2] == (height, width):
        return np.asarray(image, dtype=np.float32)
    resized = Image.fromarray(np.asarray(image, dtype=np.uint8)).resize(
        (width, height), Image.Resampling.BILINEAR
    )
    return np.asarray(resized, dtype=np.float32)
