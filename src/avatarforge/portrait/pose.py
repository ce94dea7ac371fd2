"""The six pose values, declared once (drives CLI flags, sliders, validation, vectors).

Vector order is the published one: ``[head_x, head_y, neck_z, left_eye, right_eye, mouth]``
(the three rotation values first -- the rotator's input -- then the three morph values, the
morpher's input). Rotations are in [-1, 1] and mean +-15 degrees; eyes 0 = open, 1 = closed;
mouth 0 = closed, 1 = open. "Left" is the character's left (the image's right).

Rotation signs (avatarforge's frame: +X the character's left, +Y up, +Z out of the face):
``head_x > 0`` pitches the head about +X (the face looks down), ``head_y > 0`` turns it about
+Y (the face turns to the character's left, the image's right), ``neck_z > 0`` rolls the neck
about +Z (the top of the head moves to the image's left). These are the conventions of the
training data made here; the published weights' own sign conventions are not verified here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from avatarforge.bodies.spec import ParamSet, ParamSpec
from avatarforge.errors import UserInputError

__all__ = ["POSE_SPECS", "POSE_NAMES", "MAX_DEGREES", "TalkingPose"]

MAX_DEGREES = 15.0
"""Degrees of rotation at a rotation value of +-1."""

POSE_SPECS = ParamSet([
    ParamSpec("head_x", "rotation", -1.0, 1.0, 0.0, "pitch, +1 = 15 deg face down", "head"),
    ParamSpec("head_y", "rotation", -1.0, 1.0, 0.0, "yaw, +1 = 15 deg to the character's left", "head"),
    ParamSpec("neck_z", "rotation", -1.0, 1.0, 0.0, "roll, +1 = 15 deg, top of head to image left", "head"),
    ParamSpec("left_eye", "morph", 0.0, 1.0, 0.0, "character's left eye: 0 open, 1 closed", "face"),
    ParamSpec("right_eye", "morph", 0.0, 1.0, 0.0, "character's right eye: 0 open, 1 closed", "face"),
    ParamSpec("mouth", "morph", 0.0, 1.0, 0.0, "0 closed, 1 open", "face"),
])
POSE_NAMES = tuple(POSE_SPECS.names())


@dataclass(frozen=True)
class TalkingPose:
    """One pose of the talking head (see the module docstring for meanings and signs)."""

    head_x: float = 0.0
    head_y: float = 0.0
    neck_z: float = 0.0
    left_eye: float = 0.0
    right_eye: float = 0.0
    mouth: float = 0.0

    def __post_init__(self) -> None:
        POSE_SPECS.validate({n: getattr(self, n) for n in POSE_NAMES})

    @classmethod
    def from_vector(cls, values) -> "TalkingPose":
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if v.shape != (6,):
            raise UserInputError(f"a pose has 6 values ({', '.join(POSE_NAMES)}), got {v.size}")
        return cls(*map(float, v))

    @classmethod
    def clipped(cls, **values: float) -> "TalkingPose":
        """A pose with each given value clamped into its range (for trackers)."""
        out = {}
        for n, v in values.items():
            s = POSE_SPECS[n]
            out[n] = float(min(max(v, s.low), s.high))
        return cls(**out)

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, n) for n in POSE_NAMES], dtype=np.float32)

    def tensor(self) -> Float[Tensor, "1 6"]:
        return torch.from_numpy(self.vector())[None]
