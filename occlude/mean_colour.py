"""The dataset's mean colour, once: what the ``dataset-mean`` fill paints (Hide-and-Seek's
paper; Cutout's after normalisation), on the 0-255 scale, over every pixel of every image.

Of arrays or a dataset (:func:`dataset_mean`: a layer's ``fill``), or of image files
(:func:`folder_mean`: ``--fill dataset-mean``'s colour), whose 8-bit RGB sums are exact
integers (:func:`occlude.imageio.channel_sums`), added up here or by the folder job's
parallel pass (:func:`mean_of`). NumPy only: the files are read only by :func:`folder_mean`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from occlude.checks import check_value_range
from occlude.errors import InputError, UsageError

RGB = tuple[float, float, float]
PathsLike = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def mean_of(sums: Sequence[float], count: int) -> RGB:
    """The mean colour of ``count`` pixels whose RGB values add up to ``sums``."""
    return (float(sums[0] / count), float(sums[1] / count), float(sums[2] / count))


def dataset_mean(source: Iterable[Any], value_range: Sequence[float] = (0, 255)) -> RGB:
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


def folder_mean(source: PathsLike) -> RGB:
    """The mean colour (0-255) over every pixel of the images in ``source`` (folders or
    files), read as 8-bit RGB and summed exactly: ``--fill dataset-mean``'s colour, and
    the ``fill`` to give a layer for the paper's Hide-and-Seek.

    Raises:
        UsageError: no images, or one that cannot be read.
    """
    from occlude.imageio import channel_sums
    from occlude.inputs import find_images

    paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    totals, count = [0, 0, 0], 0
    for image in find_images([Path(p) for p in paths]):
        try:
            sums, n = channel_sums(image.path)
        except InputError as exc:
            raise UsageError(str(exc), "source") from None
        totals, count = [t + s for t, s in zip(totals, sums, strict=True)], count + n
    if count == 0:
        raise UsageError(f"folder_mean: no images found in {source!r}", "source")
    return mean_of(totals, count)


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
