"""``occlude robustness``: accuracy of a classifier as more of each image is occluded."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
from occlude.fill import Fill

if TYPE_CHECKING:
    from occlude.robustness import RobustnessJob, Row


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
    args = dict(locals())
    quiet_warnings(quiet)
    guarded(lambda: _run(**args))


def _job(a: dict[str, Any]) -> RobustnessJob:
    from occlude.inputs import check_target_file
    from occlude.robustness import RobustnessJob, check_fractions
    from occlude.zoo import ModelSpec

    levels = check_fractions(split_floats(a["fractions"], "fractions") or [])
    min_accuracy, at = a["min_accuracy"], a["at"]
    if (min_accuracy is None) != (at is None):
        raise UsageError("min_accuracy and at go together", ("min_accuracy", "at"))
    if at is not None and not any(abs(at - f) < 1e-9 for f in levels):
        raise UsageError(f"at {at} is not one of fractions {a['fractions']}", ("at", "fractions"))
    if a["shard"] is not None and a["out"] is None:
        raise UsageError(
            "shard needs out_dir: shards keep their results there", ("shard", "out_dir")
        )
    writes = {"json_path": json_file(a["json_path"]), "plot": a["plot"]}
    for role, target in writes.items():
        if target is not None:
            check_target_file(Path(target), role)
    spec = ModelSpec(a["model"], a["weights"], a["preprocess"], not a["unsafe_model"],
                     a["precision"], a["backend"], class_names(a["names"]),
                     a["seed"])  # fmt: skip
    return RobustnessJob(
        a["inputs"], a["labels"], spec, a["methods"].split(","), levels, a["fill"],
        a["seed"], a["batch_size"], a["repeats"],
        {k: Path(v) for k, v in writes.items() if v is not None}, a["out"],
    )  # fmt: skip


def _run(**a: Any) -> None:
    from occlude.runner import Runner

    job = _job(a)
    shard = parse_shard(a["shard"])
    engine = make_engine(a["engine"], a["workers"], a["address"], a["gpus_per_worker"],
                         len(job.plan().units), pool_by_default=False)  # fmt: skip
    _check_gate(a, len(job.plan().units), shard)
    runner = Runner(job, engine=engine, progress=not a["quiet"], label="evaluating", shard=shard)
    report = drive(runner, a["quiet"])
    if shard is not None and shard[1] > 1:
        if not a["quiet"]:
            say(f"occlude: note: shard {shard[0]}/{shard[1]}: its results are in {job.out_dir}; "
                "run the command again without --shard to combine them (table, JSON, plot, "
                "gate)")  # fmt: skip
        finish(report)
    min_accuracy, json_path = a["min_accuracy"], a["json_path"]
    gate = Gate(min_accuracy, a["at"], a["gate_on"].value) if min_accuracy is not None else None
    failures = gate.failures(job.rows) if gate is not None else []
    (sys.stderr if json_path == "-" else sys.stdout).write(table(job.rows, gate))
    summary = result_json(job, report.failed_sources, gate, failures)
    _write(job, summary, json_path, a["plot"])
    finish(report, failures)


def _check_gate(a: dict[str, Any], images: int, shard: tuple[int, int] | None) -> None:
    """``--gate-on lower`` judges the interval over images, which needs enough of them."""
    from occlude.robustness.stats import MIN_IMAGES

    sharded = shard is not None and shard[1] > 1  # a shard does not gate; the combining run does
    lower = a["min_accuracy"] is not None and a["gate_on"] == GateOn.lower_bound
    if lower and not sharded and images < MIN_IMAGES:
        raise UsageError(
            f"gate_on lower judges the 95% interval over images, which needs at least "
            f"{MIN_IMAGES} images; the inputs hold {images}: give more images, or gate on "
            "the estimate",
            "gate_on",
        )


def _write(job: RobustnessJob, summary: dict[str, Any], json_path: str | None,
           plot: Path | None) -> None:  # fmt: skip
    """``--json`` and ``--plot``, and the same two in the output folder if there is one."""
    texts = [json_path] if json_path else []
    plots: list[Path] = [Path(plot)] if plot else []
    if job.out_dir is not None:
        texts.append(str(job.out_dir / "robustness.json"))
        plots.append(job.out_dir / "robustness.png")
    text = json.dumps(summary, indent=2, allow_nan=False) + "\n"
    for target in texts:
        write_json_to(target, text)
    if plots:
        from occlude.render import robustness_png

        images = max((r.images for r in job.rows), default=0)
        from occlude.zoo import describe_model

        clf = job.classifier()  # a model file by its name, not its whole path
        name = describe_model(Path(clf.name).name, clf.weights)
        title = (f"{name}: top-1 accuracy under occlusion ({images} images, "
                 f"{job.repeats} placements each)")  # fmt: skip
        for png in plots:
            robustness_png(png, job.rows, title)


@dataclass(frozen=True)
class Gate:
    """``--min-accuracy A --at F`` judged on the point estimate or the lower bound."""

    min_accuracy: float
    at: float
    on: str = "estimate"

    def value(self, row: Row) -> float:
        return row.accuracy if self.on == "estimate" else row.accuracy_low_images

    def failures(self, rows: list[Row]) -> list[str]:
        """One line per method that fails; a missing or non-finite value fails."""
        from occlude.robustness.stats import MIN_IMAGES

        what = "accuracy" if self.on == "estimate" else "accuracy lower bound (95%, images)"
        few = f" (fewer than {MIN_IMAGES} images)" if self.on != "estimate" else ""
        return [
            f"accuracy gate: {r.method} at {self.at}: {what} {_num(self.value(r))}"
            f"{few if r.images < MIN_IMAGES else ''} < {self.min_accuracy}"
            for r in rows
            if abs(r.fraction - self.at) < 1e-9 and not _at_least(self.value(r), self.min_accuracy)
        ]


def result_json(
    job: RobustnessJob, failed: list[str], gate: Gate | None, failures: list[str]
) -> dict[str, Any]:
    from occlude.robustness.stats import MIN_IMAGES, RESAMPLES

    clf = job.classifier()
    return {
        "results": [_finite(asdict(r)) for r in job.rows],
        "model": clf.name,
        "weights": clf.weights,
        "methods": list(job.methods),
        "fractions": list(job.fractions),
        "fill": job.fill.as_json() if isinstance(job.fill, Fill) else job.fill,
        "seed": job.seed,
        "repeats": job.repeats,
        "intervals": {
            "level": 0.95,
            "accuracy_low/high": "Wilson score interval over the n evaluations",
            "accuracy_low/high_images": f"percentile bootstrap over images ({RESAMPLES} "
            f"resamples, seeded by --seed); null with fewer than {MIN_IMAGES} images",
            "min_images": MIN_IMAGES,
        },
        "gate": None if gate is None else {
            "min_accuracy": gate.min_accuracy,
            "at": gate.at,
            "on": gate.on,
            "passed": not failures,
        },
        "failed": failed,
    }  # fmt: skip


def _at_least(value: float, threshold: float) -> bool:
    return math.isfinite(value) and value >= threshold


def _num(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) else "none"


def _finite(row: dict[str, Any]) -> dict[str, Any]:
    """NaN (nothing scored) as null, so the JSON stays valid."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}


def _interval(low: float, high: float) -> str:
    return f"[{low:.3f}, {high:.3f}]" if math.isfinite(low) and math.isfinite(high) else "-"


def table(rows: list[Row], gate: Gate | None = None) -> str:
    """The results as a text table, with both 95 % intervals beside each accuracy."""
    lines = [
        f"{'method':<16}{'fraction':>9}{'accuracy':>10}  {'95% CI (images)':<17}"
        f"{'95% CI (evals)':<17}{'mean score':>10}{'n':>7}{'images':>7}"
    ]
    for r in rows:
        lines.append(
            f"{r.method:<16}{r.fraction:>9.2f}{r.accuracy:>10.3f}  "
            f"{_interval(r.accuracy_low_images, r.accuracy_high_images):<17}"
            f"{_interval(r.accuracy_low, r.accuracy_high):<17}"
            f"{r.mean_true_score:>10.3f}{r.n:>7}{r.images:>7}"
        )
    if gate is not None:
        judged = "the point estimate" if gate.on == "estimate" else "the lower bound (images)"
        lines.append(f"gate: accuracy at {gate.at} >= {gate.min_accuracy}, judged on {judged}")
    return "\n".join(lines) + "\n"


def register(app: typer.Typer) -> None:
    app.command("robustness", help=HELP, cls=Command)(robustness)
