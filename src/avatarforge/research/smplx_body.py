"""SMPL-X body (10475 vertices, 55 joints) behind the BodyModel protocol, from the user's
licensed ``SMPLX_NEUTRAL.npz`` (read with ``allow_pickle=False``). SMPL-X is +Y up and faces
+Z in metres; forward() grounds it like Anny (rest soles at y = 0, pelvis over the origin).
Hands stay flat (no PCA hand pose)."""

from __future__ import annotations

import os

from avatarforge.research.model_data import load_smplx_arrays
from avatarforge.research.smpl_family import SmplFamilyBody

__all__ = ["SmplxBody", "SMPLX_JOINTS", "SMPLX_POSE_JOINTS"]

SMPLX_JOINTS = [
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "jaw",
    "left_eye", "right_eye",
] + [f"{side}_{finger}{k}" for side in ("left", "right")
     for finger in ("index", "middle", "pinky", "ring", "thumb") for k in (1, 2, 3)]
"""The 55 SMPL-X joints in file order (smplx's names; eyes without the _smplhf suffix)."""
SMPLX_POSE_JOINTS = SMPLX_JOINTS[:25]
"""Joints exposed as pose parameters (body, jaw, eyes; fingers stay at rest)."""


class SmplxBody(SmplFamilyBody):
    """SMPL-X: ``shape.0..9`` (betas), ``expr.0..9``, pose of the 25 body/face joints."""

    name = "smplx"

    def __init__(self, model_path: str | os.PathLike, n_shape: int = 10, n_expression: int = 10):
        super().__init__(load_smplx_arrays(model_path), SMPLX_JOINTS, SMPLX_POSE_JOINTS, n_shape, n_expression,
                         ground=True)
