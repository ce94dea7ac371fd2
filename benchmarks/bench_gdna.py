"""gDNA: coverage (COV) and minimum matching distance (MMD) of sampled people against held-out
identities, against trivial baselines; training time; a code fit to a held-out person; pictures.

    nice -n 5 .venv/bin/python benchmarks/bench_gdna.py [--data DIR] [--model DIR] [--out-dir DIR]

``--data`` / ``--model`` reuse (or create) the data set and the model folder (training resumes).
Writes benchmarks/results/gdna.json (its own file; implicit.json keeps SNARF's figures).

Definitions (Chamfer = symmetric mean nearest-neighbour distance in mm between outer-surface
point sets of the canonical A-pose shapes, 4000 points each): D[i, j] between sample i and
held-out identity j. COV = share of held-out identities that are the nearest held-out identity of
at least one sample; MMD = mean over held-out j of min_i D[i, j]. Compared sets (same count):
``gdna`` (prior samples), ``mean_shape`` (the model's mean code and the mean body size, repeated),
``unclothed_bodies`` (random phenotypes of the body model, no clothes), and the reference
``training_identities`` (ground truth of the training identities themselves).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def cov_mmd(d: np.ndarray) -> tuple[float, float]:
    """(COV, MMD) from the (samples, held-out) Chamfer matrix."""
    return float(len(np.unique(d.argmin(1))) / d.shape[1]), float(d.min(0).mean())


def _surface_points(v, f, n, rng):
    from avatarforge.implicit.data import sample_surface

    return sample_surface(rng, v, f, n)[0] if len(f) else np.zeros((0, 3))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/tmp/bench_gdna/data"))
    ap.add_argument("--model", type=Path, default=Path("/tmp/bench_gdna/model"))
    ap.add_argument("--out-dir", type=Path, default=Path("/tmp/bench_gdna"))
    ap.add_argument("--identities", type=int, default=16)
    ap.add_argument("--held-out", type=int, default=8)
    ap.add_argument("--coarse-steps", type=int, default=600)
    ap.add_argument("--detail-steps", type=int, default=150)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--res", type=int, default=64)
    ap.add_argument("--fit-res", type=int, default=48, help="Resolution of the posed (root-finding) extractions.")
    ap.add_argument("--fit-steps", type=int, default=80)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from PIL import Image

    from avatarforge.implicit.extract import chamfer_points_mm, render_row
    from avatarforge.implicit.gdna_data import (
        GdnaSynthConfig, clothed_person, is_gdna_data, load_gdna_data, make_gdna_data, random_phenotype,
        save_gdna_data,
    )
    from avatarforge.implicit.gdna_train import GdnaTrainConfig, load_gdna, train_gdna
    from avatarforge.implicit.gdna_use import code_prior, extract_person, fit_codes, identity_codes, \
        interpolate_codes, sample_codes
    from avatarforge.implicit.gdna import Codes

    args.out_dir.mkdir(parents=True, exist_ok=True)
    if not is_gdna_data(args.data):
        args.data.mkdir(parents=True, exist_ok=True)
        save_gdna_data(args.data, make_gdna_data(GdnaSynthConfig(
            n_identities=args.identities, n_held_out=args.held_out, poses_per_identity=4, points=4000,
            surface_points=1500, canonical_points=4000, seed=7)))
    data = load_gdna_data(args.data)
    tcfg = GdnaTrainConfig(coarse_steps=args.coarse_steps, detail_steps=args.detail_steps, points_per_step=1024)
    train_gdna(data, args.model, tcfg=tcfg)
    model = load_gdna(args.model)
    ck = torch.load(args.model / "checkpoint.pt", map_location="cpu", weights_only=True)
    rng = np.random.default_rng(0)
    test = [i for i, s in enumerate(data.split) if s == "test"]
    train_ids = [i for i, s in enumerate(data.split) if s == "train"]
    held = [data.canonical_surface[i] for i in test]
    n = args.samples

    def matrix(sets):
        return np.array([[chamfer_points_mm(s, h) for h in held] for s in sets])

    t0, c0 = time.perf_counter(), time.process_time()
    codes = sample_codes(model, n, seed=0)
    people = [extract_person(model, c, None, args.res) for c in codes]
    sample_wall, sample_cpu = (time.perf_counter() - t0) / n, (time.process_time() - c0) / n
    gdna_sets = [_surface_points(p.vertices, p.faces, 4000, rng) for p in people]
    ms, _, md, _ = code_prior(model)
    mean_person = extract_person(model, Codes(ms, md, torch.as_tensor(model.betas.mean(0))), None, args.res)
    mean_set = _surface_points(mean_person.vertices, mean_person.faces, 4000, rng)
    bare = [clothed_person(random_phenotype(rng), ()) for _ in range(n)]
    bare_sets = [_surface_points(p.vertices, p.faces, 4000, rng) for p in bare]
    train_sets = [data.canonical_surface[i] for i in train_ids][:n]
    results: dict = {}
    for name, sets in (("gdna", gdna_sets), ("mean_shape", [mean_set] * n), ("unclothed_bodies", bare_sets),
                       ("training_identities", train_sets)):
        d = matrix(sets)
        cov, mmd = cov_mmd(d)
        results[name] = {"cov": cov, "mmd_mm": mmd, "n_sets": len(sets)}
        print(f"{name:22s} COV {100 * cov:5.1f}%  MMD {mmd:6.1f} mm", flush=True)
    # reconstruction of training identities (their own codes) against their ground truth
    rec = []
    for k in range(min(4, len(train_ids))):
        p = extract_person(model, identity_codes(model, k), None, args.res)
        rec.append(chamfer_points_mm(_surface_points(p.vertices, p.faces, 4000, rng), data.canonical_surface[train_ids[k]]))
    results["train_reconstruction_chamfer_mm"] = float(np.mean(rec))
    print(f"train reconstruction {results['train_reconstruction_chamfer_mm']:.1f} mm", flush=True)
    # fit a held-out person in a non-rest pose, then repose it
    from avatarforge.bodies import load_body, pose_preset

    j = test[0]
    fit_pose = pose_preset(load_body(), "relaxed", data.phenotypes[j])
    target = clothed_person(data.phenotypes[j], data.outfits[j], fit_pose)
    t1 = time.perf_counter()
    fit = fit_codes(model, target.vertices, target.faces, fit_pose, steps=args.fit_steps,
                    detail_steps=args.fit_steps // 4, points=512)
    fit_secs = time.perf_counter() - t1
    fitted = extract_person(model, fit.codes, fit_pose, args.fit_res)
    outer = lambda p: _surface_points(p.vertices, p.faces, 4000, rng)  # noqa: E731
    tgt_pts = _surface_points(target.vertices, target.faces, 4000, rng)
    walk = {"pose.upperleg01.L.x": -30.0, "pose.upperleg01.R.x": 25.0, "pose.lowerleg01.R.x": 40.0,
            "pose.upperarm01.L.z": 50.0, "pose.upperarm01.R.x": 30.0, "pose.lowerarm01.R.x": -60.0}
    reposed = extract_person(model, fit.codes, walk, args.fit_res)
    gt_reposed = clothed_person(data.phenotypes[j], data.outfits[j], walk)
    results["fit_held_out"] = {
        "identity": data.names[j], "outfit": data.outfits[j], "occupancy_accuracy": fit.accuracy,
        "chamfer_mm_fit": chamfer_points_mm(outer(fitted), tgt_pts),
        "chamfer_mm_mean_code_canonical": chamfer_points_mm(mean_set, data.canonical_surface[j]),
        "chamfer_mm_fit_canonical": chamfer_points_mm(
            outer(extract_person(model, fit.codes, None, args.res)), data.canonical_surface[j]),
        "chamfer_mm_reposed_vs_truth": chamfer_points_mm(outer(reposed), outer(gt_reposed)),
        "normal_cos": fit.normal_cos[-1] if fit.normal_cos else None, "seconds": fit_secs}
    print(json.dumps(results["fit_held_out"]), flush=True)
    results["train_seconds_wall"] = float(ck.get("elapsed", 0.0))
    results["train_seconds_cpu"] = float(ck.get("cpu_seconds", 0.0))
    results["sample_seconds_per_person_wall"] = sample_wall
    results["sample_seconds_per_person_cpu"] = sample_cpu
    results["config"] = {"identities": len(train_ids), "held_out": len(test), "samples": n, "res": args.res,
                         "coarse_steps": tcfg.coarse_steps, "detail_steps": tcfg.detail_steps,
                         "points_per_step": tcfg.points_per_step, "poses_per_identity": data.config.poses_per_identity,
                         "note": "timings on 2 shared CPU cores under load from other jobs"}
    (ROOT / "benchmarks" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "benchmarks" / "results" / "gdna.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    # pictures
    od = args.out_dir
    Image.fromarray(render_row([(p.vertices, p.faces, p.normals) for p in people[:8]], 256)).save(od / "gdna_samples.png")
    Image.fromarray(render_row([(p.vertices, p.faces, None) for p in bare[:8]], 256)).save(od / "gdna_unclothed_baseline.png")
    held_people = [clothed_person(data.phenotypes[i], data.outfits[i]) for i in test[:8]]
    Image.fromarray(render_row([(p.vertices, p.faces, None) for p in held_people], 256)).save(od / "gdna_held_out_truth.png")
    path = interpolate_codes(identity_codes(model, 0), identity_codes(model, 1), 5)
    strip = [extract_person(model, c, None, args.res) for c in path]
    Image.fromarray(render_row([(p.vertices, p.faces, p.normals) for p in strip], 256)).save(od / "gdna_interpolation.png")
    Image.fromarray(render_row([(target.vertices, target.faces, None), (fitted.vertices, fitted.faces, fitted.normals),
                                (reposed.vertices, reposed.faces, reposed.normals),
                                (gt_reposed.vertices, gt_reposed.faces, None)], 256)).save(od / "gdna_fit.png")
    print(f"wrote {ROOT / 'benchmarks' / 'results' / 'gdna.json'} and pictures in {od}")


if __name__ == "__main__":
    main()
