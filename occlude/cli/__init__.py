"""The ``occlude`` command: a thin, typed layer over the library.

Commands live in their own modules and import heavy libraries (TensorFlow,
matplotlib) only inside their bodies, so ``occlude --help`` starts fast.
"""

from __future__ import annotations

import typer

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


from occlude.cli import sensitivity as _sensitivity  # noqa: E402

_sensitivity.register(app)

from occlude.cli import augment as _augment  # noqa: E402

_augment.register(app)

from occlude.cli import robustness as _robustness  # noqa: E402

_robustness.register(app)


def main(argv: list[str] | None = None) -> None:
    """The console script: usage errors become one line, ``occlude: error: ...``, exit 2."""
    import sys

    from typer.exceptions import TyperException
    from typer.main import get_command

    command = get_command(app)
    try:
        code = command.main(args=argv, prog_name="occlude", standalone_mode=False)
    except TyperException as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            print(ctx.get_help())
        else:
            where = f"occlude {ctx.info_name}" if ctx is not None and ctx.parent else "occlude"
            where = "occlude" if where == "occlude occlude" else where
            message = exc.format_message().replace("Value error, ", "")
            print(f"occlude: error: {message} (see {where} --help)", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)
