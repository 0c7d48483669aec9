"""``occlude sensitivity``: heatmaps of where a Keras classifier looks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from occlude.cli._common import (
    FailFastOption,
    Inputs,
    JsonOption,
    ModelOption,
    OverwriteOption,
    PreprocessOption,
    QuietOption,
    UnsafeModelOption,
    WeightsOption,
    guarded,
    say,
    split_ints,
)
from occlude.errors import EXIT_FAILED, EXIT_GATE, EXIT_INTERRUPTED, EXIT_OK, UsageError

HELP = """Occlusion sensitivity maps: slide grey patches of several sizes over each image,
measure how much the target class's score drops, and write heatmaps, raw maps and JSON.

Positive values (red) mark regions whose occlusion lowers the class score, i.e. that
support the class. Exit codes: 0 all done, 1 some inputs failed, 2 usage error,
3 a --min-focus gate failed, 130 interrupted."""


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
            help="Target class: an index, an ImageNet class name (tabby, works offline) or "
            "top (each image's top-1 class).",
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
        ),
    ] = None,
    fill: Annotated[
        str,
        typer.Option(
            metavar="FILL",
            help="Occluding value in pixel space: grey (127.5), black, white, mean (the "
            "image's channel means), blur (Gaussian, sigma 1/16 of the shorter side), a "
            "number or R,G,B.",
        ),
    ] = "grey",
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            "-b",
            min=1,
            metavar="N",
            help="Most occluded copies per model call (evened out so that the last call "
            "is not mostly padding).",
        ),
    ] = 32,
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", metavar="DIR", help="Output folder; input sub-folders are mirrored."
        ),
    ] = Path("occlude-out"),
    save_npy: Annotated[
        bool,
        typer.Option(
            "--save-npy",
            help="Also write <stem>.npy (float32 multi-scale map at model-input size) and "
            "<stem>_scales.npz (per-scale maps, patch sizes, strides).",
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
        ),
    ] = None,
    min_focus: Annotated[
        float | None,
        typer.Option(
            "--min-focus",
            min=0.0,
            max=1.0,
            metavar="F",
            help="Exit 3 (after writing everything) when any image's focus is below F.",
            show_default=False,
        ),
    ] = None,
    metrics: Annotated[
        bool,
        typer.Option(
            "--metrics",
            help="Add deletion_auc and insertion_auc (RISE) and their random-order "
            "baselines to each record, and their curves to the contact sheet.",
        ),
    ] = False,
    steps: Annotated[
        int,
        typer.Option("--steps", min=1, metavar="N", help="Steps of the --metrics curves."),
    ] = 20,
    seed: Annotated[
        int,
        typer.Option("--seed", min=0, metavar="S", help="Seed of the random-order baseline."),
    ] = 0,
    overwrite: OverwriteOption = False,
    fail_fast: FailFastOption = False,
    unsafe_model: UnsafeModelOption = False,
    quiet: QuietOption = False,
) -> None:
    def body() -> None:
        from occlude.inputs import check_json_target, check_out_dir, check_outputs, find_images
        from occlude.sensitivity.pipeline import (
            Failure,
            SensitivityOptions,
            check_class,
            output_paths,
            parse_class,
            planned_windows,
            run,
            write_json,
        )
        from occlude.zoo import check_model_spec, resolve_preprocess

        patches = tuple(split_ints(patch, "--patch"))
        strides = tuple(split_ints(stride, "--stride"))
        for p in patches:
            if p <= 0:
                raise UsageError(f"--patch must be positive; received {p}")
        for s in strides:
            if s <= 0:
                raise UsageError(f"--stride must be positive; received {s}")
        if patches and len(strides) > 1 and len(strides) != len(patches):
            raise UsageError(
                f"give one --stride or one per patch size; received {len(strides)} strides "
                f"for {len(patches)} patch sizes"
            )
        for p, s in zip(
            patches, strides if len(strides) > 1 else strides * len(patches), strict=False
        ):
            if s > p:
                raise UsageError(
                    f"--stride {s} is larger than --patch {p}: pixels between windows would "
                    "never be occluded"
                )
        box = None
        if expect_box is not None:
            coords = split_ints([expect_box], "--expect-box")
            if len(coords) != 4:
                raise UsageError(f"--expect-box needs x0,y0,x1,y1; received {expect_box!r}")
            box = (coords[0], coords[1], coords[2], coords[3])
            if box[2] <= box[0] or box[3] <= box[1]:
                raise UsageError(f"--expect-box needs x0 < x1 and y0 < y1; received {expect_box}")
        if box is not None and expect_mask is not None:
            raise UsageError("give --expect-box or --expect-mask, not both")
        if expect_mask is not None and not expect_mask.is_file():
            raise UsageError(f"--expect-mask {expect_mask}: no such file")
        if min_focus is not None and box is None and expect_mask is None:
            raise UsageError("--min-focus needs --expect-box or --expect-mask")
        opts = SensitivityOptions(
            class_spec=class_,
            patch_sizes=patches,
            strides=strides,
            fill=SensitivityOptions.parse_fill(fill),
            batch_size=batch_size,
            save_npy=save_npy,
            expect_box=box,
            expect_mask=expect_mask,
            metrics=metrics,
            steps=steps,
            seed=seed,
        )
        check_model_spec(model)
        if preprocess is not None:
            resolve_preprocess(preprocess)
        parse_class(class_)
        check_out_dir(out)
        items = find_images(inputs, exclude=out)
        if not items:
            raise UsageError(f"no images found in {', '.join(map(str, inputs))}")
        planned = [list(output_paths(i, out, save_npy).values()) for i in items]
        check_outputs(items, planned)
        if json_path not in (None, "-"):
            check_json_target(Path(json_path), items, planned)

        from occlude.imageio import remove_stale_temporaries
        from occlude.model import load_classifier
        from occlude.progress import Progress

        remove_stale_temporaries(out)
        clf = load_classifier(model, weights, preprocess, safe=not unsafe_model)
        check_class(class_, clf)
        per_image = planned_windows(clf, opts) + 1
        records = []
        failures = 0
        log = (lambda _msg: None) if quiet else say
        try:
            with Progress(per_image * len(items), "occluding", enabled=not quiet) as bar:
                for outcome in run(items, clf, opts, out, bar.advance, say, overwrite):
                    if isinstance(outcome, Failure):
                        failures += 1
                        say(f"occlude: error: {outcome.message}")
                        if fail_fast:
                            break
                        continue
                    rec = outcome.record
                    records.append(rec)
                    what = "already done" if outcome.reused else f"{rec['seconds']:.1f} s"
                    log(
                        f"{rec['input']}: {rec['class_name'] or 'class'} ({rec['class_index']}) "
                        f"score {rec['base_score']:.3f}, {rec['windows']} windows, {what} -> "
                        f"{rec['outputs']['heatmap']}"
                    )
        except KeyboardInterrupt:
            say(f"occlude: interrupted after {len(records)} of {len(items)} inputs")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        if json_path is not None:
            write_json(records, json_path)
        low = []
        if min_focus is not None:
            low = [r for r in records if r["focus"] < min_focus]
            for r in low:
                say(f"occlude: focus gate: {r['input']}: focus {r['focus']:.3f} < {min_focus}")
            if low:
                say(f"occlude: {len(low)} of {len(records)} images below --min-focus {min_focus}")
        if failures:
            say(f"occlude: {failures} of {len(items)} inputs failed")
            raise typer.Exit(EXIT_FAILED)
        raise typer.Exit(EXIT_GATE if low else EXIT_OK)

    guarded(body)


def register(app: typer.Typer) -> None:
    app.command("sensitivity", help=HELP)(sensitivity)
