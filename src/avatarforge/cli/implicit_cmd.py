"""`avatarforge implicit ...`: implicit articulated bodies (SNARF) on a CPU.

    avatarforge implicit synth -o DATA_DIR                       # posed meshes + occupancy labels
    avatarforge implicit train DATA_DIR -o MODEL_DIR [--kind snarf|backward|pose_occupancy]
    avatarforge implicit repose MODEL_DIR --pose t|relaxed|a|POSE.json -o mesh.obj [--res 128]
"""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register", "implicit_app"]

implicit_app = typer.Typer(help="Implicit articulated bodies (SNARF): train from posed meshes, repose, extract meshes.",
                           no_args_is_help=True)


@implicit_app.command("synth")
def synth_cmd(
    out: Path = typer.Option(..., "-o", "--out", help="Output data set folder."),
    train_poses: int = typer.Option(40, "--train-poses", min=1, help="Random training poses (+ 2 presets, 4 walk frames)."),
    within: int = typer.Option(6, "--within-poses", min=1, help="Held-out poses from the training distribution."),
    ood: int = typer.Option(6, "--ood-poses", min=1, help="Out-of-distribution poses (+ 2 squat frames)."),
    points: int = typer.Option(6000, "--points", min=8, help="Labelled points per training pose."),
    eval_points: int = typer.Option(6000, "--eval-points", min=8, help="Labelled points per test pose and set."),
    no_skirt: bool = typer.Option(False, "--no-skirt", help="The bare body, without the rigid skirt."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output folder."),
) -> None:
    """Generate posed meshes of the body model (in a rigid skirt that LBS cannot follow) with
    winding-number occupancy labels, split into training, held-out and out-of-distribution poses."""
    from avatarforge.implicit.data import SynthConfig, make_data, save_data
    from avatarforge.util.atomic import atomic_dir, check_output_dir
    from avatarforge.util.progress import Stages

    check_output_dir(out, force)
    cfg = SynthConfig(n_train=train_poses, n_within=within, n_ood=ood, train_points=points, eval_points=eval_points,
                      skirt=not no_skirt, seed=seed)
    with Stages.for_terminal(total=2) as stages:
        with stages.stage("pose and label"):
            data = make_data(cfg)
        with stages.stage("write"), atomic_dir(out, force) as tmp:
            save_data(tmp, data)
    counts = {k: data.split.count(k) for k in ("train", "within", "ood")}
    typer.echo(f"wrote {out}: {counts} poses, {data.points.shape[1]} points each")


@implicit_app.command("train")
def train_cmd(
    data_dir: Path = typer.Argument(..., help="A data set folder written by `avatarforge implicit synth`."),
    out: Path = typer.Option(..., "-o", "--out", help="Model folder (an existing one is resumed)."),
    kind: str = typer.Option("snarf", "--kind", help="'snarf', or a baseline: 'backward', 'pose_occupancy'."),
    steps: int = typer.Option(1500, "--steps", min=1, help="Optimisation steps (total, including resumed ones)."),
    points: int = typer.Option(2048, "--points-per-step", min=16, help="Labelled points per step."),
    lr: float = typer.Option(3e-3, "--lr", min=1e-6, max=1.0, help="Adam learning rate of the MLPs."),
    skinning: str = typer.Option("voxel", "--skinning", help="SNARF skinning field: 'voxel' or 'mlp'."),
    threads: int = typer.Option(1, "--threads", min=1, max=64, help="Torch threads (1 is fastest on a busy CPU)."),
    force: bool = typer.Option(False, "--force", help="Start again even if the folder holds a checkpoint."),
) -> None:
    """Train on the data set's training poses (BCE on occupancy; resumable: run again to continue,
    --force restarts). Writes config.json, checkpoint.pt and log.jsonl into the model folder."""
    import shutil

    from avatarforge.errors import UserInputError
    from avatarforge.implicit.data import load_data
    from avatarforge.implicit.train import CHECKPOINT, MODEL_KINDS, TrainConfig, train
    from avatarforge.util.progress import Stages

    if kind == "gdna":
        raise UserInputError("--kind gdna is not implemented yet (only SNARF and its baselines): "
                             f"choose one of {', '.join(MODEL_KINDS)}")
    if kind not in MODEL_KINDS:
        raise UserInputError(f"--kind must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
    if skinning not in ("voxel", "mlp"):
        raise UserInputError(f"--skinning must be 'voxel' or 'mlp', got {skinning!r}")
    if not data_dir.is_dir():
        raise UserInputError(f"{data_dir}: no such data set folder (write one with `avatarforge implicit synth -o DIR`)")
    if out.exists() and not out.is_dir():
        raise UserInputError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / CHECKPOINT).is_file() and not force:
        raise UserInputError(f"{out} is not empty and holds no checkpoint; choose another folder or pass --force")
    data = load_data(data_dir)
    if force and out.is_dir():
        shutil.rmtree(out)
    cfg = TrainConfig(kind=kind, steps=steps, points_per_step=points, lr=lr, skinning=skinning, threads=threads,
                      poses_per_step=min(2, points))
    with Stages.for_terminal(total=1) as stages, stages.stage("train"):
        train(data, out, cfg, progress=lambda r: typer.echo(
            f"  step {r['step']}/{steps}: loss {r['loss']:.4f} ({r['seconds']:.0f} s)", err=True))
    typer.echo(f"wrote {out}")


def _read_pose(spec: str) -> dict[str, float]:
    import json

    from avatarforge.bodies import POSE_PRESETS, load_body, pose_preset
    from avatarforge.errors import UserInputError
    from avatarforge.implicit.skinning import MAIN_JOINTS

    if spec.lower() in POSE_PRESETS and not Path(spec).exists():
        return pose_preset(load_body(), spec)
    p = Path(spec)
    if not p.is_file():
        raise UserInputError(f"--pose {spec}: no such file and not a preset ({', '.join(POSE_PRESETS)})")
    try:
        pose = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserInputError(f"{p}: not a JSON pose file ({exc})") from None
    if not isinstance(pose, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                             for v in pose.values()):
        raise UserInputError(f"{p}: a pose is one JSON object {{\"pose.JOINT.AXIS\": degrees, ...}}")
    for k in pose:
        parts = k.split(".")
        joint = ".".join(parts[1:-1])
        if not k.startswith("pose.") or len(parts) < 3:
            raise UserInputError(f"{p}: {k!r} is not a pose parameter (pose.JOINT.AXIS)")
        if joint not in MAIN_JOINTS:
            raise UserInputError(f"{p}: {k!r}: only the main joints can be posed ({', '.join(MAIN_JOINTS)})")
    return {k: float(v) for k, v in pose.items()}


@implicit_app.command("repose")
def repose_cmd(
    model_dir: Path = typer.Argument(..., help="A model folder written by `avatarforge implicit train`."),
    pose: str = typer.Option(..., "--pose", help="A preset (a, t, relaxed) or a JSON file {\"pose.JOINT.AXIS\": deg}."),
    out: Path = typer.Option(..., "-o", "--out", help="Output mesh (.obj, .ply, .stl or .glb)."),
    res: int = typer.Option(128, "--res", min=16, max=512, help="Marching-cubes grid resolution per axis."),
    preview: Path | None = typer.Option(None, "--preview", help="Also write a front/side PNG preview."),
    threads: int = typer.Option(1, "--threads", min=1, max=64, help="Torch threads."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output file."),
) -> None:
    """Pose the learned body and extract its surface by marching cubes."""
    import time

    import torch

    from avatarforge.errors import UserInputError
    from avatarforge.implicit.data import posed_transforms
    from avatarforge.implicit.extract import extract_mesh, posed_box, render_views
    from avatarforge.implicit.train import load_model
    from avatarforge.util.atomic import atomic_path

    if out.suffix.lower() not in (".obj", ".ply", ".stl", ".glb"):
        raise UserInputError(f"{out}: the mesh must be .obj, .ply, .stl or .glb")
    if preview is not None and preview.suffix.lower() != ".png":
        raise UserInputError(f"--preview {preview}: must be a .png")
    for target in (out, preview):
        if target is not None and target.exists() and not force:
            raise UserInputError(f"{target} exists: pass --force to replace it")
    model, _, doc = load_model(model_dir)
    values = _read_pose(pose)
    import numpy as np
    import trimesh

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    T, _ = posed_transforms(values)
    Tt = torch.as_tensor(T, dtype=torch.float32)
    v, f = extract_mesh(lambda x: model(x, Tt), posed_box(np.asarray(doc["bones"]), T), res)
    if len(f) == 0:
        raise UserInputError(f"{model_dir}: the model has no surface in this pose (is it trained?)")
    mesh = trimesh.Trimesh(v, f, process=False)
    with atomic_path(out) as tmp:
        mesh.export(tmp, file_type=out.suffix.lower().lstrip("."))
    if preview is not None:
        from PIL import Image

        with atomic_path(preview) as tmp:
            Image.fromarray(render_views(v, f, 384)).save(tmp, format="PNG")
    typer.echo(f"wrote {out}: {len(v)} vertices, {len(f)} faces ({time.perf_counter() - t0:.1f} s)")


def register(app: typer.Typer) -> None:
    app.add_typer(implicit_app, name="implicit")
