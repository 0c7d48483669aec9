"""How the commands' ``--help`` reads: Typer's rich help, tidied.

Each command's help text is written as hard-wrapped paragraphs in its module; its first
paragraph is the one-line summary ``occlude --help`` lists. Options are grouped into
panels by their ``rich_help_panel``. Typer's own rendering is kept, with three changes
made here, once, for every command:

* paragraphs are reflowed (rich help would keep the source's line breaks), and square
  brackets in help texts are literal (``occlude[ray]`` is not rich markup);
* arguments read ``INPUT...`` in the usage line, with no Python type beside them;
* flags show no ``<bool>`` type: they take no value.
"""

from __future__ import annotations

import difflib
from typing import Any

from rich.markup import escape
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

# The panels options are grouped into, in the order the help shows them.
MODEL = "Model"
SWEEP = "Sweep"
METHOD = "Method"
METHOD_PARAMETERS = "Method parameters"
GUIDED = "Guided maps"
EVALUATION = "Evaluation"
OUTPUTS = "Outputs"
PAGE = "Page"
GATES = "CI gates"
COMPUTE = "Compute"
SCALE_OUT = "Scale-out"
RUN = "Run control"
PANELS = (MODEL, SWEEP, METHOD, METHOD_PARAMETERS, GUIDED, EVALUATION, OUTPUTS, PAGE, GATES,
          COMPUTE, SCALE_OUT, RUN)  # fmt: skip


def error_line(exc: Any, ctx: Any) -> str:
    """A parser error as one line: ``occlude: error: <problem> (see occlude CMD --help)``.

    Click's messages may span lines (a missing choice lists them one per line); an unknown
    option is said plainly, with a suggestion only when one is close (:func:`suggest`).
    """
    from occlude.text import shown

    if type(exc).__name__ == "NoSuchOption" and ctx is not None:
        message = f"No such option: {exc.option_name}"
        if (near := suggest(exc.option_name, _long_options(ctx))) is not None:
            message += f" (did you mean {near}?)"
    else:
        message = exc.format_message().replace("Value error, ", "")
    where = f"occlude {ctx.info_name}" if ctx is not None and ctx.parent else "occlude"
    where = "occlude" if where == "occlude occlude" else where
    return f"occlude: error: {shown(' '.join(message.split()))} (see {where} --help)"


def suggest(typed: str, options: list[str]) -> str | None:
    """The option ``typed`` was probably meant to be, or None when none is close.

    An option the typed word starts with, or that starts with it, comes first (``--out``
    for ``--output``, ``--batch-size`` for ``--batch``); else the closest spelling, judged
    without the leading dashes that every option shares.

    >>> suggest("--bogus", ["--out", "--patch"]) is None
    True
    >>> suggest("--pach", ["--out", "--patch"]), suggest("--output", ["--out", "--patch"])
    ('--patch', '--out')
    """
    word = typed.lstrip("-")
    names = {o.lstrip("-"): o for o in options if o.startswith("--")}
    if len(word) >= 3:
        starts = [n for n in names if len(n) >= 3 and (word.startswith(n) or n.startswith(word))]
        if len(starts) == 1:
            return names[starts[0]]
    close = difflib.get_close_matches(word, list(names), n=1, cutoff=0.7)
    if close:
        return names[close[0]]
    return None


def _long_options(ctx: Any) -> list[str]:
    return [o for p in ctx.command.get_params(ctx) for o in (*p.opts, *p.secondary_opts)]


def reflow(text: str) -> str:
    """``text``'s paragraphs (separated by blank lines), each on one line."""
    return "\n\n".join(" ".join(p.split()) for p in text.split("\n\n") if p.strip())


def summary(text: str) -> str:
    """The first paragraph of ``text``: the line ``occlude --help`` shows for a command."""
    return reflow(text).split("\n\n")[0]


class _Argument(TyperArgument):
    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return f"{name}..." if self.nargs != 1 else name

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


class _Flag(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def _tidy(param: Any) -> Any:
    """``param`` shown as this module says (its class swapped for a subclass that only
    changes how it is displayed; parsing is Typer's)."""
    if getattr(param, "_tidied", False):
        return param
    param._tidied = True
    if type(param) is TyperArgument:
        param.__class__ = _Argument
    elif type(param) is TyperOption and param.is_flag and not param.count:
        param.__class__ = _Flag
    if getattr(param, "help", None):
        param.help = escape(reflow(param.help))
    return param


def _texts(attrs: dict[str, Any]) -> dict[str, Any]:
    help_text = attrs.get("help")
    if help_text:
        attrs["help"] = escape(reflow(help_text))
        attrs["short_help"] = escape(attrs.get("short_help") or summary(help_text))
    return attrs


class Command(TyperCommand):
    """A command whose help reads as the module docstring says."""

    def __init__(self, name: str | None, **attrs: Any) -> None:
        super().__init__(name, **_texts(attrs))

    def get_params(self, ctx: Any) -> list[Any]:
        """The parameters, tidied, in the order of :data:`PANELS` (within a panel, as
        declared), so that the panels read in the same order in every command."""
        return sorted((_tidy(p) for p in super().get_params(ctx)), key=_panel_rank)


def _panel_rank(param: Any) -> int:
    panel = getattr(param, "rich_help_panel", None)
    return PANELS.index(panel) + 1 if panel in PANELS else 0


class Group(TyperGroup):
    """The ``occlude`` group, tidied as its commands are (Typer adds the completion
    options after it is built, so parameters are tidied when they are asked for)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**_texts(attrs))

    def get_params(self, ctx: Any) -> list[Any]:
        return [_tidy(p) for p in super().get_params(ctx)]
