"""``occlude sensitivity``: heatmaps of where a Keras classifier looks."""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from occlude.cli._common import (
    AddressOption,
    BackendOption,
    ClassNamesOption,
    EngineChoice,
    EngineOption,
    FailFastOption,
    GpusOption,
    Inputs,
    JsonOption,
    ModelOption,
    OverwriteOption,
    PrecisionOption,
    PreprocessOption,
    QuietOption,
    ShardOption,
    UnsafeModelOption,
    WeightsOption,
    WorkersOption,
    class_names,
    drive,
    finish,
    guarded,
    json_file,
    make_engine,
    number,
    parse_shard,
    quiet_warnings,
    say,
    split_ints,
    write_json_to,
)
from occlude.cli.help import COMPUTE, GATES, OUTPUTS, RUN, SWEEP, Command
from occlude.errors import UsageError


class Compute(StrEnum):
    auto = "auto"
    incremental = "incremental"
    full = "full"


class AnimationFormat(StrEnum):
    gif = "gif"
    webp = "webp"


if TYPE_CHECKING:
    from occlude.runner import Outcome, Runner
    from occlude.sensitivity.job import SensitivityJob
    from occlude.sensitivity.options import SensitivityOptions

HELP = """Heatmaps of where a classifier looks, by occluding patches.

Slides grey patches of several sizes over each image, measures how much the target
class's score drops, and writes heatmaps, raw maps and JSON. Positive values (red) mark
regions whose occlusion lowers the class score, i.e. that support the class.

Exit codes: 0 all done, 1 some inputs failed, 2 usage error, 3 a --min-focus gate failed,
130 interrupted."""


def sensitivity(
    inputs: Inputs,
    model: ModelOption = "resnet50",
    weights: WeightsOption = None,
    preprocess: PreprocessOption = None,
    class_: Annotated[
        str,
        typer.Option(
            "--class",
            "-c",
            metavar="INDEX|NAME|top",
            help="Target class: an index, an ImageNet class name (tabby, works offline; a "
            "model file needs --class-names imagenet) or top (each image's top-1 class).",
            rich_help_panel=SWEEP,
        ),
    ] = "top",
    patch: Annotated[
        list[str] | None,
        typer.Option(
            "--patch",
            "-p",
            metavar="N[,N...]",
            help="Patch size(s) in model-input pixels: --patch 40, --patch 20,40,80 or "
            "repeated. Default: 1/14, 1/7, 1/4 and 1/2 of the input's shorter side "
            "(16,32,56,112 at 224).",
            show_default=False,
            rich_help_panel=SWEEP,
        ),
    ] = None,
    stride: Annotated[
        list[str] | None,
        typer.Option(
            "--stride",
            "-s",
            metavar="N[,N...]",
            help="Stride(s): one for all patch sizes or one per size. Default: each patch "
            "size. Must not exceed the patch.",
            show_default=False,
            rich_help_panel=SWEEP,
        ),
    ] = None,
    fill: Annotated[
        str,
        typer.Option(
            metavar="FILL",
            help="Occluding value in pixel space: grey (127.5), black, white, mean (the "
            "image's channel means), blur (Gaussian, sigma 1/16 of the shorter side), a "
            "number or R,G,B.",
            rich_help_panel=SWEEP,
        ),
    ] = "grey",
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            "-b",
            metavar="N",
            **number(1, whole=True),
            help="Most occluded copies per model call (evened out so that the last call "
            "is not mostly padding).",
            rich_help_panel=COMPUTE,
        ),
    ] = 32,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="Output folder; input sub-folders are mirrored.",
            rich_help_panel=OUTPUTS,
        ),
    ] = Path("occlude-out"),
    save_npy: Annotated[
        bool,
        typer.Option(
            "--save-npy",
            help="Also write <stem>.npy (float32 multi-scale map at model-input size) and "
            "<stem>_scales.npz (per-scale maps, patch sizes, strides).",
            rich_help_panel=OUTPUTS,
        ),
    ] = False,
    json_path: JsonOption = None,
    expect_box: Annotated[
        str | None,
        typer.Option(
            "--expect-box",
            metavar="X0,Y0,X1,Y1",
            help="Where the evidence should be, in original-image pixels (end-exclusive): "
            "adds 'focus' to each record, the share of the map's positive part inside it.",
            show_default=False,
            rich_help_panel=GATES,
        ),
    ] = None,
    expect_mask: Annotated[
        Path | None,
        typer.Option(
            "--expect-mask",
            metavar="MASK",
            help="Like --expect-box, from an image whose non-zero pixels mark the region "
            "(resized to each image).",
            show_default=False,
            rich_help_panel=GATES,
        ),
    ] = None,
    min_focus: Annotated[
        float | None,
        typer.Option(
            "--min-focus",
            **number(0, 1),
            metavar="F",
            help="Exit 3 (after writing everything) when any image's focus is below F.",
            show_default=False,
            rich_help_panel=GATES,
        ),
    ] = None,
    metrics: Annotated[
        bool,
        typer.Option(
            "--metrics",
            help="Add deletion_auc and insertion_auc (RISE) and their random-order "
            "baselines to each record, and their curves to the contact sheet.",
            rich_help_panel=OUTPUTS,
        ),
    ] = False,
    steps: Annotated[
        int,
        typer.Option(
            "--steps",
            metavar="N",
            help="Steps of the --metrics curves.",
            rich_help_panel=OUTPUTS,
            **number(1, whole=True),
        ),
    ] = 20,
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            metavar="S",
            help="Seed of the random-order baseline (--metrics) and of random weights "
            "(--weights none).",
            rich_help_panel=RUN,
            **number(0, whole=True),
        ),
    ] = 0,
    compute: Annotated[
        Compute,
        typer.Option(
            "--compute",
            help="auto: recompute only what each patch changes where the engine estimates it "
            "pays, whole copies elsewhere; incremental: everywhere; full: whole copies. The "
            "maps are the same within float32 round-off.",
            rich_help_panel=COMPUTE,
        ),
    ] = Compute.auto,
    approx: Annotated[
        float,
        typer.Option(
            "--approx",
            **number(0, 1),
            metavar="TAU",
            help="Approximate: cap each layer's recomputed region at TAU of its size (1 is "
            "exact). Faster, at a measured cost in fidelity (docs: performance).",
            rich_help_panel=COMPUTE,
        ),
    ] = 1.0,
    animate: Annotated[
        bool,
        typer.Option(
            "--animate",
            help="Also write <stem>_sweep.gif: the patch moving over the image, the map "
            "filling in and the class score at every step (one scale; no extra model calls).",
            rich_help_panel=OUTPUTS,
        ),
    ] = False,
    animate_format: Annotated[
        AnimationFormat,
        typer.Option(
            "--animate-format", help="gif (any viewer) or webp (smaller).", rich_help_panel=OUTPUTS
        ),
    ] = AnimationFormat.gif,
    animate_scale: Annotated[
        int | None,
        typer.Option(
            "--animate-scale",
            metavar="P",
            help="The patch size to animate. Default: the scale whose window count is "
            "closest to 100.",
            show_default=False,
            rich_help_panel=OUTPUTS,
            **number(whole=True),
        ),
    ] = None,
    report: Annotated[
        bool,
        typer.Option(
            "--report",
            help="At the end, build <out>/index.html: a gallery of every map in --out, "
            "sortable and filterable (occlude report OUT does it any time).",
            rich_help_panel=OUTPUTS,
        ),
    ] = False,
    overwrite: OverwriteOption = False,
    fail_fast: FailFastOption = False,
    backend: BackendOption = None,
    precision: PrecisionOption = "float32",
    unsafe_model: UnsafeModelOption = False,
    names: ClassNamesOption = None,
    shard: ShardOption = None,
    engine: EngineOption = EngineChoice.local,
    workers: WorkersOption = None,
    address: AddressOption = None,
    gpus_per_worker: GpusOption = 0.0,
    quiet: QuietOption = False,
) -> None:
    quiet_warnings(quiet)

    def body() -> None:
        from occlude.inputs import check_target_file
        from occlude.runner import Runner
        from occlude.sensitivity.compute import check_compute
        from occlude.sensitivity.job import SensitivityJob
        from occlude.zoo import ModelSpec

        opts = _options(class_, patch, stride, fill, batch_size, save_npy, expect_box,
                        expect_mask, metrics, steps, seed, animate, animate_format,
                        animate_scale, compute, approx)  # fmt: skip
        if min_focus is not None and not opts.has_region:
            raise UsageError("min_focus needs expect_box or expect_mask",
                             ("min_focus", "expect_box", "expect_mask"))  # fmt: skip
        spec = ModelSpec(model, weights, preprocess, not unsafe_model, precision, backend,
                         class_names(names), seed)  # fmt: skip
        check_compute(opts.compute, opts.approx, spec.precision)
        if (note := spec.slower_note()) is not None:
            say(f"occlude: warning: {note}")
        writes = {"json_path": path} if (path := json_file(json_path)) else {}
        if path is not None:
            check_target_file(path, "json_path")
        job = SensitivityJob(inputs, spec, opts, out, writes, report)
        runs_on = make_engine(engine, workers, address, gpus_per_worker, len(job.plan().units),
                              pool_by_default=False)  # fmt: skip
        runner = Runner(job, engine=runs_on, overwrite=overwrite, fail_fast=fail_fast,
                        progress=not quiet, label="occluding",
                        shard=parse_shard(shard))  # fmt: skip
        _run(job, runner, quiet, json_path, min_focus, report)

    guarded(body)


def _options(
    class_: str, patch: list[str] | None, stride: list[str] | None, fill: str, batch_size: int,
    save_npy: bool, expect_box: str | None, expect_mask: Path | None, metrics: bool,
    steps: int, seed: int, animate: bool, animate_format: AnimationFormat,
    animate_scale: int | None, compute: Compute, approx: float,
) -> SensitivityOptions:  # fmt: skip
    from occlude.box import Box
    from occlude.sensitivity.options import SensitivityOptions, parse_class

    box = None
    if expect_box is not None:
        coords = split_ints([expect_box], "expect_box")
        if len(coords) != 4:
            raise UsageError(f"expect_box needs x0,y0,x1,y1; received {expect_box!r}",
                             "expect_box")  # fmt: skip
        box = Box.of(coords)
    return SensitivityOptions(
        target=parse_class(class_),
        patch_sizes=tuple(split_ints(patch, "patch_sizes")),
        strides=tuple(split_ints(stride, "strides")),
        fill=fill,  # type: ignore[arg-type]
        batch_size=batch_size,
        save_npy=save_npy,
        expect_box=box,
        expect_mask=expect_mask,
        metrics=metrics,
        steps=steps,
        seed=seed,
        animate=animate,
        animate_format=animate_format.value,
        animate_scale=animate_scale,
        compute=compute.value,
        approx=approx,
    )


def _run(
    job: SensitivityJob, runner: Runner, quiet: bool, json_path: str | None,
    min_focus: float | None, with_report: bool,
) -> None:  # fmt: skip
    """Run; ``--json``; the focus gate; ``--report``; the exit code."""
    report = drive(runner, quiet, None if quiet else _log)
    if json_path is not None:
        write_json_to(json_path, json.dumps(report.records, indent=2, allow_nan=False) + "\n")
    gates = []
    if min_focus is not None:
        low = [r for r in report.records if not _at_least(r.get("focus"), min_focus)]
        gates = [f"focus gate: {r['input']}: focus {_num(r.get('focus'))} < {min_focus}"
                 for r in low]  # fmt: skip
        if low:
            gates.append(f"{len(low)} of {len(report.records)} images below --min-focus "
                         f"{min_focus}")  # fmt: skip
    if with_report:
        from occlude.report import build_report

        page = build_report(job.out_dir, min_focus=min_focus)
        if not quiet:
            say(f"occlude: report: {page}")
    finish(report, gates)


def _at_least(value: object, threshold: float) -> bool:
    """A gate passes only on a finite number at least ``threshold`` (NaN never passes)."""
    return isinstance(value, (int, float)) and math.isfinite(value) and value >= threshold


def _num(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "missing"


def _log(outcome: Outcome) -> None:
    rec = outcome.record or {}
    what = "already done" if outcome.status == "reused" else f"{outcome.seconds:.1f} s"
    say(
        f"{rec['input']}: {rec['class_name'] or 'class'} ({rec['class_index']}) "
        f"score {rec['base_score']:.3f}, {rec['windows']} windows, {what} -> "
        f"{rec['outputs']['heatmap']}"
    )


def register(app: typer.Typer) -> None:
    app.command("sensitivity", help=HELP, cls=Command)(sensitivity)
