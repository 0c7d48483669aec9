"""``occlude augment`` as a job: one unit per input, every copy of it written by a worker.

Reproducibility: every output's generator comes from (seed, the input's path relative to
its root, copy index); partners are drawn from the other inputs sorted by relative path,
and the dataset mean is an exact integer sum, so neither the order of the inputs nor the
number of workers changes a byte.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from occlude.augment.manifest import MANIFEST, VERSION, check_manifest_is_ours, write_manifest
from occlude.augment.maps import MapMaker, load_map
from occlude.augment.methods import Context, Method
from occlude.draws import output_rng, output_seed
from occlude.errors import InputError, OccludeError, UsageError
from occlude.fill import GREY
from occlude.imageio import (
    array_to_pil,
    channel_sums,
    check_format,
    load_array,
    output_suffix,
    save_image,
)
from occlude.inputs import InputImage, check_out_dir, discover
from occlude.labels import LabelReader
from occlude.mean_colour import mean_of
from occlude.paths import PathPlan
from occlude.runner import Job, Plan, Tick, Unit, UnitResult
from occlude.runner.job import ProgressFactory, failure_line
from occlude.runner.ledger import Ledger
from occlude.runner.state import FileHashes, fingerprint
from occlude.text import shown


@dataclass(frozen=True)
class Source:
    """An input that takes part: its path (as given), relative path, label and, for the
    guided methods, the path of its importance map."""

    path: str
    rel: str
    label: str | None
    map: str | None = None


@dataclass(frozen=True)
class AugmentTask:
    """What a worker needs for one input."""

    key: str
    source: Source
    pool_index: int
    outputs: tuple[str, ...]
    dataset_mean: tuple[float, float, float] | None
    config: str
    source_sha256: str | None


@dataclass
class AugmentJob(Job):
    """Augment every input into ``out_dir``; see :func:`occlude.augment.augment_files`."""

    name = "augment"

    inputs: Sequence[Path]
    method: Method
    out_dir: Path = Path("occlude-augmented")
    copies: int = 1
    seed: int = 0
    labels: str | Path | None = None
    fmt: str = "same"
    maps: Path | None = None
    map_maker: MapMaker | None = None
    _plan: Plan = field(init=False, repr=False)
    _pool: tuple[Source, ...] = field(init=False, repr=False)
    _position: dict[tuple[str, str], int] = field(init=False, repr=False)
    dataset_mean: tuple[float, float, float] | None = field(init=False, default=None)
    config: str = field(init=False, default="")
    _hashes: FileHashes | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        if self.copies < 1:
            raise UsageError(f"copies must be at least 1; received {self.copies}", "copies")
        check_format(self.fmt)
        check_out_dir(self.out_dir)
        check_manifest_is_ours(self.out_dir)
        if self.method.guided and (self.maps is None) == (self.map_maker is None):
            raise UsageError(
                f"{self.method.name} places its occlusion by importance: give maps=DIR (maps "
                "written by the sensitivity command with save_npy) or model=NAME to compute "
                "them, not both",
                ("maps=", "save_npy", "model="),
            )
        if not self.method.guided and (self.maps is not None or self.map_maker is not None):
            raise UsageError(
                f"maps=DIR and model=NAME apply to the guided methods only; received them with "
                f"method {self.method.name}",
                ("maps=", "model=", "method"),
            )
        self._plan = self._make_plan()

    def _make_plan(self) -> Plan:
        found = discover(list(self.inputs), exclude=self.out_dir)
        if not found.images and not found.failures:
            raise UsageError("no images found in the inputs given", "inputs")
        reader = LabelReader(self.labels) if self.labels is not None else None
        paths = PathPlan()
        paths.output_folder(self.out_dir)
        paths.write(self.out_dir / MANIFEST, "manifest")
        if reader is not None:
            paths.read(reader.csv, "labels")
        if self.maps is not None:
            paths.read_folder(self.maps, "maps")
        failures = [(shown(p), msg) for p, msg in found.failures]
        units: list[Unit] = []
        sources: list[Source] = []
        for folder in found.folders:
            paths.read_folder(folder, "input")
        for img in found.images:
            paths.read(img.path, "input")
            suffix = output_suffix(img.path, self.fmt)
            outs = [img.output(self.out_dir, suffix, f"_{self.method.name}_{k}")
                    for k in range(self.copies)]  # fmt: skip
            paths.write_all(outs, "output", owner=img.path)
            label = reader(img.path) if reader is not None else None
            if reader is not None and reader.csv is not None and label is None:
                failures.append((shown(img.path), f"{shown(img.path)}: no label in {reader.spec}"))
                continue
            rel = img.rel.as_posix()
            source = Source(str(img.path), rel, label, self._map_path(img))
            sources.append(source)
            units.append(Unit(
                key=f"augment:{self.method.name}:{rel}",
                source=img,
                outputs=tuple(o.relative_to(self.out_dir).as_posix() for o in outs),
                identity={"rel": rel, "label": label, "outputs": [o.name for o in outs]},
                index=len(units),
            ))  # fmt: skip
        paths.check()
        if self.method.mixing and len(sources) < 2:
            raise UsageError(
                f"{self.method.name} mixes each image with another input; give at least two images",
                "inputs",
            )
        self._pool = tuple(sorted(sources, key=lambda s: (s.rel, s.path)))
        self._position = {(s.rel, s.path): i for i, s in enumerate(self._pool)}
        return Plan(units, failures, list(found.notes), len(found.images) + len(found.failures),
                    paths.run_writes(self.out_dir))  # fmt: skip

    def _map_path(self, img: InputImage) -> str | None:
        """Where ``--save-npy`` wrote the input's map into ``maps`` (as its heatmap's path,
        with ``.npy``), or where the ``--model`` maps are kept."""
        if self.maps is not None:
            return str(img.output(self.maps, ".npy"))
        return None if self.map_maker is None else str(self.map_maker.path(img.rel.as_posix()))

    # --- the runner's side -----------------------------------------------------------

    def plan(self) -> Plan:
        return self._plan

    def prepare(
        self, engine: Any, hashes: FileHashes, progress: ProgressFactory
    ) -> list[tuple[str, str]]:
        self._hashes = hashes
        if self.map_maker is not None:
            keys = {str(u.source.path): u.key for u in self._plan.units if u.source is not None}
            with progress(len(self._pool), "saliency maps") as bar:
                failed = self.map_maker.ensure([(s.path, s.rel) for s in self._pool], hashes,
                                               bar.advance)  # fmt: skip
            return [(keys[path], line) for path, line in failed if path in keys]
        fill = getattr(self.method, "fill", None)
        if fill is None or fill.kind != "dataset-mean":
            return []
        units = self._plan.units
        totals, count, failed = [0, 0, 0], 0, []
        with progress(len(units), "dataset mean") as bar:
            for unit, result in engine.imap("channel_sums", units):
                bar.advance()
                if isinstance(result, str):
                    failed.append((unit.key, result))
                    continue
                sums, n = result
                totals = [t + s for t, s in zip(totals, sums, strict=True)]
                count += n
        self.dataset_mean = mean_of(totals, count) if count else (GREY, GREY, GREY)
        return failed

    def settings(self, hashes: FileHashes) -> dict[str, Any]:
        reader_csv = None if self.labels in (None, "folders") else str(self.labels)
        settings: dict[str, Any] = {
            "method": self.method.settings(),
            "seed": int(self.seed),
            "format": self.fmt,
            "labels": None if self.labels is None else str(self.labels),
            "labels_sha256": hashes(reader_csv),
            "dataset_mean": list(self.dataset_mean) if self.dataset_mean else None,
        }
        if self.method.mixing:  # partners can be any input: their contents count too
            settings["pool"] = [[s.rel, s.label, hashes(s.path)] for s in self._pool]
        if self.method.guided:  # and so do the maps of every input
            settings["maps"] = None if self.maps is None else str(self.maps)
            maker = self.map_maker
            settings["map_model"] = None if maker is None else maker.settings
            settings["map_hashes"] = [[s.rel, hashes(s.map)] for s in self._pool]
        self.config = fingerprint(settings, 16)
        return settings

    def task(self, unit: Unit) -> AugmentTask:
        assert unit.source is not None and self._hashes is not None
        index = self._position[(unit.source.rel.as_posix(), str(unit.source.path))]
        return AugmentTask(
            key=unit.key,
            source=self._pool[index],
            pool_index=index,
            outputs=unit.outputs,
            dataset_mean=self.dataset_mean,
            config=self.config,
            source_sha256=self._hashes(unit.source.path),
        )

    def process(self, task: AugmentTask, tick: Tick | None = None) -> UnitResult:
        """Write every copy of one input; failures become lines, never exceptions."""
        src = task.source
        result = UnitResult(task.key)
        try:
            image = load_array(Path(src.path), result.notes)
            saliency = load_map(src.map) if src.map is not None else None
        except (OccludeError, OSError, ValueError, MemoryError) as exc:
            result.fail(failure_line(src.path, exc), exc)
            return result
        partners = _Partners(self._pool, task.pool_index, _image)
        maps = _Partners(self._pool, task.pool_index, _map) if self.method.guided else None
        errors = []
        for copy, rel_out in enumerate(task.outputs):
            try:
                record = self._one_output(image, saliency, task, copy, rel_out, partners, maps)
            except (OccludeError, OSError, ValueError, MemoryError) as exc:
                partner = isinstance(exc, InputError)  # raised by reading a partner image
                errors.append(f"{shown(src.path)}: partner {exc}" if partner
                              else failure_line(src.path, exc))  # fmt: skip
                params = exc.params if isinstance(exc, OccludeError) else ()
                result.error_params = tuple(dict.fromkeys((*result.error_params, *params)))
                continue
            result.outputs[rel_out] = record
        if errors:
            result.error = errors[0] if len(errors) == 1 else "; ".join(errors)
        return result

    def _one_output(
        self,
        image: np.ndarray,
        saliency: np.ndarray | None,
        task: AugmentTask,
        copy: int,
        rel_out: str,
        partners: _Partners,
        maps: _Partners | None,
    ) -> dict[str, Any]:
        src, method = task.source, self.method
        rng = output_rng(self.seed, src.rel, copy)
        context = Context(partners if method.mixing else (), task.dataset_mean, saliency, maps)
        result = method(image, rng, context)
        out_path = self.out_dir / rel_out
        save_image(array_to_pil(result.image, out_path.suffix), out_path)
        index = result.partner_index
        partner = partners.source(index) if index is not None else None
        core = result.record(method.name, src.path, partner.path if partner else None)
        record: dict[str, Any] = {
            "version": VERSION,
            "output": rel_out,
            "source": src.path,
            "partner": core["partner"],
            "method": method.name,
            "seed": self.seed,
            "output_seed": f"{output_seed(self.seed, src.rel, copy):032x}",
            "config": task.config,
            "source_sha256": task.source_sha256,
            "params": core["params"],
        }
        if method.guided:
            record["saliency"] = {"map": src.map, "partner_map": partner.map if partner else None}
        if method.mixing:
            lam = result.label_weights[0]
            record["soft_label"] = _soft_label(src.label, partner.label if partner else None, lam)
        else:
            record.update(fill=core["fill"], label=src.label)
        return record

    def channel_sums(self, unit: Unit) -> tuple[list[int], int] | str:
        """The input's exact RGB sums and pixel count (the dataset mean), or its error line."""
        assert unit.source is not None
        try:
            return channel_sums(unit.source.path)
        except InputError as exc:
            return failure_line(unit.source.path, exc)

    def finish(
        self,
        ledger: Ledger | None,
        records: Sequence[dict[str, Any]],
        stopped: bool,
        sharded: bool = False,
    ) -> None:
        """The manifest, unless this run did one shard: then the ledger part it wrote is
        its share, and a run without a shard (which finds everything finished) merges."""
        if ledger is not None and not sharded:
            write_manifest(ledger, self.out_dir)


class _Partners(Sequence[np.ndarray]):
    """The sorted pool without the source itself, each read on demand by ``read`` (its
    image or its map) and kept."""

    def __init__(self, pool: Sequence[Source], skip: int, read: Callable[[Source], Any]) -> None:
        self.pool, self.skip, self.read = pool, skip, read
        self._cache: dict[int, np.ndarray] = {}

    def source(self, index: int) -> Source:
        return self.pool[index if index < self.skip else index + 1]

    def __len__(self) -> int:
        return len(self.pool) - 1

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        if index not in self._cache:
            self._cache[index] = self.read(self.source(index))
        return self._cache[index]


def _image(source: Source) -> np.ndarray:
    return load_array(Path(source.path))


def _map(source: Source) -> np.ndarray:
    try:
        if source.map is None:
            raise InputError("no saliency map")
        return load_map(source.map, "saliency map")
    except InputError as exc:  # not the partner image itself: no "partner" prefix
        raise OccludeError(f"partner {source.path}: {exc}", exc.params) from None


def _soft_label(source: str | None, partner: str | None, lam: float) -> dict[str, float] | None:
    if source is None:
        return None
    weights = {source: lam}
    if partner is not None:
        weights[partner] = weights.get(partner, 0.0) + (1.0 - lam)
    return weights
