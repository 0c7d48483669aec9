"""``occlude sensitivity`` as a job: one unit per image file.

Read, resize to the model's input, sweep, render, record. The edges meet here: image
files (:mod:`occlude.imageio`), the Keras classifier (:mod:`occlude.model`, loaded once per
process) and matplotlib (:mod:`occlude.render`, imported on use).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from occlude.errors import OccludeError, UsageError
from occlude.imageio import read_rgb, resize_rgb
from occlude.inputs import InputImage, check_out_dir, discover
from occlude.model.windows import WindowScorer
from occlude.paths import PathPlan
from occlude.runner import Job, Plan, Tick, Unit, UnitResult
from occlude.runner.job import ProgressFactory, failure_line
from occlude.runner.state import FileHashes
from occlude.scoring import balanced_batch_size
from occlude.sensitivity import outputs as O
from occlude.sensitivity.compute import ComputePlan, decide
from occlude.sensitivity.core import (
    SensitivityResult,
    fill_pixels,
    occlusion_sensitivity,
    scale_windows,
)
from occlude.sensitivity.metrics import deletion_insertion
from occlude.sensitivity.options import SensitivityOptions
from occlude.sensitivity.windows import default_patch_sizes
from occlude.text import shown
from occlude.zoo import ModelSpec, describe_model

if TYPE_CHECKING:
    from occlude.model import Classifier


@dataclass(frozen=True)
class Task:
    unit: Unit
    settings: dict[str, Any]
    input_sha256: str | None


@dataclass
class SensitivityJob(Job):
    """Maps for every image under ``inputs`` into ``out_dir``.

    ``also_writes`` names other files the caller will write (``{"json_path": path}``), so
    that they are checked against everything the run reads; ``report`` says that the
    caller builds the report into ``out_dir`` at the end, so its files are checked too.
    """

    name = "sensitivity"

    inputs: Sequence[Path]
    model: ModelSpec
    options: SensitivityOptions = field(default_factory=SensitivityOptions)
    out_dir: Path = Path("occlude-out")
    also_writes: dict[str, Path] = field(default_factory=dict)
    report: bool = False
    clf: Classifier | None = field(default=None, repr=False)
    _plan: Plan = field(init=False, repr=False)
    _hashes: FileHashes | None = field(init=False, default=None, repr=False)
    _settings: dict[str, Any] = field(init=False, default_factory=dict, repr=False)
    _scorer: Any = field(init=False, default=None, repr=False)
    _compute: ComputePlan | None = field(init=False, default=None, repr=False)
    _windows: dict[int, int] | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        check_out_dir(self.out_dir)
        self._plan = self._make_plan()

    def _make_plan(self) -> Plan:
        found = discover(list(self.inputs), exclude=self.out_dir)
        if not found.images and not found.failures:
            names = ", ".join(shown(p) for p in self.inputs)
            raise UsageError(f"no images found in {names}", "inputs")
        paths = PathPlan()
        paths.output_folder(self.out_dir)
        for folder in found.folders:
            paths.read_folder(folder, "input")
        paths.read(self.model.model_file, "model")
        paths.read(self.model.weights_file, "weights")
        paths.read(self.options.expect_mask, "expect_mask")
        units: list[Unit] = []
        for img in found.images:
            paths.read(img.path, "input")
            outs = list(O.output_paths(img, self.out_dir, self.options).values())
            paths.write_all(outs, "output", owner=img.path)
            rel = img.rel.as_posix()
            units.append(Unit(
                key=f"sensitivity:{rel}",
                source=img,
                outputs=tuple(o.relative_to(self.out_dir).as_posix() for o in outs),
                identity={"rel": rel},
                index=len(units),
            ))  # fmt: skip
        for role, target in self.also_writes.items():
            paths.write(target, role)
        # The report's own files are governed by its list (report/written.json), not
        # owned by this command in the ledger: taken before they are declared.
        shared = paths.run_writes(self.out_dir)
        if self.report:
            from occlude.report.owned import declare

            declare(paths, self.out_dir)
        paths.check()
        if self.report:
            from occlude.report.owned import preflight

            preflight(self.out_dir)
        failures = [(shown(p), msg) for p, msg in found.failures]
        return Plan(units, failures, list(found.notes), len(found.images) + len(found.failures),
                    shared)  # fmt: skip

    # --- the runner's side -----------------------------------------------------------

    def plan(self) -> Plan:
        return self._plan

    def classifier(self) -> Classifier:
        if self.clf is None:
            self.clf = self.model.load()
        return self.clf

    def prepare(
        self, engine: Any, hashes: FileHashes, progress: ProgressFactory
    ) -> list[tuple[str, str]]:
        self._hashes = hashes
        clf = self.classifier()
        self.options.target.check(clf.n_classes, clf.name, clf.imagenet_names)
        windows = sum(self.windows().values())
        scale, sizes = self.options.animate_scale, default_patch_sizes(*clf.input_size)
        if scale is not None and not self.options.patch_sizes and scale not in sizes:
            raise UsageError(
                f"animate_scale {scale} is not one of the default patch sizes {list(sizes)} "
                f"at {clf.input_size}",
                "animate_scale",
            )
        self._plan.units[:] = [_weighted(u, windows + 1) for u in self._plan.units]
        plan = self.compute_plan()
        self.warnings = [plan.note] if plan.note else []
        return []

    def record_ok(self, record: dict[str, Any] | None) -> bool:
        return O.record_ok(record)

    def setup(self) -> None:
        self.classifier()

    def windows(self) -> dict[int, int]:
        """``{patch size: windows}`` of the sweep at the model's input size."""
        if self._windows is None:
            opts, size = self.options, self.classifier().input_size
            self._windows = scale_windows(size, opts.patch_sizes or None, opts.strides or None)
        return self._windows

    def compute_plan(self) -> ComputePlan:
        """Which scales run incrementally (decided once per process, from the engine's
        estimates and the number of images in the whole run, shards and finished ones
        included)."""
        if self._compute is None:
            clf, opts = self.classifier(), self.options
            self._scorer = WindowScorer(clf, opts.batch_size, opts.approx)
            images = len(self._plan.units)
            self._compute = decide(opts.compute, opts.approx, clf.precision, self._scorer,
                                   self.windows(), clf.name, images)  # fmt: skip
        return self._compute

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["clf"] = None  # each worker loads its own, and its own engine
        state["_hashes"] = None
        state["_scorer"] = None
        state["_compute"] = None
        return state

    def settings(self, hashes: FileHashes) -> dict[str, Any]:
        clf = self.classifier()
        self._settings = {
            "model": clf.name,
            "model_sha256": hashes(self.model.model_file),
            "weights": clf.weights,
            "weights_sha256": hashes(self.model.weights_file),
            "preprocess": clf.preprocess,
            "backend": clf.backend,
            "precision": clf.precision,
            **self.options.settings(),
            "expect_mask_sha256": hashes(self.options.expect_mask),
            **({"class_names": self.model.class_names} if self.model.class_names else {}),
        }
        return self._settings

    def task(self, unit: Unit) -> Task:
        assert unit.source is not None and self._hashes is not None
        return Task(unit, self._settings, self._hashes(unit.source.path))

    def process(self, task: Task, tick: Tick | None = None) -> UnitResult:
        unit = task.unit
        assert unit.source is not None
        result = UnitResult(unit.key)
        try:
            result.record = self.analyse(unit.source, task, tick, result)
        except (OccludeError, OSError, MemoryError) as exc:
            if isinstance(exc, UsageError):
                raise
            result.fail(failure_line(unit.source.path, exc), exc)
            return result
        result.outputs = {rel: None for rel in unit.outputs}
        return result

    # --- one image -----------------------------------------------------------------

    def analyse(
        self, item: InputImage, task: Task, tick: Tick | None, result: UnitResult
    ) -> dict[str, Any]:
        """Run the sweep on one image file, write its outputs and return its record."""
        clf, opts = self.classifier(), self.options
        started = time.perf_counter()
        paths = O.output_paths(item, self.out_dir, opts)
        # The record marks a finished image: drop an old one before overwriting outputs.
        paths["record"].unlink(missing_ok=True)
        original = read_rgb(item.path, result.notes)
        image = resize_rgb(original, clf.input_size)
        sweep = self.sweep(image, tick)
        top = np.argsort(-sweep.base_scores, kind="stable")[:5]
        if sweep.class_index != int(top[0]):
            result.warnings.append(self._not_top1(item, sweep, int(top[0])))
        extra = self.extras(original, image, sweep)
        self.render(item, original, image, sweep, paths, extra.pop("_curves", None))
        record = {
            "input": str(item.path),
            "outputs": {kind: str(path) for kind, path in paths.items()},
            "model": clf.name,
            "weights": clf.weights,
            "preprocess": clf.preprocess,
            "backend": clf.backend,
            "precision": clf.precision,
            "input_size": list(clf.input_size),
            "class_index": sweep.class_index,
            "class_name": clf.class_name(sweep.class_index),
            "base_score": sweep.base_score,
            "top1_index": int(top[0]),
            "top5": [[int(i), clf.class_name(int(i)), float(sweep.base_scores[i])] for i in top],
            "patch_sizes": list(sweep.patch_sizes),
            "strides": list(sweep.strides),
            "fill": opts.fill.as_json(),
            "windows": sweep.windows,
            "compute": self.compute_plan().used(sweep.patch_sizes),
            "macs_fraction": self.compute_plan().macs_fraction(
                sweep.patch_sizes, [len(b) for b in sweep.boxes]
            ),
            "approx": opts.approx,
            "map_min": float(sweep.map.min()),
            "map_max": float(sweep.map.max()),
            **extra,
            "settings": {**task.settings, "input_sha256": task.input_sha256},
        }
        result.seconds = round(time.perf_counter() - started, 3)
        O.write_record(paths["record"], record)  # last: marks the image as done
        return O.finite(record)  # type: ignore[no-any-return]

    def sweep(self, image: np.ndarray, tick: Tick | None) -> SensitivityResult:
        clf, opts = self.classifier(), self.options
        windows = self.windows()
        plan = self.compute_plan()
        # whole copies in evened-out batches (with the plain image when no scale is
        # incremental; else it comes from the engine's clean pass)
        whole = sum(n for p, n in windows.items() if p not in plan.incremental)
        batch = balanced_batch_size(whole + (0 if plan.incremental else 1), opts.batch_size)
        return occlusion_sensitivity(
            image,
            clf.predictor(batch),
            class_index=opts.target.index,
            patch_sizes=opts.patch_sizes or None,
            strides=opts.strides or None,
            fill=opts.fill,
            batch_size=opts.batch_size if plan.incremental else batch,
            on_progress=tick,
            scorer=self._scorer,
            incremental=plan.incremental,
        )

    def extras(
        self, original: np.ndarray, image: np.ndarray, sweep: SensitivityResult
    ) -> dict[str, Any]:
        """``focus`` (with a region) and the faithfulness metrics (with ``metrics``)."""
        opts, extra = self.options, dict[str, Any]()
        if opts.has_region:
            extra["focus"] = O.image_focus(sweep.map, original.shape[:2], opts)
        if opts.metrics:
            curves = deletion_insertion(
                image,
                sweep.map,
                self.classifier().predictor(opts.batch_size),
                sweep.class_index,
                deleted=fill_pixels(image, opts.fill),
                blurred=fill_pixels(image, "blur"),
                steps=opts.steps,
                rng=np.random.default_rng(opts.seed),
                batch_size=opts.batch_size,
            )
            extra.update(curves.summary())
            extra["curves"] = O.curves_json(curves)
            extra["_curves"] = curves
        return extra

    def render(
        self,
        item: InputImage,
        original: np.ndarray,
        image: np.ndarray,
        sweep: SensitivityResult,
        paths: dict[str, Path],
        curves: Any,
    ) -> None:
        from occlude import render

        clf, opts = self.classifier(), self.options
        title = O.title(item, sweep, clf.class_name(sweep.class_index), clf.label, str(opts.fill))
        if clf.precision != "float32":
            title += f", {clf.precision}"
        if opts.approx < 1.0:
            title += f", approximate (tau {opts.approx:g})"
        render.heatmap_png(paths["heatmap"], original, sweep.map, title, O.MAP_LABEL)
        panels = [
            (f"patch {p}, stride {s}", m)
            for p, s, m in zip(sweep.patch_sizes, sweep.strides, sweep.scale_maps, strict=True)
        ]
        if len(panels) > 1:
            panels.append(("multi-scale mean", sweep.map))
        render.contact_sheet_png(paths["sheet"], image, panels, title, O.MAP_LABEL, curves)
        if opts.save_npy:
            O.save_arrays(paths, sweep)
        if opts.animate:
            from occlude.sensitivity.animation import animate_sweep

            name = clf.class_name(sweep.class_index)
            short = (f"{shown(item.rel.name)}: {O.describe_class(name, sweep.class_index)}  |  "
                     f"{shown(describe_model(Path(clf.name).name, clf.weights))}")  # fmt: skip
            anim = animate_sweep(image, sweep, opts.fill, patch=opts.animate_scale, title=short)
            anim.save(paths["animation"], opts.animate_format)

    def _not_top1(self, item: InputImage, sweep: SensitivityResult, top1: int) -> str:
        clf = self.classifier()
        return (
            f"{shown(item.path)}: target "
            f"{O.describe_class(clf.class_name(sweep.class_index), sweep.class_index)} scores "
            f"{sweep.base_score:.3g}, but the model's top-1 is "
            f"{O.describe_class(clf.class_name(top1), top1)} at "
            f"{float(sweep.base_scores[top1]):.3g}"
        )


def _weighted(unit: Unit, weight: int) -> Unit:
    from dataclasses import replace

    return replace(unit, weight=weight)
