"""``OcclusionSensitivity``: settings held once, a batch of images in, one result per image out.

The Python face of ``occlude sensitivity`` (and the engine behind its job): the model is
loaded once, images of any size are resized to its input as the command resizes them,
windows of every image share model batches, ``compute="auto"`` decides per call (counting
the call's images) and compiled functions are kept between calls.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

import numpy as np

from occlude.checks import check_int
from occlude.errors import UsageError
from occlude.imageio import resize_rgb
from occlude.model.incremental_scorer import IncrementalScorer
from occlude.scoring import reusable_batch_size
from occlude.sensitivity.compute import ComputePlan, check_compute, decide
from occlude.sensitivity.core import Sweep, sweep_images
from occlude.sensitivity.options import ClassTarget, SensitivityOptions, parse_class
from occlude.sensitivity.pictures import Picture, read_images
from occlude.sensitivity.result import SensitivityResult
from occlude.sensitivity.windows import scale_windows
from occlude.zoo import CallableModel, ModelSpec, any_model

Explained = SensitivityResult | list[SensitivityResult]
Wanted = tuple[ClassTarget, ...] | int
"""One image's classes: explicit targets, or the ``k`` best of the plain image."""


class OcclusionSensitivity:
    """Occlusion sensitivity maps of one model, for any number of images.

    Args:
        model: a ``keras.Model``, a keras.applications name (``"resnet50"``...), a
            ``.keras``/``.h5`` file, or any ``predict(batch) -> scores`` callable (given
            float32 pixel batches (B, H, W, 3), 0-255, at each image's own size).
        patch_sizes: window sides in model-input pixels (default: 1/14, 1/7, 1/4 and 1/2
            of the shorter side); strides: one for all sizes or one per size (default:
            each patch size).
        fill: what occluded pixels become (``grey``, ``black``, ``white``, ``mean``,
            ``blur``, a number or ``"R,G,B"``).
        compute: ``auto`` (the engine recomputes only what a patch changes where it pays,
            counting each call's images), ``incremental`` or ``full``; approx: below 1,
            cap what the engine recomputes (faster, approximate).
        precision: ``float32``, ``bfloat16`` or ``float16``; batch_size: most copies per
            model call; preprocess: a keras.applications mode or family (default: a
            name's own, ``none`` for files and models); weights: for a name, ``imagenet``
            (default), ``none`` (random) or a file; safe: refuse model files with code.

    Raises:
        UsageError: a bad setting; ModelError: the model cannot be loaded or used.
    """

    def __init__(
        self,
        model: Any,
        *,
        patch_sizes: Sequence[int] | None = None,
        strides: Sequence[int] | None = None,
        fill: str = "grey",
        compute: str = "auto",
        approx: float = 1.0,
        precision: str = "float32",
        batch_size: int = 32,
        preprocess: str | None = None,
        weights: str | None = None,
        safe: bool = True,
    ) -> None:
        batch_size = check_int(batch_size, "batch_size")
        options = SensitivityOptions(patch_sizes=tuple(patch_sizes or ()),
                                     strides=tuple(strides or ()), fill=fill,  # type: ignore[arg-type]
                                     batch_size=batch_size, compute=compute,
                                     approx=approx)  # fmt: skip
        check_compute(compute, approx, precision)
        loaded, spec = any_model(model, preprocess=preprocess, precision=precision,
                                  weights=weights, safe=safe)  # fmt: skip
        if isinstance(loaded, CallableModel) and (compute == "incremental" or approx < 1.0):
            raise UsageError("compute incremental and approx need a Keras model; a callable "
                             "is scored on whole copies", ("compute", "approx"))  # fmt: skip
        self._setup(loaded, spec, options)

    @classmethod
    def from_spec(cls, spec: ModelSpec, options: SensitivityOptions) -> OcclusionSensitivity:
        """The command line's way in: a checked model spec and options."""
        self = cls.__new__(cls)
        self._setup(spec.load(), spec, options)
        return self

    def _setup(self, model: Any, spec: ModelSpec | None, options: SensitivityOptions) -> None:
        self.model: Any = model
        self.options = options
        self._spec = spec
        self._scorer: IncrementalScorer | None = None
        if not isinstance(model, CallableModel):
            self._scorer = IncrementalScorer(model, options.batch_size, options.approx)
        self._plans: dict[int, ComputePlan] = {}
        self._settings: dict[str, Any] | None = None
        self._noted = False

    def __repr__(self) -> str:
        opts = self.options
        sizes = list(opts.patch_sizes) or "default"
        return (f"OcclusionSensitivity({self.model.name!r}, patch_sizes={sizes}, "
                f"fill={str(opts.fill)!r}, compute={opts.compute!r})")  # fmt: skip

    def explain(
        self,
        images: Any,
        targets: Any = None,
        *,
        top_k: int | None = None,
        names: Sequence[str] | None = None,
    ) -> Explained | list[Explained]:
        """Maps of ``images`` for ``targets``.

        Args:
            images: one image (an H×W×3 array of 0-255 pixels, H×W grey, a PIL image or
                a file path) or several (a list of those, or an N×H×W×3 array), of any
                sizes: each is resized to the model's input as the command line does.
            targets: None (each image's top-1 class), one index or ImageNet name for
                every image, or one per image; an image's target may be a list of
                classes (several maps from the same model calls).
            top_k: instead of targets, each image's ``top_k`` best classes.
            names: file names for the images' outputs (default: a file's own name,
                ``image`` for one array, ``image_0``, ``image_1``... for several).

        Returns:
            For one image, its :class:`SensitivityResult`; for several, a list with one
            entry per image. An image given several classes (or ``top_k``) has a list of
            results, one per class in the order asked, in place of one result.
        """
        pictures, single = read_images(images, names)
        wanted, several = self._wanted(targets, top_k, len(pictures), single)
        plan = self.compute_plan(len(pictures))
        if plan.note and not self._noted:
            self._noted = True
            warnings.warn(plan.note, stacklevel=2)
        found = self.results(pictures, wanted, plan)
        out: list[Explained] = [
            rs if many else rs[0] for rs, many in zip(found, several, strict=True)
        ]
        return out[0] if single else out

    def compute_plan(self, images: int) -> ComputePlan:
        """Which scales the incremental engine runs for a call over ``images`` images (the
        rule of ``--compute``: :func:`occlude.sensitivity.compute.decide`)."""
        if images not in self._plans:
            plan = ComputePlan()
            if self._scorer is not None:
                opts, model = self.options, self.model
                windows = scale_windows(model.input_size, opts.patch_sizes or None,
                                        opts.strides or None)  # fmt: skip
                plan = decide(opts.compute, opts.approx, model.precision, self._scorer,
                              windows, model.name, images)  # fmt: skip
            self._plans[images] = plan
        return self._plans[images]

    def model_settings(self, hashes: Any = None) -> dict[str, Any]:
        """The model's part of a record's ``settings`` (files named by their SHA-256)."""
        if self._settings is None:
            if hashes is None:
                from occlude.runner.state import FileHashes

                hashes = FileHashes()
            model, spec = self.model, self._spec
            self._settings = {
                "model": model.name,
                "model_sha256": hashes(spec.model_file if spec else None),
                "weights": model.weights,
                "weights_sha256": hashes(spec.weights_file if spec else None),
                "preprocess": model.preprocess,
                "backend": model.backend,
                "precision": model.precision,
                **({"class_names": spec.class_names} if spec and spec.class_names else {}),
            }
        return self._settings

    def results(
        self,
        pictures: Sequence[Picture],
        wanted: Sequence[Wanted],
        plan: ComputePlan,
        tick: Any = None,
    ) -> list[list[SensitivityResult]]:
        """Each picture's results, one per class in ``wanted[i]``: whole copies of
        same-size images streamed together in evened-out batches (reusing a batch size
        already compiled where it costs no extra call), incremental scales per image."""
        opts, model = self.options, self.model
        images = [self._model_image(p.original) for p in pictures]
        found: list[list[SensitivityResult]] = [[] for _ in pictures]
        top_k = max((w for w in wanted if isinstance(w, int)), default=1)
        targets = [None if isinstance(w, int) else [int(t.index or 0) for t in w] for w in wanted]
        for group in _same_size(images):
            shape = images[group[0]].shape[:2]
            windows = scale_windows(shape, opts.patch_sizes or None, opts.strides or None)
            whole = sum(n for p, n in windows.items() if p not in plan.incremental)
            total = len(group) * (whole + (0 if plan.incremental else 1))
            compiled = getattr(model, "compiled_batches", ())
            batch = reusable_batch_size(total, opts.batch_size, compiled)
            sweeps = sweep_images(
                [images[i] for i in group], model.predictor(batch),
                targets=[targets[i] for i in group], top_k=top_k,
                patch_sizes=opts.patch_sizes or None, strides=opts.strides or None,
                fill=opts.fill, batch_size=batch, tile_batch=opts.batch_size, on_progress=tick,
                scorer=self._scorer if plan.incremental else None, incremental=plan.incremental,
            )  # fmt: skip
            for i, per_class in zip(group, sweeps, strict=True):
                found[i] = [self._result(pictures[i], images[i], s, _spec(wanted[i], j, s), plan)
                            for j, s in enumerate(per_class)]  # fmt: skip
        return found

    def _model_image(self, original: np.ndarray) -> np.ndarray:
        size = self.model.input_size or original.shape[:2]
        if original.shape[:2] == tuple(size) or original.dtype == np.uint8:
            return resize_rgb(original, size)
        return resize_rgb(np.clip(np.rint(original), 0, 255).astype(np.uint8), size)

    def _result(
        self, pic: Picture, image: np.ndarray, sweep: Sweep, target: ClassTarget,
        plan: ComputePlan,
    ) -> SensitivityResult:  # fmt: skip
        return SensitivityResult(
            **{f.name: getattr(sweep, f.name) for f in fields(Sweep)},
            original=pic.original, image=image, name=pic.name, source=pic.source,
            input_sha256=pic.sha256, model=self.model,
            options=replace(self.options, target=target), compute=plan.used(sweep.patch_sizes),
            macs_fraction=plan.macs_fraction(sweep.patch_sizes, [len(b) for b in sweep.boxes]),
            model_settings=self.model_settings,
        )  # fmt: skip

    def _wanted(
        self, targets: Any, top_k: int | None, n: int, single: bool
    ) -> tuple[list[Wanted], list[bool]]:
        """Each image's classes, and whether it asked for several."""
        classes = getattr(self.model, "n_classes", None)
        if top_k is not None:
            if targets is not None:
                raise UsageError("give targets or top_k, not both", ("targets", "top_k"))
            top_k = check_int(top_k, "top_k")
            if classes is not None and top_k > classes:
                raise UsageError(f"top_k {top_k} is more than the model's {classes} classes",
                                 "top_k")  # fmt: skip
            return [top_k] * n, [True] * n
        if targets is None:
            return [1] * n, [False] * n
        if single or _is_one(targets):
            per = [targets] * n
        else:
            per = list(targets)
            if len(per) != n:
                raise UsageError(f"targets: give one target, or one per image; received "
                                 f"{len(per)} for {n} images", "targets")  # fmt: skip
        wanted: list[Wanted] = []
        for item in per:
            several = not _is_one(item)
            asked = [item] if not several else list(item)
            if not asked:
                raise UsageError("targets: an image's list of classes is empty", "targets")
            checked = []
            for spec in asked:
                target = self._target(spec, classes)
                if target.index is None and several:
                    raise UsageError("targets: top stands alone, not in a list", "targets")
                checked.append(target)
            wanted.append(1 if checked[0].index is None else tuple(checked))
        return wanted, [not _is_one(item) for item in per]

    def _target(self, spec: Any, classes: int | None) -> ClassTarget:
        if not _is_one(spec):
            raise UsageError(f"targets: a class is an index or a name; received {spec!r}",
                             "targets")  # fmt: skip
        target = parse_class(str(spec) if isinstance(spec, np.integer) else spec, "targets")
        if classes is not None:
            named = bool(getattr(self.model, "imagenet_names", False))
            target.check(classes, self.model.name, named, param="targets")
        return target


def _is_one(value: Any) -> bool:
    return isinstance(value, (int, np.integer, str)) and not isinstance(value, bool)


def _spec(wanted: Wanted, j: int, sweep: Sweep) -> ClassTarget:
    """The record's ``class`` for the j-th class of an image."""
    if isinstance(wanted, tuple):
        return wanted[j]
    if wanted == 1:
        return ClassTarget()
    return ClassTarget(str(sweep.class_index), sweep.class_index)


def _same_size(images: Sequence[np.ndarray]) -> list[list[int]]:
    """Indices of the images, grouped by size (first seen first)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault(image.shape, []).append(i)
    return list(groups.values())
