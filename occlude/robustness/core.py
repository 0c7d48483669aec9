"""How a classifier's accuracy falls as more of each image is occluded (pure parts).

For each occluding method of the registry and each occluded fraction f of the image, the
method's :meth:`~occlude.augment.methods.Occluder.at_fraction` places the occlusion:

* ``cutout``: one square of area f·H·W, placed uniformly where it fits inside the image;
* ``hide-and-seek``: a grid of square cells (side 1/7 of the shorter side, 32 px at 224),
  each hidden with probability f;
* ``random-erasing``: one box of area f·H·W with a log-uniform aspect ratio in
  (0.3, 1/0.3), placed uniformly where it fits.

Occlusion happens in pixel space at the model's input size, before preprocessing. The
randomness of each (image, method, fraction) comes from (seed, path, method, fraction),
so results depend neither on the order of the images nor on the batch size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from occlude.augment.methods import METHODS, Occluder, occluders
from occlude.augment.methods.occluder import keys_of, new_key
from occlude.checks import check_int
from occlude.draws import NUMPY, output_seed
from occlude.errors import UsageError
from occlude.fill import Fill, FillValue, Noise, colour_of
from occlude.robustness.stats import bootstrap_mean, wilson
from occlude.scoring import Predict, score_batch
from occlude.values import distinct, read_int

FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def check_methods(methods: Sequence[str]) -> tuple[str, ...]:
    out = distinct((m.strip().lower() for m in methods if m.strip()), "methods")
    for m in out:
        if m not in occluders():
            raise UsageError(
                f"methods has an unknown method {m!r}; choose from {', '.join(occluders())}",
                "methods",
            )
    if not out:
        raise UsageError("give at least one of methods", "methods")
    return out


def check_fractions(fractions: Sequence[float]) -> tuple[float, ...]:
    out = distinct((float(f) for f in fractions), "fractions")
    for f in out:
        if not 0.0 <= f <= 1.0:
            raise UsageError(f"fractions must be in [0, 1]; received {f}", "fractions")
    if not out:
        raise UsageError("give at least one of fractions", "fractions")
    return out


@cache
def occluder(method: str) -> Occluder:
    """The registry's method ``method`` (with its default settings)."""
    instance = METHODS[check_methods([method])[0]]()
    if not isinstance(instance, Occluder):
        raise UsageError(f"methods: {method} does not occlude", "methods")
    return instance


def occluded(
    image: np.ndarray, method: str, fraction: float, rng: np.random.Generator, fill: Fill
) -> np.ndarray:
    """``image`` (H×W×3 uint8) with ``fraction`` of it occluded by ``method``.

    The draws: ONE int32 key from ``rng``; the placement and a noise fill come from it.
    """
    if fraction == 0.0:
        return image
    key, (h, w) = new_key(rng), image.shape[:2]
    value: FillValue = Noise(key, keyed=True) if fill.kind == "noise" else colour_of(fill, image)
    method_ = occluder(method)
    params = method_.at_fraction(NUMPY, keys_of(key), int(h), int(w), fraction)
    return method_.apply(image, params, fill=value)


def case_rng(
    seed: int, rel: str, method: str, fraction: float, repeat: int = 0
) -> np.random.Generator:
    """The generator of one placement, from (seed, path, method, fraction, repeat): results
    depend neither on the order of the images nor on workers or shards. Repeat 0 is the
    placement of a run without repeats."""
    key = f"robustness\0{method}\0{fraction!r}\0{rel}" + (f"\0{repeat}" if repeat else "")
    return np.random.default_rng(output_seed(seed, key, 0))


@dataclass(frozen=True)
class Sample:
    """One labelled image at the model's input size."""

    rel: str
    image: np.ndarray
    label: int


@dataclass(frozen=True)
class Row:
    """Results for one (method, fraction): ``n`` evaluations of ``images`` images.

    ``accuracy_low/high`` is the 95 % Wilson interval over the evaluations (repeats of one
    image are not independent, so it is optimistic); ``accuracy_low/high_images`` the 95 %
    bootstrap interval over images, from their per-image accuracies.
    """

    method: str
    fraction: float
    accuracy: float
    mean_true_score: float
    n: int
    images: int = 0
    accuracy_low: float = math.nan
    accuracy_high: float = math.nan
    accuracy_low_images: float = math.nan
    accuracy_high_images: float = math.nan


Case = tuple[str, float, int, bool, float]
"""One evaluation: (method, fraction, repeat, top-1 correct, true-class score)."""


def jobs_per_image(methods: Sequence[str], fractions: Sequence[float], repeats: int = 1) -> int:
    """Model inputs per image, for progress bars and batch sizes."""
    nonzero = sum(1 for f in fractions if f != 0.0)
    return len(methods) * nonzero * repeats + (1 if 0.0 in fractions else 0)


def image_cases(
    sample: Sample,
    predict: Predict,
    *,
    methods: Sequence[str],
    fractions: Sequence[float],
    fill: Fill,
    seed: int = 0,
    repeats: int = 1,
    batch_size: int = 32,
    on_progress: Callable[[int], None] | None = None,
) -> list[Case]:
    """Every (method, fraction, repeat) evaluation of one image, batched through the model.
    Fraction 0 is the plain image, scored once and counted once for every method."""
    jobs: list[tuple[list[tuple[str, float, int]], np.ndarray]] = []
    if 0.0 in fractions:
        jobs.append(([(m, 0.0, 0) for m in methods], sample.image))
    for m in methods:
        for f in fractions:
            if f == 0.0:
                continue
            for r in range(repeats):
                rng = case_rng(seed, sample.rel, m, f, r)
                jobs.append(([(m, f, r)], occluded(sample.image, m, f, rng, fill)))
    cases: list[Case] = []
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        scores = score_batch(predict, np.stack([j[1] for j in chunk]).astype(np.float32))
        if not 0 <= sample.label < scores.shape[1]:
            raise UsageError(
                f"label {sample.label} is out of range for {scores.shape[1]} classes", "label"
            )
        for (targets, _), row in zip(chunk, scores, strict=True):
            hit = int(np.argmax(row)) == sample.label
            cases.extend((m, f, r, hit, float(row[sample.label])) for m, f, r in targets)
        if on_progress is not None:
            on_progress(len(chunk))
    return cases


def aggregate(
    per_image: Iterable[tuple[str, Sequence[Case]]],
    methods: Sequence[str],
    fractions: Sequence[float],
    seed: int = 0,
) -> list[Row]:
    """Accuracy, mean true-class score and both intervals per (method, fraction), from
    ``(relative path, cases)`` per image. Sums are exact and images are taken in path
    order, so nothing depends on the order of the inputs."""
    keys = [(m, f) for m in methods for f in fractions]
    hits: dict[tuple[str, float], list[int]] = {k: [] for k in keys}
    scores: dict[tuple[str, float], list[float]] = {k: [] for k in keys}
    per_image_acc: dict[tuple[str, float], list[float]] = {k: [] for k in keys}
    for _, cases in sorted(per_image, key=lambda item: item[0]):
        mine: dict[tuple[str, float], list[bool]] = {}
        for m, f, _r, hit, score in cases:
            if (m, f) in hits:
                hits[(m, f)].append(int(bool(hit)))
                scores[(m, f)].append(float(score))
                mine.setdefault((m, f), []).append(bool(hit))
        for key, values in mine.items():
            per_image_acc[key].append(sum(values) / len(values))
    return [_row(m, f, hits[(m, f)], scores[(m, f)], per_image_acc[(m, f)], seed)
            for m, f in keys]  # fmt: skip


def _row(
    method: str, fraction: float, hits: list[int], scores: list[float],
    per_image: list[float], seed: int,
) -> Row:  # fmt: skip
    n, nan = len(hits), math.nan
    wilson_ = wilson(sum(hits), n)
    boot = bootstrap_mean(per_image, seed)
    return Row(
        method=method,
        fraction=fraction,
        accuracy=sum(hits) / n if n else nan,
        mean_true_score=math.fsum(scores) / n if n else nan,
        n=n,
        images=len(per_image),
        accuracy_low=wilson_[0] if wilson_ else nan,
        accuracy_high=wilson_[1] if wilson_ else nan,
        accuracy_low_images=boot[0] if boot else nan,
        accuracy_high_images=boot[1] if boot else nan,
    )


def evaluate(
    samples: Iterable[Sample],
    predict: Predict,
    *,
    methods: Sequence[str] | None = None,
    fractions: Sequence[float] = FRACTIONS,
    fill: Fill,
    seed: int = 0,
    repeats: int = 1,
    batch_size: int = 32,
    on_progress: Callable[[int], None] | None = None,
) -> list[Row]:
    """Top-1 accuracy (with intervals) and mean true-class score per (method, fraction)
    over ``samples``. Images are read and scored one at a time, so memory does not grow
    with their number."""
    methods = check_methods(methods if methods is not None else occluders())
    fractions = check_fractions(fractions)
    repeats = check_int(repeats, "repeats")
    per_image = []
    for sample in samples:
        cases = image_cases(sample, predict, methods=methods, fractions=fractions, fill=fill,
                            seed=seed, repeats=repeats, batch_size=batch_size,
                            on_progress=on_progress)  # fmt: skip
        per_image.append((sample.rel, cases))
    return aggregate(per_image, methods, fractions, seed)


def resolve_label(text: str, n_classes: int | None, imagenet: bool) -> int:
    """A label as a class index: ASCII digits, or an ImageNet class name when the model's
    classes have ImageNet's names (``imagenet``). ``n_classes`` None (a ``predict``
    callable's, unknown before it scores): the range is checked when it does."""
    from occlude.classes import find_imagenet_class, unnamed

    value = text.strip()
    index = read_int(value)
    if index is None:
        if not imagenet:
            why = unnamed(n_classes) if n_classes is not None else "is a callable: give an index"
            raise UsageError(f"label {value!r} is not a class index, and class names need "
                             f"an ImageNet model; the model {why}",
                             ("label", "class_names="))  # fmt: skip
        index = find_imagenet_class(value)
    if index < 0 or (n_classes is not None and index >= n_classes):
        raise UsageError(
            f"label {value!r} is out of range: the model has {n_classes} classes", "label"
        )
    return index
