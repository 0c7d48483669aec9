"""The sweep as an animation: the patch moves, the map fills in, the score falls.

Built from a finished :class:`~occlude.sensitivity.core.Sweep`: no model call.
Each frame shows the model-size image with the current window filled as it was for the
model, the per-scale map of the windows scored so far (the heatmap's diverging colours, on
the final map's symmetric scale, with its colour bar), and the target class's score at
every step so far against the unoccluded score. Drawn with Pillow; the colour table comes
from the renderer.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from occlude.errors import UsageError
from occlude.fill import Fill
from occlude.imageio import write_bytes
from occlude.sensitivity.core import Sweep, fill_pixels

MAX_FRAMES = 200
FRAME_MS = 70
LAST_FRAME_MS = 2500
WIDTH = 480
PANEL = 200
FORMATS = ("gif", "webp")
_BG = (255, 255, 255)
_INK = (40, 40, 40)
_BASE = (120, 120, 120)  # the unoccluded score's line


@dataclass
class SweepAnimation:
    """Frames of one scale's sweep: ``indices[i]`` is the window frame i shows (None for
    the closing frame, the full map), ``scores[i]`` its occluded score."""

    frames: list[Image.Image]
    indices: list[int | None]
    scores: list[float | None]
    durations: list[int]
    patch: int
    subsampled: bool

    def encode(self, fmt: str = "gif") -> bytes:
        """The animation as GIF or WebP bytes (one shared palette, only changes stored)."""
        if fmt not in FORMATS:
            raise UsageError(f"fmt must be one of {', '.join(FORMATS)}; received {fmt!r}", "fmt")
        buffer = io.BytesIO()
        if fmt == "gif":
            palette = self.frames[-1].quantize(colors=255, method=Image.Quantize.MEDIANCUT)
            frames = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in self.frames]
            frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:],
                           duration=self.durations, loop=0, optimize=False,
                           disposal=1)  # fmt: skip
        else:
            self.frames[0].save(buffer, format="WEBP", save_all=True,
                                append_images=self.frames[1:], duration=self.durations,
                                loop=0, lossless=False, quality=80, method=4)  # fmt: skip
        return buffer.getvalue()

    def save(self, path: Path, fmt: str | None = None) -> None:
        """Write the animation atomically (format from ``fmt`` or the extension)."""
        write_bytes(path, self.encode(fmt or path.suffix.lower().lstrip(".")))


def default_scale(result: Sweep, target: int = 100) -> int:
    """The scale whose window count is closest to ``target`` (the smaller patch on ties)."""
    counts = [len(b) for b in result.boxes]
    return min(range(len(counts)), key=lambda i: (abs(counts[i] - target), i))


def frame_indices(windows: int, max_frames: int = MAX_FRAMES) -> list[int]:
    """The windows shown: all of them, or ``max_frames`` evenly spaced (first and last in).

    >>> frame_indices(5, 3)
    [0, 2, 4]
    """
    if windows <= max_frames:
        return list(range(windows))
    return sorted({round(i * (windows - 1) / (max_frames - 1)) for i in range(max_frames)})


def animate_sweep(
    image: np.ndarray,
    result: Sweep,
    fill: Fill | str = "grey",
    *,
    patch: int | None = None,
    title: str = "",
    max_frames: int = MAX_FRAMES,
) -> SweepAnimation:
    """The sweep of one scale of ``result`` over ``image`` (model size, pixel space), as
    frames; ``patch`` picks the scale (default: :func:`default_scale`)."""
    if not result.boxes or not result.scores:
        raise UsageError("result has no per-window scores to animate", "result")
    if patch is None:
        scale = default_scale(result)
    elif patch in result.patch_sizes:
        scale = result.patch_sizes.index(patch)
    else:
        sizes = ", ".join(map(str, result.patch_sizes))
        raise UsageError(f"patch {patch} is not one of the sweep's patch sizes ({sizes})", "patch")
    boxes, scores = result.boxes[scale], np.asarray(result.scores[scale], dtype=np.float64)
    img = np.asarray(image, dtype=np.float32)
    filled = fill_pixels(img, fill)
    shown = frame_indices(len(boxes), max_frames)
    base = float(result.base_score)
    drops = base - scores
    vmax = float(np.max(np.abs(result.scale_maps[scale]))) or 1.0
    canvas = _Canvas(img, result.patch_sizes[scale], vmax, scores, base, title, len(shown))
    sums = np.zeros(img.shape[:2], dtype=np.float64)
    counts = np.zeros(img.shape[:2], dtype=np.int64)
    done = 0
    frames: list[Image.Image] = []
    indices: list[int | None] = []
    values: list[float | None] = []
    for index in shown:
        while done <= index:
            x0, y0, x1, y1 = boxes[done]
            sums[y0:y1, x0:x1] += drops[done]
            counts[y0:y1, x0:x1] += 1
            done += 1
        frames.append(canvas.frame(sums, counts, boxes[index], filled, index))
        indices.append(index)
        values.append(float(scores[index]))
    frames.append(canvas.frame(sums, counts, None, filled, len(boxes) - 1))
    indices.append(None)
    values.append(None)
    durations = [FRAME_MS] * (len(frames) - 1) + [LAST_FRAME_MS]
    return SweepAnimation(frames, indices, values, durations, result.patch_sizes[scale],
                          len(shown) < len(boxes))  # fmt: skip


def _font(size: int) -> Any:
    from occlude import render

    try:
        return ImageFont.truetype(render.font_file(), size)
    except (OSError, ImportError):  # Pillow without FreeType: the bitmap font
        return ImageFont.load_default()


class _Canvas:
    """Draws frames of a fixed layout, at most WIDTH px wide."""

    def __init__(
        self, image: np.ndarray, patch: int, vmax: float, scores: np.ndarray, base: float,
        title: str, shown: int,
    ) -> None:  # fmt: skip
        from occlude import render

        self.image, self.vmax, self.scores, self.base = image, vmax, scores, base
        self.compose = render.compose
        h, w = image.shape[:2]
        self.scale = PANEL / max(h, w)
        self.size = (max(1, round(w * self.scale)), max(1, round(h * self.scale)))
        self.top, self.left = 34, 8
        self.chart = (self.top + self.size[1] + 14, 96)
        self.height = self.chart[0] + self.chart[1] + 24
        self.font, self.small = _font(12), _font(10)
        n = len(scores)
        shown_note = f"{shown} of {n} windows shown, evenly spaced" if shown < n else f"{n} windows"
        self.title = title or "occlusion sweep"
        self.subtitle = f"patch {patch}: {shown_note}; the map fills in as they are scored"
        self.bar = self._colour_bar(render.colour_table())
        lows = min(float(scores.min()), base)
        highs = max(float(scores.max()), base)
        pad = 0.08 * (highs - lows) or 0.05
        self.range = (lows - pad, highs + pad)

    def _colour_bar(self, table: np.ndarray) -> Image.Image:
        rows = np.linspace(255, 0, self.size[1]).round().astype(int)
        column = table[rows].astype(np.uint8)
        return Image.fromarray(np.repeat(column[:, None, :], 10, axis=1))

    def frame(
        self, sums: np.ndarray, counts: np.ndarray, box: Sequence[int] | None,
        filled: np.ndarray, upto: int,
    ) -> Image.Image:  # fmt: skip
        out = Image.new("RGB", (WIDTH, self.height), _BG)
        draw = ImageDraw.Draw(out)
        draw.text((self.left, 4), self.title[:80], fill=_INK, font=self.font)
        draw.text((self.left, 19), self.subtitle[:90], fill=_INK, font=self.small)
        self._panels(out, draw, sums, counts, box, filled)
        self._chart(draw, upto, box is not None)
        return out

    def _panels(
        self, out: Image.Image, draw: ImageDraw.ImageDraw, sums: np.ndarray,
        counts: np.ndarray, box: Sequence[int] | None, filled: np.ndarray,
    ) -> None:  # fmt: skip
        photo = self.image.copy()
        if box is not None:
            x0, y0, x1, y1 = box
            photo[y0:y1, x0:x1] = filled[y0:y1, x0:x1]
        photo_img = Image.fromarray(np.clip(np.rint(photo), 0, 255).astype(np.uint8))
        out.paste(photo_img.resize(self.size, Image.Resampling.BILINEAR), (self.left, self.top))
        values = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
        shown = (counts > 0).astype(np.float32)
        layer = self.compose(self.image, values.astype(np.float32), self.vmax, shown)
        right = self.left + self.size[0] + 10
        out.paste(Image.fromarray(layer).resize(self.size, Image.Resampling.NEAREST),
                  (right, self.top))  # fmt: skip
        if box is not None:
            x0, y0, x1, y1 = (round(v * self.scale) for v in box)
            for left in (self.left, right):
                draw.rectangle((left + x0, self.top + y0, left + x1 - 1, self.top + y1 - 1),
                               outline=(20, 20, 20))  # fmt: skip
        bar_x = right + self.size[0] + 8
        out.paste(self.bar, (bar_x, self.top))
        for text, y in ((f"+{self.vmax:.2g}", 0), ("0", self.size[1] // 2 - 5),
                        (f"-{self.vmax:.2g}", self.size[1] - 11)):  # fmt: skip
            draw.text((bar_x + 13, self.top + y), text, fill=_INK, font=self.small)

    def _chart(self, draw: ImageDraw.ImageDraw, upto: int, current: bool) -> None:
        top, height = self.chart
        left, right = 40, WIDTH - 12
        low, high = self.range
        n = len(self.scores)

        def xy(i: float, value: float) -> tuple[float, float]:
            x = left + (right - left) * (i / max(1, n - 1))
            return x, top + height * (high - value) / (high - low)

        draw.rectangle((left, top, right, top + height), outline=(170, 170, 170))
        base_y = xy(0, self.base)[1]
        draw.line((left, base_y, right, base_y), fill=_BASE, width=1)
        # the baseline's legend sits under the chart, where the curve never goes
        label = f"unoccluded {self.base:.3g}"
        width = draw.textlength(label, font=self.small)
        caption_y = top + height + 4
        draw.text((right - width, caption_y), label, fill=(90, 90, 90), font=self.small)
        sample_y = caption_y + 7
        draw.line((right - width - 22, sample_y, right - width - 4, sample_y), fill=_BASE)
        points = [xy(i, float(self.scores[i])) for i in range(upto + 1)]
        if len(points) > 1:
            draw.line(points, fill=(178, 24, 43), width=1)
        if current and points:
            x, y = points[-1]
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=(178, 24, 43))
        draw.text((4, top - 2), f"{high:.3g}", fill=_INK, font=self.small)
        draw.text((4, top + height - 10), f"{low:.3g}", fill=_INK, font=self.small)
        draw.text((left, top + height + 4), "class score at each step of the sweep",
                  fill=_INK, font=self.small)  # fmt: skip
