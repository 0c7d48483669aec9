"""Batched, streamed, multi-scale occlusion sensitivity for any ``predict`` callable.

The contract (see the README): for target class ``c``, every window of every patch
size is set to the fill value in pixel space; the per-scale map at a pixel is the mean,
over the windows covering it, of ``base score - occluded score``; the multi-scale map
is the mean of the per-scale maps. Positive values mark regions that support ``c``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from occlude.errors import ScoreError, UsageError
from occlude.fill import Fill, channel_means, gaussian_blur, parse_fill
from occlude.scoring import Predict, balanced_batch_size, score_batch
from occlude.sensitivity.windows import coverage, default_patch_sizes, window_boxes

SENSITIVITY_FILLS = ("mean", "blur")
BLUR_SIGMA_FRACTION = 1 / 16
"""``blur`` fill: Gaussian sigma as a fraction of the image's shorter side."""


@dataclass(frozen=True)
class SensitivityResult:
    """Maps (float32, H×W at the model's input size) and what produced them.

    ``boxes[i]`` are scale i's windows (``[y0, x0, y1, x1]``, in sweep order) and
    ``scores[i]`` the target class's score with each of them occluded.
    """

    class_index: int
    base_scores: np.ndarray
    patch_sizes: tuple[int, ...]
    strides: tuple[int, ...]
    scale_maps: tuple[np.ndarray, ...]
    map: np.ndarray
    windows: int
    boxes: tuple[np.ndarray, ...] = ()
    scores: tuple[np.ndarray, ...] = ()

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
        raise UsageError(f"fill {fill} is not available for sensitivity maps", "fill")
    return np.broadcast_to(np.asarray(colour, dtype=np.float32), img.shape).copy()


def check_scales(
    patch_sizes: Sequence[int] | None, strides: Sequence[int] | None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Validate patch sizes and strides without an image size: ``(patches, strides)``,
    either possibly empty (the default sweep, strides equal to the patches).

    >>> check_scales([20, 40], [10])
    ((20, 40), (10, 10))
    """
    patches = tuple(int(p) for p in patch_sizes or ())
    steps = tuple(int(s) for s in strides or ())
    for p in patches:
        if p <= 0:
            raise UsageError(f"patch_sizes must be positive; received {p}", "patch_sizes")
    for st in steps:
        if st <= 0:
            raise UsageError(f"strides must be positive; received {st}", "strides")
    if patches and len(steps) > 1 and len(steps) != len(patches):
        raise UsageError(
            f"strides: give one or one per patch size; received {len(steps)} for "
            f"{len(patches)} patch sizes",
            "strides",
        )
    if patches and len(steps) == 1:
        steps = steps * len(patches)
    scales = list(zip(patches, steps or patches, strict=True)) if patches else []
    for i, (p, st) in enumerate(scales):
        if (p, st) in scales[:i]:  # the same windows twice: a typo, and a doubled weight
            raise UsageError(f"patch_sizes lists {p} twice with strides {st}",
                             ("patch_sizes", "strides"))  # fmt: skip
    for p, st in zip(patches, steps, strict=False):
        if st > p:
            raise UsageError(
                f"strides {st} is larger than patch_sizes {p}: pixels between windows would "
                "never be occluded",
                ("strides", "patch_sizes"),
            )
    return patches, steps


def _resolve_scales(
    shape: tuple[int, int], patch_sizes: Sequence[int] | None, strides: Sequence[int] | None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    patches, steps = check_scales(patch_sizes, strides)
    if not patches:
        patches = default_patch_sizes(*shape)
        steps = check_scales(patches, steps)[1]
    return patches, steps or patches


def scale_windows(
    shape: tuple[int, int],
    patch_sizes: Sequence[int] | None = None,
    strides: Sequence[int] | None = None,
) -> dict[int, int]:
    """Occluded copies a sweep evaluates at each scale: ``{patch size: windows}``."""
    patches, steps = _resolve_scales(shape, patch_sizes, strides)
    return {p: len(window_boxes(*shape, p, s)) for p, s in zip(patches, steps, strict=True)}


def count_windows(
    shape: tuple[int, int],
    patch_sizes: Sequence[int] | None = None,
    strides: Sequence[int] | None = None,
) -> int:
    """Number of occluded copies a sweep will evaluate (without the base image)."""
    return sum(scale_windows(shape, patch_sizes, strides).values())


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
    scorer: WindowScorer | None = None,
    incremental: Collection[int] | bool = (),
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
        scorer: scores windows incrementally (:class:`occlude.model.windows.WindowScorer`,
            e.g. ``clf.window_scorer(32)``) for the patch sizes listed in ``incremental``
            (``True``: all of them); the other scales use ``predict``, and so do all of
            them when the scorer ``runs_whole`` (a model that does not compute in
            float32, or that the engine cannot walk).

    Copies are built and evaluated ``batch_size`` at a time, so memory does not grow
    with the number of windows.
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 3 or img.shape[2] != 3:
        raise UsageError(f"image must be H×W×3; received shape {img.shape}", "image")
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1; received {batch_size}", "batch_size")
    height, width = img.shape[:2]
    patches, steps = _resolve_scales((height, width), patch_sizes, strides)
    boxes = [window_boxes(height, width, p, s) for p, s in zip(patches, steps, strict=True)]
    fill_img = fill_pixels(img, fill)
    if incremental is True:
        incremental = patches
    elif incremental is False:
        incremental = ()
    if scorer is not None and getattr(scorer, "runs_whole", False):
        incremental = ()  # the engine would run whole copies: predict's are the same
    if scorer is not None and set(incremental) & set(patches):
        base_scores, target, per_scale = _score_by_scale(
            img, fill_img, patches, boxes, predict, batch_size, class_index, on_progress,
            scorer, set(incremental),
        )  # fmt: skip
        return assemble(base_scores, target, patches, steps, boxes, per_scale, (height, width))
    all_boxes = np.concatenate(boxes)
    base_scores, target, occluded = _score_windows(
        img, fill_img, all_boxes, predict, batch_size, class_index, on_progress
    )
    per_scale = np.split(occluded, np.cumsum([len(b) for b in boxes])[:-1])
    return assemble(base_scores, target, patches, steps, boxes, per_scale, (height, width))


class WindowScorer(Protocol):
    """Scores occluded windows without building whole copies (the incremental engine).

    A scorer whose ``runs_whole`` attribute is true is not used: ``predict`` scores the
    copies (the model is one the engine would run whole, or not exactly).
    """

    def session(self, image: np.ndarray) -> Any: ...


def _score_by_scale(
    img: np.ndarray,
    fill_img: np.ndarray,
    patches: Sequence[int],
    boxes: Sequence[np.ndarray],
    predict: Predict,
    batch_size: int,
    class_index: int | None,
    on_progress: Callable[[int], None] | None,
    scorer: WindowScorer,
    incremental: set[int],
) -> tuple[np.ndarray, int, list[np.ndarray]]:
    """The windows of each scale, from the scorer's session (the scales in
    ``incremental``) or from whole copies through ``predict`` (the others)."""
    session = scorer.session(img)
    base_scores = np.asarray(session.base_scores, dtype=np.float32)
    if not np.isfinite(base_scores).all():
        raise ScoreError("the model returned NaN or infinite scores for the image")
    target = _check_class(class_index, base_scores)
    if on_progress is not None:
        on_progress(1)
    per_scale = [np.empty(len(b), dtype=np.float64) for b in boxes]
    for patch, scale_boxes, scores in zip(patches, boxes, per_scale, strict=True):
        if patch not in incremental:
            continue
        # tiles in evened-out chunks, so the engine compiles one batch size per scale
        step = balanced_batch_size(len(scale_boxes), batch_size)
        for start in range(0, len(scale_boxes), step):
            chunk = scale_boxes[start : start + step]
            out = session.score(fill_img, chunk)
            if not np.isfinite(out).all():
                raise ScoreError("the model returned NaN or infinite scores for a copy")
            scores[start : start + len(chunk)] = out[:, target]
            if on_progress is not None:
                on_progress(len(chunk))
    # whole copies of the other scales together, in evened-out batches
    rest = [i for i, p in enumerate(patches) if p not in incremental]
    if rest:
        whole = np.concatenate([boxes[i] for i in rest])
        scores = np.empty(len(whole), dtype=np.float64)
        step = balanced_batch_size(len(whole), batch_size)
        for start in range(0, len(whole), step):
            chunk = whole[start : start + step]
            scores[start : start + len(chunk)] = score_batch(
                predict, _copies(img, fill_img, chunk)
            )[:, target]
            if on_progress is not None:
                on_progress(len(chunk))
        parts = np.split(scores, np.cumsum([len(boxes[i]) for i in rest])[:-1])
        for i, part in zip(rest, parts, strict=True):
            per_scale[i] = part
    return base_scores, target, per_scale


def _copies(img: np.ndarray, fill_img: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    batch = np.empty((len(boxes), *img.shape), dtype=np.float32)
    batch[:] = img
    for j, (y0, x0, y1, x1) in enumerate(boxes):
        batch[j, y0:y1, x0:x1] = fill_img[y0:y1, x0:x1]
    return batch


def assemble(
    base_scores: np.ndarray,
    target: int,
    patches: Sequence[int],
    strides: Sequence[int],
    boxes: Sequence[np.ndarray],
    scores: Sequence[np.ndarray],
    shape: tuple[int, int],
) -> SensitivityResult:
    """The maps from each window's occluded score: per scale, the mean over the windows
    covering a pixel of (base score - occluded score); then the mean of the scales."""
    base = float(base_scores[target])
    scale_maps = []
    for b, sc in zip(boxes, scores, strict=True):
        sums = np.zeros(shape, dtype=np.float64)
        for (y0, x0, y1, x1), score in zip(b, sc, strict=True):
            sums[y0:y1, x0:x1] += base - float(score)
        scale_maps.append((sums / coverage(*shape, b)).astype(np.float32))
    combined = np.stack(scale_maps).astype(np.float64).mean(axis=0).astype(np.float32)
    return SensitivityResult(
        class_index=int(target),
        base_scores=base_scores,
        patch_sizes=tuple(int(p) for p in patches),
        strides=tuple(int(s) for s in strides),
        scale_maps=tuple(scale_maps),
        map=combined,
        windows=sum(len(b) for b in boxes),
        boxes=tuple(boxes),
        scores=tuple(np.asarray(sc, dtype=np.float64) for sc in scores),
    )


def _score_windows(
    img: np.ndarray,
    fill_img: np.ndarray,
    boxes: np.ndarray,
    predict: Predict,
    batch_size: int,
    class_index: int | None,
    on_progress: Callable[[int], None] | None,
) -> tuple[np.ndarray, int, np.ndarray]:
    """``(base scores, target class, target score of each occluded copy)``.

    Job 0 is the unoccluded image, then one job per window; copies are built and scored
    ``batch_size`` at a time, so memory does not grow with the number of windows.
    """
    occluded = np.empty(len(boxes), dtype=np.float64)
    base_scores: np.ndarray | None = None
    target = -1
    for start, scores in _stream_scores(img, fill_img, boxes, predict, batch_size):
        if base_scores is None:
            base_scores = scores[0].copy()
            target = _check_class(class_index, base_scores)
        first = max(start, 1)
        occluded[first - 1 : start + len(scores) - 1] = scores[first - start :, target]
        if on_progress is not None:
            on_progress(len(scores))
    if base_scores is None:
        raise UsageError("nothing to score", "image")
    return base_scores, target, occluded


def _check_class(class_index: int | None, base_scores: np.ndarray) -> int:
    if class_index is None:
        return int(np.argmax(base_scores))
    if not 0 <= class_index < len(base_scores):
        raise UsageError(
            f"class_index {class_index} is out of range: the model has {len(base_scores)} outputs",
            "class_index",
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
        yield start, score_batch(predict, batch)
