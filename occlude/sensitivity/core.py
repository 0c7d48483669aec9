"""Batched, streamed, multi-scale occlusion sensitivity for any ``predict`` callable.

The contract (see the README): for target class ``c``, every window of every patch
size is set to the fill value in pixel space; the per-scale map at a pixel is the mean,
over the windows covering it, of ``base score - occluded score``; the multi-scale map
is the mean of the per-scale maps. Positive values mark regions that support ``c``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from occlude.errors import UsageError
from occlude.fill import Fill, channel_means, gaussian_blur, parse_fill
from occlude.sensitivity.windows import coverage, default_patch_sizes, window_boxes

Predict = Callable[[np.ndarray], np.ndarray]
"""Maps a float32 batch (B, H, W, 3) of pixel-space images (0-255) to scores (B, K)."""

SENSITIVITY_FILLS = ("mean", "blur")
BLUR_SIGMA_FRACTION = 1 / 16
"""``blur`` fill: Gaussian sigma as a fraction of the image's shorter side."""


@dataclass(frozen=True)
class SensitivityResult:
    """Maps (float32, H×W at the model's input size) and what produced them."""

    class_index: int
    base_scores: np.ndarray
    patch_sizes: tuple[int, ...]
    strides: tuple[int, ...]
    scale_maps: tuple[np.ndarray, ...]
    map: np.ndarray
    windows: int

    @property
    def base_score(self) -> float:
        return float(self.base_scores[self.class_index])


def fill_pixels(image: np.ndarray, fill: Fill | str) -> np.ndarray:
    """The H×W×3 float32 array whose pixels replace an occluded window."""
    if isinstance(fill, str):
        fill = parse_fill(fill, SENSITIVITY_FILLS)
    img = np.asarray(image, dtype=np.float32)
    if fill.kind == "constant":
        colour = fill.rgb
    elif fill.kind == "mean":
        colour = channel_means(img)
    elif fill.kind == "blur":
        return gaussian_blur(img, BLUR_SIGMA_FRACTION * min(img.shape[:2]))
    else:
        raise UsageError(f"fill {fill} is not available for sensitivity maps")
    return np.broadcast_to(np.asarray(colour, dtype=np.float32), img.shape).copy()


def _resolve_scales(
    shape: tuple[int, int], patch_sizes: Sequence[int] | None, strides: Sequence[int] | None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    patches = tuple(int(p) for p in patch_sizes) if patch_sizes else default_patch_sizes(*shape)
    if strides is None or len(strides) == 0:
        steps = patches
    elif len(strides) == 1:
        steps = tuple(int(strides[0]) for _ in patches)
    elif len(strides) == len(patches):
        steps = tuple(int(s) for s in strides)
    else:
        raise UsageError(
            f"give one stride or one per patch size; received {len(strides)} strides "
            f"for {len(patches)} patch sizes"
        )
    for p, s in zip(patches, steps, strict=True):
        if p <= 0:
            raise UsageError(f"patch size must be positive; received {p}")
        if s <= 0:
            raise UsageError(f"stride must be positive; received {s}")
        if s > p:
            raise UsageError(
                f"stride {s} is larger than patch {p}: pixels between windows would never "
                "be occluded"
            )
    return patches, steps


def count_windows(
    shape: tuple[int, int],
    patch_sizes: Sequence[int] | None = None,
    strides: Sequence[int] | None = None,
) -> int:
    """Number of occluded copies a sweep will evaluate (without the base image)."""
    patches, steps = _resolve_scales(shape, patch_sizes, strides)
    return sum(len(window_boxes(*shape, p, s)) for p, s in zip(patches, steps, strict=True))


def occlusion_sensitivity(
    image: np.ndarray,
    predict: Predict,
    *,
    class_index: int | None = None,
    patch_sizes: Sequence[int] | None = None,
    strides: Sequence[int] | None = None,
    fill: Fill | str = "grey",
    batch_size: int = 32,
    on_progress: Callable[[int], None] | None = None,
) -> SensitivityResult:
    """Occlusion sensitivity of ``predict`` on ``image`` for one class, at several scales.

    Args:
        image: H×W×3 pixel-space image (0-255), already at the model's input size.
        predict: batch (B, H, W, 3) float32 -> scores (B, K); preprocessing is its job.
        class_index: target class; ``None`` takes the top-1 class of the unoccluded image.
        patch_sizes: window sides in pixels; default :func:`default_patch_sizes`.
        strides: one stride for all sizes or one per size; default each patch size.
        fill: what occluded pixels become (``grey``, ``black``, ``mean``, ``blur``, ...).
        batch_size: images per ``predict`` call; the result does not depend on it.
        on_progress: called with the number of images evaluated after each batch.

    Copies are built and evaluated ``batch_size`` at a time, so memory does not grow
    with the number of windows.
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 3 or img.shape[2] != 3:
        raise UsageError(f"image must be H×W×3; received shape {img.shape}")
    if batch_size < 1:
        raise UsageError(f"batch size must be at least 1; received {batch_size}")
    height, width = img.shape[:2]
    patches, steps = _resolve_scales((height, width), patch_sizes, strides)
    boxes = [window_boxes(height, width, p, s) for p, s in zip(patches, steps, strict=True)]
    fill_img = fill_pixels(img, fill)

    # Job 0 is the unoccluded image; then every window of every scale, in order.
    scale_of = np.concatenate([np.full(len(b), i) for i, b in enumerate(boxes)])
    all_boxes = np.concatenate(boxes)
    total = 1 + len(all_boxes)

    sums = [np.zeros((height, width), dtype=np.float64) for _ in patches]
    base_scores: np.ndarray | None = None
    target = class_index
    for start, scores in _stream_scores(img, fill_img, all_boxes, predict, batch_size):
        if base_scores is None:
            base_scores = scores[0].copy()
            target = _check_class(target, base_scores)
        assert target is not None
        for j, row in enumerate(scores):
            job = start + j
            if job == 0:
                continue
            y0, x0, y1, x1 = all_boxes[job - 1]
            sums[scale_of[job - 1]][y0:y1, x0:x1] += float(base_scores[target]) - float(row[target])
        if on_progress is not None:
            on_progress(len(scores))
    assert base_scores is not None and target is not None

    scale_maps = tuple(
        (s / coverage(height, width, b)).astype(np.float32)
        for s, b in zip(sums, boxes, strict=True)
    )
    combined = np.stack(scale_maps).astype(np.float64).mean(axis=0).astype(np.float32)
    return SensitivityResult(
        class_index=int(target),
        base_scores=base_scores,
        patch_sizes=patches,
        strides=steps,
        scale_maps=scale_maps,
        map=combined,
        windows=total - 1,
    )


def balanced_batch_size(total: int, max_batch: int) -> int:
    """The smallest batch that needs as many calls as ``max_batch`` would.

    265 windows plus the base image with ``max_batch=32`` need 9 calls either way; batches
    of 30 pad the last call with 4 dummies instead of 22.

    >>> balanced_batch_size(266, 32)
    30
    """
    if total <= 0:
        return max(1, max_batch)
    calls = -(-total // max_batch)
    return -(-total // calls)


def _check_class(class_index: int | None, base_scores: np.ndarray) -> int:
    if class_index is None:
        return int(np.argmax(base_scores))
    if not 0 <= class_index < len(base_scores):
        raise UsageError(
            f"class index {class_index} is out of range: the model has {len(base_scores)} outputs"
        )
    return int(class_index)


def _stream_scores(
    img: np.ndarray,
    fill_img: np.ndarray,
    boxes: np.ndarray,
    predict: Predict,
    batch_size: int,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first job index, scores)`` batch by batch; job 0 is the plain image."""
    total = 1 + len(boxes)
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        batch = np.empty((stop - start, *img.shape), dtype=np.float32)
        batch[:] = img
        for j in range(start, stop):
            if j == 0:
                continue
            y0, x0, y1, x1 = boxes[j - 1]
            batch[j - start, y0:y1, x0:x1] = fill_img[y0:y1, x0:x1]
        scores = np.asarray(predict(batch))
        if scores.ndim == 0 or len(scores) != len(batch):
            raise UsageError(f"predict returned shape {scores.shape} for a batch of {len(batch)}")
        scores = scores.reshape(len(batch), -1)
        yield start, scores
