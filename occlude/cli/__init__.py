"""The ``occlude`` command: a thin, typed layer over the library.

:func:`main` is the console script. It is the one place that handles Ctrl-C: at any
moment (even while TensorFlow is being imported) an interrupt ends the run with one line
and exit code 130; a run interrupted mid-way also says how many inputs were finished.
"""

from __future__ import annotations

import sys
from typing import Any


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; usage errors become one line, ``occlude: error: ...``, exit 2."""
    from occlude.errors import EXIT_INTERRUPTED

    try:
        code = _dispatch(argv)
    except KeyboardInterrupt as exc:
        from occlude.text import shown

        message = str(exc) if str(exc).startswith("interrupted") else "interrupted"
        print(f"occlude: {shown(message)}", file=sys.stderr, flush=True)
        code = EXIT_INTERRUPTED
    sys.exit(code)


def _dispatch(argv: list[str] | None) -> int:
    """Parse and run a command without the parser's own Ctrl-C handling (which would
    swallow the interrupt), so that :func:`main` alone speaks about interrupts."""
    from typer.exceptions import Exit, TyperException

    from occlude.cli.application import app

    command = typer_command(app)
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        with command.make_context("occlude", args) as ctx:
            command.invoke(ctx)
    except Exit as exc:
        return int(exc.exit_code)
    except TyperException as exc:
        ctx_: Any = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx_ is not None:
            print(ctx_.get_help())
            return 2
        where = f"occlude {ctx_.info_name}" if ctx_ is not None and ctx_.parent else "occlude"
        where = "occlude" if where == "occlude occlude" else where
        message = exc.format_message().replace("Value error, ", "")  # type: ignore[attr-defined]
        print(f"occlude: error: {message} (see {where} --help)", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    return 0


def typer_command(app: Any) -> Any:
    from typer.main import get_command

    return get_command(app)


def __getattr__(name: str) -> Any:
    if name == "app":  # ``from occlude.cli import app`` (tests, embedding)
        from occlude.cli.application import app

        return app
    raise AttributeError(f"module 'occlude.cli' has no attribute {name!r}")
