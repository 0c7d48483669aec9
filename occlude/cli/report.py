"""``occlude report``: the HTML report of an output folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from occlude.cli._common import QuietOption, guarded, number, quiet_warnings, say
from occlude.cli.help import PAGE, Command

HELP = """An HTML gallery of an output folder's maps and results.

Writes OUT_DIR/index.html for an output folder of occlude sensitivity and/or robustness
(--out): a gallery of the maps (thumbnails, class, score, focus, deletion/insertion AUCs
against their random baselines) to sort and filter, the inputs that failed with their
errors, and the robustness table and plot. Open it in a browser; it needs no server and
no network.

Writes only index.html and report/ in OUT_DIR, replaces or removes only files it wrote
there (listed in report/written.json), and refuses symbolic links there."""


def report(
    out_dir: Annotated[
        Path,
        typer.Argument(
            metavar="OUT_DIR",
            help="An output folder of occlude sensitivity or robustness --out.",
            show_default=False,
        ),
    ],
    min_focus: Annotated[
        float | None,
        typer.Option(
            "--min-focus",
            **number(0, 1),
            metavar="F",
            help="Mark images whose focus is below F (or missing) as failing the gate, and "
            "offer a filter that shows only those.",
            show_default=False,
            rich_help_panel=PAGE,
        ),
    ] = None,
    title: Annotated[
        str | None,
        typer.Option(
            "--title",
            metavar="TEXT",
            help="The page's title. Default: occlude report: <folder name>.",
            show_default=False,
            rich_help_panel=PAGE,
        ),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    quiet_warnings(quiet)

    def body() -> None:
        from occlude.report import build

        built = build(out_dir, min_focus=min_focus, title=title)
        if not quiet:
            what = [_count(built.images, "image")] if built.images or not built.robustness else []
            if built.robustness:
                what.append(f"robustness: {_count(built.evaluated, 'image')} evaluated")
            if built.failures:
                what.append(f"{_count(built.failures, 'failed input')}")
            say(f"occlude: report: {built.index} ({', '.join(what)})")

    guarded(body)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def register(app: typer.Typer) -> None:
    app.command("report", help=HELP, cls=Command)(report)
