"""What every command shares: turning library errors into one line and an exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

import typer

from occlude.errors import EXIT_INTERRUPTED, EXIT_USAGE, Interrupted, OccludeError

T = TypeVar("T")


def say(message: str) -> None:
    """One line on stderr."""
    print(message, file=sys.stderr, flush=True)


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    say(f"occlude: error: {message}")
    return typer.Exit(code)


def guarded(body: Callable[[], T]) -> T:
    """Run a command body; library errors become one line on stderr and an exit code."""
    try:
        return body()
    except OccludeError as exc:
        raise fail(str(exc), exc.exit_code) from None
    except KeyboardInterrupt as exc:
        say(f"occlude: {exc}" if isinstance(exc, Interrupted) else "occlude: interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def split_ints(values: Sequence[str] | None, name: str) -> list[int]:
    """``["20,40", "80"]`` -> ``[20, 40, 80]``; a usage error names the bad value."""
    out: list[int] = []
    for value in values or []:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                out.append(int(part))
            except ValueError:
                raise fail(f"{name} expects integers; received {part!r}") from None
    return out
