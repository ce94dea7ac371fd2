"""`avatarforge doctor --assets DIR [--load]`: check the licensed research assets."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

__all__ = ["register"]


def doctor(
    assets: Optional[Path] = typer.Option(None, "--assets", help="Research assets folder (default: $AVATARFORGE_ASSETS)."),
    load: bool = typer.Option(False, "--load", help="Load every file found and report OK or the precise problem."),
) -> None:
    """List the licensed research files found (SMPL-X, FLAME, DECA) and what each enables."""
    from avatarforge.research.assets import resolve_assets
    from avatarforge.research.doctor import check_assets, format_checks

    paths = resolve_assets(assets)
    checks = check_assets(paths, load=load)
    typer.echo(format_checks(checks, paths.root))
    if any(c.status == "failed" for c in checks):
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
