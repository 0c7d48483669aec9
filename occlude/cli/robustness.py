"""``occlude robustness``: accuracy of a classifier as more of each image is occluded."""

from __future__ import annotations

import sys
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
    GpusOption,
    JsonOption,
    ModelOption,
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
    split_floats,
    write_json_to,
)
from occlude.cli.help import COMPUTE, EVALUATION, GATES, OUTPUTS, Command
from occlude.errors import UsageError

if TYPE_CHECKING:
    from occlude.robustness import RobustnessJob
    from occlude.robustness.summary import Gate
    from occlude.runner import Runner
    from occlude.zoo import ModelSpec


class GateOn(StrEnum):
    estimate = "estimate"
    lower_bound = "lower"


HELP = """Accuracy of a classifier as more of each image is occluded.

Evaluates top-1 accuracy and the true class's mean score on labelled images while cutout
squares, hide-and-seek grids or random-erasing boxes hide a growing fraction of each
image. Prints a table; --json and --plot save it.

Exit codes: 0 all done, 1 some inputs failed, 2 usage error, 3 the --min-accuracy gate
failed, 130 interrupted."""


def robustness(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Labelled image files and/or folders (searched recursively).",
            metavar="INPUT",
            show_default=False,
        ),
    ],
    labels: Annotated[
        str,
        typer.Option(
            "--labels",
            metavar="folders|FILE.csv",
            help="folders (the class is the parent folder's name) or a CSV with the header "
            "path,label (paths relative to the CSV's folder). Labels are class indices, or "
            "ImageNet class names for keras.applications models (and with --class-names "
            "imagenet).",
            show_default=False,
            rich_help_panel=EVALUATION,
        ),
    ],
    model: ModelOption = "resnet50",
    weights: WeightsOption = None,
    preprocess: PreprocessOption = None,
    methods: Annotated[
        str,
        typer.Option(
            "--methods",
            metavar="M[,M...]",
            help="Occlusions to test: cutout, hide-and-seek, random-erasing.",
            rich_help_panel=EVALUATION,
        ),
    ] = "cutout,hide-and-seek,random-erasing",
    fractions: Annotated[
        str,
        typer.Option(
            "--fractions",
            metavar="F[,F...]",
            help="Occluded fractions of the image, 0-1.",
            rich_help_panel=EVALUATION,
        ),
    ] = "0,0.1,0.2,0.3,0.4,0.5",
    fill: Annotated[
        str,
        typer.Option(
            "--fill",
            metavar="FILL",
            help="Occluding value: grey, black, white, mean (the image's), noise, a number "
            "or R,G,B.",
            rich_help_panel=EVALUATION,
        ),
    ] = "grey",
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            metavar="S",
            help="Seed of the placements, of the bootstrap and of random weights (--weights none).",
            rich_help_panel=EVALUATION,
            **number(0, whole=True),
        ),
    ] = 0,
    repeats: Annotated[
        int,
        typer.Option(
            "--repeats",
            "-k",
            metavar="K",
            **number(1, whole=True),
            help="Independent placements per image, method and fraction (1: one each, as "
            "before). More repeats give steadier curves and gates.",
            rich_help_panel=EVALUATION,
        ),
    ] = 5,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            "-b",
            metavar="N",
            help="Images per model call.",
            rich_help_panel=COMPUTE,
            **number(1, whole=True),
        ),
    ] = 32,
    json_path: JsonOption = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="PNG",
            help="Write a PNG of accuracy against occluded fraction.",
            show_default=False,
            rich_help_panel=OUTPUTS,
        ),
    ] = None,
    min_accuracy: Annotated[
        float | None,
        typer.Option(
            "--min-accuracy",
            **number(0, 1),
            metavar="A",
            help="With --at F: exit 3 when any method's accuracy at fraction F is below A "
            "(see --gate-on).",
            show_default=False,
            rich_help_panel=GATES,
        ),
    ] = None,
    at: Annotated[
        float | None,
        typer.Option(
            "--at",
            metavar="F",
            help="The fraction --min-accuracy applies to.",
            show_default=False,
            rich_help_panel=GATES,
            **number(),
        ),
    ] = None,
    gate_on: Annotated[
        GateOn,
        typer.Option(
            "--gate-on",
            help="What --min-accuracy judges: the point estimate, or the lower bound of its "
            "95% interval over images (demand 'at least A with 95% confidence'; needs at "
            "least 10 images).",
            rich_help_panel=GATES,
        ),
    ] = GateOn.estimate,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="Keep per-image results in DIR (resumable; shards combine there) and write "
            "DIR/robustness.json and robustness.png.",
            show_default=False,
            rich_help_panel=OUTPUTS,
        ),
    ] = None,
    shard: ShardOption = None,
    engine: EngineOption = EngineChoice.local,
    workers: WorkersOption = None,
    address: AddressOption = None,
    gpus_per_worker: GpusOption = 0.0,
    backend: BackendOption = None,
    precision: PrecisionOption = "float32",
    unsafe_model: UnsafeModelOption = False,
    names: ClassNamesOption = None,
    quiet: QuietOption = False,
) -> None:
    quiet_warnings(quiet)

    def body() -> None:
        from occlude.robustness.summary import Gate
        from occlude.runner import Runner
        from occlude.zoo import ModelSpec

        if (min_accuracy is None) != (at is None):
            raise UsageError("min_accuracy and at go together", ("min_accuracy", "at"))
        gate = None if min_accuracy is None or at is None else Gate(min_accuracy, at, gate_on.value)
        spec = ModelSpec(model, weights, preprocess, not unsafe_model, precision, backend,
                         class_names(names), seed)  # fmt: skip
        sharding = parse_shard(shard)
        if sharding is not None and out is None:
            raise UsageError(
                "shard needs out_dir: shards keep their results there", ("shard", "out_dir")
            )
        writes = {"json_path": json_file(json_path), "plot": plot}
        job = _job(inputs, labels, spec, methods, fractions, fill, seed, batch_size, repeats,
                   gate, writes, out)  # fmt: skip
        units = len(job.plan().units)
        runs_on = make_engine(engine, workers, address, gpus_per_worker, units,
                              pool_by_default=False)  # fmt: skip
        if gate is not None and not (sharding is not None and sharding[1] > 1):
            gate.check_images(units)  # a shard does not gate; the combining run does
        runner = Runner(job, engine=runs_on, progress=not quiet, label="evaluating",
                        shard=sharding)  # fmt: skip
        _run(job, runner, sharding, quiet, json_path, plot)

    guarded(body)


def _job(
    inputs: list[Path], labels: str, spec: ModelSpec, methods: str, fractions: str, fill: str,
    seed: int, batch_size: int, repeats: int, gate: Gate | None,
    writes: dict[str, Path | None], out: Path | None,
) -> RobustnessJob:  # fmt: skip
    from occlude.inputs import check_target_file
    from occlude.robustness import RobustnessJob, check_fractions

    levels = check_fractions(split_floats(fractions, "fractions") or [])
    for role, target in writes.items():
        if target is not None:
            check_target_file(Path(target), role)
    return RobustnessJob(
        inputs, labels, spec, methods.split(","), levels, fill, seed, batch_size, repeats,
        {k: Path(v) for k, v in writes.items() if v is not None}, out, gate=gate,
    )  # fmt: skip


def _run(
    job: RobustnessJob, runner: Runner, shard: tuple[int, int] | None, quiet: bool,
    json_path: str | None, plot: Path | None,
) -> None:  # fmt: skip
    """Run; print the table; ``--json`` and ``--plot``; the exit code. The job writes
    ``robustness.json`` and ``robustness.png`` in the output folder itself."""
    report = drive(runner, quiet)
    if shard is not None and shard[1] > 1:
        if not quiet:
            say(f"occlude: note: shard {shard[0]}/{shard[1]}: its results are in {job.out_dir}; "
                "run the command again without --shard to combine them (table, JSON, plot, "
                "gate)")  # fmt: skip
        finish(report)
    result = job.result
    assert result is not None
    gate = job.gate
    failures = gate.failures(result.rows) if gate is not None else []
    (sys.stderr if json_path == "-" else sys.stdout).write(result.table(gate))
    if json_path:
        write_json_to(json_path, result.to_json(gate))
    if plot is not None:
        result.plot(plot)
    finish(report, failures)


def register(app: typer.Typer) -> None:
    app.command("robustness", help=HELP, cls=Command)(robustness)
