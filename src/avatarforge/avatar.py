"""An avatar = a body model + its parameter values (+ texture): build it and export it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from avatarforge.bodies import BodyModel, BodyOutput, ParamsFile, load_body, pose_preset
from avatarforge.export.mesh import RiggedMesh

__all__ = ["Avatar", "build_avatar", "load_avatar_params"]


@dataclass
class Avatar:
    """A personalised body, posed in its export pose, ready to render or export."""

    body: BodyModel
    values: dict[str, float]
    """Every parameter (complete), pose preset folded into the pose.* values."""
    pose_preset: str
    output: BodyOutput
    """Forward pass with ``values``; expression included (what the morph weights show)."""
    texture: np.ndarray | None = None
    hair: object | None = None
    """bodies.hair.HairMesh on ``output`` (None: bald / no hair geometry)."""
    hair_srgb: tuple[int, int, int] = (60, 45, 35)
    """Hair colour (sRGB 0-255)."""

    @property
    def expression(self) -> dict[str, float]:
        return {n: self.values[n] for n in self.body.params.names("expression")}

    def params_file(self, extra: dict | None = None) -> ParamsFile:
        import importlib.metadata as md

        try:
            version = md.version(self.body.name)
        except md.PackageNotFoundError:  # pragma: no cover
            version = ""
        config = {"local_changes": "default", "facial_actions": "all"} if self.body.name == "anny" else {}
        return ParamsFile(self.body.name, dict(self.values), self.pose_preset, config, version, extra or {})

    def rigged_mesh(self) -> RiggedMesh:
        """The export mesh: neutral face in the export pose, the expression as morph weights.

        Morph offsets are carried from the rest pose into the export pose by each vertex's
        linear-blend-skinning rotation (exact for LBS, which is linear in the rest vertices).
        """
        neutral = {k: (0.0 if k in self.expression else v) for k, v in self.values.items()}
        out = self.body.forward_params(neutral)
        names, deltas = self.body.morph_targets(neutral)
        t = out.skinning_transforms[0, :, :3, :3]  # (J, 3, 3)
        # Per vertex: sum_k w_vk * R_{j(v,k)} -> (V, 3, 3)
        lin = torch.einsum("vk,vkab->vab", out.skin_weights, t[out.skin_indices])
        posed_deltas = torch.einsum("vab,mvb->mva", lin, deltas)
        return RiggedMesh(
            vertices=out.vertices[0].numpy().astype(np.float32),
            faces=out.faces.numpy().astype(np.int64),
            joint_names=list(out.joint_names),
            joint_parents=np.asarray(out.joint_parents, dtype=np.int64),
            joint_world=out.joints_world[0].double().numpy(),
            skin_indices=out.skin_indices.numpy(),
            skin_weights=out.skin_weights.numpy(),
            uvs=out.uvs.numpy(),
            uv_faces=out.uv_faces.numpy(),
            morph_names=names,
            morph_deltas=posed_deltas.numpy().astype(np.float32),
            morph_weights=np.array([self.values[n] for n in names], dtype=np.float32),
            texture=self.texture,
            parts=self._parts(),
        )

    def _parts(self) -> list:
        """The hair as its own skinned mesh and material (none without hair)."""
        from avatarforge.export.mesh import MeshPart

        if self.hair is None:
            return []
        lin = ((np.asarray(self.hair_srgb, np.float64) / 255.0 + 0.055) / 1.055) ** 2.4  # sRGB -> linear
        return [MeshPart("hair", self.hair.vertices, self.hair.faces, self.hair.skin_indices, self.hair.skin_weights,
                         (*[float(c) for c in lin], 1.0))]


def build_avatar(
    values: Mapping[str, float] | None = None,
    pose: str = "a",
    body: BodyModel | None = None,
    texture: np.ndarray | None = None,
) -> Avatar:
    """Build an avatar from named parameter values, in rest pose ``pose`` (a, t, relaxed).

    Explicit ``pose.*`` values are applied on top of the preset.
    """
    body = body or load_body()
    given = body.params.validate(values or {})
    preset = pose_preset(body, pose, given)
    full = body.params.complete({**preset, **given})
    return Avatar(body, full, pose.lower(), body.forward_params(full), texture)


def load_avatar_params(path) -> Avatar:
    """Rebuild the avatar saved in a params.json (or a directory holding one)."""
    pf = ParamsFile.read(path)
    cfg = pf.backend_config
    body = load_body(pf.backend, **cfg) if cfg else load_body(pf.backend)
    full = body.params.complete(pf.values)
    return Avatar(body, full, pf.pose_preset, body.forward_params(full))
