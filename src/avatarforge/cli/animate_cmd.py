"""`avatarforge animate AVATAR_DIR --video VIDEO -o OUT`: drive a created avatar from a video."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

__all__ = ["register"]


def animate(
    avatar_dir: Path = typer.Argument(..., help="A folder written by `avatarforge create` (avatar.glb or params.json)."),
    video: Path = typer.Option(..., "--video", help="A video of one person (.mp4, .mov, ...)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder (refused if it holds results unless --force)."),
    face_only: bool = typer.Option(False, "--face-only", help="Capture only the face (ARKit weights, head, gaze)."),
    body_only: bool = typer.Option(False, "--body-only", help="Capture only the body (joint rotations, root)."),
    side_by_side: bool = typer.Option(True, "--side-by-side/--no-side-by-side",
                                      help="animation.mp4 shows the video beside the avatar (else the avatar alone)."),
    video_out: bool = typer.Option(True, "--mp4/--no-mp4", help="Render animation.mp4."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", min=1, help="Use at most this many frames."),
    step: int = typer.Option(1, "--step", min=1, help="Use every n-th video frame."),
    height: int = typer.Option(480, "--height", min=64, max=2160, help="Height of animation.mp4 in pixels."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output folder."),
) -> None:
    """Capture the face and body motion of a video onto the avatar.

    Writes animation.glb (the avatar with a glTF animation: joint rotations, root translation,
    ARKit morph weights at the video's frame rate), animation.bvh (centimetres, ZXY rotation
    channels), motion.json (per-frame values) and animation.mp4 (the avatar beside the video).
    """
    from avatarforge.animate import AnimateConfig, animate_video
    from avatarforge.errors import UserInputError
    from avatarforge.util.progress import Stages

    if face_only and body_only:
        raise UserInputError("--face-only and --body-only exclude each other")
    cfg = AnimateConfig(face=not body_only, body=not face_only, side_by_side=side_by_side, video=video_out,
                        max_frames=max_frames, step=step, height=height)
    n_stages = 4 + cfg.face + cfg.body + cfg.video + 3
    with Stages.for_terminal(total=n_stages) as stages:
        anim = animate_video(avatar_dir, video, out, cfg, stages, force=force)
    parts = [f"{anim.n_frames} frames at {anim.fps:.2f} fps"]
    if cfg.body:
        parts.append(f"body in {int(anim.body_valid.sum())}")
    if cfg.face and anim.face is not None:
        parts.append(f"face in {int(anim.face.valid.sum())}")
    typer.echo(f"wrote {out} ({', '.join(parts)}; {anim.timings.get('total', 0.0):.1f} s)")


def register(app: typer.Typer) -> None:
    app.command("animate")(animate)
