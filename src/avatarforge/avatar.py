"""An avatar = a body model + its parameter values (+ texture): build it and export it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from avatarforge.bodies import BodyModel, BodyOutput, ParamsFile, load_body, pose_preset
from avatarforge.export.mesh import RiggedMesh, SpringChain

__all__ = ["Avatar", "build_avatar", "dress", "load_avatar_params", "material_groups", "lod_meshes"]


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
    texture_lit: bool = False
    """The texture holds the photo's lighting (exported unlit), not a de-lit albedo."""
    hair: object | None = None
    """bodies.hair.HairMesh on ``output`` (None: bald / no hair geometry)."""
    hair_srgb: tuple[int, int, int] = (60, 45, 35)
    """Hair colour (sRGB 0-255)."""
    hair_texture: np.ndarray | None = None
    """(H, W, 4) uint8 sRGB + alpha texture of the hair at its ``uvs`` (texture.hair); None: flat ``hair_srgb``."""
    outfit: tuple = ()
    """(garment type, sRGB colour) pairs (see bodies.garments); their meshes are ``garments``."""
    garments: list = field(default_factory=list)
    """bodies.garments.GarmentMesh per outfit item, built on ``output``."""
    glasses: object | None = None
    """bodies.glasses.GlassesMesh on ``output`` (None: no glasses)."""
    glasses_srgb: tuple[int, int, int] = (30, 30, 32)
    """Glasses frame colour (sRGB 0-255); lenses are a dark tint of it."""

    @property
    def expression(self) -> dict[str, float]:
        return {n: self.values[n] for n in self.body.params.names("expression")}

    def params_file(self, extra: dict | None = None) -> ParamsFile:
        import importlib.metadata as md

        try:
            version = md.version(self.body.name)
        except md.PackageNotFoundError:  # pragma: no cover
            version = ""
        # The load_body() keywords that rebuild this body (bodies without options have none).
        config = dict(getattr(self.body, "config", None) or {})
        return ParamsFile(self.body.name, dict(self.values), self.pose_preset, config, version, extra or {})

    def reposed(self, pose: str) -> "Avatar":
        """The same person in rest pose preset ``pose`` (every ``pose.*`` value replaced)."""
        shape = {k: v for k, v in self.values.items() if not k.startswith("pose.")}
        values = self.body.params.complete({**shape, **pose_preset(self.body, pose, shape)})
        if values == self.values:
            return self
        out = self.body.forward_params(values)
        hair = None
        if self.hair is not None:  # the same fitted style, rebuilt on the new pose
            from avatarforge.bodies.hair import build_hair

            hair = build_hair(out, self.hair.style)
            if hair is not None and self.hair.uvs is not None and len(hair.uvs) == len(self.hair.uvs):
                hair.uvs = self.hair.uvs  # the texture's layout, as fitted (same grid)
        glasses = None
        if self.glasses is not None:
            from avatarforge.bodies.glasses import build_glasses

            glasses = build_glasses(out, self.glasses.style)
        return Avatar(self.body, values, pose.lower(), out, self.texture, texture_lit=self.texture_lit, hair=hair,
                      hair_srgb=self.hair_srgb, hair_texture=self.hair_texture, outfit=self.outfit, garments=dress(out, self.outfit),
                      glasses=glasses, glasses_srgb=self.glasses_srgb)

    def render_arrays(self):
        """(vertices, faces, texture, uvs, uv_faces) for one render of the posed avatar: the
        body plus its hair, each garment and the glasses, every part a flat colour block
        appended to the texture (``render.preview.with_hair``)."""
        from avatarforge.render.preview import with_hair

        out = self.output
        arrays = (out.vertices[0].detach().numpy(), out.faces.numpy(), self.texture, out.uvs.numpy(),
                  out.uv_faces.numpy())
        if self.hair is not None:
            arrays = with_hair(*arrays, self.hair.vertices, self.hair.faces, self.hair_srgb,
                               part_texture=self.hair_texture, part_uvs=self.hair.uvs)
        for g, (_, srgb) in zip(self.garments, self.outfit):
            arrays = with_hair(*arrays, g.vertices, g.faces, srgb)
        if self.glasses is not None:
            arrays = with_hair(*arrays, self.glasses.vertices, self.glasses.faces, self.glasses_srgb)
        return arrays

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
        names_j, parents_j = list(out.joint_names), np.asarray(out.joint_parents, dtype=np.int64)
        world_j = out.joints_world[0].double().numpy()
        parts, springs, colliders = self._parts(), [], []
        rig = self._hair_joints(out, world_j)
        if rig is not None:  # the hair's joints after the body's; the hair skinned to them
            names_j += rig.names
            parents_j = np.concatenate([parents_j, rig.parents])
            world_j = np.concatenate([world_j, rig.world])
            parts[0] = replace(parts[0], skin_indices=rig.skin_indices, skin_weights=rig.skin_weights)  # the hair part (first)
            springs = [SpringChain(chain) for chain in rig.chains]
            moving = rig.world[[i for i in range(len(rig.names)) if rig.parents[i] >= len(out.joint_names)]]  # not roots
            colliders = self._colliders(out, world_j[: len(out.joint_names)], moving, springs[0].hit_radius)
        return RiggedMesh(
            vertices=out.vertices[0].numpy().astype(np.float32),
            faces=out.faces.numpy().astype(np.int64),
            joint_names=names_j,
            joint_parents=parents_j,
            joint_world=world_j,
            skin_indices=out.skin_indices.numpy(),
            skin_weights=out.skin_weights.numpy(),
            uvs=out.uvs.numpy(),
            uv_faces=out.uv_faces.numpy(),
            morph_names=names,
            morph_deltas=posed_deltas.numpy().astype(np.float32),
            morph_weights=np.array([self.values[n] for n in names], dtype=np.float32),
            texture=self.texture,
            face_groups=material_groups(out.uvs.numpy(), out.uv_faces.numpy()) if self.body.name == "anny" else None,
            texture_lit=self.texture_lit and self.texture is not None,
            parts=parts,
            springs=springs,
            colliders=colliders,
        )

    def _hair_joints(self, out: BodyOutput, joint_world: np.ndarray):
        """bodies.hair_joints.HairJoints of the hair on ``out`` (None: no hair, or too short to sway)."""
        if self.hair is None or "head" not in out.joint_names:
            return None
        from avatarforge.bodies.hair_joints import hair_joints

        head = list(out.joint_names).index("head")
        return hair_joints(np.asarray(self.hair.vertices), np.asarray(self.hair.skin_indices),
                           np.asarray(self.hair.skin_weights), joint_world[head], head, len(out.joint_names))

    @staticmethod
    def _colliders(out: BodyOutput, joint_world: np.ndarray, hair_world: np.ndarray, hit_radius: float) -> list:
        from avatarforge.bodies.hair_joints import hair_colliders
        from avatarforge.export.mesh import SpringCollider

        sw = out.skin_weights.numpy()
        dominant = out.skin_indices.numpy()[np.arange(len(sw)), sw.argmax(1)]
        found = hair_colliders(out.vertices[0].double().numpy(), dominant, list(out.joint_names), joint_world,
                               hair_world, hit_radius)
        return [SpringCollider(c.joint, tuple(float(x) for x in c.centre), c.radius,
                               None if c.tail is None else tuple(float(x) for x in c.tail)) for c in found]

    def _parts(self) -> list:
        """The hair, each garment and the glasses (frame; lenses) as their own skinned meshes and
        materials (none on a bare body)."""
        from avatarforge.export.mesh import MeshPart
        from avatarforge.util.colour import srgb_to_linear

        def rgba(srgb) -> tuple[float, float, float, float]:
            return (*[float(c) for c in srgb_to_linear(np.asarray(srgb, np.float64) / 255.0)], 1.0)

        parts = []
        if self.hair is not None:
            textured = self.hair_texture is not None and self.hair.uvs is not None
            parts.append(MeshPart("hair", self.hair.vertices, self.hair.faces, self.hair.skin_indices,
                                  self.hair.skin_weights, rgba(self.hair_srgb),
                                  uvs=self.hair.uvs if textured else None, texture=self.hair_texture if textured else None))
        for g, (_, srgb) in zip(self.garments, self.outfit):
            parts.append(MeshPart(g.name, g.vertices, g.faces, g.skin_indices, g.skin_weights, rgba(srgb),
                                  look="garment"))
        if self.glasses is not None:
            g = self.glasses
            parts.append(MeshPart("glasses", g.vertices, g.faces, g.skin_indices, g.skin_weights,
                                  rgba(self.glasses_srgb)))
            if len(g.lens_vertices):
                si, sw = g.lens_skin
                frame = rgba(self.glasses_srgb)
                parts.append(MeshPart("glasses_lenses", g.lens_vertices, g.lens_faces, si, sw,
                                      (*[c * 0.35 for c in frame[:3]], 1.0)))
        return parts


#: Material groups kept at full resolution per level of detail (the mouth cavity, 1,244
#: triangles, would outweigh the body at levels 2-3, which are meant to be seen from afar).
LOD_KEEP_GROUPS = {1: ("eyes", "mouth"), 2: ("eyes",), 3: ("eyes",)}


def lod_meshes(avatar: Avatar, mesh: RiggedMesh) -> dict[int, RiggedMesh]:
    """Levels of detail 1..3 of ``avatar``'s export ``mesh`` on Anny's reduced topologies
    (same rig, UVs, morph targets; the eyes kept at full resolution, and at level 1 the mouth
    cavity too, so an open mouth is not a hole). Empty for other bodies."""
    from avatarforge.bodies.anny_topology import LOD_TOPOLOGIES, reduced_topology
    from avatarforge.export.lod import map_surface, transfer_to_surface
    from avatarforge.texture.uv_parts import face_parts, part_ids

    if avatar.body.name != "anny":
        return {}
    body = avatar.body
    template = body.model.template_vertices.double().numpy()
    labels = face_parts(mesh.uvs, mesh.uv_faces)
    surface = ~np.isin(labels, part_ids("eye*", "mouth_cavity", "tongue"))  # the outer skin
    out = {}
    for level in LOD_TOPOLOGIES:
        light_v, light_f = reduced_topology(level)
        smap = map_surface(template, mesh.faces, mesh.uv_faces, mesh.uvs, surface, light_v, light_f)
        out[level] = transfer_to_surface(mesh, smap, keep_groups=LOD_KEEP_GROUPS[level])
    return out


def material_groups(uvs: np.ndarray, uv_faces: np.ndarray) -> np.ndarray:
    """(F,) material group of each Anny triangle (index into `export.materials.GROUP_NAMES`):
    eyeballs -> eyes, mouth cavity and tongue -> mouth, the rest -> skin."""
    from avatarforge.export.materials import GROUP_NAMES
    from avatarforge.texture.uv_parts import face_parts, part_ids

    labels = face_parts(uvs, uv_faces)
    groups = np.zeros(len(labels), dtype=np.int64)
    groups[np.isin(labels, part_ids("eye_front*", "eye_back*"))] = GROUP_NAMES.index("eyes")
    groups[np.isin(labels, part_ids("mouth_cavity", "tongue"))] = GROUP_NAMES.index("mouth")
    return groups


def dress(output: BodyOutput, outfit) -> list:
    """The garment meshes of ``outfit`` ((type, sRGB) pairs) on the body output ``output``."""
    if not outfit:
        return []
    from avatarforge.bodies.garments import build_outfit

    return build_outfit(output, [name for name, _ in outfit])


def build_avatar(
    values: Mapping[str, float | str] | None = None,
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
