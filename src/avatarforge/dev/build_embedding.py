"""Regenerate ``data/anny_landmarks.npz``: the MediaPipe-478 and iBUG-68 embeddings on Anny.

    python -m avatarforge.dev.build_embedding [--identities 24] [--seed 0] [-o PATH]

Method: render the model's own face (plain Lambert shading, varied identities, skin tones,
lights and small head turns), run the bundled face mesh on each render, back-project every
landmark through the rasteriser (pixel -> triangle + barycentrics), carry that surface point
to the reference body (same topology), take the per-landmark median over all renders, and
snap it to the closest point of the reference face surface. Face-contour landmarks use only
the frontal renders (off-frontal they slide along the cheek). Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from avatarforge.bodies.head_mesh import HEAD_BONES, closest_surface_point, head_faces
from avatarforge.fitting.ibug68 import IBUG68_FROM_MP

__all__ = ["build", "face_camera", "HEAD_BONES", "head_faces", "closest_surface_point"]  # the last 3 re-exported

VIEWS = ((0.0, 0.0), (0.0, -12.0), (0.0, 12.0), (-10.0, 0.0), (8.0, 0.0))  # (pitch, yaw) degrees
def face_camera(out, joint_names, size: int, distance: float = 0.6):
    """A perspective camera in front of the face (30 degree field of view)."""
    from avatarforge.render import Camera

    j = out.joints[0].numpy()
    eyes = (j[joint_names.index("eye.L")] + j[joint_names.index("eye.R")]) / 2
    target = eyes + np.array([0.0, -0.035, 0.0])
    return Camera.look_at(target + np.array([0.0, 0.0, distance]), target, width=size, height=size, fov_y_deg=30.0)


def _random_identity(body, rng: np.random.Generator) -> dict[str, float]:
    values = {
        "gender": rng.uniform(0, 1), "age": rng.uniform(0.5, 0.95), "weight": rng.uniform(0.25, 0.75),
        "muscle": rng.uniform(0.25, 0.75), "proportions": rng.uniform(0.2, 0.8),
    }
    for s in body.params:
        if s.group == "local" and s.region in ("face", "head"):
            values[s.name] = float(np.clip(rng.normal(0, 0.25), -1, 1))
    return values


def build(identities: int = 24, seed: int = 0, size: int = 512, progress=None) -> dict[str, np.ndarray]:
    from avatarforge.bodies import load_body
    from avatarforge.perception.face import face_landmarks
    from avatarforge.perception.landmark_groups import OVAL
    from avatarforge.render import rasterize, render_mesh

    body = load_body()
    oval = frozenset(OVAL)
    rng = np.random.default_rng(seed)
    ref = body.forward_params({})
    faces = ref.faces.numpy()
    ref_v = ref.vertices[0].numpy().astype(np.float64)
    hits = [[] for _ in range(478)]
    n_renders = n_detected = 0
    for i in range(identities):
        shape = _random_identity(body, rng)
        for pitch, yaw in VIEWS:
            out = body.forward_params({**shape, "pose.head.x": pitch, "pose.head.y": yaw})
            cam = face_camera(out, body.joint_names, size)
            v = out.vertices[0].numpy()
            skin = np.array([0.95, 0.75, 0.62]) * rng.uniform(0.45, 1.0) + rng.uniform(-0.05, 0.05, 3)
            light = np.array([rng.uniform(-0.5, 0.5), rng.uniform(0.0, 0.6), 1.0])
            res = render_mesh(v, faces, cam, base_color=tuple(np.clip(skin, 0, 1)), light_dir=light / np.linalg.norm(light),
                              background=tuple(int(c) for c in rng.integers(0, 80, 3)) + (255,))
            n_renders += 1
            try:
                lm = face_landmarks(res.rgba[..., :3].copy())
            except Exception:  # noqa: BLE001 - a render the detector misses is skipped and counted
                continue
            n_detected += 1
            raster = rasterize(cam.project(v), faces, size, size, perspective=True)
            px = np.clip(lm.points[:, :2].astype(int), 0, size - 1)
            tri = raster.triangle_id[px[:, 1], px[:, 0]]
            bary = raster.bary[px[:, 1], px[:, 0]]
            frontal = pitch == 0.0 and yaw == 0.0
            for k in range(478):
                if tri[k] < 0 or (k in oval and not frontal):
                    continue
                hits[k].append(bary[k] @ ref_v[faces[tri[k]]])
        if progress:
            progress(i + 1, identities)
    if min(len(h) for h in hits) == 0:
        missing = [k for k, h in enumerate(hits) if not h]
        raise RuntimeError(f"landmarks never back-projected: {missing[:20]}")

    medians = np.stack([np.median(np.stack(h), 0) for h in hits])
    spread = np.array([1000 * np.median(np.linalg.norm(np.stack(h) - m, axis=1)) for h, m in zip(hits, medians)])
    head = head_faces(body, faces)

    def snap(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return closest_surface_point(ref_v, faces[head], points, head)

    mp_tri, mp_bary = snap(medians)
    ib_points = np.stack([medians[list(ids)].mean(0) for ids in IBUG68_FROM_MP])
    ib_tri, ib_bary = snap(ib_points)
    ib_spread = np.array([spread[list(ids)].mean() for ids in IBUG68_FROM_MP])
    return {
        "mediapipe478_triangles": mp_tri.astype(np.int32), "mediapipe478_bary": mp_bary.astype(np.float32),
        "mediapipe478_spread_mm": spread.astype(np.float32),
        "ibug68_triangles": ib_tri.astype(np.int32), "ibug68_bary": ib_bary.astype(np.float32),
        "ibug68_spread_mm": ib_spread.astype(np.float32),
        # The embedded landmarks on the reference body (metres; x = body's left, y up,
        # z out of the face): a canonical 3D face for head-pose estimation.
        "mediapipe478_reference": np.einsum("lk,lkc->lc", mp_bary, ref_v[faces[mp_tri]]).astype(np.float32),
        "renders": np.int32(n_renders), "detected": np.int32(n_detected), "seed": np.int32(seed),
    }




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--identities", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--out", type=Path,
                    default=Path(__file__).resolve().parent.parent / "data" / "anny_landmarks.npz")
    args = ap.parse_args()
    start = time.perf_counter()
    data = build(args.identities, args.seed, progress=lambda i, n: print(f"identity {i}/{n}", flush=True))
    np.savez_compressed(args.out, **data)
    print(f"wrote {args.out}: {int(data['detected'])}/{int(data['renders'])} renders detected, "
          f"median spread {np.median(data['mediapipe478_spread_mm']):.2f} mm, {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
