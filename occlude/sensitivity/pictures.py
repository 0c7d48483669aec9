"""The images :meth:`occlude.OcclusionSensitivity.explain` takes: arrays, PIL images or
files, one or several, as H×W×3 pixels (0-255) with a name for their outputs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from occlude.errors import UsageError
from occlude.imageio import read_rgb, to_rgb


@dataclass(frozen=True)
class Picture:
    """One input image: its pixels (H×W×3, uint8 or float 0-255), name and file."""

    original: np.ndarray
    name: str
    source: Path | None = None
    sha256: str | None = None


def read_images(images: Any, names: Sequence[str] | None = None) -> tuple[list[Picture], bool]:
    """The pictures of ``explain``'s ``images``, and whether it was one image."""
    from PIL import Image

    single = isinstance(images, (str, os.PathLike, Image.Image)) or (
        isinstance(images, np.ndarray) and images.ndim in (2, 3)
    )
    items = [images] if single else list(images)
    if not items:
        raise UsageError("images is empty", "images")
    if names is not None:
        names = [names] if isinstance(names, str) else list(names)
        if len(names) != len(items):
            raise UsageError(f"names: give one per image; received {len(names)} for "
                             f"{len(items)}", "names")  # fmt: skip
    pictures = []
    for i, item in enumerate(items):
        default = "image" if single else f"image_{i}"
        pictures.append(_picture(item, default, None if names is None else names[i]))
    return pictures, single


def _picture(item: Any, default: str, name: str | None) -> Picture:
    from PIL import Image

    source, sha = None, None
    if isinstance(item, (str, os.PathLike)):
        from occlude.runner.state import file_sha256

        source = Path(item)
        pixels, default = read_rgb(source), source.name
        sha = file_sha256(source)
    elif isinstance(item, Image.Image):
        pixels = np.asarray(to_rgb(item), dtype=np.uint8)
        default = Path(getattr(item, "filename", "") or default).name
    elif isinstance(item, np.ndarray | Sequence):
        pixels = _rgb(np.asarray(item))
    else:
        raise UsageError(f"images: expected arrays, PIL images or file paths; received "
                         f"{type(item).__name__}", "images")  # fmt: skip
    return Picture(pixels, _check_name(default if name is None else name), source, sha)


def _rgb(values: np.ndarray) -> np.ndarray:
    """H×W×3 pixels from an H×W, H×W×1, H×W×3 or H×W×4 array (alpha dropped)."""
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[..., 0]
    if values.ndim == 2:
        values = np.repeat(values[..., None], 3, axis=2)
    elif values.ndim == 3 and values.shape[2] == 4:
        values = values[..., :3]
    if values.ndim != 3 or values.shape[2] != 3 or 0 in values.shape:
        raise UsageError(f"images: each image must be H×W×3 (or H×W, H×W×4); received shape "
                         f"{values.shape}", "images")  # fmt: skip
    if values.dtype == np.uint8:
        return values
    if not np.issubdtype(values.dtype, np.number) or not np.isfinite(values).all():
        raise UsageError("images: pixels must be finite numbers (0-255)", "images")
    return values.astype(np.float32)


def _check_name(name: str) -> str:
    if (not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name
            or "\x00" in name):  # fmt: skip
        raise UsageError(f"names: {name!r} is not a file name", "names")
    return name
