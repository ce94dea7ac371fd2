"""Drive a photo's mesh animator from a face video: track, retarget, smooth, render.

The driver is tracked with :func:`avatarforge.fitting.face_track.track_face_video` (the face
fit's 52 ARKit actions, head and eye rotation per frame). Retargeting is relative to a neutral
frame of the driver (the first with a face, or ``neutral_frame``): per frame the photo gets

* every facial action except the eye ones and ``tongueOut``: the photo's fitted value + (driver - neutral), clamped to [0, 1];
* eye closure from the driver's measured lid gap (:func:`avatarforge.perception.face_metrics.eye_openness`,
  more reliable on real lids than the fit's blink action): ``eyeBlink = photo + (1 - photo) *
  clamp((open_neutral - open) / (open_neutral - EYE_SHUT))``;
* head rotation: driver - neutral (degrees, clamped to +-``max_head``); gaze: the mean eye rotation, driver - neutral.

The per-frame deltas are smoothed with a one-pole filter (``a`` = new frame's weight); frames
without a face hold the last deltas, easing back to the photo's own pose by ``ease`` per frame.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from avatarforge.errors import UserInputError
from avatarforge.portrait.mesh_animator import FacePose, MeshAnimator

__all__ = ["MeshDriveConfig", "MeshDriveResult", "retarget", "drive_video_mesh", "EYE_SHUT"]

EYE_SHUT = 0.08
"""Lid gap / eye width of a shut eye, as measured by the face mesh."""
_EYE_ACTIONS = ("eyeBlink", "eyeLook", "eyeSquint", "eyeWide")
_NOT_RETARGETED = ("tongueOut",)
"""Not passed on: the photo has no tongue to show (the fit's tongue is noise on most drivers)."""
_GAZE_MAX = 25.0


@dataclass
class MeshDriveConfig:
    """Options of :func:`drive_video_mesh`."""

    smoothing: float = 0.6
    """Weight of the new frame in the one-pole filter (1 = no smoothing)."""
    ease: float = 0.15
    """Per frame without a face, the fraction of the way back to the photo's own pose."""
    neutral_frame: int | None = None
    """Driver frame taken as neutral (None: the first with a face)."""
    max_frames: int | None = None
    """Stop after this many frames."""
    side_by_side: bool = True
    """Put the driving frame (resized to the photo's height) left of the result."""
    track_steps: int = 2
    """Warm-started solver iterations per driver frame (``fitting.face_track``)."""
    max_head: float = 20.0
    """Head rotation passed on is clamped to +-this many degrees per axis (a photo warped
    further turns into a pasted-on face)."""


@dataclass
class MeshDriveResult:
    path: str
    n_frames: int
    fps: float
    tracked: int
    """Frames where a face was found."""
    poses: list[FacePose]
    """The pose rendered at each frame."""
    track: object
    """The driver's :class:`~avatarforge.fitting.face_track.FaceTrack`."""


def _eye_open(points) -> tuple[float, float]:
    from avatarforge.perception.face_metrics import eye_openness

    e = eye_openness(points)
    return e.left, e.right


def retarget(track, animator: MeshAnimator, *, neutral_frame: int | None = None, smoothing: float = 0.6,
             ease: float = 0.15, max_head: float = 20.0) -> list[FacePose]:
    """The photo's pose per driver frame (see the module docstring)."""
    if not 0 < smoothing <= 1:
        raise UserInputError(f"smoothing must be in (0, 1], got {smoothing}")
    found = np.asarray(track.found)
    if not found.any():
        raise UserInputError("the driving video shows no face")
    if neutral_frame is None:
        n0 = int(np.flatnonzero(found)[0])
    else:
        n0 = int(neutral_frame)
        if not 0 <= n0 < len(found):
            raise UserInputError(f"--neutral-frame {n0} is outside the video's {len(found)} frames")
        if not found[n0]:
            raise UserInputError(f"no face in the neutral frame {n0}: choose a frame where the face is visible")
    names = list(track.expression_names)
    if names != list(animator.expression_names):
        raise UserInputError("the driver was tracked with another body model")
    keep = np.array([not n.startswith(_EYE_ACTIONS) and n not in _NOT_RETARGETED for n in names])
    e_photo = animator.expr0[0].numpy().astype(np.float64)
    open_n = np.array(_eye_open(track.landmarks[n0]))
    ref = np.concatenate([track.expression[n0], track.head[n0], track.eyes[n0].mean(0)[:2]])
    state, last = None, np.zeros(len(ref) + 2)
    out: list[FacePose] = []
    for i in range(len(found)):
        if found[i]:
            cur = np.concatenate([track.expression[i], track.head[i], track.eyes[i].mean(0)[:2]])
            shut = (open_n - np.array(_eye_open(track.landmarks[i]))) / np.maximum(open_n - EYE_SHUT, 1e-3)
            x = np.concatenate([cur - ref, np.clip(shut, 0.0, 1.0)])
            last = x
        else:
            last = last * (1 - ease)
            x = last
        state = x if state is None else smoothing * x + (1 - smoothing) * state
        d = state
        expr = np.where(keep, np.clip(e_photo + d[:52], 0.0, 1.0), e_photo)
        actions = {n: float(v) for n, v, e in zip(names, expr, e_photo) if v != e}
        for side, k in (("Left", 0), ("Right", 1)):
            b0 = e_photo[names.index(f"eyeBlink{side}")]
            if d[57 + k] > 0:
                actions[f"eyeBlink{side}"] = float(b0 + (1 - b0) * d[57 + k])
        gaze = np.clip(d[55:57], -_GAZE_MAX, _GAZE_MAX)
        out.append(FacePose(actions=actions, head=tuple(float(v) for v in np.clip(d[52:55], -max_head, max_head)),
                            gaze=(float(gaze[0]), float(gaze[1]))))
    return out


def drive_video_mesh(animator: MeshAnimator, video: str | os.PathLike, out: str | os.PathLike,
                     cfg: MeshDriveConfig | None = None, progress: Callable[[str, int, int], None] | None = None,
                     track=None) -> MeshDriveResult:
    """Animate the animator's photo with the face in ``video``; writes ``out`` (.mp4).

    ``track``: a precomputed driver track (else tracked here).
    """

    from avatarforge.fitting.face_track import FaceTrackConfig, track_face_video
    from avatarforge.portrait.image import beside, composite
    from avatarforge.util.video import probe_video, read_frames, write_mp4

    cfg = cfg or MeshDriveConfig()
    info = probe_video(video)
    n = info.n_frames if cfg.max_frames is None else min(info.n_frames, cfg.max_frames)
    if track is None:
        track = track_face_video(video, animator.body, FaceTrackConfig(steps=cfg.track_steps), cfg.max_frames,
                                 (lambda i: progress("track", i, n)) if progress else None)
    poses = retarget(track, animator, neutral_frame=cfg.neutral_frame, smoothing=cfg.smoothing, ease=cfg.ease,
                     max_head=cfg.max_head)
    n = len(poses)

    def render():
        for i, (f, p) in enumerate(zip(read_frames(video, max_frames=cfg.max_frames), poses)):
            img = animator.render(p)
            if img.shape[2] == 4:
                img = composite(img)
            if cfg.side_by_side:
                img = beside(f, img)
            if progress:
                progress("render", i + 1, n)
            yield img

    write_mp4(out, render(), fps=info.fps)
    return MeshDriveResult(path=str(out), n_frames=n, fps=info.fps, tracked=int(np.sum(track.found)), poses=poses,
                           track=track)
