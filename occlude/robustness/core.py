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

from occlude.augment.functional import FillValue, Noise, fill_colour
from occlude.augment.methods import METHODS, Occluder, occluders
from occlude.augment.seeding import output_seed
from occlude.errors import UsageError
from occlude.fill import Fill
from occlude.scoring import Predict, score_batch

FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def check_methods(methods: Sequence[str]) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(m.strip().lower() for m in methods if m.strip()))
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
    out = tuple(dict.fromkeys(float(f) for f in fractions))
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


def occlude(
    image: np.ndarray, method: str, fraction: float, rng: np.random.Generator, fill: Fill
) -> np.ndarray:
    """``image`` (H×W×3 uint8) with ``fraction`` of it occluded by ``method``.

    The draws: the noise seed first (noise fill only), then the method's placement.
    """
    if fraction == 0.0:
        return image
    shape = (int(image.shape[0]), int(image.shape[1]))
    value: FillValue
    if fill.kind == "noise":
        value = Noise(int(rng.integers(0, 2**63)))
    else:
        value = fill_colour(fill, image)
    method_ = occluder(method)
    return method_.paint(image, method_.at_fraction(rng, shape, fraction), value)


def case_rng(seed: int, rel: str, method: str, fraction: float) -> np.random.Generator:
    return np.random.default_rng(output_seed(seed, f"robustness\0{method}\0{fraction!r}\0{rel}", 0))


@dataclass(frozen=True)
class Sample:
    """One labelled image at the model's input size."""

    rel: str
    image: np.ndarray
    label: int


@dataclass(frozen=True)
class Row:
    """Results for one (method, fraction) over ``n`` evaluations."""

    method: str
    fraction: float
    accuracy: float
    mean_true_score: float
    n: int


Case = tuple[str, float, bool, float]
"""One evaluation: (method, fraction, top-1 correct, true-class score)."""


def jobs_per_image(methods: Sequence[str], fractions: Sequence[float]) -> int:
    """Model inputs per image, for progress bars and batch sizes."""
    nonzero = sum(1 for f in fractions if f != 0.0)
    return len(methods) * nonzero + (1 if 0.0 in fractions else 0)


def image_cases(
    sample: Sample,
    predict: Predict,
    *,
    methods: Sequence[str],
    fractions: Sequence[float],
    fill: Fill,
    seed: int = 0,
    batch_size: int = 32,
    on_progress: Callable[[int], None] | None = None,
) -> list[Case]:
    """Every (method, fraction) evaluation of one image. Fraction 0 is the plain image,
    scored once and counted for every method."""
    jobs: list[tuple[list[tuple[str, float]], np.ndarray]] = []
    if 0.0 in fractions:
        jobs.append(([(m, 0.0) for m in methods], sample.image))
    for m in methods:
        for f in fractions:
            if f != 0.0:
                rng = case_rng(seed, sample.rel, m, f)
                jobs.append(([(m, f)], occlude(sample.image, m, f, rng, fill)))
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
            cases.extend((m, f, hit, float(row[sample.label])) for m, f in targets)
        if on_progress is not None:
            on_progress(len(chunk))
    return cases


def aggregate(
    cases: Iterable[Case], methods: Sequence[str], fractions: Sequence[float]
) -> list[Row]:
    """Top-1 accuracy and mean true-class score per (method, fraction); the mean is an
    exact sum (``math.fsum``), so it does not depend on the order of the images."""
    keys = [(m, f) for m in methods for f in fractions]
    correct = dict.fromkeys(keys, 0)
    scores: dict[tuple[str, float], list[float]] = {key: [] for key in keys}
    for m, f, hit, score in cases:
        if (m, f) in correct:
            correct[(m, f)] += bool(hit)
            scores[(m, f)].append(float(score))
    nan = float("nan")
    return [
        Row(
            method=m,
            fraction=f,
            accuracy=correct[(m, f)] / len(scores[(m, f)]) if scores[(m, f)] else nan,
            mean_true_score=math.fsum(scores[(m, f)]) / len(scores[(m, f)])
            if scores[(m, f)]
            else nan,
            n=len(scores[(m, f)]),
        )
        for m, f in keys
    ]


def evaluate(
    samples: Iterable[Sample],
    predict: Predict,
    *,
    methods: Sequence[str] | None = None,
    fractions: Sequence[float] = FRACTIONS,
    fill: Fill,
    seed: int = 0,
    batch_size: int = 32,
    on_progress: Callable[[int], None] | None = None,
) -> list[Row]:
    """Top-1 accuracy and mean true-class score per (method, fraction) over ``samples``.

    Images are read and scored one at a time, so memory does not grow with their number.
    """
    methods = check_methods(methods if methods is not None else occluders())
    fractions = check_fractions(fractions)
    cases: list[Case] = []
    for sample in samples:
        cases.extend(image_cases(sample, predict, methods=methods, fractions=fractions,
                                 fill=fill, seed=seed, batch_size=batch_size,
                                 on_progress=on_progress))  # fmt: skip
    return aggregate(cases, methods, fractions)


def resolve_label(text: str, n_classes: int, imagenet: bool) -> int:
    """A label as a class index: an integer, or an ImageNet class name for ImageNet models."""
    from occlude.classes import find_imagenet_class

    value = text.strip()
    try:
        index = int(value)
    except ValueError:
        if not imagenet:
            raise UsageError(
                f"label {value!r} is not a class index, and class names need an ImageNet model",
                "label",
            ) from None
        index = find_imagenet_class(value)
    if not 0 <= index < n_classes:
        raise UsageError(
            f"label {value!r} is out of range: the model has {n_classes} classes", "label"
        )
    return index
