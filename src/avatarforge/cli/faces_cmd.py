"""`avatarforge faces PHOTO [-o OUTDIR]`: list the faces in a photo, in --face-index order."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

__all__ = ["register"]


def faces(
    photo: Path = typer.Argument(..., help="A photo (JPEG, PNG, WebP, BMP, TIFF)."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Also write faces.json and faces.png (numbered boxes) here."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
) -> None:
    """List every face (index, box, width, yaw estimate), largest first: the index is the
    --face-index of face, create and batch."""
    import time

    from avatarforge.errors import UserInputError
    from avatarforge.perception.face import MIN_FACE_PX, face_landmarks, find_faces
    from avatarforge.outputs import write_faces
    from avatarforge.perception.image_io import load_image
    from avatarforge.util.atomic import check_output_dir

    if out is not None:
        check_output_dir(out, force)
    image = load_image(photo)
    start = time.perf_counter()
    found = find_faces(image)
    seconds = time.perf_counter() - start
    if not found:
        face_landmarks(image)  # raises the reason: no face at all, or why a detected one has no mesh
        raise UserInputError(f"no face found in {photo}: use a photo where faces are visible, upright and "
                             f"at least ~{MIN_FACE_PX:.0f} px wide")
    for line in _table(found):
        typer.echo(line)
    for f in found:
        if f.size_px < MIN_FACE_PX:
            typer.echo(f"warning: face {f.index} is only {f.size_px:.0f} px wide (< {MIN_FACE_PX:.0f}): "
                       "its fit may be inaccurate", err=True)
    if out is not None:
        write_faces(out, image.rgb, found, seconds=seconds, force=force)
        typer.echo(f"wrote {out / 'faces.json'} and {out / 'faces.png'}")
    typer.echo(f"{len(found)} face{'s' if len(found) != 1 else ''} in {seconds:.2f} s; "
               "pick one with --face-index N (face, create, batch)")


def _table(faces) -> list[str]:
    """One line per face for the terminal: index, box, width, yaw."""
    lines = [f"{'index':>5}  {'box x0,y0,x1,y1':<24} {'width':>6}  {'yaw':>5}"]
    for f in faces:
        box = ",".join(f"{v:.0f}" for v in (f.box.x0, f.box.y0, f.box.x1, f.box.y1))
        lines.append(f"{f.index:>5}  {box:<24} {f.size_px:>4.0f}px  {f.yaw_deg:>+4.0f}°")
    return lines


def register(app: typer.Typer) -> None:
    app.command("faces")(faces)
