"""``augment_files``: the library call behind ``occlude augment``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from occlude.augment.job import AugmentJob
from occlude.augment.manifest import MANIFEST
from occlude.augment.methods import Method
from occlude.errors import UsageError
from occlude.runner import Runner, choose_engine

DEFAULT_OUT = Path("occlude-augmented")


@dataclass(frozen=True)
class AugmentReport:
    """What a run did: outputs written, the manifest, and one line per failure."""

    inputs: int
    written: int
    out_dir: Path
    manifest: Path
    failures: tuple[str, ...]
    failed_inputs: tuple[str, ...] = ()
    dataset_mean: tuple[float, float, float] | None = None


def augment_files(
    inputs: Sequence[str | Path],
    method: Method,
    *,
    out_dir: str | Path = DEFAULT_OUT,
    copies: int = 1,
    seed: int = 0,
    workers: int | None = None,
    labels: str | Path | None = None,
    fmt: str = "same",
    show_progress: bool = True,
    on_error: Callable[[str], None] | None = None,
    overwrite: bool = False,
    fail_fast: bool = False,
    on_note: Callable[[str], None] | None = None,
) -> AugmentReport:
    """Augment image files and folders into ``out_dir`` and write ``manifest.jsonl``.

    Outputs mirror each input's relative path as ``<stem>_<method>_<k><ext>``. An input
    that fails (unreadable, no label in the CSV, a partner unreadable) is reported through
    ``on_error`` as one line and listed in the report; the others are still written.
    ``labels`` is ``"folders"`` or the path of a ``path,label`` CSV.

    Resuming: unless ``overwrite``, an input whose outputs all exist from an earlier run
    with the same fingerprint (method, options, seed, format, labels, the input's bytes,
    the dataset mean, and for mixing methods every input's bytes) is not redone.
    ``fail_fast`` stops at the first input that fails.

    Raises:
        Interrupted: Ctrl-C; the manifest still covers every finished output.
        UsageError: bad arguments, no inputs, outputs that would collide or overwrite an
            input, a manifest occlude did not write, or fewer than two usable inputs for
            a mixing method.
    """
    if workers is not None and workers < 1:
        raise UsageError(f"workers must be at least 1; received {workers}", "workers")
    job = AugmentJob([Path(p) for p in inputs], method, Path(out_dir), copies, seed, labels, fmt)
    engine = choose_engine(workers, len(job.plan().units))
    runner = Runner(job, engine=engine, overwrite=overwrite, fail_fast=fail_fast,
                    progress=show_progress, label="augment")  # fmt: skip
    written = 0
    failed: list[str] = []
    for outcome in runner.run():
        if outcome.status == "note" and on_note is not None and outcome.message:
            on_note(outcome.message)
        for note in outcome.notes:
            if on_note is not None:
                on_note(f"{outcome.source}: {note}")
        if outcome.status == "failed":
            failed.append(outcome.source)
            if on_error is not None and outcome.message:
                on_error(outcome.message)
        elif outcome.unit is not None:
            written += len(outcome.unit.outputs)
    report = runner.report
    return AugmentReport(
        inputs=report.inputs,
        written=written,
        out_dir=Path(out_dir),
        manifest=Path(out_dir) / MANIFEST,
        failures=tuple(report.failures),
        failed_inputs=tuple(sorted(set(failed))),
        dataset_mean=job.dataset_mean,
    )
