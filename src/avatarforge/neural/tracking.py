"""Per-view person tracking that keeps back and side views.

Every frame of a view goes through MediaPipe's pose model (:func:`perception.pose.detect_pose`,
33 landmarks, world landmarks, person mask). Unlike a full-body photo fit, a frame is *not*
dropped because the visibility scores are low (from behind or from the side they are): it is
kept whenever a pose is found. Then, over the whole view:

1. **left/right swaps** (:func:`fix_swaps`): the pose model often labels a person seen from
   behind as if seen from the front for a few frames, exchanging the sides. Each frame is
   compared with the previous kept frame: when exchanging all left/right landmarks brings the
   pixels clearly closer (cost < ``swap_ratio`` x the unswapped cost), the frame is relabelled;
   the labelling most frames agree on wins (a wrong first frame does not flip the rest).
   Multi-view input decides swaps against the other views instead (see :mod:`.data_multiview`).
2. **gaps** (:func:`fill_gaps`): frames where the pose model finds nobody but the segmentation
   model sees a person (``min_person_fraction`` of the image) are *detector misses*; runs of at
   most ``max_gap`` of them between tracked frames get linearly interpolated landmarks (and the
   segmentation as mask). Frames with no person in the segmentation either are *out of view*.
3. Every frame not tracked is reported with its reason (``skipped``: frame index and reason).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from avatarforge.util.colour import float_to_uint8

__all__ = ["TrackingConfig", "ViewTrack", "detect_view", "fix_swaps", "fill_gaps", "swap_sides"]


@dataclass
class TrackingConfig:
    """How the person is followed through the frames of one view."""

    max_side: int = 640
    """Frames with a longer side are downscaled to this first (pixels below refer to it)."""
    max_gap: int = 8
    """Longest run of detector misses (person segmented, no pose) filled by interpolation."""
    min_person_fraction: float = 0.002
    """Fraction of the image the segmentation must cover for the person to count as in view."""
    swap_ratio: float = 0.6
    """A frame is relabelled when swapping left/right costs less than this x the unswapped cost."""


@dataclass
class ViewTrack:
    """The pose of the person through one view's frames (index = frame of the view)."""

    points: np.ndarray
    """(T, 33, 2) landmark pixels at the working size; NaN where not tracked."""
    world: np.ndarray
    """(T, 33, 3) MediaPipe world landmarks (hip-centred, camera axes, metres); NaN where not tracked."""
    visibility: np.ndarray
    """(T, 33) landmark visibility in [0, 1] (0 where not tracked; interpolated frames 0.5 x)."""
    status: np.ndarray
    """(T,) 0 out of view, 1 tracked (pose found), 2 interpolated across a detector miss, 3 missed
    (person segmented but the gap is too long to fill)."""
    masks: list
    """Person masks (uint8 0-255, working size) per frame, None where out of view."""
    images: list
    """Working-size RGB frames (kept only when asked, else None entries)."""
    scale: float
    """Working size / original size."""
    size: tuple[int, int]
    """(width, height) at the working size."""
    swaps_fixed: int = 0
    skipped: list[dict] = field(default_factory=list)
    """``{"frame": i, "reason": ...}`` for every frame without a pose."""

    @property
    def usable(self) -> np.ndarray:
        """(T,) bool: frames with a pose (tracked or interpolated)."""
        return (self.status == 1) | (self.status == 2)

    def counts(self) -> dict:
        """Frames tracked / in view (the figure the issue asks for)."""
        in_view = int((self.status > 0).sum())
        return {"frames": int(len(self.status)), "in_view": in_view, "tracked": int((self.status == 1).sum()),
                "interpolated": int((self.status == 2).sum()), "usable": int(self.usable.sum()),
                "swaps_fixed": int(self.swaps_fixed)}


def swap_sides(x: np.ndarray) -> np.ndarray:
    """Exchange the left and right landmarks (axis -2 for (..., 33, D), axis -1 for (..., 33))."""
    from avatarforge.perception.pose import PARTNER

    return x[..., PARTNER, :] if x.ndim >= 2 and x.shape[-1] in (2, 3) and x.shape[-2] == 33 else x[..., PARTNER]


def fix_swaps(points: np.ndarray, ok: np.ndarray, ratio: float = 0.6) -> np.ndarray:
    """(T,) bool: frames whose left/right labels should be exchanged so that consecutive kept
    frames (``ok``) agree (pixel distance of the sided landmarks to the previous frame)."""
    from avatarforge.perception.pose import PARTNER

    sided = np.flatnonzero(PARTNER != np.arange(33))
    flip = np.zeros(len(points), bool)
    prev = None
    for i in np.flatnonzero(ok):
        cur = points[i]
        if prev is not None:
            same = np.linalg.norm(cur[sided] - prev[sided], axis=1).sum()
            other = np.linalg.norm(cur[PARTNER][sided] - prev[sided], axis=1).sum()
            if other < ratio * same:
                flip[i] = True
                cur = cur[PARTNER]
        prev = cur
    if flip[ok].sum() * 2 > ok.sum():  # the first frame was the odd one out: keep the majority's labels
        flip[ok] = ~flip[ok]
    return flip


def fill_gaps(values: np.ndarray, ok: np.ndarray, fillable: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of ``values`` (T, ...) over runs of ``fillable`` frames of at most
    ``max_gap`` frames that have ``ok`` frames on both sides. Returns the values and the (T,)
    bool mask of filled frames."""
    out = values.copy()
    filled = np.zeros(len(values), bool)
    good = np.flatnonzero(ok)
    for a, b in zip(good[:-1], good[1:]):
        gap = np.arange(a + 1, b)
        if 0 < len(gap) <= max_gap and fillable[gap].all():
            w = ((gap - a) / (b - a)).reshape(-1, *([1] * (values.ndim - 1)))
            out[gap] = (1 - w) * values[a] + w * values[b]
            filled[gap] = True
    return out, filled


def detect_view(frames: Iterable[np.ndarray], config: TrackingConfig | None = None, keep_images: bool = True) -> ViewTrack:
    """Track the person through one view's RGB frames (see the module docstring)."""
    import cv2

    from avatarforge.perception.pose import detect_pose
    from avatarforge.perception.segmentation import person_mask

    cfg = config or TrackingConfig()
    pts, wld, vis, status, masks, images, reasons = [], [], [], [], [], [], []
    scale, size = 1.0, None
    for frame in frames:
        scale = min(1.0, cfg.max_side / max(frame.shape[:2]))
        if scale < 1:
            frame = cv2.resize(frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)),
                               interpolation=cv2.INTER_AREA)
        size = (frame.shape[1], frame.shape[0])
        pose = detect_pose(frame, mirror_average=False)
        mask = pose.mask if pose is not None else None
        if mask is None:
            mask = person_mask(frame)
        covered = 0.0 if mask is None else float((mask > 0.5).mean())
        images.append(frame if keep_images else None)
        if pose is not None:
            pts.append(pose.points)
            wld.append(pose.world)
            vis.append(pose.visibility)
            status.append(1)
            masks.append(float_to_uint8(mask) if mask is not None else None)
            reasons.append(None)
            continue
        pts.append(np.full((33, 2), np.nan))
        wld.append(np.full((33, 3), np.nan))
        vis.append(np.zeros(33))
        if covered >= cfg.min_person_fraction:
            status.append(3)
            masks.append(float_to_uint8(mask))
            reasons.append(f"pose model found no pose (person segmented over {covered:.1%} of the image)")
        else:
            status.append(0)
            masks.append(None)
            reasons.append("person out of view (neither the pose nor the segmentation model finds one)")
    if size is None:
        from avatarforge.errors import UserInputError

        raise UserInputError("the video has no frames")
    points, world, visibility, st = np.array(pts, np.float64), np.array(wld, np.float64), np.array(vis, np.float64), np.array(status)
    ok = st == 1
    flip = fix_swaps(points, ok, cfg.swap_ratio)
    points[flip], world[flip], visibility[flip] = swap_sides(points[flip]), swap_sides(world[flip]), visibility[flip][:, _partner()]
    points, filled = fill_gaps(points, ok, st == 3, cfg.max_gap)
    world, _ = fill_gaps(world, ok, st == 3, cfg.max_gap)
    vis_f, _ = fill_gaps(visibility, ok, st == 3, cfg.max_gap)
    visibility[filled] = 0.5 * vis_f[filled]
    st[filled] = 2
    skipped = [{"frame": i, "reason": r + (" (gap too long to interpolate)" if st[i] == 3 else "")}
               for i, r in enumerate(reasons) if r is not None and st[i] != 2]
    return ViewTrack(points, world, visibility, st, masks, images, scale, size, int(flip.sum()), skipped)


def _partner() -> np.ndarray:
    from avatarforge.perception.pose import PARTNER

    return PARTNER
