"""``occlude augment``: write occlusion-augmented copies of image files and folders."""

from __future__ import annotations

from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from occlude.augment.methods import METHODS
from occlude.cli._common import (
    AddressOption,
    ClassNames,
    EngineChoice,
    EngineOption,
    FailFastOption,
    GpusOption,
    Inputs,
    OverwriteOption,
    QuietOption,
    ShardOption,
    WorkersOption,
    class_names,
    drive,
    finish,
    guarded,
    make_engine,
    number,
    parse_shard,
    quiet_warnings,
    say,
    split_floats,
    split_ints,
)
from occlude.cli.help import GUIDED, METHOD, METHOD_PARAMETERS, OUTPUTS, Command
from occlude.errors import UsageError

if TYPE_CHECKING:
    from occlude.augment.job import AugmentJob
    from occlude.augment.maps import MapMaker
    from occlude.cli._common import ClassNames
    from occlude.runner import Outcome, Runner

MANIFEST = "manifest.jsonl"

HELP = """Write occlusion-augmented copies of images, with a manifest.

Eight methods: cutout (DeVries & Taylor 2017), hide-and-seek (Singh & Lee 2017),
random-erasing (Zhong et al. 2017), mixup (Zhang et al. 2018), cutmix (Yun et al. 2019),
and the guided keep-cutout, saliency-mix and attentive-cutmix, which place their
occlusion by the importance maps of occlude sensitivity --save-npy (or of --model).

Outputs are <out>/<sub-folders>/<stem>_<method>_<k>.<ext>, and <out>/manifest.jsonl
records what was sampled for every output; the same --seed gives byte-identical files
whatever the input order or --workers.

Exit codes: 0 all done, 1 some inputs failed, 2 usage error, 130 interrupted."""


Method = Enum("Method", {name: name for name in METHODS}, type=str)  # type: ignore[misc]


class LabelBy(StrEnum):
    area = "area"
    saliency = "saliency"


class Format(StrEnum):
    same = "same"
    png = "png"
    jpg = "jpg"
    webp = "webp"


def augment(
    inputs: Inputs,
    method: Annotated[
        Method,
        typer.Option(
            "--method",
            "-m",
            metavar="METHOD",
            help="The augmentation: cutout, hide-and-seek, random-erasing, mixup, cutmix, "
            "keep-cutout, saliency-mix or attentive-cutmix.",
            show_default=False,
            rich_help_panel=METHOD,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="Output folder; input sub-folders are mirrored and manifest.jsonl is "
            "written here. Never read back as input.",
            rich_help_panel=OUTPUTS,
        ),
    ] = Path("occlude-augmented"),
    copies: Annotated[
        int,
        typer.Option(
            "--copies",
            "-n",
            metavar="N",
            help="Augmented copies per input (k = 0..N-1).",
            rich_help_panel=METHOD,
            **number(1, whole=True),
        ),
    ] = 1,
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            metavar="S",
            help="Global seed; each output's randomness comes from (seed, path relative to "
            "its input folder, copy index).",
            rich_help_panel=METHOD,
            **number(whole=True),
        ),
    ] = 0,
    workers: WorkersOption = None,
    labels: Annotated[
        str | None,
        typer.Option(
            "--labels",
            metavar="folders|FILE.csv",
            help="Record labels: folders (the parent folder's name) or a CSV with header "
            "path,label (paths absolute or relative to the CSV's folder; unlisted inputs "
            "fail). Mixing methods record soft labels, the others the hard label.",
            show_default=False,
            rich_help_panel=OUTPUTS,
        ),
    ] = None,
    fmt: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            help="Output format: same (the input's extension; PNG if Pillow cannot write "
            "it), png, jpg (quality 95) or webp (quality 95).",
            rich_help_panel=OUTPUTS,
        ),
    ] = Format.same,
    prob: Annotated[
        float | None,
        typer.Option(
            "--prob",
            metavar="P",
            help="Probability of augmenting each output (else it is an unchanged copy). "
            "Default: 0.5 for random-erasing, 1.0 otherwise.",
            show_default=False,
            rich_help_panel=METHOD,
            **number(),
        ),
    ] = None,
    fill: Annotated[
        str | None,
        typer.Option(
            "--fill",
            metavar="FILL",
            help="Occluding value for cutout, hide-and-seek, random-erasing: grey (127.5), "
            "black, white, mean (the image's), dataset-mean (over all inputs), noise "
            "(uniform per pixel), a number or R,G,B (0-255). Defaults: grey, dataset-mean, "
            "noise respectively.",
            show_default=False,
            rich_help_panel=METHOD,
        ),
    ] = None,
    holes: Annotated[
        int | None,
        typer.Option(
            "--holes",
            metavar="N",
            help="cutout: number of squares. Default: 1.",
            show_default=False,
            rich_help_panel=METHOD_PARAMETERS,
            **number(whole=True),
        ),
    ] = None,
    size: Annotated[
        float | None,
        typer.Option(
            "--size",
            metavar="L",
            help="cutout: side of each square in pixels, or a fraction of the shorter side "
            "when below 1. Default: 0.5 (16 px on 32 px CIFAR images).",
            show_default=False,
            rich_help_panel=METHOD_PARAMETERS,
            **number(),
        ),
    ] = None,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            metavar="S[,S...]",
            help="hide-and-seek: cell sides in pixels, one drawn per image; 0 hides nothing. "
            "Default: 0,16,32,44,56.",
            show_default=False,
            rich_help_panel=METHOD_PARAMETERS,
        ),
    ] = None,
    hide_prob: Annotated[
        float | None,
        typer.Option(
            "--hide-prob",
            metavar="P",
            help="hide-and-seek: probability of hiding each cell. Default: 0.5.",
            show_default=False,
            rich_help_panel=METHOD_PARAMETERS,
            **number(),
        ),
    ] = None,
    area_range: Annotated[
        str | None,
        typer.Option(
            "--area-range",
            metavar="LOW,HIGH",
            help="random-erasing: erased fraction of the area, uniform. Default: 0.02,0.4.",
            show_default=False,
            rich_help_panel=METHOD_PARAMETERS,
        ),
    ] = None,
    aspect_range: Annotated[
        str | None,
        typer.Option(
            "--aspect-range",
            metavar="LOW,HIGH",
            help="random-erasing: box height/width, log-uniform. Default: 0.3,3.333 (1/0.3).",
            show_default=False,
            rich_help_panel=METHOD_PARAMETERS,
        ),
    ] = None,
    maps: Annotated[
        Path | None,
        typer.Option(
            "--maps",
            metavar="DIR",
            help="keep-cutout, saliency-mix, attentive-cutmix: importance maps written by "
            "occlude sensitivity --save-npy (DIR/<sub-folders>/<stem>.npy).",
            show_default=False,
            rich_help_panel=GUIDED,
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            metavar="NAME|FILE",
            help="Guided methods: compute the maps with this classifier instead (as occlude "
            "sensitivity does, grey fill; kept in <out>/.occlude/maps for reruns).",
            show_default=False,
            rich_help_panel=GUIDED,
        ),
    ] = None,
    map_weights: Annotated[
        str | None,
        typer.Option(
            "--weights",
            metavar="imagenet|none|FILE",
            help="With --model: its weights.",
            show_default=False,
            rich_help_panel=GUIDED,
        ),
    ] = None,
    map_preprocess: Annotated[
        str | None,
        typer.Option(
            "--preprocess",
            metavar="MODE",
            help="With --model: override its preprocessing (none, caffe, tf, torch or a "
            "family/model name).",
            show_default=False,
            rich_help_panel=GUIDED,
        ),
    ] = None,
    map_class: Annotated[
        str,
        typer.Option(
            "--class",
            "-c",
            metavar="INDEX|NAME|top",
            help="With --model: the class the maps are for (default: each image's top-1).",
            rich_help_panel=GUIDED,
        ),
    ] = "top",
    map_names: Annotated[
        ClassNames | None,
        typer.Option(
            "--class-names",
            metavar="imagenet",
            help="With --model FILE: its 1,000 outputs are ImageNet's classes (so --class "
            "may be a name).",
            show_default=False,
            rich_help_panel=GUIDED,
        ),
    ] = None,
    map_patch: Annotated[
        list[str] | None,
        typer.Option(
            "--patch",
            "-p",
            metavar="N[,N...]",
            help="With --model: patch sizes (default: the sensitivity sweep's).",
            show_default=False,
            rich_help_panel=GUIDED,
        ),
    ] = None,
    keep_quantile: Annotated[
        float | None,
        typer.Option(
            "--keep-quantile",
            metavar="Q",
            help="keep-cutout: a box may hold at "
            "most this quantile of the importance of all boxes. Default: 0.5.",
            show_default=False,
            rich_help_panel=METHOD_PARAMETERS,
            **number(),
        ),
    ] = None,
    max_tries: Annotated[
        int | None,
        typer.Option(
            "--max-tries",
            metavar="N",
            help="keep-cutout: draws before keeping the least important one. Default: 10.",
            show_default=False,
            rich_help_panel=METHOD_PARAMETERS,
            **number(whole=True),
        ),
    ] = None,
    top_k: Annotated[
        int | None,
        typer.Option(
            "--top-k",
            metavar="K",
            help="attentive-cutmix: cells pasted. Default: 6 (with --grid 7).",
            show_default=False,
            rich_help_panel=METHOD_PARAMETERS,
            **number(whole=True),
        ),
    ] = None,
    label_by: Annotated[
        LabelBy | None,
        typer.Option(
            "--label-by",
            help="saliency-mix, attentive-cutmix: mixed label weights "
            "by area (pixel share) or saliency (importance kept and pasted, "
            "SnapMix-style). Default: area.",
            show_default=False,
            rich_help_panel=METHOD_PARAMETERS,
        ),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option(
            "--alpha",
            metavar="A",
            help="mixup, cutmix: lam ~ Beta(A, A). Default: 0.2 for mixup, 1.0 for cutmix.",
            show_default=False,
            rich_help_panel=METHOD_PARAMETERS,
            **number(),
        ),
    ] = None,
    overwrite: OverwriteOption = False,
    fail_fast: FailFastOption = False,
    shard: ShardOption = None,
    engine: EngineOption = EngineChoice.local,
    address: AddressOption = None,
    gpus_per_worker: GpusOption = 0.0,
    quiet: QuietOption = False,
) -> None:
    quiet_warnings(quiet)

    def body() -> None:
        from occlude.augment.job import AugmentJob
        from occlude.augment.methods import augmentation
        from occlude.runner import Runner

        chosen = augmentation(
            method.value, prob=prob, fill=fill, holes=holes, size=size,
            grid=_grid(method.value, grid), hide_prob=hide_prob,
            area_range=split_floats(area_range, "area_range", 2),
            aspect_range=split_floats(aspect_range, "aspect_range", 2),
            alpha=alpha, keep_quantile=keep_quantile, max_tries=max_tries, top_k=top_k,
            label_by=label_by.value if label_by is not None else None)  # fmt: skip
        maker = _map_maker(model, map_weights, map_preprocess, map_patch, map_names, map_class, out)
        job = AugmentJob(inputs, chosen, out, copies, seed, labels, fmt.value, maps, maker)
        runs_on = make_engine(engine, workers, address, gpus_per_worker, len(job.plan().units),
                              pool_by_default=True)  # fmt: skip
        runner = Runner(job, engine=runs_on, overwrite=overwrite, fail_fast=fail_fast,
                        progress=not quiet, label="augment", shard=parse_shard(shard))  # fmt: skip
        _run(job, runner, quiet)

    guarded(body)


def _run(job: AugmentJob, runner: Runner, quiet: bool) -> None:
    counts = {"done": 0, "reused": 0}

    def count(outcome: Outcome) -> None:
        if outcome.unit is not None:
            counts[outcome.status] += len(outcome.unit.outputs)

    report = drive(runner, quiet, count)
    if not quiet:
        out = job.out_dir
        where = "records in its ledger" if runner.shard else f"manifest {out / MANIFEST}"
        reused = f", {counts['reused']} already done" if counts["reused"] else ""
        say(f"occlude: wrote {counts['done']} image(s) to {out}{reused} ({where})")
    finish(report)


def _grid(method: str, grid: list[str] | None) -> int | list[int] | None:
    """``--grid``: cell sides for hide-and-seek, the cells per side for attentive-cutmix."""
    if grid is None:
        return None
    values = split_ints(grid, "grid")
    if method == "attentive-cutmix":
        if len(values) != 1:
            raise UsageError(f"grid takes one number of cells per side for {method}; received "
                             f"{values}", "grid")  # fmt: skip
        return values[0]
    return values


def _map_maker(
    model: str | None, weights: str | None, preprocess: str | None,
    patches: list[str] | None, names: ClassNames | None, target: str, out: Path,
) -> MapMaker | None:  # fmt: skip
    """With ``--model``: what computes the guided methods' maps."""
    if model is None:
        if any(v is not None for v in (weights, preprocess, patches, names)):
            raise UsageError("the maps' weights, preprocessing, class names and patch sizes go "
                             "with model=NAME", "model=")  # fmt: skip
        return None
    from occlude.augment.maps import MapMaker
    from occlude.sensitivity.options import SensitivityOptions, parse_class
    from occlude.zoo import ModelSpec

    options = SensitivityOptions(target=parse_class(target),
                                 patch_sizes=tuple(split_ints(patches, "patch_sizes")))  # fmt: skip
    spec = ModelSpec(model, weights, preprocess, class_names=class_names(names))
    return MapMaker(spec, options, out)


def register(app: typer.Typer) -> None:
    app.command("augment", help=HELP, cls=Command)(augment)
