"""A ledger is not trusted: every line is checked when read, and one that is not what
occlude writes (hand-edited, damaged, carried between machines) is skipped with one
warning, never a traceback; no output path in it leads outside the output folder, so
``occlude report`` reads and writes nothing outside it, and later runs (with and without
``--overwrite``) work and drop the bad lines."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import badfiles
import numpy as np
import pytest
import test_report_synth as synth
from support.cli import invoke as invoke_here
from support.cli import manifest

from occlude.runner import Ledger, Runner
from occlude.runner.events import parse, read_events
from occlude.runner.ledger import COMPACTED, read_state
from occlude.runner.state import STATE_DIR

DONE: dict[str, Any] = {
    "t": 1_700_000_000_000_000_001, "run": "5e0d5e0d5e0d5e0d", "seq": 1, "event": "done",
    "key": "fake:a.txt", "fingerprint": "f0", "record": {"n": 1, "x": 0.5},
    "outputs": {"a.out": {"size": 3, "record": {"o": 1}}}, "complete": True,
}  # fmt: skip
STARTED = {"t": 2, "event": "started", "key": "fake:a.txt", "outputs": ["a.out"]}
FAILED = {"t": 3, "event": "failed", "key": "fake:b.txt", "source": "in/b.txt", "message": "m"}
OWNS = {"t": 4, "event": "owns", "key": "fake", "outputs": ["summary.json"]}


def line(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


def done(**changes: Any) -> str:
    event = {**DONE, **changes}
    return line({k: v for k, v in event.items() if v is not DROP})


class _Drop:
    def __repr__(self) -> str:
        return "missing"


DROP = _Drop()
OUTSIDE = ["/etc/passwd", "../x.png", "a/../../x.png", "..\\x.png", "a\\..\\..\\x.png",
           "C:\\x.png", "C:x.png", "\\\\server\\share\\x.png", "a//b.png", "./a.png", "a/",
           "", "a\u0000b"]  # fmt: skip
BAD: dict[str, str] = {
    **{f"t {v!r}": done(t=v) for v in ("yesterday", True, -1, 2**63, 1.5, None, DROP)},
    "t 1e400": done().replace('"t":1700000000000000001', '"t":1e400'),
    "t with 5000 digits": done().replace('"t":1700000000000000001', '"t":' + "9" * 5000),
    "NaN in a record": done().replace('"x":0.5', '"x":NaN'),
    "Infinity in a record": done().replace('"x":0.5', '"x":-Infinity'),
    "1e999 in a record": done().replace('"x":0.5', '"x":1e999'),
    **{f"run {v!r}": done(run=v) for v in ("../../etc", 5, "")},
    **{f"seq {v!r}": done(seq=v) for v in (-1, "1", 0.5)},
    **{f"event {v!r}": done(event=v) for v in ("deleted", None, DROP)},
    **{f"key {v!r}": done(key=v) for v in ("", 5, None, DROP)},
    **{f"fingerprint {v!r}": done(fingerprint=v) for v in (5, None, DROP)},
    **{f"record {v!r}": done(record=v) for v in ([1], "x", 5, True)},
    **{f"complete {v!r}": done(complete=v) for v in ("yes", 1, None, DROP)},
    **{
        f"outputs {v!r}": done(outputs=v)
        for v in (
            [],
            ["a.out"],
            5,
            "a.out",
            None,
            DROP,
            {"a.out": 5},
            {"a.out": {"size": "3"}},
            {"a.out": {"size": -1}},
            {"a.out": {"size": True}},
            {"a.out": {}},
            {"a.out": {"size": 3, "record": [1]}},
        )
    },
    **{f"output path {p!r}": done(outputs={p: {"size": 1, "record": None}}) for p in OUTSIDE},
    **{
        f"started outputs {v!r}": line({**STARTED, "outputs": v})
        for v in (5, "a.out", {"a.out": 1}, [5], None, *([p] for p in OUTSIDE))
    },
    **{
        f"owns outputs {v!r}": line({**OWNS, "outputs": v})
        for v in ("a.out", [None], *([p] for p in OUTSIDE))
    },
    "failed message None": line({**FAILED, "message": None}),
    "failed source 5": line({**FAILED, "source": 5}),
    **{f"not an object {v!r}": json.dumps(v) for v in ([1, 2], 5, "text", None)},
    "nested 100000 deep": "[" * 100_000 + "]" * 100_000,
    "not JSON": "{this is not json}",
    "not ASCII": done().replace("fake:a.txt", "caf\u00e9"),
}


def test_the_events_occlude_writes_are_read_back(tmp_path: Path) -> None:
    for event in (DONE, STARTED, FAILED, OWNS, {**DONE, "record": None}):
        assert parse(line(event).encode()) == event
    (tmp_path / "a.out").write_bytes(b"abc")
    ledger = Ledger(tmp_path, {"fake": ["s.json"]})
    ledger.started("fake:a.txt", ["a.out"])
    ledger.done("fake:a.txt", "fp", {"n": 1}, {"a.out": {"o": 1}}, True)
    ledger.failed("fake:b.txt", "in/b.txt", "in/b.txt: broken \udce9\n")
    odd = "caf\udce9 #1\n.out"  # not UTF-8, a newline: the name is an odd but legal one
    (tmp_path / odd).write_bytes(b"x")
    ledger.done("fake:c.txt", "fp", None, {odd: None}, True)
    ledger.close()
    events, refused = read_events(tmp_path / STATE_DIR / COMPACTED)
    assert refused == 0 and [e["key"] for e in events][-3:] == ["fake:a.txt", "fake:b.txt",
                                                                 "fake:c.txt"]  # fmt: skip
    assert read_state(tmp_path).owner(odd) == "fake:c.txt"


@pytest.mark.parametrize("bad", sorted(BAD))
def test_a_line_of_the_wrong_shape_is_skipped_with_one_warning(tmp_path: Path, bad: str) -> None:
    (tmp_path / "a.out").write_bytes(b"abc")
    good = [line(DONE), line(FAILED), line(OWNS)]
    write_state(tmp_path, [good[0], BAD[bad], *good[1:]])
    with pytest.warns(UserWarning) as caught:
        state = read_state(tmp_path)
    assert [str(w.message) for w in caught] == [
        f"{tmp_path / STATE_DIR}: skipped 1 ledger entry that occlude did not write (edited by "
        "hand or damaged)"
    ]
    assert state.refused == 1
    assert sorted(state.by_key) == ["fake:a.txt", "fake:b.txt"]
    assert state.current("fake:a.txt") == DONE and state.owner("summary.json") == "fake"
    assert set(state.owners) == {"a.out", "summary.json"}


def write_state(out: Path, lines: list[str], name: str = COMPACTED) -> Path:
    path = out / STATE_DIR / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as handle:
        handle.write("".join(f"{x}\n" for x in lines).encode("utf-8", "surrogateescape"))
    return path


def test_a_line_cut_short_at_the_end_is_skipped_quietly(tmp_path: Path) -> None:
    path = write_state(tmp_path, [line(DONE)])
    with open(path, "a") as handle:
        handle.write(line(FAILED)[:-7])  # a kill mid-line: no newline
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sorted(read_state(tmp_path).by_key) == ["fake:a.txt"]


def test_a_ledger_file_that_is_a_link_or_a_device_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere.jsonl"
    secret.write_text(line(DONE) + "\n")
    runs = tmp_path / "out" / STATE_DIR / "runs"
    runs.mkdir(parents=True)
    (runs / "0123456789abcdef.jsonl").symlink_to(secret)
    os.mkfifo(runs / "fedcba9876543210.jsonl")  # would block a plain read
    with pytest.warns(UserWarning, match="skipped 2 ledger entries"):
        state = read_state(tmp_path / "out")
    assert state.by_key == {}


def test_a_run_drops_the_bad_lines_with_one_warning(tmp_path: Path) -> None:
    from test_runner import FakeJob

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"input a")
    out = tmp_path / "out"
    out.mkdir()
    list(Runner(FakeJob([folder / "a.txt"], out)).run())
    write_state(out, list(BAD.values()))
    with pytest.warns(UserWarning) as caught:
        statuses = [o.status for o in Runner(FakeJob([folder / "a.txt"], out)).run()]
    assert statuses == ["note", "reused"]
    assert [str(w.message) for w in caught] == [
        f"{out / STATE_DIR}: skipped {len(BAD)} ledger entries that occlude did not write "
        "(edited by hand or damaged)"
    ]
    with warnings.catch_warnings():  # compaction dropped them: the next run is quiet
        warnings.simplefilter("error")
        assert [o.status for o in Runner(FakeJob([folder / "a.txt"], out)).run()] == [
            "note", "reused"]  # fmt: skip


# --- the commands -------------------------------------------------------------------------


def invoke(*args: object) -> Any:
    """:func:`support.cli.invoke` with this test's warning filters each time (``-q``
    silences warnings for the rest of the process)."""
    with warnings.catch_warnings():
        return invoke_here(*args)


def warning_lines(stderr: str) -> list[str]:
    return [x for x in stderr.splitlines() if x.startswith("occlude: warning:")]


def files_outside(root: Path, out: Path) -> dict[str, int]:
    """Every file under ``root`` but outside ``out``, with its modification time."""
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*")
            if p.is_file() and out not in p.parents}  # fmt: skip


def test_report_of_a_tampered_ledger_reads_and_writes_only_inside_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from occlude.report import thumbs

    out = tmp_path / "out"
    out.mkdir()
    synth.synthetic_run(out, 2)
    victim = tmp_path / "victim.png"  # a real image beside the output folder
    victim.write_bytes(synth.heatmap_png((8, 8)))
    record = synth.synthetic_record("v.png", 0, np.random.default_rng(0))
    escapes = [str(victim), "../victim.png", "d0/../../victim.png", "..\\victim.png"]
    lines = [done(key=f"sensitivity:v{i}.png", record=record,
                  outputs={p: {"size": 1, "record": None}, f"v{i}.json": {"size": 1,
                                                                      "record": None}})
             for i, p in enumerate(escapes)]  # fmt: skip
    write_state(out, lines + list(BAD.values()))
    opened: list[Path] = []
    real_open = thumbs.open_image
    monkeypatch.setattr(thumbs, "open_image", lambda p, *a: opened.append(p) or real_open(p, *a))
    before = files_outside(tmp_path, out)
    res = invoke("report", out)
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    assert warning_lines(res.stderr) == [
        f"occlude: warning: UserWarning: {out / STATE_DIR}: skipped {len(BAD) + len(escapes)} "
        "ledger entries that occlude did not write (edited by hand or damaged)"
    ]
    assert files_outside(tmp_path, out) == before
    assert opened and all(out.resolve() in Path(p).resolve().parents for p in opened)
    data = (out / "report" / "data.js").read_text()
    assert "victim" not in data and '"/' not in data and ".." not in data
    thumbs_made = [p for p in (out / "report" / "thumbs").rglob("*") if p.is_file()]
    assert len(thumbs_made) == 2


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_later_augment_run_works_with_a_tampered_ledger(tmp_path: Path, overwrite: bool) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        badfiles.good_png(folder / name, (32, 48))
    out = tmp_path / "out"
    args = ["augment", folder, "-m", "cutout", "-o", out, "-j", "1"]
    assert invoke(*args, "-q").exit_code == 0
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"keep")
    escape = done(key="augment:cutout:a.png", outputs={"../victim.png": {"size": 4, "record": {
        "output": "../victim.png", "method": "cutout"}}})  # fmt: skip
    write_state(out, [*BAD.values(), escape])
    res = invoke(*args, *(["--overwrite"] if overwrite else []))
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    assert len(warning_lines(res.stderr)) == 1
    assert f"skipped {len(BAD) + 1} ledger entries" in res.stderr
    assert sorted(r["output"] for r in manifest(out)) == ["a_cutout_0.png", "b_cutout_0.png"]
    assert victim.read_bytes() == b"keep"
    again = invoke(*args)
    assert again.exit_code == 0 and warning_lines(again.stderr) == []  # the bad lines are gone


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_later_sensitivity_run_works_with_a_tampered_ledger(
    model_file: Path, tmp_path: Path, overwrite: bool
) -> None:
    img = badfiles.good_png(tmp_path / "a.png", (32, 48))
    out = tmp_path / "out"
    args = ["sensitivity", img, "-m", model_file, "-p", "16", "-o", out]
    assert invoke(*args, "-q").exit_code == 0
    write_state(out, list(BAD.values()))
    res = invoke(*args, *(["--overwrite"] if overwrite else []))
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output and len(warning_lines(res.stderr)) == 1
    assert ("already done" in res.stderr) != overwrite


def rewrite_records(out: Path, change: dict[str, Any]) -> None:
    """Edit the record of every finished unit in place, keeping its fingerprint."""
    Ledger(out).close()  # everything folded into ledger.jsonl
    path = out / STATE_DIR / COMPACTED
    events = [json.loads(x) for x in path.read_text().splitlines()]
    for event in events:
        if event["event"] == "done" and event.get("record") is not None:
            event["record"] = {**event["record"], **change}
    path.write_text("".join(line(e) + "\n" for e in events))


@pytest.mark.parametrize("change", [{"base_score": "high"}, {"outputs": 5}, {"input": None}])
def test_a_sensitivity_record_of_the_wrong_shape_is_redone_not_trusted(
    model_file: Path, tmp_path: Path, change: dict[str, Any]
) -> None:
    img = badfiles.good_png(tmp_path / "a.png", (32, 48))
    out = tmp_path / "out"
    args = ["sensitivity", img, "-m", model_file, "-p", "16", "-o", out, "--json", "-"]
    assert invoke(*args, "-q").exit_code == 0
    rewrite_records(out, change)
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output and "already done" not in res.stderr
    (warning,) = warning_lines(res.stderr)
    assert "1 ledger record(s) of finished inputs are not what sensitivity writes" in warning
    assert isinstance(json.loads(res.stdout)[0]["base_score"], float)
    assert invoke(*args).stderr.count("already done") == 1  # trusted again once redone


def test_a_robustness_record_of_the_wrong_shape_is_redone_not_trusted(
    model_file: Path, tmp_path: Path
) -> None:
    for rel in ("0/a.png", "1/b.png"):
        (tmp_path / "imgs" / rel).parent.mkdir(parents=True, exist_ok=True)
        badfiles.good_png(tmp_path / "imgs" / rel, (32, 48))
    out = tmp_path / "out"
    args = ["robustness", tmp_path / "imgs", "--labels", "folders", "-m", model_file,
            "--repeats", "1", "--fractions", "0,0.5", "--out", out]  # fmt: skip
    assert invoke(*args, "-q").exit_code == 0
    table = (out / "robustness.json").read_bytes()
    rewrite_records(out, {"cases": [["cutout", "half", 0, True, 0.5]]})
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output and len(warning_lines(res.stderr)) == 1
    assert json.loads((out / "robustness.json").read_bytes())["results"] == json.loads(table)[
        "results"]  # fmt: skip
