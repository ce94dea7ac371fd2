"""`avatarforge implicit ...`: implicit articulated bodies (SNARF, gDNA) on a CPU.

    avatarforge implicit synth -o DATA_DIR [--identities N]      # posed meshes + occupancy labels
    avatarforge implicit train DATA_DIR -o MODEL_DIR [--kind snarf|backward|pose_occupancy|gdna]
    avatarforge implicit repose MODEL_DIR --pose t|relaxed|a|POSE.json -o mesh.obj [--res 128]
    avatarforge implicit sample GDNA_MODEL -n 8 -o DIR [--pose P] [--interpolate A B --steps 5]
    avatarforge implicit fit GDNA_MODEL MESH.obj -o DIR [--mesh-pose P] [--pose P]
"""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register", "implicit_app"]

implicit_app = typer.Typer(help="Implicit articulated bodies (SNARF, gDNA): train from posed meshes, repose, sample, fit.",
                           no_args_is_help=True)


@implicit_app.command("synth")
def synth_cmd(
    out: Path = typer.Option(..., "-o", "--out", help="Output data set folder."),
    train_poses: int = typer.Option(40, "--train-poses", min=1, help="Random training poses (+ 2 presets, 4 walk frames)."),
    within: int = typer.Option(6, "--within-poses", min=1, help="Held-out poses from the training distribution."),
    ood: int = typer.Option(6, "--ood-poses", min=1, help="Out-of-distribution poses (+ 2 squat frames)."),
    points: int | None = typer.Option(None, "--points", min=8,
                                      help="Labelled points per training pose (default 6000; gDNA: 3000)."),
    eval_points: int = typer.Option(6000, "--eval-points", min=8, help="Labelled points per test pose and set."),
    no_skirt: bool = typer.Option(False, "--no-skirt", help="The bare body, without the rigid skirt."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    identities: int = typer.Option(0, "--identities", min=0,
                                   help="gDNA data: this many training identities (phenotype x outfit); 0 = SNARF data."),
    held_out: int = typer.Option(4, "--held-out", min=0, help="gDNA: held-out identities (canonical surface only)."),
    poses: int = typer.Option(3, "--poses", min=1, help="gDNA: poses per identity (A-pose, a preset, random)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output folder."),
) -> None:
    """Generate posed meshes of the body model (in a rigid skirt that LBS cannot follow) with
    winding-number occupancy labels, split into training, held-out and out-of-distribution poses.
    With --identities N: many clothed people (random phenotypes x outfits x poses) for gDNA."""
    from avatarforge.implicit.data import SynthConfig, make_data, save_data
    from avatarforge.util.atomic import atomic_dir, check_output_dir
    from avatarforge.util.progress import Stages

    check_output_dir(out, force)
    if identities:
        from avatarforge.implicit.gdna_data import GdnaSynthConfig, make_gdna_data, save_gdna_data

        gcfg = GdnaSynthConfig(n_identities=identities, n_held_out=held_out, poses_per_identity=poses,
                               points=points or 3000, seed=seed)
        with Stages.for_terminal(total=2) as stages:
            with stages.stage("dress, pose and label"):
                gdata = make_gdna_data(gcfg, progress=lambda i, n: typer.echo(f"  {i}/{n} people", err=True))
            with stages.stage("write"), atomic_dir(out, force) as tmp:
                save_gdna_data(tmp, gdata)
        typer.echo(f"wrote {out}: {identities} training identities ({len(gdata.sample_identity)} posed samples), "
                   f"{held_out} held out")
        return
    points = points or 6000
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
    kind: str = typer.Option("snarf", "--kind",
                             help="'snarf', a baseline ('backward', 'pose_occupancy'), or 'gdna' (multi-identity data)."),
    steps: int | None = typer.Option(None, "--steps", min=1,
                                     help="Optimisation steps, total incl. resumed ones (default 1500; gDNA coarse: 300)."),
    detail_steps: int = typer.Option(100, "--detail-steps", min=0, help="gDNA: stage-2 (normals) steps."),
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

    from avatarforge.implicit.gdna_data import is_gdna_data

    if kind not in (*MODEL_KINDS, "gdna"):
        raise UserInputError(f"--kind must be one of {', '.join(MODEL_KINDS)}, gdna; got {kind!r}")
    if skinning not in ("voxel", "mlp"):
        raise UserInputError(f"--skinning must be 'voxel' or 'mlp', got {skinning!r}")
    if not data_dir.is_dir():
        raise UserInputError(f"{data_dir}: no such data set folder (write one with `avatarforge implicit synth -o DIR`)")
    if out.exists() and not out.is_dir():
        raise UserInputError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / CHECKPOINT).is_file() and not force:
        raise UserInputError(f"{out} is not empty and holds no checkpoint; choose another folder or pass --force")
    if (kind == "gdna") != is_gdna_data(data_dir):
        raise UserInputError(f"{data_dir}: --kind gdna needs a gDNA data set (`implicit synth --identities N`) and "
                             "the other kinds a single-subject one (`implicit synth` without --identities)")
    if kind == "gdna":
        _train_gdna(data_dir, out, steps or 300, detail_steps, points, lr, threads, force)
        return
    data = load_data(data_dir)
    if force and out.is_dir():
        shutil.rmtree(out)
    steps = steps or 1500
    cfg = TrainConfig(kind=kind, steps=steps, points_per_step=points, lr=lr, skinning=skinning, threads=threads,
                      poses_per_step=min(2, points))
    with Stages.for_terminal(total=1) as stages, stages.stage("train"):
        train(data, out, cfg, progress=lambda r: typer.echo(
            f"  step {r['step']}/{steps}: loss {r['loss']:.4f} ({r['seconds']:.0f} s)", err=True))
    typer.echo(f"wrote {out}")


def _train_gdna(data_dir: Path, out: Path, steps: int, detail_steps: int, points: int, lr: float, threads: int,
                force: bool) -> None:
    import shutil

    from avatarforge.implicit.gdna_data import load_gdna_data
    from avatarforge.implicit.gdna_train import GdnaTrainConfig, train_gdna
    from avatarforge.util.progress import Stages

    data = load_gdna_data(data_dir)
    if force and out.is_dir():
        shutil.rmtree(out)
    tcfg = GdnaTrainConfig(coarse_steps=steps, detail_steps=detail_steps, points_per_step=points, lr=lr,
                           threads=threads)
    total = steps + detail_steps

    def show(r: dict) -> None:
        names = (("bce_rest", "canonical BCE {:.4f}"), ("bce", "posed BCE {:.4f}"), ("warp_cm2", "warp {:.2f} cm^2"),
                 ("normal_cos", "normal cosine {:.3f}"))
        what = ", ".join(fmt.format(r[k]) for k, fmt in names if k in r)
        typer.echo(f"  step {r['step']}/{total} (stage {r['stage']}): {what} ({r['seconds']:.0f} s)", err=True)

    with Stages.for_terminal(total=1) as stages, stages.stage("train gDNA"):
        train_gdna(data, out, tcfg=tcfg, progress=show)
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
    from avatarforge.implicit.gdna_train import is_gdna_model

    if is_gdna_model(model_dir):
        raise UserInputError(f"{model_dir} is a gDNA model: pose its people with `implicit sample --pose` "
                             "or `implicit fit --pose`")
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


def _write_people(out: Path, force: bool, people: list, names: list[str], extra: dict) -> None:
    """OBJ meshes (with the detail normals) + preview.png + codes.json into the folder ``out``."""
    import json

    import trimesh
    from PIL import Image

    from avatarforge.implicit.extract import render_row
    from avatarforge.util.atomic import atomic_dir

    with atomic_dir(out, force) as tmp:
        for name, p in zip(names, people):
            mesh = trimesh.Trimesh(p.vertices, p.faces, vertex_normals=p.normals, process=False)
            mesh.export(tmp / f"{name}.obj", file_type="obj")
        Image.fromarray(render_row([(p.vertices, p.faces, p.normals) for p in people], 256)).save(tmp / "preview.png")
        (tmp / "codes.json").write_text(json.dumps(extra, indent=1), encoding="utf-8")


def _codes_doc(c) -> dict:
    from avatarforge.implicit.gdna_data import phenotype_values

    return {"z_shape": c.z_shape.tolist(), "z_detail": c.z_detail.tolist(), "phenotype": phenotype_values(c.beta.numpy())}


@implicit_app.command("sample")
def sample_cmd(
    model_dir: Path = typer.Argument(..., help="A gDNA model folder (`implicit train --kind gdna`)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder (OBJ meshes, preview.png, codes.json)."),
    n: int = typer.Option(8, "-n", "--number", min=1, max=64, help="People to sample from the prior."),
    pose: str = typer.Option("a", "--pose", help="A preset (a = canonical, t, relaxed) or a JSON pose file."),
    interpolate: tuple[str, str] | None = typer.Option(
        None, "--interpolate", help="Instead of sampling: interpolate between two training identities (names or "
                                    "indices), or 'sample:K' for the prior's K-th sample."),
    steps: int = typer.Option(5, "--steps", min=2, max=32, help="Interpolation steps, endpoints included."),
    res: int = typer.Option(64, "--res", min=16, max=256, help="Marching-cubes grid resolution per axis."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the prior samples."),
    threads: int = typer.Option(1, "--threads", min=1, max=64, help="Torch threads."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output folder."),
) -> None:
    """New clothed people from a gDNA model's prior (or an interpolation), as meshes in a pose."""
    import torch

    from avatarforge.implicit.gdna_train import load_gdna
    from avatarforge.implicit.gdna_use import extract_person, identity_codes, interpolate_codes, sample_codes
    from avatarforge.util.atomic import check_output_dir

    check_output_dir(out, force)
    model = load_gdna(model_dir)
    values = _read_pose(pose)
    torch.set_num_threads(threads)
    if interpolate is not None:
        def resolve(spec: str):
            if spec.startswith("sample:") and spec[7:].isdigit():
                k = int(spec[7:])
                return sample_codes(model, k + 1, seed)[k]
            return identity_codes(model, spec)

        codes = interpolate_codes(resolve(interpolate[0]), resolve(interpolate[1]), steps)
        names = [f"interp_{i:02d}" for i in range(len(codes))]
    else:
        codes = sample_codes(model, n, seed)
        names = [f"sample_{i:02d}" for i in range(n)]
    people = []
    for i, c in enumerate(codes):
        people.append(extract_person(model, c, values, res))
        typer.echo(f"  {i + 1}/{len(codes)}: {len(people[-1].vertices)} vertices", err=True)
    if any(not len(p.faces) for p in people):
        typer.echo("warning: some codes gave no surface (is the model trained enough?)", err=True)
    _write_people(out, force, people, names, {"pose": values, "people": {k: _codes_doc(c) for k, c in zip(names, codes)}})
    typer.echo(f"wrote {out}: {len(people)} meshes + preview.png")


@implicit_app.command("fit")
def fit_cmd(
    model_dir: Path = typer.Argument(..., help="A gDNA model folder (`implicit train --kind gdna`)."),
    mesh_path: Path = typer.Argument(..., help="A posed person mesh (OBJ/PLY/GLB, metres, y up), e.g. from `create`."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder (fit.obj, reposed.obj, preview.png, codes.json)."),
    mesh_pose: str = typer.Option("a", "--mesh-pose", help="The input mesh's pose: a preset or a JSON pose file."),
    pose: str = typer.Option("relaxed", "--pose", help="The pose to repose the fitted person into."),
    steps: int = typer.Option(150, "--steps", min=1, help="Shape-code optimisation steps."),
    detail_steps: int = typer.Option(50, "--detail-steps", min=0, help="Detail-code optimisation steps."),
    res: int = typer.Option(64, "--res", min=16, max=256, help="Marching-cubes grid resolution per axis."),
    threads: int = typer.Option(1, "--threads", min=1, max=64, help="Torch threads."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output folder."),
) -> None:
    """Fit a gDNA model's latent codes and body size to a posed mesh, then repose the result."""
    import numpy as np
    import torch

    from avatarforge.errors import UserInputError
    from avatarforge.implicit.gdna_train import load_gdna
    from avatarforge.implicit.gdna_use import extract_person, fit_codes
    from avatarforge.util.atomic import check_output_dir

    check_output_dir(out, force)
    model = load_gdna(model_dir)
    v, f = _read_mesh(mesh_path)
    src_pose, dst_pose = _read_pose(mesh_pose), _read_pose(pose)
    torch.set_num_threads(threads)
    total = steps + detail_steps
    every = max(total // 10, 1)
    res_fit = fit_codes(model, v, f, src_pose, steps, detail_steps, progress=lambda i, t: typer.echo(
        f"  step {i}/{t}", err=True) if i % every == 0 or i == t else None)
    people = [extract_person(model, res_fit.codes, src_pose, res), extract_person(model, res_fit.codes, dst_pose, res)]
    if any(not len(p.faces) for p in people):
        raise UserInputError(f"{model_dir}: the fitted codes give no surface (is the model trained?)")
    doc = {"input": str(mesh_path), "mesh_pose": src_pose, "pose": dst_pose, "occupancy_accuracy": res_fit.accuracy,
           "final_bce": res_fit.bce[-1] if res_fit.bce else None,
           "final_normal_cos": res_fit.normal_cos[-1] if res_fit.normal_cos else None,
           "people": {"fit": _codes_doc(res_fit.codes)}}
    _write_people(out, force, people, ["fit", "reposed"], doc)
    typer.echo(f"wrote {out}: fit.obj, reposed.obj (occupancy accuracy {100 * res_fit.accuracy:.1f}%, "
               f"{len(np.unique(f))} input vertices)")


def _read_mesh(path: Path):
    import numpy as np
    import trimesh

    from avatarforge.errors import UserInputError

    if not path.is_file():
        raise UserInputError(f"{path}: no such mesh file")
    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for bad files
        raise UserInputError(f"{path}: not a readable mesh ({exc})") from None
    v, f = np.asarray(getattr(mesh, "vertices", np.zeros((0, 3))), np.float64), np.asarray(
        getattr(mesh, "faces", np.zeros((0, 3))), np.int64)
    if len(f) < 4:
        raise UserInputError(f"{path}: the mesh has no triangles")
    height = float(v[:, 1].max() - v[:, 1].min())
    if not 0.5 < height < 2.5:
        raise UserInputError(f"{path}: {height:.2f} units tall; expected a person in metres with y up")
    return v, f


def register(app: typer.Typer) -> None:
    app.add_typer(implicit_app, name="implicit")
