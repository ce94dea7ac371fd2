"""Drive a portrait from a face video: track, measure, smooth, pose, write an MP4.

Per frame, the bundled MediaPipe face mesh gives 478 landmarks; :mod:`avatarforge.perception.face_metrics`
turns them into eye and mouth openness ratios and head angles, mapped to the six pose values:

* eye closure = 1 - (ratio - EYE_CLOSED) / (EYE_OPEN - EYE_CLOSED), clamped to [0, 1];
* mouth = (ratio - MOUTH_CLOSED) / (MOUTH_OPEN - MOUTH_CLOSED), clamped;
* head_x = -pitch / 15 deg, head_y = yaw / 15 deg, neck_z = -roll / 15 deg, clamped to [-1, 1]
  (the subject's left is the character's left: no mirroring).

Frames without a face keep the previous pose. Poses are smoothed with a one-pole filter
``s_t = a * x_t + (1 - a) * s_(t-1)`` (``a`` = :attr:`DriveConfig.smoothing`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from avatarforge.errors import UserInputError
from avatarforge.portrait.pose import MAX_DEGREES, POSE_NAMES, TalkingPose

__all__ = ["DriveConfig", "DriveResult", "pose_from_landmarks", "smooth_poses", "track_poses", "drive_video",
           "EYE_OPEN", "EYE_CLOSED", "MOUTH_OPEN", "MOUTH_CLOSED"]

EYE_OPEN, EYE_CLOSED = 0.26, 0.10
MOUTH_CLOSED, MOUTH_OPEN = 0.03, 0.45


@dataclass
class DriveConfig:
    """Options of :func:`drive_video`."""

    smoothing: float = 0.5
    """Weight of the new frame in the one-pole filter (1 = no smoothing)."""
    max_frames: int | None = None
    """Stop after this many frames."""
    side_by_side: bool = True
    """Put the driving frame (resized) left of the result."""
    background: tuple[int, int, int] = (255, 255, 255)
    """Colour behind the transparent parts of the result."""


@dataclass
class DriveResult:
    path: str
    n_frames: int
    fps: float
    tracked: int
    """Frames where a face was found."""
    poses: np.ndarray
    """(N, 6) smoothed poses used."""


def _clip01(x: float) -> float:
    return float(min(max(x, 0.0), 1.0))


def pose_from_landmarks(points: np.ndarray) -> TalkingPose:
    """The six pose values measured from one face's 478 landmarks (see the module docstring)."""
    from avatarforge.perception.face_metrics import eye_openness, head_pose_angles, mouth_openness

    eyes = eye_openness(points)
    head = head_pose_angles(points)
    closed = lambda r: 1 - _clip01((r - EYE_CLOSED) / (EYE_OPEN - EYE_CLOSED))  # noqa: E731
    return TalkingPose.clipped(
        head_x=-head.pitch / MAX_DEGREES, head_y=head.yaw / MAX_DEGREES, neck_z=-head.roll / MAX_DEGREES,
        left_eye=closed(eyes.left), right_eye=closed(eyes.right),
        mouth=_clip01((mouth_openness(points) - MOUTH_CLOSED) / (MOUTH_OPEN - MOUTH_CLOSED)),
    )


def smooth_poses(poses: Iterable[TalkingPose | None], a: float = 0.5) -> np.ndarray:
    """One-pole smoothing; ``None`` (no face) repeats the last pose (rest before the first face)."""
    if not 0 < a <= 1:
        raise UserInputError(f"smoothing must be in (0, 1], got {a}")
    out, state, last = [], None, TalkingPose().vector()
    for p in poses:
        x = last if p is None else p.vector()
        last = x
        state = x if state is None else a * x + (1 - a) * state
        out.append(state.copy())
    return np.asarray(out, np.float32).reshape(-1, len(POSE_NAMES))


def track_poses(frames: Iterable[np.ndarray], progress: Callable[[int], None] | None = None) -> list[TalkingPose | None]:
    """Raw per-frame poses (None where no face was found)."""
    from avatarforge.perception.face import face_landmarks

    out: list[TalkingPose | None] = []
    for i, f in enumerate(frames):
        try:
            out.append(pose_from_landmarks(face_landmarks(f).points))
        except UserInputError:
            out.append(None)
        if progress:
            progress(i + 1)
    return out


def drive_video(poser, portrait_rgba: np.ndarray, video: str | os.PathLike, out: str | os.PathLike,
                cfg: DriveConfig | None = None, progress: Callable[[str, int, int], None] | None = None) -> DriveResult:
    """Animate ``portrait_rgba`` (a framed portrait) with the face in ``video``; writes ``out`` (.mp4)."""

    from avatarforge.fitting.face_track import require_face_frames
    from avatarforge.portrait.image import beside, composite
    from avatarforge.util.video import probe_video, read_frames, write_mp4

    cfg = cfg or DriveConfig()  # a fresh default per call (a default instance would be shared)

    info = probe_video(video)
    n = info.n_frames if cfg.max_frames is None else min(info.n_frames, cfg.max_frames)
    # Two passes over the file (track, then render) so long videos are never held in memory.
    raw = track_poses(read_frames(video, max_frames=cfg.max_frames), (lambda i: progress("track", i, n)) if progress else None)
    n = len(raw)
    found = np.array([p is not None for p in raw], dtype=bool)
    require_face_frames(found, video)
    tracked = int(found.sum())
    poses = smooth_poses(raw, cfg.smoothing)

    def render():
        for i, (f, p) in enumerate(zip(read_frames(video, max_frames=cfg.max_frames), poses)):
            img = composite(poser.pose_image(portrait_rgba, TalkingPose.from_vector(p)), cfg.background)
            if cfg.side_by_side:
                img = beside(f, img)
            if progress:
                progress("render", i + 1, n)
            yield img

    write_mp4(out, render(), fps=info.fps)
    return DriveResult(path=str(out), n_frames=n, fps=info.fps, tracked=tracked, poses=poses)
