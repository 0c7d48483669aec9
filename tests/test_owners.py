"""Runs into one output folder own what they write.

A run refuses (exit 2, one line naming the file, its owner and the run's unit or command),
before it writes anything, to write a file that another unit or command wrote there: a
unit's outputs are owned by the unit, whole-run outputs (``robustness.json``/``.png``,
``manifest.jsonl``, ``--json`` inside the folder) by the command. The same unit rerunning
(resume, ``--overwrite``) keeps working; shards and concurrent runs of one command are in
test_scale_out.py and test_hostile.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import badfiles
import pytest
from support.cli import assert_usage_error, digest, invoke, ok

from occlude.errors import UsageError
from occlude.runner import Job, Ledger, Plan, Runner, Unit, UnitResult
from occlude.runner.ledger import read_state
from occlude.runner.state import STATE_DIR, FileHashes


def everything(out: Path) -> dict[str, str]:
    """Every file under ``out``, the ledger included: a refused run changes none."""
    return digest(out, skip_state=False)


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    for rel in ("0/a.png", "1/b.png"):
        (tmp_path / "imgs" / rel).parent.mkdir(parents=True, exist_ok=True)
        badfiles.good_png(tmp_path / "imgs" / rel, (32, 48))
    return tmp_path / "imgs"


def robustness(labelled: Path, model_file: Path, out: Path) -> Any:
    return invoke("robustness", labelled, "--labels", "folders", "-m", model_file,
                  "--repeats", "1", "--fractions", "0,0.5", "--out", out, "-q")  # fmt: skip


def named(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return badfiles.good_png(folder / name, (32, 48))


# --- the commands -----------------------------------------------------------------------


def test_a_later_sensitivity_run_never_replaces_the_robustness_summary(
    model_file, labelled, tmp_path
) -> None:
    out = tmp_path / "out"
    assert robustness(labelled, model_file, out).exit_code == 0
    img = named(tmp_path / "in", "robustness.png")
    before = everything(out)
    for extra in ([], ["--overwrite"]):
        res = invoke("sensitivity", img, "-m", model_file, "-p", "16", "-o", out, *extra)
        assert_usage_error(res, f"{out / 'robustness.png'}: the robustness command wrote",
                           "unit sensitivity:robustness.png would overwrite", "--out")  # fmt: skip
    assert everything(out) == before  # nothing written, not even the ledger
    assert robustness(labelled, model_file, out).exit_code == 0  # its own rerun: fine


def test_a_later_robustness_run_never_replaces_a_sensitivity_output(
    model_file, labelled, tmp_path
) -> None:
    out = tmp_path / "out"
    img = named(tmp_path / "in", "robustness.png")
    ok("sensitivity", img, "-m", model_file, "-p", "16", "-o", out, "-q")
    before = everything(out)
    res = robustness(labelled, model_file, out)
    assert_usage_error(res, f"{out / 'robustness.json'}: unit sensitivity:robustness.png wrote",
                       "the robustness command would overwrite it")  # fmt: skip
    assert everything(out) == before
    again = ok("sensitivity", img, "-m", model_file, "-p", "16", "-o", out)
    assert "already done" in again.stderr


def test_an_input_named_like_another_inputs_sheet_is_refused_in_a_later_run(
    model_file, tmp_path
) -> None:
    out = tmp_path / "out"
    first = named(tmp_path / "one", "x.png")
    second = named(tmp_path / "two", "x_scales.png")
    ok("sensitivity", first, "-m", model_file, "-p", "16", "-o", out, "-q")
    before = everything(out)
    for extra in ([], ["--overwrite"]):
        res = invoke("sensitivity", second, "-m", model_file, "-p", "16", "-o", out, *extra)
        assert_usage_error(res, f"{out / 'x_scales.png'}: unit sensitivity:x.png wrote",
                           "unit sensitivity:x_scales.png would overwrite")  # fmt: skip
    assert everything(out) == before
    # the unit that owns them reruns as before: resumed, then redone with --overwrite
    assert (
        "already done" in ok("sensitivity", first, "-m", model_file, "-p", "16", "-o", out).stderr
    )
    ok("sensitivity", first, "-m", model_file, "-p", "16", "-o", out, "--overwrite", "-q")
    assert everything(out) != before


def test_augment_outputs_and_its_manifest_belong_to_augment(model_file, tmp_path) -> None:
    out = tmp_path / "out"
    ok("augment", named(tmp_path / "in", "a.png"), "-m", "cutout", "-o", out, "-q")
    before = everything(out)
    img = named(tmp_path / "other", "a_cutout_0.png")
    res = invoke("sensitivity", img, "-m", model_file, "-p", "16", "-o", out)
    assert_usage_error(res, f"{out / 'a_cutout_0.png'}: unit augment:cutout:a.png wrote")
    res = invoke("sensitivity", named(tmp_path / "b", "b.png"), "-m", model_file, "-p", "16",
                 "-o", out, "--json", out / "manifest.jsonl")  # fmt: skip
    assert_usage_error(res, f"{out / 'manifest.jsonl'}: the augment command wrote",
                       "the sensitivity command would overwrite it")  # fmt: skip
    assert everything(out) == before
    # another method into the same folder shares the manifest: the same command
    ok("augment", tmp_path / "in", "-m", "hide-and-seek", "-o", out, "-q")
    assert {"a_cutout_0.png", "a_hide-and-seek_0.png"} <= set(digest(out))


def test_a_json_file_inside_the_folder_belongs_to_its_command(model_file, labelled, tmp_path):  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    assert robustness(labelled, model_file, out).exit_code == 0
    res = invoke("sensitivity", named(tmp_path / "in", "a.png"), "-m", model_file, "-p", "16",
                 "-o", out, "--json", out / "robustness.json")  # fmt: skip
    assert_usage_error(res, f"{out / 'robustness.json'}: the robustness command wrote")


# --- the runner -------------------------------------------------------------------------


@dataclass
class Writer(Job):
    """Units that write the given files (text: the command's name) and whole-run files."""

    name = "writer"

    out_dir: Path
    files: dict[str, Sequence[str]] = field(default_factory=dict)  # unit name -> outputs
    shared: tuple[str, ...] = ()

    def plan(self) -> Plan:
        units = [Unit(f"{self.name}:{n}", None, tuple(outs), {"rel": n}, index=i)
                 for i, (n, outs) in enumerate(self.files.items())]  # fmt: skip
        return Plan(units, run_outputs=self.shared)

    def settings(self, hashes: FileHashes) -> dict[str, Any]:
        return {}

    def process(self, task: Any, tick: Any = None) -> UnitResult:
        for rel in task.outputs:
            (self.out_dir / rel).write_text(self.name)
        return UnitResult(task.key, record={}, outputs={rel: None for rel in task.outputs})

    def finish(self, ledger: Any, records: Any, stopped: bool, sharded: bool = False) -> None:
        for rel in self.shared:
            (self.out_dir / rel).write_text(self.name)


@dataclass
class Other(Writer):
    name = "other"


def run(job: Job, **options: Any) -> list[str]:
    return [o.status for o in Runner(job, progress=False, **options).run()]


def test_a_unit_never_writes_what_another_unit_or_command_owns(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert run(Writer(out, {"a": ["a.txt"]}, ("summary.txt",))) == ["done"]
    before = everything(out)
    jobs = [Other(out, {"b": ["a.txt"]}), Other(out, {"b": ["summary.txt"]}),
            Other(out, {}, ("a.txt",)), Other(out, {"b": ["b.txt"]}, ("summary.txt",))]  # fmt: skip
    for job in jobs:
        for overwrite in (False, True):
            with pytest.raises(UsageError, match=r"(unit writer:a|the writer command) wrote"):
                run(job, overwrite=overwrite)
            assert everything(out) == before
    assert run(Writer(out, {"a": ["a.txt"]}, ("summary.txt",)), overwrite=True) == ["done"]
    assert read_state(out).owner("a.txt") == "writer:a"
    assert read_state(out).owner("summary.txt") == "writer"


def test_a_file_that_is_gone_can_change_owner(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    run(Writer(out, {"a": ["a.txt"]}))
    (out / "a.txt").unlink()  # nothing left to lose
    assert run(Other(out, {"b": ["a.txt"]})) == ["done"]
    assert (out / "a.txt").read_text() == "other"
    with pytest.raises(UsageError, match="unit other:b wrote"):  # and now it is other's
        run(Writer(out, {"a": ["a.txt"]}))


def test_a_live_runs_claims_count_before_it_writes_anything(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old")
    live = Ledger(out, {"writer:a": ["a.txt"]})  # started, still loading its model
    try:
        with pytest.raises(UsageError, match="unit writer:a wrote"):
            run(Other(out, {"b": ["a.txt"]}))
        with pytest.raises(UsageError, match="unit writer:a wrote"):
            Ledger(out, {"other:b": ["a.txt"]})  # the same check, under the folder lock
        runs = sorted(p.name for p in (out / STATE_DIR / "runs").iterdir())
        assert runs == [f"{live.run_id}.jsonl", f"{live.run_id}.lock"]  # the refused run left none
    finally:
        live.close()
    assert (out / "a.txt").read_text() == "old"
    assert not (out / STATE_DIR).exists()  # a run that did no work leaves no state, claims too


def test_a_live_run_owns_what_it_has_claimed_before_the_file_exists(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    run(Writer(out, {"z": ["z.txt"]}))  # the folder has a ledger: the claims stay in it
    live = Ledger(out, {"writer:a": ["new.txt"]})  # two runs start together
    try:
        with pytest.raises(UsageError, match="a run of unit writer:a that is still going"):
            run(Other(out, {"b": ["new.txt"]}))
    finally:
        live.close()
    assert not (out / "new.txt").exists()
    assert run(Other(out, {"b": ["new.txt"]})) == ["done"]  # it never wrote it: free again


def test_ownership_survives_a_killed_unit_and_compaction(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    run(Writer(out, {"a": ["a.txt", "b.txt"]}))
    ledger = Ledger(out)
    ledger.started("writer:a", ["a.txt", "b.txt"])  # a rerun killed before it committed
    ledger.close()
    state = read_state(out)
    assert state.current("writer:a") is None and state.owner("b.txt") == "writer:a"
    with pytest.raises(UsageError, match="unit writer:a wrote"):
        run(Other(out, {"b": ["b.txt"]}))


def test_an_output_name_that_cannot_be_recorded_fails_that_input_alone(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    job = Writer(out, {"bad": ["..\\x.txt"], "good": ["g.txt"]})
    runner = Runner(job, progress=False)
    outcomes = [(o.status, o.message) for o in runner.run()]
    assert outcomes[1] == ("done", None)
    assert outcomes[0][0] == "failed" and "cannot be recorded safely" in str(outcomes[0][1])
    assert sorted(p.name for p in out.iterdir()) == [STATE_DIR, "g.txt"]
