"""The command line's help and parser: panels that fit on a screen, usage lines without
Python types, summaries that are not cut, shell completion, one-line parser errors, and a
closed pipe that ends the run quietly."""

from __future__ import annotations

import re
import subprocess

import pytest
from support.children import child_env, occlude, run
from support.cli import assert_usage_error, run_main
from typer.main import get_command

from occlude.cli import app
from occlude.cli.help import PANELS, summary

PANELS_OF = {
    "sensitivity": ["Model", "Sweep", "Outputs", "CI gates", "Compute", "Scale-out",
                    "Run control"],
    "augment": ["Method", "Method parameters", "Guided maps", "Outputs", "Scale-out",
                "Run control"],
    "robustness": ["Model", "Evaluation", "Outputs", "CI gates", "Compute", "Scale-out",
                   "Run control"],
    "report": ["Page", "Run control"],
}  # fmt: skip


def help_of(capsys, monkeypatch, *argv: str, columns: int = 100) -> str:
    monkeypatch.setenv("COLUMNS", str(columns))
    res = run_main(capsys, *argv, "--help")
    assert res.code == 0, res.stderr
    return res.stdout


def panels(text: str) -> dict[str, list[str]]:
    """The panels of a rich help text: title -> the lines inside the box."""
    found: dict[str, list[str]] = {}
    title = None
    for line in text.splitlines():
        if m := re.match(r"╭─ (.+?) ─", line):
            title = m.group(1)
            found[title] = []
        elif line.startswith("╰"):
            title = None
        elif title is not None:
            found[title].append(line)
    return found


@pytest.mark.parametrize("command", list(PANELS_OF))
def test_each_command_groups_its_options_into_panels_that_fit_a_screen(
    command: str, capsys, monkeypatch
) -> None:
    text = help_of(capsys, monkeypatch, command)
    boxes = panels(text)
    named = [t for t in boxes if t not in ("Arguments", "Options")]
    assert named == PANELS_OF[command], named
    assert boxes["Options"] == [boxes["Options"][0]] and "--help" in boxes["Options"][0]
    for title, lines in boxes.items():
        assert len(lines) <= 40, (title, len(lines))
    assert all(len(line) <= 100 for line in text.splitlines())


@pytest.mark.parametrize("command", list(PANELS_OF))
def test_every_option_is_in_a_known_panel(command: str) -> None:
    cmd = get_command(app).commands[command]  # type: ignore[attr-defined]
    for param in cmd.params:
        if param.param_type_name == "option":
            assert getattr(param, "rich_help_panel", None) in PANELS, param.name


@pytest.mark.parametrize("command", list(PANELS_OF))
def test_usage_lines_show_no_python_types(command: str, capsys, monkeypatch) -> None:
    text = help_of(capsys, monkeypatch, command)
    (usage,) = [line.strip() for line in text.splitlines() if "Usage:" in line]
    argument = "OUT_DIR" if command == "report" else "INPUT..."
    assert usage == f"Usage: occlude {command} [OPTIONS] {argument}"
    for python in ("list[", "Path]", "{INPUT}", "<bool>", "<str>", "<int>", "<float>"):
        assert python not in text, python


def test_the_root_help_lists_each_command_on_one_uncut_line(capsys, monkeypatch) -> None:
    text = help_of(capsys, monkeypatch, columns=80)
    commands = get_command(app).commands  # type: ignore[attr-defined]
    for name, cmd in commands.items():
        line = next(line for line in text.splitlines() if line.startswith(f"│ {name} "))
        assert summary(cmd.help) in line, (name, line)
        assert not line.rstrip(" │").endswith("..."), line
    assert "..." not in text.split("Commands")[1]


def test_help_prints_plainly_into_a_pipe_at_80_columns() -> None:
    for argv in (occlude("--help"), occlude("sensitivity", "--help")):
        done = run(argv, env={**child_env(), "COLUMNS": "80", "TERM": "xterm-256color"})
        assert done.returncode == 0, done.stderr
        assert "\x1b[" not in done.stdout  # no colours into a pipe
        assert max(len(line) for line in done.stdout.splitlines()) <= 80
        assert done.stderr == ""


def test_markup_like_text_in_help_is_shown_as_written(capsys, monkeypatch) -> None:
    assert "'occlude[ray]'" in help_of(capsys, monkeypatch, "sensitivity")


def test_completion_scripts_and_answers(capsys, monkeypatch) -> None:
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    res = run_main(capsys, "--show-completion", "bash")
    assert res.code == 0, res.stderr
    assert "_OCCLUDE_COMPLETE=complete_bash" in res.stdout
    assert "complete -o default -F _occlude_completion occlude" in res.stdout
    # what the script asks: the words so far, answered by ``occlude`` itself
    monkeypatch.setenv("_OCCLUDE_COMPLETE", "complete_bash")
    for words, cword, expected in (("occlude sens", 1, ["sensitivity"]),
                                   ("occlude sensitivity --compute ", 3,
                                    ["auto", "incremental", "full"])):  # fmt: skip
        monkeypatch.setenv("COMP_WORDS", words)
        monkeypatch.setenv("COMP_CWORD", str(cword))
        res = run_main(capsys, "ignored")
        assert res.code == 0 and res.stdout.split() == expected, res


def test_the_root_help_offers_completion(capsys, monkeypatch) -> None:
    text = help_of(capsys, monkeypatch)
    assert "--install-completion" in text and "--show-completion" in text


def test_a_missing_choice_is_one_line(tmp_path, capsys) -> None:
    line = assert_usage_error(run_main(capsys, "augment", tmp_path), "Missing option '--method'")
    assert "\t" not in line and "cutout, hide-and-seek" in line and "attentive-cutmix" in line


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("--bogus", "No such option: --bogus (see"),
        ("--pach", "No such option: --pach (did you mean --patch?)"),
        ("--output", "No such option: --output (did you mean --out?)"),
        ("--batch", "No such option: --batch (did you mean --batch-size?)"),
    ],
)
def test_an_unknown_option_suggests_only_a_close_one(typed, said, tmp_path, capsys) -> None:
    line = assert_usage_error(run_main(capsys, "sensitivity", tmp_path, typed, "1"), said)
    assert "Possible options" not in line


@pytest.mark.parametrize("argv", [[], ["--help"], ["sensitivity", "--help"], ["--version"]])
def test_a_closed_pipe_ends_quietly(argv: list[str]) -> None:
    """``occlude | head -1``: the reader goes away; no traceback, exit 1."""
    proc = subprocess.Popen(occlude(*argv), env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 1
    assert err == b"", err.decode()
