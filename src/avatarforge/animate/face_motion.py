"""The face's motion per video frame, as the animation consumes it, and the adapter that
produces it for now.

:class:`FaceMotion` is the interface: per frame the 52 ARKit action weights (canonical order,
:data:`export.face_shapes.ARKIT_BLENDSHAPES`), the head's rotation and each eye's gaze (the
face fit's ``pose.head.*`` / ``pose.eye.*`` values: degrees, extrinsic X-Y-Z in avatarforge's
axes, the head relative to the camera-facing rest head, the eyes relative to the head), a
valid mask and the frame rate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from jaxtyping import Bool, Float

__all__ = ["FaceMotion", "face_motion_from_frames", "relative_to_neutral", "euler_xyz_matrix",
           "ADAPTER_FIT_STEPS", "MAX_BASELINE"]


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


#: Adam steps (rigid, full) of the per-frame face fit in the adapter (the photo fit's
#: defaults are 60 + 200: too slow per video frame).
ADAPTER_FIT_STEPS = (25, 45)


def face_motion_from_frames(frames: Iterable[np.ndarray], fps: float, body=None,
                            progress: Callable[[int], None] | None = None) -> FaceMotion:
    """Per-frame face tracking by running the photo face fit on every frame.

    ADAPTER: this is the stand-in the lead points at the shared video face tracker (branch
    ``portrait``, issue 17) when both branches merge; nothing else here depends on how the
    values are found. ``fitting.face_fit.fit_face`` has no warm start (it always starts from
    the mean face), so each frame is fitted from scratch with fewer steps
    (:data:`ADAPTER_FIT_STEPS`); frames where no face is found are marked invalid.
    """
    from avatarforge.errors import UserInputError
    from avatarforge.export.face_shapes import ARKIT_BLENDSHAPES
    from avatarforge.fitting.face_fit import FaceFitConfig, fit_face
    from avatarforge.perception.face import face_landmarks
    from avatarforge.pipeline.face import resolve_body

    body = resolve_body(body)
    cfg = FaceFitConfig(rigid_steps=ADAPTER_FIT_STEPS[0], full_steps=ADAPTER_FIT_STEPS[1], fit_focal=False)
    weights, head, gaze, valid = [], [], [], []
    for i, rgb in enumerate(frames):
        try:
            lm = face_landmarks(rgb)
        except UserInputError:
            lm = None
        if lm is None:
            weights.append(np.zeros(52))
            head.append(np.zeros(3))
            gaze.append(np.zeros((2, 2)))
            valid.append(False)
        else:
            vals = fit_face(lm.points, lm.image_size, body, cfg).values
            weights.append([vals.get(n, 0.0) for n in ARKIT_BLENDSHAPES])
            head.append([vals.get(f"pose.head.{a}", 0.0) for a in "xyz"])
            gaze.append([[vals.get(f"pose.eye.{s}.{a}", 0.0) for a in "xy"] for s in "LR"])
            valid.append(True)
        if progress is not None:
            progress(i)
    n = len(valid)
    if n == 0:
        return FaceMotion.empty(0, fps)
    return FaceMotion(np.asarray(weights, np.float64), np.asarray(head, np.float64), np.asarray(gaze, np.float64),
                      np.asarray(valid, bool), fps)
