"""Training data and motions from a video of one person.

Per frame, :func:`avatarforge.perception.pose.detect_pose` gives MediaPipe's metric world
landmarks (hip-centred, camera axes: x right, y down, z away), their pixel positions and a
person mask. Then:

1. keypoints (:func:`.skeleton.mediapipe_keypoints`) in 3D and in pixels;
2. the translation ``T`` placing the 3D keypoints in front of the camera is solved by linear
   least squares from the pinhole equations ``u - cx = f (X + Tx) / (Z + Tz)`` (same for v),
   with an assumed focal length (``focal_factor`` x the longer image side);
3. the camera-frame keypoints are smoothed in time (Gaussian, ``smooth_sigma`` frames, over
   the tracked frames);
4. everything is re-expressed in avatarforge's world (+Y up, the person facing +Z towards the
   camera, at the origin on average, soles at y = 0) with ONE fixed camera for the video:
   ``R = diag(1, -1, -1)``, ``t = (X0, Y0, Z0)``.

Tracking (:mod:`.tracking`) keeps every frame with a pose, whatever the visibility scores
(back and side views), fixes left/right swaps from frame to frame and interpolates short runs
where the pose model misses a person the segmentation still sees; only frames with the person
out of view (or longer misses) are skipped and listed (``meta["skipped"]``: frame index and
reason; ``meta["tracking"]``: the counts). The frames are cropped to one
square around all tracked people (the principal point moves with the crop), resized, and the
background replaced by a constant colour using the segmentation mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avatarforge.errors import UserInputError
from avatarforge.neural.dataset import AvatarDataset, camera_to_row
from avatarforge.neural.motion import Motion
from avatarforge.neural.skeleton import mediapipe_keypoints
from avatarforge.render import Camera
from avatarforge.util.colour import float_to_uint8

__all__ = ["VideoConfig", "VideoTrack", "track_video", "track_frames", "dataset_from_video", "motion_from_video",
           "solve_translation", "to_world"]


@dataclass
class VideoConfig:
    """How a video becomes training data or a motion."""

    size: int = 128
    """Side of the square training frames (a multiple of 8)."""
    max_frames: int | None = 300
    """Frames read at most (after ``step``)."""
    step: int = 1
    """Keep every ``step``-th frame."""
    focal_factor: float = 1.1
    """Assumed focal length in units of the longer image side (~50 degrees horizontal)."""
    smooth_sigma: float = 1.5
    """Temporal Gaussian smoothing of the keypoints, in frames (0 = none)."""
    holdout_every: int = 0
    """Every n-th tracked frame goes to the ``unseen_poses`` split (0 = none)."""
    margin: float = 0.15
    """Extra border around the people's bounding box, as a fraction of its size."""
    background: tuple[float, float, float] = (0.5, 0.5, 0.5)
    """Colour that replaces the video's background."""
    max_gap: int = 8
    """Longest run of frames where the pose model misses a segmented person that is interpolated."""
    max_side: int = 640
    """Frames with a longer side are downscaled to this before anything else (memory: the kept
    frames and masks are held until the crop is known; the pose model sees 256 px anyway)."""


@dataclass
class VideoTrack:
    """The tracked frames of a video."""

    frame_index: np.ndarray
    """(T,) index in the (stepped) video of each tracked frame."""
    joints: np.ndarray
    """(T, K, 3) world keypoints (avatarforge frame)."""
    camera: Camera
    """The video's camera in that world (original image size)."""
    points: np.ndarray
    """(T, K, 2) keypoint pixels (as detected)."""
    masks: list[np.ndarray]
    """Person masks, uint8 0-255, at the working size (see ``VideoConfig.max_side``)."""
    images: list[np.ndarray]
    """The tracked RGB frames at the working size (kept only when asked)."""
    fps: float
    skipped: list[dict] = field(default_factory=list)
    """``{"frame": i, "reason": ...}`` for every frame that was not tracked."""
    counts: dict = field(default_factory=dict)
    """Frames / in view / tracked / interpolated / swaps fixed (:meth:`.tracking.ViewTrack.counts`)."""


def solve_translation(kp3d: np.ndarray, kp2d: np.ndarray, f: float, cx: float, cy: float,
                      weights: np.ndarray | None = None) -> np.ndarray:
    """(3,) translation ``T`` minimising the linearised reprojection error of ``kp3d + T``.

    Each keypoint gives two equations linear in ``T``:
    ``f Tx - (u - cx) Tz = (u - cx) Z - f X`` and ``f Ty - (v - cy) Tz = (v - cy) Z - f Y``.
    """
    w = np.ones(len(kp3d)) if weights is None else np.asarray(weights, np.float64)
    du, dv = kp2d[:, 0] - cx, kp2d[:, 1] - cy
    zeros, ones = np.zeros_like(du), np.ones_like(du) * f
    a = np.concatenate([np.stack([ones, zeros, -du], 1), np.stack([zeros, ones, -dv], 1)])
    b = np.concatenate([du * kp3d[:, 2] - f * kp3d[:, 0], dv * kp3d[:, 2] - f * kp3d[:, 1]])
    sw = np.sqrt(np.concatenate([w, w]))
    t, *_ = np.linalg.lstsq(a * sw[:, None], b * sw, rcond=None)
    return t


def to_world(cam_points: np.ndarray, width: int, height: int, f: float, cx: float, cy: float) -> tuple[np.ndarray, Camera]:
    """Camera-frame keypoints (T, K, 3) -> world keypoints and the one fixed camera seeing them."""
    from avatarforge.neural.skeleton import KEYPOINTS

    feet = [KEYPOINTS.index(k) for k in ("ankle.L", "ankle.R", "toe.L", "toe.R")]
    pelvis = KEYPOINTS.index("pelvis")
    x0 = float(np.median(cam_points[:, pelvis, 0]))
    z0 = float(np.median(cam_points[:, pelvis, 2]))
    y0 = float(np.median(cam_points[:, feet, 1].max(1)))  # y down: the soles have the largest y
    origin = np.array([x0, y0, z0])
    flip = np.array([1.0, -1.0, -1.0])
    world = (cam_points - origin) * flip  # x_cam = R w + t with R = diag(1, -1, -1), t = origin
    return world, Camera(np.diag(flip), origin, width, height, f, f, cx, cy)


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0 or len(x) < 2:
        return x
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(x, sigma, axis=0, mode="nearest")


def track_frames(frames, config: VideoConfig | None = None, keep_images: bool = True, fps: float = 25.0) -> VideoTrack:
    """Track the person in an iterable of RGB frames (see the module docstring). Pixels,
    masks and the camera refer to the frames downscaled to ``config.max_side``."""
    from avatarforge.neural.tracking import TrackingConfig, detect_view

    cfg = config or VideoConfig()
    view = detect_view(frames, TrackingConfig(max_side=cfg.max_side, max_gap=cfg.max_gap), keep_images)
    idx = np.flatnonzero(view.usable & np.array([m is not None for m in view.masks]))
    if not len(idx):
        reasons = sorted({s["reason"].split(" (")[0] for s in view.skipped})
        raise UserInputError(f"no frame could be tracked ({len(view.skipped)} frames: {'; '.join(reasons)}): "
                             "film one person, whole body in view")
    kp3 = mediapipe_keypoints(view.world[idx])
    kp2 = mediapipe_keypoints(view.points[idx])
    vis = mediapipe_keypoints(view.visibility[idx][..., None])[..., 0]
    w, h = view.size
    f = cfg.focal_factor * max(w, h)
    cx, cy = w / 2, h / 2
    cam_pts = np.stack([k3 + solve_translation(k3, k2, f, cx, cy, v + 1e-3) for k3, k2, v in zip(kp3, kp2, vis)])
    cam_pts = _smooth(cam_pts, cfg.smooth_sigma)
    world, camera = to_world(cam_pts, w, h, f, cx, cy)
    track = VideoTrack(idx, world, camera, kp2, [view.masks[i] for i in idx],
                       [view.images[i] for i in idx] if keep_images else [], fps, view.skipped)
    track.counts = view.counts()
    return track


def track_video(path: str | Path, config: VideoConfig | None = None, keep_images: bool = True) -> VideoTrack:
    """Track the person through a video file."""
    from avatarforge.util.video import probe_video, read_frames

    cfg = config or VideoConfig()
    info = probe_video(path)
    return track_frames(read_frames(path, max_frames=cfg.max_frames, step=cfg.step), cfg, keep_images,
                        fps=info.fps / cfg.step)


def _crop_box(track: VideoTrack, margin: float) -> tuple[int, int, int]:
    """Square (x0, y0, side) around every tracked mask, with a margin (may leave the image)."""
    boxes = []
    for m in track.masks:
        ys, xs = np.nonzero(m > 127)
        if len(xs):
            boxes.append((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    if not boxes:
        pts = track.points.reshape(-1, 2)
        boxes.append((*pts.min(0), *pts.max(0)))
    b = np.array(boxes, np.float64)
    x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    cxb, cyb = (x0 + x1) / 2, (y0 + y1) / 2
    return int(round(cxb - side / 2)), int(round(cyb - side / 2)), int(np.ceil(side))


def dataset_from_video(path_or_track: str | Path | VideoTrack, config: VideoConfig | None = None) -> AvatarDataset:
    """A training data set (no part maps) from a video of one person."""
    import cv2

    cfg = config or VideoConfig()
    if cfg.size % 8 or cfg.size < 16:
        raise UserInputError(f"size must be a multiple of 8 (>= 16), got {cfg.size}")
    track = path_or_track if isinstance(path_or_track, VideoTrack) else track_video(path_or_track, cfg)
    x0, y0, side = _crop_box(track, cfg.margin)
    s = cfg.size / side
    bg = np.asarray(cfg.background, np.float32)
    n = len(track.frame_index)
    images = np.empty((n, cfg.size, cfg.size, 3), np.uint8)
    masks = np.empty((n, cfg.size, cfg.size), np.uint8)
    # Crop + resize as one affine warp (the crop may extend past the image: border = background).
    warp = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]])
    for k in range(n):
        img = track.images[k].astype(np.float32) / 255
        m = track.masks[k].astype(np.float32) / 255
        img = cv2.warpAffine(img, warp, (cfg.size, cfg.size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(float(c) for c in bg))
        m = cv2.warpAffine(m, warp, (cfg.size, cfg.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        m = (m > 0.5).astype(np.float32)
        images[k] = float_to_uint8(img * m[..., None] + bg * (1 - m[..., None]))
        masks[k] = float_to_uint8(m)
    c = track.camera
    cam = Camera(c.R, c.t, cfg.size, cfg.size, c.fx * s, c.fy * s, (c.cx - x0) * s, (c.cy - y0) * s)
    split = np.zeros(n, np.uint8)
    if cfg.holdout_every > 0:
        split[cfg.holdout_every - 1 :: cfg.holdout_every] = 1
    meta = {"source": "video", "video": None if isinstance(path_or_track, VideoTrack) else str(Path(path_or_track)),
            "frames_tracked": n, "skipped": track.skipped, "tracking": track.counts, "crop": [x0, y0, side], "fps": track.fps,
            "focal_factor": cfg.focal_factor}
    return AvatarDataset(images=images, masks=masks, joints=track.joints.astype(np.float32),
                         cameras=np.tile(camera_to_row(cam), (n, 1)), split=split, background=bg, meta=meta)


def motion_from_video(path: str | Path, config: VideoConfig | None = None) -> tuple[Motion, list[dict]]:
    """The tracked keypoints of a video as a motion (for motion transfer) and the skipped frames."""
    cfg = config or VideoConfig()
    track = track_video(path, cfg, keep_images=False)
    return Motion(track.joints, track.fps), track.skipped
