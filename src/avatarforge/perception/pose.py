"""Full-body pose: mediapipe's 33 BlazePose landmarks, metric 3D landmarks and a person mask.

The legacy ``mp.solutions.pose`` graph runs with ``model_complexity=1`` ("full", the landmark
model bundled in the wheel; complexity 0 and 2 download their models, so they are never
used), ``static_image_mode=True`` (every photo on its own, no tracking) and segmentation on.
It finds ONE person: the most prominent. Like :mod:`.face`, the instance is created lazily
once per process by :mod:`._mediapipe` and driven under its lock, with its native log lines
captured.

Frames and units of :class:`BodyPose`:

* ``points``: ORIGINAL-image pixels, continuous (see :mod:`.image_io`): x right, y down.
  Images longer than :data:`DETECT_MAX_SIDE` are detected on a :func:`.detection_view` and
  mapped back (mediapipe's normalised coordinates times the original size).
* ``world``: metres, mediapipe's hip-centred frame, whose axes are the CAMERA's -- verified
  on renders with a known camera: x to the image's right, y down (the head has negative y),
  z away from the camera (the nose of a person facing the camera has negative z). The
  origin is the midpoint of the two hip landmarks. The scale is the network's estimate of
  a typical body, not a measurement: use directions, not lengths.
* ``mask``: (H, W) float32 in [0, 1] at the original size, 1 = person (bilinearly resized
  from the view).

"Left" and "right" are the SUBJECT's (landmark 11, the left shoulder, is on the image's
right in an unmirrored photo of a person facing the camera).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from jaxtyping import Float

from avatarforge.perception import _mediapipe
from avatarforge.perception.face_detect import ImageLike, as_rgb
from avatarforge.perception.image_io import detection_view

__all__ = [
    "POSE_LANDMARK_NAMES", "DETECT_MAX_SIDE", "MIN_VISIBILITY", "BodyPose", "detect_pose", "body_visible",
    "landmark_index", "PARTNER",
]

POSE_LANDMARK_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
"""mediapipe's 33 pose landmarks, in order; sides are the subject's."""

DETECT_MAX_SIDE = 1280
"""Images with a longer side are downscaled to this for detection (the model itself works on
a 256 px crop around the person, so more resolution buys nothing)."""

MIN_VISIBILITY = 0.5
"""Visibility above which :func:`body_visible` counts a landmark as seen."""

_BODY_CORE = ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_knee", "right_knee")


def landmark_index(name: str) -> int:
    """Index of a landmark in :data:`POSE_LANDMARK_NAMES`."""
    return POSE_LANDMARK_NAMES.index(name)


@dataclass
class BodyPose:
    """One person's pose landmarks and mask (frames: see the module docstring)."""

    points: Float[np.ndarray, "33 2"]
    """(x, y) in original-image pixels, x right, y down."""
    depth: Float[np.ndarray, "33"]
    """mediapipe's relative depth in the pixel scale of ``points`` (x's): smaller = closer
    to the camera, 0 at the hips' midpoint. Rough; prefer :attr:`world`."""
    visibility: Float[np.ndarray, "33"]
    """Likelihood in [0, 1] that the landmark is visible (in the image and not occluded)."""
    presence: Float[np.ndarray, "33"]
    """Likelihood in [0, 1] that the landmark is in the image at all."""
    world: Float[np.ndarray, "33 3"]
    """Metric 3D landmarks, hip-centred, camera axes (x right, y down, z away from the camera)."""
    mask: Float[np.ndarray, "H W"] | None
    """Person segmentation in [0, 1] at the original size (None if the graph gave none)."""
    image_size: tuple[int, int]
    """``(width, height)`` of the image the points refer to."""
    warnings: list[str] = field(default_factory=list)
    """Things the user should know, one line each."""

    def xy(self, name: str) -> np.ndarray:
        """(2,) pixel position of the landmark called ``name``."""
        return self.points[landmark_index(name)]


def _run(rgb: np.ndarray):
    return _mediapipe.run("pose", rgb)  # the shared Pose graph, created on first use


def _mirror_partner() -> np.ndarray:
    """Index of each landmark's left/right counterpart (itself for the nose)."""
    swapped = [n.replace("left", "#").replace("right", "left").replace("#", "right") for n in POSE_LANDMARK_NAMES]
    return np.array([POSE_LANDMARK_NAMES.index(n) for n in swapped])


PARTNER = _mirror_partner()
"""Index of each landmark's left/right counterpart (itself for the nose)."""


def _decode(result, width: int, height: int) -> BodyPose | None:
    """A mediapipe result on a view of a ``width x height`` image -> a BodyPose there."""
    if result.pose_landmarks is None:
        return None
    lm = result.pose_landmarks.landmark
    norm = np.array([[p.x, p.y, p.z] for p in lm], dtype=np.float64)
    # Normalised coordinates span the image's extent, which the view preserves: multiplying
    # by the ORIGINAL size maps back exactly (view_to_original would round the short side).
    points = norm[:, :2] * np.array([width, height], dtype=np.float64)
    depth = norm[:, 2] * width
    visibility = np.array([p.visibility for p in lm], dtype=np.float64)
    presence = np.array([p.presence for p in lm], dtype=np.float64)
    if result.pose_world_landmarks is not None:
        world = np.array([[p.x, p.y, p.z] for p in result.pose_world_landmarks.landmark], dtype=np.float64)
    else:  # pragma: no cover - the graph always pairs them
        world = np.full((33, 3), np.nan)
    mask = None
    if result.segmentation_mask is not None:
        m = np.asarray(result.segmentation_mask, dtype=np.float32)
        if m.shape != (height, width):
            m = cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR)
        mask = np.clip(m, 0.0, 1.0)
    return BodyPose(points, depth, visibility, presence, world, mask, (width, height))


def _unmirror(p: BodyPose) -> BodyPose:
    """A pose detected on the left-right mirror of an image -> the same pose in the image."""
    width = p.image_size[0]
    points = p.points[PARTNER].copy()
    points[:, 0] = width - points[:, 0]
    world = p.world[PARTNER] * np.array([-1.0, 1.0, 1.0])
    mask = None if p.mask is None else np.ascontiguousarray(p.mask[:, ::-1])
    return BodyPose(points, p.depth[PARTNER].copy(), p.visibility[PARTNER].copy(), p.presence[PARTNER].copy(),
                    world, mask, p.image_size)


def _average(a: BodyPose, b: BodyPose) -> BodyPose:
    mask = a.mask if a.mask is None or b.mask is None else (a.mask + b.mask) / 2
    return BodyPose((a.points + b.points) / 2, (a.depth + b.depth) / 2, np.minimum(a.visibility, b.visibility),
                    np.minimum(a.presence, b.presence), (a.world + b.world) / 2, mask, a.image_size)


MIRROR_AGREEMENT = 0.08
"""The mirrored detection is averaged in only when its body landmarks lie within this
fraction of the person's height of the direct ones (else it saw something else)."""


def detect_pose(image: ImageLike, *, max_side: int = DETECT_MAX_SIDE, mirror_average: bool = True) -> BodyPose | None:
    """The pose of the most prominent person in ``image``, or None when no person is found.

    With ``mirror_average`` the detector also runs on the left-right mirror of the image and
    the two results are averaged (landmarks, world landmarks, mask; visibilities take the
    minimum). This cancels the detector's horizontal bias (its points sit ~1 px right of
    where the mirrored run puts them, measured on renders) and halves part of its noise, for
    a second ~30 ms detection.

    Raises:
        UserInputError: ``image`` is not an (H, W, 3) uint8 array or a loaded image.
    """
    rgb, _ = as_rgb(image)
    height, width = rgb.shape[:2]
    view, _scale = detection_view(rgb, max_side)
    pose = _decode(_run(view), width, height)
    if pose is None:
        return None
    if mirror_average:
        mirrored = _decode(_run(np.ascontiguousarray(view[:, ::-1])), width, height)
        if mirrored is not None:
            mirrored = _unmirror(mirrored)
            core = [landmark_index(n) for n in _BODY_CORE]
            size = max(np.ptp(pose.points[:, 1]), 1.0)
            gap = np.linalg.norm(pose.points[core] - mirrored.points[core], axis=1).max() / size
            if gap < MIRROR_AGREEMENT:
                pose = _average(pose, mirrored)
            else:
                pose.warnings.append("the detector disagreed with itself on the mirrored photo: pose may be unreliable")
    if not body_visible(pose):
        pose.warnings.append(
            "the shoulders, hips and knees are not all visible: a full-body fit needs the person "
            "in frame at least down to the knees"
        )
    return pose


def body_visible(pose: BodyPose, min_visibility: float = MIN_VISIBILITY) -> bool:
    """True when both shoulders, hips and knees are visible (visibility > ``min_visibility``)
    and inside the image."""
    idx = [landmark_index(n) for n in _BODY_CORE]
    width, height = pose.image_size
    xy = pose.points[idx]
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
    return bool(np.all(inside & (pose.visibility[idx] > min_visibility)))
