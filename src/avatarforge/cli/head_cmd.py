"""`avatarforge head ...`: IMavatar, an implicit morphable head learned from a face video.

    avatarforge head synth -o DATA_DIR                       # synthetic face videos with known values
    avatarforge head train VIDEO_OR_DATA_DIR -o MODEL_DIR [--kind imavatar|bmorph|cnet]
    avatarforge head render MODEL_DIR (--drive FACE.mp4 | --expressions E.json) [--yaw D --pitch D] -o out.mp4
    avatarforge head mesh MODEL_DIR -o head.obj
"""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register", "head_app"]

head_app = typer.Typer(help="IMavatar: an implicit morphable head learned from a face video.", no_args_is_help=True)


@head_app.command("synth")
def synth_cmd(
    out: Path = typer.Option(..., "-o", "--out", help="Output data set folder."),
    size: int = typer.Option(96, "--size", min=32, max=512, help="Image side, pixels."),
    frames: int = typer.Option(160, "--frames", min=8, help="Frames of the training sequences (1 in 8 held out)."),
    extreme: int = typer.Option(16, "--extreme", min=1, help="Frames of extreme expressions (beyond the training range)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output folder."),
) -> None:
    """Render face videos of the painted body-model head with known expressions and head poses
    (train / held-out frames / extreme expressions), with masks."""
    from avatarforge.bodies import load_body
    from avatarforge.imavatar.data import SynthConfig, make_synthetic, save_data
    from avatarforge.util.atomic import atomic_dir, check_output_dir

    check_output_dir(out, force)
    data = make_synthetic(load_body(), SynthConfig(size=size, frames=frames, extreme=extreme, seed=seed))
    with atomic_dir(out, force) as tmp:
        save_data(data, tmp)
    counts = {s: int((data.split == s).sum()) for s in ("train", "heldout", "extreme")}
    typer.echo(f"wrote {out}: {counts} frames of {size} px")


@head_app.command("train")
def train_cmd(
    source: Path = typer.Argument(..., help="A face video, or a data folder from `avatarforge head synth`."),
    out: Path = typer.Option(..., "-o", "--out", help="Model folder (an existing one is resumed)."),
    kind: str = typer.Option("imavatar", "--kind", help="'imavatar', or a baseline: 'bmorph', 'cnet'."),
    steps: int = typer.Option(300, "--steps", min=1, help="Optimisation steps (total, including resumed ones)."),
    rays: int = typer.Option(192, "--rays", min=8, help="Rays per step."),
    size: int = typer.Option(96, "--size", min=32, max=512, help="Frame size for a video (cropped on the face)."),
    max_frames: int | None = typer.Option(None, "--max-frames", min=1, help="Use at most this many video frames."),
    force: bool = typer.Option(False, "--force", help="Start again even if the folder holds a checkpoint."),
) -> None:
    """Train a head model (RGB L1 + mask + morphable-model agreement; resumable: run again to continue)."""
    import json
    import shutil

    from avatarforge.errors import UserInputError
    from avatarforge.imavatar.data import load_data, save_data, track_video
    from avatarforge.imavatar.model import MODEL_KINDS
    from avatarforge.imavatar.train import CHECKPOINT, TrainConfig, train

    if kind not in MODEL_KINDS:
        raise UserInputError(f"--kind must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
    if not source.exists():
        raise UserInputError(f"{source}: no such video or data folder")
    if out.exists() and not out.is_dir():
        raise UserInputError(f"{out} exists and is not a folder")
    if force and (out / CHECKPOINT).exists():
        shutil.rmtree(out)
    body = None
    if source.is_dir():
        data = load_data(source)
    else:
        from avatarforge.bodies import load_body

        body = load_body()
        data, report = track_video(source, body, size=size, max_frames=max_frames)
        typer.echo(f"tracked {report['used']}/{report['frames']} frames; lost (skipped): {report['lost_frames']}")
        out.mkdir(parents=True, exist_ok=True)
        (out / "data").mkdir(exist_ok=True)
        save_data(data, out / "data")
        (out / "tracking.json").write_text(json.dumps(report, indent=1), encoding="utf-8")

    def show(rec: dict) -> None:
        typer.echo(f"step {rec['step']}/{steps}: loss {rec['loss']:.4f} (rgb {rec['rgb']:.4f}, mask {rec['mask']:.4f}) "
                   f"{rec['seconds']:.0f} s", err=True)

    train(data, out, TrainConfig(kind=kind, steps=steps, rays=rays), body=body, progress=show)
    typer.echo(f"wrote {out}")


@head_app.command("render")
def render_cmd(
    model_dir: Path = typer.Argument(..., help="A model folder from `avatarforge head train`."),
    out: Path = typer.Option(..., "-o", "--out", help="Output video (.mp4) or image (.png, first frame)."),
    drive: Path | None = typer.Option(None, "--drive", help="A face video whose expressions and head motion drive the head."),
    expressions: Path | None = typer.Option(None, "--expressions", help="JSON list of frames of ARKit action values."),
    yaw: float = typer.Option(0.0, "--yaw", min=-60, max=60, help="Extra head yaw, degrees (novel pose)."),
    pitch: float = typer.Option(0.0, "--pitch", min=-40, max=40, help="Extra head pitch, degrees."),
    size: int | None = typer.Option(None, "--size", min=16, max=1024, help="Output size (default: the training size)."),
    max_frames: int | None = typer.Option(None, "--max-frames", min=1, help="Drive at most this many frames."),
    every: int = typer.Option(1, "--every", min=1, help="With --drive: use every N-th video frame."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output."),
) -> None:
    """Render the head driven by another face video (reenactment), by ARKit values per frame, or
    (with neither) a neutral face, in novel head poses with --yaw/--pitch."""
    import numpy as np
    from PIL import Image

    from avatarforge.errors import UserInputError
    from avatarforge.imavatar.train import load_model
    from avatarforge.imavatar.use import Drive, drive_from_json, drive_from_video, render_drive
    from avatarforge.util.atomic import atomic_path
    from avatarforge.util.video import write_mp4

    if out.suffix.lower() not in (".mp4", ".png"):
        raise UserInputError(f"{out}: the output must be .mp4 or .png")
    if drive is not None and expressions is not None:
        raise UserInputError("give --drive or --expressions, not both")
    if out.exists() and not force:
        raise UserInputError(f"{out} exists: pass --force to replace it")
    for p in (drive, expressions):
        if p is not None and not p.is_file():
            raise UserInputError(f"{p}: no such file")
    model = load_model(model_dir)
    if expressions is not None:
        d = drive_from_json(expressions, model.rig.expression_names)
    elif drive is not None:
        d = drive_from_video(drive, max_frames=max_frames, every=every)
    else:
        d = Drive(np.zeros((1, 52)), np.zeros((1, 3)), np.zeros((1, 2, 3)))
    if max_frames is not None:
        d = Drive(d.expression[:max_frames], d.head[:max_frames], d.eyes[:max_frames], d.fps)
    if out.suffix.lower() == ".png":
        d = Drive(d.expression[:1], d.head[:1], d.eyes[:1], d.fps)
    frames = render_drive(model, d, size, yaw, pitch)
    if out.suffix.lower() == ".png":
        with atomic_path(out) as tmp:
            Image.fromarray(frames[0]).save(tmp, format="PNG")
    else:
        write_mp4(out, frames, d.fps)
    typer.echo(f"wrote {out}: {len(frames)} frames")


@head_app.command("mesh")
def mesh_cmd(
    model_dir: Path = typer.Argument(..., help="A model folder from `avatarforge head train`."),
    out: Path = typer.Option(..., "-o", "--out", help="Output mesh (.obj, .ply, .stl or .glb)."),
    res: int = typer.Option(96, "--res", min=16, max=512, help="Marching-cubes grid resolution."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output."),
) -> None:
    """Marching cubes of the canonical head (neutral expression, rest pose)."""
    import trimesh

    from avatarforge.errors import UserInputError
    from avatarforge.imavatar.train import load_model
    from avatarforge.imavatar.use import canonical_mesh
    from avatarforge.util.atomic import atomic_path

    if out.suffix.lower() not in (".obj", ".ply", ".stl", ".glb"):
        raise UserInputError(f"{out}: the mesh must be .obj, .ply, .stl or .glb")
    if out.exists() and not force:
        raise UserInputError(f"{out} exists: pass --force to replace it")
    v, f = canonical_mesh(load_model(model_dir), res)
    if len(f) == 0:
        raise UserInputError(f"{model_dir}: the model has no surface (is it trained?)")
    with atomic_path(out) as tmp:
        trimesh.Trimesh(v, f, process=False).export(tmp, file_type=out.suffix.lower().lstrip("."))
    typer.echo(f"wrote {out}: {len(v)} vertices, {len(f)} faces")


def register(app: typer.Typer) -> None:
    app.add_typer(head_app, name="head")
