"""Gallery thumbnails: small JPEGs of the heatmaps' maps, made once and remade when stale.

A thumbnail mirrors its heatmap's path under ``report/thumbs/`` (``sub/cat.png`` ->
``report/thumbs/sub/cat.jpg``), at :data:`THUMB_SIDE` pixels on its longer side. It shows
the map itself, cut out of the heatmap's figure (no title or colour bar at thumbnail
size): :func:`map_box` finds it. It is remade only when its heatmap is newer, so a
rebuild of a large report costs a ``stat`` per image.
"""

from __future__ import annotations

import os
import posixpath
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from occlude.box import Box
from occlude.errors import InputError
from occlude.imageio import open_image, save_image
from occlude.text import shown

THUMB_SIDE = 240
"""Longer side of every thumbnail, in pixels (the gallery shows them at this size)."""
THUMB_DIR = "report/thumbs"
QUALITY = 85


def thumb_path(heatmap: str) -> str:
    """Where the thumbnail of ``heatmap`` (relative to the output folder) goes.

    >>> thumb_path("sub/cat.png")
    'report/thumbs/sub/cat.jpg'
    """
    return f"{THUMB_DIR}/{posixpath.splitext(heatmap)[0]}.jpg"


def is_stale(source: str | Path, thumb: str | Path) -> bool:
    """True when ``thumb`` is missing or older than ``source``."""
    try:
        return os.stat(thumb).st_mtime_ns < os.stat(source).st_mtime_ns
    except OSError:
        return True


def make_thumb(source: Path, target: Path, side: int = THUMB_SIDE) -> None:
    """Write ``source`` shrunk to ``side`` pixels on its longer side as a JPEG, atomically.

    Raises:
        InputError: ``source`` cannot be read as an image.
    """
    with open_image(source) as img:
        small = img.convert("RGB")  # first: shrinking three channels is faster than four
        box = map_box(small)
        if box is not None:
            small = small.crop(box)
        small.thumbnail((side, side))
        save_image(small, target, quality=QUALITY)


MIN_MAP_SIDE = 16
"""A block smaller than this is not taken for the map (the whole figure is shown)."""


def map_box(figure: Image.Image) -> Box | None:
    """The map's box in a heatmap figure (Pillow's ``(left, top, right, bottom)``), or None.

    The map is the figure's largest solid block of ink: a band of rows that each hold one
    unbroken run of non-white pixels, all starting at the same column and as long. The map
    has no white pixel (``render.compose`` lays it over a muted copy of the photo, never
    brighter than 245); the title is glyphs, and the colour bar is narrow and set apart by
    white space.

    >>> figure = Image.new("L", (60, 40), 255)
    >>> figure.paste(90, (5, 10, 45, 35))  # the map
    >>> figure.paste(0, (50, 12, 54, 33))  # the colour bar
    >>> map_box(figure)
    Box(x0=5, y0=10, x1=45, y1=35)
    """
    ink = np.asarray(figure.convert("L")) < 250
    padded = np.pad(ink, ((0, 0), (1, 1))).astype(np.int8)
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # row-major: paired with the starts
    if len(rows) == 0:
        return None
    lengths = ends - starts
    long = lengths >= lengths.max() // 2
    best: Box | None = None
    for left in np.unique(starts[long]).tolist():
        near = long & (np.abs(starts - left) <= 1)
        width = int(np.median(lengths[near]))  # a label that touches a row does not count
        band = np.unique(rows[near & (lengths >= width - 1)])
        top = int(band[0])
        bottom = top + int(np.argmax(np.diff(np.append(band, -1)) != 1)) + 1  # unbroken
        if min(width, bottom - top) >= MIN_MAP_SIDE and (
            best is None or width * (bottom - top) > best.area
        ):
            best = Box(left, top, left + width, bottom)
    return best


def update_thumbs(out_dir: Path, heatmaps: Sequence[str | None], workers: int | None = None
                  ) -> tuple[list[str | None], int]:  # fmt: skip
    """Thumbnails for ``heatmaps`` (paths relative to ``out_dir``; None for none).

    Returns each one's thumbnail path relative to ``out_dir`` (None where the heatmap could
    not be read: a warning says why) and how many were (re)made. Decoding and encoding run
    in threads (Pillow releases the GIL for both).
    """
    root = os.fspath(out_dir)
    stale = [
        rel
        for rel in dict.fromkeys(h for h in heatmaps if h is not None)
        if is_stale(os.path.join(root, rel), os.path.join(root, thumb_path(rel)))
    ]
    failed: set[str] = set()

    def make(rel: str) -> None:
        try:
            make_thumb(out_dir / rel, out_dir / thumb_path(rel))
        except InputError as exc:
            failed.add(rel)
            warnings.warn(f"no thumbnail for {shown(rel)}: {exc}", stacklevel=1)

    count = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=count) as pool:
        for _ in pool.map(make, stale):
            pass
    thumbs = [None if h is None or h in failed else thumb_path(h) for h in heatmaps]
    return thumbs, len(stale) - len(failed)
