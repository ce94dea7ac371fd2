"""Where mediapipe's 33 pose landmarks sit on the body model.

Each landmark is a joint head of the model plus a small offset that turns with one posed
joint's rotation (the bone the point sits on): ``p = J[anchor] + G[frame] @ offset``, in
avatarforge axes (metres, world axes at the rest pose). Shoulder, hip, elbow, knee, wrist
and ankle landmarks hang off the joint that bends there, offset in the frame of the bone
above it (mediapipe's hip points, for instance, lie ~2 cm inside Anny's upperleg01 heads);
the face, hand and foot points hang off the head, eye, wrist and foot joints.

The offsets are CALIBRATED, not guessed: :mod:`avatarforge.dev.body_fit_calibrate` renders the model in
random poses, shapes and views, runs the pose detector on the renders and solves for the
offset of each landmark that best explains the detections (robust least squares over
every sample, with the known cameras). Rerun it after changing the body model or the
detector, and paste its table below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

__all__ = ["LandmarkAnchor", "LANDMARK_ANCHORS", "anchor_arrays", "landmark_positions", "BONES", "LIMB_LANDMARKS"]


@dataclass(frozen=True)
class LandmarkAnchor:
    """Where one mediapipe pose landmark sits on the body model."""

    name: str
    """mediapipe's name (:data:`avatarforge.perception.pose.POSE_LANDMARK_NAMES`)."""
    anchor: str
    """Model joint whose posed head the offset starts from."""
    frame: str
    """Posed joint whose world rotation turns the offset."""
    offset: tuple[float, float, float]
    """Offset in metres, avatarforge axes at the rest pose (+X body's left, +Y up, +Z front)."""


def _a(name, anchor, frame, offset=(0.0, 0.0, 0.0)) -> LandmarkAnchor:
    return LandmarkAnchor(name, anchor, frame, tuple(float(v) for v in offset))


LANDMARK_ANCHORS: tuple[LandmarkAnchor, ...] = (
    # 80 renders (seed 500), detector with mirror averaging; RMS residual before -> after, px
    # at ~300 px per metre. The elbows stay noisy: the detector's elbow wanders ~4 cm.
    _a("nose", "head", "head", (0.000, 0.007, 0.119)),  # 8.1 -> 4.4 px
    _a("left_eye_inner", "eye.L", "head", (-0.016, -0.004, 0.014)),  # 4.2 -> 4.0 px
    _a("left_eye", "eye.L", "head", (-0.006, -0.003, 0.008)),  # 4.6 -> 4.1 px
    _a("left_eye_outer", "eye.L", "head", (0.005, -0.003, 0.001)),  # 5.3 -> 4.3 px
    _a("right_eye_inner", "eye.R", "head", (0.016, -0.004, 0.014)),  # 4.2 -> 3.8 px
    _a("right_eye", "eye.R", "head", (0.006, -0.003, 0.008)),  # 4.4 -> 3.9 px
    _a("right_eye_outer", "eye.R", "head", (-0.005, -0.003, 0.001)),  # 5.0 -> 4.0 px
    _a("left_ear", "head", "head", (0.051, 0.029, 0.032)),  # 8.3 -> 4.4 px
    _a("right_ear", "head", "head", (-0.051, 0.029, 0.032)),  # 8.8 -> 4.0 px
    _a("mouth_left", "head", "head", (0.019, -0.027, 0.103)),  # 5.2 -> 4.6 px
    _a("mouth_right", "head", "head", (-0.019, -0.027, 0.103)),  # 5.4 -> 4.4 px
    _a("left_shoulder", "upperarm01.L", "clavicle.L", (-0.012, 0.024, 0.012)),  # 9.7 -> 5.5 px
    _a("right_shoulder", "upperarm01.R", "clavicle.R", (0.012, 0.024, 0.012)),  # 10.2 -> 5.4 px
    _a("left_elbow", "lowerarm01.L", "upperarm01.L", (-0.015, 0.016, -0.003)),  # 13.2 -> 11.7 px
    _a("right_elbow", "lowerarm01.R", "upperarm01.R", (0.015, 0.016, -0.003)),  # 13.7 -> 11.7 px
    _a("left_wrist", "wrist.L", "lowerarm01.L", (-0.003, -0.004, 0.011)),  # 7.5 -> 6.9 px
    _a("right_wrist", "wrist.R", "lowerarm01.R", (0.003, -0.004, 0.011)),  # 6.5 -> 5.8 px
    _a("left_pinky", "wrist.L", "wrist.L", (0.032, -0.058, 0.057)),  # 13.2 -> 6.6 px
    _a("right_pinky", "wrist.R", "wrist.R", (-0.032, -0.058, 0.057)),  # 12.6 -> 4.8 px
    _a("left_index", "wrist.L", "wrist.L", (0.028, -0.051, 0.078)),  # 11.7 -> 6.4 px
    _a("right_index", "wrist.R", "wrist.R", (-0.028, -0.051, 0.078)),  # 11.0 -> 4.8 px
    _a("left_thumb", "wrist.L", "wrist.L", (0.011, -0.034, 0.068)),  # 7.2 -> 6.3 px
    _a("right_thumb", "wrist.R", "wrist.R", (-0.011, -0.034, 0.068)),  # 6.3 -> 5.2 px
    _a("left_hip", "upperleg01.L", "root", (-0.012, -0.003, 0.042)),  # 9.5 -> 5.0 px
    _a("right_hip", "upperleg01.R", "root", (0.012, -0.003, 0.042)),  # 9.2 -> 5.0 px
    _a("left_knee", "lowerleg01.L", "upperleg01.L", (0.002, -0.000, -0.001)),  # 5.6 -> 5.6 px
    _a("right_knee", "lowerleg01.R", "upperleg01.R", (-0.002, -0.000, -0.001)),  # 6.5 -> 6.5 px
    _a("left_ankle", "foot.L", "lowerleg01.L", (0.002, 0.024, 0.004)),  # 7.7 -> 4.4 px
    _a("right_ankle", "foot.R", "lowerleg01.R", (-0.002, 0.024, 0.004)),  # 7.9 -> 4.7 px
    _a("left_heel", "foot.L", "foot.L", (-0.004, -0.045, -0.038)),  # 8.0 -> 7.3 px
    _a("right_heel", "foot.R", "foot.R", (0.004, -0.045, -0.038)),  # 9.0 -> 8.2 px
    _a("left_foot_index", "foot.L", "foot.L", (-0.012, -0.057, 0.192)),  # 8.5 -> 6.0 px
    _a("right_foot_index", "foot.R", "foot.R", (0.012, -0.057, 0.192)),  # 10.0 -> 7.9 px
)

#: Landmark pairs whose 3D direction the fit matches to mediapipe's world landmarks
#: (mid_* are midpoints of the named left/right pair).
BONES: tuple[tuple[str, str], ...] = (
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("right_shoulder", "left_shoulder"), ("right_hip", "left_hip"),
    ("mid_hip", "mid_shoulder"), ("mid_shoulder", "nose"), ("right_ear", "left_ear"),
    ("left_ankle", "left_foot_index"), ("right_ankle", "right_foot_index"),
    ("left_wrist", "left_index"), ("right_wrist", "right_index"),
)

#: The landmarks of the body proper (no face, hand or foot details).
LIMB_LANDMARKS = (
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)


def anchor_arrays(joint_names: list[str], posed: list[str],
                  anchors: tuple[LandmarkAnchor, ...] = LANDMARK_ANCHORS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(anchor joint index (33,), frame group index (33,) into ``posed``, offsets (33, 3))``."""
    a = np.array([joint_names.index(x.anchor) for x in anchors])
    f = np.array([posed.index(x.frame) for x in anchors])
    o = np.array([x.offset for x in anchors], dtype=np.float64)
    return a, f, o


def landmark_positions(out) -> Float[Tensor, "B 33 3"]:
    """The 33 landmarks of a full-model :class:`~avatarforge.bodies.base.BodyOutput`, world
    metres (the slow reference of what the fit evaluates on its fast path)."""
    names = out.joint_names
    a = [names.index(x.anchor) for x in LANDMARK_ANCHORS]
    f = [names.index(x.frame) for x in LANDMARK_ANCHORS]
    # Posed world rotation of each joint: the rotation part of its skinning transform.
    rot = out.skinning_transforms[..., :3, :3]
    offset = torch.tensor([x.offset for x in LANDMARK_ANCHORS], dtype=rot.dtype)
    # k: landmark, r/c: matrix row/column
    return out.joints[:, a] + torch.einsum("bkrc,kc->bkr", rot[:, f], offset)
