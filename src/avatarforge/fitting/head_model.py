"""A fast, exact evaluator of the body's head for fitting: only the vertices fitting needs.

The full Anny forward costs ~17 ms (all 13.7k vertices x ~700 blend shapes); fitting needs a
few thousand head vertices, so this module slices the blend shapes once and evaluates
rest shape + head/eye rotations + linear blend skinning on the slice only. With the neck
and body at rest, the result equals the full model's vertices (up to the constant ground
offset, reported by :meth:`HeadModel.ground_offset`).
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from avatarforge.bodies.rotation import euler_xyz_to_matrix

__all__ = ["HeadModel", "ExpressionRest", "sliced_blend_shapes"]


def sliced_blend_shapes(body, vertex_ids, local_ids=None) -> tuple[Tensor, Tensor]:
    """Anny's blend shapes restricted to some vertices and, optionally, to the coefficients of
    some local changes only (the others must stay 0): ``(cols, shapes)`` where ``cols`` are
    the coefficient columns kept and ``shapes`` is (len(cols), len(vertex_ids), 3) float32.
    """
    m = body.model
    ids = torch.as_tensor(np.asarray(vertex_ids), dtype=torch.long)
    n_all, n_local = m.blendshapes.shape[0], len(body.local_names)
    first_local = n_all - 2 * n_local  # coefficient layout: [phenotype, expression, local (+, -)]
    if local_ids is None:
        cols = torch.arange(n_all)
    else:
        li = torch.as_tensor(np.asarray(local_ids), dtype=torch.long)
        cols = torch.cat([torch.arange(first_local), first_local + torch.stack([2 * li, 2 * li + 1], 1).ravel()])
    # Vertices first: indexing the coefficients first would copy the whole (C, V, 3) tensor.
    return cols, m.blendshapes[:, ids][cols].float().contiguous()


class HeadModel(torch.nn.Module):
    """Head-vertex subset of an AnnyBody. Vertices come out in avatarforge axes, relative
    to the root joint's rest head (add :meth:`ground_offset` for the full model's frame)."""

    def __init__(self, body, vertex_ids: Int[np.ndarray, " S"], local_ids: Int[np.ndarray, " L"] | None = None):
        """``local_ids``: the only local changes that may be non-zero (others are skipped,
        which makes the blend-shape sum cheaper); None keeps them all."""
        super().__init__()
        m = body.model
        self.body = body
        ids = torch.as_tensor(np.asarray(vertex_ids), dtype=torch.long)
        self.register_buffer("ids", ids, persistent=False)
        self.register_buffer("template", m.template_vertices[ids].float(), persistent=False)
        cols, shapes = sliced_blend_shapes(body, ids, local_ids)
        self.register_buffer("cols", cols, persistent=False)
        self.register_buffer("shapes", shapes, persistent=False)
        names = body.joint_names
        self.head, self.eye_l, self.eye_r = (names.index(n) for n in ("head", "eye.L", "eye.R"))
        # Only the joints posing needs: (root, head, eye.L, eye.R).
        bones = torch.tensor([0, self.head, self.eye_l, self.eye_r])
        self.register_buffer("bone_template", m.template_bone_heads[bones].float(), persistent=False)
        self.register_buffer("bone_shapes", m.bone_heads_blendshapes[:, bones].float().contiguous(), persistent=False)
        self.register_buffer("to_ours", body.to_ours.clone(), persistent=False)
        # Skinning of the slice, as dense weights over (other, head, eye.L, eye.R).
        w = torch.zeros(len(ids), 4)
        sk_i, sk_w = body.skin_indices[ids], body.skin_weights[ids]
        for col, j in enumerate((self.head, self.eye_l, self.eye_r), start=1):
            w[:, col] = (sk_w * (sk_i == j)).sum(-1)
        w[:, 0] = 1.0 - w[:, 1:].sum(-1)
        self.register_buffer("weights", w, persistent=False)
        self.register_buffer("eye_l_ids", torch.nonzero(w[:, 2] > 0)[:, 0], persistent=False)
        self.register_buffer("eye_r_ids", torch.nonzero(w[:, 3] > 0)[:, 0], persistent=False)

    def coeffs(self, phenotype, local, expression) -> Tensor:
        return self.body.blendshape_coeffs(phenotype, local, expression)

    def forward(
        self,
        phenotype: Float[Tensor, "B 6"],
        local: Float[Tensor, "B L"],
        expression: Float[Tensor, "B 52"],
        head_rot: Float[Tensor, "B 3"],
        eye_rot: Float[Tensor, "B 2 3"],
    ) -> tuple[Float[Tensor, "B S 3"], Float[Tensor, "B 3 3"]]:
        """Posed slice vertices and the (head, eye.L, eye.R) joint positions.

        ``head_rot`` and ``eye_rot`` are extrinsic XYZ Euler angles in degrees in world axes
        (the ``pose.head.*`` / ``pose.eye.L.*`` parameters).
        """
        rest, bones = self.rest(phenotype, local, expression)
        return self.pose(rest, bones, head_rot, eye_rot)

    def rest(self, phenotype, local, expression) -> tuple[Tensor, Tensor]:
        """Rest-pose slice vertices and the (root, head, eye.L, eye.R) joint heads, in Anny's
        frame (cacheable while only the pose changes)."""
        c = self.coeffs(phenotype, local, expression)
        # c: coefficient, p: vertex, d: xyz
        rest = self.template[None] + torch.einsum("cpd,bc->bpd", self.shapes, c[:, self.cols])
        bones = self.bone_template[None] + torch.einsum("cpd,bc->bpd", self.bone_shapes, c)
        return rest, bones

    def expression_rest(self, phenotype, local) -> "ExpressionRest":
        """The rest pose as a linear function of the expression for a fixed identity (the
        facial actions are plain blend-shape coefficients): for trackers and animators that
        only change the expression."""
        zero = torch.zeros(1, len(self.body.expression_names))
        with torch.no_grad():
            rest0, bones0 = self.rest(phenotype, local, zero)
            n_first = self.coeffs(phenotype, local, zero).shape[1] - len(self.body.local_names) * 2 - zero.shape[1]
            cols = slice(n_first, n_first + zero.shape[1])  # the facial actions' coefficient columns
            return ExpressionRest(rest0, bones0, self.shapes[cols], self.bone_shapes[cols])

    def pose(self, rest: Tensor, bones: Tensor, head_rot: Tensor, eye_rot: Tensor) -> tuple[Tensor, Tensor]:
        """Apply head and eye rotations to a :meth:`rest` result."""
        root = bones[:, :1]
        rest = (rest - root) @ self.to_ours.T
        joints = (bones[:, 1:4] - root) @ self.to_ours.T
        rh = euler_xyz_to_matrix(head_rot)  # (B, 3, 3)
        re = euler_xyz_to_matrix(eye_rot)  # (B, 2, 3, 3)
        h, el, er = joints[:, 0:1], joints[:, 1:2], joints[:, 2:3]

        def turn(r, v, pivot):  # rotate v (B,N,3) about pivot by r (B,3,3); broadcasting beats bmm here
            return ((v - pivot)[..., None, :] * r[:, None]).sum(-1) + pivot

        w = self.weights
        posed = w[:, 0, None] * rest + w[:, 1, None] * turn(rh, rest, h)
        for col, (idx, r_eye, pivot) in enumerate(((self.eye_l_ids, re[:, 0], el), (self.eye_r_ids, re[:, 1], er)), start=2):
            part = turn(rh, turn(r_eye, rest[:, idx], pivot), h)
            posed = posed.index_add(1, idx, w[idx, col, None] * part)
        posed_joints = torch.cat([h, turn(rh, el, h), turn(rh, er, h)], 1)
        return posed, posed_joints

    def ground_offset(self, phenotype, local, expression) -> Tensor:
        """(B, 3) shift from this module's frame to the full model's (soles at y = 0)."""
        out = self.body(phenotype, local, expression)
        _, bones = self.rest(phenotype, local, expression)
        full_head = out.rest_joints_world[:, self.head, :3, 3]
        mine = (bones[:, 1] - bones[:, 0]) @ self.to_ours.T
        return full_head - mine


class ExpressionRest:
    """:meth:`HeadModel.rest` for one identity, linear in the 52 facial actions."""

    def __init__(self, rest0: Tensor, bones0: Tensor, shapes: Tensor, bone_shapes: Tensor):
        self.rest0, self.bones0, self.shapes, self.bone_shapes = rest0, bones0, shapes, bone_shapes

    def __call__(self, expression: Float[Tensor, "B 52"]) -> tuple[Tensor, Tensor]:
        # e: facial action, p: vertex, d: xyz
        rest = self.rest0 + torch.einsum("epd,be->bpd", self.shapes, expression)
        bones = self.bones0 + torch.einsum("epd,be->bpd", self.bone_shapes, expression)
        return rest, bones
