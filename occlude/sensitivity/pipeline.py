"""``occlude sensitivity`` over files: read, resize, sweep, render, record.

The edges meet here: image files (:mod:`occlude.imageio`), the Keras classifier
(:mod:`occlude.model`, passed in) and matplotlib (:mod:`occlude.render`, imported on use).
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from occlude.classes import IMAGENET_CLASSES, find_imagenet_class
from occlude.errors import InputError, UsageError
from occlude.fill import Fill, parse_fill
from occlude.imageio import (
    open_image,
    read_rgb,
    resize_map,
    resize_rgb,
    write_atomic,
    write_bytes,
)
from occlude.inputs import InputImage, file_stamp
from occlude.sensitivity.core import (
    SENSITIVITY_FILLS,
    SensitivityResult,
    balanced_batch_size,
    count_windows,
    fill_pixels,
    occlusion_sensitivity,
)
from occlude.sensitivity.metrics import box_region, deletion_insertion, focus

if TYPE_CHECKING:
    from occlude.model import Classifier

MAP_LABEL = "score drop when occluded\n(red: region supports the class)"


@dataclass(frozen=True)
class SensitivityOptions:
    """Everything about a sweep that the command line decides."""

    class_spec: str = "top"
    patch_sizes: tuple[int, ...] = ()
    strides: tuple[int, ...] = ()
    fill: Fill = field(default_factory=lambda: Fill("constant"))
    batch_size: int = 32
    save_npy: bool = False
    expect_box: tuple[int, int, int, int] | None = None
    expect_mask: Path | None = None
    metrics: bool = False
    steps: int = 20
    seed: int = 0

    @staticmethod
    def parse_fill(text: str) -> Fill:
        return parse_fill(text, SENSITIVITY_FILLS)


def parse_class(spec: str) -> int | None:
    """``top`` -> None, ``"281"`` -> 281, ``"tabby"`` -> 281 (ImageNet names, offline)."""
    text = spec.strip()
    if text.lower() == "top":
        return None
    try:
        index = int(text)
    except ValueError:
        return find_imagenet_class(text)
    if index < 0:
        raise UsageError(f"class index must be 0 or more; received {index}")
    return index


def check_class(spec: str, clf: Classifier) -> int | None:
    """The target class for ``clf``, checked against its number of outputs."""
    index = parse_class(spec)
    if index is None:
        return None
    is_name = not spec.strip().lstrip("-").isdigit()
    if is_name and clf.n_classes != IMAGENET_CLASSES:
        raise UsageError(
            f"class name {spec!r} needs an ImageNet model; {clf.name} has {clf.n_classes} "
            "outputs, so give an index"
        )
    if index >= clf.n_classes:
        raise UsageError(
            f"class index {index} is out of range: {clf.name} has {clf.n_classes} outputs "
            f"(0-{clf.n_classes - 1})"
        )
    return index


def expected_region(opts: SensitivityOptions, shape: tuple[int, int]) -> np.ndarray:
    """The ``--expect-box``/``--expect-mask`` region as an H×W boolean mask at ``shape``."""
    if opts.expect_box is not None:
        return box_region(shape, opts.expect_box)
    assert opts.expect_mask is not None
    try:
        mask = open_image(opts.expect_mask).convert("L")
    except InputError as exc:
        raise UsageError(f"--expect-mask: {exc}") from None
    resized = mask.resize((shape[1], shape[0]), Image.Resampling.NEAREST)
    return np.asarray(resized) > 0


FOCUS_MAX_SIDE = 2048
"""Focus is measured at the original resolution, or this size on the longer side if less."""


def image_focus(values: np.ndarray, shape: tuple[int, int], opts: SensitivityOptions) -> float:
    """Focus of a model-size map on the region given in original-image pixels."""
    height, width = shape
    scale = min(1.0, FOCUS_MAX_SIDE / max(height, width))
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    full = resize_map(values, (size[1], size[0]))
    if opts.expect_box is not None and scale < 1.0:
        x0, y0, x1, y1 = opts.expect_box
        box = (
            math.floor(x0 * scale),
            math.floor(y0 * scale),
            max(math.ceil(x1 * scale), math.floor(x0 * scale) + 1),
            max(math.ceil(y1 * scale), math.floor(y0 * scale) + 1),
        )
        return focus(full, box_region(size, box))
    return focus(full, expected_region(opts, size))


def output_paths(item: InputImage, out_dir: Path, save_npy: bool) -> dict[str, Path]:
    """Where one image's outputs go; ``record`` (its JSON record) is written last."""
    paths = {
        "heatmap": item.output(out_dir, ".png"),
        "sheet": item.output(out_dir, ".png", "_scales"),
    }
    if save_npy:
        paths["npy"] = item.output(out_dir, ".npy")
        paths["npz"] = item.output(out_dir, ".npz", "_scales")
    paths["record"] = item.output(out_dir, ".json")
    return paths


def settings(
    clf: Classifier, opts: SensitivityOptions, item: InputImage | None = None
) -> dict[str, Any]:
    """What determines the outputs: a finished record is reused only if these match.

    Files (the input, a model or weights file, the mask) count by size and mtime too.
    """
    return {
        "input": file_stamp(item.path) if item is not None else None,
        "model": clf.name,
        "model_file": file_stamp(clf.name) if Path(clf.name).is_file() else None,
        "weights": clf.weights,
        "weights_file": file_stamp(clf.weights) if Path(clf.weights).is_file() else None,
        "preprocess": clf.preprocess,
        "class": opts.class_spec,
        "patch_sizes": list(opts.patch_sizes),
        "strides": list(opts.strides),
        "fill": opts.fill.as_json(),
        "save_npy": opts.save_npy,
        "expect_box": list(opts.expect_box) if opts.expect_box else None,
        "expect_mask": str(opts.expect_mask) if opts.expect_mask else None,
        "expect_mask_file": file_stamp(opts.expect_mask),
        "metrics": opts.metrics,
        "steps": opts.steps,
        "seed": opts.seed,
    }


def finished_record(
    item: InputImage, clf: Classifier, opts: SensitivityOptions, out_dir: Path
) -> dict[str, Any] | None:
    """The record of an earlier, complete run with the same settings, if there is one."""
    paths = output_paths(item, out_dir, opts.save_npy)
    try:
        record = json.loads(paths["record"].read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("settings") != settings(clf, opts, item):
        return None
    if not all(path.is_file() for path in paths.values()):
        return None
    return record


def planned_windows(clf: Classifier, opts: SensitivityOptions) -> int:
    """Occluded copies per image (plus one base image each) for the progress bar."""
    return count_windows(clf.input_size, opts.patch_sizes or None, opts.strides or None)


def _save_arrays(paths: dict[str, Path], result: SensitivityResult) -> None:
    write_atomic(paths["npy"], lambda handle: np.save(handle, result.map))
    arrays = {f"patch_{p}": m for p, m in zip(result.patch_sizes, result.scale_maps, strict=True)}
    buffer = io.BytesIO()
    arrays["combined"] = result.map
    arrays["patch_sizes"] = np.asarray(result.patch_sizes)
    arrays["strides"] = np.asarray(result.strides)
    np.savez(buffer, allow_pickle=False, **arrays)
    write_bytes(paths["npz"], buffer.getvalue())


def _describe(clf: Classifier, index: int) -> str:
    name = clf.class_name(index)
    return f"{name} ({index})" if name else f"class {index}"


def analyse(
    item: InputImage,
    clf: Classifier,
    opts: SensitivityOptions,
    out_dir: Path,
    on_progress: Callable[[int], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the sweep on one image file, write its outputs and return its JSON record."""
    from occlude import render

    started = time.perf_counter()
    paths = output_paths(item, out_dir, opts.save_npy)
    # The record marks a finished image: drop an old one before overwriting its outputs,
    # so that a run killed half-way is never mistaken for a finished one.
    paths["record"].unlink(missing_ok=True)
    notes: list[str] = []
    original = read_rgb(item.path, notes)
    if warn is not None:
        for note in notes:
            warn(f"{item.path}: {note}")
    image = resize_rgb(original, clf.input_size)
    target = check_class(opts.class_spec, clf)
    batch = balanced_batch_size(planned_windows(clf, opts) + 1, opts.batch_size)
    result = occlusion_sensitivity(
        image,
        clf.predictor(batch),
        class_index=target,
        patch_sizes=opts.patch_sizes or None,
        strides=opts.strides or None,
        fill=opts.fill,
        batch_size=batch,
        on_progress=on_progress,
    )
    scores = result.base_scores
    order = np.argsort(-scores, kind="stable")[:5]
    top1 = int(order[0])
    if warn is not None and result.class_index != top1:
        warn(
            f"{item.path}: target {_describe(clf, result.class_index)} scores "
            f"{result.base_score:.3g}, but the model's top-1 is {_describe(clf, top1)} "
            f"at {float(scores[top1]):.3g}"
        )

    extra: dict[str, Any] = {}
    if opts.expect_box is not None or opts.expect_mask is not None:
        extra["focus"] = image_focus(result.map, original.shape[:2], opts)
    curves = None
    if opts.metrics:
        curves = deletion_insertion(
            image,
            result.map,
            clf.predictor(opts.batch_size),
            result.class_index,
            deleted=fill_pixels(image, opts.fill),
            blurred=fill_pixels(image, "blur"),
            steps=opts.steps,
            rng=np.random.default_rng(opts.seed),
            batch_size=opts.batch_size,
        )
        extra.update(curves.summary())
        extra["curves"] = {
            "fractions": curves.fractions.tolist(),
            "deletion": curves.deletion.tolist(),
            "insertion": curves.insertion.tolist(),
            "deletion_random": curves.deletion_random.tolist(),
            "insertion_random": curves.insertion_random.tolist(),
        }

    scales = "/".join(str(p) for p in result.patch_sizes)
    title = (
        f"{item.rel.name}: {_describe(clf, result.class_index)}, score {result.base_score:.3f}"
        f"  |  {clf.name}, patches {scales}, fill {opts.fill}"
    )
    render.heatmap_png(paths["heatmap"], original, result.map, title, MAP_LABEL)
    panels = [
        (f"patch {p}, stride {s}", m)
        for p, s, m in zip(result.patch_sizes, result.strides, result.scale_maps, strict=True)
    ]
    if len(panels) > 1:
        panels.append(("multi-scale mean", result.map))
    render.contact_sheet_png(paths["sheet"], image, panels, title, MAP_LABEL, curves)
    if opts.save_npy:
        _save_arrays(paths, result)

    record = {
        "input": str(item.path),
        "outputs": {kind: str(path) for kind, path in paths.items()},
        "model": clf.name,
        "weights": clf.weights,
        "preprocess": clf.preprocess,
        "input_size": list(clf.input_size),
        "class_index": result.class_index,
        "class_name": clf.class_name(result.class_index),
        "base_score": result.base_score,
        "top1_index": top1,
        "top5": [[int(i), clf.class_name(int(i)), float(scores[i])] for i in order],
        "patch_sizes": list(result.patch_sizes),
        "strides": list(result.strides),
        "fill": opts.fill.as_json(),
        "windows": result.windows,
        "map_min": float(result.map.min()),
        "map_max": float(result.map.max()),
        **extra,
        "seconds": round(time.perf_counter() - started, 3),
        "settings": settings(clf, opts, item),
    }
    text = json.dumps(record, indent=2) + "\n"
    write_bytes(paths["record"], text.encode("utf-8"))  # last: marks the image as done
    return record


@dataclass(frozen=True)
class Done:
    item: InputImage
    record: dict[str, Any]
    reused: bool = False


@dataclass(frozen=True)
class Failure:
    item: InputImage
    message: str


def run(
    items: Sequence[InputImage],
    clf: Classifier,
    opts: SensitivityOptions,
    out_dir: Path,
    on_progress: Callable[[int], None] | None = None,
    warn: Callable[[str], None] | None = None,
    overwrite: bool = False,
) -> Iterator[Done | Failure]:
    """Analyse every image; an unreadable one yields a :class:`Failure` and the rest go on.

    Unless ``overwrite``, an image whose outputs are complete from an earlier run with the
    same settings is not redone (its record is reused), so an interrupted run resumes.
    """
    per_image = planned_windows(clf, opts) + 1
    for item in items:
        previous = None if overwrite else finished_record(item, clf, opts, out_dir)
        if previous is not None:
            if on_progress is not None:
                on_progress(per_image)
            yield Done(item, previous, reused=True)
            continue
        try:
            yield Done(item, analyse(item, clf, opts, out_dir, on_progress, warn))
        except InputError as exc:
            yield Failure(item, str(exc))


def write_json(records: list[dict[str, Any]], target: str) -> None:
    """Write the records as a JSON list to a file (atomically) or ``-`` (stdout)."""
    text = json.dumps(records, indent=2) + "\n"
    if target == "-":
        import sys

        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_bytes(Path(target), text.encode("utf-8"))
