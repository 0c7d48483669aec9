"""Batched, streamed, multi-scale occlusion sensitivity for any ``predict`` callable.

The contract (docs/contract.md): for target class ``c``, every window of every patch
size is set to the fill value in pixel space; the per-scale map at a pixel is the mean,
over the windows covering it, of ``base score - occluded score``; the multi-scale map
is the mean of the per-scale maps. Positive values mark regions that support ``c``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from occlude.draws import NUMPY
from occlude.errors import ScoreError, UsageError
from occlude.fill import Fill, colour, gaussian_blur, parse_fill
from occlude.scoring import Predict, balanced_batch_size, score_batch
from occlude.sensitivity.windows import coverage, resolve_scales, scale_windows, window_boxes

SENSITIVITY_FILLS = ("mean", "blur")
BLUR_SIGMA_FRACTION = 1 / 16
"""``blur`` fill: Gaussian sigma as a fraction of the image's shorter side."""


@dataclass(frozen=True)
class Sweep:
    """One image's maps for one class (float32, H×W at the model's input size) and what
    produced them: what :func:`occlusion_sensitivity` returns.

    ``boxes[i]`` are scale i's windows (rows ``[x0, y0, x1, y1]``, in sweep order) and
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
    """The H×W×3 float32 array whose pixels replace an occluded window: a colour (a constant,
    or the image's channel means) resolved by :func:`occlude.fill.colour`, or the blur."""
    if isinstance(fill, str):
        fill = parse_fill(fill, SENSITIVITY_FILLS)
    img = np.asarray(image, dtype=np.float32)
    if fill.kind == "blur":
        return gaussian_blur(img, BLUR_SIGMA_FRACTION * min(img.shape[:2]))
    if fill.kind not in ("constant", "mean"):
        raise UsageError(f"fill {fill} is not available for sensitivity maps", "fill")
    found = colour(NUMPY, fill, img[None].astype(np.float64), (0.0, 255.0))
    return np.broadcast_to(found[0].astype(np.float32), img.shape).copy()


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
) -> Sweep:
    """Occlusion sensitivity of ``predict`` on ``image`` for one class, at several scales.

    The low-level function for one image already in model space (the object behind
    :class:`occlude.OcclusionSensitivity` resizes, batches many images and decides the
    engine for you).

    Args:
        image: H×W×3 pixel-space image (0-255), already at the model's input size.
        predict: batch (B, H, W, 3) float32 -> scores (B, K); preprocessing is its job.
        class_index: target class; ``None`` takes the top-1 class of the unoccluded image.
        patch_sizes: window sides in pixels; default :func:`default_patch_sizes`.
        strides: one stride for all sizes or one per size; default each patch size.
        fill: what occluded pixels become (``grey``, ``black``, ``mean``, ``blur``, ...).
        batch_size: images per ``predict`` call; the result does not depend on it.
        on_progress: called with the number of images evaluated after each batch.
        scorer: scores windows incrementally (a :class:`WindowScorer`, e.g.
            :class:`occlude.model.incremental_scorer.IncrementalScorer` from
            ``clf.window_scorer(32)``) for the patch sizes listed in ``incremental``
            (``True``: all of them); the other scales use ``predict``, and so do all of
            them when the scorer ``runs_whole`` (a model that does not compute in
            float32, or that the engine cannot walk).

    Copies are built and evaluated ``batch_size`` at a time, so memory does not grow
    with the number of windows.
    """
    img = _check_image(image)
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1; received {batch_size}", "batch_size")
    patches, _ = resolve_scales(img.shape[:2], patch_sizes, strides)
    chosen = set(patches) if incremental is True else set(incremental or ())
    if scorer is not None and getattr(scorer, "runs_whole", False):
        chosen = set()  # the engine would run whole copies: predict's are the same
    chunk = batch_size
    if scorer is not None and chosen & set(patches):  # whole copies in evened-out batches
        windows = scale_windows(img.shape[:2], patch_sizes, strides)
        chunk = balanced_batch_size(sum(n for p, n in windows.items() if p not in chosen),
                                    batch_size)  # fmt: skip
    targets = [None if class_index is None else [class_index]]
    ((result,),) = sweep_images(
        [img], predict, targets=targets, patch_sizes=patch_sizes, strides=strides, fill=fill,
        batch_size=chunk, tile_batch=batch_size, on_progress=on_progress, scorer=scorer,
        incremental=chosen,
    )  # fmt: skip
    return result


class WindowScorer(Protocol):
    """Scores occluded windows without building whole copies (the incremental engine).

    A scorer whose ``runs_whole`` attribute is true is not used: ``predict`` scores the
    copies (the model is one the engine would run whole, or not exactly).
    """

    def session(self, image: np.ndarray) -> Any: ...


def sweep_images(
    images: Sequence[np.ndarray],
    predict: Predict,
    *,
    targets: Sequence[Sequence[int] | None],
    top_k: int = 1,
    patch_sizes: Sequence[int] | None = None,
    strides: Sequence[int] | None = None,
    fill: Fill | str = "grey",
    batch_size: int = 32,
    tile_batch: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    scorer: WindowScorer | None = None,
    incremental: Collection[int] = (),
) -> list[list[Sweep]]:
    """Sweeps of several same-size images, one per image and target class.

    ``targets[i]`` lists image i's classes (None: its ``top_k`` highest-scoring ones).
    Whole copies of every image are streamed together, exactly ``batch_size`` per
    ``predict`` call (image after image, each image's plain copy first unless a scale
    runs on ``scorer``), so small sweeps over many images fill every batch; every class
    comes from the same calls. The scales in ``incremental`` run on ``scorer``'s session
    of each image, in evened-out chunks of at most ``tile_batch`` (default ``batch_size``).
    """
    imgs = [_check_image(im) for im in images]
    if not imgs:
        return []
    if len({im.shape for im in imgs}) > 1:
        raise UsageError("images must all have one size", "images")
    if len(targets) != len(imgs):
        raise UsageError(f"give one target per image; received {len(targets)} for "
                         f"{len(imgs)} images", "targets")  # fmt: skip
    for size, name in (
        (batch_size, "batch_size"),
        (tile_batch or 1, "tile_batch"),
        (top_k, "top_k"),
    ):
        if size < 1:
            raise UsageError(f"{name} must be at least 1; received {size}", name)
    shape = (imgs[0].shape[0], imgs[0].shape[1])
    patches, steps = resolve_scales(shape, patch_sizes, strides)
    boxes = [window_boxes(*shape, p, s) for p, s in zip(patches, steps, strict=True)]
    state = _Scores(targets, top_k, sum(len(b) for b in boxes))
    fills = [fill_pixels(im, fill) for im in imgs]
    whole = scorer is None or getattr(scorer, "runs_whole", False)
    inc = set() if whole else set(incremental) & set(patches)
    offsets = np.cumsum([0, *(len(b) for b in boxes)])
    if inc:
        assert scorer is not None
        for i, (img, fill_img) in enumerate(zip(imgs, fills, strict=True)):
            _score_tiles(i, img, fill_img, patches, boxes, offsets, scorer, inc,
                         tile_batch or batch_size, state, on_progress)  # fmt: skip
    rest = [k for k, p in enumerate(patches) if p not in inc]
    if rest:
        whole = np.concatenate([boxes[k] for k in rest])
        index = np.concatenate([np.arange(offsets[k], offsets[k + 1]) for k in rest])
        _score_copies(imgs, fills, whole, index, not inc, predict, batch_size, state,
                      on_progress)  # fmt: skip
    return [
        [assemble(state.base[i], t, patches, steps, boxes,
                  np.split(state.scores[i][:, j], offsets[1:-1]), shape)
         for j, t in enumerate(state.targets[i])]
        for i in range(len(imgs))
    ]  # fmt: skip


def _check_image(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 3 or img.shape[2] != 3:
        raise UsageError(f"image must be H×W×3; received shape {img.shape}", "image")
    return img


class _Scores:
    """Each image's base scores, its target classes (known from its plain copy) and the
    target scores of every window (rows in scale order)."""

    def __init__(self, targets: Sequence[Sequence[int] | None], top_k: int, windows: int):
        self.wanted, self.top_k, self.windows = targets, top_k, windows
        self.base: list[np.ndarray] = [np.empty(0)] * len(targets)
        self.targets: list[list[int]] = [[] for _ in targets]
        self.scores: list[np.ndarray] = [np.empty((0, 0))] * len(targets)

    def set_base(self, i: int, scores: np.ndarray) -> None:
        if not np.isfinite(scores).all():
            raise ScoreError("the model returned NaN or infinite scores for the image")
        self.base[i] = scores
        wanted = self.wanted[i]
        if wanted is None:
            picked = np.argsort(-scores, kind="stable")[: self.top_k]
            self.targets[i] = [int(c) for c in picked]
        else:
            self.targets[i] = [_check_class(int(c), scores) for c in wanted]
        self.scores[i] = np.empty((self.windows, len(self.targets[i])), dtype=np.float64)


def _score_tiles(
    i: int,
    img: np.ndarray,
    fill_img: np.ndarray,
    patches: Sequence[int],
    boxes: Sequence[np.ndarray],
    offsets: np.ndarray,
    scorer: WindowScorer,
    incremental: set[int],
    tile_batch: int,
    state: _Scores,
    on_progress: Callable[[int], None] | None,
) -> None:
    """Image i's plain scores and its incremental scales, from the scorer's session."""
    session = scorer.session(img)
    state.set_base(i, np.asarray(session.base_scores, dtype=np.float32))
    if on_progress is not None:
        on_progress(1)
    for k, (patch, scale_boxes) in enumerate(zip(patches, boxes, strict=True)):
        if patch not in incremental:
            continue
        # tiles in evened-out chunks, so the engine compiles one batch size per scale
        step = balanced_batch_size(len(scale_boxes), tile_batch)
        for start in range(0, len(scale_boxes), step):
            chunk = scale_boxes[start : start + step]
            out = session.score(fill_img, chunk)
            if not np.isfinite(out).all():
                raise ScoreError("the model returned NaN or infinite scores for a copy")
            first = offsets[k] + start
            state.scores[i][first : first + len(chunk)] = out[:, state.targets[i]]
            if on_progress is not None:
                on_progress(len(chunk))


def _score_copies(
    imgs: Sequence[np.ndarray],
    fills: Sequence[np.ndarray],
    boxes: np.ndarray,
    index: np.ndarray,
    with_base: bool,
    predict: Predict,
    batch_size: int,
    state: _Scores,
    on_progress: Callable[[int], None] | None,
) -> None:
    """Whole copies of every image, ``batch_size`` a call: job k is image ``k // per``'s
    plain copy (first, with ``with_base``) or its window ``boxes[...]`` (row ``index[...]``
    of its scores). Copies are built a batch at a time, so memory stays flat."""
    base = int(with_base)
    per = len(boxes) + base
    total = len(imgs) * per
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        batch = np.empty((stop - start, *imgs[0].shape), dtype=np.float32)
        for k in range(start, stop):
            i, w = divmod(k, per)
            batch[k - start] = imgs[i]
            if w >= base:
                x0, y0, x1, y1 = boxes[w - base]
                batch[k - start, y0:y1, x0:x1] = fills[i][y0:y1, x0:x1]
        scores = score_batch(predict, batch)
        for k in range(start, stop):
            i, w = divmod(k, per)
            if w < base:
                state.set_base(i, scores[k - start].copy())
            else:
                state.scores[i][index[w - base]] = scores[k - start, state.targets[i]]
        if on_progress is not None:
            on_progress(stop - start)


def assemble(
    base_scores: np.ndarray,
    target: int,
    patches: Sequence[int],
    strides: Sequence[int],
    boxes: Sequence[np.ndarray],
    scores: Sequence[np.ndarray],
    shape: tuple[int, int],
) -> Sweep:
    """The maps from each window's occluded score: per scale, the mean over the windows
    covering a pixel of (base score - occluded score); then the mean of the scales."""
    base = float(base_scores[target])
    scale_maps = []
    for b, sc in zip(boxes, scores, strict=True):
        sums = np.zeros(shape, dtype=np.float64)
        for (x0, y0, x1, y1), score in zip(b, sc, strict=True):
            sums[y0:y1, x0:x1] += base - float(score)
        scale_maps.append((sums / coverage(*shape, b)).astype(np.float32))
    combined = np.stack(scale_maps).astype(np.float64).mean(axis=0).astype(np.float32)
    return Sweep(
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


def _check_class(class_index: int, base_scores: np.ndarray) -> int:
    if not 0 <= class_index < len(base_scores):
        raise UsageError(
            f"class_index {class_index} is out of range: the model has {len(base_scores)} outputs",
            "class_index",
        )
    return int(class_index)
