"""The ``occlude`` command: a thin, typed layer over the library.

:func:`main` is the console script. It is the one place that handles Ctrl-C: at any
moment (even while TensorFlow is being imported) an interrupt ends the run with one line
and exit code 130; a run interrupted mid-way also says how many inputs were finished.
It is also where a closed output ends the run quietly (``occlude --help | head -1``).
"""

from __future__ import annotations

import sys
from typing import Any

from occlude.exports import lazy as _lazy


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; usage errors become one line, ``occlude: error: ...``, exit 2."""
    import os

    from occlude.errors import EXIT_FAILED, EXIT_INTERRUPTED

    # JAX's compilation cache, on for the command line (OCCLUDE_NO_COMPILE_CACHE=1: off)
    os.environ.setdefault("OCCLUDE_COMPILE_CACHE", "1")
    try:
        code = _dispatch(argv)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
    except KeyboardInterrupt as exc:
        from occlude.text import shown

        message = str(exc) if str(exc).startswith("interrupted") else "interrupted"
        print(f"occlude: {shown(message)}", file=sys.stderr, flush=True)
        code = EXIT_INTERRUPTED
    except BrokenPipeError:  # exit 1 quietly, as rich does when it prints the help
        _discard_stdout()
        code = EXIT_FAILED
    sys.exit(code)


def _discard_stdout() -> None:
    """Point stdout at the null device, so that Python's last flush at exit does not
    complain about the pipe that was closed."""
    import os

    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):  # no real stdout (embedded): nothing left to flush
        pass


def _dispatch(argv: list[str] | None) -> int:
    """Parse and run a command without the parser's own Ctrl-C handling (which would
    swallow the interrupt), so that :func:`main` alone speaks about interrupts."""
    from typer.exceptions import Exit, TyperException

    from occlude.cli.application import app

    command = typer_command(app)
    args = sys.argv[1:] if argv is None else list(argv)
    # A shell's completion script calls ``occlude`` with _OCCLUDE_COMPLETE set: answer it.
    command._main_shell_completion({}, "occlude")
    try:
        with command.make_context("occlude", args) as ctx:
            command.invoke(ctx)
    except Exit as exc:
        return int(exc.exit_code)
    except TyperException as exc:
        from occlude.cli.help import error_line

        ctx_: Any = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # rich help was printed already
            if text := exc.format_message().strip():  # type: ignore[attr-defined]
                print(text)
            return 2
        print(error_line(exc, ctx_), file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    return 0


def typer_command(app: Any) -> Any:
    from typer.main import get_command

    return get_command(app)


# ``from occlude.cli import app`` (tests, embedding), imported when first asked for.
__getattr__, __dir__ = _lazy(__name__, globals(), {"occlude.cli.application": "app"})
