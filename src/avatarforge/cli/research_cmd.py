"""`avatarforge doctor --assets DIR [--load]`: check the licensed research assets."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

__all__ = ["register", "create_research"]


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


def create_research(photo: Path, out: Path, backend: str, assets: Optional[Path], pose: str, face_index: Optional[int],
                    texture_size: int, preview_size: int, force: bool, ignored: list[str],
                    sets: list[str] | None = None) -> None:
    """`create --backend smplx`: see :mod:`avatarforge.pipeline.create_research`."""
    from avatarforge.bodies.spec import ParamSet
    from avatarforge.errors import UserInputError
    from avatarforge.outputs import Report
    from avatarforge.pipeline.create_research import (
        EXPORT_POSES, RESEARCH_STAGES, ResearchOptions, create_research_avatar, write_research_outputs,
    )
    from avatarforge.util.atomic import check_output_dir
    from avatarforge.util.progress import Stages

    if backend != "smplx":
        raise UserInputError(f"unknown backend {backend!r}: choose anny or smplx")
    if pose.lower() not in EXPORT_POSES:
        raise UserInputError(f"unknown pose {pose!r}: choose one of {', '.join(EXPORT_POSES)}")
    check_output_dir(out, force)
    given = ParamSet.parse_assignments(sets or [])
    opts = ResearchOptions(assets=assets, pose=pose, face_index=face_index, texture_size=texture_size, given=given)
    report = Report(command="create --backend smplx")
    with Stages.for_terminal(total=RESEARCH_STAGES) as stages:
        result = create_research_avatar(photo, opts, stages)
        if ignored:
            result.warnings.append(f"{', '.join(ignored)} apply to the anny backend only; ignored with --backend smplx")
        write_research_outputs(result, out, report, stages, force=force, preview_size=preview_size, photo=photo)
    for w in result.warnings:
        typer.echo(f"warning: {w}", err=True)
    typer.echo(f"wrote {out} ({result.method} head, head fit {result.beta_fit.rms_m * 1000:.1f} mm RMS)")


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
