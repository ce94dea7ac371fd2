"""`avatarforge face PHOTO -o OUTDIR`: reconstruct the head from one photo."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

__all__ = ["register"]


def face(
    photo: Path = typer.Argument(..., help="A photo with a face (JPEG, PNG, WebP, BMP, TIFF)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output directory (refused if it holds results unless --force)."),
    face_index: Optional[int] = typer.Option(None, "--face-index", min=0, help="Which face when there are several (0 = largest)."),
    eye_net: bool = typer.Option(True, "--eye-net/--no-eye-net", help="Place the irises with the eye network (else the detector's)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
) -> None:
    """Fit head shape, expression, head/eye pose and camera to one photo.

    Writes params.json, landmarks.json, fit_overlay.png, head.obj and report.json.
    """
    from avatarforge.outputs import Report
    from avatarforge.pipeline.face import reconstruct_face, write_face_outputs
    from avatarforge.util.atomic import check_output_dir
    from avatarforge.util.progress import Stages

    check_output_dir(out, force)  # fail before the slow work, not after
    report = Report(command="face")
    with Stages.for_terminal(total=7) as stages:
        rec = reconstruct_face(photo, face_index=face_index, stages=stages, eye_net=eye_net)
        write_face_outputs(rec, out, report, stages, force=force)
    for w in rec.warnings:
        typer.echo(f"warning: {w}", err=True)
    typer.echo(f"wrote {out} (landmark RMSE {rec.fit.rmse_px:.1f} px, fit {rec.fit.seconds:.1f} s)")


def register(app: typer.Typer) -> None:
    app.command("face")(face)
