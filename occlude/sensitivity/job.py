"""``occlude sensitivity`` as a job: one unit per image file.

Read, then what the Python API does for one image: :class:`OcclusionSensitivity` (loaded
once per process) resizes and sweeps it, and the :class:`SensitivityResult` draws and
writes its files and record (:meth:`SensitivityResult.write`), so that the command and
``result.save(dir)`` write the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from occlude.errors import OccludeError, UsageError
from occlude.imageio import read_rgb
from occlude.inputs import InputImage, check_out_dir, discover
from occlude.paths import PathPlan
from occlude.runner import Job, Plan, Tick, Unit, UnitResult
from occlude.runner.job import ProgressFactory, failure_line
from occlude.runner.state import FileHashes
from occlude.sensitivity import outputs as O
from occlude.sensitivity.compute import ComputePlan
from occlude.sensitivity.explainer import OcclusionSensitivity, Wanted
from occlude.sensitivity.options import SensitivityOptions
from occlude.sensitivity.pictures import Picture
from occlude.sensitivity.result import SensitivityResult
from occlude.sensitivity.windows import default_patch_sizes, scale_windows
from occlude.text import shown
from occlude.zoo import ModelSpec

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
    _plan: Plan = field(init=False, repr=False)
    _hashes: FileHashes | None = field(init=False, default=None, repr=False)
    _settings: dict[str, Any] = field(init=False, default_factory=dict, repr=False)
    _explainer: OcclusionSensitivity | None = field(init=False, default=None, repr=False)
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

    def explainer(self) -> OcclusionSensitivity:
        if self._explainer is None:
            self._explainer = OcclusionSensitivity.from_spec(self.model, self.options)
        return self._explainer

    def classifier(self) -> Classifier:
        clf: Classifier = self.explainer().model
        return clf

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
        return self.explainer().compute_plan(len(self._plan.units))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_explainer"] = None  # each worker loads its own model, and its own engine
        state["_hashes"] = None
        return state

    def settings(self, hashes: FileHashes) -> dict[str, Any]:
        model = self.explainer().model_settings(hashes)
        self._settings = O.run_settings(model, self.options, hashes)
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
        opts = self.options
        started = time.perf_counter()
        paths = O.output_paths(item, self.out_dir, opts)
        # The record marks a finished image: drop an old one before overwriting outputs.
        paths["record"].unlink(missing_ok=True)
        picture = Picture(read_rgb(item.path, result.notes), item.rel.name, item.path)
        wanted: Wanted = 1 if opts.target.index is None else (opts.target,)
        ((sweep,),) = self.explainer().results([picture], [wanted], self.compute_plan(), tick)
        top1 = sweep.top(1)[0][0]
        if sweep.class_index != top1:
            result.warnings.append(self._not_top1(item, sweep, top1))
        record = sweep.write(paths, {**task.settings, "input_sha256": task.input_sha256})
        result.seconds = round(time.perf_counter() - started, 3)
        return record

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
