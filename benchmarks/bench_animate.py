"""Animation capture figures (issue 22): body IK, body reprojection, expression transfer, speed.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_animate.py [--avatar DIR] [--out DIR]
        [--pose2sim DIR] [--face-video FILE] [--face-step N] [--no-face] [--no-body]

* **body, synthetic** (known poses): the default body in random poses (Anny pose parameters,
  uniform within comfortable ranges); its keypoints are solved back onto the avatar's rest
  skeleton by :func:`animate.ik.solve_body_ik`; MPJPE (pelvis-aligned, all 19 keypoints) and
  mean bone direction error.
* **body, synthetic videos** (known poses, the whole capture path): the default body in a
  procedural outfit moving through a smooth random motion, rendered from two cameras (20 and
  70 degrees off the front) at 512x512; ``capture_animation --body-only`` on each MP4; MPJPE
  and bone direction error after one similarity per clip, against the rest-pose baseline.
* **body, real** (Pose2Sim Demo_SinglePerson, 4 cameras, 100 frames each): ``capture_animation
  --body-only``; the animated avatar's keypoints are mapped onto the tracked 3D keypoints by ONE
  similarity transform per clip (the avatar has its own size; the tracker's world is tilted
  with the camera), projected with the tracker's camera and compared with the tracked 2D
  keypoints: mean pixel error at the tracker's working size (longer side 640) and as a
  fraction of the person's height in the image. Baseline: the avatar standing still in its
  rest pose (same alignment), to show what the IK adds.
* **face** (a real face video, default /work/photos/video/WolfgangLanger_Pexels.mp4): the
  face-only animation; per frame, the face mesh (MediaPipe) on the driver frame and on the
  avatar's head rendered by the CPU renderer: eye openness (mean of both eyes), mouth
  openness, head yaw and pitch (:mod:`perception.face_metrics`); Pearson r between driver
  and avatar over frames where both faces are found.
* **no person** (/work/photos/video/no_face.mp4): must be refused with a one-line error.
* **speed**: seconds per frame of each capture stage (2 shared cores, other jobs running);
  face-only capture after the first frame at 640x480 (the video letterboxed, every frame of
  the first 120), landmarks and solve apart, wall and CPU, with torch at 1 thread and at 2
  (:func:`face_capture_speed`; section ``face_capture_speed``).

Writes benchmarks/results/animate.json; with --out, also the side-by-side MP4s and a few PNG frames.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent
POSE2SIM = Path("/work/photos/pose2sim/Pose2Sim/Demo_SinglePerson/videos")
FACE_VIDEO = Path("/work/photos/video/WolfgangLanger_Pexels.mp4")
NO_PERSON = Path("/work/photos/video/no_face.mp4")

SECTIONS = ("body_synthetic", "body_synthetic_video", "body_pose2sim", "face_transfer", "face_capture_speed", "no_person")

#: pose parameter -> (low, high) degrees of the random synthetic poses
RANGES = {
    "pose.root.y": (-60, 60), "pose.spine03.x": (-15, 25), "pose.spine03.y": (-20, 20), "pose.neck01.x": (-20, 20),
    "pose.upperarm01.L.z": (-30, 60), "pose.upperarm01.R.z": (-60, 30), "pose.upperarm01.L.x": (-80, 40),
    "pose.upperarm01.R.x": (-80, 40), "pose.lowerarm01.L.y": (-90, 0), "pose.lowerarm01.R.y": (0, 90),
    "pose.upperleg01.L.x": (-70, 20), "pose.upperleg01.R.x": (-70, 20), "pose.lowerleg01.L.x": (0, 90),
    "pose.lowerleg01.R.x": (0, 90), "pose.foot.L.x": (-20, 20), "pose.foot.R.x": (-20, 20),
}


def _keypoints(world: np.ndarray, names: list[str]) -> np.ndarray:
    from avatarforge.neural.skeleton import anny_keypoints

    return anny_keypoints(torch.as_tensor(world), names).numpy()


def _pose_errors(got: np.ndarray, truth: np.ndarray, align: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(F, K) pelvis-aligned keypoint errors (metres) and (F, B) bone direction errors (degrees)
    of ``got`` vs ``truth`` (F, K, 3); ``align`` first maps ``got`` onto ``truth`` by one
    similarity transform over all frames."""
    from avatarforge.neural.skeleton import BONES, KEYPOINTS
    from avatarforge.util.geometry import umeyama

    if align:
        r, t, s = umeyama(got.reshape(-1, 3), truth.reshape(-1, 3), scale=True)
        got = s * got @ r.T + t
    pel = KEYPOINTS.index("pelvis")
    err = np.linalg.norm((got - got[:, pel : pel + 1]) - (truth - truth[:, pel : pel + 1]), axis=-1)
    g, t = (np.stack([p[:, b] - p[:, a] for a, b in BONES], 1) for p in (got, truth))
    cos = np.einsum("fbi,fbi->fb", g, t) / np.linalg.norm(g, axis=-1) / np.linalg.norm(t, axis=-1)
    return err, np.degrees(np.arccos(np.clip(cos, -1, 1)))


def body_synthetic(body, n: int = 40, seed: int = 0) -> dict:
    from avatarforge.animate.ik import solve_body_ik
    from avatarforge.animate.rig import pose_rig, rest_keypoints, rig_from_arrays
    from avatarforge.avatar import build_avatar
    from avatarforge.neural.skeleton import KEYPOINTS

    avatar = build_avatar({}, pose="a", body=body)
    mesh = avatar.rigged_mesh()
    rig = rig_from_arrays(mesh.joint_names, mesh.joint_parents, mesh.joint_world, list(range(len(mesh.joint_names))))
    rest = rest_keypoints(rig)
    rng = np.random.default_rng(seed)
    truth = []
    for _ in range(n):
        pose = {k: float(rng.uniform(*r)) for k, r in RANGES.items()}
        out = body.forward_params({**avatar.values, **pose})
        truth.append(_keypoints(out.joints[0].double().numpy(), list(out.joint_names)))
    truth = np.stack(truth)
    ik = solve_body_ik(rig, rest, truth)
    got = _keypoints(pose_rig(rig, ik.deltas, np.zeros((n, 3))).world[..., :3, 3], rig.names)
    err, ang = _pose_errors(got, truth)
    return {"poses": n, "mpjpe_cm": round(float(err.mean() * 100), 2),
            "mpjpe_cm_per_keypoint": {k: round(float(e * 100), 2) for k, e in zip(KEYPOINTS, err.mean(0))},
            "bone_direction_error_deg_mean": round(float(ang.mean()), 2),
            "bone_direction_error_deg_median": round(float(np.median(ang)), 2),
            "frames_with_a_clamped_joint": int((ik.clamped > 0).sum())}


def _reprojection(anim) -> dict:
    """Mean 2D error of the animated avatar's keypoints vs the tracked ones (see the docstring)."""
    from avatarforge.animate.rig import pose_rig
    from avatarforge.util.geometry import umeyama

    track = anim.track
    idx = track.frame_index
    names = anim.rig.names

    def err_for(world: np.ndarray) -> tuple[float, float]:
        kp = _keypoints(world[idx][..., :3, 3], names)  # (T, K, 3)
        r, t, s = umeyama(kp.reshape(-1, 3), track.joints.reshape(-1, 3), scale=True)
        mapped = s * kp @ r.T + t
        uv = track.camera.project(mapped.reshape(-1, 3))[:, :2].reshape(len(idx), -1, 2)
        e = np.linalg.norm(uv - track.points, axis=-1)
        height = np.median(np.ptp(track.points[..., 1], axis=1))
        return float(e.mean()), float(e.mean() / height)

    px, frac = err_for(anim.posed.world)
    still = pose_rig(anim.rig, np.broadcast_to(np.eye(3), anim.deltas.shape).copy(), anim.root_translation)
    px0, frac0 = err_for(still.world)
    return {"frames": int(anim.n_frames), "tracked": int(len(idx)), "reprojection_px": round(px, 2),
            "reprojection_fraction_of_height": round(frac, 4), "rest_pose_baseline_px": round(px0, 2),
            "rest_pose_baseline_fraction_of_height": round(frac0, 4)}


def body_synthetic_video(avatar: Path, body, n_frames: int = 100, seed: int = 7, out: Path | None = None) -> dict:
    """The whole capture path on rendered videos with known poses: the default body in a
    procedural outfit (neural.data_synthetic) moving through a smooth random motion, seen by one
    camera; ``capture_animation --body-only`` on that MP4; the animated avatar's keypoints vs
    the rendered ones after ONE similarity transform per clip (monocular capture has no metric
    scale and its own world axes): MPJPE (pelvis-aligned), mean bone direction ("joint angle")
    error, and the same for the avatar standing still in its rest pose (baseline)."""
    from avatarforge.animate import AnimateConfig, capture_animation
    from avatarforge.animate.rig import pose_rig
    from avatarforge.neural.data_synthetic import procedural_albedo, ring_cameras
    from avatarforge.neural.motion import random_poses
    from avatarforge.neural.part_maps import body_rig, render_ground_truth
    from avatarforge.neural.skeleton import anny_keypoints
    from avatarforge.render import vertex_normals
    from avatarforge.util.colour import float_to_uint8
    from avatarforge.util.progress import Stages
    from avatarforge.util.video import write_mp4

    rest = body.forward_params({})
    rig = body_rig(rest)
    albedo = procedural_albedo(rest, rig, 512)
    base = body.tensors_from_params({})
    res = {}
    for az in (20.0, 70.0):
        poses = random_poses(np.random.default_rng(seed), 1, n_frames)
        cam = ring_cameras([az], 5.0, 3.4, 512, 38.0)[0]
        truth, frames = [], []
        with torch.no_grad():
            for p in poses:
                o = body(base["phenotype"], base["local"], base["expression"], pose=body.tensors_from_params(p)["pose"])
                truth.append(anny_keypoints(o.joints, o.joint_names)[0].double().numpy())
                v = o.vertices[0]
                gt = render_ground_truth(v, rig, cam, albedo, background=(0.55, 0.6, 0.65),
                                         normals=vertex_normals(v.float(), rig.faces))
                frames.append(float_to_uint8(gt.rgb))
        truth = np.stack(truth)
        with tempfile.TemporaryDirectory() as tmp:
            video = write_mp4(Path(tmp) / f"synthetic_az{int(az)}.mp4", frames, fps=25.0)
            cfg = AnimateConfig(face=False, body=True, video=out is not None)
            stages = Stages()
            t0 = time.perf_counter()
            anim, glb = capture_animation(avatar, video, cfg, stages)
            seconds = time.perf_counter() - t0
            if out is not None:
                from avatarforge.animate.job import write_animation

                write_animation(anim, glb, video, out / f"body_synthetic_az{int(az)}", cfg, force=True)
        still = pose_rig(anim.rig, np.broadcast_to(np.eye(3), anim.deltas.shape).copy(), anim.root_translation)
        (err, angles), (err0, angles0) = (
            _pose_errors(_keypoints(world[..., :3, 3], anim.rig.names), truth, align=True)
            for world in (anim.posed.world, still.world))
        mpjpe, ang, mpjpe0, ang0 = err.mean() * 100, angles.mean(), err0.mean() * 100, angles0.mean()
        res[f"azimuth_{int(az)}"] = {
            "frames": n_frames, "tracked": int(anim.body_valid.sum()), "mpjpe_cm": round(mpjpe, 2),
            "bone_direction_error_deg_mean": round(ang, 2), "rest_pose_baseline_mpjpe_cm": round(mpjpe0, 2),
            "rest_pose_baseline_bone_error_deg": round(ang0, 2),
            "capture_fps": round(n_frames / seconds, 2)}
        print("body_synthetic_video", az, res[f"azimuth_{int(az)}"], flush=True)
    return res


def body_real(avatar: Path, videos: list[Path], out: Path | None) -> dict:
    from avatarforge.animate import AnimateConfig, capture_animation
    from avatarforge.animate.job import write_animation
    from avatarforge.util.progress import Stages

    res = {}
    for v in videos:
        cfg = AnimateConfig(face=False, body=True, video=out is not None)
        stages = Stages()
        anim, glb = capture_animation(avatar, v, cfg, stages)
        r = _reprojection(anim)
        r["seconds_per_frame"] = {k: round(t / anim.n_frames, 4) for k, t in stages.timings.items()}
        if out is not None:
            write_animation(anim, glb, v, out / f"body_{v.stem}", cfg, force=True)
        res[v.stem] = r
        print(v.stem, r, flush=True)
    px = [r["reprojection_px"] for r in res.values()]
    base = [r["rest_pose_baseline_px"] for r in res.values()]
    return {"videos": res, "mean_reprojection_px": round(float(np.mean(px)), 2),
            "mean_rest_pose_baseline_px": round(float(np.mean(base)), 2)}


def _face_metrics(rgb: np.ndarray):
    from avatarforge.errors import UserInputError
    from avatarforge.perception.face import face_landmarks
    from avatarforge.perception.face_metrics import eye_openness, head_pose_angles, mouth_openness

    try:
        p = face_landmarks(rgb).points
    except UserInputError:
        return None
    hp = head_pose_angles(p)
    return [eye_openness(p).mean, mouth_openness(p), hp.yaw, hp.pitch]


def face_transfer(avatar: Path, video: Path, step: int, max_frames: int | None, out: Path | None) -> dict:
    from avatarforge.animate import AnimateConfig, capture_animation
    from avatarforge.animate.job import setup_renderer
    from avatarforge.util.progress import Stages
    from avatarforge.util.video import read_frames

    cfg = AnimateConfig(face=True, body=False, step=step, max_frames=max_frames, height=360)
    stages = Stages()
    t0 = time.perf_counter()
    anim, glb = capture_animation(avatar, video, cfg, stages)
    capture_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "avatar.glb"
        path.write_bytes(glb)
        renderer = setup_renderer(anim, path, cfg)
    driver, avatar_m, shots = [], [], {}
    t_render = 0.0
    for i, frame in enumerate(read_frames(video, max_frames=max_frames, step=step)):
        if i >= anim.n_frames:
            break
        t1 = time.perf_counter()
        img = renderer.render(renderer.vertices(anim.posed.world[i], anim.morph_weights[i]))
        t_render += time.perf_counter() - t1
        driver.append(_face_metrics(frame))
        avatar_m.append(_face_metrics(img))
        if out is not None and i % max(1, anim.n_frames // 6) == 0:
            from avatarforge.animate.render import side_by_side
            from PIL import Image

            out.mkdir(parents=True, exist_ok=True)
            shots[i] = str(out / f"face_{i:04d}.png")
            Image.fromarray(side_by_side(frame, img, 360)).save(shots[i])
    both = [k for k in range(len(driver)) if driver[k] is not None and avatar_m[k] is not None]
    d = np.array([driver[k] for k in both])
    a = np.array([avatar_m[k] for k in both])
    names = ["eye_openness", "mouth_openness", "head_yaw", "head_pitch"]
    pearson = {n: round(float(np.corrcoef(d[:, j], a[:, j])[0, 1]), 3) for j, n in enumerate(names)}
    return {"video": video.name, "step": step, "frames": int(anim.n_frames),
            "face_found_in_video": int(anim.face.valid.sum()), "both_faces_found": len(both),
            "pearson": pearson, "targets": {"mouth_openness": 0.8, "eye_openness": 0.7, "head_yaw": 0.8,
                                            "head_pitch": 0.8},
            "driver_range": {n: [round(float(d[:, j].min()), 3), round(float(d[:, j].max()), 3)]
                             for j, n in enumerate(names)},
            "avatar_range": {n: [round(float(a[:, j].min()), 3), round(float(a[:, j].max()), 3)]
                             for j, n in enumerate(names)},
            "capture_seconds_per_frame": round(capture_s / anim.n_frames, 3),
            "capture_fps": round(anim.n_frames / capture_s, 2),
            "stage_seconds_per_frame": {k: round(t / anim.n_frames, 4) for k, t in stages.timings.items()},
            "render_seconds_per_frame": round(t_render / anim.n_frames, 3), "pictures": shots}


def face_capture_speed(video: Path, step: int, max_frames: int | None, size: tuple[int, int] = (640, 480),
                       threads: int = 1) -> dict:
    """Face-only capture per frame after the first (issue 22: >= 25 FPS at 640x480 on 2 cores):
    the frames letterboxed to ``size``, the tracker's two parts timed apart (the landmark model
    on the previous frame's ROI, re-detecting when lost; the warm-started Gauss-Newton solve:
    contour pick, solve, reprojection error), wall and this process's CPU seconds (the CPU
    figure is the one to read on a shared machine), with ``threads`` torch threads (the
    tracker's solve itself runs single-threaded; the landmark model is MediaPipe's)."""
    import resource

    from avatarforge.fitting.face_track import FaceTracker
    from avatarforge.perception.face import face_landmarks, track_face_landmarks
    from avatarforge.util.video import read_frames

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    w, h = size
    frames = []
    for frame in read_frames(video, max_frames=max_frames, step=step):
        canvas = np.zeros((h, w, 3), np.uint8)
        fh, fw = min(h, frame.shape[0]), min(w, frame.shape[1])
        y0, x0 = (h - fh) // 2, (w - fw) // 2
        canvas[y0:y0 + fh, x0:x0 + fw] = frame[:fh, :fw]
        frames.append(canvas)
    torch.set_num_threads(threads)
    tracker = FaceTracker()
    wall = {"landmarks": 0.0, "solve": 0.0}
    cpus = {"landmarks": 0.0, "solve": 0.0}
    previous, n, lost = None, 0, 0
    for i, frame in enumerate(frames):
        t0, c0 = time.perf_counter(), cpu()
        points = None if previous is None else track_face_landmarks(frame, previous)
        if points is None:
            lost += i > 0
            points = face_landmarks(frame).points
        t1, c1 = time.perf_counter(), cpu()
        tracker.update(points, (w, h))
        t2, c2 = time.perf_counter(), cpu()
        previous = points
        if i > 0:
            n += 1
            wall["landmarks"] += t1 - t0
            wall["solve"] += t2 - t1
            cpus["landmarks"] += c1 - c0
            cpus["solve"] += c2 - c1
    ms = lambda d: {k: round(1000 * v / max(n, 1), 1) for k, v in d.items()}  # noqa: E731
    total_wall, total_cpu = sum(wall.values()) / max(n, 1), sum(cpus.values()) / max(n, 1)
    # What capture really runs (track_face_frames: the same two parts with its bookkeeping), twice.
    from avatarforge.fitting.face_track import track_face_frames

    rates = [1.0 / track_face_frames(frames, tracker.body).seconds_per_frame for _ in range(2)]
    torch.set_num_threads(1)
    return {"size": list(size), "torch_threads": threads, "frames_after_first": n, "tracking_lost_redetected": lost,
            "ms_per_frame_wall": ms(wall), "ms_per_frame_cpu": ms(cpus),
            "fps_wall_sequential": round(1 / total_wall, 1), "fps_cpu": round(1 / total_cpu, 1),
            "fps_wall_tracker": [round(r, 1) for r in rates], "target_fps": 25,
            "load_average": [round(v, 1) for v in os.getloadavg()]}


def no_person(avatar: Path, video: Path) -> dict:
    """A video without anybody must be refused (UserInputError: one line, exit 2 in the CLI)."""
    from avatarforge.animate import capture_animation
    from avatarforge.errors import UserInputError

    t0 = time.perf_counter()
    try:
        capture_animation(avatar, video)
    except UserInputError as err:
        return {"video": video.name, "refused": True, "message": str(err),
                "seconds": round(time.perf_counter() - t0, 1)}
    return {"video": video.name, "refused": False, "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--avatar", type=Path, help="An avatar folder (default: the default body, untextured).")
    ap.add_argument("--out", type=Path, help="Write MP4s/PNGs here.")
    ap.add_argument("--pose2sim", type=Path, default=POSE2SIM)
    ap.add_argument("--face-video", type=Path, default=FACE_VIDEO)
    ap.add_argument("--face-step", type=int, default=2)
    ap.add_argument("--face-max-frames", type=int, default=None)
    ap.add_argument("--no-face", action="store_true")
    ap.add_argument("--no-body", action="store_true")
    ap.add_argument("--no-person-video", type=Path, default=NO_PERSON)
    ap.add_argument("--only", choices=SECTIONS, action="append",
                    help="Run only these sections (repeatable); the other figures in animate.json are kept.")
    args = ap.parse_args()
    run = set(args.only or SECTIONS)
    torch.set_num_threads(1)
    from avatarforge.bodies import load_body

    body = load_body()
    res_path = ROOT / "results" / "animate.json"
    results = json.loads(res_path.read_text()) if res_path.is_file() else {}
    with tempfile.TemporaryDirectory() as tmp:
        avatar = args.avatar
        if avatar is None:
            from avatarforge.avatar import build_avatar
            from avatarforge.export import write_glb

            avatar = Path(tmp)
            write_glb(build_avatar({}, pose="a", body=body).rigged_mesh(), avatar / "avatar.glb")
        results["avatar"] = "default body" if args.avatar is None else args.avatar.name
        if args.no_body:
            run -= {"body_synthetic", "body_synthetic_video", "body_pose2sim"}
        if args.no_face:
            run -= {"face_transfer", "face_capture_speed"}
        if "body_synthetic" in run:
            results["body_synthetic"] = body_synthetic(body)
            print("body_synthetic", results["body_synthetic"], flush=True)
        if "body_synthetic_video" in run:
            results["body_synthetic_video"] = body_synthetic_video(avatar, body, out=args.out)
        videos = sorted(args.pose2sim.glob("*.mp4"))
        if "body_pose2sim" in run and videos:
            results["body_pose2sim"] = body_real(avatar, videos, args.out)
        if "face_transfer" in run and args.face_video.is_file():
            results["face_transfer"] = face_transfer(avatar, args.face_video, args.face_step, args.face_max_frames,
                                                     args.out)
            print("face_transfer", results["face_transfer"], flush=True)
        if "face_capture_speed" in run and args.face_video.is_file():
            speed = face_capture_speed(args.face_video, 1, 120)
            speed["torch_threads_2"] = face_capture_speed(args.face_video, 1, 120, threads=2)
            results["face_capture_speed"] = speed
            print("face_capture_speed", results["face_capture_speed"], flush=True)
        if "no_person" in run and args.no_person_video.is_file():
            results["no_person"] = no_person(avatar, args.no_person_video)
            print("no_person", results["no_person"], flush=True)
    res_path.parent.mkdir(parents=True, exist_ok=True)
    res_path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {res_path}")


if __name__ == "__main__":
    main()
