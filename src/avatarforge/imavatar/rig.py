"""The morphable head in FLAME's role: the body model's head region with its ARKit blend shapes,
its skinning over the head joints and a procedural paint (the "textured body-model head").

A :class:`HeadRig` holds, for one identity (phenotype + local changes), the neutral rest vertices
of the head and neck, their 52 expression offsets, their skinning weights over :data:`HEAD_JOINTS`
and per-vertex colours; :meth:`HeadRig.transforms` poses the joints (head, neck, eyes) by forward
kinematics only (no vertex pass), and :func:`deform_vertices` applies the morphable model
(blend shapes, then LBS). Everything is in the body's world frame (metres, +Y up, facing +Z).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

__all__ = ["HEAD_JOINTS", "POSE_JOINTS", "HeadRig", "build_rig", "deform_vertices", "pose_features", "save_rig", "load_rig"]

HEAD_JOINTS = ("rest", "neck01", "head", "eye.L", "eye.R")
"""Bones of the head deformation: 'rest' gathers every bone below the neck (static here);
neck02/neck03 join neck01 (exact while they stay at rest)."""
POSE_JOINTS = HEAD_JOINTS[1:]
"""Joints with a pose (their rotations also drive the pose correctives)."""
_MERGE = {"neck02": "neck01", "neck03": "neck01"}


def _joint_slot(names: list[str], parents: list[int]) -> np.ndarray:
    """Index in HEAD_JOINTS of every body bone (itself, a merged neck bone's slot, or 'rest')."""
    out = np.zeros(len(names), np.int64)
    for j in range(len(names)):
        k = j
        while k >= 0:
            key = _MERGE.get(names[k], names[k])
            if key in HEAD_JOINTS:
                out[j] = HEAD_JOINTS.index(key)
                break
            k = parents[k]
    return out


@dataclass
class HeadRig:
    """The morphable head of one identity (V head vertices)."""

    vertices: Float[np.ndarray, "V 3"]
    """Neutral rest vertices (no expression, rest pose), world metres."""
    faces: Int[np.ndarray, "F 3"]
    """Triangles of the head region (indices into ``vertices``)."""
    blendshapes: Float[np.ndarray, "52 V 3"]
    """Rest-pose offset of each ARKit action at value 1."""
    weights: Float[np.ndarray, "V 5"]
    """Skinning weights over :data:`HEAD_JOINTS` (rows sum to 1)."""
    colours: Float[np.ndarray, "V 3"]
    """Procedural paint (sRGB 0-1): skin, hair, brows, lips, eye whites and irises."""
    rest_joints: Float[np.ndarray, "J 4 4"]
    """Rest world transform of every body joint (for forward kinematics)."""
    joint_parents: list[int]
    joint_names: list[str]
    expression_names: tuple[str, ...]
    values: dict[str, float]
    """The identity's body-model values (phenotype, local changes)."""

    @property
    def bounds(self) -> Float[np.ndarray, "2 3"]:
        """Canonical box: the rest head padded by 3 cm."""
        return np.stack([self.vertices.min(0) - 0.03, self.vertices.max(0) + 0.03])

    @property
    def centre(self) -> Float[np.ndarray, " 3"]:
        return self.rest_joints[self.joint_names.index("head"), :3, 3].copy()

    def transforms(self, head: Float[np.ndarray, " 3"] | None = None, neck: Float[np.ndarray, " 3"] | None = None,
                   eyes: Float[np.ndarray, "2 3"] | None = None) -> Float[np.ndarray, "5 4 4"]:
        """Skinning transforms of :data:`HEAD_JOINTS` for head / neck01 / eye rotations (extrinsic XYZ
        Euler degrees in world axes, as ``pose.head.*`` etc.). Forward kinematics in the world frame
        equals the body's (the frame change commutes with it)."""
        from avatarforge.bodies.anny_body import forward_kinematics
        from avatarforge.bodies.rotation import euler_xyz_to_matrix

        euler = torch.zeros(1, len(self.joint_names), 3, dtype=torch.float64)
        for name, val in (("head", head), ("neck01", neck), ("eye.L", None if eyes is None else eyes[0]),
                          ("eye.R", None if eyes is None else eyes[1])):
            if val is not None:
                euler[0, self.joint_names.index(name)] = torch.as_tensor(np.asarray(val, np.float64))
        rest = torch.as_tensor(self.rest_joints)[None]
        posed = forward_kinematics(rest, euler_xyz_to_matrix(euler), self.joint_parents)
        T = (posed @ torch.linalg.inv(rest))[0].numpy()
        out = np.tile(np.eye(4), (len(HEAD_JOINTS), 1, 1))
        for s, name in enumerate(HEAD_JOINTS[1:], 1):
            out[s] = T[self.joint_names.index(name)]
        return out


def pose_features(transforms: Float[Tensor, "5 4 4"]) -> Float[Tensor, " 36"]:
    """(R - I) of the posed joints flattened (FLAME's pose-corrective input; 0 at rest)."""
    r = transforms[1:, :3, :3] - torch.eye(3, dtype=transforms.dtype)
    return r.reshape(-1)


def deform_vertices(points: Float[Tensor, "N 3"], blend: Float[Tensor, "N 52 3"], weights: Float[Tensor, "N 5"],
                    expression: Float[Tensor, " 52"], transforms: Float[Tensor, "5 4 4"]) -> Float[Tensor, "N 3"]:
    """The morphable model: x_d = LBS(x + sum_k psi_k B_k, W, T)."""
    from avatarforge.implicit.skinning import lbs_points

    x = points + torch.einsum("nkc,k->nc", blend, expression)  # n point, k action, c xyz
    return lbs_points(x, weights, transforms)


def _paint(out, head_ids: np.ndarray, rest: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-vertex sRGB colours of the head region, from the rest-pose position of each vertex."""
    from avatarforge.bodies.landmark_embedding import load_embedding
    from avatarforge.perception import landmark_groups as lg

    f = out.faces.numpy()
    lm = load_embedding().points(out.rest_vertices, f)[0].numpy()
    v = rest[head_ids]
    slot = weights[head_ids].argmax(1)
    col = np.tile(np.array([0.86, 0.64, 0.52]), (len(v), 1))
    d = lambda pts: np.min(np.linalg.norm(v[:, None] - pts[None], axis=-1), axis=1)  # noqa: E731
    lips = lm[sorted(set(lg.LIPS_OUTER) | set(lg.LIPS_INNER))]
    col[d(lips) < 0.006] = (0.72, 0.30, 0.32)
    brows = lm[sorted(set(lg.RIGHT_EYEBROW_UPPER) | set(lg.LEFT_EYEBROW_UPPER))]
    col[(d(brows) < 0.007) & (v[:, 2] > lm[:, 2].min())] = (0.25, 0.16, 0.10)
    brow_y = brows[:, 1].mean()
    hair = (v[:, 1] > brow_y + 0.045) | ((v[:, 2] < lm[lg.NOSE_TIP, 2] - 0.09) & (v[:, 1] > brow_y - 0.06))
    col[hair] = (0.30, 0.19, 0.11)
    # freckle-like spots on the cheeks: high-frequency detail for the texture field
    rng = np.random.default_rng(7)
    spots = lm[rng.choice(len(lm), 24, replace=False)] + rng.normal(0, 0.004, (24, 3))
    col[(d(spots) < 0.0035) & ~hair] = (0.55, 0.33, 0.25)
    eye = (slot == HEAD_JOINTS.index("eye.L")) | (slot == HEAD_JOINTS.index("eye.R"))
    col[eye] = (0.93, 0.92, 0.90)
    for side, iris in ((HEAD_JOINTS.index("eye.L"), lg.LEFT_IRIS_CENTER), (HEAD_JOINTS.index("eye.R"), lg.RIGHT_IRIS_CENTER)):
        on = slot == side
        col[on & (np.linalg.norm(v - lm[iris], axis=1) < 0.0065)] = (0.35, 0.22, 0.10)
        col[on & (np.linalg.norm(v - lm[iris], axis=1) < 0.0028)] = (0.03, 0.03, 0.03)
    return col


def build_rig(body, values: dict[str, float] | None = None) -> HeadRig:
    """The head rig of ``body`` with identity ``values`` (expressions and poses must be absent)."""
    from avatarforge.bodies.head_mesh import head_faces

    values = {k: float(v) for k, v in (values or {}).items()
              if not k.startswith("pose.") and k not in body.expression_names}
    out = body.forward_params(values)
    f_all = out.faces.numpy()
    slot = _joint_slot(body.joint_names, body.joint_parents)
    w_sparse, idx = body.skin_weights.numpy(), body.skin_indices.numpy()
    w = np.zeros((len(idx), len(HEAD_JOINTS)))
    np.add.at(w, (np.repeat(np.arange(len(idx)), idx.shape[1]), slot[idx.reshape(-1)]), w_sparse.reshape(-1))
    w /= w.sum(1, keepdims=True)
    hf = head_faces(body, f_all)
    neck = w[:, 1:].sum(1) > 0.6
    nf = np.flatnonzero(neck[f_all].all(1))
    faces = f_all[np.union1d(hf, nf)]
    ids, inv = np.unique(faces, return_inverse=True)
    rest = out.rest_vertices[0].numpy().astype(np.float64)
    names, deltas = body.morph_targets(values)
    return HeadRig(
        vertices=rest[ids], faces=inv.reshape(-1, 3).astype(np.int64), blendshapes=deltas[:, ids].numpy().astype(np.float64),
        weights=w[ids], colours=_paint(out, ids, rest, w),
        rest_joints=out.rest_joints_world[0].numpy().astype(np.float64), joint_parents=list(body.joint_parents),
        joint_names=list(body.joint_names), expression_names=tuple(names), values=values)


_ARRAYS = ("vertices", "faces", "blendshapes", "weights", "colours", "rest_joints")


def save_rig(rig: HeadRig, path) -> None:
    """Write the rig to an ``.npz`` (float32 blend shapes; rebuilding needs no body model)."""
    import json

    arrays = {k: getattr(rig, k) for k in _ARRAYS}
    arrays["blendshapes"] = arrays["blendshapes"].astype(np.float32)
    meta = {"joint_parents": rig.joint_parents, "joint_names": rig.joint_names,
            "expression_names": list(rig.expression_names), "values": rig.values}
    np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)


def load_rig(path) -> HeadRig:
    """A rig written by :func:`save_rig`."""
    import json

    z = np.load(path, allow_pickle=False)
    meta = json.loads(str(z["meta"]))
    return HeadRig(**{k: z[k].astype(np.int64 if k == "faces" else np.float64) for k in _ARRAYS},
                   joint_parents=meta["joint_parents"], joint_names=meta["joint_names"],
                   expression_names=tuple(meta["expression_names"]), values=meta["values"])
