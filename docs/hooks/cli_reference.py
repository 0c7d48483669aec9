"""MkDocs hook: the command reference, rendered from the Typer app itself, so it cannot drift.

A page asks for a command's reference with a line of its own::

    <!-- occlude-cli: sensitivity -->

(``occlude-cli: occlude`` renders the top level: global options and the list of commands).
The line becomes the command's usage, its help text and a table of every argument and
option, exactly as ``occlude <command> --help`` prints them. The Click command Typer builds
from the app (``occlude.cli.typer_command(app)``, what the console script runs) is read once;
importing it loads no Keras backend and no matplotlib, as ``occlude --help`` does not.

The build stops (strict or not) when a command has no page, when two pages claim one, or
when a page names a command that does not exist: a new command needs its page.
"""

from __future__ import annotations

import html
import logging
import os
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.cli_reference")

MARKER = re.compile(r"^<!-- occlude-cli: ([a-z][a-z0-9-]*) -->[ \t]*$", re.MULTILINE)
ROOT = "occlude"
HEAVY = ("tensorflow", "keras", "jax", "torch", "matplotlib", "ray")

_pages: dict[str, str] = {}  # command name -> the page (src_uri) that holds its reference


@cache
def _app() -> Any:
    """The Click group Typer builds for ``occlude`` (imported once per build)."""
    from occlude.cli import app, typer_command

    group = typer_command(app)
    heavy = sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in HEAVY})
    if heavy:
        log.warning("importing the CLI for its reference loaded %s", ", ".join(heavy))
    return group


def _context(command: Any, name: str, parent: Any = None) -> Any:
    return command.make_context(name, [], parent=parent, resilient_parsing=True)


def _commands() -> dict[str, Any]:
    group = _app()
    ctx = _context(group, ROOT)
    return {n: group.get_command(ctx, n) for n in group.list_commands(ctx)}


def on_config(config: Any) -> Any:
    # The repository root first, so that the checkout's own occlude is the one documented.
    root = str(Path(config.config_file_path).resolve().parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    return config


def on_files(files: Any, config: Any) -> Any:
    """Find every marker before any page renders: each command needs exactly one page."""
    _pages.clear()
    known = {ROOT, *_commands()}
    for file in files.documentation_pages():
        for name in MARKER.findall(Path(file.abs_src_path).read_text(encoding="utf-8")):
            if name not in known:
                raise PluginError(
                    f"{file.src_uri}: no command 'occlude {name}' (known: {sorted(known)})"
                )
            if name in _pages:
                raise PluginError(
                    f"'{name}' has its reference in {_pages[name]} and {file.src_uri}"
                )
            _pages[name] = file.src_uri
    missing = sorted(known - set(_pages))
    if missing:
        raise PluginError(
            "commands without a reference page (add '<!-- occlude-cli: NAME -->' to one): "
            + ", ".join(missing)
        )
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    here = page.file.src_uri
    return MARKER.sub(lambda m: _reference(m.group(1), here), markdown)


def _link(name: str, here: str) -> str:
    """A relative link from page ``here`` to the page holding ``name``'s reference."""
    target = _pages[name]
    return os.path.relpath(target, os.path.dirname(here) or ".").replace(os.sep, "/")


def _reference(name: str, here: str) -> str:
    group = _app()
    root_ctx = _context(group, ROOT)
    if name == ROOT:
        command, ctx, prog = group, root_ctx, ROOT
    else:
        command = _commands()[name]
        ctx = _context(command, name, parent=root_ctx)
        prog = f"{ROOT} {name}"
    usage = " ".join([prog, *command.collect_usage_pieces(ctx)])
    parts = [f"```text\n{usage}\n```", _paragraphs(command.help or "")]
    parts.append(_params_table(command, ctx))
    if name == ROOT:
        parts.append(_commands_table(here))
    return "\n\n".join(p for p in parts if p) + "\n"


def _paragraphs(text: str) -> str:
    blocks = [" ".join(b.split()) for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    return "\n".join(f'<p class="cli-help">{html.escape(b)}</p>' for b in blocks)


def _split_extra(text: str) -> tuple[str, str]:
    """Click appends ``  [default: ...; x>=1]`` to an option's help; give it its own column."""
    match = re.search(r"\s{2}\[([^\[\]]*)\]$", text)
    if match is None:
        return text, ""
    return text[: match.start()], match.group(1)


def _breakable(names: str) -> str:
    """Escaped, with a line-break opportunity after each ``|`` of a long list of choices."""
    return html.escape(names).replace("|", "|<wbr>")


def _params_table(command: Any, ctx: Any) -> str:
    rows = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, text = record
        meaning, extra = _split_extra(text)
        long = max(param.opts, key=len).lstrip("-") if param.opts else param.name
        rows.append(
            f'<tr id="opt-{html.escape(long)}"><td><code>{_breakable(names)}</code></td>'
            f"<td>{html.escape(meaning)}</td><td>{html.escape(extra)}</td></tr>"
        )
    head = "<tr><th>argument / option</th><th>meaning</th><th>default, limits</th></tr>"
    body = "\n".join(rows)
    # No class on the table: the theme styles plain tables (``table:not([class])``) only.
    return f"<table>\n<thead>{head}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _commands_table(here: str) -> str:
    """Markdown, not HTML, so that MkDocs rewrites and checks the links to the pages."""
    rows = ["| command | what it does |", "|---|---|"]
    for name, command in _commands().items():
        short = command.get_short_help_str(limit=10_000).replace("|", "\\|")
        rows.append(f"| [`{name}`]({_link(name, here)}) | {html.escape(short)} |")
    return "\n".join(rows)
