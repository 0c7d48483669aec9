"""The matplotlib edge: heatmaps over images and per-scale contact sheets.

Uses matplotlib's object API with the Agg canvas (no pyplot, no global state). The
colour scale is diverging and centred on zero: red where occlusion lowers the class
score (the region supports the class), blue where it raises it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image

from occlude.imageio import resize_map, write_bytes

if TYPE_CHECKING:
    from occlude.robustness import Row
    from occlude.sensitivity.metrics import Curves

CMAP = "RdBu_r"
_MIN_SIDE = 320  # small images are shown enlarged so that the legend stays legible
MAX_SIDE = 4096
"""Larger images are drawn at this size on their longer side, to bound memory."""


def symmetric_limit(*maps: np.ndarray) -> float:
    """The colour scale's half-range: the largest absolute value (never zero)."""
    vmax = max(float(np.max(np.abs(m))) for m in maps)
    return vmax if vmax > 0 else 1.0


def font_file() -> str:
    """A TrueType font file for text drawn with Pillow (matplotlib's DejaVu Sans)."""
    from matplotlib import font_manager

    return str(font_manager.findfont("DejaVu Sans"))


@cache
def colour_table() -> np.ndarray:
    """The diverging colour map as 256 RGB rows (float32, 0-255): index 0 is -vmax."""
    from matplotlib import colormaps

    return (colormaps[CMAP](np.linspace(0.0, 1.0, 256))[:, :3] * 255.0).astype(np.float32)


def compose(
    image: np.ndarray, values: np.ndarray, vmax: float, shown: np.ndarray | None = None
) -> np.ndarray:
    """The map blended over a muted grey copy of the photo, as an H×W×3 uint8 array.

    Opacity grows with the magnitude, so regions the map calls unimportant show the photo;
    where ``shown`` is false only the muted photo appears. Everything stays uint8/float32
    (about 20 bytes a pixel at most).
    """
    lut = colour_table()
    grey = np.asarray(Image.fromarray(image.astype(np.uint8)).convert("L"), dtype=np.float32)
    norm = np.clip(values.astype(np.float32) / np.float32(vmax), -1.0, 1.0)
    index = np.rint((norm + 1.0) * 127.5).astype(np.uint8)
    alpha = (0.2 + 0.7 * np.abs(norm) ** 0.75)[..., None]
    if shown is not None:
        alpha = alpha * shown[..., None]
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


def _figure(width_px: float, height_px: float, layout: Literal["constrained"] | None = None) -> Any:
    """A figure on its own Agg canvas (no pyplot, no global state): it can be saved,
    returned to a notebook, or closed by dropping it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_px / 100.0, height_px / 100.0), dpi=100, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Any, tight: bool = True) -> bytes:
    """The figure as PNG bytes, exactly as the command line writes it. ``tight``: grown or
    trimmed to what is drawn, so that no tick label, caption or title is cut, however long
    the numbers are (a figure with a layout engine keeps its size: the engine makes the
    room)."""
    buffer = io.BytesIO()
    fit = {"bbox_inches": "tight", "pad_inches": 0.08} if tight else {}
    fig.savefig(buffer, format="png", dpi=100, **fit)
    return buffer.getvalue()


def _save(fig: Any, path: Path, tight: bool = True) -> None:
    write_bytes(path, png_bytes(fig, tight))


_SUPERSCRIPT = str.maketrans(
    "-\u22120123456789", "\u207b\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
)


@cache
def _short_formatter_class() -> type:
    from matplotlib.ticker import ScalarFormatter

    class ShortFormatter(ScalarFormatter):  # type: ignore[misc]
        """Plain-text tick labels (mathtext for every label would cost more than the rest
        of the picture), and the power of ten over them in plain text too: ×10⁻⁴."""

        def __init__(self) -> None:
            super().__init__(useMathText=False)
            self.set_powerlimits((-2, 3))

        def get_offset(self) -> str:
            plain = str(super().get_offset())  # "1e−4" (with an added offset: kept as is)
            power = re.fullmatch("1e([-\u2212]?[0-9]+)", plain)
            return "\u00d710" + power.group(1).translate(_SUPERSCRIPT) if power else plain

    return ShortFormatter


def _short_numbers(axis: Any) -> None:
    """Tick labels of at most a few digits: 0.00012 is shown as 1.2 under a ×10⁻⁴."""
    axis.set_major_formatter(_short_formatter_class()())


def _colour_bar(fig: Any, mappable: Any, cax: Any, label: str) -> None:
    bar = fig.colorbar(mappable, cax=cax)
    _short_numbers(bar.ax.yaxis)
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    offset = bar.ax.yaxis.get_offset_text()  # the x10^n of short tick labels
    offset.set(fontsize=7, x=0.5, horizontalalignment="center")  # over the bar, not the map


def display_size(width: int, height: int) -> tuple[float, float]:
    """The drawn size of an image: enlarged so its shorter side is at least 320 px (the
    legend stays legible), but never past :data:`MAX_SIDE` on its longer side, whatever
    the aspect ratio (a 1×4000 image is not drawn 320×1,280,000).

    >>> display_size(4000, 1)
    (4096.0, 1.024)
    """
    scale = max(1.0, _MIN_SIDE / min(width, height))
    scale = min(scale, MAX_SIDE / max(width, height))
    return width * scale, height * scale


def heatmap_png(path: Path, image: np.ndarray, values: np.ndarray, title: str, label: str) -> None:
    """Write :func:`heatmap_figure` to ``path`` as PNG."""
    _save(heatmap_figure(image, values, title, label), path)


def heatmap_figure(image: np.ndarray, values: np.ndarray, title: str, label: str) -> Any:
    """``values`` (any resolution) over ``image`` (original resolution) with a legend.

    Memory is bounded whatever the image's shape: the picture is at most MAX_SIDE px on
    its longer side and the figure at most about MAX_SIDE + 130 px wide.
    """
    height, width = image.shape[:2]
    if max(height, width) > MAX_SIDE:
        shrink = MAX_SIDE / max(height, width)
        size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
        image = np.asarray(
            Image.fromarray(image.astype(np.uint8)).resize(size, Image.Resampling.BOX)
        )
        height, width = image.shape[:2]
    full = resize_map(values, (width, height))
    w, h = display_size(width, height)
    pad_right, pad_top, pad_bottom, pad_left = 120.0, 46.0, 8.0, 8.0
    W = w + pad_left + pad_right
    H = max(h + pad_top + pad_bottom, 200.0)  # room for the colour bar of a flat image
    fig = _figure(W, H)
    ax = fig.add_axes((pad_left / W, pad_bottom / H, w / W, h / H))
    vmax = symmetric_limit(full)
    mappable = _overlay(ax, image, full, vmax)
    bar_h = H - pad_top - pad_bottom
    cax = fig.add_axes(((pad_left + w + 14) / W, pad_bottom / H + 0.1 * bar_h / H, 14 / W,
                        0.8 * bar_h / H))  # fmt: skip
    _colour_bar(fig, mappable, cax, label)
    fig.text(0.5, 1 - 8 / H, title, ha="center", va="top", fontsize=9, wrap=True)
    return fig


def contact_sheet_png(
    path: Path,
    image: np.ndarray,
    panels: Sequence[tuple[str, np.ndarray]],
    title: str,
    label: str,
    curves: Curves | None = None,
) -> None:
    """Write :func:`contact_sheet_figure` to ``path`` as PNG."""
    _save(contact_sheet_figure(image, panels, title, label, curves), path)


def contact_sheet_figure(
    image: np.ndarray,
    panels: Sequence[tuple[str, np.ndarray]],
    title: str,
    label: str,
    curves: Curves | None = None,
) -> Any:
    """Image plus one panel per map (all on one shared, zero-centred colour scale).

    With ``curves``, a last panel plots the deletion and insertion curves.
    """
    side = 220.0
    n = len(panels) + 1
    extra = 0.0 if curves is None else side + 90
    W, H = n * (side + 10) + 110 + extra, side + 70
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
    _colour_bar(fig, mappable, cax, label)
    fig.text(0.5, 1 - 6 / H, title, ha="center", va="top", fontsize=9)
    if curves is not None:
        left = n * (side + 10) + 110 + 40
        ax = fig.add_axes((left / W, 44 / H, side / W, (side - 34) / H))
        _plot_curves(ax, curves)
    return fig


def _plot_curves(ax: Any, curves: Curves) -> None:
    x = curves.fractions
    s = curves.summary()
    ax.plot(x, curves.deletion, color="#b2182b", label=f"deletion {s['deletion_auc']:.3f}")
    ax.plot(
        x, curves.deletion_random, color="#b2182b", ls="--",
        label=f"  random {s['deletion_auc_random']:.3f}",
    )  # fmt: skip
    ax.plot(x, curves.insertion, color="#2166ac", label=f"insertion {s['insertion_auc']:.3f}")
    ax.plot(
        x, curves.insertion_random, color="#2166ac", ls="--",
        label=f"  random {s['insertion_auc_random']:.3f}",
    )  # fmt: skip
    ax.set_xlabel("fraction of pixels deleted / inserted", fontsize=7)
    ax.set_ylabel("class score", fontsize=7)
    ax.set_title("faithfulness (AUC)", fontsize=8)
    ax.tick_params(labelsize=6)
    ax.set_xlim(0, 1)
    ax.legend(fontsize=6, loc="best", frameon=False)


_STYLES = (
    ("#b2182b", "o", "-"),
    ("#2166ac", "s", "--"),
    ("#1b7837", "^", "-."),
    ("#762a83", "D", ":"),
    ("#e08214", "v", "-"),
)


def robustness_png(rows: Sequence[Row], title: str) -> bytes:
    """The PNG of accuracy (with its 95 % band over images) and mean true-class score
    against the occluded fraction: one colour, marker and line style per method, each nudged
    sideways a little so that curves that coincide stay visible."""
    fig = _figure(720, 640, layout="constrained")  # room for every label, however long
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    methods = list(dict.fromkeys(r.method for r in rows))
    fractions = sorted({r.fraction for r in rows})
    span = (max(fractions) - min(fractions)) or 1.0
    for i, method in enumerate(methods):
        colour, marker, style = _STYLES[i % len(_STYLES)]
        mine = sorted((r for r in rows if r.method == method), key=lambda r: r.fraction)
        dx = (i - (len(methods) - 1) / 2) * 0.008 * span
        x = np.array([r.fraction for r in mine]) + dx
        low = np.array([r.accuracy_low_images for r in mine], dtype=float)
        high = np.array([r.accuracy_high_images for r in mine], dtype=float)
        if np.isfinite(low).any():
            top.fill_between(x, low, high, color=colour, alpha=0.08, linewidth=0)
            for edge in (low, high):
                top.plot(x, edge, ls=style, color=colour, linewidth=0.7, alpha=0.5)
        top.plot(x, [r.accuracy for r in mine], marker=marker, ls=style, color=colour,
                 label=method, markersize=5)  # fmt: skip
        bottom.plot(x, [r.mean_true_score for r in mine], marker=marker, ls=style,
                    color=colour, markersize=4)  # fmt: skip
    top.set_ylabel("top-1 accuracy")
    top.set_ylim(-0.02, 1.02)
    top.grid(alpha=0.3)
    top.tick_params(labelbottom=False)
    banded = any(np.isfinite(r.accuracy_low_images) for r in rows)
    from occlude.robustness.stats import MIN_IMAGES

    caption = ("band: 95% interval\nover images" if banded
               else f"no band: an interval\nneeds {MIN_IMAGES} images")  # fmt: skip
    top.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=9,
               title=caption, title_fontsize=8)  # fmt: skip
    top.set_title(title, fontsize=9)
    bottom.set_xlabel("occluded fraction of the image")
    bottom.set_ylabel("mean true-class score")
    _short_numbers(bottom.yaxis)
    bottom.grid(alpha=0.3)
    return png_bytes(fig, tight=False)
