"""Starting up: ``--help`` and ``--version`` load no TensorFlow or matplotlib, ``python -m
occlude`` works, every option has help, and the progress bar shows only on a terminal."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import badfiles
import pytest
from support.children import REPO, child_env, occlude, run
from typer.main import get_command

import occlude as package
from occlude.cli import app
from occlude.progress import Progress

COMMANDS = ["sensitivity", "augment", "robustness"]
HEAVY = ("tensorflow", "keras", "matplotlib")


def loaded_after(code: str) -> tuple[str, dict[str, bool]]:
    """Run ``code`` in a fresh interpreter; its output, and which heavy modules it loaded."""
    probe = code + "\nimport sys\nprint(*[m in sys.modules for m in {mods!r}])\n"
    mods = (*HEAVY, "numpy")
    done = run([sys.executable, "-c", probe.format(mods=mods)])
    assert done.returncode == 0, done.stderr
    *output, flags = done.stdout.splitlines()
    return "\n".join(output), dict(zip(mods, (f == "True" for f in flags.split()), strict=True))


def test_the_version_is_the_packages() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    (declared,) = re.findall(r'(?m)^version = "([^"]+)"$', pyproject)
    assert package.__version__ == declared == "0.2.0"


def test_help_and_version_load_no_tensorflow_or_matplotlib() -> None:
    code = (
        "from occlude.cli import main\n"
        "for argv in (['--help'], ['sensitivity', '--help'], ['augment', '--help'],\n"
        "             ['robustness', '--help'], ['--version']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, (argv, e.code)\n"
    )
    output, loaded = loaded_after(code)
    assert not any(loaded[m] for m in HEAVY), loaded
    for flag in ("--save-npy", "--copies", "--min-accuracy"):
        assert flag in output
    assert output.splitlines()[-1] == f"occlude {package.__version__}"


def test_importing_occlude_loads_nothing_heavy() -> None:
    _, loaded = loaded_after("import occlude\nimport occlude.cli")
    assert loaded == {"tensorflow": False, "keras": False, "matplotlib": False, "numpy": False}


def test_the_top_level_names_resolve_and_load_nothing_heavy() -> None:
    code = "import occlude\nfor name in occlude.__all__:\n    getattr(occlude, name)\n"
    _, loaded = loaded_after(code)
    assert not any(loaded[m] for m in HEAVY), loaded
    assert {"robustness_curve", "RobustnessResult", "augment_image", "Cutout",
            "load_classifier", "UsageError"} <= set(package.__all__)  # fmt: skip


def test_augment_runs_without_tensorflow_or_matplotlib(tmp_path) -> None:
    (tmp_path / "in").mkdir()
    for i in range(2):
        badfiles.good_png(tmp_path / "in" / f"{i}.png")
    code = (
        "from occlude.cli import main\n"
        "try:\n"
        f"    main(['augment', {str(tmp_path / 'in')!r}, '-m', 'cutmix', '-o', "
        f"{str(tmp_path / 'o')!r}, '-j', '1', '-q'])\n"
        "except SystemExit as e:\n"
        "    print('exit', e.code)\n"
    )
    output, loaded = loaded_after(code)
    assert output == "exit 0"
    assert not any(loaded[m] for m in HEAVY), loaded
    assert (tmp_path / "o" / "manifest.jsonl").is_file()


def test_python_dash_m_runs_the_cli() -> None:
    done = run(occlude("sensitivity", "--help"))
    assert done.returncode == 0, done.stderr
    assert "--batch-size" in done.stdout and "Usage: occlude sensitivity" in done.stdout


def test_no_command_shows_the_help() -> None:
    done = run(occlude())
    assert done.returncode == 2
    assert all(c in done.stdout for c in COMMANDS) and "Usage: occlude" in done.stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_help(name: str) -> None:
    command = get_command(app).commands[name]  # type: ignore[attr-defined]
    assert command.help
    for param in command.params:
        assert getattr(param, "help", None), f"{name} {param.name} has no help"


def test_the_progress_bar_needs_a_terminal(monkeypatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with Progress(10, "occluding") as bar:
        assert bar.enabled
        bar.advance(10)
    with Progress(10, "occluding", enabled=False) as bar:  # --quiet
        assert not bar.enabled
    with Progress(0, "occluding") as bar:  # nothing to do
        assert not bar.enabled
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a pipe or a CI log
    with Progress(10, "occluding") as bar:
        assert not bar.enabled


def on_a_terminal(argv: list[str]) -> tuple[int, str]:
    """Run ``argv`` with stderr on a pseudo-terminal; its exit code and what it showed."""
    import pty

    main, sub = pty.openpty()
    proc = subprocess.Popen(argv, env=child_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=sub)  # fmt: skip
    os.close(sub)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    return proc.wait(timeout=120), shown.decode("utf-8", "replace")


def test_a_command_shows_its_bar_on_a_terminal_only(tmp_path: Path) -> None:
    inputs = [badfiles.good_png(tmp_path / f"{i}.png") for i in range(2)]
    args = occlude("augment", *inputs, "-m", "cutout", "-j", "1")
    code, shown = on_a_terminal([*args, "-o", str(tmp_path / "tty")])
    assert code == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)  # colours and cursor moves
    assert re.search(r"augment ━+ 2/2 \d+:\d\d:\d\d ETA", text), text
    code, shown = on_a_terminal([*args, "-o", str(tmp_path / "quiet"), "-q"])
    assert code == 0 and shown == ""
    piped = run([*args, "-o", str(tmp_path / "pipe")])
    assert piped.returncode == 0
    assert piped.stderr.splitlines() == [
        f"occlude: wrote 2 image(s) to {tmp_path / 'pipe'} (manifest "
        f"{tmp_path / 'pipe' / 'manifest.jsonl'})"
    ]
