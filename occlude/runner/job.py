"""What a command gives the runner: a job that plans units of work and processes one.

A unit is one input and the files it writes. The runner decides which units to run
(resume), where (an engine), and in what order results are committed; the job only knows
how to do one unit. Jobs are pickled to worker processes once, before :meth:`Job.prepare`
runs, so what ``prepare`` computes must travel in :meth:`Job.task`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from occlude.errors import OccludeError
from occlude.inputs import InputImage
from occlude.progress import Progress
from occlude.runner.state import FileHashes
from occlude.text import shown

if TYPE_CHECKING:
    from occlude.runner.ledger import Ledger

Tick = Callable[[int], None]
ProgressFactory = Callable[[int, str], Progress]
Dropped = tuple[str, str] | tuple[str, str, tuple[str, ...]]
"""An input that failed in ``prepare``: (unit key, error line[, the Python parameters the
line names, which the command line shows as flags])."""
"""``progress(total, label)``: a progress bar that the runner shows or hides."""


def failure_line(path: object, exc: BaseException) -> str:
    """One line for an input that failed: ``<path>: <problem>`` (the path shown once)."""
    if isinstance(exc, MemoryError):
        text = "out of memory"
    elif isinstance(exc, OSError) and not isinstance(exc, OccludeError):
        text = exc.strerror or str(exc) or type(exc).__name__
    else:
        text = str(exc) or type(exc).__name__
    name = shown(path)
    return text if text.startswith(name) else f"{name}: {text}"


@dataclass(frozen=True)
class Unit:
    """One input and the files it writes (``outputs``, relative to the output folder).

    ``identity`` holds what, besides the job's settings and the input's content, decides
    the unit's outputs (its relative path, its output names); ``weight`` is its share of
    the progress bar.
    """

    key: str
    source: InputImage | None
    outputs: tuple[str, ...] = ()
    identity: dict[str, Any] = field(default_factory=dict)
    weight: int = 1
    index: int = 0


@dataclass
class UnitResult:
    """What processing a unit produced: records of the files written, or an error line."""

    key: str
    record: dict[str, Any] | None = None
    outputs: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    error: str | None = None
    error_params: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    complete: bool = True
    seconds: float = 0.0

    def fail(self, line: str, exc: BaseException | None = None) -> None:
        """The unit failed with this line; the Python parameters it names, if any, come
        from the exception (the command line names its flags instead)."""
        self.error = line
        if isinstance(exc, OccludeError):
            self.error_params = exc.params


@dataclass
class Plan:
    """The units of a run, plus inputs that failed before any work (unreadable folders,
    missing labels) and notes (skipped entries).

    ``run_outputs`` are the files the run writes in its output folder as a whole (a
    summary, a manifest; relative paths): the ledger records the command as their owner.
    """

    units: list[Unit]
    failures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    inputs: int = 0
    run_outputs: tuple[str, ...] = ()


class Job(ABC):
    """A command's work, unit by unit. Subclasses set ``name``."""

    name: ClassVar[str]
    out_dir: Path | None = None
    warnings: list[str] = []  # noqa: RUF012 - set per instance by prepare()

    @abstractmethod
    def plan(self) -> Plan:
        """The units (cheap: no model, no image decoding); called once, before any work."""

    @abstractmethod
    def settings(self, hashes: FileHashes) -> dict[str, Any]:
        """JSON-able settings that decide every output, with the content hashes of the
        files they name (model, weights, mask, labels); called once per run."""

    def prepare(
        self, engine: Any, hashes: FileHashes, progress: ProgressFactory
    ) -> Sequence[Dropped]:
        """Work before the units, in the main process (load a model, a pass over the
        dataset on ``engine``); returns ``(unit key, error line[, params])`` for inputs
        that failed there, which the runner reports and drops."""
        return []

    def record_ok(self, record: dict[str, Any] | None) -> bool:
        """Whether a unit record read back from the ledger has the shape :meth:`process`
        gives it (a ledger can be edited): one that has not is redone, not trusted."""
        return True

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Once in each worker before its first unit (load a model)."""

    def task(self, unit: Unit) -> Any:
        """What a worker needs to process ``unit`` (default: the unit itself)."""
        return unit

    @abstractmethod
    def process(self, task: Any, tick: Tick | None = None) -> UnitResult:
        """Do one unit: write its files atomically and return their records. A failure of
        this input is an ``error`` line in the result, never an exception."""

    def finish(  # noqa: B027 - optional hook
        self,
        ledger: Ledger | None,
        records: Sequence[dict[str, Any]],
        stopped: bool,
        sharded: bool = False,
    ) -> None:
        """After the units (also after Ctrl-C, with ``stopped``): manifests, summaries.
        ``records`` are this run's unit records (finished and reused) in input order;
        ``sharded`` says the run covered one shard of the inputs only."""
