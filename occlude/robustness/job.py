"""``occlude robustness`` as a job: one unit per labelled image, aggregated at the end."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from occlude.checks import check_int
from occlude.errors import OccludeError, UsageError
from occlude.fill import Fill, parse_fill
from occlude.imageio import read_rgb, resize_rgb
from occlude.inputs import check_out_dir, discover
from occlude.labels import LabelReader
from occlude.paths import PathPlan
from occlude.robustness.core import (
    FRACTIONS,
    Case,
    Row,
    Sample,
    aggregate,
    check_fractions,
    check_methods,
    image_cases,
    jobs_per_image,
    resolve_label,
)
from occlude.robustness.summary import SUMMARY, Gate, RobustnessResult
from occlude.runner import Job, Plan, Tick, Unit, UnitResult
from occlude.runner.events import is_int, is_number
from occlude.runner.job import Dropped, ProgressFactory, failure_line
from occlude.runner.ledger import Ledger
from occlude.runner.state import FileHashes
from occlude.scoring import balanced_batch_size
from occlude.text import shown
from occlude.zoo import ModelSpec

if TYPE_CHECKING:
    from occlude.model import Classifier

ROBUSTNESS_FILLS = ("mean", "noise")


@dataclass
class RobustnessJob(Job):
    """Accuracy under growing occlusion over labelled images: :attr:`result` after the run,
    which ``finish`` also writes to ``out_dir`` (``robustness.json``, judged by ``gate``
    if there is one, and ``robustness.png``). ``model`` may be None when ``clf`` is given
    (a model already in memory)."""

    name = "robustness"

    inputs: Sequence[Path]
    labels: str | Path | Mapping[Path, str]
    model: ModelSpec | None
    methods: Sequence[str] = ("cutout", "hide-and-seek", "random-erasing")
    fractions: Sequence[float] = FRACTIONS
    fill: Fill | str = "grey"
    seed: int = 0
    batch_size: int = 32
    repeats: int = 1
    also_writes: dict[str, Path] = field(default_factory=dict)
    out_dir: Path | None = None
    clf: Classifier | None = field(default=None, repr=False)
    gate: Gate | None = None
    result: RobustnessResult | None = field(init=False, default=None)
    _plan: Plan = field(init=False, repr=False)
    _labels: dict[str, str] = field(init=False, default_factory=dict, repr=False)
    _index: dict[str, int] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.methods = check_methods(self.methods)
        self.fractions = check_fractions(self.fractions)
        self.repeats = check_int(self.repeats, "repeats")
        if isinstance(self.fill, str):
            self.fill = parse_fill(self.fill, ROBUSTNESS_FILLS)
        if self.batch_size < 1:
            raise UsageError(f"batch_size must be at least 1; received {self.batch_size}",
                             "batch_size")  # fmt: skip
        if self.out_dir is not None:
            self.out_dir = Path(self.out_dir)
            check_out_dir(self.out_dir)
        if self.model is None and self.clf is None:
            raise UsageError("give a model", "model")
        if self.gate is not None:
            self.gate.check_fractions(self.fractions)
        self._plan = self._make_plan()

    @property
    def rows(self) -> list[Row]:
        return self.result.rows if self.result is not None else []

    def _make_plan(self) -> Plan:
        found = discover(list(self.inputs))
        if not found.images and not found.failures:
            names = ", ".join(shown(p) for p in self.inputs)
            raise UsageError(f"no images found in {names}", "inputs")
        reader = LabelReader(self.labels)
        paths = PathPlan()
        for folder in found.folders:
            paths.read_folder(folder, "input")
        if self.model is not None:
            paths.read(self.model.model_file, "model")
            paths.read(self.model.weights_file, "weights")
        paths.read(reader.csv, "labels")
        failures = [(shown(p), msg) for p, msg in found.failures]
        units: list[Unit] = []
        weight = jobs_per_image(self.methods, self.fractions, self.repeats)
        for img in found.images:
            paths.read(img.path, "input")
            text = reader(img.path)
            if text is None:
                failures.append((shown(img.path), f"{shown(img.path)}: no label in {reader.spec}"))
                continue
            rel = img.rel.as_posix()
            key = f"robustness:{rel}"
            self._labels[key] = text
            units.append(Unit(key, img, (), {"rel": rel, "label": text}, weight, len(units)))
        for role, target in self.also_writes.items():
            paths.write(target, role)
        if self.out_dir is not None:
            paths.output_folder(self.out_dir)
            for name in SUMMARY:
                paths.write(self.out_dir / name, "out_dir")
        paths.check()
        shared = paths.run_writes(self.out_dir) if self.out_dir is not None else ()
        return Plan(units, failures, list(found.notes), len(found.images) + len(found.failures),
                    shared)  # fmt: skip

    # --- the runner's side -----------------------------------------------------------

    def plan(self) -> Plan:
        return self._plan

    def classifier(self) -> Classifier:
        if self.clf is None:
            assert self.model is not None
            self.clf = self.model.load()
        return self.clf

    def prepare(self, engine: Any, hashes: FileHashes, progress: ProgressFactory) -> list[Dropped]:
        clf = self.classifier()
        failed: list[Dropped] = []
        for unit in self._plan.units:
            try:
                self._index[unit.key] = resolve_label(
                    self._labels[unit.key], clf.n_classes, clf.imagenet_names
                )
            except UsageError as exc:  # a bad label fails its own input only
                assert unit.source is not None
                failed.append((unit.key, f"{shown(unit.source.path)}: {exc}", exc.params))
        return failed

    def record_ok(self, record: dict[str, Any] | None) -> bool:
        """``{"rel": str, "cases": [[method, fraction, repeat, hit, score], ...]}``."""
        if not isinstance(record, dict) or not isinstance(record.get("rel"), str):
            return False
        cases = record.get("cases")
        return isinstance(cases, list) and all(map(_case_ok, cases))

    def setup(self) -> None:
        self.classifier()

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "clf": None}

    def settings(self, hashes: FileHashes) -> dict[str, Any]:
        clf, spec = self.classifier(), self.model
        assert isinstance(self.fill, Fill)
        return {
            "model": clf.name,
            "model_sha256": hashes(spec.model_file if spec else None),
            "weights": clf.weights,
            "weights_sha256": hashes(spec.weights_file if spec else None),
            "preprocess": clf.preprocess,
            "backend": clf.backend,
            "precision": clf.precision,
            "methods": list(self.methods),
            "fractions": list(self.fractions),
            "fill": self.fill.as_json(),
            "seed": self.seed,
            "repeats": self.repeats,
            "placements": 2,  # drawn from one int32 key per case (1: NumPy's generator)
        }

    def task(self, unit: Unit) -> tuple[Unit, int]:
        return unit, self._index[unit.key]

    def process(self, task: tuple[Unit, int], tick: Tick | None = None) -> UnitResult:
        unit, label = task
        assert unit.source is not None and isinstance(self.fill, Fill)
        result = UnitResult(unit.key)
        clf = self.classifier()
        try:
            rgb = read_rgb(unit.source.path, result.notes)
            sample = Sample(
                unit.source.rel.as_posix(),
                rgb if clf.input_size is None else resize_rgb(rgb, clf.input_size).astype(np.uint8),
                label,
            )
            batch = balanced_batch_size(unit.weight, self.batch_size)
            cases = image_cases(sample, clf.predictor(batch), methods=self.methods,
                                fractions=self.fractions, fill=self.fill, seed=self.seed,
                                repeats=self.repeats, batch_size=batch,
                                on_progress=tick)  # fmt: skip
        except (OccludeError, OSError, MemoryError) as exc:
            if isinstance(exc, UsageError):
                raise
            result.fail(failure_line(unit.source.path, exc), exc)
            return result
        result.record = {"rel": sample.rel, "label": label,
                         "cases": [list(c) for c in cases]}  # fmt: skip
        return result

    def finish(
        self,
        ledger: Ledger | None,
        records: Sequence[dict[str, Any]],
        stopped: bool,
        sharded: bool = False,
    ) -> None:
        per_image = [(str(r["rel"]), [_case(c) for c in r["cases"]]) for r in records]
        rows = aggregate(per_image, self.methods, self.fractions, self.seed)
        clf = self.classifier()
        assert isinstance(self.fill, Fill)
        done = {str(r["rel"]) for r in records}
        failed = [source for source, _ in self._plan.failures] + [
            shown(u.source.path) for u in self._plan.units
            if u.source is not None and u.source.rel.as_posix() not in done
        ]  # fmt: skip
        self.result = RobustnessResult(rows, clf.name, clf.weights, tuple(self.methods),
                                       tuple(self.fractions), self.fill.as_json(), self.seed,
                                       self.repeats, failed)  # fmt: skip
        if self.out_dir is not None and not stopped and not sharded:
            self.result.save(self.out_dir, self.gate)


def _case_ok(values: object) -> bool:
    return (isinstance(values, list) and len(values) == 5 and isinstance(values[0], str)
            and is_number(values[1]) and is_int(values[2]) and isinstance(values[3], bool)
            and is_number(values[4]))  # fmt: skip


def _case(values: Sequence[Any]) -> Case:
    m, f, r, hit, score = values
    return (str(m), float(f), int(r), bool(hit), float(score))
