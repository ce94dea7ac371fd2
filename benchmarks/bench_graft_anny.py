"""The thesis's graft on stand-in meshes (no licensed file needed): Anny plays both models.

The "reconstructed head" is Anny's head region with head-only local changes (wider head,
jaw, chin, nose), expressed in a different frame (rotated 8 deg, moved 4 cm, scaled 1.04) like
FLAME's frame differs from SMPL-X's; the "body" is the neutral Anny. The graft (Adam similarity
alignment + offsets + harmonic neck blending) must reproduce the Anny body that has those
local changes (the ground truth). Prints the alignment RMS, the head error vs the ground truth
and the seam (largest edge-vector change at the region boundary) with and without blending;
with --out DIR writes graft_anny.png (neutral | graft without blending | with | ground truth).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_graft_anny.py --out /tmp/graft
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

CHANGES = {"head-scale-horiz-incr": 1.0, "chin-jaw-drop-incr": 0.8, "chin-prominent-incr": 1.0,
           "nose-scale-horiz-incr": 1.0, "head-trans-forward": 0.6, "forehead-trans-forward": 0.8}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    from scipy.spatial.transform import Rotation

    from avatarforge.bodies import load_body
    from avatarforge.bodies.head_mesh import HEAD_BONES
    from avatarforge.research.graft import HeadOffsets, Similarity, graft_offsets, ring_distance

    torch.set_num_threads(1)
    body = load_body()
    changes = {k: v for k, v in CHANGES.items() if k in body.params}
    neutral = body.forward_params({}).rest_vertices[0].double().numpy()
    truth = body.forward_params(changes).rest_vertices[0].double().numpy()
    faces = body.faces.numpy()
    w, idx = body.skin_weights.numpy(), body.skin_indices.numpy()
    dominant = idx[np.arange(len(idx)), w.argmax(1)]
    ids = np.flatnonzero(np.isin(dominant, [body.joint_names.index(b) for b in HEAD_BONES]))
    frame = Similarity(Rotation.from_rotvec([0.05, 0.12, -0.04]).as_matrix(), np.array([0.02, -1.5, 0.03]), 1.04)
    head = HeadOffsets(frame.apply(neutral[ids]), frame.apply(truth[ids]), np.zeros((len(ids), 3)), np.zeros(3))

    t = time.perf_counter()
    res = graft_offsets(neutral, faces, ids, head, band_m=0.05, blend_rings=3)
    seconds = time.perf_counter() - t
    raw = np.zeros_like(neutral)
    raw[ids] = res.alignment.apply_vector(head.identity - head.neutral)
    grafted, naive = neutral + res.identity, neutral + raw

    ring = ring_distance(faces, len(neutral), ids, 1)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    seam = edges[(ring[edges[:, 0]] == 1) ^ (ring[edges[:, 1]] == 1)]  # edges crossing the boundary ring

    def seam_mm(v):  # largest change of an edge vector across the seam vs the ground truth, mm
        d = (v[seam[:, 0]] - v[seam[:, 1]]) - (truth[seam[:, 0]] - truth[seam[:, 1]])
        return float(np.linalg.norm(d, axis=1).max() * 1000)

    inner = ids[ring_distance(faces, len(neutral), ids, 6)[ids] < 0]
    err = np.linalg.norm(grafted[inner] - truth[inner], axis=1) * 1000
    res_json = {
        "head_vertices": int(len(ids)), "align_rms_mm": round(res.align_rms_m * 1000, 3),
        "alignment_scale": round(res.alignment.scale, 4), "inner_head_error_mm_mean": round(float(err.mean()), 3),
        "inner_head_error_mm_max": round(float(err.max()), 3), "seam_change_mm_naive": round(seam_mm(naive), 3),
        "seam_change_mm_blended": round(seam_mm(grafted), 3), "seconds": round(seconds, 2),
    }
    for k, v in res_json.items():
        print(f"{k:28s} {v}")
    out = Path(__file__).resolve().parent / "results" / "graft_anny.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res_json, indent=1))
    if args.out is not None:
        from PIL import Image

        from avatarforge.render.preview import render_views

        top = neutral[:, 1].max()
        keep = faces[(neutral[faces][:, :, 1] > top - 0.38).all(1)]
        used, sub = np.unique(keep, return_inverse=True)
        sub = sub.reshape(keep.shape)
        tiles = []
        for v in (neutral, naive, grafted, truth):
            tiles += render_views(v[used], sub, size=384, views={"front": 0.0, "side": 60.0})
        args.out.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.concatenate(tiles, axis=1)).save(args.out / "graft_anny.png")
        print(f"wrote {args.out / 'graft_anny.png'}")


if __name__ == "__main__":
    main()
