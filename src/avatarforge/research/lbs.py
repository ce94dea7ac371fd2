"""Linear blend skinning of SMPL-family models (SMPL-X, FLAME), built from ``smplx.lbs``'s
pure functions so that the maths is the reference's, but also returning the per-joint
transforms the BodyModel protocol needs (``smplx.lbs.lbs`` returns only vertices/joints)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

__all__ = ["LbsResult", "skin", "smplx_lbs"]


def smplx_lbs():
    """The ``smplx.lbs`` module, or a MissingDependencyError naming the ``research`` extra."""
    from avatarforge.errors import require

    return require("smplx.lbs", "research")


@dataclass
class LbsResult:
    """Everything one LBS evaluation yields (batch B, V vertices, J joints)."""

    vertices: Float[Tensor, "B V 3"]
    """Posed vertices."""
    shaped: Float[Tensor, "B V 3"]
    """Template + shape/expression blend shapes (rest pose, no pose correctives)."""
    rest_joints: Float[Tensor, "B J 3"]
    """Joint positions regressed from ``shaped``."""
    transforms: Float[Tensor, "B J 4 4"]
    """Skinning transform of each joint (posed world transform @ inverse rest transform)."""


def skin(
    coeffs: Float[Tensor, "B K"],
    rotations: Float[Tensor, "B J 3 3"],
    v_template: Float[Tensor, "V 3"],
    shapedirs: Float[Tensor, "V 3 K"],
    posedirs: Float[Tensor, "P V3"],
    j_regressor: Float[Tensor, "J V"],
    parents: Int[Tensor, " J"],
    weights: Float[Tensor, "V J"],
) -> LbsResult:
    """SMPL-family LBS (identical operations to ``smplx.lbs.lbs`` with ``pose2rot=False``).

    ``coeffs`` are the blend-shape coefficients matching the last axis of ``shapedirs``;
    ``rotations`` are local joint rotations (root first); ``posedirs`` has P = 9 (J - 1) rows.
    """
    lbs = smplx_lbs()
    batch_rigid_transform, blend_shapes, vertices2joints = lbs.batch_rigid_transform, lbs.blend_shapes, lbs.vertices2joints
    b = max(coeffs.shape[0], rotations.shape[0])
    coeffs = coeffs.expand(b, -1)
    rotations = rotations.expand(b, -1, -1, -1)
    shaped = v_template + blend_shapes(coeffs, shapedirs)
    joints = vertices2joints(j_regressor, shaped)
    ident = torch.eye(3, dtype=coeffs.dtype, device=coeffs.device)
    pose_feature = (rotations[:, 1:] - ident).reshape(b, -1)
    v_posed = shaped + torch.matmul(pose_feature, posedirs).view(b, -1, 3)
    _, a = batch_rigid_transform(rotations, joints, parents, dtype=coeffs.dtype)
    # Per vertex: sum_j w_vj A_j -> (B, V, 4, 4)
    t = torch.matmul(weights.expand(b, -1, -1), a.reshape(b, a.shape[1], 16)).view(b, -1, 4, 4)
    homo = torch.cat([v_posed, torch.ones_like(v_posed[..., :1])], -1)
    verts = torch.matmul(t, homo[..., None])[:, :, :3, 0]
    return LbsResult(verts, shaped, joints, a)
