"""``avatarforge animate``: a video drives a created avatar -> animation.glb, .bvh, motion.json, .mp4.

1. **body** (unless face-only): the neural-avatar tracker (:func:`neural.data_video.track_video`:
   MediaPipe world landmarks per frame, left/right swap fixes, short gaps interpolated)
   gives 3D keypoints in avatarforge's world; they are one-euro filtered, and inverse
   kinematics (:mod:`.ik`) turns them into joint rotations of the avatar's rest skeleton;
   the root follows the pelvis with foot locking (:mod:`.contact`);
2. **face** (unless body-only): :class:`.face_motion.FaceMotion` per frame (ARKit weights,
   head rotation, gaze), taken relative to the performer's neutral face and filtered;
3. frames without a body/face hold the last pose, then ease back to neutral
   (:func:`.filters.hold_and_ease`);
4. outputs: the avatar's GLB with one glTF animation (joint rotation, root translation and
   morph weight channels, one key per video frame), a BVH of the skeleton, motion.json and
   an MP4 of the avatar beside the video.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avatarforge.animate.face_motion import FaceMotion
from avatarforge.animate.rig import PosedRig, Rig
from avatarforge.errors import UserInputError
from avatarforge.util.progress import Stages

__all__ = ["AnimateConfig", "Animation", "capture_animation", "write_animation", "animate_video", "load_avatar_glb",
           "OUTPUT_FILES"]

OUTPUT_FILES = ("animation.glb", "animation.bvh", "motion.json", "animation.mp4")


@dataclass
class AnimateConfig:
    """What `animate_video` captures and writes (the defaults run offline on a CPU)."""

    face: bool = True
    """Capture the face (ARKit weights, head rotation, gaze)."""
    body: bool = True
    """Capture the body (joint rotations, root translation)."""
    side_by_side: bool = True
    """animation.mp4 shows the video beside the avatar (else the avatar alone)."""
    video: bool = True
    """Write animation.mp4 at all."""
    max_frames: int | None = None
    """Frames read at most (after ``step``); None = the whole video."""
    step: int = 1
    """Use every n-th video frame (the animation's rate is the video's / step)."""
    height: int = 480
    """Height of animation.mp4 in pixels."""
    hold_s: float = 0.5
    """Seconds a lost face/body holds its last pose before easing back to neutral."""
    ease_s: float = 0.5
    """Seconds of the ease back to neutral (and of the ease in when tracking returns)."""
    min_cutoff: float = 1.5
    """One-euro filter: cutoff (Hz) for still values."""
    beta: float = 0.3
    """One-euro filter: how fast the cutoff rises with speed."""
    min_person_fraction: float = 0.25
    """A face or body found in fewer frames than this fraction is taken for detector false
    positives (a cartoon animal, a poster) and the video is refused as showing nobody."""


@dataclass
class Animation:
    """A captured motion of one avatar."""

    rig: Rig
    fps: float
    deltas: np.ndarray
    """(F, N, 3, 3) world-axis rotation of every node relative to the rest pose."""
    root_translation: np.ndarray
    """(F, 3) the root joint's offset from its rest position (metres)."""
    posed: PosedRig
    morph_names: list[str]
    morph_weights: np.ndarray
    """(F, M) weights of the GLB's morph targets (zeros without face capture)."""
    driven: list[int]
    """Nodes with rotation channels."""
    body_valid: np.ndarray
    body_weight: np.ndarray
    face: FaceMotion | None
    face_weight: np.ndarray
    track: object | None = None
    """neural.data_video.VideoTrack of the body (None when face-only)."""
    contacts: np.ndarray | None = None
    """(F, 2) planted left/right foot."""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(len(self.deltas))


def load_avatar_glb(avatar_dir: str | os.PathLike) -> bytes:
    """The avatar's GLB bytes: AVATAR_DIR/avatar.glb, else rebuilt from AVATAR_DIR/params.json
    (untextured), else an error."""
    d = Path(avatar_dir)
    if not d.is_dir():
        raise UserInputError(f"avatar folder not found: {d} (give the folder `avatarforge create` wrote)")
    glb = d / "avatar.glb"
    if glb.is_file():
        return glb.read_bytes()
    if (d / "params.json").is_file():
        from avatarforge.avatar import load_avatar_params
        from avatarforge.export.gltf import build_glb

        return build_glb(load_avatar_params(d).rigged_mesh())[0]
    raise UserInputError(f"{d} holds neither avatar.glb nor params.json (give the folder `avatarforge create` wrote)")


def _fraction(r: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per frame r^w (rotations (F, ..., 3, 3), weights (F,))."""
    from scipy.spatial.transform import Rotation

    shape = r.shape
    flat = r.reshape(shape[0], -1, 3, 3)
    vec = Rotation.from_matrix(flat.reshape(-1, 3, 3)).as_rotvec().reshape(shape[0], -1, 3)
    vec = vec * np.asarray(w, np.float64)[:, None, None]
    return Rotation.from_rotvec(vec.reshape(-1, 3)).as_matrix().reshape(shape)


def _filter_valid(x: np.ndarray, valid: np.ndarray, fps: float, cfg: AnimateConfig) -> np.ndarray:
    from avatarforge.animate.filters import one_euro

    out = x.copy()
    if valid.sum() >= 2:
        out[valid] = one_euro(x[valid], fps, cfg.min_cutoff, cfg.beta)
    return out


def _track_body(video: Path, cfg: AnimateConfig, required: bool):
    from avatarforge.neural.data_video import VideoConfig, track_video

    try:
        return track_video(video, VideoConfig(max_frames=cfg.max_frames, step=cfg.step, smooth_sigma=0.0),
                           keep_images=False)
    except UserInputError:
        if required:
            raise
        return None


def capture_animation(avatar_dir: str | os.PathLike, video: str | os.PathLike, config: AnimateConfig | None = None,
                      stages: Stages | None = None) -> tuple[Animation, bytes]:
    """Capture ``video``'s motion for the avatar in ``avatar_dir``. Returns the animation and
    the avatar's GLB bytes. Raises UserInputError when nobody is found in the video."""
    from avatarforge.animate.contact import FOOT_JOINTS, foot_contacts, level_keypoints, lock_feet, root_translation
    from avatarforge.animate.face_motion import euler_xyz_matrix, face_motion_from_frames, relative_to_neutral
    from avatarforge.animate.filters import hold_and_ease
    from avatarforge.animate.ik import solve_body_ik, solve_head_only
    from avatarforge.animate.rig import load_rig, pose_rig, rest_keypoints
    from avatarforge.export.animation import split_glb
    from avatarforge.util.video import probe_video, read_frames

    cfg = config or AnimateConfig()
    if not (cfg.face or cfg.body):
        raise UserInputError("nothing to capture: --face-only and --body-only exclude each other")
    stages = stages or Stages()
    video = Path(video)
    info = probe_video(video)
    fps = info.fps / cfg.step
    with stages.stage("read avatar"):
        glb = load_avatar_glb(avatar_dir)
        with tempfile.TemporaryDirectory() as tmp:  # the GLB reader wants a file
            (Path(tmp) / "avatar.glb").write_bytes(glb)
            rig = load_rig(Path(tmp) / "avatar.glb")
        doc, _ = split_glb(glb)
        mesh = doc["meshes"][0]
        morph_names = list((mesh.get("extras") or {}).get("targetNames", []))
        rest_kp = rest_keypoints(rig)

    track = None
    if cfg.body:
        with stages.stage("track body"):
            track = _track_body(video, cfg, required=not cfg.face)
    n = int(track.counts["frames"]) if track is not None else 0

    face = None
    if cfg.face:
        with stages.stage("track face"):
            face = face_motion_from_frames(read_frames(video, max_frames=cfg.max_frames, step=cfg.step), fps)
        n = max(n, len(face))
    n_face = int(face.valid.sum()) if face is not None else 0
    n_body = int(track.counts["tracked"] + track.counts["interpolated"]) if track is not None else 0
    need = cfg.min_person_fraction * max(n, 1)
    if max(n_face, n_body) < need:
        found = " and ".join(f"a {what} in only {k} of {n} frames" for what, k, on in
                             (("face", n_face, cfg.face), ("body", n_body, cfg.body)) if on)
        raise UserInputError(f"no person found in {video.name}: {found} (at least "
                             f"{cfg.min_person_fraction:.0%} needed); film one person facing the camera")
    if track is not None and n_body < need:
        track = None  # sporadic body detections: animate the face only
    if face is not None and n_face < need:
        face = FaceMotion.empty(len(face), fps)  # sporadic face detections: animate the body only
    if n == 0:
        raise UserInputError(f"no frames could be read from {video.name}")

    with stages.stage("solve pose"):
        from avatarforge.neural.skeleton import KEYPOINTS

        body_valid = np.zeros(n, bool)
        kp = np.broadcast_to(rest_kp, (n, len(KEYPOINTS), 3)).copy()
        if track is not None:
            body_valid[track.frame_index] = True
            kp[track.frame_index] = level_keypoints(track.joints, np.ones(len(track.joints), bool))
            kp = _filter_valid(kp, body_valid, fps, cfg)
        body_he = hold_and_ease(body_valid, fps, cfg.hold_s, cfg.ease_s)
        kp_src = np.where((body_he.source >= 0)[:, None, None], kp[np.maximum(body_he.source, 0)], rest_kp)

        head = None
        face_weight = np.zeros(n)
        weights = np.zeros((n, len(morph_names)))
        if face is not None and face.valid.any():
            if len(face) < n:  # the body tracker read more frames: pad
                pad = n - len(face)
                face = FaceMotion(np.pad(face.weights, ((0, pad), (0, 0))), np.pad(face.head, ((0, pad), (0, 0))),
                                  np.pad(face.gaze, ((0, pad), (0, 0), (0, 0))), np.pad(face.valid, (0, pad)), fps)
            face = relative_to_neutral(face)
            fw = _filter_valid(face.weights, face.valid, fps, cfg)
            fh = _filter_valid(face.head, face.valid, fps, cfg)
            fg = _filter_valid(face.gaze, face.valid, fps, cfg)
            he = hold_and_ease(face.valid, fps, cfg.hold_s, cfg.ease_s)
            src = np.maximum(he.source, 0)
            face_weight = np.where(he.source >= 0, he.weight, 0.0)
            from avatarforge.export.face_shapes import ARKIT_BLENDSHAPES

            col = {name: i for i, name in enumerate(ARKIT_BLENDSHAPES)}
            for m, name in enumerate(morph_names):
                if name in col:
                    weights[:, m] = np.clip(fw[src, col[name]], 0, 1) * face_weight
            head = _fraction(euler_xyz_matrix(fh[src]), face_weight)
            gaze = fg[src] * face_weight[:, None, None]
        if track is not None:
            ik = solve_body_ik(rig, rest_kp, kp_src, head=head)
            deltas = _fraction(ik.deltas, body_he.weight)  # a lost body eases back to the rest pose
            if head is not None:  # the head is the face tracker's (it eases on its own)
                deltas[:, rig.node("head")] = head
            raw = root_translation(kp_src, rest_kp) * body_he.weight[:, None]
            feet_nodes = [rig.node(j) for j in FOOT_JOINTS]
            feet = pose_rig(rig, deltas, np.zeros((n, 3))).world[:, feet_nodes][..., :3, 3]
            contacts = foot_contacts(kp_src, fps) & (body_he.weight >= 1.0)[:, None]
            translation = lock_feet(feet, raw, contacts, rig.rest_world[feet_nodes, 1, 3])
            driven = ik.driven
        else:
            ik = solve_head_only(rig, head if head is not None else np.broadcast_to(np.eye(3), (n, 3, 3)))
            deltas, translation, contacts, driven = ik.deltas, np.zeros((n, 3)), None, ik.driven
        if head is not None:
            for side, k in (("L", 0), ("R", 1)):
                if rig.has(f"eye.{side}"):
                    e = rig.node(f"eye.{side}")
                    angles = np.concatenate([gaze[:, k], np.zeros((n, 1))], 1)
                    deltas[:, e] = deltas[:, rig.node("head")] @ euler_xyz_matrix(angles)
                    driven = sorted(set(driven) | {e})
        posed = pose_rig(rig, deltas, translation)

    anim = Animation(rig, fps, deltas, translation, posed, morph_names, weights, driven, body_valid,
                     np.where(body_he.source >= 0, body_he.weight, 0.0), face, face_weight, track, contacts,
                     dict(stages.timings))
    return anim, glb


def _motion_json(anim: Animation, cfg: AnimateConfig, video: Path) -> dict:
    from avatarforge.animate.bvh import BVH_ROTATION_ORDER, BVH_UNITS_PER_METRE
    from avatarforge.export.face_shapes import ARKIT_BLENDSHAPES

    r = lambda a, d=5: np.round(np.asarray(a, np.float64), d).tolist()  # noqa: E731
    rig = anim.rig
    out = {
        "format": "avatarforge-animation", "version": 1, "video": video.name, "fps": anim.fps,
        "frames": anim.n_frames, "capture": {"face": cfg.face, "body": cfg.body},
        "conventions": {
            "frame": "metres, +Y up, the avatar faces +Z (glTF's axes)",
            "joint_rotations": "glTF local rotation of each joint node (x, y, z, w) per frame",
            "root_position": "world position of the 'root' joint (hips) per frame, metres",
            "bvh": f"animation.bvh: centimetres ({BVH_UNITS_PER_METRE:g} per metre), rotation channels "
                   f"{' '.join(c + 'rotation' for c in BVH_ROTATION_ORDER)}, rest orientations = identity",
            "head": "degrees, pose.head.x/y/z of the body model (extrinsic X, Y, Z), relative to the neutral",
            "gaze": "degrees, [left, right] eye x (down) and y (sideways), relative to the head",
        },
        "body_valid": anim.body_valid.astype(int).tolist(),
        "body_weight": r(anim.body_weight, 3),
        "face_valid": (anim.face.valid.astype(int).tolist() if anim.face is not None else []),
        "face_weight": r(anim.face_weight, 3),
        "root_position": r(anim.posed.world[:, rig.root, :3, 3]),
        "joint_rotations": {rig.names[j]: r(anim.posed.local_rotation[:, j]) for j in anim.driven},
    }
    if anim.contacts is not None:
        out["foot_contact"] = {"left": anim.contacts[:, 0].astype(int).tolist(),
                               "right": anim.contacts[:, 1].astype(int).tolist()}
    if cfg.face:
        col = {n: i for i, n in enumerate(anim.morph_names)}
        out["arkit"] = {n: r(anim.morph_weights[:, col[n]], 4) for n in ARKIT_BLENDSHAPES if n in col}
        if anim.face is not None:
            out["head"] = r(anim.face.head, 3)
            out["gaze"] = r(anim.face.gaze, 3)
    if anim.track is not None:
        out["tracking"] = anim.track.counts
    return out


def render_frames(anim: Animation, renderer, video: Path | None, cfg: AnimateConfig):
    """Yield the MP4's frames (the video frame beside the avatar, or the avatar alone)."""
    from avatarforge.animate.render import side_by_side
    from avatarforge.util.video import read_frames

    frames = read_frames(video, max_frames=cfg.max_frames, step=cfg.step) if video is not None else None
    for i in range(anim.n_frames):
        v = renderer.vertices(anim.posed.world[i], anim.morph_weights[i])
        img = renderer.render(v)
        src = next(frames, None) if frames is not None else None
        yield side_by_side(src, img, cfg.height)


def setup_renderer(anim: Animation, glb_path: Path, cfg: AnimateConfig):
    """The avatar renderer with a camera framing the whole clip (the head when face-only)."""
    from avatarforge.animate.render import AvatarRenderer

    renderer = AvatarRenderer.from_glb(glb_path)
    h = cfg.height
    if not cfg.body:  # face close-up: the head's vertices (above the neck) at rest
        neck_y = anim.rig.rest_world[anim.rig.node("neck01"), 1, 3] if anim.rig.has("neck01") else 1.5
        pts = renderer.positions[renderer.positions[:, 1] > neck_y]
        renderer.frame_camera(pts, h, h, margin=1.3)
    else:
        idx = np.linspace(0, anim.n_frames - 1, min(anim.n_frames, 12)).astype(int)
        pts = np.concatenate([renderer.vertices(anim.posed.world[i])[::7] for i in idx])
        renderer.frame_camera(pts, int(round(h * 0.75)) // 2 * 2, h)
    return renderer


def write_animation(anim: Animation, glb: bytes, video: str | os.PathLike, out: str | os.PathLike,
                    config: AnimateConfig | None = None, stages: Stages | None = None, force: bool = False) -> Path:
    """Write animation.glb, animation.bvh, motion.json (and animation.mp4) into ``out`` atomically."""
    from avatarforge.animate.bvh import write_bvh
    from avatarforge.export.animation import AnimationClip, split_glb, write_animated_glb
    from avatarforge.util.atomic import atomic_dir
    from avatarforge.util.video import write_mp4

    cfg = config or AnimateConfig()
    stages = stages or Stages()
    video = Path(video)
    rig = anim.rig
    with atomic_dir(out, force) as tmp:
        with stages.stage("write animation.glb"):
            clip = AnimationClip(anim.fps, name=video.stem)
            clip.rotations = {j: anim.posed.local_rotation[:, j] for j in anim.driven}
            if cfg.body:
                clip.translations = {rig.root: anim.posed.local_translation[:, rig.root]}
            if cfg.face and anim.morph_names:
                nodes = split_glb(glb)[0]["nodes"]
                clip.weights = {next(i for i, nd in enumerate(nodes) if nd.get("mesh") == 0): anim.morph_weights}
            write_animated_glb(glb, clip, tmp / "animation.glb")
        with stages.stage("write animation.bvh"):
            write_bvh(tmp / "animation.bvh", rig, anim.deltas, anim.posed.world[:, rig.root, :3, 3], anim.fps)
        with stages.stage("write motion.json"):
            (tmp / "motion.json").write_text(json.dumps(_motion_json(anim, cfg, video), separators=(",", ":")))
        if cfg.video:
            with stages.stage("render animation.mp4"):
                renderer = setup_renderer(anim, tmp / "animation.glb", cfg)
                write_mp4(tmp / "animation.mp4", render_frames(anim, renderer, video if cfg.side_by_side else None, cfg),
                          fps=anim.fps)
    return Path(out)


def animate_video(avatar_dir: str | os.PathLike, video: str | os.PathLike, out: str | os.PathLike,
                  config: AnimateConfig | None = None, stages: Stages | None = None, force: bool = False) -> Animation:
    """Capture ``video`` and write the animation outputs of the avatar in ``avatar_dir`` to ``out``."""
    from avatarforge.util.atomic import check_output_dir

    check_output_dir(out, force)
    stages = stages or Stages()
    start = time.perf_counter()
    anim, glb = capture_animation(avatar_dir, video, config, stages)
    write_animation(anim, glb, video, out, config, stages, force)
    anim.timings = dict(stages.timings)
    anim.timings["total"] = time.perf_counter() - start
    return anim
