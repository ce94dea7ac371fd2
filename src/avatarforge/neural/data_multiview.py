"""Training data from synchronised, calibrated videos of one person (one shared body).

A folder holds one video per camera (``<camera name>.mp4``, directly or in ``videos/``) and a
calibration file (:mod:`.calibration`: Pose2Sim/anipose TOML, OpenCV FileStorage YAML/XML or
Qualisys .qca.txt; directly or in ``calibration/``). Frame ``i`` of every video is the same
moment. Then:

1. each view is tracked on its own (:func:`.tracking.detect_view`: pose, mask, gaps);
2. per frame, the 33 landmarks are triangulated from all views that see them
   (:func:`.calibration.triangulate`, weighted DLT, weight = the landmark's visibility);
3. left/right swaps are settled against the other views: a view whose labels reproject better
   exchanged is relabelled, and the frame re-triangulated (two rounds);
4. the keypoints are smoothed in time, and the calibration's world is turned into avatarforge's
   (+Y = the mean direction from the ankles to the neck, +X = the subject's left, the pelvis at
   the origin on average, soles at y = 0); the cameras follow;
5. each view is cropped to a square around its masks and resized; the frames of every view,
   all with the same 3D keypoints, form the data set. ``holdout_views`` go to the
   ``unseen_views`` split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avatarforge.errors import UserInputError
from avatarforge.neural.calibration import CameraCalib, find_calibration, load_calibration, project_points, triangulate
from avatarforge.neural.dataset import AvatarDataset, camera_to_row
from avatarforge.neural.tracking import TrackingConfig, ViewTrack, detect_view, swap_sides
from avatarforge.render import Camera

__all__ = ["MultiViewConfig", "MultiViewTrack", "find_videos", "track_multiview", "dataset_from_multiview",
           "settle_swaps", "align_world"]


@dataclass
class MultiViewConfig:
    """How a folder of synchronised videos becomes training data."""

    size: int = 128
    """Side of the square training frames (a multiple of 8)."""
    max_frames: int | None = 300
    step: int = 1
    smooth_sigma: float = 1.0
    """Temporal Gaussian smoothing of the 3D keypoints, in frames (0 = none)."""
    holdout_views: tuple[str, ...] = ()
    """Camera names whose frames go to the ``unseen_views`` split."""
    holdout_after: float = 1.0
    """Frames from this fraction of the clip on go to ``unseen_poses`` (1 = none)."""
    margin: float = 0.1
    background: tuple[float, float, float] = (0.5, 0.5, 0.5)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)


@dataclass
class MultiViewTrack:
    """Tracked views and the one triangulated body."""

    cameras: list[CameraCalib]
    views: list[ViewTrack]
    landmarks: np.ndarray
    """(T, 33, 3) triangulated landmarks (calibration world); NaN where fewer than 2 views."""
    reprojection: np.ndarray
    """(V, T) median reprojection error of each view's landmarks (original pixels)."""
    swaps: np.ndarray
    """(V, T) bool: the view's labels were exchanged to agree with the other views."""
    fps: float


def find_videos(folder: Path, cams: list[CameraCalib]) -> list[Path]:
    """The video of each camera: ``<name>.<video suffix>`` in ``folder`` or ``folder/videos``."""
    from avatarforge.util.video import VIDEO_SUFFIXES

    out = []
    for c in cams:
        hits = [p for sub in (folder, folder / "videos") if sub.is_dir() for p in sorted(sub.iterdir())
                if p.suffix.lower() in VIDEO_SUFFIXES and p.stem.lower() == c.name.lower()]
        if not hits:
            raise UserInputError(f"{folder}: no video named {c.name}.* for calibrated camera {c.name!r} "
                                 "(name each video after its camera)")
        out.append(hits[0])
    return out


def settle_swaps(points: np.ndarray, weights: np.ndarray, cams: list[CameraCalib], rounds: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Relabel views whose left/right labels disagree with the others at one moment.

    ``points`` (V, 33, 2) original pixels, ``weights`` (V, 33). Returns the (V,) bool swaps and
    the triangulated (33, 3) landmarks after them. Each view's labels, as given and exchanged,
    are reprojected against the triangulation of the *other* views; the view whose exchange
    helps most is relabelled when its exchanged error is below half its own, and again
    (at most ``rounds`` relabellings) until no view gains."""
    V = len(cams)
    pts, w, swapped = points.copy(), weights.copy(), np.zeros(V, bool)
    seen = w.sum(1) > 0
    for _ in range(rounds if seen.sum() >= 3 else 0):
        ratios = np.full(V, np.inf)
        for v in np.flatnonzero(seen):
            others = np.ones(V, bool)
            others[v] = False
            X, _ = triangulate(pts[others], w[others], [c for c, o in zip(cams, others) if o])
            ok = np.isfinite(X).all(1) & (w[v] > 0)
            if ok.sum() < 8:
                continue
            proj = project_points(cams[v], np.where(np.isfinite(X), X, 0))[ok]
            e_same = np.median(np.linalg.norm(proj - pts[v][ok], axis=1))
            e_swap = np.median(np.linalg.norm(proj - swap_sides(pts[v])[ok], axis=1))
            ratios[v] = e_swap / max(e_same, 1e-9)
        v = int(np.argmin(ratios))
        if not ratios[v] < 0.5:
            break
        pts[v], w[v] = swap_sides(pts[v]), swap_sides(w[v])
        swapped[v] = ~swapped[v]
    X, _ = triangulate(pts, w, cams)
    return swapped, X


def track_multiview(folder: str | Path, config: MultiViewConfig | None = None, keep_images: bool = True,
                    calibration: str | Path | None = None) -> MultiViewTrack:
    """Track every view of ``folder`` and triangulate one body (steps 1-3 of the module docstring)."""
    from avatarforge.util.video import probe_video, read_frames

    cfg = config or MultiViewConfig()
    d = Path(folder)
    if not d.is_dir():
        raise UserInputError(f"{d}: not a folder of synchronised videos")
    cams = load_calibration(calibration or find_calibration(d))
    videos = find_videos(d, cams)
    unknown = set(cfg.holdout_views) - {c.name for c in cams}
    if unknown:
        raise UserInputError(f"--holdout-views: no camera named {', '.join(sorted(unknown))} "
                             f"(cameras: {', '.join(c.name for c in cams)})")
    if len(cams) - len(cfg.holdout_views) < 1 or len(cams) < 2:
        raise UserInputError(f"{d}: multi-view training needs >= 2 cameras and >= 1 not held out ({len(cams)} found)")
    views, fps = [], None
    for v in videos:
        info = probe_video(v)
        fps = fps or info.fps / cfg.step
        views.append(detect_view(read_frames(v, max_frames=cfg.max_frames, step=cfg.step), cfg.tracking, keep_images))
    T = min(len(v.status) for v in views)
    V = len(views)
    # Landmark pixels in each camera's original image (the calibration's pixels).
    pts = np.stack([v.points[:T] / v.scale for v in views])  # (V, T, 33, 2)
    w = np.stack([np.where(v.usable[:T, None], v.visibility[:T], 0.0) for v in views])
    landmarks = np.full((T, 33, 3), np.nan)
    swaps = np.zeros((V, T), bool)
    for t in range(T):
        swaps[:, t], landmarks[t] = settle_swaps(np.nan_to_num(pts[:, t]), w[:, t], cams)
    reproj = np.full((V, T), np.nan)
    for v in range(V):
        p = np.where(swaps[v][:, None, None], swap_sides(pts[v]), pts[v])
        for t in range(T):
            ok = np.isfinite(landmarks[t]).all(1) & (w[v, t] > 0)
            if ok.any():
                reproj[v, t] = np.median(np.linalg.norm(project_points(cams[v], landmarks[t][ok]) - p[t][ok], axis=1))
    return MultiViewTrack(cams, views, landmarks, reproj, swaps, float(fps or 25.0))


def align_world(kp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A, o): the rotation and origin taking calibration-world keypoints (T, K, 3) to
    avatarforge's frame, ``X_af = A (X - o)`` (see the module docstring, step 4)."""
    from avatarforge.neural.skeleton import KEYPOINTS

    k = KEYPOINTS.index
    ankles = (kp[:, k("ankle.L")] + kp[:, k("ankle.R")]) / 2
    up = np.nanmean(kp[:, k("neck")] - ankles, 0)
    up /= np.linalg.norm(up)
    left = np.nanmean(kp[:, k("shoulder.L")] - kp[:, k("shoulder.R")] + kp[:, k("hip.L")] - kp[:, k("hip.R")], 0)
    x = left - up * (left @ up)
    x /= np.linalg.norm(x)
    z = np.cross(x, up)
    A = np.stack([x, up, z])  # rows: the new axes in old coordinates
    pelvis = np.nanmedian(kp[:, k("pelvis")], 0)
    feet = kp[:, [k("ankle.L"), k("ankle.R"), k("toe.L"), k("toe.R")]] @ up  # heights along up
    sole = np.nanpercentile(np.nanmin(feet, 1), 10)
    o = pelvis - up * (pelvis @ up - sole)
    return A, o


def _smooth_nan(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing in time that ignores NaN frames."""
    if sigma <= 0:
        return x
    from scipy.ndimage import gaussian_filter1d

    ok = np.isfinite(x).all(axis=tuple(range(1, x.ndim)))
    num = gaussian_filter1d(np.where(ok.reshape(-1, *[1] * (x.ndim - 1)), x, 0), sigma, axis=0, mode="nearest")
    den = gaussian_filter1d(ok.astype(np.float64), sigma, mode="nearest").reshape(-1, *[1] * (x.ndim - 1))
    out = num / np.maximum(den, 1e-9)
    out[~ok] = np.nan
    return out


def dataset_from_multiview(source: str | Path | MultiViewTrack, config: MultiViewConfig | None = None) -> AvatarDataset:
    """A training data set from a folder of synchronised calibrated videos (see the module docstring)."""
    import cv2

    from avatarforge.neural.skeleton import mediapipe_keypoints

    cfg = config or MultiViewConfig()
    if cfg.size % 8 or cfg.size < 16:
        raise UserInputError(f"size must be a multiple of 8 (>= 16), got {cfg.size}")
    mv = source if isinstance(source, MultiViewTrack) else track_multiview(source, cfg)
    T = len(mv.landmarks)
    kp = _smooth_nan(mediapipe_keypoints(mv.landmarks), cfg.smooth_sigma)
    good = np.isfinite(kp).all((1, 2))
    if not good.any():
        raise UserInputError("no frame is seen by two views: check that the videos are synchronised and calibrated")
    A, o = align_world(kp[good])
    joints = (kp - o) @ A.T  # X_af = A (X - o)
    bg = np.asarray(cfg.background, np.float32)
    images, masks, rows, split, view_of, frame_of = [], [], [], [], [], []
    counts = {}
    for v, (cam, view) in enumerate(zip(mv.cameras, mv.views)):
        held = cam.name in cfg.holdout_views
        use = [t for t in range(T) if good[t] and view.usable[t] and view.masks[t] is not None]
        counts[cam.name] = {**view.counts(), "triangulated": int(good.sum()), "in_dataset": len(use),
                            "swaps_vs_views": int(mv.swaps[v].sum()),
                            "median_reprojection_px": float(np.nanmedian(mv.reprojection[v])) if np.isfinite(mv.reprojection[v]).any() else None,
                            "held_out": held, "skipped": view.skipped}
        if not use:
            continue
        boxes = []
        for t in use:
            ys, xs = np.nonzero(view.masks[t] > 127)
            if len(xs):
                boxes.append((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
        b = np.array(boxes, np.float64)
        x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
        side = max(x1 - x0, y1 - y0) * (1 + 2 * cfg.margin)
        bx, by = (x0 + x1) / 2 - side / 2, (y0 + y1) / 2 - side / 2
        s = cfg.size / side
        warp = np.array([[s, 0, -bx * s], [0, s, -by * s]])
        # Camera: calibration world -> af world, intrinsics of the crop (working pixels = scale x original).
        R = cam.R @ A.T
        t_ = cam.R @ o + cam.t
        K = cam.K * view.scale
        f = 0.5 * (K[0, 0] + K[1, 1]) * s
        c = Camera(R, t_, cfg.size, cfg.size, f, f, (K[0, 2] - bx) * s, (K[1, 2] - by) * s)
        row = camera_to_row(c)
        for t in use:
            img = view.images[t].astype(np.float32) / 255
            m = cv2.warpAffine(view.masks[t].astype(np.float32) / 255, warp, (cfg.size, cfg.size), flags=cv2.INTER_LINEAR)
            img = cv2.warpAffine(img, warp, (cfg.size, cfg.size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(float(x) for x in bg))
            m = (m > 0.5).astype(np.float32)
            images.append(np.round((img * m[..., None] + bg * (1 - m[..., None])) * 255).astype(np.uint8))
            masks.append((m * 255).astype(np.uint8))
            rows.append(row)
            split.append(2 if held else (1 if t >= cfg.holdout_after * T else 0))
            view_of.append(v)
            frame_of.append(t)
    meta = {"source": "multiview", "cameras": [c.name for c in mv.cameras], "views": counts,
            "holdout_views": list(cfg.holdout_views), "fps": mv.fps, "frames": T,
            "view_of_frame": view_of, "frame_index": frame_of,
            "skipped": [{"camera": mv.cameras[v].name, **s} for v in range(len(mv.views)) for s in mv.views[v].skipped]}
    return AvatarDataset(images=np.stack(images), masks=np.stack(masks), joints=joints[frame_of].astype(np.float32),
                         cameras=np.stack(rows), split=np.array(split, np.uint8), background=bg, meta=meta)
