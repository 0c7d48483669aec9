"""The job runner and its resume ledger, with a tiny fake job (no images, no model): what is
reused and when, failures in one shape, fail-fast, progress, Ctrl-C, and the ledger's parts,
withdrawals and compaction in ``<out>/.occlude``."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from occlude.errors import Interrupted
from occlude.imageio import TEMP_SUFFIX
from occlude.inputs import InputImage
from occlude.runner import Job, Ledger, Plan, Runner, Unit, UnitResult
from occlude.runner.ledger import COMPACTED
from occlude.runner.state import STATE_DIR, FileHashes, RunLock, canonical_json, fingerprint


@dataclass
class FakeJob(Job):
    """Writes ``<name>.out`` (the input's bytes, reversed) for every input file."""

    name = "fake"

    inputs: Sequence[Path]
    out_dir: Path | None = None
    version: int = 1
    broken: frozenset[str] = frozenset()  # inputs whose unit fails
    unreadable: frozenset[str] = frozenset()  # inputs that fail while planning
    dropped: frozenset[str] = frozenset()  # inputs that fail in prepare
    interrupt_at: int | None = None  # Ctrl-C when this many units were processed
    weights: dict[str, int] = field(default_factory=dict)
    processed: list[str] = field(default_factory=list)
    finished: list[tuple[list[dict[str, Any]], bool]] = field(default_factory=list)

    def plan(self) -> Plan:
        units, failures = [], []
        for path in self.inputs:
            if path.name in self.unreadable:
                failures.append((str(path), f"{path}: unreadable"))
                continue
            units.append(Unit(
                key=f"fake:{path.name}",
                source=InputImage(path, PurePosixPath(path.name), path),
                outputs=(f"{path.stem}.out",),
                identity={"name": path.name},
                weight=self.weights.get(path.name, 1),
                index=len(units),
            ))  # fmt: skip
        return Plan(units, failures, ["a note"], len(self.inputs))

    def settings(self, hashes: FileHashes) -> dict[str, Any]:
        return {"version": self.version}

    def prepare(self, engine: Any, hashes: FileHashes, progress: Any) -> list[tuple[str, str]]:
        return [(f"fake:{n}", f"{n}: dropped") for n in sorted(self.dropped)]

    def process(self, task: Any, tick: Any = None) -> UnitResult:
        unit: Unit = task
        assert unit.source is not None and self.out_dir is not None
        if self.interrupt_at is not None and len(self.processed) == self.interrupt_at:
            raise KeyboardInterrupt
        self.processed.append(unit.source.path.name)
        if unit.source.path.name in self.broken:
            return UnitResult(unit.key, error=f"{unit.source.path}: broken")
        rel = unit.outputs[0]
        (self.out_dir / rel).write_bytes(unit.source.path.read_bytes()[::-1])
        return UnitResult(unit.key, record={"name": unit.source.path.name},
                          outputs={rel: {"output": rel}})  # fmt: skip

    def finish(
        self, ledger: Any, records: Sequence[dict[str, Any]], stopped: bool, sharded: bool = False
    ) -> None:
        self.finished.append((list(records), stopped))


@pytest.fixture()
def inputs(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for name in ("a", "b", "c"):
        (folder / f"{name}.txt").write_bytes(f"input {name}".encode())
        paths.append(folder / f"{name}.txt")
    return paths


def outcomes(job: FakeJob, **options: Any) -> tuple[list[tuple[str, str]], Runner]:
    runner = Runner(job, progress=False, **options)
    return [(o.status, o.source) for o in runner.run()], runner


def test_a_first_run_does_everything_and_records_it(inputs, tmp_path) -> None:
    job = FakeJob(inputs, tmp_path / "out")
    (tmp_path / "out").mkdir()
    seen, runner = outcomes(job)
    assert seen == [("note", "")] + [("done", str(p)) for p in inputs]
    assert job.processed == ["a.txt", "b.txt", "c.txt"]
    report = runner.report
    assert (report.inputs, report.done, report.reused, report.failed) == (3, 3, 0, 0)
    assert report.records == [{"name": "a.txt"}, {"name": "b.txt"}, {"name": "c.txt"}]
    assert job.finished == [(report.records, False)]
    assert (tmp_path / "out" / "a.out").read_bytes() == b"a tupni"


def test_a_rerun_with_the_same_fingerprint_reuses_every_unit(inputs, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    outcomes(FakeJob(inputs, out))
    job = FakeJob(inputs, out)
    seen, runner = outcomes(job)
    assert seen[1:] == [("reused", str(p)) for p in inputs]
    assert job.processed == []
    assert runner.report.reused == 3 and runner.report.finished == 3
    assert runner.report.records == [{"name": "a.txt"}, {"name": "b.txt"}, {"name": "c.txt"}]


@pytest.mark.parametrize(
    "change",
    ["settings", "overwrite", "input bytes, same size and mtime", "output deleted",
     "output resized"],
)  # fmt: skip
def test_a_unit_is_redone_when_anything_that_decides_it_changed(inputs, tmp_path, change) -> None:
    out = tmp_path / "out"
    out.mkdir()
    outcomes(FakeJob(inputs, out))
    job, options = FakeJob(inputs, out), {}
    if change == "settings":
        job.version = 2
    elif change == "overwrite":
        options["overwrite"] = True
    elif change == "output deleted":
        (out / "b.out").unlink()
    elif change == "output resized":
        (out / "b.out").write_bytes(b"x")
    else:
        info = inputs[1].stat()
        inputs[1].write_bytes(b"input B")  # the same length
        os.utime(inputs[1], ns=(info.st_atime_ns, info.st_mtime_ns))
    outcomes(job, **options)
    if change in ("settings", "overwrite"):
        assert job.processed == ["a.txt", "b.txt", "c.txt"]
    else:
        assert job.processed == ["b.txt"]


def test_failures_come_in_one_shape_wherever_they_happen(inputs, tmp_path) -> None:
    extra = inputs[0].parent / "d.txt"
    extra.write_bytes(b"input d")
    job = FakeJob([*inputs, extra], tmp_path / "out", unreadable=frozenset({"a.txt"}),
                  dropped=frozenset({"b.txt"}), broken=frozenset({"c.txt"}))  # fmt: skip
    (tmp_path / "out").mkdir()
    runner = Runner(job, progress=False)
    failed = [(o.source, o.message) for o in runner.run() if o.status == "failed"]
    paths = [str(p) for p in (*inputs, extra)]
    assert failed == [(paths[0], f"{paths[0]}: unreadable"), (paths[1], "b.txt: dropped"),
                      (paths[2], f"{paths[2]}: broken")]  # fmt: skip
    report = runner.report
    assert (report.inputs, report.done, report.failed) == (4, 1, 3)
    assert report.failures == [m for _, m in failed]
    assert report.failed_sources == paths[:3]
    assert job.processed == ["c.txt", "d.txt"]  # a dropped unit is not processed


def test_a_failed_unit_is_not_reused(inputs, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    outcomes(FakeJob(inputs, out, broken=frozenset({"b.txt"})))
    job = FakeJob(inputs, out)
    outcomes(job)
    assert job.processed == ["b.txt"]


def test_fail_fast_stops_at_the_first_failure(inputs, tmp_path) -> None:
    (tmp_path / "out").mkdir()
    job = FakeJob(inputs, tmp_path / "out", broken=frozenset({"b.txt"}))
    seen, _ = outcomes(job, fail_fast=True)
    assert seen[1:] == [("done", str(inputs[0])), ("failed", str(inputs[1]))]
    assert job.processed == ["a.txt", "b.txt"]
    assert not (tmp_path / "out" / "c.out").exists()
    assert job.finished == [([{"name": "a.txt"}], False)]
    planned = FakeJob(inputs, tmp_path / "out2", unreadable=frozenset({"a.txt"}))
    seen, _ = outcomes(planned, fail_fast=True)
    assert seen[1:] == [("failed", str(inputs[0]))] and planned.processed == []


def test_ctrl_c_becomes_interrupted_with_the_count_and_finished_units_stay_done(
    inputs, tmp_path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    job = FakeJob(inputs, out, interrupt_at=2)
    runner = Runner(job, progress=False)
    with pytest.raises(Interrupted) as caught:
        list(runner.run())
    assert (caught.value.done, caught.value.total) == (2, 3)
    assert str(caught.value) == "interrupted after 2 of 3 inputs"
    assert job.finished == [([{"name": "a.txt"}, {"name": "b.txt"}], True)]
    rerun = FakeJob(inputs, out)
    outcomes(rerun)
    assert rerun.processed == ["c.txt"]


def test_the_progress_total_is_every_planned_units_weight(inputs, tmp_path, monkeypatch) -> None:
    bars: list[Any] = []

    class Bar:
        def __init__(self, total: int, description: str, enabled: bool = True) -> None:
            self.total, self.description, self.done = total, description, 0
            bars.append(self)

        def __enter__(self) -> Bar:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def advance(self, n: int = 1) -> None:
            self.done += n

    monkeypatch.setattr("occlude.runner.run.Progress", Bar)
    out = tmp_path / "out"
    out.mkdir()
    weights = {"a.txt": 5, "b.txt": 7, "c.txt": 11}
    outcomes(FakeJob(inputs, out, weights=weights, dropped=frozenset({"c.txt"})))
    outcomes(FakeJob(inputs[:1], out, weights=weights), label="again")  # reused
    assert [(b.total, b.done) for b in bars] == [(12, 12), (5, 5)]
    assert [b.description for b in bars] == ["fake", "again"]


def test_fingerprints_hash_settings_identity_and_the_inputs_bytes(inputs, tmp_path) -> None:
    job = FakeJob(inputs, tmp_path)
    runner = Runner(job, progress=False)
    runner._settings = {"version": 1}
    unit = job.plan().units[0]
    import hashlib

    expected = fingerprint({"job": "fake", "settings": {"version": 1}, "unit": {"name": "a.txt"},
                            "input": hashlib.sha256(b"input a").hexdigest()})  # fmt: skip
    assert runner.fingerprint(unit) == expected
    assert canonical_json({"b": 1, "a": [1.5, None]}) == '{"a":[1.5,null],"b":1}'
    assert len(fingerprint({"x": 1})) == 64 and len(fingerprint({"x": 1}, 16)) == 16


# --- the ledger ----------------------------------------------------------------------------


def events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write(out: Path, rel: str, data: bytes = b"data") -> None:
    (out / rel).write_bytes(data)


def test_a_unit_is_finished_only_with_the_same_fingerprint(tmp_path) -> None:
    write(tmp_path, "a.out")
    ledger = Ledger(tmp_path)
    ledger.done("k", "fp1", {"r": 1}, {"a.out": {"o": 1}}, True)
    ledger.close()
    again = Ledger(tmp_path)
    event = again.finished("k", "fp1", ["a.out"])
    assert event is not None and event["record"] == {"r": 1}
    assert again.finished("k", "fp2", ["a.out"]) is None
    assert again.finished("k", "fp1", ["a.out", "b.out"]) is None  # an output it never wrote
    assert again.finished("other", "fp1", ["a.out"]) is None
    again.close()


def test_an_incomplete_unit_is_not_finished(tmp_path) -> None:
    write(tmp_path, "a.out")
    ledger = Ledger(tmp_path)
    ledger.done("k", "fp", None, {"a.out": None, "missing.out": None}, True)
    assert ledger.finished("k", "fp", ["a.out"]) is None  # one of its files was never written
    ledger.close()


def test_a_started_event_withdraws_the_old_record(tmp_path) -> None:
    write(tmp_path, "a.out")
    first = Ledger(tmp_path)
    first.done("k", "fp", {"r": 1}, {"a.out": {"o": 1}}, True)
    assert first.state.output_records(tmp_path) == [{"o": 1}]
    first.close()
    second = Ledger(tmp_path)
    second.started("k", ["a.out"])
    assert second.state.current("k") is None
    assert second.finished("k", "fp", ["a.out"]) is None
    assert second.state.output_records(tmp_path) == []  # the file is no longer vouched for
    second.close()
    third = Ledger(tmp_path)
    assert third.finished("k", "fp", ["a.out"]) is None  # also after compaction
    # no record is kept, only who owns the file
    kept = events(tmp_path / STATE_DIR / COMPACTED)
    assert [(e["event"], e["key"], e["outputs"]) for e in kept] == [("owns", "k", ["a.out"])]
    assert third.state.owner("a.out") == "k"
    third.close()


def test_two_live_runs_write_their_own_parts_and_both_are_merged(tmp_path) -> None:
    write(tmp_path, "a.out")
    write(tmp_path, "b.out")
    one, two = Ledger(tmp_path), Ledger(tmp_path)
    assert one.run_id != two.run_id
    one.done("ka", "fp", {"r": "a"}, {"a.out": None}, True)
    two.done("kb", "fp", {"r": "b"}, {"b.out": None}, True)
    runs = tmp_path / STATE_DIR / "runs"
    assert sorted(p.name for p in runs.glob("*.jsonl")) == sorted(
        [f"{one.run_id}.jsonl", f"{two.run_id}.jsonl"]
    )
    reader = Ledger(tmp_path)
    assert reader.state.unit_records() == [{"r": "a"}, {"r": "b"}]
    reader.close()
    one.close()  # folds its own part in; the live run's part stays
    assert [p.stem for p in runs.glob("*.jsonl")] == [two.run_id]
    assert [e["key"] for e in events(tmp_path / STATE_DIR / COMPACTED)] == ["ka"]
    two.close()
    assert list(runs.glob("*")) == []  # parts folded in, run locks released
    assert [e["key"] for e in events(tmp_path / STATE_DIR / COMPACTED)] == ["ka", "kb"]


def test_compaction_keeps_only_current_events(tmp_path) -> None:
    write(tmp_path, "a.out")
    write(tmp_path, "b.out")
    ledger = Ledger(tmp_path)
    ledger.done("ka", "old", {"v": 1}, {"a.out": None}, True)
    ledger.done("ka", "new", {"v": 2}, {"a.out": None}, True)
    ledger.done("kb", "fp", {"v": 3}, {"b.out": None}, True)
    ledger.started("kb", ["b.out"])  # kb is being redone
    ledger.close()
    kept = events(tmp_path / STATE_DIR / COMPACTED)
    done = [e for e in kept if e["event"] == "done"]
    assert [(e["event"], e["key"], e["fingerprint"]) for e in done] == [("done", "ka", "new")]
    assert done[0]["outputs"] == {"a.out": {"size": 4, "record": None}} and done[0]["complete"]
    # kb's record is withdrawn, but it still owns its file
    assert [(e["key"], e["outputs"]) for e in kept if e["event"] == "owns"] == [("kb", ["b.out"])]


def test_a_line_cut_short_by_a_kill_is_skipped(tmp_path) -> None:
    write(tmp_path, "a.out")
    ledger = Ledger(tmp_path)
    ledger.done("ka", "fp", None, {"a.out": None}, True)
    part = tmp_path / STATE_DIR / "runs" / f"{ledger.run_id}.jsonl"
    with open(part, "a") as handle:
        handle.write('{"t": 1, "event": "done", "key": "kb", "fingerp')  # killed mid-line
    reader = Ledger(tmp_path)
    assert sorted(reader.state.by_key) == ["ka"]
    reader.close()
    ledger.close()


def test_temporaries_of_ended_runs_are_cleared_and_a_live_runs_kept(tmp_path) -> None:
    live_lock = RunLock(tmp_path / STATE_DIR, "0123456789abcdef")  # another run, still going
    sub = tmp_path / "sub"
    sub.mkdir()
    mine = sub / f".x.png.0123456789abcdef.abc{TEMP_SUFFIX}"
    dead = sub / f".y.png.fedcba9876543210.abc{TEMP_SUFFIX}"  # a killed run's
    foreign = tmp_path / f".notes{TEMP_SUFFIX}"  # not one of ours
    for path in (mine, dead, foreign):
        path.write_bytes(b"half")
    ledger = Ledger(tmp_path)
    assert mine.exists() and foreign.exists() and not dead.exists()
    ledger.close()
    live_lock.release()
    Ledger(tmp_path).close()
    assert not mine.exists() and foreign.exists()


def test_a_runs_lock_tells_live_runs_from_ended_ones(tmp_path) -> None:
    from occlude.runner.state import run_is_live

    state = tmp_path / STATE_DIR
    lock = RunLock(state, "aaaa")
    assert run_is_live(state, "aaaa")
    lock.release()
    assert not run_is_live(state, "aaaa")
    (state / "runs" / "bbbb.lock").write_bytes(b"")  # a killed run's: nobody holds it
    assert not run_is_live(state, "bbbb")
    assert not (state / "runs" / "bbbb.lock").exists()
