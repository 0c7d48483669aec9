"""``occlude.robustness_curve``: the Python face of ``occlude robustness``.

Image files go through the command's own job (the same discovery, relative paths,
placements and summary, so :meth:`RobustnessResult.to_dict` is the command's ``--json``);
arrays go straight through the maths, image ``i`` named ``str(i)`` for its placements.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from occlude.checks import check_int
from occlude.errors import UsageError
from occlude.fill import Fill, parse_fill
from occlude.imageio import resize_rgb
from occlude.robustness.core import (
    FRACTIONS,
    Sample,
    check_fractions,
    check_methods,
    evaluate,
    resolve_label,
)
from occlude.robustness.summary import RobustnessResult
from occlude.zoo import ModelSpec, any_model

METHODS = ("cutout", "hide-and-seek", "random-erasing")
Label = int | str


def robustness_curve(
    model: Any,
    images: Any,
    labels: Any,
    *,
    methods: Sequence[str] = METHODS,
    fractions: Sequence[float] = FRACTIONS,
    repeats: int = 5,
    seed: int = 0,
    fill: str | Fill = "grey",
    batch_size: int = 32,
    preprocess: str | None = None,
    weights: str | None = None,
    class_names: str | None = None,
    out_dir: str | Path | None = None,
) -> RobustnessResult:
    """Top-1 accuracy and mean true-class score as ``methods`` occlude growing
    ``fractions`` of each image, with 95 % intervals; what ``occlude robustness`` computes.

    Args:
        model: a ``keras.Model``, a keras.applications name (``"resnet50"``), a
            ``.keras``/``.h5`` file, or a ``predict(batch) -> scores`` callable (float32
            batches of 0-255 pixels at the images' own size).
        images: image arrays (H×W×3, 0-255; one array, a list, or a batch), or image
            files and folders (searched recursively, as the command does).
        labels: one label per image (a class index, or an ImageNet class name for
            ImageNet models), or for files ``"folders"`` (the parent folder's name) or a
            ``path,label`` CSV file.
        methods, fractions, repeats, seed, fill, batch_size: as the command's options.
        preprocess, weights, class_names: for a model name or file, as
            :func:`occlude.load_classifier` (``preprocess`` also for a ``keras.Model``).
        out_dir: for files, keep per-image results there (resumable) and write
            ``robustness.json`` and ``robustness.png`` for ``occlude report``.

    Files that cannot be read fail alone and are listed in the result's ``failed``; an
    array that is not an image raises.

    Raises:
        UsageError: a bad setting, label or image; ModelError: the model cannot be used.
    """
    methods_ = check_methods(methods)
    fractions_ = check_fractions(fractions)
    repeats = check_int(repeats, "repeats")
    fill_ = parse_fill(fill, ("mean", "noise")) if isinstance(fill, str) else fill
    clf, spec = any_model(model, preprocess=preprocess, weights=weights, class_names=class_names)
    files = _files(images)
    if files is not None:
        return _from_files(files, labels, clf, spec, methods_, fractions_, fill_, seed,
                           batch_size, repeats, out_dir)  # fmt: skip
    if out_dir is not None:
        raise UsageError("out_dir keeps results of image files; images are arrays", "out_dir")
    arrays = _arrays(images)
    wanted = _labels(labels, len(arrays))
    samples = (
        Sample(str(i), _sized(image, clf.input_size),
               resolve_label(str(label), clf.n_classes, clf.imagenet_names))
        for i, (image, label) in enumerate(zip(arrays, wanted, strict=True))
    )  # fmt: skip
    rows = evaluate(samples, clf.predictor(batch_size), methods=methods_, fractions=fractions_,
                    fill=fill_, seed=seed, repeats=repeats, batch_size=batch_size)  # fmt: skip
    return RobustnessResult(rows, clf.name, clf.weights, methods_, fractions_, fill_.as_json(),
                            seed, repeats)  # fmt: skip


def _from_files(
    files: list[Path], labels: Any, clf: Any, spec: ModelSpec | None, methods: tuple[str, ...],
    fractions: tuple[float, ...], fill: Fill, seed: int, batch_size: int, repeats: int,
    out_dir: str | Path | None,
) -> RobustnessResult:  # fmt: skip
    from occlude.robustness.job import RobustnessJob
    from occlude.runner import Runner

    if not isinstance(labels, (str, os.PathLike)):
        if any(f.is_dir() for f in files):
            raise UsageError("labels for folders must be 'folders' or a CSV file", "labels")
        wanted = _labels(labels, len(files))
        labels = {f: str(label) for f, label in zip(files, wanted, strict=True)}
    job = RobustnessJob(files, labels, spec, methods, fractions, fill, seed, batch_size,
                        repeats, {}, Path(out_dir) if out_dir is not None else None,
                        clf=clf)  # fmt: skip
    for _ in Runner(job, progress=False).run():
        pass
    assert job.result is not None
    return job.result


def _files(images: Any) -> list[Path] | None:
    """``images`` as paths, or None for arrays."""
    if isinstance(images, (str, os.PathLike)):
        return [Path(images)]
    if isinstance(images, np.ndarray):
        return None
    items = list(images)
    if items and all(isinstance(i, (str, os.PathLike)) for i in items):
        return [Path(i) for i in items]
    if any(isinstance(i, (str, os.PathLike)) for i in items):
        raise UsageError("images must be all arrays or all paths", "images")
    return None


def _arrays(images: Any) -> list[np.ndarray]:
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = [images]
    out = []
    for i, image in enumerate(images):
        arr = np.asarray(image)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
            raise UsageError(f"images[{i}] has shape {arr.shape}; give H×W×3 RGB arrays",
                             "images")  # fmt: skip
        if arr.dtype != np.uint8:
            if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number):
                raise UsageError(f"images[{i}] has dtype {arr.dtype}; give numbers 0-255",
                                 "images")  # fmt: skip
            if not (np.isfinite(arr).all() and arr.min() >= 0 and arr.max() <= 255):
                raise UsageError(f"images[{i}] has values outside 0-255", "images")
            arr = np.rint(arr).astype(np.uint8)
        out.append(arr)
    if not out:
        raise UsageError("give at least one image", "images")
    return out


def _labels(labels: Any, count: int) -> list[Label]:
    if isinstance(labels, (int, str)) and not isinstance(labels, bool):
        labels = [labels]
    wanted = list(labels)
    if len(wanted) != count:
        raise UsageError(f"labels has {len(wanted)} entries for {count} images", "labels")
    for label in wanted:
        if isinstance(label, bool) or not isinstance(label, (int, np.integer, str)):
            raise UsageError(f"labels must be class indices or names; received {label!r}",
                             "labels")  # fmt: skip
    return [int(v) if isinstance(v, np.integer) else v for v in wanted]


def _sized(image: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    return image if size is None else resize_rgb(image, size).astype(np.uint8)
