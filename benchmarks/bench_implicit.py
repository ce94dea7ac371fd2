"""SNARF vs its baselines (template LBS, backward skinning, pose-conditioned occupancy) on held-out
("within") and out-of-distribution ("ood") poses, plus speed figures.

    nice -n 5 .venv/bin/python benchmarks/bench_implicit.py [--steps 800] [--out-dir /tmp/bench_implicit]

Writes benchmarks/results/implicit.json. Metrics per model and split (means over the split's poses):
``iou_bbox`` (points uniform in the posed box), ``iou_surface`` (points within ~1 cm of the
surface), ``iou_garment`` (the near-surface points within 3 cm of the skirt), ``chamfer_mm``
(marching cubes at ``--res`` vs the ground-truth mesh). Every learned model gets the same number
of steps and points per step. Renders go to --out-dir.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def _metrics(data, idx, occ_fn, mesh_fn, eval_points):
    from scipy.spatial import cKDTree

    from avatarforge.implicit.extract import chamfer_mm, iou

    s = data.subject
    out = {"iou_bbox": [], "iou_surface": [], "iou_garment": [], "chamfer_mm": []}
    for p in idx:
        pts, gt = data.points[p, : 2 * eval_points], data.occupancy[p, : 2 * eval_points]
        pred = occ_fn(p, pts)
        box, surf = slice(0, eval_points), slice(eval_points, 2 * eval_points)
        out["iou_bbox"].append(iou(pred[box], gt[box]))
        out["iou_surface"].append(iou(pred[surf], gt[surf]))
        skirt = data.posed_vertices[p, s.n_body_vertices:]
        if len(skirt):
            near = cKDTree(skirt).query(pts[surf])[0] < 0.03
            out["iou_garment"].append(iou(pred[surf][near], gt[surf][near]))
        v, f = mesh_fn(p)
        out["chamfer_mm"].append(chamfer_mm(v, f, data.posed_vertices[p], s.faces, n=10000))
    return {k: round(float(np.mean(v)), 4) for k, v in out.items() if v}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=800, help="training steps of every learned model")
    ap.add_argument("--n-train", type=int, default=40)
    ap.add_argument("--res", type=int, default=64, help="marching-cubes resolution of the Chamfer meshes")
    ap.add_argument("--out-dir", type=Path, default=Path("/tmp/bench_implicit"))
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "implicit.json")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (not for the committed figures)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    from PIL import Image

    from avatarforge.implicit.baselines import lbs_template
    from avatarforge.implicit.data import SynthConfig, load_data, make_data, save_data
    from avatarforge.implicit.extract import extract_mesh, posed_box, render_views
    from avatarforge.implicit.skinning import MLPSkinning
    from avatarforge.implicit.train import TrainConfig, build_model, train
    from avatarforge.implicit.winding import winding_number

    out = a.out_dir
    out.mkdir(parents=True, exist_ok=True)
    scfg = SynthConfig(n_train=a.n_train, n_within=6, n_ood=6, train_points=6000, eval_points=4000)
    if a.quick:
        scfg = SynthConfig(n_train=3, n_within=1, n_ood=1, train_points=1000, eval_points=400)
        a.steps, a.res = 20, 32
    data_dir = out / "data"
    t0 = time.perf_counter()
    if not (data_dir / "meta.json").exists():
        data_dir.mkdir(exist_ok=True)
        save_data(data_dir, make_data(scfg, progress=lambda i, n: print(f"synth {i}/{n}", flush=True)))
    data = load_data(data_dir)
    synth_s = time.perf_counter() - t0
    s = data.subject
    ev = data.config.eval_points
    splits = {k: [i for i, sp in enumerate(data.split) if sp == k] for k in ("train", "within", "ood")}
    T_all = torch.from_numpy(data.transforms).float()

    results: dict = {"steps": a.steps, "n_poses": {k: len(v) for k, v in splits.items()}, "synth_seconds": round(synth_s, 1)}
    models, train_s = {}, {}
    lr = {"snarf": 3e-3, "backward": 3e-3, "pose_occupancy": 3e-3}
    for kind in ("snarf", "backward", "pose_occupancy"):
        mdir = out / f"model_{kind}"
        cfg = TrainConfig(kind=kind, steps=a.steps, lr=lr[kind], log_every=50)
        t = time.perf_counter()
        models[kind] = train(data, mdir, cfg, progress=lambda r, k=kind: print(f"{k} {r}", flush=True))
        train_s[kind] = json.loads((mdir / "log.jsonl").read_text().strip().splitlines()[-1])["seconds"]
        print(kind, "trained in", round(time.perf_counter() - t, 1), "s", flush=True)

    def occ_fn(model):
        def f(p, pts):
            with torch.no_grad():
                return (model(torch.from_numpy(pts).float(), T_all[p]) > 0).numpy()
        return f

    def mesh_fn(model, res):
        def f(p):
            return extract_mesh(lambda x: model(x, T_all[p]), posed_box(s.bones, data.transforms[p]), res)
        return f

    lbs_verts = {p: lbs_template(s.vertices, s.body_weights, data.transforms[p]) for p in range(len(data.split))}
    for name in ("snarf", "lbs", "backward", "pose_occupancy"):
        results[name] = {}
        for split in ("within", "ood"):
            t = time.perf_counter()
            if name == "lbs":
                m = _metrics(data, splits[split], lambda p, pts: winding_number(pts, lbs_verts[p], s.faces) > 0.5,
                             lambda p: (lbs_verts[p], s.faces), ev)
            else:
                m = _metrics(data, splits[split], occ_fn(models[name]), mesh_fn(models[name], a.res), ev)
            results[name][split] = m
            print(name, split, m, f"({time.perf_counter() - t:.0f} s)", flush=True)
        if name in train_s:
            results[name]["train_seconds"] = round(train_s[name], 1)
    results["train_seconds"] = round(train_s["snarf"], 1)

    # one repose + marching cubes at 128^3 (coarse-to-fine)
    snarf = models["snarf"]
    p = splits["ood"][0]
    t = time.perf_counter()
    v128, f128 = extract_mesh(lambda x: snarf(x, T_all[p]), posed_box(s.bones, data.transforms[p]), 32 if a.quick else 128)
    results["repose_seconds"] = round(time.perf_counter() - t, 2)
    results["repose_resolution"] = 32 if a.quick else 128

    # voxel vs MLP skinning field: field evaluation and a full correspondence search
    mlp_snarf = build_model(TrainConfig(skinning="mlp"), s.bones, s.bounds,
                            init=(s.vertices[: s.n_body_vertices], s.body_weights[: s.n_body_vertices]))
    mlp_snarf.occupancy.load_state_dict(snarf.occupancy.state_dict())
    assert isinstance(mlp_snarf.skinning, MLPSkinning)
    x = torch.from_numpy(data.points[splits["within"][0], :4096]).float()
    Tp = T_all[splits["within"][0]]
    speed = {}
    with torch.no_grad():
        lo, hi = torch.as_tensor(s.bounds, dtype=torch.float32)
        xc = lo + (hi - lo) * torch.rand(100_000, 3)
        for label, fieldm in (("voxel", snarf), ("mlp", mlp_snarf)):
            fieldm.skinning(xc[:1000])
            t = time.perf_counter()
            for _ in range(3):
                fieldm.skinning(xc)
            speed[f"{label}_field_ms_per_100k"] = round((time.perf_counter() - t) / 3 * 1000, 1)
            t = time.perf_counter()
            corr = fieldm.search(x, Tp)
            speed[f"{label}_search_s_4096pts"] = round(time.perf_counter() - t, 3)
            speed[f"{label}_converged_fraction"] = round(float(corr.valid.any(1).float().mean()), 4)
    speed["field_speedup"] = round(speed["mlp_field_ms_per_100k"] / speed["voxel_field_ms_per_100k"], 1)
    speed["search_speedup"] = round(speed["mlp_search_s_4096pts"] / speed["voxel_search_s_4096pts"], 1)
    results["voxel_skinning"] = speed
    print("speed", speed, "repose", results["repose_seconds"], flush=True)

    # pictures: ground truth and every model in one training, one held-out and one OOD pose
    rows = []
    for p in (splits["train"][0], splits["within"][0], splits["ood"][0], splits["ood"][-1]):
        tiles = [render_views(data.posed_vertices[p], s.faces, 192, (0.6, 0.75, 0.6))]
        tiles.append(render_views(lbs_verts[p], s.faces, 192, (0.75, 0.65, 0.6)))
        for name in ("snarf", "backward", "pose_occupancy"):
            v, f = mesh_fn(models[name], a.res if a.quick else 96)(p)
            tiles.append(render_views(v, f, 192))
        rows.append(np.concatenate(tiles, 1))
    Image.fromarray(np.concatenate(rows, 0)).save(out / "compare_gt_lbs_snarf_backward_poseocc.png")
    Image.fromarray(render_views(v128, f128, 384)).save(out / "snarf_ood_128.png")

    results["command"] = "nice -n 5 .venv/bin/python benchmarks/bench_implicit.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    from avatarforge.util.atomic import atomic_write_text

    if not a.quick:
        a.results.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(a.results, json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
