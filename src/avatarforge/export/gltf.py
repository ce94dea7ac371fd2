"""GLB export of a `RiggedMesh`: skinned, with morph targets and an embedded PNG texture.

Layout of the file: node 0 is the skinned mesh at the scene root (no transform); nodes
1..J are the joints (joint j is node j + 1) with local translation + rotation; when the
skeleton has several roots an extra identity node ``skeleton`` parents them. One mesh, one
primitive, one material; the texture (if any) is a PNG inside the binary chunk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avatarforge.util.atomic import atomic_write_bytes
from avatarforge.export.geometry import split_uv_seams, vertex_normals
from avatarforge.export.glb_builder import ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER, GlbBuilder
from avatarforge.export.mesh import RiggedMesh
from avatarforge.export.png import TEXTURE_PNG_LEVEL, encode_png
from avatarforge.export.skin import cap_influences, inverse_bind_matrices, joint_local_trs

__all__ = ["GlbInfo", "build_glb", "write_glb", "GENERATOR", "MAX_INFLUENCES"]

GENERATOR = "avatarforge"
#: Influences per vertex written (JOINTS_0 / WEIGHTS_0 only; glTF viewers must support 4).
MAX_INFLUENCES = 4
#: Roughness of the skin material (metallic is 0).
SKIN_ROUGHNESS = 0.6
_LINEAR, _LINEAR_MIPMAP_LINEAR = 9729, 9987


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


def _skin_nodes(mesh: RiggedMesh) -> tuple[list[dict[str, Any]], int]:
    """Joint nodes (+ a common root when needed) and the skeleton root's node index."""
    translation, rotation = joint_local_trs(mesh.joint_world, mesh.joint_parents)
    nodes: list[dict[str, Any]] = [
        {"name": str(name), "translation": t.tolist(), "rotation": q.tolist()}
        for name, t, q in zip(mesh.joint_names, translation, rotation)
    ]
    roots = []
    for j, parent in enumerate(np.asarray(mesh.joint_parents).tolist()):
        if parent < 0:
            roots.append(j + 1)
        else:
            nodes[parent].setdefault("children", []).append(j + 1)
    if len(roots) == 1:
        return nodes, roots[0]
    nodes.append({"name": "skeleton", "children": roots})
    return nodes, len(nodes)  # mesh node 0 precedes the joints, so the new node is len(nodes)


def build_glb(
    mesh: RiggedMesh, *, sparse_morphs: bool = True, png_compress_level: int = TEXTURE_PNG_LEVEL
) -> tuple[bytes, GlbInfo]:
    """Encode ``mesh`` as GLB bytes (see `write_glb`)."""
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
        "NORMAL": b.add_accessor(vertex_normals(mesh.vertices, mesh.faces)[src], ARRAY_BUFFER),
    }
    if mesh.uvs is not None:
        uv = np.asarray(mesh.uvs, dtype=np.float64)[split.source_uv]
        uv[:, 1] = 1.0 - uv[:, 1]  # OBJ's v points up from the bottom; glTF's (0, 0) is top-left
        attributes["TEXCOORD_0"] = b.add_accessor(uv.astype(np.float32), ARRAY_BUFFER)
    joints, weights = cap_influences(mesh.skin_indices, mesh.skin_weights, n_joints, MAX_INFLUENCES)
    attributes["JOINTS_0"] = b.add_accessor(joints[src], ARRAY_BUFFER)
    attributes["WEIGHTS_0"] = b.add_accessor(weights[src], ARRAY_BUFFER)
    index_dtype = np.uint16 if len(src) < 65535 else np.uint32  # 65535 is primitive restart
    primitive: dict[str, Any] = {
        "attributes": attributes,
        "indices": b.add_accessor(split.faces.reshape(-1).astype(index_dtype), ELEMENT_ARRAY_BUFFER),
        "material": 0,
    }

    gltf_mesh: dict[str, Any] = {"name": mesh.name, "primitives": [primitive]}
    n_morph, n_sparse = len(mesh.morph_names), 0
    if n_morph:
        if mesh.morph_deltas is None:
            raise ValueError(f"{n_morph} morph_names but morph_deltas is None")
        deltas = np.asarray(mesh.morph_deltas, dtype=np.float32)[:, src]
        targets = []
        for delta in deltas:
            index, was_sparse = _morph_accessor(b, delta, sparse_morphs)
            targets.append({"POSITION": index})
            n_sparse += was_sparse
        primitive["targets"] = targets
        default = np.zeros(n_morph) if mesh.morph_weights is None else np.asarray(mesh.morph_weights)
        if default.shape != (n_morph,):
            raise ValueError(f"morph_weights must be ({n_morph},), got {default.shape}")
        gltf_mesh["weights"] = default.astype(np.float64).tolist()
        gltf_mesh["extras"] = {"targetNames": [str(n) for n in mesh.morph_names]}

    ibm = inverse_bind_matrices(mesh.joint_world).transpose(0, 2, 1)  # glTF matrices: column-major
    joint_nodes, skeleton = _skin_nodes(mesh)
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
    pbr: dict[str, Any] = {"metallicFactor": 0.0, "roughnessFactor": SKIN_ROUGHNESS}
    if mesh.texture is not None:
        png = encode_png(mesh.texture, png_compress_level)
        image = {"name": f"{mesh.name}_basecolor", "bufferView": b.add_view(png), "mimeType": "image/png"}
        gltf["images"] = [image]
        gltf["samplers"] = [{"magFilter": _LINEAR, "minFilter": _LINEAR_MIPMAP_LINEAR}]
        gltf["textures"] = [{"source": 0, "sampler": 0}]
        pbr["baseColorTexture"] = {"index": 0}
    else:
        pbr["baseColorFactor"] = [float(c) for c in mesh.base_color]
    gltf["materials"] = [{"name": f"{mesh.name}_skin", "pbrMetallicRoughness": pbr, "doubleSided": False}]

    for k, part in enumerate(mesh.parts):  # further skinned meshes (hair): own mesh, node, material
        pj, pw = cap_influences(part.skin_indices, part.skin_weights, n_joints, MAX_INFLUENCES)
        pv = np.asarray(part.vertices, np.float32)
        prim = {"attributes": {"POSITION": b.add_accessor(pv, ARRAY_BUFFER, True),
                               "NORMAL": b.add_accessor(vertex_normals(pv, part.faces), ARRAY_BUFFER),
                               "JOINTS_0": b.add_accessor(pj, ARRAY_BUFFER),
                               "WEIGHTS_0": b.add_accessor(pw, ARRAY_BUFFER)},
                "indices": b.add_accessor(np.asarray(part.faces).reshape(-1).astype(np.uint32), ELEMENT_ARRAY_BUFFER),
                "material": 1 + k}
        gltf["meshes"].append({"name": part.name, "primitives": [prim]})
        gltf["nodes"].append({"name": part.name, "mesh": len(gltf["meshes"]) - 1, "skin": 0})
        gltf["scenes"][0]["nodes"].append(len(gltf["nodes"]) - 1)
        gltf["materials"].append({"name": f"{mesh.name}_{part.name}", "doubleSided": bool(part.double_sided),
                                  "pbrMetallicRoughness": {"baseColorFactor": [float(c) for c in part.base_color],
                                                           "metallicFactor": 0.0, "roughnessFactor": 0.6}})

    data = b.pack(gltf)
    info = GlbInfo(
        n_vertices=len(src),
        n_faces=len(split.faces),
        n_joints=n_joints,
        n_morph_targets=n_morph,
        n_bytes=len(data),
        split_to_source=src,
        has_texture=mesh.texture is not None,
        n_sparse_morph_targets=n_sparse,
    )
    return data, info


def write_glb(
    mesh: RiggedMesh,
    path: str | os.PathLike[str],
    *,
    sparse_morphs: bool = True,
    png_compress_level: int = TEXTURE_PNG_LEVEL,
) -> GlbInfo:
    """Write ``mesh`` as a binary glTF 2.0 file (atomically) and describe what was written.

    Vertices are split at UV seams (``info.split_to_source`` maps them back), v is flipped
    for glTF, the 4 largest skin influences are kept and renormalised, morph targets carry
    POSITION deltas (sparse when most vertices do not move and ``sparse_morphs``), the
    names go to ``mesh.extras.targetNames`` and the defaults to ``mesh.weights``.
    ``png_compress_level`` (0-9) trades texture encoding time for file size.
    """
    data, info = build_glb(mesh, sparse_morphs=sparse_morphs, png_compress_level=png_compress_level)
    info.path = atomic_write_bytes(path, data)
    return info
