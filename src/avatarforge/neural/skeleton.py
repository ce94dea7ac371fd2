"""The avatar's skeleton: named keypoints and the bones between them.

One keypoint set serves both sources of poses, so a model trained on one can be driven by
the other (motion transfer):

* the body model (Anny): joint heads (shoulder = ``upperarm01``, elbow = ``lowerarm01``, ...)
  and the midpoint of the eyes for the head;
* MediaPipe's pose landmarks (:mod:`avatarforge.perception.pose`): the landmarks of the same
  names (hand = midpoint of index and pinky knuckles, toe = foot index).

``neck`` and ``pelvis`` are derived in both cases as the midpoints of the shoulders and hips.
Frame: world metres, +Y up, the body faces +Z (avatarforge's frame).
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float

__all__ = ["KEYPOINTS", "BONES", "NUM_BONES", "anny_keypoints", "mediapipe_keypoints", "ANNY_JOINTS"]

KEYPOINTS = (
    "pelvis", "neck", "head",
    "shoulder.L", "elbow.L", "wrist.L", "hand.L",
    "shoulder.R", "elbow.R", "wrist.R", "hand.R",
    "hip.L", "knee.L", "ankle.L", "toe.L",
    "hip.R", "knee.R", "ankle.R", "toe.R",
)
"""Keypoint names; ``.L``/``.R`` are the subject's sides."""

_BONE_NAMES = (
    ("pelvis", "neck"), ("neck", "head"),
    ("neck", "shoulder.L"), ("shoulder.L", "elbow.L"), ("elbow.L", "wrist.L"), ("wrist.L", "hand.L"),
    ("neck", "shoulder.R"), ("shoulder.R", "elbow.R"), ("elbow.R", "wrist.R"), ("wrist.R", "hand.R"),
    ("pelvis", "hip.L"), ("hip.L", "knee.L"), ("knee.L", "ankle.L"), ("ankle.L", "toe.L"),
    ("pelvis", "hip.R"), ("hip.R", "knee.R"), ("knee.R", "ankle.R"), ("ankle.R", "toe.R"),
    ("shoulder.L", "hip.L"), ("shoulder.R", "hip.R"),
)

BONES: tuple[tuple[int, int], ...] = tuple((KEYPOINTS.index(a), KEYPOINTS.index(b)) for a, b in _BONE_NAMES)
"""(start, end) keypoint indices of each bone; bone k is input channel k."""

NUM_BONES = len(BONES)

ANNY_JOINTS = {
    "shoulder": "upperarm01", "elbow": "lowerarm01", "wrist": "wrist", "hand": "finger3-1",
    "hip": "upperleg01", "knee": "lowerleg01", "ankle": "foot", "toe": "toe3-1",
}
"""Anny joint (head position) used for each sided keypoint."""

_MP = {
    "shoulder": ("shoulder",), "elbow": ("elbow",), "wrist": ("wrist",), "hand": ("index", "pinky"),
    "hip": ("hip",), "knee": ("knee",), "ankle": ("ankle",), "toe": ("foot_index",),
}


def _with_derived(points: dict[str, np.ndarray | torch.Tensor]) -> list:
    points["neck"] = (points["shoulder.L"] + points["shoulder.R"]) / 2
    points["pelvis"] = (points["hip.L"] + points["hip.R"]) / 2
    return [points[k] for k in KEYPOINTS]


def anny_keypoints(joints: Float[torch.Tensor, "*B J 3"], joint_names: list[str]) -> Float[torch.Tensor, "*B K 3"]:
    """Keypoints from Anny's posed joint heads (``BodyOutput.joints``, world frame)."""
    idx = joint_names.index
    pts: dict = {"head": (joints[..., idx("eye.L"), :] + joints[..., idx("eye.R"), :]) / 2}
    for name, joint in ANNY_JOINTS.items():
        for side in "LR":
            pts[f"{name}.{side}"] = joints[..., idx(f"{joint}.{side}"), :]
    return torch.stack(_with_derived(pts), -2)


def mediapipe_keypoints(world: Float[np.ndarray, "*B 33 D"]) -> Float[np.ndarray, "*B K D"]:
    """Keypoints from MediaPipe landmarks (3D world ones, kept in MediaPipe's camera-axes frame,
    or 2D pixels, or per-landmark values with D = 1)."""
    from avatarforge.perception.pose import landmark_index

    side_word = {"L": "left", "R": "right"}
    pts: dict = {"head": (world[..., landmark_index("left_eye"), :] + world[..., landmark_index("right_eye"), :]) / 2}
    for name, marks in _MP.items():
        for side in "LR":
            sel = [landmark_index(f"{side_word[side]}_{m}") for m in marks]
            pts[f"{name}.{side}"] = world[..., sel, :].mean(-2)
    return np.stack(_with_derived(pts), -2)
