"""The exporter's input: one rigged, skinned, morphable, textured mesh, as plain arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["RiggedMesh", "MeshPart", "SpringChain", "SpringCollider", "DEFAULT_SKIN_RGBA"]

#: Base colour (linear RGBA) of the default skin material when there is no photo texture.
DEFAULT_SKIN_RGBA = (0.80, 0.55, 0.45, 1.0)


@dataclass
class MeshPart:
    """A further skinned mesh on the same skeleton with its own material (e.g. hair), bind pose."""

    name: str
    vertices: np.ndarray
    """(V, 3) float32 positions."""
    faces: np.ndarray
    """(F, 3) int, counter-clockwise seen from outside."""
    skin_indices: np.ndarray
    """(V, K) int joint indices (the RiggedMesh's joints)."""
    skin_weights: np.ndarray
    """(V, K) float weights (rows sum to 1)."""
    base_color: tuple[float, float, float, float]
    """Linear RGBA material colour."""
    double_sided: bool = True
    look: str = "hair"
    """Its material group in `export.materials.MATERIAL_LOOKS` (hair, garment)."""
    uvs: np.ndarray | None = None
    """(V, 2) float per-vertex texture coordinates (OBJ convention: v up); with ``texture``."""
    texture: np.ndarray | None = None
    """(H, W, 3 or 4) uint8 sRGB base-colour texture (row 0 at the top); with 4 channels its
    alpha cuts the surface out below `export.materials.ALPHA_CUTOFF` (glTF ``alphaMode MASK``)."""

    def __post_init__(self) -> None:
        if (self.uvs is None) != (self.texture is None):
            raise ValueError(f"part {self.name!r}: uvs and texture go together")
        if self.uvs is not None and np.shape(self.uvs) != (len(self.vertices), 2):
            raise ValueError(f"part {self.name!r}: uvs must be (V, 2) = ({len(self.vertices)}, 2), got {np.shape(self.uvs)}")


@dataclass(frozen=True)
class SpringChain:
    """A chain of joints an engine sways (hair): VRM's ``VRMC_springBone`` spring.

    The settings are VRM's per joint (the same for every joint of the chain; the last joint
    is only the tip). Per frame (1/60 s) the tip of each segment keeps ``1 - drag_force`` of
    its velocity, is pulled back towards its rest direction by ``stiffness * dt`` and down by
    ``gravity_power * dt`` (metres per second, roughly), then put back at the segment's length.
    """

    joints: tuple[int, ...]
    """Joint indices, root first (each the parent or an ancestor of the next)."""
    hit_radius: float = 0.015
    """Collision radius of each joint (metres)."""
    stiffness: float = 0.8
    gravity_power: float = 0.2
    gravity_dir: tuple[float, float, float] = (0.0, -1.0, 0.0)
    drag_force: float = 0.35
    """0: keeps swinging, 1: stops at once."""


@dataclass(frozen=True)
class SpringCollider:
    """A sphere (``tail`` None) or a capsule (``centre`` to ``tail``) on a joint that spring
    chains do not enter; positions in world coordinates in the bind pose."""

    joint: int
    centre: tuple[float, float, float]
    radius: float
    tail: tuple[float, float, float] | None = None


@dataclass
class RiggedMesh:
    """A skinned mesh in its bind pose, in metres, +Y up, facing +Z (glTF's frame).

    Every array is numpy. The bind pose is the pose the mesh is exported in (T, A, ...):
    ``vertices`` are posed, ``joint_world`` are the joints' world transforms in that pose,
    and ``morph_deltas`` are already expressed in that pose.
    """

    vertices: np.ndarray
    """(V, 3) float32 positions."""
    faces: np.ndarray
    """(F, 3) int vertex indices, counter-clockwise seen from outside."""
    joint_names: list[str]
    """(J,) joint names."""
    joint_parents: np.ndarray
    """(J,) int parent index per joint, -1 for a root; parents come before children."""
    joint_world: np.ndarray
    """(J, 4, 4) float world transform (rotation + translation, no scale) of each joint."""
    skin_indices: np.ndarray
    """(V, K) int joint index per influence."""
    skin_weights: np.ndarray
    """(V, K) float weight per influence (rows sum to 1; any K, the exporter keeps 4)."""
    uvs: np.ndarray | None = None
    """(T, 2) float texture coordinates, OBJ convention: (0, 0) is the image's bottom-left."""
    uv_faces: np.ndarray | None = None
    """(F, 3) int indices into ``uvs`` (a vertex can have several UVs across seams)."""
    morph_names: list[str] = field(default_factory=list)
    """(M,) morph target names (ARKit names for facial actions)."""
    morph_deltas: np.ndarray | None = None
    """(M, V, 3) float32 position offsets of each morph target."""
    morph_weights: np.ndarray | None = None
    """(M,) default weights (e.g. the fitted expression); zeros when None."""
    texture: np.ndarray | None = None
    """(H, W, 3 or 4) uint8 sRGB base-colour texture, row 0 at the top; None: default skin."""
    base_color: tuple[float, float, float, float] = DEFAULT_SKIN_RGBA
    """Material colour factor when there is no texture."""
    name: str = "avatar"
    face_groups: np.ndarray | None = None
    """(F,) int material group of each triangle, an index into `materials.GROUP_NAMES`
    (0 skin, 1 eyes, 2 mouth, ...); None: everything is skin."""
    texture_lit: bool = False
    """The texture already holds lighting (the photo's): engines should not light it again."""
    parts: list[MeshPart] = field(default_factory=list)
    """Further meshes skinned to the same joints, each with its own material (hair)."""
    springs: list[SpringChain] = field(default_factory=list)
    """Joint chains that sway (hair); the VRM writes them as ``VRMC_springBone``."""
    colliders: list[SpringCollider] = field(default_factory=list)
    """Body shapes the springs collide with."""

    def __post_init__(self) -> None:
        v = self.vertices.shape[0]
        if self.vertices.shape != (v, 3):
            raise ValueError(f"vertices must be (V, 3), got {self.vertices.shape}")
        if self.faces.ndim != 2 or self.faces.shape[1] != 3:
            raise ValueError(f"faces must be (F, 3), got {self.faces.shape}")
        if self.skin_indices.shape != self.skin_weights.shape or self.skin_indices.shape[0] != v:
            raise ValueError("skin_indices and skin_weights must both be (V, K)")
        j = len(self.joint_names)
        if self.joint_world.shape != (j, 4, 4) or self.joint_parents.shape != (j,):
            raise ValueError("joint_world must be (J, 4, 4) and joint_parents (J,)")
        if (self.uvs is None) != (self.uv_faces is None):
            raise ValueError("uvs and uv_faces go together")
        if self.face_groups is not None and np.shape(self.face_groups) != (len(self.faces),):
            raise ValueError(f"face_groups must be (F,) = ({len(self.faces)},), got {np.shape(self.face_groups)}")
        if self.morph_deltas is not None and self.morph_deltas.shape != (len(self.morph_names), v, 3):
            raise ValueError("morph_deltas must be (M, V, 3) with one name per target")
