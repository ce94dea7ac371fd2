"""Face reconstruction against synthetic ground truth.

    .venv/bin/python benchmarks/bench_face_synthetic.py [--samples 50] [--seed 1000]

Renders the body model with random identities, expressions, head poses (|yaw| <= 30 deg),
skin tones, lights, camera distances and focal lengths, runs the full pipeline (face mesh
detection on the render, then the fit) and reports, per sample and over all samples, the
vertex error in mm after similarity alignment over (a) the face region (inside the face
outline) and (b) the whole head, plus the 2D landmark error. Seeds differ from the ones
used to build the landmark embedding. Writes benchmarks/results/face_synthetic.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "face_synthetic.json")
    args = ap.parse_args()

    from avatarforge.bodies import load_body
    from avatarforge.bodies.landmark_embedding import load_embedding
    from avatarforge.dev.face_synthetic import face_region, random_sample, render_sample, similarity_error
    from avatarforge.errors import UserInputError
    from avatarforge.fitting.face_fit import fit_face
    from avatarforge.perception.face import face_landmarks

    body = load_body()
    face_ids, head_ids = face_region(body)
    emb = load_embedding()
    rng = np.random.default_rng(args.seed)
    rows = []
    for i in range(args.samples):
        values = random_sample(body, rng)
        gt, cam, rgb = render_sample(body, values, rng)
        t0 = time.perf_counter()
        try:
            lm = face_landmarks(rgb)
        except UserInputError:
            rows.append({"sample": i, "yaw": values["pose.head.y"], "detected": False})
            continue
        t1 = time.perf_counter()
        fit = fit_face(lm.points, lm.image_size, body)
        t2 = time.perf_counter()
        fv = body.forward_params(fit.values).vertices[0].numpy()
        gv = gt.vertices[0].numpy()
        e_face = similarity_error(fv[face_ids], gv[face_ids]) * 1000
        e_head = similarity_error(fv[head_ids], gv[head_ids]) * 1000
        gt_lm = cam.project(emb.points(gt.vertices, gt.faces.numpy())[0].numpy())[:, :2]
        io = np.linalg.norm(gt_lm[33] - gt_lm[263])
        lm_err = np.linalg.norm(fit.landmarks_2d - gt_lm, axis=1)
        rows.append({
            "sample": i, "yaw": round(values["pose.head.y"], 1), "pitch": round(values["pose.head.x"], 1),
            "detected": True, "face_mean_mm": float(e_face.mean()), "face_median_mm": float(np.median(e_face)),
            "head_mean_mm": float(e_head.mean()), "head_median_mm": float(np.median(e_head)),
            "landmark_px": float(lm_err.mean()), "landmark_nme": float(lm_err.mean() / io),
            "yaw_error_deg": float(fit.values["pose.head.y"] - values["pose.head.y"]),
            "detect_s": t1 - t0, "fit_s": t2 - t1,
        })
        r = rows[-1]
        print(f"{i:3d} yaw {r['yaw']:6.1f}  face median {r['face_median_mm']:.2f} mm  head median "
              f"{r['head_median_mm']:.2f} mm  landmarks {r['landmark_px']:.2f} px  fit {r['fit_s']:.2f} s", flush=True)
    ok = [r for r in rows if r["detected"]]

    def agg(key):
        vals = [r[key] for r in ok]
        return {"mean": statistics.fmean(vals), "median": statistics.median(vals)}

    summary = {
        "samples": len(rows), "detected": len(ok),
        "face_median_mm": agg("face_median_mm"), "face_mean_mm": agg("face_mean_mm"),
        "head_median_mm": agg("head_median_mm"), "head_mean_mm": agg("head_mean_mm"),
        "landmark_px": agg("landmark_px"), "landmark_nme": agg("landmark_nme"),
        "abs_yaw_error_deg": statistics.fmean(abs(r["yaw_error_deg"]) for r in ok),
        "detect_s": agg("detect_s"), "fit_s": agg("fit_s"),
    }
    print(json.dumps(summary, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "rows": rows, "seed": args.seed}, indent=1))


if __name__ == "__main__":
    main()
