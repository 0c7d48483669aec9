"""The matplotlib edge: heatmaps over images and per-scale contact sheets.

Uses matplotlib's object API with the Agg canvas (no pyplot, no global state). The
colour scale is diverging and centred on zero: red where occlusion lowers the class
score (the region supports the class), blue where it raises it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from occlude.imageio import write_bytes

CMAP = "RdBu_r"
_MIN_SIDE = 320  # small images are shown enlarged so that the legend stays legible
MAX_SIDE = 4096
"""Larger images are drawn at this size on their longer side, to bound memory."""


def resize_map(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a float map to ``size`` = (width, height)."""
    if values.shape[::-1] == size:
        return values.astype(np.float32)
    img = Image.fromarray(values.astype(np.float32), mode="F")
    return np.asarray(img.resize(size, Image.Resampling.BILINEAR), dtype=np.float32)


def symmetric_limit(*maps: np.ndarray) -> float:
    """The colour scale's half-range: the largest absolute value (never zero)."""
    vmax = max(float(np.max(np.abs(m))) for m in maps)
    return vmax if vmax > 0 else 1.0


def compose(image: np.ndarray, values: np.ndarray, vmax: float) -> np.ndarray:
    """The map blended over a muted grey copy of the photo, as an H×W×3 uint8 array.

    Opacity grows with the magnitude, so regions the map calls unimportant show the photo.
    Everything stays uint8/float32 (about 20 bytes a pixel at most).
    """
    from matplotlib import colormaps

    lut = (colormaps[CMAP](np.linspace(0.0, 1.0, 256))[:, :3] * 255.0).astype(np.float32)
    grey = np.asarray(Image.fromarray(image.astype(np.uint8)).convert("L"), dtype=np.float32)
    norm = np.clip(values.astype(np.float32) / np.float32(vmax), -1.0, 1.0)
    index = np.rint((norm + 1.0) * 127.5).astype(np.uint8)
    alpha = (0.2 + 0.7 * np.abs(norm) ** 0.75)[..., None]
    backdrop = (60.0 + 0.6 * grey)[..., None]
    out = lut[index] * alpha + backdrop * (1.0 - alpha)
    composed: np.ndarray = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return composed


def _overlay(ax: Any, image: np.ndarray, values: np.ndarray, vmax: float) -> Any:
    """Draw the composed overlay; return a mappable for the colour bar."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    ax.imshow(compose(image, values, vmax), interpolation="nearest")
    ax.set_axis_off()
    return ScalarMappable(norm=Normalize(-vmax, vmax), cmap=CMAP)


def _figure(width_px: float, height_px: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width_px / 100.0, height_px / 100.0), dpi=100)


def _save(fig: Any, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    write_bytes(path, buffer.getvalue())


def heatmap_png(
    path: Path,
    image: np.ndarray,
    values: np.ndarray,
    title: str,
    label: str,
) -> None:
    """Write ``values`` (any resolution) over ``image`` (original resolution) with a legend."""
    height, width = image.shape[:2]
    if max(height, width) > MAX_SIDE:
        shrink = MAX_SIDE / max(height, width)
        size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
        image = np.asarray(
            Image.fromarray(image.astype(np.uint8)).resize(size, Image.Resampling.BOX)
        )
        height, width = image.shape[:2]
    full = resize_map(values, (width, height))
    scale = max(1.0, _MIN_SIDE / min(width, height))
    w, h = width * scale, height * scale
    pad_right, pad_top, pad_bottom, pad_left = 120.0, 46.0, 8.0, 8.0
    fig = _figure(w + pad_left + pad_right, h + pad_top + pad_bottom)
    W, H = w + pad_left + pad_right, h + pad_top + pad_bottom
    ax = fig.add_axes((pad_left / W, pad_bottom / H, w / W, h / H))
    vmax = symmetric_limit(full)
    mappable = _overlay(ax, image, full, vmax)
    cax = fig.add_axes(((pad_left + w + 14) / W, pad_bottom / H + 0.1 * h / H, 14 / W, 0.8 * h / H))
    bar = fig.colorbar(mappable, cax=cax)
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    fig.text(0.5, 1 - 8 / H, title, ha="center", va="top", fontsize=9, wrap=True)
    _save(fig, path)


def contact_sheet_png(
    path: Path,
    image: np.ndarray,
    panels: Sequence[tuple[str, np.ndarray]],
    title: str,
    label: str,
) -> None:
    """Image plus one panel per map (all on one shared, zero-centred colour scale)."""
    side = 220.0
    n = len(panels) + 1
    W, H = n * (side + 10) + 110, side + 70
    fig = _figure(W, H)
    vmax = symmetric_limit(*(v for _, v in panels))
    height, width = panels[0][1].shape
    small = np.asarray(
        Image.fromarray(image.astype(np.uint8)).resize((width, height), Image.Resampling.BILINEAR)
    )
    mappable = None
    for i in range(n):
        ax = fig.add_axes(((10 + i * (side + 10)) / W, 10 / H, side / W, side / H))
        if i == 0:
            ax.imshow(small)
            ax.set_axis_off()
            ax.set_title("input (model size)", fontsize=8)
            continue
        name, values = panels[i - 1]
        mappable = _overlay(ax, small, values, vmax)
        ax.set_title(name, fontsize=8)
    cax = fig.add_axes(
        ((n * (side + 10) + 14) / W, 10 / H + 0.1 * side / H, 12 / W, 0.8 * side / H)
    )
    bar = fig.colorbar(mappable, cax=cax)
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    fig.text(0.5, 1 - 6 / H, title, ha="center", va="top", fontsize=9)
    _save(fig, path)
