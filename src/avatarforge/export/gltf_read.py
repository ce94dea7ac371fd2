"""Read back what `write_glb` wrote, through pygltflib (an independent GLB parser).

Meant for tests and sanity checks: it understands exactly the subset our exporter uses
(one skinned mesh whose triangle primitives, one per material, share their vertex
attributes and morph targets), plus strided and sparse accessors.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pygltflib import GLTF2
from scipy.spatial.transform import Rotation

__all__ = ["GlbContents", "read_glb", "read_glb_json", "read_glb_positions", "node_world_matrices", "read_accessor"]

_DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


@dataclass
class GlbContents:
    """The skinned mesh of a GLB as numpy arrays (glTF conventions, S = vertices in the file)."""

    positions: np.ndarray
    """(S, 3) float32."""
    normals: np.ndarray | None
    """(S, 3) float32."""
    uvs: np.ndarray | None
    """(S, 2) float32 TEXCOORD_0, glTF convention: (0, 0) is the image's top-left."""
    faces: np.ndarray
    """(F, 3) int64, every primitive's triangles in primitive order."""
    face_material: np.ndarray
    """(F,) int64 material index of each triangle."""
    material_names: list[str]
    """Name of each material."""
    joints: np.ndarray
    """(S, 4) int64 JOINTS_0 (indices into ``joint_nodes``)."""
    weights: np.ndarray
    """(S, 4) float32 WEIGHTS_0."""
    joint_nodes: list[int]
    """(J,) node index of each skin joint."""
    inverse_bind_matrices: np.ndarray
    """(J, 4, 4) float64, row-major (converted from glTF's column-major)."""
    node_local: np.ndarray
    """(N, 4, 4) float64 local transform of every node."""
    node_parent: np.ndarray
    """(N,) int64 parent node, -1 for a root."""
    mesh_node: int
    """The node that instances the skinned mesh."""
    morph_names: list[str]
    """``mesh.extras.targetNames``."""
    morph_deltas: np.ndarray
    """(M, S, 3) float32 POSITION deltas."""
    morph_weights: np.ndarray
    """(M,) ``mesh.weights``."""
    image_png: bytes | None
    """The base-colour texture's bytes, None without a texture."""
    base_color_factor: tuple[float, ...]
    """The material's baseColorFactor (default 1, 1, 1, 1)."""
    generator: str | None


def _view_start(gltf: GLTF2, view_index: int, offset: int | None) -> int:
    return (gltf.bufferViews[view_index].byteOffset or 0) + (offset or 0)


def read_accessor(gltf: GLTF2, blob: bytes, index: int) -> np.ndarray:
    """(count, components) array of accessor ``index`` (strided and sparse data supported)."""
    acc = gltf.accessors[index]
    dtype, width = np.dtype(_DTYPES[acc.componentType]), _WIDTH[acc.type]
    row_bytes = dtype.itemsize * width
    out = np.zeros((acc.count, width), dtype=dtype)
    if acc.bufferView is not None:
        start = _view_start(gltf, acc.bufferView, acc.byteOffset)
        stride = gltf.bufferViews[acc.bufferView].byteStride or row_bytes
        raw = np.frombuffer(blob, np.uint8, count=stride * (acc.count - 1) + row_bytes, offset=start)
        rows = np.lib.stride_tricks.as_strided(raw, (acc.count, row_bytes), (stride, 1))
        out[:] = np.ascontiguousarray(rows).view(dtype).reshape(acc.count, width)
    if acc.sparse is not None:
        sp = acc.sparse
        idx_start = _view_start(gltf, sp.indices.bufferView, sp.indices.byteOffset)
        idx = np.frombuffer(blob, _DTYPES[sp.indices.componentType], sp.count, idx_start)
        val_start = _view_start(gltf, sp.values.bufferView, sp.values.byteOffset)
        values = np.frombuffer(blob, dtype, sp.count * width, val_start)
        out[idx.astype(np.int64)] = values.reshape(sp.count, width)
    return out


def _position(target) -> int:
    """A morph target's POSITION accessor (pygltflib gives Attributes objects or dicts)."""
    return target["POSITION"] if isinstance(target, dict) else target.POSITION


def _local_matrix(node) -> np.ndarray:
    if node.matrix is not None:
        return np.asarray(node.matrix, dtype=np.float64).reshape(4, 4).T  # column-major
    m = np.eye(4)
    if node.rotation is not None:
        m[:3, :3] = Rotation.from_quat(node.rotation).as_matrix()  # x, y, z, w
    if node.scale is not None:
        m[:3, :3] = m[:3, :3] * np.asarray(node.scale)[None, :]
    if node.translation is not None:
        m[:3, 3] = node.translation
    return m


def node_world_matrices(node_local: np.ndarray, node_parent: np.ndarray) -> np.ndarray:
    """(N, 4, 4) world transforms: the product of the local transforms from the root down."""
    world: list[np.ndarray | None] = [None] * len(node_local)

    def resolve(i: int) -> np.ndarray:
        if world[i] is None:
            p = int(node_parent[i])
            world[i] = node_local[i] if p < 0 else resolve(p) @ node_local[i]
        return world[i]

    return np.stack([resolve(i) for i in range(len(node_local))]) if len(node_local) else np.zeros((0, 4, 4))


def read_glb(path: str | os.PathLike[str]) -> GlbContents:
    """Parse a GLB written by `write_glb` (first mesh, its primitives, first skin)."""
    gltf = GLTF2.load_binary(str(path))
    blob = gltf.binary_blob() or b""
    prim = gltf.meshes[0].primitives[0]
    attr = prim.attributes

    def get(index: int | None) -> np.ndarray | None:
        return None if index is None else read_accessor(gltf, blob, index)

    skin = gltf.skins[0]
    parent = np.full(len(gltf.nodes), -1, dtype=np.int64)
    for i, node in enumerate(gltf.nodes):
        for child in node.children or []:
            parent[child] = i
    targets = prim.targets or []
    mesh = gltf.meshes[0]
    faces = [get(p.indices).reshape(-1, 3).astype(np.int64) for p in mesh.primitives]
    material = gltf.materials[prim.material] if prim.material is not None else None
    pbr = material.pbrMetallicRoughness if material is not None else None
    image_png = None
    if pbr is not None and pbr.baseColorTexture is not None:
        image = gltf.images[gltf.textures[pbr.baseColorTexture.index].source]
        view = gltf.bufferViews[image.bufferView]
        image_png = blob[view.byteOffset or 0 : (view.byteOffset or 0) + view.byteLength]
    ibm = get(skin.inverseBindMatrices)
    no_targets = np.zeros((0, gltf.accessors[attr.POSITION].count, 3), np.float32)
    return GlbContents(
        positions=get(attr.POSITION),
        normals=get(attr.NORMAL),
        uvs=get(attr.TEXCOORD_0),
        faces=np.concatenate(faces),
        face_material=np.concatenate([np.full(len(f), p.material or 0) for f, p in zip(faces, mesh.primitives)]),
        material_names=[m.name or "" for m in gltf.materials],
        joints=get(attr.JOINTS_0).astype(np.int64),
        weights=get(attr.WEIGHTS_0),
        joint_nodes=list(skin.joints),
        inverse_bind_matrices=ibm.reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64),  # column-major
        node_local=np.stack([_local_matrix(n) for n in gltf.nodes]),
        node_parent=parent,
        mesh_node=next(i for i, n in enumerate(gltf.nodes) if n.mesh == 0),
        morph_names=list((mesh.extras or {}).get("targetNames", [])),
        morph_deltas=np.stack([get(_position(t)) for t in targets]) if targets else no_targets,
        morph_weights=np.asarray(mesh.weights or [], dtype=np.float64),
        image_png=image_png,
        base_color_factor=tuple(pbr.baseColorFactor) if pbr and pbr.baseColorFactor else (1.0,) * 4,
        generator=gltf.asset.generator,
    )


def read_glb_positions(path: str | os.PathLike[str]) -> np.ndarray:
    """(S, 3) float32 POSITION of the first primitive of the first mesh."""
    return read_glb(path).positions


def read_glb_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON chunk of a GLB (or .vrm) file as a dict, as written (extensions included)."""
    data = Path(path).read_bytes()
    length, kind = struct.unpack_from("<II", data, 12)
    if data[:4] != b"glTF" or kind != 0x4E4F534A:  # "JSON"
        raise ValueError(f"{path} is not a GLB file (no JSON chunk first)")
    return json.loads(data[20 : 20 + length])
