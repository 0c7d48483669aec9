"""What every command shares: options, one-line errors, running a job, the exit code."""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from occlude.cli.flags import to_flags
from occlude.cli.help import COMPUTE, MODEL, OUTPUTS, RUN, SCALE_OUT
from occlude.errors import EXIT_FAILED, EXIT_GATE, EXIT_OK, EXIT_USAGE, OccludeError, UsageError
from occlude.text import shown
from occlude.values import read_float, read_int

if TYPE_CHECKING:
    from occlude.runner import Engine, Outcome, Runner, RunReport

T = TypeVar("T")


def say(message: str) -> None:
    """One line on stderr, control characters escaped (a file name cannot forge lines)."""
    print(shown(message), file=sys.stderr, flush=True)


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    say(f"occlude: error: {message}")
    return typer.Exit(code)


def guarded(body: Callable[[], T]) -> T:
    """Run a command body; library errors become one line on stderr and an exit code."""
    try:
        return body()
    except OccludeError as exc:
        raise fail(to_flags(str(exc), exc.params), exc.exit_code) from None
    except BrokenPipeError:  # the reader of stdout went away: main ends the run quietly
        raise
    except OSError as exc:  # a full disk, a vanished folder: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        raise fail(f"{where}{exc.strerror or exc}", EXIT_FAILED) from None


def quiet_warnings(quiet: bool) -> None:
    """Library warnings as one line each (``occlude: warning: ...``), none with ``-q``.

    What Python's ``warnings`` carries (Pillow's EXIF and palette notices, NumPy's and
    Keras's deprecations) is silenced under ``-q``; TensorFlow's native start-up chatter is
    always hidden by the model edge (``OCCLUDE_TF_LOGS=1`` shows it).
    """
    if quiet:
        warnings.simplefilter("ignore")
        return

    def show(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        text = " ".join(str(message).split())
        say(f"occlude: warning: {category.__name__}: {text}")

    warnings.showwarning = show


def split_ints(values: Sequence[str] | None, param: str) -> list[int]:
    """``["20,40", "80"]`` -> ``[20, 40, 80]``; a usage error names the bad value."""
    out: list[int] = []
    for value in values or []:
        for part in value.split(","):
            if not part.strip():
                continue
            number = read_int(part)
            if number is None:
                raise UsageError(f"{param} expects integers; received {part.strip()!r}", param)
            out.append(number)
    return out


def split_floats(text: str | None, param: str, count: int | None = None) -> list[float] | None:
    """``"0.1,0.5"`` -> ``[0.1, 0.5]`` (exactly ``count`` numbers when given)."""
    if text is None:
        return None
    values = [read_float(p) for p in text.split(",") if p.strip()]
    if any(v is None for v in values):
        raise UsageError(f"{param} expects numbers separated by commas; received {text!r}",
                         param)  # fmt: skip
    if count is not None and len(values) != count:
        raise UsageError(f"{param} expects {count} numbers; received {text!r}", param)
    return [v for v in values if v is not None]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"2/4"`` -> ``(2, 4)``: ASCII digits only (``1_0/20`` is a typo, not shard 10)."""
    if text is None:
        return None
    parts = [read_int(part) for part in text.split("/")]
    index, count = parts if len(parts) == 2 else (None, None)
    if index is None or count is None:
        raise UsageError(f"shard expects I/N (say 2/4); received {text!r}", "shard")
    if not (count >= 1 and 1 <= index <= count):
        raise UsageError(f"shard needs 1 <= I <= N; received {text}", "shard")
    return index, count


def number(low: float | None = None, high: float | None = None, whole: bool = False) -> Any:
    """``typer.Option`` settings for a number option: plain ASCII digits, never ``nan``,
    ``inf`` or ``1_0`` (which Python would read), within ``[low, high]``; the help still
    shows the range. Use as ``typer.Option("--x", **number(0, 1))``."""

    def parse(value: Any) -> int | float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            got: int | float | None = value if math.isfinite(value) else None
        else:
            got = (read_int if whole else read_float)(str(value))
        if got is None:
            kind = "a whole number" if whole else "a number"
            raise ValueError(f"expects {kind}; received {str(value)!r}")
        if (low is not None and got < low) or (high is not None and got > high):
            raise ValueError(f"must be {_between(low, high)}; received {value}")
        return got

    return {"parser": parse, "min": low, "max": high}


def _between(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"


class ClassNames(StrEnum):
    imagenet = "imagenet"


def class_names(value: ClassNames | None) -> str | None:
    return None if value is None else value.value


class EngineChoice(StrEnum):
    local = "local"
    ray = "ray"


def make_engine(
    choice: EngineChoice, workers: int | None, address: str | None, gpus: float, units: int,
    pool_by_default: bool,
) -> Engine:  # fmt: skip
    """The engine a command runs on: Ray when asked; else a local pool (by default for
    ``augment``; for model commands only with ``--workers`` over 1), else this process."""
    from occlude.runner import PoolEngine, SerialEngine, choose_engine

    if choice == EngineChoice.ray:
        from occlude.runner.ray_engine import RayEngine

        return RayEngine(workers, address, gpus)
    if address is not None or gpus:
        raise UsageError("address and gpus_per_worker need engine ray",
                         ("address", "gpus_per_worker", "engine"))  # fmt: skip
    if pool_by_default:
        return choose_engine(workers, units)
    n = min(workers or 1, max(1, units))
    return PoolEngine(n) if n > 1 else SerialEngine()


def drive(
    runner: Runner,
    quiet: bool,
    on_done: Callable[[Outcome], None] | None = None,
) -> RunReport:
    """Run a job, printing one line per failure, note and warning; return its report."""
    for outcome in runner.run():
        for warning in outcome.warnings:
            say(f"occlude: warning: {warning}")
        if not quiet:
            for note in outcome.notes:
                say(f"occlude: note: {outcome.source}: {note}")
        if outcome.status == "note":
            if not quiet and outcome.message:
                say(f"occlude: note: {outcome.message}")
        elif outcome.status == "failed":
            say(f"occlude: error: {to_flags(outcome.message or '', outcome.params)}")
        elif on_done is not None:
            on_done(outcome)
    return runner.report


def finish(report: RunReport, gate_failures: Sequence[str] = ()) -> None:
    """The exit code every command shares: failed inputs (1) before a failed gate (3)."""
    for line in gate_failures:
        say(f"occlude: {line}")
    if report.failed:
        say(f"occlude: {report.failed} of {report.inputs} inputs failed")
        raise typer.Exit(EXIT_FAILED)
    raise typer.Exit(EXIT_GATE if gate_failures else EXIT_OK)


def write_json_to(target: str, text: str) -> None:
    """JSON text to a file (atomically) or ``-`` (stdout)."""
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from occlude.imageio import write_bytes

    write_bytes(Path(target), text.encode("utf-8"))


def json_file(target: str | None) -> Path | None:
    """The file a ``--json`` value names (None for stdout or no JSON)."""
    return None if target in (None, "-") else Path(str(target))


# Options that mean the same in every command, declared once.
Inputs = Annotated[
    list[Path],
    typer.Argument(
        help="Image files and/or folders (searched recursively for jpg, jpeg, png, bmp, gif, "
        "tif, tiff, webp; links followed).",
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
        rich_help_panel=MODEL,
    ),
]
WeightsOption = Annotated[
    str | None,
    typer.Option(
        "--weights",
        "-w",
        metavar="imagenet|none|FILE",
        help="imagenet (default for named models; downloaded once into Keras's cache), none "
        "(random weights drawn from --seed, for smoke tests: titles and records say so) or a "
        "weights file.",
        show_default=False,
        rich_help_panel=MODEL,
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
        rich_help_panel=MODEL,
    ),
]
BackendOption = Annotated[
    str | None,
    typer.Option(
        "--backend",
        metavar="tensorflow|jax|torch",
        help="The Keras backend that runs the model (default: KERAS_BACKEND, else "
        "tensorflow). Maps agree across backends within float32 round-off.",
        show_default=False,
        rich_help_panel=COMPUTE,
    ),
]
PrecisionOption = Annotated[
    str,
    typer.Option(
        "--precision",
        metavar="float32|bfloat16|float16",
        help="Compute in reduced precision (mixed: float32 weights). Approximate: faster on "
        "some models and CPUs, at a measured cost in fidelity (docs: performance).",
        rich_help_panel=COMPUTE,
    ),
]
UnsafeModelOption = Annotated[
    bool,
    typer.Option(
        "--unsafe-model",
        help="Allow model files that run arbitrary code when loaded (Lambda layers). Only for "
        "files you trust.",
        rich_help_panel=MODEL,
    ),
]
ClassNamesOption = Annotated[
    ClassNames | None,
    typer.Option(
        "--class-names",
        help="imagenet: a model file's 1,000 outputs are ImageNet's classes, so classes and "
        "labels may be named (tabby) and records carry names. keras.applications models "
        "have them; a model file has none without it.",
        metavar="imagenet",
        show_default=False,
        rich_help_panel=MODEL,
    ),
]
JsonOption = Annotated[
    str | None,
    typer.Option(
        "--json",
        metavar="PATH|-",
        help="Write the results as JSON to this file, or - for stdout.",
        show_default=False,
        rich_help_panel=OUTPUTS,
    ),
]
OverwriteOption = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Redo outputs that are already complete from a run with the same settings (by "
        "default a rerun skips them, so an interrupted run resumes).",
        rich_help_panel=RUN,
    ),
]
FailFastOption = Annotated[
    bool,
    typer.Option(
        "--fail-fast", help="Stop at the first input that fails (exit 1).", rich_help_panel=RUN
    ),
]
QuietOption = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="No progress bar, no per-input progress lines and no notes (warnings and errors "
        "still go to stderr).",
        rich_help_panel=RUN,
    ),
]
SeedOption = Annotated[
    int, typer.Option("--seed", metavar="S", help="Random seed.", **number(0, whole=True))
]
EngineOption = Annotated[
    EngineChoice,
    typer.Option(
        "--engine",
        help="local (this machine) or ray (a Ray cluster: pip install 'occlude[ray]'); "
        "outputs are the same bytes either way.",
        rich_help_panel=SCALE_OUT,
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        "-j",
        metavar="N",
        help="Worker processes (local) or actors (ray), each with its own copy of the model. "
        "Default: all cores for augment, one for the model commands, the cluster's CPUs for "
        "ray. Outputs do not depend on it.",
        show_default=False,
        **number(1, whole=True),
        rich_help_panel=SCALE_OUT,
    ),
]
AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        metavar="ADDR",
        help="With --engine ray: an existing cluster (auto, or ray://host:10001). Default: "
        "start a local one for the run.",
        show_default=False,
        rich_help_panel=SCALE_OUT,
    ),
]
GpusOption = Annotated[
    float,
    typer.Option(
        "--gpus-per-worker",
        metavar="G",
        help="With --engine ray: GPUs per actor.",
        rich_help_panel=SCALE_OUT,
        **number(0),
    ),
]
ShardOption = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="I/N",
        help="Process only shard I of N (1..N): a stable split of the inputs by a hash of "
        "their relative paths. Shards may run at once, on any machines, into one --out.",
        show_default=False,
        rich_help_panel=SCALE_OUT,
    ),
]
