"""Full-body fit against synthetic ground truth.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_body_fit.py [--samples 20] [--seed 2000]
        [--yaw 35] [--known-stature] [--oracle] [--overlays DIR]

Renders the body model in random adult shapes and standing poses (arms, legs, torso and
neck angles within plausible ranges, turned up to --yaw degrees from the camera), in flat
"clothing" colours on a plain background with random focal lengths, camera heights and
lights (512 x 768 px); runs the full pipeline (mediapipe pose on the render, then the fit)
and reports, per sample and overall:

* the mean per-joint 3D error in mm after the best similarity transform (14 joints:
  shoulders, elbows, wrists, hips, knees, ankles, neck, head), next to the same error of
  the average body in its rest A-pose (what the fit starts from);
* the stature error in cm (signed: fitted - true);
* the 2D error in px: the fit's landmarks vs the detections (RMS) and vs the TRUE landmarks
  (mean; the detector's own error is part of it);
* the silhouette IoU against the detector's mask, and the time per detection and per fit.

``--known-stature`` gives the fit the true stature (as a user could); ``--oracle`` replaces
the detector's 2D and 3D landmarks by the truth (what the fit can do with perfect inputs: it
separates the fit's error from the detector's). Seeds differ from the ones the landmark
calibration used (500). Writes benchmarks/results/body_fit_synthetic[_variant].json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path

import numpy as np


def _oracle(body, sample, pose):
    """``pose`` with the truth's landmarks (2D and camera-axes 3D) in place of the detector's."""
    from avatarforge.fitting.body_fit_landmarks import landmark_positions

    pts = landmark_positions(body.forward_params(sample.values))[0].numpy().astype(np.float64)
    cam = pts @ sample.camera.R.T + sample.camera.t
    world = cam - (cam[23] + cam[24]) / 2  # mediapipe's frame: camera axes, hips' midpoint at 0
    return dataclasses.replace(pose, points=sample.camera.project(pts)[:, :2], world=world)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--seed", type=int, default=2000)
    ap.add_argument("--yaw", type=float, default=35.0, help="largest body turn from facing the camera, degrees")
    ap.add_argument("--known-stature", action="store_true", help="give the fit the true stature")
    ap.add_argument("--oracle", action="store_true", help="true landmarks instead of the detector's")
    ap.add_argument("--overlays", type=Path, default=None, help="write render | fit overlay PNGs here")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    from avatarforge.bodies import load_body
    from avatarforge.dev.body_synthetic import (
        EVAL_JOINTS,
        fit_errors,
        random_body_sample,
        render_body_sample,
    )
    from avatarforge.dev.face_synthetic import similarity_error
    from avatarforge.fitting.body_fit import BodyFitConfig, fit_body
    from avatarforge.fitting.body_from_head import stature_m
    from avatarforge.perception.pose import body_visible, detect_pose

    variant = "".join(s for s, on in (("_known_stature", args.known_stature), ("_oracle", args.oracle)) if on)
    out_path = args.out or Path(__file__).parent / "results" / f"body_fit_synthetic{variant}.json"
    body = load_body()
    ids = [body.joint_names.index(j) for j in EVAL_JOINTS]
    rest_joints = body.forward_params({"age": 0.7}).joints[0].numpy().astype(np.float64)
    rng = np.random.default_rng(args.seed)
    rows = []
    for i in range(args.samples):
        values = random_body_sample(body, rng, yaw_deg=args.yaw)
        sample = render_body_sample(body, values, rng)
        t0 = time.perf_counter()
        pose = detect_pose(sample.rgb)
        t1 = time.perf_counter()
        if pose is None or not body_visible(pose):
            rows.append({"sample": i, "detected": pose is not None, "full_body": False})
            print(f"{i:3d} not detected as a full body", flush=True)
            continue
        if args.oracle:
            pose = _oracle(body, sample, pose)
        shape = {k: v for k, v in values.items() if not k.startswith("pose.")}
        true_stature = stature_m(body.forward_params(shape))
        cfg = BodyFitConfig(stature_m=true_stature if args.known_stature else None)
        t2 = time.perf_counter()
        fit = fit_body(pose, None, body, cfg)
        t3 = time.perf_counter()
        err = fit_errors(body, sample, fit)
        body_px = float(np.ptp(sample.camera.project(sample.vertices)[:, 1]))
        baseline = float(similarity_error(rest_joints[ids], sample.joints[ids]).mean() * 1000)
        rows.append({
            "sample": i, "detected": True, "full_body": True, "yaw": round(values["pose.root.y"], 1),
            "joint_mm": err.mean_joint_mm, "joint_mm_per_joint": err.joint_mm.round(1).tolist(),
            "rest_pose_joint_mm": baseline, "stature_true_m": true_stature, "stature_cm": err.stature_cm,
            "rmse_to_detections_px": fit.rmse_px, "error_to_true_landmarks_px": err.landmark_px,
            "body_height_px": body_px, "silhouette_iou": fit.silhouette_iou,
            "detect_s": t1 - t0, "fit_s": t3 - t2,
        })
        r = rows[-1]
        print(f"{i:3d} yaw {r['yaw']:6.1f}  joints {r['joint_mm']:5.1f} mm (rest pose {baseline:5.1f})  stature "
              f"{r['stature_cm']:+6.1f} cm  2D {fit.rmse_px:4.1f} px to detections, {err.landmark_px:4.1f} px to "
              f"truth  IoU {fit.silhouette_iou:.3f}  fit {r['fit_s']:.2f} s", flush=True)
        if args.overlays is not None:
            _overlay(body, sample, fit, args.overlays / f"body_fit_{i:03d}.png")
    ok = [r for r in rows if r.get("full_body")]

    def agg(key, f=lambda v: v):
        vals = [f(r[key]) for r in ok]
        return {"mean": statistics.fmean(vals), "median": statistics.median(vals), "max": max(vals)}

    per_joint = np.mean([r["joint_mm_per_joint"] for r in ok], axis=0)
    summary = {
        "samples": len(rows), "fitted": len(ok), "seed": args.seed, "yaw_deg": args.yaw,
        "known_stature": args.known_stature, "oracle_landmarks": args.oracle,
        "joint_mm": agg("joint_mm"), "rest_pose_joint_mm": agg("rest_pose_joint_mm"),
        "joint_mm_per_joint": dict(zip(EVAL_JOINTS, per_joint.round(1).tolist())),
        "stature_cm": agg("stature_cm"), "stature_abs_cm": agg("stature_cm", abs),
        "rmse_to_detections_px": agg("rmse_to_detections_px"),
        "error_to_true_landmarks_px": agg("error_to_true_landmarks_px"),
        "body_height_px": agg("body_height_px"), "silhouette_iou": agg("silhouette_iou"),
        "detect_s": agg("detect_s"), "fit_s": agg("fit_s"),
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    print(f"\n{len(ok)}/{len(rows)} fitted | joints {summary['joint_mm']['mean']:.1f} mm mean, "
          f"{summary['joint_mm']['median']:.1f} median (rest pose {summary['rest_pose_joint_mm']['mean']:.1f}) | "
          f"stature |error| {summary['stature_abs_cm']['mean']:.1f} cm mean (signed {summary['stature_cm']['mean']:+.1f}) | "
          f"2D {summary['rmse_to_detections_px']['mean']:.1f} px to detections, "
          f"{summary['error_to_true_landmarks_px']['mean']:.1f} px to truth (bodies ~"
          f"{summary['body_height_px']['mean']:.0f} px tall) | IoU {summary['silhouette_iou']['mean']:.3f} | "
          f"detect {summary['detect_s']['mean']:.2f} s, fit {summary['fit_s']['mean']:.2f} s")
    print("per joint (mm):", ", ".join(f"{k} {v:.0f}" for k, v in summary["joint_mm_per_joint"].items()))
    print(f"wrote {out_path}")


def _overlay(body, sample, fit, path: Path) -> None:
    import cv2
    from PIL import Image

    from avatarforge.render.overlay import overlay_mesh

    out = body.forward_params(fit.values)
    img = overlay_mesh(sample.rgb, out.vertices[0].numpy(), out.faces.numpy(), fit.camera)
    for (x, y), colour, r in ((p, (40, 220, 60), 3) for p in fit.detected):
        cv2.circle(img, (int(x), int(y)), r, colour, -1)
    for x, y in fit.landmarks_2d:
        cv2.circle(img, (int(x), int(y)), 2, (235, 40, 40), -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate([sample.rgb, img], 1)).save(path)


if __name__ == "__main__":
    main()
