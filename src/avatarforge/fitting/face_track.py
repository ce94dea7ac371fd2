"""Track a face through a video: the face fit's expression, head and eye rotation per frame.

The first frame with a face gets the full fit (:func:`.face_fit.fit_face_state`: identity,
expression, head pose, camera). Every later frame keeps that identity and camera and moves
only the expression (the 52 ARKit actions), the head rotation, the eye rotation and the head's
translation, with a few Gauss-Newton iterations of the same objective warm-started from the
previous frame (:mod:`.face_solve`: a few milliseconds each), and the landmarks come from the
landmark model alone on the region the previous frame's points give (MediaPipe's tracking
mode; :func:`avatarforge.perception.face.track_face_landmarks`), re-detecting only when that
loses the face, so tracking runs at video rate. Frames without a detected face are marked ``found = False`` and hold the
previous values (a caller decides how to ease them back).

The result is what an animator needs per frame: :class:`FaceTrack` (used by
``portrait drive`` and reusable by any command that animates from a face video).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from jaxtyping import Bool, Float

from avatarforge.errors import UserInputError
from avatarforge.fitting.face_fit import FaceFit, FaceFitConfig, fit_face_state

__all__ = ["FaceTrackConfig", "FaceFrame", "FaceTrack", "FaceTracker", "track_face_frames", "track_face_video",
           "MIN_FACE_FRACTION", "require_face_frames"]

MIN_FACE_FRACTION = 0.25
"""Share of a driving video's frames that must show a face: fewer are taken for detector false
positives on a video without a person (a cartoon intro fires the face detector on 7 of 95
frames), as ``animate`` does for a face or a body (``AnimateConfig.min_person_fraction``)."""


@dataclass
class FaceTrackConfig:
    """Settings of :class:`FaceTracker`."""

    steps: int = 2
    """Gauss-Newton (Levenberg-Marquardt) iterations per frame after the first, warm-started
    from the previous frame (:class:`.face_solve.ExpressionPoseSolver`)."""
    first: FaceFitConfig = field(default_factory=FaceFitConfig)
    """The full fit of the first frame with a face."""


@dataclass(frozen=True)
class FaceFrame:
    """The face in one frame (model values; see ``pose.head.*`` / ``pose.eye.*`` of the body)."""

    expression: Float[np.ndarray, " 52"]
    """ARKit action values in [0, 1], in the body's ``expression_names`` order."""
    head: Float[np.ndarray, " 3"]
    """Head rotation, extrinsic XYZ Euler degrees in world axes (``pose.head.x/y/z``)."""
    eyes: Float[np.ndarray, "2 3"]
    """Eye rotations (left, right), degrees (``pose.eye.L.*``, ``pose.eye.R.*``)."""
    rmse_px: float
    """Landmark reprojection error of this frame, pixels."""


@dataclass
class FaceTrack:
    """Per-frame face parameters of a video (N frames)."""

    expression: Float[np.ndarray, "N 52"]
    head: Float[np.ndarray, "N 3"]
    eyes: Float[np.ndarray, "N 2 3"]
    found: Bool[np.ndarray, " N"]
    """Whether a face was detected (else the row repeats the previous one; zeros before the first)."""
    expression_names: tuple[str, ...]
    fps: float
    first_fit: FaceFit | None
    """The full fit of the first frame with a face (identity, camera); None when none had a face."""
    fit_seconds: float = 0.0
    """Time of that full fit."""
    seconds_per_frame: float = 0.0
    """Mean time per frame of the rest (detection + warm-started fit)."""
    landmarks: list = field(default_factory=list)
    """Per frame, the (478, 3) detected points or None."""

    def __len__(self) -> int:
        return len(self.found)


class FaceTracker:
    """Incremental tracker: :meth:`update` with each frame's detected landmarks."""

    def __init__(self, body=None, config: FaceTrackConfig | None = None):
        from avatarforge.bodies import load_body

        self.body = body or load_body()
        self.cfg = config or FaceTrackConfig()
        self.prob = None
        self.state = None
        self.solver = None
        self.x: np.ndarray | None = None
        self.first_fit: FaceFit | None = None

    def update(self, points: Float[np.ndarray, "478 3"], image_size: tuple[int, int]) -> FaceFrame:
        """Fit one frame's landmarks (pixels, as from ``perception.face.face_landmarks``)."""
        from avatarforge.fitting.face_solve import ExpressionPoseSolver
        from avatarforge.util.threads import torch_threads

        points = np.asarray(points, dtype=np.float64)
        if self.prob is None or tuple(self.prob.size) != tuple(image_size):
            with torch_threads(1):
                self.prob, self.state, self.first_fit = fit_face_state(points, image_size, self.body, self.cfg.first)
            s = self.state
            self.solver = ExpressionPoseSolver(self.prob, s.phen, s.local_sub, s.log_f)
            self.x = ExpressionPoseSolver.pack(s)
        else:
            self.prob.set_points(points)
            self.x, _ = self.solver.solve(self.x, *self.solver.contour(self.x), iterations=self.cfg.steps)
            ExpressionPoseSolver.unpack(self.x, self.state)
        uv = self.solver.landmarks_uv(self.x)
        err = float(np.sqrt(((uv - points[:, :2]) ** 2).sum(-1).mean()))
        s = self.state
        return FaceFrame(expression=s.expr[0].numpy().astype(np.float64).copy(),
                         head=s.head_rot[0].numpy().astype(np.float64).copy(),
                         eyes=s.eye_rot[0].numpy().astype(np.float64).copy(), rmse_px=err)


def track_face_frames(frames: Iterable[np.ndarray], body=None, config: FaceTrackConfig | None = None,
                      fps: float = 25.0, progress: Callable[[int], None] | None = None) -> FaceTrack:
    """Track the largest face through RGB frames (see the module docstring)."""
    from avatarforge.perception.face import follow_face_landmarks

    tracker = FaceTracker(body, config)
    expr, head, eyes, found, points = [], [], [], [], []
    last = None
    previous = None  # the last frame's points, for the landmark model's tracking ROI
    t_fit, t_rest, n_rest = 0.0, 0.0, 0
    for i, frame in enumerate(frames):
        t0 = time.perf_counter()
        lm = previous = follow_face_landmarks(frame, previous)
        if lm is not None:
            first = tracker.prob is None
            last = tracker.update(lm, (frame.shape[1], frame.shape[0]))
            dt = time.perf_counter() - t0
            if first:
                t_fit = dt
            else:
                t_rest, n_rest = t_rest + dt, n_rest + 1
        found.append(lm is not None)
        points.append(lm)
        if last is None:
            expr.append(np.zeros(52)), head.append(np.zeros(3)), eyes.append(np.zeros((2, 3)))
        else:
            expr.append(last.expression), head.append(last.head), eyes.append(last.eyes)
        if progress:
            progress(i + 1)
    if not found:
        raise UserInputError("the video has no frame")
    return FaceTrack(np.array(expr), np.array(head), np.array(eyes), np.array(found, dtype=bool),
                     tuple(tracker.body.expression_names), float(fps), tracker.first_fit, t_fit,
                     t_rest / max(n_rest, 1), points)


def track_face_video(video: str | os.PathLike, body=None, config: FaceTrackConfig | None = None,
                     max_frames: int | None = None, progress: Callable[[int], None] | None = None) -> FaceTrack:
    """Track the face of a video file (every frame, up to ``max_frames``).

    Raises:
        UserInputError: the file is not a readable video, or fewer than :data:`MIN_FACE_FRACTION`
            of its frames show a face.
    """
    from avatarforge.util.video import probe_video, read_frames

    info = probe_video(video)
    track = track_face_frames(read_frames(video, max_frames=max_frames), body, config, info.fps, progress)
    require_face_frames(track.found, video)
    return track


def require_face_frames(found: np.ndarray, video: str | os.PathLike) -> None:
    """Refuse a driving video (UserInputError) in which fewer than :data:`MIN_FACE_FRACTION` of
    the frames (``found``: per frame, whether a face was found) show a face."""
    found = np.asarray(found, dtype=bool)
    if found.sum() < MIN_FACE_FRACTION * max(len(found), 1):
        raise UserInputError(f"no face found in {os.path.basename(str(video))}: a face in only {int(found.sum())} of "
                             f"{len(found)} frames (at least {MIN_FACE_FRACTION:.0%} needed); give a video of a face "
                             "looking at the camera")
