"""The one job runner behind every command.

``Runner(job).run()`` plans the units, skips those an earlier run finished with the same
fingerprint (resume), runs the rest on an engine (this process or a worker pool), commits
each unit's record to the ledger after its files, reports failures in one shape, owns the
progress bar and turns Ctrl-C into :class:`~occlude.errors.Interrupted` with how many
inputs were finished. It yields one :class:`Outcome` per input as it goes; the caller
renders them, and reads :attr:`Runner.report` at the end.

A unit's fingerprint is the SHA-256 of canonical JSON of the job's settings (with the
content hashes of the files they name), the unit's identity and the SHA-256 of its input's
bytes: a different file with the same size and time stamp is not mistaken for the old one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from occlude.errors import Interrupted, OccludeError, UsageError
from occlude.progress import Progress
from occlude.runner.engines import Engine, SerialEngine
from occlude.runner.events import safe_rel
from occlude.runner.job import Job, Unit, UnitResult
from occlude.runner.ledger import Ledger, check_owners, read_state
from occlude.runner.state import FileHashes, fingerprint
from occlude.text import shown

Status = Literal["done", "reused", "failed", "note"]


@dataclass(frozen=True)
class Outcome:
    """One event of a run: an input done, reused (finished earlier), failed, or a note."""

    status: Status
    source: str
    unit: Unit | None = None
    record: dict[str, Any] | None = None
    message: str | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    params: tuple[str, ...] = ()


def shard_of(rel: str, shards: int) -> int:
    """The shard (1..shards) of an input: a hash of its relative path, so a shard is the
    same set of files whatever the order of the arguments and whichever machine runs it.

    >>> shard_of("cats/a.png", 4) == shard_of("cats/a.png", 4)
    True
    """
    digest = hashlib.sha256(b"occlude-shard\0" + os.fsencode(rel)).digest()
    return int.from_bytes(digest[:8], "big") % shards + 1


def check_shard(shard: tuple[int, int] | None) -> tuple[int, int] | None:
    if shard is None:
        return None
    index, count = shard
    if not (count >= 1 and 1 <= index <= count):
        raise UsageError(f"shard needs 1 <= I <= N; received {index}/{count}", "shard")
    return index, count


@dataclass
class RunReport:
    """What a run did, for the exit code: counts, records in input order, failure lines."""

    inputs: int = 0
    done: int = 0
    reused: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    failed_sources: list[str] = field(default_factory=list)
    _records: list[tuple[int, dict[str, Any]]] = field(default_factory=list, repr=False)

    @property
    def finished(self) -> int:
        return self.done + self.reused

    @property
    def records(self) -> list[dict[str, Any]]:
        return [r for _, r in sorted(self._records, key=lambda pair: pair[0])]


class Runner:
    """Runs ``job`` once; see the module docstring."""

    def __init__(
        self,
        job: Job,
        *,
        engine: Engine | None = None,
        overwrite: bool = False,
        fail_fast: bool = False,
        progress: bool = True,
        label: str | None = None,
        shard: tuple[int, int] | None = None,
    ) -> None:
        self.job = job
        self.shard = check_shard(shard)
        self.engine: Engine = engine if engine is not None else SerialEngine()
        self.overwrite = overwrite
        self.fail_fast = fail_fast
        self.progress = progress
        self.label = label or job.name
        self.report = RunReport()
        self.hashes = FileHashes()
        self._ledger: Ledger | None = None
        self._settings: dict[str, Any] = {}
        self._distrusted = 0

    # --- the run ----------------------------------------------------------------------

    def run(self) -> Iterator[Outcome]:
        plan = self.job.plan()
        units = [u for u in plan.units if self._mine(str(u.identity.get("rel", u.key)))]
        failures = [(src, msg) for src, msg in plan.failures if self._mine(src)]
        unsafe = {u.key: _unsafe(u) for u in units if not all(map(safe_rel, u.outputs))}
        failures += [(_source(u), unsafe[u.key]) for u in units if u.key in unsafe]
        units = [u for u in units if u.key not in unsafe]
        claims = self._claims(units, plan.run_outputs)
        out_dir = self.job.out_dir
        if out_dir is not None:  # before anything is written, as the job's PathPlan
            check_owners(read_state(out_dir), out_dir, claims)
        self.report = RunReport(inputs=len(units) + len(failures))
        for note in plan.notes:
            yield Outcome("note", "", message=note)
        if self.shard is not None and not self.report.inputs:
            index, count = self.shard
            total = len(plan.units) + len(plan.failures)
            yield Outcome("note", "", message=f"shard {index}/{count} selects none of the "
                          f"inputs ({total} in all): nothing to do")  # fmt: skip
        for source, message in failures:
            yield self._failed(source, message)
            if self.fail_fast:
                return
        # claims again under the folder lock: a run that started since has claimed its own
        self._ledger = Ledger(out_dir, claims) if out_dir is not None else None
        stopped = started = early = False
        try:
            self.engine.start(self.job)
            dropped = self.job.prepare(self.engine, self.hashes, self._progress)
            for warning in getattr(self.job, "warnings", []):
                yield Outcome("note", "", warnings=(warning,))
            by_key = {u.key: u for u in units}
            dropped = [drop for drop in dropped if drop[0] in by_key]
            for key, message, *params in dropped:
                failed = self._failed(_source(by_key[key]), message, by_key[key])
                yield replace(failed, params=params[0] if params else ())
            if dropped and self.fail_fast:
                return
            self._settings = self.job.settings(self.hashes)
            gone = {drop[0] for drop in dropped}
            mine = {u.key for u in units}
            started = True
            yield from self._units([u for u in plan.units if u.key in mine and u.key not in gone])
        except KeyboardInterrupt:
            stopped = True
            for _ in self._commit_leftovers():
                pass
            raise Interrupted(self.report.finished, self.report.inputs) from None
        except Exception:
            # before any unit (an engine that cannot start, a usage error found in prepare)
            # there is nothing to finish: the folder is left as it was, without a manifest
            early = not started
            raise
        finally:
            for _ in self._commit_leftovers():
                pass
            self._finish(stopped, skip=early)

    def _units(self, units: list[Unit]) -> Iterator[Outcome]:
        total = sum(u.weight for u in units)
        with Progress(total, self.label, enabled=self.progress) as bar:
            todo: list[Unit] = []
            for unit in units:
                reused = self._reused(unit)
                if reused is not None:
                    bar.advance(unit.weight)
                    yield reused
                else:
                    todo.append(unit)
            if self._distrusted and self._ledger is not None:
                warnings.warn(
                    f"{shown(self._ledger.state_dir)}: {self._distrusted} ledger record(s) of "
                    f"finished inputs are not what {self.job.name} writes (edited by hand or "
                    "damaged); redoing those inputs",
                    stacklevel=1,
                )
            if self._ledger is not None:
                for unit in todo:
                    self._ledger.started(unit.key, unit.outputs)
            by_key = {u.key: u for u in todo}
            ticked = [0]

            def tick(n: int) -> None:  # progress within a unit (serial engine only)
                bar.advance(n)
                ticked[0] += n

            tasks = (self.job.task(u) for u in todo)  # lazily: a task may hash its input
            serial = isinstance(self.engine, SerialEngine)
            for _task, result in self.engine.imap("process", tasks, tick if serial else None):
                unit = by_key[result.key]
                outcome = self._commit(unit, result)
                bar.advance(max(0, unit.weight - ticked[0]))
                ticked[0] = 0
                yield outcome
                if outcome.status == "failed" and self.fail_fast:
                    return

    def _claims(
        self, units: list[Unit], run_outputs: tuple[str, ...]
    ) -> dict[str, tuple[str, ...]]:
        """What this run may write, by owner: each unit's outputs under its key, the
        whole-run outputs under the command's name."""
        claims = {u.key: u.outputs for u in units}
        shared = tuple(rel for rel in run_outputs if safe_rel(rel))
        if shared:
            claims[self.job.name] = shared
        return claims

    def _mine(self, rel: str) -> bool:
        return self.shard is None or shard_of(rel, self.shard[1]) == self.shard[0]

    def _progress(self, total: int, label: str) -> Progress:
        return Progress(total, label, enabled=self.progress)

    # --- bookkeeping --------------------------------------------------------------------

    def fingerprint(self, unit: Unit) -> str:
        """The unit's fingerprint (hashing its input, once per run)."""
        source = unit.source
        return fingerprint(
            {
                "job": self.job.name,
                "settings": self._settings,
                "unit": unit.identity,
                "input": self.hashes(source.path) if source is not None else None,
            }
        )

    def _reused(self, unit: Unit) -> Outcome | None:
        ledger = self._ledger
        if ledger is None or self.overwrite or ledger.state.current(unit.key) is None:
            return None
        event = ledger.finished(unit.key, self.fingerprint(unit), unit.outputs)
        if event is None:
            return None
        if not self.job.record_ok(event.get("record")):
            self._distrusted += 1
            return None
        self.report.reused += 1
        if event.get("record") is not None:
            self.report._records.append((unit.index, event["record"]))
        return Outcome("reused", _source(unit), unit, event.get("record"))

    def _commit(self, unit: Unit, result: UnitResult) -> Outcome:
        if self._ledger is not None and (result.error is None or result.outputs):
            self._ledger.done(
                unit.key,
                self.fingerprint(unit),
                result.record,
                result.outputs,
                result.complete and result.error is None,
            )
        notes, warnings = tuple(result.notes), tuple(result.warnings)
        if result.error is not None:
            failed = self._failed(_source(unit), result.error, unit, notes, warnings)
            return replace(failed, params=result.error_params)
        self.report.done += 1
        if result.record is not None:
            self.report._records.append((unit.index, result.record))
        return Outcome("done", _source(unit), unit, result.record, None, notes, warnings,
                       result.seconds)  # fmt: skip

    def _failed(
        self,
        source: str,
        message: str,
        unit: Unit | None = None,
        notes: tuple[str, ...] = (),
        warnings: tuple[str, ...] = (),
    ) -> Outcome:
        self.report.failed += 1
        self.report.failures.append(message)
        self.report.failed_sources.append(source)
        if unit is not None and self._ledger is not None:
            self._ledger.failed(unit.key, source, message)
        return Outcome("failed", source, unit, None, message, notes, warnings)

    def _commit_leftovers(self) -> Iterator[Outcome]:
        """Units that finished in workers but were not taken yet (after a stop)."""
        leftovers = self.engine.stop()
        units = {u.key: u for u in self.job.plan().units}
        for _task, result in leftovers:
            if isinstance(result, UnitResult) and result.key in units:
                yield self._commit(units[result.key], result)

    def _finish(self, stopped: bool, skip: bool = False) -> None:
        ledger = self._ledger
        sharded = self.shard is not None and self.shard[1] > 1
        quiet = contextlib.suppress(OSError, OccludeError) if stopped else contextlib.nullcontext()
        try:
            if not skip:
                with quiet:
                    self.job.finish(ledger, self.report.records, stopped, sharded)
        finally:
            if ledger is not None:
                ledger.close()
                self._ledger = None


def _source(unit: Unit) -> str:
    return shown(unit.source.path) if unit.source is not None else unit.key


def _unsafe(unit: Unit) -> str:
    rel = next(r for r in unit.outputs if not safe_rel(r))
    return (f"{_source(unit)}: its output name {shown(rel)} cannot be recorded safely (an "
            "empty, '.' or '..' part, counting '\\' as a separator too, a drive letter or a "
            "NUL): rename the input")  # fmt: skip
