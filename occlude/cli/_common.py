"""What every command shares: turning library errors into one line and an exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from occlude.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, Interrupted, OccludeError

T = TypeVar("T")


def say(message: str) -> None:
    """One line on stderr."""
    print(message, file=sys.stderr, flush=True)


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    say(f"occlude: error: {message}")
    return typer.Exit(code)


def guarded(body: Callable[[], T]) -> T:
    """Run a command body; library errors become one line on stderr and an exit code."""
    try:
        return body()
    except OccludeError as exc:
        raise fail(str(exc), exc.exit_code) from None
    except OSError as exc:  # a full disk, a vanished folder: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        raise fail(f"{where}{exc.strerror or exc}", EXIT_FAILED) from None
    except KeyboardInterrupt as exc:
        say(f"occlude: {exc}" if isinstance(exc, Interrupted) else "occlude: interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def split_ints(values: Sequence[str] | None, name: str) -> list[int]:
    """``["20,40", "80"]`` -> ``[20, 40, 80]``; a usage error names the bad value."""
    out: list[int] = []
    for value in values or []:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                out.append(int(part))
            except ValueError:
                raise fail(f"{name} expects integers; received {part!r}") from None
    return out


# Options that mean the same in every command, declared once.
Inputs = Annotated[
    list[Path],
    typer.Argument(
        help="Image files and/or folders (searched recursively for jpg, jpeg, png, bmp, gif, "
        "tif, tiff, webp).",
        show_default=False,
        metavar="INPUT",
    ),
]
ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        metavar="NAME|FILE",
        help="A keras.applications name (resnet50, vgg16, mobilenet_v2, efficientnetb0, ..., "
        "any case) or a .keras/.h5 model file (input size read from it).",
    ),
]
WeightsOption = Annotated[
    str | None,
    typer.Option(
        "--weights",
        "-w",
        metavar="imagenet|none|FILE",
        help="imagenet (default for named models; downloaded once into Keras's cache), none "
        "(random init, for smoke tests) or a weights file.",
        show_default=False,
    ),
]
PreprocessOption = Annotated[
    str | None,
    typer.Option(
        "--preprocess",
        metavar="MODE",
        help="Override preprocessing: none, caffe, tf, torch or a family/model name. Default: "
        "the named model's own; none (raw 0-255) for model files.",
        show_default=False,
    ),
]
UnsafeModelOption = Annotated[
    bool,
    typer.Option(
        "--unsafe-model",
        help="Allow model files that run arbitrary code when loaded (Lambda layers). Only for "
        "files you trust.",
    ),
]
JsonOption = Annotated[
    str | None,
    typer.Option(
        "--json",
        metavar="PATH|-",
        help="Write the results as JSON to this file, or - for stdout.",
        show_default=False,
    ),
]
OverwriteOption = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Redo outputs that are already complete from a run with the same settings (by "
        "default a rerun skips them, so an interrupted run resumes).",
    ),
]
FailFastOption = Annotated[
    bool, typer.Option("--fail-fast", help="Stop at the first input that fails (exit 1).")
]
QuietOption = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="No progress bar and no per-input progress lines (warnings and errors still go "
        "to stderr).",
    ),
]
