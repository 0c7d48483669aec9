"""The ``occlude`` Typer application: one module per command, each a thin layer.

Commands import heavy libraries (TensorFlow, matplotlib) only inside their bodies, so
``occlude --help`` starts fast. How the help reads is :mod:`occlude.cli.help`'s.
"""

from __future__ import annotations

import typer

from occlude.cli import augment, report, robustness, sensitivity
from occlude.cli.help import Group

app = typer.Typer(
    name="occlude",
    cls=Group,
    help="Occlusion sensitivity maps for Keras classifiers, and occlusion augmentations.",
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from occlude import __version__

        typer.echo(f"occlude {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Occlusion sensitivity maps for Keras classifiers, and occlusion augmentations."""


sensitivity.register(app)
augment.register(app)
robustness.register(app)
report.register(app)
