"""Mesh-guided portrait animation (issue 17): speed, sharpness, identity, background, look.

One real portrait (default /work/photos/appearance/pyfeat_single_face.jpg) resized to
512x512 is fitted once (fit time reported separately), then posed:

* speed: a sweep of poses (head turns, nods, jaw, blink, gaze mixed), CPU seconds per frame
  (``time.process_time``, all threads) and wall seconds, torch and OpenCV on one thread;
* sharpness: variance of the Laplacian over the face's skin (the face-oval polygon of the
  MediaPipe landmarks detected on each image itself, minus the inner-lip polygon, eroded by
  3 % of the face height), output over input, at the extreme value of each control. Also the
  former measure (the input's landmark bounding box in both images: after a turn it holds
  other content, hair edges and background, so it is not a sharpness measure) and the skin
  measure with bilinear resampling, for comparison; and the skin ratio corrected for the face's
  change of scale (a face shrunk by s raises the variance by 1/s^4 without any artefact: the
  far side of a turned face compresses);
* identity: landmark-shape consistency. MediaPipe's 3D landmarks of the rigid face points
  (``face_metrics.RIGID_IDS``: eye corners, nose, upper face oval; not moved by jaw, lids or
  gaze) on the input and on each output, aligned by a similarity transform (Umeyama); the RMS
  residual over the inter-ocular distance. A rigid head turn leaves it near 0; distortion
  raises it. Reference: the same number between the input and other people's portraits;
* background: pixels of the person mask's complement eroded by 15 px changed under the
  extreme poses; pose zero returns the input bit for bit.

Writes ``benchmarks/results/portrait_mesh_static.json`` and, in --out, a grid of the extreme
values of each control (PNG).

    .venv/bin/python benchmarks/bench_portrait_mesh_static.py [--photo FILE] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = Path("/work/photos/appearance")
OTHERS = ("obama.jpg", "biden.jpg", "tom_hanks.png", "pyfeat_0-f1-su-ph.jpg", "pyfeat_45-m7-di-ph.jpg",
          "faceapi_sample1.jpg")


def _extremes():
    from avatarforge.portrait.mesh_animator import FacePose

    return {"yaw +20": FacePose(head=(0, 20, 0)), "yaw -20": FacePose(head=(0, -20, 0)),
            "pitch +15": FacePose(head=(15, 0, 0)), "pitch -15": FacePose(head=(-15, 0, 0)),
            "roll +15": FacePose(head=(0, 0, 15)), "roll -15": FacePose(head=(0, 0, -15)),
            "jaw open": FacePose(actions={"jawOpen": 0.7}),
            "blink": FacePose(actions={"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}),
            "smile": FacePose(actions={"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0}),
            "gaze left": FacePose(gaze=(0, 20)), "gaze down": FacePose(gaze=(15, 0))}


def _landmarks(rgb):
    from avatarforge.errors import UserInputError
    from avatarforge.perception.face import face_landmarks

    try:
        return face_landmarks(np.ascontiguousarray(rgb[..., :3])).points
    except UserInputError:
        return None


def _skin_sharpness(rgb, pts, area: bool = False):
    import cv2

    from avatarforge.perception import landmark_groups as lg
    from avatarforge.portrait.mesh_fill import polygon_mask

    shape = rgb.shape[:2]
    face = polygon_mask(shape, pts[list(lg.FACE_OVAL), :2])
    inner = list(lg.LIPS_INNER_UPPER) + list(lg.LIPS_INNER_LOWER)[::-1][1:-1]
    face &= ~polygon_mask(shape, pts[inner, :2])
    height = float(np.linalg.norm(pts[lg.FOREHEAD_TOP, :2] - pts[lg.CHIN, :2]))
    r = max(1, int(round(0.03 * height)))
    face = cv2.erode(face.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)).astype(bool)
    g = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY)
    lap = cv2.Laplacian(g, cv2.CV_64F)
    return (float(lap[face].var()), int(face.sum())) if area else float(lap[face].var())


def _box_sharpness(rgb, box) -> float:
    import cv2

    x0, y0, x1, y1 = (int(v) for v in box)
    g = cv2.cvtColor(np.ascontiguousarray(rgb[max(y0, 0):y1, max(x0, 0):x1, :3]), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(g, cv2.CV_64F).var())


def _shape_residual(a, b) -> float:
    """RMS residual of the rigid landmarks after a similarity alignment, over the eye distance."""
    from avatarforge.perception.face_metrics import RIGID_IDS
    from avatarforge.util.geometry import umeyama

    src, dst = a[RIGID_IDS].astype(np.float64), b[RIGID_IDS].astype(np.float64)
    r, t, scale = umeyama(src, dst)
    moved = scale * src @ r.T + t
    iod = float(np.linalg.norm(b[33] - b[263]))
    return float(np.sqrt(((moved - dst) ** 2).sum(1).mean()) / iod)


def _load(path: Path, size: int):
    import cv2

    img = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA) if size else img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photo", type=Path, default=PHOTOS / "pyfeat_single_face.jpg")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--out", type=Path, default=Path("/work/out-portrait/static"))
    args = ap.parse_args()
    import cv2
    import torch

    from avatarforge.perception.segmentation import person_mask
    from avatarforge.portrait.mesh_animator import FacePose, MeshAnimator, MeshAnimatorConfig

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    img = _load(args.photo, args.size)
    person = person_mask(img)
    t_cpu, t_wall = time.process_time(), time.perf_counter()
    anim = MeshAnimator.from_image(img, person=person)
    fit = {"cpu_seconds": round(time.process_time() - t_cpu, 2), "wall_seconds": round(time.perf_counter() - t_wall, 2)}
    zero = anim.render(FacePose())
    rng = np.random.default_rng(0)
    sweep = [FacePose(head=tuple(rng.uniform(-15, 15, 3)), gaze=tuple(rng.uniform(-10, 10, 2)),
                      actions={"jawOpen": float(rng.uniform(0, 0.6)), "eyeBlinkLeft": float(rng.uniform(0, 1)),
                               "eyeBlinkRight": float(rng.uniform(0, 1))}) for _ in range(args.frames)]
    anim.render(sweep[0])  # warm-up (numba kernels, caches)
    cpu, wall = [], []
    for p in sweep:
        c, w = time.process_time(), time.perf_counter()
        anim.render(p)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    lin = MeshAnimator(img, anim.fit, anim.body, MeshAnimatorConfig(interpolation="linear"), person)
    pts_in = _landmarks(img)
    box = np.concatenate([anim.src_lm.min(0), anim.src_lm.max(0)])
    bg = cv2.erode((person < 0.5).astype(np.uint8), np.ones((31, 31), np.uint8)).astype(bool)
    per_pose, tiles = {}, [("input", img)]
    for name, p in _extremes().items():
        out = anim.render(p)
        tiles.append((name, out))
        pts = _landmarks(out)
        err = (out.astype(np.float64) - img.astype(np.float64))[bg]
        mse = float((err**2).mean())
        rec = {"background_changed_fraction": float((out != img).any(-1)[bg].mean()),
               # PSNR over the eroded background (8-bit peak); inf when nothing changed.
               "background_psnr_db": round(10 * np.log10(255.0**2 / mse), 1) if mse > 0 else "inf",
               "sharpness_box_ratio": round(_box_sharpness(out, box) / _box_sharpness(img, box), 3)}
        if pts is not None:
            (v_out, a_out), (v_in, a_in) = _skin_sharpness(out, pts, True), _skin_sharpness(img, pts_in, True)
            rec["sharpness_skin_ratio"] = round(v_out / v_in, 3)
            # A picture shrunk by s has its Laplacian scaled by 1/s^2, its variance by 1/s^4: a
            # turn or nod foreshortens the face (the far side compresses) and raises the ratio
            # without any artefact. Corrected with the skin area's scale s^2 = a_out / a_in.
            rec["sharpness_skin_ratio_scale_corrected"] = round(v_out / v_in * (a_out / a_in) ** 2, 3)
            out_lin = lin.render(p)
            pts_lin = _landmarks(out_lin)
            if pts_lin is not None:
                rec["sharpness_skin_ratio_bilinear"] = round(_skin_sharpness(out_lin, pts_lin) / _skin_sharpness(img, pts_in), 3)
            rec["identity_shape_residual"] = round(_shape_residual(pts, pts_in), 4)
        per_pose[name] = rec
    others = {}
    for name in OTHERS:
        pts = _landmarks(_load(PHOTOS / name, 0)) if (PHOTOS / name).exists() else None
        if pts is not None:
            others[name] = round(_shape_residual(pts, pts_in), 4)
    res = {
        "photo": args.photo.name, "image_size": list(img.shape[:2]), "fit": fit,
        "render": {"frames": len(sweep), "cpu_seconds_per_frame_median": round(float(np.median(cpu)), 4),
                   "cpu_seconds_per_frame_mean": round(float(np.mean(cpu)), 4),
                   "fps_cpu": round(1.0 / float(np.median(cpu)), 1),
                   "wall_seconds_per_frame_median": round(float(np.median(wall)), 4),
                   "note": "CPU time of one thread (torch and OpenCV set to 1); the machine was shared (wall is load-dependent)"},
        "pose_zero_identical": bool(np.array_equal(zero, img)),
        "background_pixels": int(bg.sum()),
        "extremes": per_pose,
        "identity_shape_residual_other_people": others,
    }
    path = ROOT / "benchmarks" / "results" / "portrait_mesh_static.json"
    path.write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps({k: v for k, v in res.items()}, indent=1))
    # the grid: face crops, labelled
    pad = 0.6 * anim.face_height
    x0, y0 = (max(0, int(v - pad)) for v in box[:2])
    x1, y1 = min(img.shape[1], int(box[2] + pad)), min(img.shape[0], int(box[3] + pad))
    crops = []
    for name, im in tiles:
        c = np.ascontiguousarray(im[y0:y1, x0:x1, :3])
        cv2.putText(c, name, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 0), 2)
        crops.append(c)
    while len(crops) % 4:
        crops.append(np.zeros_like(crops[0]))
    grid = np.concatenate([np.concatenate(crops[i:i + 4], 1) for i in range(0, len(crops), 4)], 0)
    cv2.imwrite(str(args.out / "portrait_extremes_grid.png"), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    print("grid:", args.out / "portrait_extremes_grid.png")


if __name__ == "__main__":
    main()
