"""Errors that reach the user as one line and a documented exit code.

Exit codes shared by every command:

* 0 - everything was done;
* 1 - some inputs failed (the rest were processed) or a model could not be loaded;
* 2 - usage error (bad option value, unknown model or class, missing path, a plan that
  would write onto something the run reads);
* 3 - a CI gate failed (``--min-focus``, ``--min-accuracy``), after all outputs were written;
* 130 - interrupted (Ctrl-C).

Library errors speak Python: a :class:`UsageError` names the parameter of the function
that was called (``holes must be at least 1; received 0``) and lists it in ``params``,
so that the command line can say ``--holes`` instead (see :mod:`occlude.cli.flags`).
"""

from __future__ import annotations

from collections.abc import Sequence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_GATE = 3
EXIT_INTERRUPTED = 130


class OccludeError(Exception):
    """Base class: the message is one line meant for the user.

    ``params`` names the Python parameters the message mentions, spelled as the message
    spells them (``holes``, or ``weights=`` in "pass weights=FILE"), so that a front end
    can say them its own way.
    """

    exit_code: int = EXIT_FAILED

    def __init__(self, message: str, params: str | Sequence[str] = ()) -> None:
        super().__init__(message)
        self.params: tuple[str, ...] = (params,) if isinstance(params, str) else tuple(params)


class UsageError(OccludeError, ValueError):
    """The arguments of a public function (or the command line) are wrong."""

    exit_code = EXIT_USAGE


class InputError(OccludeError):
    """One input file could not be processed (unreadable, corrupt, unsupported)."""

    exit_code = EXIT_FAILED


class ScoreError(OccludeError):
    """The model returned scores that cannot be used (NaN, infinite, wrong shape)."""

    exit_code = EXIT_FAILED


class ModelError(OccludeError):
    """A model or its weights could not be loaded."""

    exit_code = EXIT_FAILED


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with how far the run got (what was finished is kept)."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"interrupted after {done} of {total} inputs")
        self.done = done
        self.total = total
