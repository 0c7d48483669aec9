"""Image files in and out: the one place that talks to Pillow's file formats.

Reading applies the EXIF orientation (pixels as a viewer shows them) and takes the
first frame of animated files: as RGB (:func:`read_rgb`), or in the augment command's
array model (:func:`load_array`, see :mod:`occlude.image`: grey, alpha and
16-bit kept). Writing is atomic: a temporary file in the target folder, then a rename, so
an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from occlude.errors import InputError, UsageError
from occlude.image import check_image
from occlude.text import shown

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
WRITABLE = frozenset(_FORMATS)
"""Extensions we can write; other input extensions fall back to PNG with ``same``."""
FORMATS = ("same", "png", "jpg", "webp")
"""The augment command's output formats (``same``: the input's)."""
JPEG_QUALITY = 95

READ_FORMATS = ("JPEG", "PNG", "BMP", "GIF", "TIFF", "WEBP")
"""The only formats images are decoded from, recognised by content (never by extension):
Pillow's other plugins (EPS, which runs Ghostscript, PDF, PSD ...) are never reached."""


def open_image(path: Path, notes: list[str] | None = None) -> Image.Image:
    """Decode an image file fully (first frame), upright as a viewer shows it.

    Only :data:`READ_FORMATS` are recognised. Images over Pillow's pixel limit
    (``Image.MAX_IMAGE_PIXELS``) are refused from their header, before any decoding.
    ``notes`` collects what the caller may want to tell the user (an animation reduced to
    its first frame).

    Raises:
        InputError: the file is missing, empty, truncated, corrupt, too large, not a
            regular file, or not one of the supported formats.
    """
    name = shown(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InputError(f"{name}: not a regular file")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img_file = Image.open(path, formats=READ_FORMATS)
        try:
            frames = getattr(img_file, "n_frames", 1)
            if frames > 1 and notes is not None:
                notes.append(f"animated ({frames} frames): using the first frame")
            img_file.seek(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Pillow's EXIF and palette chatter
                img_file.load()  # single-frame files are closed by Pillow once loaded
            upright = img_file.copy() if frames > 1 else img_file
        except BaseException:
            img_file.close()
            raise
        if upright is not img_file:
            img_file.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ImageOps.exif_transpose(upright, in_place=True)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(
            f"{name}: refused: over {Image.MAX_IMAGE_PIXELS} pixels, a possible decompression bomb"
        ) from None
    except UnidentifiedImageError:
        reason = "not a JPEG, PNG, BMP, GIF, TIFF or WebP file"
        if _is_empty(path):
            reason = "empty file"
        raise InputError(f"{name}: cannot read image ({reason})") from None
    except Exception as exc:  # Pillow raises many kinds on broken files
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, OSError) and exc.strerror:
            reason = exc.strerror
        if _is_empty(path):
            reason = "empty file"
        raise InputError(f"{name}: cannot read image ({shown(reason)})") from None
    return upright


def _is_empty(path: Path) -> bool:
    try:
        return os.stat(path).st_size == 0
    except OSError:
        return False


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
        raise InputError(f"{shown(path)}: cannot convert mode {img.mode} to RGB ({exc})") from None


def channel_sums(path: Path) -> tuple[list[int], int]:
    """Exact per-channel sums of the 8-bit RGB view (order-independent when added) and the
    pixel count. The mean does not depend on orientation, so EXIF rotation is skipped.

    Raises:
        InputError: as :func:`open_image`, or an image that cannot be read.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img_file = Image.open(path, formats=READ_FORMATS)
        with img_file as img:
            img.load()
            rgb = np.asarray(img if img.mode == "RGB" else to_rgb(img), dtype=np.uint8)
    except Exception:
        open_image(path)  # the InputError that names the problem
        raise InputError(f"{shown(path)}: cannot read image") from None
    # Column sums first (each fits easily), then the total: exact and fast.
    sums = rgb.sum(axis=0, dtype=np.uint64).sum(axis=0)
    return [int(v) for v in sums], int(rgb.shape[0] * rgb.shape[1])


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
    """Read ``path`` (EXIF-upright, first frame) into the augment array model."""
    return pil_to_array(open_image(Path(path), notes))


def array_to_pil(arr: np.ndarray, suffix: str = ".png") -> Image.Image:
    """An array in the augment model as a Pillow image the format of ``suffix`` can store.

    16-bit stays 16-bit only in PNG and TIFF (elsewhere it is divided by 257 and
    rounded); JPEG drops alpha; BMP stores grey + alpha as RGBA.
    """
    ext = suffix.lower()
    out = check_image(arr)
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


TEMP_SUFFIX = ".occlude-part"
_UMASK = os.umask(0)
os.umask(_UMASK)
_RUN_TAG = uuid.uuid4().hex[:16]


def run_tag() -> str:
    """The tag in this process's temporary file names (the run's id while a run is on)."""
    return _RUN_TAG


def set_run_tag(tag: str) -> None:
    """Name this process's temporary files after run ``tag`` (worker processes too)."""
    global _RUN_TAG
    if not tag or not tag.isalnum():
        raise ValueError(f"run tag must be alphanumeric; received {tag!r}")
    _RUN_TAG = tag


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """Open a temporary file next to ``path``; rename it over ``path`` on success.

    Only a process killed outright (SIGKILL) can leave the temporary file behind; its name
    is ``.<name>.<run tag>.<random>.occlude-part``, and a later run into the same folder
    removes it once that run is known to be over (see :func:`remove_stale_temporaries`),
    which holds across PID namespaces and hosts. The file gets the usual permissions
    (0666 less umask).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.{_RUN_TAG}."
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


def temporary_tag(path: Path) -> str | None:
    """The run tag in a temporary file's name, or None if it is not one of ours."""
    name = path.name
    if not name.startswith(".") or not name.endswith(TEMP_SUFFIX):
        return None
    parts = name[: -len(TEMP_SUFFIX)].split(".")
    return parts[-2] if len(parts) >= 3 and parts[-2].isalnum() else None


def remove_stale_temporaries(folder: Path, is_live: Callable[[str], bool]) -> int:
    """Delete temporary files that finished or killed runs left under ``folder``.

    ``is_live(tag)`` says whether the run that made a file is still running (another run
    into the same folder); its files are kept. Returns how many files were removed.
    """
    if not folder.is_dir():
        return 0
    count = 0
    for path in folder.rglob(f".*{TEMP_SUFFIX}"):
        tag = temporary_tag(path)
        if tag is None or tag == _RUN_TAG or is_live(tag):
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            count += 1
    return count


def write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through ``write(handle)`` atomically."""
    with atomic_file(path) as handle:
        write(handle)


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_file(path) as handle:
        handle.write(data)


def save_image(img: Image.Image, path: Path, quality: int = JPEG_QUALITY) -> None:
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


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise UsageError(f"unknown fmt {fmt!r}; choose {', '.join(FORMATS)}", "fmt")
    return fmt


def output_suffix(path: Path, fmt: str) -> str:
    """The extension for ``fmt``: ``same`` keeps the input's (PNG if unwritable)."""
    if check_format(fmt) == "same":
        return path.suffix if path.suffix.lower() in WRITABLE else ".png"
    return f".{fmt}"


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
