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
    import json
    import time

    from avatarforge.errors import UserInputError
    from avatarforge.perception.face import MIN_FACE_PX, face_landmarks, find_faces
    from avatarforge.perception.faces_report import faces_image, faces_json, faces_table
    from avatarforge.perception.image_io import load_image
    from avatarforge.util.atomic import atomic_dir, check_output_dir

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
    size = (int(image.rgb.shape[1]), int(image.rgb.shape[0]))
    for line in faces_table(found):
        typer.echo(line)
    for f in found:
        if f.size_px < MIN_FACE_PX:
            typer.echo(f"warning: face {f.index} is only {f.size_px:.0f} px wide (< {MIN_FACE_PX:.0f}): "
                       "its fit may be inaccurate", err=True)
    if out is not None:
        import cv2

        data = faces_json(found, size)
        data["seconds"] = round(seconds, 3)
        with atomic_dir(out, force=force) as tmp:
            (tmp / "faces.json").write_text(json.dumps(data, indent=1))
            cv2.imwrite(str(tmp / "faces.png"), cv2.cvtColor(faces_image(image.rgb, found), cv2.COLOR_RGB2BGR))
        typer.echo(f"wrote {out / 'faces.json'} and {out / 'faces.png'}")
    typer.echo(f"{len(found)} face{'s' if len(found) != 1 else ''} in {seconds:.2f} s; "
               "pick one with --face-index N (face, create, batch)")


def register(app: typer.Typer) -> None:
    app.command("faces")(faces)
