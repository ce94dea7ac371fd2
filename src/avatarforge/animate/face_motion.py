"""The face's motion per video frame, as the animation consumes it, and the function that
produces it for now.

:class:`FaceMotion` is the interface: per frame the 52 ARKit action weights (canonical order,
:data:`export.face_shapes.ARKIT_BLENDSHAPES`), the head's rotation and each eye's gaze (the
face fit's ``pose.head.*`` / ``pose.eye.*`` values: degrees, extrinsic X-Y-Z in avatarforge's
axes, the head relative to the camera-facing rest head, the eyes relative to the head), a
valid mask and the frame rate; :func:`face_motion_from_frames` produces it with the
shared video face tracker (``fitting.face_track``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from jaxtyping import Bool, Float

__all__ = ["FaceMotion", "face_motion_from_frames", "relative_to_neutral", "euler_xyz_matrix",
           "MAX_BASELINE"]


@dataclass
class FaceMotion:
    """Face tracking results per frame (F frames)."""

    weights: Float[np.ndarray, "F 52"]
    """ARKit action weights in [0, 1], :data:`export.face_shapes.ARKIT_BLENDSHAPES` order."""
    head: Float[np.ndarray, "F 3"]
    """Head rotation, degrees, extrinsic X (pitch), Y (yaw), Z (roll) in avatarforge's axes
    (``pose.head.x/y/z``)."""
    gaze: Float[np.ndarray, "F 2 2"]
    """Eye rotation relative to the head, degrees, [left eye, right eye] x [x (down), y (sideways)]."""
    valid: Bool[np.ndarray, " F"]
    """Frames where a face was found (the other rows hold zeros)."""
    fps: float

    def __len__(self) -> int:
        return int(len(self.valid))

    @classmethod
    def empty(cls, n: int, fps: float) -> "FaceMotion":
        return cls(np.zeros((n, 52)), np.zeros((n, 3)), np.zeros((n, 2, 2)), np.zeros(n, bool), fps)


def euler_xyz_matrix(angles_deg: Float[np.ndarray, "F 3"]) -> Float[np.ndarray, "F 3 3"]:
    """R = Rz Ry Rx (extrinsic X, then Y, then Z; degrees): the body model's pose convention."""
    import torch

    from avatarforge.bodies.rotation import euler_xyz_to_matrix

    return euler_xyz_to_matrix(torch.as_tensor(np.asarray(angles_deg, np.float64))).numpy()


#: Largest per-action baseline removed as the performer's neutral (a clip where the eyes are
#: shut most of the time must not turn its blinks into a neutral face).
MAX_BASELINE = 0.25


def relative_to_neutral(motion: FaceMotion, baseline_percentile: float = 5.0) -> FaceMotion:
    """Retarget relative to the performer's neutral face: each action weight is measured from
    its ``baseline_percentile`` over the valid frames (a resting face that the fit reads as a
    slight squint or smile maps to 0; at most :data:`MAX_BASELINE`) and rescaled to keep 1 at 1;
    the head rotation is taken
    relative to its median (the performer's usual head pose faces the camera)."""
    if not motion.valid.any():
        return motion
    v = motion.valid
    base = np.minimum(np.percentile(motion.weights[v], baseline_percentile, axis=0), MAX_BASELINE)
    weights = np.clip((motion.weights - base) / np.maximum(1.0 - base, 1e-6), 0.0, 1.0)
    from scipy.spatial.transform import Rotation

    rots = Rotation.from_euler("xyz", motion.head, degrees=True)
    neutral = Rotation.from_euler("xyz", np.median(motion.head[v], axis=0), degrees=True)
    head = (rots * neutral.inv()).as_euler("xyz", degrees=True)
    gaze = motion.gaze - np.median(motion.gaze[v], axis=0)
    weights[~v], head[~v], gaze[~v] = 0.0, 0.0, 0.0
    return FaceMotion(weights, head, gaze, v.copy(), motion.fps)


def face_motion_from_frames(frames: Iterable[np.ndarray], fps: float, body=None,
                            progress: Callable[[int], None] | None = None) -> FaceMotion:
    """Per-frame face motion from the shared video face tracker
    (:func:`avatarforge.fitting.face_track.track_face_frames`: the full face fit on the first
    frame with a face, then a few warm-started steps per frame on the expression, head and eye
    rotation). Frames where no face is found are marked invalid."""
    from avatarforge.export.face_shapes import ARKIT_BLENDSHAPES
    from avatarforge.fitting.face_track import track_face_frames
    from avatarforge.pipeline.face import resolve_body

    body = resolve_body(body)
    track = track_face_frames(frames, body, fps=fps, progress=None if progress is None else lambda i: progress(i - 1))
    n = len(track)
    if n == 0:
        return FaceMotion.empty(0, fps)
    index = {name: i for i, name in enumerate(track.expression_names)}
    weights = np.zeros((n, 52))
    for k, name in enumerate(ARKIT_BLENDSHAPES):
        if name in index:
            weights[:, k] = track.expression[:, index[name]]
    valid = track.found.copy()
    # The eyes' blink from the lid gap itself (see blink_from_openness), per eye; ARKit's
    # eyeBlinkLeft is the subject's left eye, as eye_openness().left.
    from avatarforge.perception.face_metrics import blink_from_openness, eye_openness

    gaps = np.full((n, 2), np.nan)
    for i, pts in enumerate(track.landmarks[:n]):
        if pts is not None and valid[i]:
            e = eye_openness(pts)
            gaps[i] = e.left, e.right
    blink = blink_from_openness(gaps, valid)
    for k, name in enumerate(("eyeBlinkLeft", "eyeBlinkRight")):
        weights[:, ARKIT_BLENDSHAPES.index(name)] = blink[:, k]
    head, gaze = track.head.copy(), track.eyes[:, :, :2].copy()
    weights[~valid], head[~valid], gaze[~valid] = 0.0, 0.0, 0.0
    return FaceMotion(weights, head, gaze, valid, fps)
