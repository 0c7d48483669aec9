"""The dataset's mean colour, the fill Hide-and-Seek's paper uses (and Cutout's, after
normalisation), as a colour on the 0-255 scale to pass as ``fill``. Of image files:
:func:`occlude.augment.folder_mean` (the layers do not read files)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from occlude.checks import check_value_range
from occlude.errors import UsageError


def dataset_mean(
    source: Iterable[Any],
    value_range: Sequence[float] = (0, 255),
) -> tuple[float, float, float]:
    """The mean colour over every pixel of every image, on the 0-255 scale.

    ``source`` is data: an array (N, H, W, C) or (H, W, C), or an iterable of arrays, batches, dicts
    with ``'images'`` or ``(images, labels)`` tuples (a ``tf.data.Dataset`` works), in
    ``value_range``. Grey images (C = 1) give a grey colour. For a folder of image files,
    use :func:`occlude.augment.folder_mean` (what ``--fill dataset-mean`` computes).

    >>> dataset_mean(np.full((2, 4, 4, 3), 0.5), value_range=(0, 1))
    (127.5, 127.5, 127.5)
    """
    low, high = check_value_range(value_range)
    if _is_paths(source):
        raise UsageError(
            "dataset_mean takes arrays or a dataset; for image files use "
            "occlude.augment.folder_mean(folder)",
            "source",
        )
    sums, count = np.zeros(3, dtype=np.float64), 0
    for images in _arrays(source):
        channels = images.shape[-1]
        if images.ndim < 3 or channels not in (1, 3):
            raise UsageError(
                f"images must be (..., H, W, C) with C 1 or 3; received shape {images.shape}"
            )
        flat = images.reshape(-1, channels).astype(np.float64)
        sums += flat.sum(axis=0) if channels == 3 else np.repeat(flat.sum(), 3)
        count += flat.shape[0]
    if count == 0:
        raise UsageError("dataset_mean: the source holds no images")
    mean = (sums / count - low) / (high - low) * 255.0
    return (float(mean[0]), float(mean[1]), float(mean[2]))


def _is_paths(source: object) -> bool:
    if isinstance(source, (str, os.PathLike)):
        return True
    return (
        isinstance(source, (list, tuple))
        and bool(source)
        and all(isinstance(s, (str, os.PathLike)) for s in source)
    )


def _arrays(source: Any) -> Iterable[np.ndarray]:
    """Image arrays from an array, a dataset, or an iterable of elements."""
    if hasattr(source, "shape"):
        yield np.asarray(source)
        return
    elements = source.as_numpy_iterator() if hasattr(source, "as_numpy_iterator") else source
    for element in elements:
        if isinstance(element, dict):
            element = element["images"]
        elif isinstance(element, (tuple, list)):
            element = element[0]
        yield np.asarray(element)
