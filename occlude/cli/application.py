"""The ``occlude`` Typer application: one module per command, each a thin layer.

Commands import heavy libraries (TensorFlow, matplotlib) only inside their bodies, so
``occlude --help`` starts fast.
"""

from __future__ import annotations

import typer

from occlude.cli import augment, report, robustness, sensitivity

app = typer.Typer(
    name="occlude",
    help="Occlusion sensitivity maps for Keras classifiers, and occlusion augmentations.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
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
