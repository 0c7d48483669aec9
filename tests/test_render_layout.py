"""Pictures keep every label whole, however small the numbers they show."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from occlude import render
from occlude.robustness.core import Row
from occlude.sensitivity.outputs import MAP_LABEL


def rows(scale: float) -> list[Row]:
    return [
        Row(method, f, 0.3 - 0.3 * f * k, scale * (4 - 5 * f * k), 20, 4, 0.1, 0.5, 0.05, 0.6)
        for method, k in (("cutout", 1.0), ("hide-and-seek", 0.6))
        for f in (0.0, 0.25, 0.5)
    ]


def margins(png: Path, width: int = 3) -> int:
    """The darkest pixel in the outer ``width`` pixels: 255 when nothing touches an edge."""
    a = np.asarray(Image.open(png).convert("L"))
    edges = (a[:width], a[-width:], a[:, :width], a[:, -width:])
    return int(min(e.min() for e in edges))


@pytest.mark.parametrize("scale", [3e-5, 3e-4, 0.05])
def test_the_robustness_plot_keeps_its_labels_inside(tmp_path, monkeypatch, scale) -> None:
    figures: list[Any] = []
    encode = render.png_bytes
    monkeypatch.setattr(
        render, "png_bytes", lambda fig, *a, **k: (figures.append(fig), encode(fig, *a, **k))[1]
    )
    png = render.robustness_png(rows(scale), "model: top-1 accuracy under occlusion")
    (tmp_path / "r.png").write_bytes(png)
    (fig,) = figures
    renderer = fig.canvas.get_renderer()
    assert fig.axes[1].get_ylabel() == "mean true-class score"
    for ax in fig.axes:  # what each panel draws: ticks, labels, title, legend
        drawn = ax.get_tightbbox(renderer)
        assert drawn.x0 >= -0.5 and drawn.y0 >= -0.5, (ax.get_ylabel(), drawn)
        assert drawn.x1 <= fig.bbox.x1 + 0.5 and drawn.y1 <= fig.bbox.y1 + 0.5, drawn
    ticks = [re.sub(r"[^0-9.]", "", t.get_text()) for t in fig.axes[1].get_yticklabels()]
    assert all(len(t) <= 6 for t in ticks), ticks  # 1.2 under a x1e-4, not 0.00012
    assert margins(tmp_path / "r.png") == 255


@pytest.mark.parametrize("scale", [3e-6, 3e-5, 0.2])
def test_the_sheet_and_heatmap_keep_their_colour_bar_caption(tmp_path, scale) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    maps = [(f"patch {p}", (rng.normal(size=(64, 64)) * scale).astype(np.float32))
            for p in (8, 16, 32)]  # fmt: skip
    render.contact_sheet_png(tmp_path / "s.png", image, maps, "a.png: class", MAP_LABEL)
    render.heatmap_png(tmp_path / "h.png", image, maps[0][1], "a.png: class", MAP_LABEL)
    for png in ("s.png", "h.png"):
        assert margins(tmp_path / png) == 255, png  # nothing runs off an edge
