"""Image files in and out: the one place that talks to Pillow's file formats.

Reading applies the EXIF orientation (pixels as a viewer shows them) and takes the
first frame of animated files. Writing is atomic: a temporary file in the target
folder, then a rename, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
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


def open_image(path: Path, notes: list[str] | None = None) -> Image.Image:
    """Decode an image file fully (first frame), upright as a viewer shows it.

    Images over Pillow's pixel limit (``Image.MAX_IMAGE_PIXELS``) are refused from their
    header, before any decoding. ``notes`` collects what the caller may want to tell the
    user (an animation reduced to its first frame).

    Raises:
        InputError: the file is missing, empty, truncated, corrupt, too large or not an image.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img_file = Image.open(path)
        try:
            frames = getattr(img_file, "n_frames", 1)
            if frames > 1 and notes is not None:
                notes.append(f"animated ({frames} frames): using the first frame")
            img_file.seek(0)
            img_file.load()  # single-frame files are closed by Pillow once loaded
            upright = img_file.copy() if frames > 1 else img_file
        except BaseException:
            img_file.close()
            raise
        if upright is not img_file:
            img_file.close()
        ImageOps.exif_transpose(upright, in_place=True)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(
            f"{path}: refused: over {Image.MAX_IMAGE_PIXELS} pixels, a possible decompression bomb"
        ) from None
    except Exception as exc:  # Pillow raises many kinds on broken files
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


def read_rgb(path: Path, notes: list[str] | None = None) -> np.ndarray:
    """The image at ``path`` as an H×W×3 uint8 RGB array."""
    img = open_image(path, notes)
    try:
        return np.asarray(to_rgb(img), dtype=np.uint8)
    except Exception as exc:
        raise InputError(f"{path}: cannot convert mode {img.mode} to RGB ({exc})") from None


TEMP_SUFFIX = ".occlude-part"
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """Open a temporary file next to ``path``; rename it over ``path`` on success.

    Only a process killed outright (SIGKILL) can leave the temporary file behind; its name
    is ``.<name>.<pid>.<random>.occlude-part`` and :func:`remove_stale_temporaries` clears
    it once that process is gone. The file gets the usual permissions (0666 less umask).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.{os.getpid()}."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=path.parent)
    os.fchmod(fd, 0o666 & ~_UMASK)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(tmp, path)  # atomic: readers see the old file or the whole new one
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove_stale_temporaries(folder: Path) -> int:
    """Delete temporary files that killed runs left under ``folder``; return how many.

    A file whose writer is still running (another run into the same folder) is kept.
    """
    if not folder.is_dir():
        return 0
    count = 0
    for path in folder.rglob(f".*{TEMP_SUFFIX}"):
        if _writer_alive(path):
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            count += 1
    return count


def _writer_alive(path: Path) -> bool:
    parts = path.name[: -len(TEMP_SUFFIX)].split(".")
    try:
        pid = int(parts[-2])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


def resize_map(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a float map to ``size`` = (width, height)."""
    if values.shape[::-1] == size:
        return values.astype(np.float32)
    img = Image.fromarray(values.astype(np.float32), mode="F")
    return np.asarray(img.resize(size, Image.Resampling.BILINEAR), dtype=np.float32)
