"""gDNA: coverage (COV) and minimum matching distance (MMD) of sampled people against held-out
identities, against trivial baselines; training time; a code fit to a held-out person; pictures.

    nice -n 5 .venv/bin/python benchmarks/bench_gdna.py [--data DIR] [--model DIR] [--out-dir DIR]
        [--skip-train]

``--data`` / ``--model`` reuse (or create) the data set and the model folder (training resumes;
``--skip-train`` evaluates the model folder as it is). Writes benchmarks/results/gdna.json (its
own file; implicit.json keeps SNARF's figures), with the command that made it at the top.

Definitions (Chamfer = symmetric mean nearest-neighbour distance in mm between outer-surface
point sets of the canonical A-pose shapes, 4000 points each): D[i, j] between sample i and
held-out identity j. COV = share of held-out identities that are the nearest held-out identity of
at least one sample; MMD = mean over held-out j of min_i D[i, j]. Compared sets (same count):
``gdna`` (prior samples), ``mean_shape`` (the model's mean code and the mean body size, repeated),
``unclothed_bodies`` (random phenotypes of the body model, no clothes), ``unclothed_same_body_sizes``
(the body model at the gDNA samples' own phenotypes, no clothes: a paired comparison that isolates
what the generated clothing adds), and the reference ``training_identities`` (ground truth of
random training identities). Every set is drawn ``--draws`` times (mean and sd reported): with
16 samples and 12 held-out people one draw is noisy. ``chamfer_floor_mm``: the measure between
two samplings of the same surface.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
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
    ap.add_argument("--draws", type=int, default=3, help="Independent draws of every sample set (mean and sd).")
    ap.add_argument("--res", type=int, default=64)
    ap.add_argument("--fit-res", type=int, default=48, help="Resolution of the posed (root-finding) extractions.")
    ap.add_argument("--fit-steps", type=int, default=80)
    ap.add_argument("--poses", type=int, default=4, help="Poses per training identity (new data sets).")
    ap.add_argument("--rest-points", type=int, default=6000, help="Labelled canonical points per training identity.")
    ap.add_argument("--posed-every", type=int, default=4, help="Posed (search) term every k-th stage-1 step.")
    ap.add_argument("--skip-train", action="store_true", help="Evaluate the model folder as it is (no training).")
    ap.add_argument("--avatar", type=Path, default=None,
                    help="An avatar mesh from `avatarforge create` (A-pose OBJ): fit it, repose it, picture it.")
    args = ap.parse_args()
    command = "nice -n 5 .venv/bin/python benchmarks/bench_gdna.py " + shlex.join(sys.argv[1:])
    load_start = os.getloadavg()
    torch.set_num_threads(1)
    from PIL import Image

    from avatarforge.implicit.extract import chamfer_points_mm, render_row
    from avatarforge.implicit.gdna_data import (
        GdnaSynthConfig, clothed_person, is_gdna_data, load_gdna_data, make_gdna_data, outer_surface_samples,
        phenotype_values, random_phenotype, save_gdna_data,
    )
    from avatarforge.implicit.gdna_train import GdnaTrainConfig, load_gdna, train_gdna
    from avatarforge.implicit.gdna_use import code_prior, drop_floaters, extract_person, fit_codes, identity_codes, \
        interpolate_codes, sample_codes
    from avatarforge.implicit.gdna import Codes

    args.out_dir.mkdir(parents=True, exist_ok=True)
    if not is_gdna_data(args.data):
        args.data.mkdir(parents=True, exist_ok=True)
        save_gdna_data(args.data, make_gdna_data(GdnaSynthConfig(
            n_identities=args.identities, n_held_out=args.held_out, poses_per_identity=args.poses, points=4000,
            surface_points=1500, canonical_points=4000, rest_points=args.rest_points, seed=7)))
    data = load_gdna_data(args.data)
    if args.skip_train:
        model = load_gdna(args.model)
        tcfg = model.train
    else:
        tcfg = GdnaTrainConfig(coarse_steps=args.coarse_steps, detail_steps=args.detail_steps, points_per_step=1024,
                               posed_every=args.posed_every, log_every=50, checkpoint_every=200)
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

    results: dict = {}
    ms, _, md, _ = code_prior(model)
    mean_person = extract_person(model, Codes(ms, md, torch.as_tensor(model.betas.mean(0))), None, args.res)
    mean_set = _surface_points(mean_person.vertices, mean_person.faces, 4000, rng)

    def outer_points(person):
        return outer_surface_samples(rng, person.vertices, person.faces, person.closed_vertices, person.closed_faces,
                                     4000)[0]

    # floor of the measure: two independent samplings of the same (held-out) outer surface
    floor = [chamfer_points_mm(outer_points(clothed_person(data.phenotypes[j], data.outfits[j])),
                               data.canonical_surface[j]) for j in test[:3]]
    results["chamfer_floor_mm"] = float(np.mean(floor))
    scores: dict[str, list[tuple[float, float]]] = {}
    sample_wall = sample_cpu = 0.0
    dropped: list[float] = []
    for draw in range(args.draws):
        t0, c0 = time.perf_counter(), time.process_time()
        codes = sample_codes(model, n, seed=draw)
        raw = [extract_person(model, c, None, args.res, min_component=0) for c in codes]
        people_draw = [drop_floaters(p) for p in raw]
        sample_wall += time.perf_counter() - t0
        sample_cpu += time.process_time() - c0
        if draw == 0:
            people = people_draw
        dropped += [1 - len(p.faces) / max(len(r.faces), 1) for p, r in zip(people_draw, raw)]
        # unclothed bodies: independent random phenotypes, and the samples' own body sizes (paired)
        bare_draw = [clothed_person(random_phenotype(rng), ()) for _ in range(n)]
        paired = [clothed_person(phenotype_values(c.beta.numpy()), ()) for c in codes]
        if draw == 0:
            bare = bare_draw
        sets = {"gdna": [_surface_points(p.vertices, p.faces, 4000, rng) for p in people_draw],
                "gdna_with_floaters": [_surface_points(p.vertices, p.faces, 4000, rng) for p in raw],
                "mean_shape": [mean_set] * n,
                "unclothed_bodies": [outer_points(p) for p in bare_draw],
                "unclothed_same_body_sizes": [outer_points(p) for p in paired],
                "training_identities": [data.canonical_surface[train_ids[k]]
                                        for k in rng.permutation(len(train_ids))[:n]]}
        for name, pts in sets.items():
            scores.setdefault(name, []).append(cov_mmd(matrix(pts)))
        print(f"draw {draw}: " + ", ".join(f"{k} {100 * v[-1][0]:.0f}%/{v[-1][1]:.1f}" for k, v in scores.items()),
              flush=True)
    sample_wall, sample_cpu = sample_wall / (n * args.draws), sample_cpu / (n * args.draws)
    for name, v in scores.items():
        a = np.asarray(v)
        results[name] = {"cov": float(a[:, 0].mean()), "cov_sd": float(a[:, 0].std()), "mmd_mm": float(a[:, 1].mean()),
                         "mmd_sd": float(a[:, 1].std()), "per_draw": a.tolist(), "n_sets": n, "draws": args.draws}
        print(f"{name:26s} COV {100 * a[:, 0].mean():5.1f} ± {100 * a[:, 0].std():4.1f} %  "
              f"MMD {a[:, 1].mean():6.1f} ± {a[:, 1].std():4.1f} mm", flush=True)
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
    avatar_row = None
    if args.avatar is not None:
        import trimesh

        mesh = trimesh.load(args.avatar, force="mesh", process=False)
        av, af = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)
        t1, c1 = time.perf_counter(), time.process_time()
        afit = fit_codes(model, av, af, None, steps=2 * args.fit_steps, detail_steps=args.fit_steps // 2, points=1024)
        a_canon = extract_person(model, afit.codes, None, args.res)
        a_walk = extract_person(model, afit.codes, walk, args.fit_res)
        results["fit_create_avatar"] = {
            "mesh": str(args.avatar), "occupancy_accuracy": afit.accuracy,
            "chamfer_mm_fit": chamfer_points_mm(outer(a_canon), _surface_points(av, af, 4000, rng)),
            "normal_cos": afit.normal_cos[-1] if afit.normal_cos else None,
            "seconds_wall": time.perf_counter() - t1, "seconds_cpu": time.process_time() - c1}
        print(json.dumps(results["fit_create_avatar"]), flush=True)
        avatar_row = [(av, af, None), (a_canon.vertices, a_canon.faces, a_canon.normals),
                      (a_walk.vertices, a_walk.faces, a_walk.normals)]
    results["floaters"] = {"samples_with_floaters": int(sum(d > 0 for d in dropped)),
                           "mean_share_of_triangles_dropped": float(np.mean(dropped))}
    results["train_seconds_wall"] = float(ck.get("elapsed", 0.0))
    results["train_seconds_cpu"] = float(ck.get("cpu_seconds", 0.0))
    results["sample_seconds_per_person_wall"] = sample_wall
    results["sample_seconds_per_person_cpu"] = sample_cpu
    results["config"] = {"identities": len(train_ids), "held_out": len(test), "samples": n, "res": args.res,
                         "coarse_steps": tcfg.coarse_steps, "detail_steps": tcfg.detail_steps,
                         "points_per_step": tcfg.points_per_step, "rest_points_per_step": tcfg.rest_points_per_step,
                         "posed_every": tcfg.posed_every, "poses_per_identity": data.config.poses_per_identity,
                         "rest_points": data.config.rest_points,
                         "note": "timings on 2 CPU cores shared with ~7 other jobs (load averages below)"}
    results["load_average_1_5_15"] = {"bench_start": list(load_start), "bench_end": list(os.getloadavg())}
    results = {"command": command, **results}
    (ROOT / "benchmarks" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "benchmarks" / "results" / "gdna.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    # pictures
    od = args.out_dir
    Image.fromarray(render_row([(p.vertices, p.faces, p.normals) for p in people[:8]], 256)).save(od / "gdna_samples.png")
    Image.fromarray(render_row([(p.vertices, p.faces, None) for p in bare[:8]], 256)).save(od / "gdna_unclothed_baseline.png")
    held_people = [clothed_person(data.phenotypes[i], data.outfits[i]) for i in test[:8]]
    Image.fromarray(render_row([(p.vertices, p.faces, None) for p in held_people], 256)).save(od / "gdna_held_out_truth.png")
    names = [data.names[i] for i in train_ids]
    loose = next((k for k, i in enumerate(train_ids) if {"dress", "skirt"} & set(data.outfits[i])), 0)
    tight = next((k for k, i in enumerate(train_ids) if "trousers" in data.outfits[i]), 1)
    path = interpolate_codes(identity_codes(model, names[loose]), identity_codes(model, names[tight]), 5)
    strip = [extract_person(model, c, None, args.res) for c in path]
    Image.fromarray(render_row([(p.vertices, p.faces, p.normals) for p in strip], 256)).save(od / "gdna_interpolation.png")
    Image.fromarray(render_row([(target.vertices, target.faces, None), (fitted.vertices, fitted.faces, fitted.normals),
                                (reposed.vertices, reposed.faces, reposed.normals),
                                (gt_reposed.vertices, gt_reposed.faces, None)], 256)).save(od / "gdna_fit.png")
    if avatar_row is not None:
        Image.fromarray(render_row(avatar_row, 256)).save(od / "gdna_create_fit.png")
    print(f"wrote {ROOT / 'benchmarks' / 'results' / 'gdna.json'} and pictures in {od}")


if __name__ == "__main__":
    main()
