"""SMPL-family models (SMPL-X, FLAME) behind avatarforge's BodyModel protocol.

Parameters (declared as data, see :class:`~avatarforge.bodies.spec.ParamSpec`):
``shape.<i>`` (identity coefficients, group ``shape``), ``expr.<i>`` (group ``expression``)
and ``pose.<joint>.x/y/z`` (degrees, extrinsic XYZ Euler angles of the joint's local rotation;
all SMPL rest frames are the world axes, so at the rest pose they are world-axis rotations
about the joint, like Anny's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from avatarforge.bodies.base import BodyOutput
from avatarforge.bodies.rotation import euler_xyz_to_matrix, rigid
from avatarforge.bodies.spec import ParamSet, ParamSpec
from avatarforge.research.lbs import LbsResult, skin
from avatarforge.research.model_data import ModelArrays

__all__ = ["SmplFamilyBody", "top_k_weights"]


def top_k_weights(weights: np.ndarray, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest influences per vertex (indices, renormalised weights), for export."""
    idx = np.argsort(-weights, axis=1)[:, :k]
    w = np.take_along_axis(weights, idx, 1)
    w = w / np.maximum(w.sum(1, keepdims=True), 1e-12)
    return idx.astype(np.int64), w


class SmplFamilyBody(torch.nn.Module):
    """A SMPL-family model from its :class:`ModelArrays`.

    Args:
        arrays: the model's validated arrays.
        joint_names: one name per joint (file order).
        pose_joints: joints exposed as ``pose.*`` parameters.
        n_shape: identity coefficients exposed (``shape.0`` ...).
        n_expression: expression coefficients exposed (``expr.0`` ...).
        ground: put the rest-pose soles at y = 0 and the root over the origin (bodies); False
            keeps the model's own origin (heads).
    """

    name = "smpl-family"

    def __init__(self, arrays: ModelArrays, joint_names: Sequence[str], pose_joints: Sequence[str],
                 n_shape: int, n_expression: int, ground: bool):
        super().__init__()
        self.arrays = arrays
        self.ground = ground
        self.n_shape = min(n_shape, arrays.n_shape)
        self.n_expression = min(n_expression, arrays.n_expression)
        self.expression_names = [f"expr.{i}" for i in range(self.n_expression)]
        self.joint_names = list(joint_names)
        self.joint_parents = [int(p) for p in arrays.parents]
        self.pose_joints = [j for j in pose_joints if j in self.joint_names]
        f32 = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
        sd = arrays.shapedirs
        dirs = np.concatenate([sd[:, :, :self.n_shape], sd[:, :, arrays.n_shape:arrays.n_shape + self.n_expression]], 2)
        self.register_buffer("v_template", f32(arrays.v_template), persistent=False)
        self.register_buffer("shapedirs", f32(dirs), persistent=False)
        self.register_buffer("posedirs", f32(arrays.posedirs), persistent=False)
        self.register_buffer("j_regressor", f32(arrays.j_regressor), persistent=False)
        self.register_buffer("parents", torch.as_tensor(arrays.parents, dtype=torch.long), persistent=False)
        self.register_buffer("lbs_weights", f32(arrays.weights), persistent=False)
        self.register_buffer("faces", torch.as_tensor(arrays.faces, dtype=torch.long), persistent=False)
        if arrays.uvs is not None and arrays.uv_faces is not None and len(arrays.uv_faces) == len(arrays.faces):
            uvs, uvf = f32(arrays.uvs), torch.as_tensor(arrays.uv_faces, dtype=torch.long)
        else:  # no UV layout in the file: a degenerate one (untextured)
            uvs, uvf = torch.zeros(1, 2), torch.zeros_like(self.faces)
        self.register_buffer("uvs", uvs, persistent=False)
        self.register_buffer("uv_faces", uvf, persistent=False)
        si, sw = top_k_weights(arrays.weights)
        self.register_buffer("skin_indices", torch.as_tensor(si), persistent=False)
        self.register_buffer("skin_weights", f32(sw), persistent=False)
        self.params = ParamSet(self._specs())

    # ----------------------------------------------------------------- parameters
    def _specs(self) -> list[ParamSpec]:
        specs = [ParamSpec(f"shape.{i}", "shape", -5.0, 5.0, 0.0, f"identity component {i} (std. devs.)", "body")
                 for i in range(self.n_shape)]
        specs += [ParamSpec(n, "expression", -5.0, 5.0, 0.0, f"expression component {n[5:]}", "face")
                  for n in self.expression_names]
        for j in self.pose_joints:
            for axis, what in zip("xyz", ("pitch (about +X)", "yaw (about +Y)", "roll (about +Z)")):
                specs.append(ParamSpec(f"pose.{j}.{axis}", "pose", -180.0, 180.0, 0.0,
                                       f"{j} rotation, {what}, relative to the rest pose", "pose", "deg"))
        return specs

    def personalise(self, template_offsets: Float[Tensor, "V 3"] | None = None,
                    morphs: Mapping[str, Tensor] | None = None) -> "SmplFamilyBody":
        """Add per-vertex offsets to the template (e.g. a grafted head) and extra expression
        blend shapes (name -> (V, 3) offsets, e.g. ``expr.photo``); in place, returns self."""
        with torch.no_grad():
            if template_offsets is not None:
                self.v_template += torch.as_tensor(template_offsets, dtype=self.v_template.dtype)
            for name, delta in (morphs or {}).items():
                d = torch.as_tensor(delta, dtype=self.shapedirs.dtype)[:, :, None]
                self.shapedirs = torch.cat([self.shapedirs, d], 2)
                self.n_expression += 1
                self.expression_names.append(name)
        self.params = ParamSet(self._specs())
        return self

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    def tensors_from_params(self, values: Mapping[str, float]) -> dict[str, Tensor]:
        """Validated named values -> the tensors :meth:`forward` takes (B = 1)."""
        full = self.params.complete(values)
        shape = torch.tensor([[full[f"shape.{i}"] for i in range(self.n_shape)]], dtype=torch.float32)
        expr = torch.tensor([[full[n] for n in self.expression_names]], dtype=torch.float32)
        euler = torch.zeros(1, len(self.joint_names), 3)
        for j in self.pose_joints:
            euler[0, self.joint_names.index(j)] = torch.tensor([full[f"pose.{j}.{a}"] for a in "xyz"])
        return {"shape": shape, "expression": expr, "rotations": euler_xyz_to_matrix(euler)}

    def forward_params(self, values: Mapping[str, float]) -> BodyOutput:
        """Forward pass from named values; unknown names and out-of-range values are refused."""
        with torch.no_grad():
            return self(**self.tensors_from_params(values))

    # ----------------------------------------------------------------- forward
    def coefficients(self, shape: Float[Tensor, "B S"], expression: Float[Tensor, "B E"] | None) -> Float[Tensor, "B K"]:
        """Shape and expression coefficients, zero-padded to the exposed counts, concatenated."""
        b = shape.shape[0] if expression is None else max(shape.shape[0], expression.shape[0])
        out = torch.zeros(b, self.n_shape + self.n_expression, dtype=self.v_template.dtype, device=shape.device)
        out[:, :shape.shape[1]] = shape
        if expression is not None:
            out[:, self.n_shape:self.n_shape + expression.shape[1]] = expression
        return out

    def lbs(self, shape: Float[Tensor, "B S"], expression: Float[Tensor, "B E"] | None = None,
            rotations: Float[Tensor, "B J 3 3"] | None = None) -> LbsResult:
        """LBS in the model's own frame (no grounding)."""
        coeffs = self.coefficients(shape, expression)
        if rotations is None:
            rotations = torch.eye(3, dtype=coeffs.dtype).expand(coeffs.shape[0], len(self.joint_names), 3, 3)
        return skin(coeffs, rotations, self.v_template, self.shapedirs, self.posedirs, self.j_regressor,
                    self.parents, self.lbs_weights)

    def forward(self, shape: Float[Tensor, "B S"], expression: Float[Tensor, "B E"] | None = None,
                rotations: Float[Tensor, "B J 3 3"] | None = None,
                translation: Float[Tensor, "B 3"] | None = None) -> BodyOutput:
        """Differentiable forward pass (``rotations``: local joint rotations, root first)."""
        r = self.lbs(shape, expression, rotations)
        b = r.vertices.shape[0]
        offset = torch.zeros(b, 3, dtype=r.vertices.dtype)
        if self.ground:
            root = r.rest_joints[:, 0]
            offset = torch.stack([-root[:, 0], -r.shaped[..., 1].min(1).values, -root[:, 2]], -1)
        if translation is not None:
            offset = offset + translation
        eye = torch.eye(3, dtype=offset.dtype).expand(b, 3, 3)
        rest_world = rigid(eye[:, None].expand(b, len(self.joint_names), 3, 3), r.rest_joints + offset[:, None])
        shift = rigid(eye, offset)[:, None]
        skinning = shift @ r.transforms @ torch.linalg.inv(shift)
        return BodyOutput(
            vertices=r.vertices + offset[:, None],
            rest_vertices=r.shaped + offset[:, None],
            joints_world=skinning @ rest_world,
            rest_joints_world=rest_world,
            skinning_transforms=skinning,
            faces=self.faces, uvs=self.uvs, uv_faces=self.uv_faces,
            skin_indices=self.skin_indices, skin_weights=self.skin_weights,
            joint_names=self.joint_names, joint_parents=self.joint_parents,
        )

    def morph_targets(self, values: Mapping[str, float]) -> tuple[list[str], Tensor]:
        """The expression components as (E, V, 3) rest-pose offsets (exactly linear)."""
        names = list(self.expression_names)
        deltas = self.shapedirs[:, :, self.n_shape:].permute(2, 0, 1).contiguous()
        return names, deltas
