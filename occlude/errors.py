"""Errors that reach the user as one line and a documented exit code.

Exit codes shared by every command:

* 0 - everything was done;
* 1 - some inputs failed (the rest were processed) or a model could not be loaded;
* 2 - usage error (bad option value, unknown model or class, missing path);
* 3 - a CI gate failed (``--min-focus``, ``--min-accuracy``), after all outputs were written;
* 130 - interrupted (Ctrl-C).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_GATE = 3
EXIT_INTERRUPTED = 130


class OccludeError(Exception):
    """Base class: the message is one line meant for the user."""

    exit_code: int = EXIT_FAILED


class UsageError(OccludeError, ValueError):
    """The command line or the arguments of a public function are wrong."""

    exit_code = EXIT_USAGE


class InputError(OccludeError):
    """One input file could not be processed (unreadable, corrupt, unsupported)."""

    exit_code = EXIT_FAILED


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with how far the run got (what was finished is kept)."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"interrupted after {done} of {total} inputs")
        self.done = done
        self.total = total


class ModelError(OccludeError):
    """A model or its weights could not be loaded."""

    exit_code = EXIT_FAILED
