"""A fast, exact evaluator of the posed body for fitting: joint heads and a vertex subset.

The full Anny forward costs ~17 ms (13.7k vertices x ~700 blend shapes, plus the rest bone
orientations); the body fit needs the joint heads, a few thousand vertices for the
silhouette and the landmark anchors. Two facts make a slice exact and cheap:

* :func:`avatarforge.bodies.anny_body.forward_kinematics` composes rotations given in world
  axes at the rest pose, so the posed world rotation of a joint is the product ``G_j = D_root
  ... D_parent D_j`` of the given rotations along its chain, and its head is ``h_j = h_p +
  G_p (h_j^rest - h_p^rest)``: the rest bone ORIENTATIONS cancel out (the skinning transform
  is ``[G_j | h_j - G_j h_j^rest]``), so only rest joint heads -- linear in the blend-shape
  coefficients -- are needed.
* Joints without a pose parameter (twist bones, fingers, toes) have ``D = I``: they move
  rigidly with their nearest posed ancestor, so skinning needs one transform per posed
  joint ("group") and a dense (S, groups) weight matrix.

Everything is in avatarforge axes (+Y up, facing +Z), relative to the root joint's rest
head; :meth:`BodyPartsModel.ground_offset` gives the shift to the full model's frame.
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from avatarforge.bodies.anny_body import POSE_JOINTS
from avatarforge.fitting.head_model import sliced_blend_shapes

__all__ = ["BodyPartsModel", "hinge_axes", "HINGES"]

#: Joints fitted as one-axis hinges (flexion about :func:`hinge_axes`).
HINGES = ("lowerarm01.L", "lowerarm01.R", "lowerleg01.L", "lowerleg01.R")


def hinge_axes(body, rest_joints: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Unit flexion axes (world axes at the rest pose) of the elbows and knees: a positive
    rotation about them bends the joint (forearm towards the shoulder, shin backwards).

    Elbow: normal of the rest arm's bend plane, ``normalize(forearm x -upperarm)`` (Anny's
    A-pose elbows are already bent ~40 degrees, hands forward). Knee: the rest leg is
    straight, so the axis is +X made perpendicular to the shin.
    """
    if rest_joints is None:
        rest_joints = body.forward_params({}).joints[0].numpy().astype(np.float64)
    j = dict(zip(body.joint_names, rest_joints))
    out = {}
    for s in "LR":
        upper = j[f"lowerarm01.{s}"] - j[f"upperarm01.{s}"]
        fore = j[f"wrist.{s}"] - j[f"lowerarm01.{s}"]
        a = np.cross(fore, -upper)
        out[f"lowerarm01.{s}"] = a / np.linalg.norm(a)
        shin = j[f"foot.{s}"] - j[f"lowerleg01.{s}"]
        shin = shin / np.linalg.norm(shin)
        x = np.array([1.0, 0.0, 0.0])
        a = x - x.dot(shin) * shin
        out[f"lowerleg01.{s}"] = a / np.linalg.norm(a)
    return out


class BodyPartsModel(torch.nn.Module):
    """Posed joint heads and a vertex subset of an AnnyBody, in avatarforge axes relative to
    the root's rest head.

    Args:
        body: an :class:`~avatarforge.bodies.anny_body.AnnyBody`.
        vertex_ids: the vertices to evaluate.
        local_ids: the only local changes that may be non-zero (fewer blend-shape columns);
            None keeps all.
    """

    def __init__(self, body, vertex_ids: Int[np.ndarray, " S"], local_ids: Int[np.ndarray, " L"] | None = None):
        super().__init__()
        m = body.model
        # Not a submodule: .double() / .to() on this evaluator must not convert the shared body.
        object.__setattr__(self, "body", body)
        names, parents = body.joint_names, body.joint_parents
        ids = torch.as_tensor(np.asarray(vertex_ids), dtype=torch.long)
        self.register_buffer("ids", ids, persistent=False)
        self.register_buffer("template", m.template_vertices[ids].float(), persistent=False)
        cols, shapes = sliced_blend_shapes(body, ids, local_ids)
        self.register_buffer("cols", cols, persistent=False)
        # Blend shapes flattened to (C, N * 3) so that the shape sum is one matrix product.
        self.register_buffer("shapes", shapes.reshape(len(cols), -1), persistent=False)
        self.register_buffer("bone_template", m.template_bone_heads.float(), persistent=False)
        self.register_buffer("bone_shapes", m.bone_heads_blendshapes[cols].float().reshape(len(cols), -1).contiguous(),
                             persistent=False)
        self.register_buffer("to_ours", body.to_ours.clone(), persistent=False)

        # Posed joints ("groups"), parents first; every joint's group is its nearest posed
        # ancestor-or-self (the root is always posed).
        self.posed = [j for j in POSE_JOINTS if j in names and not j.startswith("eye")]
        posed_idx = [names.index(j) for j in self.posed]
        order = sorted(range(len(posed_idx)), key=lambda k: _depth(parents, posed_idx[k]))
        self.posed = [self.posed[k] for k in order]
        posed_idx = [posed_idx[k] for k in order]
        group_of = []
        for j in range(len(names)):
            k = j
            while k not in posed_idx:
                k = parents[k]
            group_of.append(posed_idx.index(k))
        self.group_of = group_of
        self.group_parent = [-1 if parents[p] < 0 else group_of[parents[p]] for p in posed_idx]
        self.register_buffer("joint_group", torch.as_tensor(group_of), persistent=False)
        self.register_buffer("posed_index", torch.as_tensor(posed_idx), persistent=False)
        # Bone vectors h_j - h_parent(j) turn with the PARENT's group; the ancestor matrix
        # sums them from the root to each joint.
        par = torch.as_tensor([max(p, 0) for p in parents])
        self.register_buffer("joint_parent", par, persistent=False)
        self.register_buffer("parent_group", torch.as_tensor([group_of[max(p, 0)] for p in parents]), persistent=False)
        anc = torch.zeros(len(names), len(names))
        for j in range(len(names)):
            k = j
            while parents[k] >= 0:
                anc[j, k] = 1.0
                k = parents[k]
        self.register_buffer("ancestors", anc, persistent=False)
        # Skinning of the slice as dense weights over the groups.
        w = torch.zeros(len(ids), len(self.posed))
        sk_i, sk_w = body.skin_indices[ids], body.skin_weights[ids]
        groups = torch.as_tensor(group_of)[sk_i]  # (S, K)
        w.scatter_add_(1, groups, sk_w.float())
        self.register_buffer("weights", w, persistent=False)

    @property
    def num_groups(self) -> int:
        return len(self.posed)

    def rest(
        self, phenotype: Float[Tensor, "B 6"], local: Float[Tensor, "B L"]
    ) -> tuple[Float[Tensor, "B S 3"], Float[Tensor, "B J 3"]]:
        """Rest-pose slice vertices and joint heads (avatarforge axes, root head at 0)."""
        expression = torch.zeros(phenotype.shape[0], len(self.body.expression_names), dtype=phenotype.dtype)
        c = self.body.blendshape_coeffs(phenotype, local, expression)[:, self.cols].to(self.shapes.dtype)
        b = c.shape[0]
        verts = self.template[None] + (c @ self.shapes).reshape(b, -1, 3)
        bones = self.bone_template[None] + (c @ self.bone_shapes).reshape(b, -1, 3)
        root = bones[:, :1]
        return (verts - root) @ self.to_ours.T, (bones - root) @ self.to_ours.T

    def skeleton(
        self, rest_joints: Float[Tensor, "B J 3"], rotations: Float[Tensor, "B P 3 3"]
    ) -> tuple[Float[Tensor, "B J 3"], Float[Tensor, "B P 3 3"]]:
        """Posed joint heads and the groups' world rotations ``G`` from one world-axes rotation
        per posed joint (in the order of :attr:`posed`)."""
        g: list[Tensor] = []
        for k, p in enumerate(self.group_parent):
            g.append(rotations[:, k] if p < 0 else g[p] @ rotations[:, k])
        G = torch.stack(g, 1)  # (B, P, 3, 3)
        bone = rest_joints - rest_joints[:, self.joint_parent]  # (B, J, 3); the root's is 0
        # j: joint, r/c: matrix row/column
        turned = torch.einsum("bjrc,bjc->bjr", G[:, self.parent_group], bone)
        # j: joint, k: ancestor-or-self contributing its bone vector
        joints = rest_joints[:, :1] + torch.einsum("jk,bkd->bjd", self.ancestors, turned)
        return joints, G

    def pose(
        self, rest_verts: Float[Tensor, "B S 3"], rest_joints: Float[Tensor, "B J 3"],
        rotations: Float[Tensor, "B P 3 3"],
    ) -> tuple[Float[Tensor, "B S 3"], Float[Tensor, "B J 3"], Float[Tensor, "B P 3 3"]]:
        """:meth:`skeleton` plus the skinned slice vertices: ``(vertices, joints, G)``."""
        joints, G = self.skeleton(rest_joints, rotations)
        heads_rest, heads = rest_joints[:, self.posed_index], joints[:, self.posed_index]
        # Per-group rigid transform x -> G x + t, t = h - G h_rest (p: group, r/c: row/column).
        t = heads - torch.einsum("bprc,bpc->bpr", G, heads_rest)
        # s: vertex, p: group
        m = torch.einsum("sp,bprc->bsrc", self.weights, G)
        tv = torch.einsum("sp,bpr->bsr", self.weights, t)
        verts = torch.einsum("bsrc,bsc->bsr", m, rest_verts) + tv
        return verts, joints, G

    def ground_offset(self, phenotype: Float[Tensor, "B 6"], local: Float[Tensor, "B L"]) -> Float[Tensor, "B 3"]:
        """(B, 3) shift from this module's frame to the full model's (soles at y = 0)."""
        expression = torch.zeros(phenotype.shape[0], len(self.body.expression_names), dtype=phenotype.dtype)
        out = self.body(phenotype, local, expression)
        return out.rest_joints_world[:, 0, :3, 3]


def _depth(parents: list[int], j: int) -> int:
    d = 0
    while parents[j] >= 0:
        j, d = parents[j], d + 1
    return d
