"""`avatarforge neural ...`: textured neural avatars (learn a person, re-render new poses/views).

    avatarforge neural synth -o DATA_DIR                       # synthetic data set (body model)
    avatarforge neural train VIDEO_OR_DATASET -o MODEL_DIR     # resumable; --kind direct for the baseline
    avatarforge neural train VIDEOS_DIR -o MODEL_DIR --holdout-views cam03   # synchronised videos + calibration
    avatarforge neural track VIDEO -o MOTION.json              # another video's poses (motion transfer)
    avatarforge neural motion walk -o MOTION.json              # a preset motion as MOTION.json
    avatarforge neural render MODEL_DIR --motion MOTION.json|PRESET --camera 30,10 -o out.mp4
"""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register", "neural_app"]

neural_app = typer.Typer(help="Textured neural avatars: train on a video or synthetic data, render new poses and views.",
                         no_args_is_help=True)


def _echo_log(log: dict) -> None:
    keys = [k for k in ("loss", "ce", "uv_l1", "l1", "bce", "ssim") if k in log]
    typer.echo(f"  step {log['step']} ({log['phase']}): " + ", ".join(f"{k} {log[k]:.4f}" for k in keys), err=True)


@neural_app.command("synth")
def synth(
    out: Path = typer.Option(..., "-o", "--out", help="Output data set folder."),
    size: int = typer.Option(128, "--size", min=16, max=1024, help="Frame side in pixels (a multiple of 8)."),
    sequences: int = typer.Option(8, "--sequences", min=1, help="Random training motions."),
    poses: int = typer.Option(20, "--poses-per-sequence", min=1, help="Poses per motion."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the motions."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output folder."),
) -> None:
    """Render a synthetic data set: the body model in a procedural outfit, random motions, 8 training
    cameras and 4 held-out ones, with masks and part/UV maps."""
    from avatarforge.errors import UserInputError
    from avatarforge.neural.data_synthetic import SyntheticConfig, make_synthetic
    from avatarforge.neural.dataset import save_dataset
    from avatarforge.util.atomic import check_output_dir
    from avatarforge.util.progress import Stages

    if size % 8:
        raise UserInputError(f"--size must be a multiple of 8, got {size}")
    check_output_dir(out, force)
    with Stages.for_terminal(total=2) as stages:
        with stages.stage("render frames"):
            data = make_synthetic(SyntheticConfig(size=size, train_sequences=sequences, frames_per_sequence=poses,
                                                  test_sequences=max(1, sequences // 4),
                                                  unseen_views_per_camera=min(16, sequences * poses), seed=seed))
        with stages.stage("write"):
            save_dataset(out, data)
    typer.echo(f"wrote {out}: {data.meta['counts']}")


@neural_app.command("train")
def train_cmd(
    source: Path = typer.Argument(..., help="A video of one person (.mp4, .mov, ...), a folder of synchronised videos "
                                            "named after their cameras + a calibration file, or a data set folder."),
    out: Path = typer.Option(..., "-o", "--out", help="Model folder (an existing one is resumed)."),
    kind: str = typer.Option("texture", "--kind", help="'texture' (textured neural avatar) or 'direct' (baseline)."),
    iterations: int | None = typer.Option(None, "--iterations", min=1, help="Main training steps (default: 1500 "
                                          "up to 128 px, 600 at 256 px: about an hour of one CPU core)."),
    pretrain_iterations: int | None = typer.Option(None, "--pretrain-iterations", min=0,
                                                   help="Generator pre-training steps on part/UV maps (texture model; "
                                                   "default: 500 up to 128 px, 250 at 256 px)."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Frames per step."),
    size: int = typer.Option(128, "--size", min=16, max=1024, help="Video only: training frame side (multiple of 8)."),
    max_frames: int = typer.Option(300, "--max-frames", min=1, help="Video only: frames read at most."),
    step: int = typer.Option(1, "--step", min=1, help="Video only: keep every n-th frame."),
    holdout_views: str = typer.Option("", "--holdout-views", help="Multi-view only: comma-separated camera names "
                                      "kept out of training (scored as unseen views)."),
    calibration: Path | None = typer.Option(None, "--calibration", help="Multi-view only: the calibration file "
                                            "(default: the one .toml/.yml/.xml/.qca.txt in the folder or calibration/)."),
    threads: int = typer.Option(1, "--threads", min=1, max=64, help="Torch threads (1 is fastest on a busy CPU)."),
    force: bool = typer.Option(False, "--force", help="Start again even if the model folder holds a checkpoint."),
) -> None:
    """Train an avatar (resumable: run again to continue; --force restarts). Writes config.json,
    checkpoint.pt and log.jsonl into the model folder."""
    import json
    import shutil

    from avatarforge.errors import UserInputError
    from avatarforge.neural.model import MODEL_KINDS
    from avatarforge.neural.train import CHECKPOINT, TrainConfig, train
    from avatarforge.util.progress import Stages
    from avatarforge.util.threads import torch_threads
    from avatarforge.util.video import VIDEO_SUFFIXES

    if kind not in MODEL_KINDS:
        raise UserInputError(f"--kind must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
    if not source.exists():
        raise UserInputError(f"{source}: no such file or folder")
    if out.exists() and not out.is_dir():
        raise UserInputError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / CHECKPOINT).is_file() and not force:
        raise UserInputError(f"{out} is not empty and holds no checkpoint; choose another folder or pass --force")
    if force and out.is_dir():
        shutil.rmtree(out)
    # The step budget follows the frame side (a data set folder's own size is only known once
    # loaded: its budget is settled below).
    explicit = {k: v for k, v in (("iterations", iterations), ("pretrain_iterations", pretrain_iterations)) if v is not None}
    cfg = TrainConfig.for_size(size, kind=kind, batch_size=batch_size, **explicit)
    with Stages.for_terminal(total=3) as stages, torch_threads(threads):
        pre = None
        with stages.stage("load data"):
            if source.is_file():
                if source.suffix.lower() not in VIDEO_SUFFIXES:
                    raise UserInputError(f"{source}: give a video ({', '.join(VIDEO_SUFFIXES)}) or a data set folder")
                from avatarforge.neural.data_video import VideoConfig, dataset_from_video

                if size % 8:
                    raise UserInputError(f"--size must be a multiple of 8, got {size}")
                data = dataset_from_video(source, VideoConfig(size=size, max_frames=max_frames, step=step))
                c = data.meta["tracking"]
                typer.echo(f"{c['usable']}/{c['in_view']} frames in view tracked ({c['interpolated']} interpolated, "
                           f"{c['swaps_fixed']} left/right swaps fixed)", err=True)
                for s in data.meta["skipped"]:
                    typer.echo(f"skipped frame {s['frame']}: {s['reason']}", err=True)
            elif not (source / "frames.npz").is_file():
                from avatarforge.neural.calibration import find_calibration
                from avatarforge.neural.data_multiview import MultiViewConfig, dataset_from_multiview

                if calibration is None:
                    try:
                        find_calibration(source)
                    except UserInputError as exc:
                        raise UserInputError(f"{source}: not a data set folder (no frames.npz), nor synchronised "
                                             f"videos with a calibration ({str(exc).split(': ', 1)[1]})") from None

                if size % 8:
                    raise UserInputError(f"--size must be a multiple of 8, got {size}")
                held = tuple(v.strip() for v in holdout_views.split(",") if v.strip())
                mv_cfg = MultiViewConfig(size=size, max_frames=max_frames, step=step, holdout_views=held)
                if calibration is not None:
                    from avatarforge.neural.data_multiview import track_multiview

                    data = dataset_from_multiview(track_multiview(source, mv_cfg, calibration=calibration), mv_cfg)
                else:
                    data = dataset_from_multiview(source, mv_cfg)
                for name, c in data.meta["views"].items():
                    typer.echo(f"{name}: {c['usable']}/{c['in_view']} frames in view tracked "
                               f"({c['interpolated']} interpolated), {c['in_dataset']} in the data set"
                               + (" (held out)" if c["held_out"] else ""), err=True)
                for s in data.meta["skipped"]:
                    typer.echo(f"skipped {s['camera']} frame {s['frame']}: {s['reason']}", err=True)
            else:
                from avatarforge.neural.dataset import load_dataset

                data = load_dataset(source)
                cfg = TrainConfig.for_size(data.size[0], kind=kind, batch_size=batch_size, **explicit)
        if kind == "texture" and cfg.pretrain_iterations > 0 and data.parts is None:
            with stages.stage("synthetic pre-training data"):
                # No DensePose maps for a video: pre-train the generator on the body model's
                # part/UV maps (the paper's transfer variant), then fit the video.
                from avatarforge.neural.data_synthetic import SyntheticConfig, make_synthetic

                pre = make_synthetic(SyntheticConfig(size=data.size[0], train_sequences=4, test_sequences=1,
                                                     unseen_views_per_camera=1))
        with stages.stage("train"):
            res = train(data, out, cfg, resume=True, pretrain_data=pre, on_log=_echo_log)
    typer.echo(f"wrote {out} (step {res.steps}, {res.seconds:.0f} s): {json.dumps(res.last)}")


@neural_app.command("render")
def render_cmd(
    model: Path = typer.Argument(..., help="A model folder written by `avatarforge neural train`."),
    motion: str = typer.Option(..., "--motion", help="MOTION.json, or a preset: walk, wave, squat, turn, dance."),
    out: Path = typer.Option(..., "-o", "--out", help="Output video (.mp4)."),
    camera: str = typer.Option("train", "--camera", help="'train', 'orbit' or 'AZ[,EL[,DIST]]' (degrees, metres)."),
    size: int | None = typer.Option(None, "--size", min=16, max=2048,
                             help="Output side in pixels (multiple of 8); default: the training size, where "
                                  "the model is sharpest."),
    frames: int = typer.Option(50, "--frames", min=1, max=10000, help="Frames of a preset motion."),
    threads: int = typer.Option(1, "--threads", min=1, max=64, help="Torch threads."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output file."),
) -> None:
    """Render the avatar following a motion, seen from a camera, to an H.264 MP4."""
    from avatarforge.errors import UserInputError
    from avatarforge.neural.motion import load_motion
    from avatarforge.neural.render import parse_camera, render_video
    from avatarforge.neural.train import load_avatar
    from avatarforge.util.progress import Stages
    from avatarforge.util.threads import torch_threads

    if out.suffix.lower() != ".mp4":
        raise UserInputError(f"{out}: the output must end in .mp4")
    if out.exists() and not force:
        raise UserInputError(f"{out} exists; pass --force to replace it")
    path = parse_camera(camera)
    with Stages.for_terminal(total=3) as stages, torch_threads(threads):
        with stages.stage("load model"):
            avatar = load_avatar(model)
        with stages.stage("load motion"):
            mot = load_motion(motion, n_frames=frames)
        with stages.stage("render"):
            side = size or avatar.size[0]
            n = render_video(avatar, mot, out, path, (side, side))
    typer.echo(f"wrote {out} ({n} frames at {side}x{side}, {mot.fps:g} fps)")


@neural_app.command("track")
def track_cmd(
    video: Path = typer.Argument(..., help="A video of one person."),
    out: Path = typer.Option(..., "-o", "--out", help="Output MOTION.json."),
    max_frames: int = typer.Option(300, "--max-frames", min=1, help="Frames read at most."),
    step: int = typer.Option(1, "--step", min=1, help="Keep every n-th frame."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output file."),
) -> None:
    """Track a video's body poses into MOTION.json (to drive another person's avatar)."""
    from avatarforge.errors import UserInputError
    from avatarforge.neural.data_video import VideoConfig, motion_from_video
    from avatarforge.neural.motion import save_motion

    if out.exists() and not force:
        raise UserInputError(f"{out} exists; pass --force to replace it")
    mot, skipped = motion_from_video(video, VideoConfig(max_frames=max_frames, step=step))
    for s in skipped:
        typer.echo(f"skipped frame {s['frame']}: {s['reason']}", err=True)
    save_motion(out, mot)
    typer.echo(f"wrote {out} ({len(mot)} frames tracked, {len(skipped)} skipped)")


@neural_app.command("motion")
def motion_cmd(
    preset: str = typer.Argument(..., help="walk, wave, squat, turn or dance."),
    out: Path = typer.Option(..., "-o", "--out", help="Output MOTION.json."),
    frames: int = typer.Option(50, "--frames", min=1, max=10000, help="Frames of one cycle."),
    fps: float = typer.Option(25.0, "--fps", min=1.0, max=240.0, help="Playback rate."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output file."),
) -> None:
    """Write a preset motion as MOTION.json (keypoints of the default body)."""
    from avatarforge.errors import UserInputError
    from avatarforge.neural.motion import MOTION_PRESETS, Motion, keypoints_from_poses, motion_preset, save_motion

    if preset.lower() not in MOTION_PRESETS:
        raise UserInputError(f"unknown motion preset {preset!r}: choose one of {', '.join(MOTION_PRESETS)}")
    if out.exists() and not force:
        raise UserInputError(f"{out} exists; pass --force to replace it")
    save_motion(out, Motion(keypoints_from_poses(motion_preset(preset, frames)), fps))
    typer.echo(f"wrote {out} ({frames} frames)")


def register(app: typer.Typer) -> None:
    if not any(g.name == "neural" for g in app.registered_groups):
        app.add_typer(neural_app, name="neural")
