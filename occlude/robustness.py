"""How a classifier's accuracy falls as more of each image is occluded.

For each method and occluded fraction f of the image:

* ``cutout``: one square of area f·H·W, placed uniformly where it fits inside the image;
* ``hide-and-seek``: a grid of square cells (side 1/7 of the shorter side, 32 px at 224),
  each hidden with probability f;
* ``random-erasing``: one box of area f·H·W with a log-uniform aspect ratio in
  (0.3, 1/0.3), placed uniformly where it fits.

Occlusion happens in pixel space at the model's input size, before preprocessing. The
randomness of each (image, method, fraction) comes from (seed, path, method, fraction),
so results do not depend on the order of the images or on the batch size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from occlude.augment.functional import FillValue, Noise, erase_boxes, fill_colour, hide_cells
from occlude.augment.params import Box
from occlude.augment.run import output_seed
from occlude.errors import UsageError
from occlude.fill import Fill

METHODS = ("cutout", "hide-and-seek", "random-erasing")
FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
GRID_FRACTION = 1 / 7
ASPECT_RANGE = (0.3, 1 / 0.3)
ATTEMPTS = 100


def check_methods(methods: Sequence[str]) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(m.strip().lower() for m in methods if m.strip()))
    for m in out:
        if m not in METHODS:
            raise UsageError(f"unknown method {m!r}; choose from {', '.join(METHODS)}")
    if not out:
        raise UsageError("give at least one method")
    return out


def check_fractions(fractions: Sequence[float]) -> tuple[float, ...]:
    out = tuple(dict.fromkeys(float(f) for f in fractions))
    for f in out:
        if not 0.0 <= f <= 1.0:
            raise UsageError(f"occluded fractions must be in [0, 1]; received {f}")
    if not out:
        raise UsageError("give at least one fraction")
    return out


def square_inside(rng: np.random.Generator, shape: tuple[int, int], fraction: float) -> Box:
    """A square of area ``fraction``·H·W (as near as whole pixels allow) inside the image."""
    h, w = shape
    side = min(h, w, round(math.sqrt(fraction * h * w)))
    y0 = int(rng.integers(0, h - side + 1))
    x0 = int(rng.integers(0, w - side + 1))
    return (x0, y0, x0 + side, y0 + side)


def box_inside(rng: np.random.Generator, shape: tuple[int, int], fraction: float) -> Box:
    """A box of area ``fraction``·H·W, aspect (h/w) log-uniform in ASPECT_RANGE, inside.

    An aspect that does not fit is redrawn; after ATTEMPTS draws the box is squeezed to
    fit (only very large fractions of very oblong images get there).
    """
    h, w = shape
    area = fraction * h * w
    lo, hi = math.log(ASPECT_RANGE[0]), math.log(ASPECT_RANGE[1])
    for _ in range(ATTEMPTS):
        aspect = math.exp(float(rng.uniform(lo, hi)))
        bh, bw = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
        if bh <= h and bw <= w:
            break
    else:
        bh = min(h, max(1, round(math.sqrt(area))))
        bw = min(w, max(1, round(area / bh)))
    y0 = int(rng.integers(0, h - bh + 1))
    x0 = int(rng.integers(0, w - bw + 1))
    return (x0, y0, x0 + bw, y0 + bh)


def hidden_cells(
    rng: np.random.Generator, shape: tuple[int, int], fraction: float
) -> tuple[int, list[tuple[int, int]]]:
    """Grid side and the cells hidden, each independently with probability ``fraction``."""
    h, w = shape
    side = max(1, round(min(h, w) * GRID_FRACTION))
    hide = rng.random((-(-h // side), -(-w // side))) < fraction
    return side, [(int(r), int(c)) for r, c in np.argwhere(hide)]


def occlude(
    image: np.ndarray, method: str, fraction: float, rng: np.random.Generator, fill: Fill
) -> np.ndarray:
    """``image`` (H×W×3 uint8) with ``fraction`` of it occluded by ``method``."""
    if fraction == 0.0:
        return image
    shape = (int(image.shape[0]), int(image.shape[1]))
    value: FillValue
    if fill.kind == "noise":
        value = Noise(int(rng.integers(0, 2**63)))
    else:
        value = fill_colour(fill, image)
    if method == "cutout":
        return erase_boxes(image, [square_inside(rng, shape, fraction)], value)
    if method == "random-erasing":
        return erase_boxes(image, [box_inside(rng, shape, fraction)], value)
    if method == "hide-and-seek":
        side, cells = hidden_cells(rng, shape, fraction)
        return hide_cells(image, side, cells, value)
    raise UsageError(f"unknown method {method!r}")


def case_rng(seed: int, rel: str, method: str, fraction: float) -> np.random.Generator:
    return np.random.default_rng(output_seed(seed, f"robustness\0{method}\0{fraction!r}\0{rel}", 0))


@dataclass(frozen=True)
class Row:
    """Results for one (method, fraction) over ``n`` images."""

    method: str
    fraction: float
    accuracy: float
    mean_true_score: float
    n: int


@dataclass(frozen=True)
class Sample:
    """One labelled image at the model's input size."""

    rel: str
    image: np.ndarray
    label: int


def evaluate(
    samples: Iterable[Sample],
    predict: Callable[[np.ndarray], np.ndarray],
    *,
    methods: Sequence[str] = METHODS,
    fractions: Sequence[float] = FRACTIONS,
    fill: Fill,
    seed: int = 0,
    batch_size: int = 32,
    on_progress: Callable[[int], None] | None = None,
) -> list[Row]:
    """Top-1 accuracy and mean true-class score per (method, fraction).

    Occluded copies are built and scored ``batch_size`` at a time while the samples are
    read, so memory does not grow with the number of images. Fraction 0 is the plain
    image: it is scored once and counted for every method.
    """
    methods = check_methods(methods)
    fractions = check_fractions(fractions)
    keys = [(m, f) for m in methods for f in fractions]
    correct = dict.fromkeys(keys, 0)
    scores_of: dict[tuple[str, float], list[float]] = {key: [] for key in keys}
    counts = dict.fromkeys(keys, 0)

    def jobs() -> Iterator[tuple[list[tuple[str, float]], int, np.ndarray]]:
        for sample in samples:
            if 0.0 in fractions:
                yield [(m, 0.0) for m in methods], sample.label, sample.image
            for m in methods:
                for f in fractions:
                    if f != 0.0:
                        rng = case_rng(seed, sample.rel, m, f)
                        yield [(m, f)], sample.label, occlude(sample.image, m, f, rng, fill)

    def flush(batch: list[tuple[list[tuple[str, float]], int, np.ndarray]]) -> None:
        scores = np.asarray(predict(np.stack([b[2] for b in batch]).astype(np.float32)))
        if scores.ndim == 0 or len(scores) != len(batch):
            raise UsageError(f"predict returned shape {scores.shape} for a batch of {len(batch)}")
        scores = scores.reshape(len(batch), -1)
        for (targets, label, _), row in zip(batch, scores, strict=True):
            if not 0 <= label < len(row):
                raise UsageError(f"label {label} is out of range for {len(row)} classes")
            hit = int(np.argmax(row)) == label
            for key in targets:
                correct[key] += hit
                scores_of[key].append(float(row[label]))
                counts[key] += 1
        if on_progress is not None:
            on_progress(len(batch))

    pending: list[tuple[list[tuple[str, float]], int, np.ndarray]] = []
    for job in jobs():
        pending.append(job)
        if len(pending) == batch_size:
            flush(pending)
            pending = []
    if pending:
        flush(pending)
    nan = float("nan")
    return [
        Row(
            method=m,
            fraction=f,
            accuracy=correct[(m, f)] / counts[(m, f)] if counts[(m, f)] else nan,
            # fsum: exact, so the mean does not depend on the order of the images
            mean_true_score=math.fsum(scores_of[(m, f)]) / counts[(m, f)]
            if counts[(m, f)]
            else nan,
            n=counts[(m, f)],
        )
        for m, f in keys
    ]


def jobs_per_image(methods: Sequence[str], fractions: Sequence[float]) -> int:
    """Model inputs per image, for progress bars."""
    nonzero = sum(1 for f in fractions if f != 0.0)
    return len(methods) * nonzero + (1 if 0.0 in fractions else 0)


def resolve_label(text: str, n_classes: int, imagenet: bool) -> int:
    """A label as a class index: an integer, or an ImageNet class name for ImageNet models."""
    from occlude.classes import find_imagenet_class

    value = text.strip()
    try:
        index = int(value)
    except ValueError:
        if not imagenet:
            raise UsageError(
                f"label {value!r} is not a class index, and class names need an ImageNet model"
            ) from None
        index = find_imagenet_class(value)
    if not 0 <= index < n_classes:
        raise UsageError(f"label {value!r} is out of range: the model has {n_classes} classes")
    return index


def read_samples(
    labelled: Iterable[tuple[str, object, int]],
    size: tuple[int, int],
    on_error: Callable[[str, str], None],
) -> Iterator[Sample]:
    """Read and resize labelled image files lazily; unreadable ones go to ``on_error``.

    ``labelled`` holds (relative path, file path, class index).
    """
    from pathlib import Path

    from PIL import Image

    from occlude.errors import InputError
    from occlude.imageio import read_rgb

    for rel, path, label in labelled:
        try:
            rgb = read_rgb(Path(str(path)))
        except InputError as exc:
            on_error(str(path), str(exc))
            continue
        if rgb.shape[:2] != size:
            resized = Image.fromarray(rgb).resize((size[1], size[0]), Image.Resampling.BILINEAR)
            rgb = np.asarray(resized, dtype=np.uint8)
        yield Sample(rel, rgb, label)
