"""Expression and head-pose measurements from the 478 face landmarks (to drive a talking head).

All functions take ``points`` as returned by :func:`.face_landmarks` (``(478, 3)``, x right,
y down, z = depth in pixel units, smaller = closer to the camera). Ratios use 3D distances,
so they change little when the head turns.

Head-pose conventions (angles in degrees, 0 = facing the camera squarely, upright):

* **yaw** > 0: the subject turns to THEIR left (their nose moves toward the image's right);
* **pitch** > 0: the subject looks up (chin up, nose moves toward the image's top);
* **roll** > 0: the head tilts toward the subject's LEFT shoulder (the image's right: the
  top of the head moves right, the eye line turns clockwise on screen).

They are intrinsic Y-X-Z Euler angles of the head rotation ``R = Ry(yaw) Rx(-pitch)
Rz(-roll)`` in the viewer frame (x = image right, y = image up, z = toward the camera).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from jaxtyping import Bool, Float

from avatarforge.errors import UserInputError
from avatarforge.perception import landmark_groups as lg
from avatarforge.util.geometry import umeyama

__all__ = ["EyeOpenness", "HeadPose", "eye_openness", "mouth_openness", "head_pose_angles", "blink_from_openness",
           "RIGID_IDS", "RIGID_REST", "CLOSED_EYE_FRACTION"]

Points = Float[np.ndarray, "478 3"]

# The part of the face that does not move with expressions: eye corners, nose, and the face
# oval from one ear over the forehead to the other (brows, lids, lips and jaw left out).
RIGID_IDS = np.array(sorted({33, 133, 263, 362, *lg.NOSE, *lg.FACE_OVAL[:9], *lg.FACE_OVAL[-8:]}))


def _rigid_rest() -> np.ndarray:
    """The rigid landmarks on the embedded body's reference face (metres, x = subject's
    left, y up, z out of the face), from the shipped landmark embedding."""
    from importlib import resources

    with resources.files("avatarforge.data").joinpath("anny_landmarks.npz").open("rb") as f:
        ref = np.load(f)["mediapipe478_reference"].astype(np.float64)
    # Made exactly left/right symmetric (the back-projected landmarks carry mm-level noise):
    # average each point with the mirror image of its mirror partner (nearest mirrored point).
    mirrored = ref * [-1.0, 1.0, 1.0]
    partner = np.linalg.norm(ref[:, None] - mirrored[None], axis=-1).argmin(1)
    ref = (ref + mirrored[partner]) / 2
    return ref[RIGID_IDS]


RIGID_REST = _rigid_rest()
"""Rest positions of :data:`RIGID_IDS` (model frame, metres), left/right symmetric."""
_TO_VIEWER = np.array([1.0, -1.0, -1.0])
"""Image frame (x right, y down, z away) -> viewer frame (x right, y up, z toward camera)."""


@dataclass(frozen=True)
class EyeOpenness:
    """Mean lid gap over eye width, per eye (about 0.25-0.35 open, below ~0.1 closed)."""

    left: float
    """The subject's left eye (on the image's right)."""
    right: float
    """The subject's right eye."""

    @property
    def mean(self) -> float:
        return (self.left + self.right) / 2


@dataclass(frozen=True)
class HeadPose:
    """Head orientation; see the module docstring for the sign conventions."""

    yaw: float
    """Degrees, > 0 = turned to the subject's left."""
    pitch: float
    """Degrees, > 0 = looking up."""
    roll: float
    """Degrees, > 0 = tilted toward the subject's left shoulder."""
    rotation: Float[np.ndarray, "3 3"]
    """Rest face -> posed face, in the viewer frame; its columns are the face's left, up and
    forward axes (x right, y up, z toward the camera)."""


def _points(points: Points) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 468 or p.shape[1] != 3:
        raise UserInputError(f"face points must be (478, 3) from face_landmarks(), got {p.shape}")
    return p


def _gap_ratio(p: np.ndarray, upper: list[int], lower: list[int], width: float) -> float:
    """Mean distance between facing interior points of two corner-to-corner paths / width."""
    gaps = np.linalg.norm(p[upper[1:-1]] - p[lower[1:-1]], axis=1)
    return float(gaps.mean() / width) if width > 0 else 0.0


def eye_openness(points: Points) -> EyeOpenness:
    """Per eye: mean distance between the upper and lower lid points facing each other,
    divided by the distance between the eye's corners."""
    p = _points(points)

    def one(upper: list[int], lower: list[int]) -> float:
        return _gap_ratio(p, upper, lower, float(np.linalg.norm(p[upper[0]] - p[upper[-1]])))

    return EyeOpenness(
        left=one(lg.LEFT_EYE_UPPER, lg.LEFT_EYE_LOWER), right=one(lg.RIGHT_EYE_UPPER, lg.RIGHT_EYE_LOWER)
    )


#: :func:`eye_openness` of a shut eye as a fraction of the same eye open: MediaPipe reads
#: 0.03-0.04 for closed lids where open ones read 0.16-0.31 (WolfgangLanger_Pexels.mp4, 1st vs
#: 50th-99th percentiles), and 0.08 on the avatar's own render with eyeBlink = 1 (vs 0.21 open).
CLOSED_EYE_FRACTION = 0.2


def blink_from_openness(openness: Float[np.ndarray, "N 2"], valid: Bool[np.ndarray, " N"],
                        open_percentile: float = 75.0) -> Float[np.ndarray, "N 2"]:
    """How shut each eye is per frame, in [0, 1] (ARKit eyeBlink), from the measured lid gap
    (``openness``: :func:`eye_openness` per frame, left and right) relative to the performer's
    own open eye, the ``open_percentile`` of the valid frames per eye: 0 at or above it, 1 at
    :data:`CLOSED_EYE_FRACTION` of it and below, linear in between; 0 on invalid frames.

    The lid gap is what a viewer sees; a face-model fit reaches it only through the model's
    lid shapes and their landmark embedding, which close less than a real eye."""
    o = np.asarray(openness, np.float64)
    v = np.asarray(valid, bool) & np.isfinite(o).all(1)
    out = np.zeros_like(o)
    if not v.any():
        return out
    top = np.percentile(o[v], open_percentile, axis=0)
    span = np.maximum(top * (1.0 - CLOSED_EYE_FRACTION), 1e-6)
    out[v] = np.clip((top - o[v]) / span, 0.0, 1.0)
    return out


def mouth_openness(points: Points) -> float:
    """Mean gap between the inner lips (upper and lower points facing each other) divided by
    the mouth width (outer corners): about 0 closed, 0.3-0.6 wide open."""
    p = _points(points)
    width = float(np.linalg.norm(p[lg.MOUTH_LEFT] - p[lg.MOUTH_RIGHT]))
    return _gap_ratio(p, lg.LIPS_INNER_UPPER, lg.LIPS_INNER_LOWER, width)


def head_pose_angles(points: Points) -> HeadPose:
    """Approximate yaw, pitch and roll from the 3D landmarks.

    The rigid landmarks (eye corners, nose, upper face oval) are aligned to the embedded
    body's reference face by orthogonal Procrustes (Kabsch, with free scale); the rotation found is
    split into Euler angles. Accuracy is that of mediapipe's relative depth: a few degrees.
    """
    p = _points(points)[RIGID_IDS] * _TO_VIEWER
    rot = umeyama(RIGID_REST, p, scale=False)[0]  # rest -> posed
    yaw = math.degrees(math.atan2(rot[0, 2], rot[2, 2]))
    pitch = math.degrees(math.asin(float(np.clip(rot[1, 2], -1.0, 1.0))))
    roll = -math.degrees(math.atan2(rot[1, 0], rot[1, 1]))
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll, rotation=rot)
