"""Mesh-guided portrait animation (issue 17): expression transfer from a real face video.

The driver (default /work/photos/video/WolfgangLanger_Pexels.mp4: closing eyes, a wide smile,
a hand over the mouth, head turns) is tracked once (``fitting.face_track``). It drives

* ``cross``: a different real portrait (default pyfeat_single_face.jpg), and
* ``self``: frame 0 of the same video, driven by the rest (self-reenactment).

Per frame, with the face mesh (``perception.face``) on the driver frame and on the output:
eye openness (lid gap / eye width, mean of both eyes), mouth openness (inner-lip gap / mouth
width), head yaw and pitch (``perception.face_metrics``); the Pearson correlation of each
over the frames where both have a face. Also: the one-off fit time, seconds per rendered frame,
the output at pose zero against the input (max abs difference; PSNR), background pixels
(the person mask eroded by 15 px) changed under extreme poses, and the face-region sharpness
(variance of the Laplacian) of the outputs over the input's. Writes
``benchmarks/results/portrait_mesh.json`` and contact sheets (driver | cross | self) in --out.

    .venv/bin/python benchmarks/bench_portrait_mesh.py [--max-frames N] [--step K] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _metrics(rgb: np.ndarray):
    from avatarforge.errors import UserInputError
    from avatarforge.perception.face import face_landmarks

    try:
        p = face_landmarks(rgb).points
    except UserInputError:
        return None
    return _from_points(p)


def _from_points(p: np.ndarray) -> dict:
    from avatarforge.perception.face_metrics import eye_openness, head_pose_angles, mouth_openness

    h = head_pose_angles(p)
    return {"eye": eye_openness(p).mean, "mouth": mouth_openness(p), "yaw": h.yaw, "pitch": h.pitch}


def _pearson(a: list[float], b: list[float]) -> float | None:
    a, b = np.asarray(a), np.asarray(b)
    if len(a) < 3 or a.std() < 1e-9 or b.std() < 1e-9:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _sharpness(rgb: np.ndarray, box: np.ndarray) -> float:
    import cv2

    x0, y0, x1, y1 = (int(v) for v in box)
    g = cv2.cvtColor(np.ascontiguousarray(rgb[max(y0, 0):y1, max(x0, 0):x1, :3]), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(g, cv2.CV_64F).var())


def _static_checks(animator) -> dict:
    """Pose zero, background under extreme poses, sharpness, speed of single renders."""
    import cv2

    from avatarforge.perception.segmentation import person_mask
    from avatarforge.portrait.pose import TalkingPose

    img = animator.image
    zero = animator.render(TalkingPose())
    m = person_mask(np.ascontiguousarray(img[..., :3]))
    bg = None if m is None else cv2.erode((m < 0.5).astype(np.uint8), np.ones((31, 31), np.uint8)).astype(bool)
    extremes = [TalkingPose(head_y=1), TalkingPose(head_y=-1), TalkingPose(head_x=1), TalkingPose(head_x=-1),
                TalkingPose(neck_z=1), TalkingPose(mouth=1), TalkingPose(left_eye=1, right_eye=1)]
    changed_bg, sharp, times = [], [], []
    box = np.concatenate([animator.src_lm.min(0), animator.src_lm.max(0)])
    for p in extremes:
        t = time.perf_counter()
        out = animator.render(p)
        times.append(time.perf_counter() - t)
        if bg is not None:
            changed_bg.append(float((out != img).any(-1)[bg].mean()))
        sharp.append(_sharpness(out, box) / max(_sharpness(img, box), 1e-9))
    return {
        "pose_zero_max_abs_diff": int(np.abs(zero.astype(int) - img).max()),
        "pose_zero_identical": bool(np.array_equal(zero, img)),
        "background_changed_fraction_extreme_poses": changed_bg,
        "background_pixels": None if bg is None else int(bg.sum()),
        "face_sharpness_ratio_extreme_poses": [round(s, 3) for s in sharp],
        "seconds_per_render_extreme_poses": [round(t, 4) for t in times],
        "image_size": list(img.shape[:2][::-1]),
    }


def _drive(name: str, animator, track, frames: list[np.ndarray], indices: list[int]) -> tuple[dict, list]:
    from avatarforge.portrait.mesh_drive import retarget

    poses = retarget(track, animator)
    drv, res, times, outs = [], [], [], []
    for i in indices:
        t = time.perf_counter()
        out = animator.render(poses[i])
        times.append(time.perf_counter() - t)
        outs.append(out)
        d = _from_points(track.landmarks[i]) if track.found[i] else None
        o = _metrics(out[..., :3])
        if d is not None and o is not None:
            drv.append(d)
            res.append(o)
    corr = {k: _pearson([d[k] for d in drv], [o[k] for o in res]) for k in ("eye", "mouth", "yaw", "pitch")}
    return {
        "frames_rendered": len(indices), "frames_measured": len(drv),
        "pearson": {k: None if v is None else round(v, 3) for k, v in corr.items()},
        "seconds_per_frame_render": round(float(np.mean(times)), 4),
        "fit_seconds": round(float(animator.fit.seconds), 2),
        "series": {"driver": drv, "output": res},
    }, outs


def _sheet(path: Path, rows: list[list[np.ndarray]], height: int = 240) -> None:
    import cv2
    from PIL import Image

    tiles = []
    for row in rows:
        cells = [cv2.resize(np.ascontiguousarray(c[..., :3]), (max(1, round(c.shape[1] * height / c.shape[0])), height),
                            interpolation=cv2.INTER_AREA) for c in row]
        tiles.append(np.concatenate(cells, 1))
    w = max(t.shape[1] for t in tiles)
    tiles = [np.pad(t, ((0, 0), (0, w - t.shape[1]), (0, 0))) for t in tiles]
    Image.fromarray(np.concatenate(tiles, 0)).save(path)


def main() -> None:
    import torch

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", default="/work/photos/video/WolfgangLanger_Pexels.mp4")
    ap.add_argument("--photo", default="/work/photos/appearance/pyfeat_single_face.jpg")
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--step", type=int, default=3, help="Render and measure every K-th frame (all are tracked).")
    ap.add_argument("--out", default="/work/out-portrait/bench")
    ap.add_argument("--json", default=str(ROOT / "benchmarks/results/portrait_mesh.json"))
    args = ap.parse_args()

    from avatarforge.bodies import load_body
    from avatarforge.fitting.face_track import track_face_video
    from avatarforge.perception.image_io import load_image
    from avatarforge.portrait.mesh_animator import MeshAnimator
    from avatarforge.util.video import read_frames

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    body = load_body()
    t = time.perf_counter()
    track = track_face_video(args.video, body, max_frames=args.max_frames)
    track_seconds = time.perf_counter() - t
    frames = list(read_frames(args.video, max_frames=args.max_frames))
    indices = list(range(0, len(frames), args.step))

    result = {"video": Path(args.video).name, "photo": Path(args.photo).name, "frames": len(frames),
              "step": args.step, "tracked_frames": int(track.found.sum()),
              "tracking": {"first_fit_seconds": round(track.fit_seconds, 2),
                           "seconds_per_frame": round(track.seconds_per_frame, 4),
                           "total_seconds": round(track_seconds, 1)}}
    sheets = {}
    for name, image in (("cross", load_image(args.photo).rgb), ("self", frames[0])):
        animator = MeshAnimator.from_image(image, body)
        result[name] = {"static": _static_checks(animator)}
        drive, outs = _drive(name, animator, track, frames, indices)
        result[name].update(drive)
        sheets[name] = outs
        print(name, json.dumps({k: v for k, v in result[name].items() if k != "series"}))
    pick = np.linspace(0, len(indices) - 1, 10).round().astype(int)
    _sheet(out_dir / "portrait_mesh_sheet.png",
           [[frames[indices[k]], sheets["cross"][k], sheets["self"][k]] for k in pick])
    result["contact_sheet"] = str(out_dir / "portrait_mesh_sheet.png")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=1))
    print("wrote", args.json)


if __name__ == "__main__":
    main()
