"""Driving the ``occlude`` commands in this process, and reading what they wrote."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from occlude.cli import app, main

STATE = ".occlude"
"""The runner's resume state in every output folder (run ids, time stamps): never compared."""


def invoke(command: str, *args: object) -> Result:
    """``occlude COMMAND ARGS`` through Typer's test runner (stdout and stderr apart)."""
    return CliRunner().invoke(app, [command, *map(str, args)])


def ok(command: str, *args: object) -> Result:
    """:func:`invoke`, asserting exit code 0."""
    result = invoke(command, *args)
    assert result.exit_code == 0, result.output
    return result


@dataclass(frozen=True)
class Exit:
    """What :func:`run_main` saw: the exit code and the two streams."""

    code: int
    stdout: str
    stderr: str


def run_main(capsys: pytest.CaptureFixture[str], *argv: object) -> Exit:
    """``occlude ARGV`` through :func:`occlude.cli.main`, the console script (the one
    place that turns Ctrl-C into exit 130)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in argv])
    out = capsys.readouterr()
    code = stop.value.code
    return Exit(code if isinstance(code, int) else 1, out.out, out.err)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("occlude: error:")]


def assert_usage_error(result: Any, *needles: str) -> str:
    """Exit 2 with exactly one stderr line, ``occlude: error: ...``, holding ``needles``."""
    code = getattr(result, "exit_code", getattr(result, "code", None))
    assert code == 2, (code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("occlude: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in result.stdout + result.stderr
    return str(lines[0])


def assert_one_failure(result: Any, bad: Path | str, message: str) -> None:
    """Exit 1 with exactly one error line, naming ``bad`` and the problem, no traceback."""
    code = getattr(result, "exit_code", getattr(result, "code", None))
    assert code == 1, (code, result.stdout, result.stderr)
    errors = error_lines(result.stderr)
    assert len(errors) == 1, errors
    assert str(bad) in errors[0] and message in errors[0], errors[0]
    assert "Traceback" not in result.stdout + result.stderr


def digest(folder: Path, skip_state: bool = True) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` by relative path, the runner's state aside."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not (skip_state and rel.parts[0] == STATE):
            out[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, the runner's state aside."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).parts[0] != STATE
    }


def manifest(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def temporaries(folder: Path) -> list[Path]:
    """Atomic-write temporaries (``*.occlude-part``) anywhere under ``folder``."""
    return sorted(folder.rglob("*.occlude-part"))
