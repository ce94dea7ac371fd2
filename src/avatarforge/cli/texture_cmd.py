"""`avatarforge texture FACE_DIR -o OUTDIR`: the texture stage on a fitted result."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]


def texture(
    fitted: Path = typer.Argument(..., help="A folder written by `avatarforge face` (or `create`)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output directory (refused if not empty unless --force)."),
    size: int = typer.Option(1024, "--size", min=256, max=4096, help="Texture resolution."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
) -> None:
    """Bake, de-light, inpaint, complete and seam-correct the texture of a fitted photo.

    Writes texture.png (albedo), texture_lit.png, texture_weight.png (photo confidence),
    render_fitted.png (RGBA, photo-sized) and report.json (timings, face PSNR/SSIM, lighting).
    """
    import json

    from PIL import Image

    from avatarforge.outputs import Report
    from avatarforge.pipeline.face import load_face_result
    from avatarforge.texture import fitted_fidelity, make_texture
    from avatarforge.util.atomic import atomic_dir, check_output_dir
    from avatarforge.util.colour import float_to_uint8
    from avatarforge.util.progress import Stages

    check_output_dir(out, force)
    report = Report(command="texture")
    with Stages.for_terminal(total=4) as stages:
        with stages.stage("load fitted result"):
            rec = load_face_result(fitted)
        with stages.stage("texture"):
            tex = make_texture(rec, size=size)
        with stages.stage("render fitted"):
            rgba, scores = fitted_fidelity(rec, tex)
            fidelity = scores["lit"]
        with atomic_dir(out, force=force) as tmp, stages.stage("write"):
            Image.fromarray(tex.albedo).save(tmp / "texture.png")
            Image.fromarray(tex.lit).save(tmp / "texture_lit.png")
            Image.fromarray(float_to_uint8(tex.weight)).save(tmp / "texture_weight.png")
            Image.fromarray(rgba).save(tmp / "render_fitted.png")
            report.timings.update(stages.timings)
            report.info.update({"texture_stage_seconds": {k: round(v, 3) for k, v in tex.timings.items()},
                                "render_fitted_face": {k: round(float(v), 4) for k, v in fidelity.items()},
                                "render_fitted_face_relit_albedo": {k: round(float(v), 4)
                                                                    for k, v in scores["relit_albedo"].items()},
                                "size": size, "fitted": str(Path(fitted).absolute())})
            (tmp / "report.json").write_text(report.to_json())
    typer.echo(f"wrote {out} (face PSNR {fidelity.get('psnr', float('nan')):.1f} dB); "
               f"{json.dumps({k: round(float(v), 3) for k, v in fidelity.items()})}")


def register(app: typer.Typer) -> None:
    app.command("texture")(texture)
