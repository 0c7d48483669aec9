"""``occlude robustness``: accuracy of a classifier as more of each image is occluded."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
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
    guarded,
    say,
)
from occlude.errors import EXIT_FAILED, EXIT_GATE, EXIT_OK, Interrupted, UsageError

if TYPE_CHECKING:
    from occlude.robustness import Row, Sample

HELP = """Evaluate top-1 accuracy and the true class's mean score on labelled images while
cutout squares, hide-and-seek grids or random-erasing boxes hide a growing fraction of
each image. Prints a table; --json and --plot save it.

Exit codes: 0 all done, 1 some inputs failed, 2 usage error, 3 the --min-accuracy gate
failed, 130 interrupted."""


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise UsageError(f"{name} expects numbers separated by commas; received {text!r}") from None


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
    def body() -> None:
        from occlude.fill import parse_fill
        from occlude.inputs import check_out_dir, find_images
        from occlude.robustness import check_fractions, check_methods
        from occlude.zoo import check_model_spec, resolve_preprocess

        chosen = check_methods(methods.split(","))
        levels = check_fractions(_floats(fractions, "--fractions"))
        occluder = parse_fill(fill, ("mean", "noise"))
        if (min_accuracy is None) != (at is None):
            raise UsageError("--min-accuracy and --at go together")
        if at is not None and not any(abs(at - f) < 1e-9 for f in levels):
            raise UsageError(f"--at {at} is not one of --fractions {fractions}")
        check_model_spec(model)
        if preprocess is not None:
            resolve_preprocess(preprocess)
        items = find_images(inputs)
        if not items:
            raise UsageError(f"no images found in {', '.join(map(str, inputs))}")
        label_of = _label_reader(labels)
        for target, flag in ((json_path, "--json"), (plot, "--plot")):
            if target is not None and str(target) != "-":
                if Path(target).is_dir():
                    raise UsageError(f"{flag} {target}: is a folder")
                check_out_dir(Path(target).parent)

        from occlude.classes import IMAGENET_CLASSES
        from occlude.model import load_classifier
        from occlude.progress import Progress
        from occlude.robustness import evaluate, jobs_per_image, read_samples, resolve_label

        clf = load_classifier(model, weights, preprocess, safe=not unsafe_model)
        failures: list[str] = []

        def failed(path: str, message: str) -> None:
            failures.append(path)
            say(f"occlude: error: {message}")

        labelled = []
        for item in items:
            text = label_of(item.path)
            if text is None:
                failed(str(item.path), f"{item.path}: no label in {labels}")
                continue
            try:
                index = resolve_label(text, clf.n_classes, clf.n_classes == IMAGENET_CLASSES)
            except UsageError as exc:  # a bad label fails its own input only
                failed(str(item.path), f"{item.path}: {exc}")
                continue
            labelled.append((item.rel.as_posix(), item.path, index))
        read = [0]

        def counted() -> Iterator[Sample]:
            for sample in read_samples(labelled, clf.input_size, failed):
                read[0] += 1
                yield sample

        samples = counted()
        total = jobs_per_image(chosen, levels) * len(labelled)
        try:
            with Progress(total, "evaluating", enabled=not quiet) as bar:
                rows = evaluate(
                    samples,
                    clf.predictor(batch_size),
                    methods=chosen,
                    fractions=levels,
                    fill=occluder,
                    seed=seed,
                    batch_size=batch_size,
                    on_progress=bar.advance,
                )
        except KeyboardInterrupt:
            raise Interrupted(read[0], len(items)) from None

        table = _table(rows)
        (sys.stderr if json_path == "-" else sys.stdout).write(table)
        result: dict[str, Any] = {
            "results": [_finite(asdict(r)) for r in rows],
            "model": clf.name,
            "weights": clf.weights,
            "methods": list(chosen),
            "fractions": list(levels),
            "fill": occluder.as_json(),
            "seed": seed,
            "failed": failures,
        }
        if json_path is not None:
            from occlude.imageio import write_bytes

            text = json.dumps(result, indent=2) + "\n"
            if json_path == "-":
                sys.stdout.write(text)
            else:
                write_bytes(Path(json_path), text.encode("utf-8"))
        if plot is not None:
            from occlude.render import robustness_png

            n = max((r.n for r in rows), default=0)
            robustness_png(plot, rows, f"{clf.name}: top-1 accuracy under occlusion ({n} images)")
        low = []
        if min_accuracy is not None and at is not None:
            low = [r for r in rows if abs(r.fraction - at) < 1e-9 and r.accuracy < min_accuracy]
            for r in low:
                say(
                    f"occlude: accuracy gate: {r.method} at {at}: {r.accuracy:.3f} < {min_accuracy}"
                )
        if failures:
            say(f"occlude: {len(failures)} of {len(items)} inputs failed")
            raise typer.Exit(EXIT_FAILED)
        raise typer.Exit(EXIT_GATE if low else EXIT_OK)

    guarded(body)


def _finite(row: dict[str, Any]) -> dict[str, Any]:
    """NaN (nothing scored) as null, so the JSON stays valid."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


def _label_reader(spec: str) -> Any:
    """``path -> label text or None`` for ``--labels folders`` or a CSV file."""
    from occlude.augment.run import folder_label, read_label_csv

    if spec == "folders":
        return folder_label
    table = read_label_csv(Path(spec))
    return lambda path: table.get(Path(path).resolve())


def _table(rows: list[Row]) -> str:
    lines = [f"{'method':<16}{'fraction':>9}{'accuracy':>10}{'mean score':>12}{'n':>6}"]
    for r in rows:
        lines.append(
            f"{r.method:<16}{r.fraction:>9.2f}{r.accuracy:>10.3f}{r.mean_true_score:>12.3f}{r.n:>6}"
        )
    return "\n".join(lines) + "\n"


def register(app: typer.Typer) -> None:
    app.command("robustness", help=HELP)(robustness)
