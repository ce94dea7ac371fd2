"""Garments (issue 14): body vertices outside the garment in covered regions, in the rest poses
and every pose preset, for several body shapes and every garment type.

Two ways per pose preset: the garment **built** on the body in that pose (what the exports
write), and the garment built in the A rest pose then **skinned** to the preset by the body's
own skinning transforms (what an engine does when it animates the avatar). The measure is
:func:`avatarforge.bodies.garments.garment_coverage`: a covered body vertex shows through when
the ray from it along the skin's outward normal meets no garment triangle. Target: <= 0.5 %.

    nice .venv/bin/python benchmarks/bench_garments.py [--out benchmarks/results/garments.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

#: Body shapes (parameter values) and outfits (together every garment type).
BODIES = {
    "default": {},
    "heavy_man": {"gender": 0.0, "weight": 0.9, "muscle": 0.3},
    "slim_woman": {"gender": 1.0, "weight": 0.15},
    "muscular_man": {"gender": 0.0, "muscle": 0.95, "weight": 0.6},
}
OUTFITS = (("tshirt", "trousers", "shoes"), ("longsleeve", "shorts"), ("shirt", "skirt"), ("jacket",), ("dress", "shoes"))


def _lbs(points, idx, w, transforms) -> np.ndarray:
    t = transforms.double().numpy()[idx]  # (V, K, 4, 4)
    blended = np.einsum("vk,vkab->vab", w.astype(np.float64), t)  # v: point, k: influence, ab: matrix
    return np.einsum("vab,vb->va", blended[:, :3, :3], points.astype(np.float64)) + blended[:, :3, 3]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "garments.json")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from avatarforge.bodies import POSE_PRESETS, load_body, pose_preset
    from avatarforge.bodies.garments import build_outfit, garment_coverage

    body = load_body()
    rows, build_s = [], []
    for bname, shape in BODIES.items():
        shape = body.params.validate(shape)
        rest = body.forward_params(body.params.complete(shape))
        for outfit in OUTFITS:
            t0 = time.perf_counter()
            at_rest = build_outfit(rest, outfit)
            build_s.append(time.perf_counter() - t0)
            for pose in POSE_PRESETS:
                posed = body.forward_params(body.params.complete({**shape, **pose_preset(body, pose, shape)}))
                pv, pf = posed.vertices[0].numpy(), posed.faces.numpy()
                built = build_outfit(posed, outfit)
                for g_rest, g_built in zip(at_rest, built):
                    skinned = _lbs(g_rest.vertices, g_rest.skin_indices, g_rest.skin_weights, posed.skinning_transforms[0])
                    row = {"body": bname, "garment": g_rest.name, "pose": pose, "covered_vertices": int(len(g_built.covers)),
                           "showing_built": garment_coverage(pv, pf, [(g_built.vertices, g_built.faces)], g_built.covers),
                           "showing_skinned": garment_coverage(pv, pf, [(skinned.astype(np.float32), g_rest.faces)],
                                                               g_rest.covers)}
                    rows.append(row)
                    print(f"{bname:13s} {g_rest.name:10s} {pose:8s} built {100 * row['showing_built']:.3f} %  "
                          f"skinned {100 * row['showing_skinned']:.3f} %", flush=True)
    worst = max(max(r["showing_built"], r["showing_skinned"]) for r in rows)
    by_garment: dict[str, dict[str, float]] = {}
    for r in rows:  # worst over the bodies and both ways (built, skinned), in percent
        cell = by_garment.setdefault(r["garment"], {})
        cell[r["pose"]] = max(cell.get(r["pose"], 0.0), round(100 * max(r["showing_built"], r["showing_skinned"]), 3))
    summary = {"max_showing_percent": round(100 * worst, 4), "worst_percent_by_garment_and_pose": by_garment, "target_percent": 0.5, "passes": bool(worst <= 0.005),
               "median_outfit_build_seconds": round(float(np.median(build_s)), 3), "cases": len(rows),
               "poses": list(POSE_PRESETS), "bodies": BODIES, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1))
    print(f"worst: {100 * worst:.3f} % of covered body vertices showing (target <= 0.5 %); "
          f"outfit build {summary['median_outfit_build_seconds']} s (median); wrote {args.out}")


if __name__ == "__main__":
    main()
