"""Checks of the saliency-guided layers against a deliberately naive numpy reference
(float64 loops over boxes and cells), on whichever Keras backend is running."""

from __future__ import annotations

import math

import numpy as np

from backends.checks import bounding_boxes, changed, distinct_images, run
from occlude.layers import AttentiveCutMix, KeepCutout, SaliencyMix


def importance(saliency: np.ndarray, region: np.ndarray) -> float:
    """Sum of the positive part inside ``region`` over the whole map's (0 if that is 0)."""
    positive = np.maximum(saliency.astype(np.float64), 0.0)
    total = positive.sum()
    return float(positive[region].sum() / total) if total > 0 else 0.0


def centre_importances(saliency: np.ndarray, side: int) -> np.ndarray:
    """(H, W): the importance of the clipped side x side square centred on each pixel."""
    h, w = saliency.shape
    out = np.zeros((h, w))
    for cy in range(h):
        for cx in range(w):
            region = np.zeros((h, w), bool)
            y0, x0 = cy - side // 2, cx - side // 2
            region[max(y0, 0) : max(y0 + side, 0), max(x0, 0) : max(x0 + side, 0)] = True
            out[cy, cx] = importance(saliency, region)
    return out


def top_cells(saliency: np.ndarray, grid: int, k: int) -> np.ndarray:
    """(H, W) bool: the union of the k most important cells (ties to the lower index)."""
    h, w = saliency.shape
    rows = [i * h // grid for i in range(grid + 1)]
    cols = [j * w // grid for j in range(grid + 1)]
    cells = []
    for i in range(grid):
        for j in range(grid):
            region = np.zeros((h, w), bool)
            region[rows[i] : rows[i + 1], cols[j] : cols[j + 1]] = True
            cells.append((-importance(saliency, region), i * grid + j, region))
    cells.sort(key=lambda c: (c[0], c[1]))
    return np.any([c[2] for c in cells[:k]], axis=0)


def snapmix_weight(source: np.ndarray, partner: np.ndarray, pasted: np.ndarray) -> float:
    a = importance(source, ~pasted)
    b = importance(partner, pasted)
    return b / (a + b) if a + b > 0 else pasted.mean()


def check_attentive_cutmix_cells_and_labels() -> None:
    """The pasted region is exactly the partner's top_k cells (cell sides 3 or 4 px: 14 is
    not a multiple of 4), and labels are the exact area share or the SnapMix weights."""
    n, side, grid, k = 40, 14, 4, 5
    rng = np.random.default_rng(20)
    images = distinct_images(n, side, 3)
    maps = rng.normal(size=(n, side, side)).astype("float32")
    maps[0] = 0.0  # a partner with no positive evidence: cells 0..k-1 (all tie)
    labels = np.eye(n, dtype="float32")
    data = {"images": images, "labels": labels, "saliency": maps}
    for label_by in ("area", "saliency"):
        out = run(AttentiveCutMix(grid=grid, top_k=k, label_by=label_by, seed=21), data)
        for i in range(n):
            pasted = out["images"][i, ..., 0] != i + 1
            j = int(out["images"][i][pasted][0, 0]) - 1
            assert np.array_equal(pasted, top_cells(maps[j], grid, k))
            assert np.array_equal(out["saliency"][i], np.where(pasted, maps[j], maps[i]))
            expected = (
                pasted.mean() if label_by == "area" else snapmix_weight(maps[i], maps[j], pasted)
            )
            assert math.isclose(out["labels"][i, j], expected, rel_tol=1e-5, abs_tol=1e-6)
            assert math.isclose(out["labels"][i, i], 1 - expected, rel_tol=1e-5, abs_tol=1e-6)


def check_saliency_mix_box_on_partner_peak() -> None:
    """The box holds the partner's peak (the first maximum in raster order), is square
    where unclipped on a square image, and labels follow area or saliency."""
    n, side = 200, 16
    rng = np.random.default_rng(22)
    images = distinct_images(n, side, 3)
    maps = rng.uniform(-1, 1, (n, side, side)).astype("float32")
    maps[:, 5, 9] = 2.0  # ties: the first in raster order, (x 9, y 5), is the peak ...
    maps[:, 11, 2] = 2.0  # ... not this one
    labels = np.eye(n, dtype="float32")
    data = {"images": images, "labels": labels, "saliency": maps}
    for label_by in ("area", "saliency"):
        out = run(SaliencyMix(label_by=label_by, seed=23), data)
        for i in range(n):
            pasted = out["images"][i, ..., 0] != i + 1
            if not pasted.any():
                continue  # lam so close to 1 that the box rounds to nothing
            j = int(out["images"][i][pasted][0, 0]) - 1
            x0, y0, x1, y1 = bounding_boxes(pasted[None])[0] or (0, 0, 0, 0)
            assert pasted.sum() == (x1 - x0) * (y1 - y0) and pasted[5, 9]
            if x0 > 0 and x1 < side and y0 > 0 and y1 < side:
                assert x1 - x0 == y1 - y0
            expected = (
                pasted.mean() if label_by == "area" else snapmix_weight(maps[i], maps[j], pasted)
            )
            assert math.isclose(out["labels"][i, j], expected, rel_tol=1e-5, abs_tol=1e-6)


def check_keep_cutout_avoids_important_boxes() -> None:
    """A kept square's importance is at most the keep_quantile quantile of all centres'
    (numpy.quantile, linear) whenever one of the draws qualifies.

    With max_tries 40 and quantile 0.5 a draw qualifies except with P < 0.5^40: every
    square must. With max_tries 3 and quantile 0.2 (p = 0.2 of the centres qualify, ties
    aside) a square qualifies with P = 1 - 0.8^3 = 0.488; N = 1200 gives SE = 0.014 and
    the tolerance 0.065 is 4.5 SE. Maps with no positive part: every square qualifies.
    """
    n, side, size = 1200, 12, 4
    rng = np.random.default_rng(24)
    flat = np.full((n, side, side, 1), 100.0, "float32")
    maps = rng.uniform(0, 1, (n, side, side)).astype("float32")
    maps[:, :6, :6] += 3.0  # an important corner
    maps[:50] = -1.0  # no positive evidence

    def kept(layer: KeepCutout, q: float, count: int) -> np.ndarray:
        out = run(layer, {"images": flat[:count], "saliency": maps[:count]})["images"]
        ok = []
        for i in range(count):
            region = out[i, ..., 0] != 100.0
            scores = centre_importances(maps[i], size)
            threshold = np.quantile(scores, q)
            ok.append(importance(maps[i], region) <= threshold + 1e-6)
        return np.asarray(ok)

    assert kept(KeepCutout(size=size, max_tries=40, fill="white", seed=25), 0.5, 150).all()
    rate = kept(
        KeepCutout(size=size, keep_quantile=0.2, max_tries=3, fill="white", seed=26), 0.2, n
    )
    assert rate[:50].all()
    assert abs(rate[50:].mean() - (1 - 0.8**3)) < 0.065, rate[50:].mean()


def check_guided_applied_rate() -> None:
    """``prob`` for the guided layers, as for the others (N = 4000: tolerance 4.4 SE)."""
    n = 4000
    images = distinct_images(n, 8)
    maps = np.random.default_rng(27).uniform(size=(n, 8, 8)).astype("float32")
    for layer in (
        KeepCutout(size=2, fill="white", prob=0.5, seed=1),
        SaliencyMix(alpha=1.0, prob=0.5, seed=2),
        AttentiveCutMix(grid=2, top_k=1, prob=0.5, seed=3),
    ):
        out = run(layer, {"images": images, "saliency": maps})["images"]
        rate = changed(images, out).mean()
        # SaliencyMix on 8 x 8 rounds a box to nothing when 1 - lam < 1/256 (P = 0.004).
        assert abs(rate - 0.5) < 0.035, (type(layer).__name__, rate)


GUIDED_CHECKS = [
    check_attentive_cutmix_cells_and_labels,
    check_saliency_mix_box_on_partner_peak,
    check_keep_cutout_avoids_important_boxes,
    check_guided_applied_rate,
]
