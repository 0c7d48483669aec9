"""``occlude robustness``: accuracy of a classifier as more of each image is occluded."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from occlude.cli._common import (
    JsonOption,
    ModelOption,
    PreprocessOption,
    QuietOption,
    UnsafeModelOption,
    WeightsOption,
    drive,
    finish,
    guarded,
    json_file,
    quiet_warnings,
    split_floats,
    write_json_to,
)
from occlude.errors import UsageError
from occlude.fill import Fill

if TYPE_CHECKING:
    from occlude.robustness import Row

HELP = """Evaluate top-1 accuracy and the true class's mean score on labelled images while
cutout squares, hide-and-seek grids or random-erasing boxes hide a growing fraction of
each image. Prints a table; --json and --plot save it.

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
            "ImageNet class names for ImageNet models.",
            show_default=False,
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
        ),
    ] = "cutout,hide-and-seek,random-erasing",
    fractions: Annotated[
        str,
        typer.Option(
            "--fractions", metavar="F[,F...]", help="Occluded fractions of the image, 0-1."
        ),
    ] = "0,0.1,0.2,0.3,0.4,0.5",
    fill: Annotated[
        str,
        typer.Option(
            "--fill",
            metavar="FILL",
            help="Occluding value: grey, black, white, mean (the image's), noise, a number "
            "or R,G,B.",
        ),
    ] = "grey",
    seed: Annotated[
        int, typer.Option("--seed", min=0, metavar="S", help="Seed of the placements.")
    ] = 0,
    batch_size: Annotated[
        int, typer.Option("--batch-size", "-b", min=1, metavar="N", help="Images per model call.")
    ] = 32,
    json_path: JsonOption = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="PNG",
            help="Write a PNG of accuracy against occluded fraction.",
            show_default=False,
        ),
    ] = None,
    min_accuracy: Annotated[
        float | None,
        typer.Option(
            "--min-accuracy",
            min=0.0,
            max=1.0,
            metavar="A",
            help="With --at F: exit 3 when any method's accuracy at fraction F is below A.",
            show_default=False,
        ),
    ] = None,
    at: Annotated[
        float | None,
        typer.Option(
            "--at", metavar="F", help="The fraction --min-accuracy applies to.", show_default=False
        ),
    ] = None,
    unsafe_model: UnsafeModelOption = False,
    quiet: QuietOption = False,
) -> None:
    args = dict(locals())
    quiet_warnings(quiet)
    guarded(lambda: _run(**args))


def _run(**a: Any) -> None:
    from occlude.inputs import check_target_file
    from occlude.robustness import RobustnessJob, check_fractions
    from occlude.runner import Runner
    from occlude.zoo import ModelSpec

    levels = check_fractions(split_floats(a["fractions"], "fractions") or [])
    min_accuracy, at, json_path, plot = a["min_accuracy"], a["at"], a["json_path"], a["plot"]
    if (min_accuracy is None) != (at is None):
        raise UsageError("min_accuracy and at go together", ("min_accuracy", "at"))
    if at is not None and not any(abs(at - f) < 1e-9 for f in levels):
        raise UsageError(f"at {at} is not one of fractions {a['fractions']}", ("at", "fractions"))
    writes = {"json_path": json_file(json_path), "plot": plot}
    for role, target in writes.items():
        if target is not None:
            check_target_file(Path(target), role)
    spec = ModelSpec(a["model"], a["weights"], a["preprocess"], not a["unsafe_model"])
    job = RobustnessJob(
        a["inputs"], a["labels"], spec, a["methods"].split(","), levels, a["fill"],
        a["seed"], a["batch_size"], {k: Path(v) for k, v in writes.items() if v is not None},
    )  # fmt: skip
    report = drive(Runner(job, progress=not a["quiet"], label="evaluating"), a["quiet"])
    rows, clf = job.rows, job.classifier()
    (sys.stderr if json_path == "-" else sys.stdout).write(_table(rows))
    if json_path is not None:
        result = {
            "results": [_finite(asdict(r)) for r in rows],
            "model": clf.name,
            "weights": clf.weights,
            "methods": list(job.methods),
            "fractions": list(job.fractions),
            "fill": job.fill.as_json() if isinstance(job.fill, Fill) else job.fill,
            "seed": a["seed"],
            "failed": report.failed_sources,
        }
        write_json_to(json_path, json.dumps(result, indent=2, allow_nan=False) + "\n")
    if plot is not None:
        from occlude.render import robustness_png

        n = max((r.n for r in rows), default=0)
        robustness_png(plot, rows, f"{clf.name}: top-1 accuracy under occlusion ({n} images)")
    gates = []
    if min_accuracy is not None and at is not None:
        for r in rows:
            if abs(r.fraction - at) < 1e-9 and not _at_least(r.accuracy, min_accuracy):
                gates.append(f"accuracy gate: {r.method} at {at}: {_num(r.accuracy)} < "
                             f"{min_accuracy}")  # fmt: skip
    finish(report, gates)


def _at_least(value: float, threshold: float) -> bool:
    return math.isfinite(value) and value >= threshold


def _num(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) else "none"


def _finite(row: dict[str, Any]) -> dict[str, Any]:
    """NaN (nothing scored) as null, so the JSON stays valid."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


def _table(rows: list[Row]) -> str:
    lines = [f"{'method':<16}{'fraction':>9}{'accuracy':>10}{'mean score':>12}{'n':>6}"]
    for r in rows:
        lines.append(
            f"{r.method:<16}{r.fraction:>9.2f}{r.accuracy:>10.3f}{r.mean_true_score:>12.3f}{r.n:>6}"
        )
    return "\n".join(lines) + "\n"


def register(app: typer.Typer) -> None:
    app.command("robustness", help=HELP)(robustness)
