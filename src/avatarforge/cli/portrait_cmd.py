"""`avatarforge portrait ...`: animate one portrait image from a 6-value pose (talking head)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

__all__ = ["register"]

portrait_app = typer.Typer(
    help="Talking head: pose one portrait image (eyes, mouth, head rotation); drive it from a face video.",
    no_args_is_help=True,
)

_WEIGHTS_HELP = ("Networks to use: a folder with the published face_morpher.pt, two_algo_face_rotator.pt and "
                 "combiner.pt, or a checkpoint file; default the bundled reduced networks.")


def _floats(text: str, n: int, flag: str) -> list[float]:
    from avatarforge.errors import UserInputError

    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise UserInputError(f"{flag} expects {n} comma-separated numbers, got {text!r}") from None
    if len(values) != n:
        raise UserInputError(f"{flag} expects {n} comma-separated numbers, got {text!r}")
    return values


def _portrait(image: Path, no_matte: bool, size: int):
    from avatarforge.portrait.input import load_portrait

    p = load_portrait(image, size=size, matte=not no_matte)
    for note in p.notes:
        typer.echo(f"note: {note}", err=True)
    return p.rgba


_METHOD_HELP = ("auto: the mesh-guided animator when a face mesh fits the photo (full resolution, any ARKit "
                "action), else the neural poser; mesh or neural to choose.")


def _method(method: str) -> str:
    from avatarforge.errors import UserInputError

    if method not in ("auto", "mesh", "neural"):
        raise UserInputError(f"--method must be auto, mesh or neural, got {method!r}")
    return method


def _mesh_animator(image: Path, method: str, weights: Optional[Path]):
    """The photo's MeshAnimator, or None when the neural poser is to be used."""
    from avatarforge.errors import UserInputError

    if method == "neural" or (method == "auto" and weights is not None):
        return None
    from avatarforge.portrait.input import read_rgba
    from avatarforge.portrait.mesh_animator import MeshAnimator

    rgba, has_alpha = read_rgba(image)
    img = rgba if has_alpha and (rgba[..., 3] < 250).mean() > 0.01 else rgba[..., :3].copy()
    try:
        return MeshAnimator.from_image(img)
    except UserInputError as exc:
        if method == "mesh":
            raise
        typer.echo(f"note: no face mesh fits ({exc}); using the neural poser", err=True)
        return None


def _actions(items: list[str]) -> dict[str, float]:
    from avatarforge.errors import UserInputError

    out = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise UserInputError(f"--action expects NAME=VALUE (e.g. jawOpen=0.6), got {item!r}") from None
    return out


@portrait_app.command("pose")
def pose_cmd(
    image: Path = typer.Argument(..., help="Portrait: RGBA PNG with a transparent background, or a photo (matted)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output PNG (RGBA)."),
    eyes: str = typer.Option("0,0", "--eyes", help="LEFT,RIGHT eye closure, 0 open .. 1 closed (character's left/right)."),
    mouth: float = typer.Option(0.0, "--mouth", help="Mouth opening, 0 closed .. 1 open."),
    head: str = typer.Option("0,0,0", "--head", help="HEAD_X,HEAD_Y,NECK_Z in [-1, 1] (each +-15 degrees)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help=_WEIGHTS_HELP),
    no_matte: bool = typer.Option(False, "--no-matte", help="Refuse images without a transparent background instead of matting them."),
    size: int = typer.Option(256, "--size", min=32, max=1024, help="Side of the output image in pixels."),
    save_input: bool = typer.Option(False, "--save-input", help="Also write the framed input next to the output (*_input.png)."),
    method: str = typer.Option("auto", "--method", help=_METHOD_HELP),
    action: list[str] = typer.Option([], "--action", help="Mesh method: set an ARKit action, NAME=VALUE in [0, 1] (repeatable), e.g. mouthSmileLeft=0.8."),
    gaze: str = typer.Option("0,0", "--gaze", help="Mesh method: eye rotation DOWN,LEFT in degrees."),
) -> None:
    """Pose one portrait and write the result as a PNG (the mesh method keeps the photo's size)."""
    from PIL import Image

    from avatarforge.errors import UserInputError
    from avatarforge.portrait.pose import TalkingPose
    from avatarforge.portrait.poser import Poser
    from avatarforge.util.atomic import atomic_path

    if out.suffix.lower() != ".png":
        raise UserInputError(f"{out}: the output must be a .png file")
    le, re_ = _floats(eyes, 2, "--eyes")
    hx, hy, nz = _floats(head, 3, "--head")
    pose = TalkingPose(head_x=hx, head_y=hy, neck_z=nz, left_eye=le, right_eye=re_, mouth=mouth)
    gx, gy = _floats(gaze, 2, "--gaze")
    actions = _actions(action)
    animator = _mesh_animator(image, _method(method), weights)
    if animator is not None:
        import dataclasses

        face_pose = animator.pose_from_talking(pose)
        face_pose = dataclasses.replace(face_pose, actions={**face_pose.actions, **actions}, gaze=(gx, gy))
        result = animator.render(face_pose)
        with atomic_path(out) as tmp:
            Image.fromarray(result).save(tmp, format="PNG")
        typer.echo(f"wrote {out} (mesh, {result.shape[1]}x{result.shape[0]})")
        return
    if actions or (gx, gy) != (0.0, 0.0):
        raise UserInputError("--action and --gaze need the mesh method (a photo with a face)")
    rgba = _portrait(image, no_matte, size)
    poser = Poser.load(weights)
    result = poser.pose_image(rgba, pose)
    with atomic_path(out) as tmp:
        Image.fromarray(result, "RGBA").save(tmp, format="PNG")
    if save_input:
        Image.fromarray(rgba, "RGBA").save(out.with_name(out.stem + "_input.png"))
    typer.echo(f"wrote {out}")


@portrait_app.command("drive")
def drive_cmd(
    image: Path = typer.Argument(..., help="Portrait: RGBA PNG with a transparent background, or a photo (matted)."),
    video: Path = typer.Option(..., "--video", help="Video of a face (.mp4, .mov, ...) that drives the portrait."),
    out: Path = typer.Option(..., "-o", "--out", help="Output MP4."),
    weights: Optional[Path] = typer.Option(None, "--weights", help=_WEIGHTS_HELP),
    smoothing: float = typer.Option(0.5, "--smoothing", min=0.01, max=1.0, help="Weight of each new frame (1 = no smoothing)."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", min=1, help="Use at most this many frames."),
    no_side_by_side: bool = typer.Option(False, "--no-side-by-side", help="Only the animated portrait (no driving frame on the left)."),
    no_matte: bool = typer.Option(False, "--no-matte", help="Refuse images without a transparent background."),
    size: int = typer.Option(256, "--size", min=32, max=1024, help="Neural method: side of the animated portrait in pixels."),
    method: str = typer.Option("auto", "--method", help=_METHOD_HELP),
    neutral_frame: Optional[int] = typer.Option(None, "--neutral-frame", min=0, help="Mesh method: driver frame taken as neutral (default: the first with a face)."),
) -> None:
    """Animate a portrait with the eyes, mouth and head movement of a face video."""
    from avatarforge.errors import UserInputError
    from avatarforge.portrait.drive import DriveConfig, drive_video
    from avatarforge.portrait.poser import Poser
    from avatarforge.util.progress import Stages

    if out.suffix.lower() != ".mp4":
        raise UserInputError(f"{out}: the output must be a .mp4 file")
    if not video.is_file():
        raise UserInputError(f"{video} does not exist: give a video of a face")
    animator = _mesh_animator(image, _method(method), weights)
    if animator is not None:
        from avatarforge.portrait.mesh_drive import MeshDriveConfig, drive_video_mesh

        mcfg = MeshDriveConfig(smoothing=smoothing, neutral_frame=neutral_frame, max_frames=max_frames,
                               side_by_side=not no_side_by_side)
        with Stages.for_terminal(total=1) as stages:
            with stages.stage("tracking and rendering"):
                res = drive_video_mesh(animator, video, out, mcfg)
        typer.echo(f"wrote {out} (mesh, {res.n_frames} frames at {res.fps:g} fps, face found in {res.tracked})")
        return
    rgba = _portrait(image, no_matte, size)
    poser = Poser.load(weights)
    cfg = DriveConfig(smoothing=smoothing, max_frames=max_frames, side_by_side=not no_side_by_side)
    with Stages.for_terminal(total=2) as stages:
        with stages.stage("tracking and rendering"):
            res = drive_video(poser, rgba, video, out, cfg)
    typer.echo(f"wrote {out} ({res.n_frames} frames at {res.fps:g} fps, face found in {res.tracked})")


@portrait_app.command("live")
def live_cmd(
    image: Path = typer.Argument(..., help="Portrait: RGBA PNG with a transparent background, or a photo (matted)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help=_WEIGHTS_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to serve on."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port to serve on."),
    no_matte: bool = typer.Option(False, "--no-matte", help="Refuse images without a transparent background."),
    method: str = typer.Option("auto", "--method", help=_METHOD_HELP),
) -> None:
    """Serve a page with six sliders that pose the portrait live (Ctrl-C to stop)."""
    import time

    import numpy as np

    from avatarforge.portrait.live import serve
    from avatarforge.portrait.poser import Poser

    animator = _mesh_animator(image, _method(method), weights)
    if animator is not None:
        img = animator.image
        rgba = img if img.shape[2] == 4 else np.concatenate([img, np.full((*img.shape[:2], 1), 255, np.uint8)], 2)
        page = serve(animator, rgba, host=host, port=port)
    else:
        rgba = _portrait(image, no_matte, 256)
        page = serve(Poser.load(weights), rgba, host=host, port=port)
    typer.echo(f"serving on http://{host}:{page.port} (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(1.0)
    finally:
        page.stop()


@portrait_app.command("data")
def data_cmd(
    out: Path = typer.Option(..., "-o", "--out", help="Folder for the generated splits (a cache: never commit it)."),
    size: int = typer.Option(128, "--size", min=16, max=512, help="Image side (256 = the reference size)."),
    n_train: int = typer.Option(240, "--train", min=1, help="Training identities."),
    n_val: int = typer.Option(16, "--val", min=1, help="Validation identities."),
    n_test: int = typer.Option(40, "--test", min=1, help="Held-out test identities."),
    per_identity: int = typer.Option(8, "--per-identity", min=1, help="Posed samples per identity."),
    seed: int = typer.Option(0, "--seed", help="Seed of identities and poses."),
) -> None:
    """Render training pairs from the embedded body model, split by identity."""
    from avatarforge.portrait.synth.dataset import DataConfig, generate_dataset
    from avatarforge.util.progress import Stages

    cfg = DataConfig(size=size, n_train=n_train, n_val=n_val, n_test=n_test, per_identity=per_identity, seed=seed)
    with Stages.for_terminal(total=n_train + n_val + n_test) as stages:
        def progress(split: str, k: int, n: int) -> None:
            with stages.stage(f"rendering {split}"):
                pass

        generate_dataset(out, cfg, progress=progress)
    typer.echo(f"wrote {out}")


@portrait_app.command("train")
def train_cmd(
    data: Path = typer.Option(..., "--data", help="Folder made by `avatarforge portrait data`."),
    work: Path = typer.Option(..., "--work", help="Folder for checkpoints and loss logs (resumes from it)."),
    stage: str = typer.Option(..., "--stage", help="morpher, rotator or combiner (train in this order)."),
    steps: int = typer.Option(2000, "--steps", min=1, help="Total optimiser steps of the stage."),
    batch: int = typer.Option(8, "--batch", min=1, help="Samples per step."),
    full: bool = typer.Option(False, "--full", help="Train the full published size instead of the reduced one."),
    seed: int = typer.Option(0, "--seed", help="Seed."),
    threads: int = typer.Option(1, "--threads", min=1, help="torch threads."),
    focus: float = typer.Option(0.0, "--focus", min=0.0, help="Morpher: extra L1 weight on the pixels that change (0 = plain L1)."),
    init: Optional[Path] = typer.Option(None, "--init", help="Start from this one-file checkpoint's weights (e.g. the bundled one) when the work dir has none for the stage."),
) -> None:
    """Train one stage (L1, Adam lr 1e-4, betas (0.5, 0.999)); re-run to resume."""
    import dataclasses

    import torch

    from avatarforge.portrait.networks import FULL, REDUCED
    from avatarforge.portrait.synth.dataset import load_split
    from avatarforge.portrait.train import TrainConfig, train_stage

    torch.set_num_threads(threads)
    size = int(load_split(data, "val").rest.shape[1])
    net = FULL if full else REDUCED
    if net.image_size != size:
        typer.echo(f"note: data is {size} px, networks work at {net.image_size} px (images resized)", err=True)
    cfg = TrainConfig(steps=steps, batch=batch, net=dataclasses.replace(net), seed=seed, focus=focus,
                      init=None if init is None else str(init))

    def progress(step: int, total: int, loss: float) -> None:
        if step % 100 == 0 or step == total:
            typer.echo(f"{stage} step {step}/{total} loss {loss:.4f}", err=True)

    res = train_stage(stage, data, work, cfg, progress)
    typer.echo(f"{stage}: {res.step} steps, last loss {res.last_loss:.4f}, {res.seconds:.0f} s")


@portrait_app.command("export")
def export_cmd(
    work: Path = typer.Option(..., "--work", help="Training folder holding morpher/rotator/combiner.ckpt."),
    out: Path = typer.Option(..., "-o", "--out", help="Checkpoint file to write (.pt)."),
    full: bool = typer.Option(False, "--full", help="The networks are the full published size."),
    half: bool = typer.Option(False, "--half", help="Store float16 (half the size)."),
) -> None:
    """Bundle the three trained stages into one inference checkpoint."""
    from avatarforge.portrait.networks import FULL, REDUCED
    from avatarforge.portrait.train import export_checkpoint

    path = export_checkpoint(work, out, FULL if full else REDUCED, meta={"work_dir": str(work)}, half=half)
    typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


def register(app: typer.Typer) -> None:
    app.add_typer(portrait_app, name="portrait")
