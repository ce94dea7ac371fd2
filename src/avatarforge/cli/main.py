"""Entry point: global options, error policy (one line, exit 2 for bad input), sub-commands."""

from __future__ import annotations

import functools
import logging
import sys

import typer

from avatarforge.errors import AvatarforgeError

__all__ = ["app", "main"]

app = typer.Typer(
    name="avatarforge",
    help="From one photo to a personalised, textured, rigged 3D avatar, on a CPU.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from avatarforge import __version__

        typer.echo(f"avatarforge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@functools.cache  # once per process: typer.Typer.command() appends, it does not replace
def _register() -> None:
    from avatarforge.cli import (animate_cmd, batch_cmd, body_cmd, create_cmd, face_cmd, faces_cmd, head_cmd, implicit_cmd,
                                 neural_cmd, portrait_cmd,
                                 research_cmd, studio_cmd, texture_cmd)

    create_cmd.register(app)
    batch_cmd.register(app)
    face_cmd.register(app)
    faces_cmd.register(app)
    texture_cmd.register(app)
    body_cmd.register(app)
    research_cmd.register(app)
    studio_cmd.register(app)
    neural_cmd.register(app)
    portrait_cmd.register(app)
    implicit_cmd.register(app)
    head_cmd.register(app)
    animate_cmd.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (used by the console script and tests)."""
    args = list(sys.argv[1:] if argv is None else argv)
    # --debug is global but accepted anywhere before "--" (also after the sub-command): it is
    # moved in front, where the root callback reads it.
    end = args.index("--") if "--" in args else len(args)
    debug = "--debug" in args[:end]
    if debug:
        args = ["--debug"] + [a for i, a in enumerate(args) if i >= end or a != "--debug"]
    _register()
    try:
        # Standalone mode: typer reports usage errors itself (one message, exit 2) and
        # ends with SystemExit; our own errors propagate out of it as exceptions.
        app(args=args, prog_name="avatarforge", standalone_mode=True)
        return 0
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except AvatarforgeError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: one line unless --debug
        if debug:
            raise
        typer.echo(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        return 1

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
