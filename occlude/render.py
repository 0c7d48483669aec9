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


def _backdrop(image: np.ndarray) -> np.ndarray:
    """The photo in muted grey, so that the colours on top stay readable."""
    grey = np.asarray(Image.fromarray(image.astype(np.uint8)).convert("L"), dtype=np.float32)
    return np.repeat((60.0 + 0.6 * grey)[..., None] / 255.0, 3, axis=2)


def _overlay(ax: Any, image: np.ndarray, values: np.ndarray, vmax: float) -> Any:
    from matplotlib import colormaps

    ax.imshow(_backdrop(image), interpolation="bilinear")
    norm = np.clip(values / vmax, -1.0, 1.0)
    rgba = colormaps[CMAP]((norm + 1.0) / 2.0)
    rgba[..., 3] = 0.2 + 0.7 * np.abs(norm) ** 0.75
    ax.imshow(rgba, interpolation="bilinear")
    ax.set_axis_off()
    return ax.imshow(values, cmap=CMAP, vmin=-vmax, vmax=vmax, alpha=0.0)


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
    bar.solids.set_alpha(1.0)
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
    bar.solids.set_alpha(1.0)
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    fig.text(0.5, 1 - 6 / H, title, ha="center", va="top", fontsize=9)
    _save(fig, path)
