"""Mesh preparation shared by the exporters: smooth normals and UV-seam vertex splitting."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int

__all__ = ["SeamSplit", "vertex_normals", "split_uv_seams"]

#: Normal given to vertices without any non-degenerate incident face (the mesh faces +Z).
FALLBACK_NORMAL = (0.0, 0.0, 1.0)


def vertex_normals(
    vertices: Float[np.ndarray, "V 3"], faces: Int[np.ndarray, "F 3"]
) -> Float[np.ndarray, "V 3"]:
    """Smooth unit normals per vertex: the area-weighted mean of the incident face normals.

    The cross product of two edges is the face normal scaled by twice the face area, so
    summing the raw cross products weights each face by its area. Computed in float64 and
    returned as float32 unit vectors; vertices with no (non-degenerate) face get
    ``FALLBACK_NORMAL`` so that every normal has unit length.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    face_n = np.cross(b - a, c - a)  # (F, 3), |n| = 2 * area
    corners = f.reshape(-1)
    acc = np.empty((v.shape[0], 3), dtype=np.float64)
    for axis in range(3):  # bincount is much faster than np.add.at for the scatter-sum
        acc[:, axis] = np.bincount(corners, np.repeat(face_n[:, axis], 3), minlength=v.shape[0])
    length = np.linalg.norm(acc, axis=1, keepdims=True)
    ok = length[:, 0] > 1e-30
    out = np.empty_like(acc)
    out[ok] = acc[ok] / length[ok]
    out[~ok] = FALLBACK_NORMAL
    return out.astype(np.float32)


@dataclass
class SeamSplit:
    """Vertices split so that each carries exactly one UV (what glTF needs).

    A split vertex is one unique (vertex, uv) pair used by a face corner.
    """

    source_vertex: Int[np.ndarray, "S"]
    """(S,) int64 original vertex index of each split vertex (sorted ascending)."""
    source_uv: Int[np.ndarray, "S"] | None
    """(S,) int64 index into the original ``uvs`` of each split vertex; None without UVs."""
    faces: Int[np.ndarray, "F 3"]
    """(F, 3) int64 faces indexing the split vertices (same order and winding as the input)."""


def split_uv_seams(
    faces: Int[np.ndarray, "F 3"],
    uv_faces: Int[np.ndarray, "F 3"] | None,
    n_vertices: int,
    n_uvs: int = 0,
) -> SeamSplit:
    """Split vertices at UV seams: one output vertex per unique (vertex, uv) corner pair.

    Without UVs nothing is split (the mapping is the identity and unreferenced vertices are
    kept). With UVs, vertices used by no face are dropped, since they have no UV.
    """
    f = np.asarray(faces, dtype=np.int64)
    if f.size and (f.min() < 0 or f.max() >= n_vertices):
        raise ValueError(f"faces index vertices outside [0, {n_vertices})")
    if uv_faces is None:
        return SeamSplit(np.arange(n_vertices, dtype=np.int64), None, f.copy())
    uf = np.asarray(uv_faces, dtype=np.int64)
    if uf.shape != f.shape:
        raise ValueError(f"uv_faces {uf.shape} must have the shape of faces {f.shape}")
    if uf.size and (uf.min() < 0 or uf.max() >= n_uvs):
        raise ValueError(f"uv_faces index UVs outside [0, {n_uvs})")
    key = f.reshape(-1) * max(n_uvs, 1) + uf.reshape(-1)  # unique id of a (vertex, uv) pair
    unique, inverse = np.unique(key, return_inverse=True)
    return SeamSplit(
        source_vertex=unique // max(n_uvs, 1),
        source_uv=unique % max(n_uvs, 1),
        faces=inverse.reshape(f.shape).astype(np.int64),
    )
