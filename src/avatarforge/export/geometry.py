"""Mesh preparation shared by the exporters: UV-seam vertex splitting (smooth normals: util.geometry)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Int

__all__ = ["SeamSplit", "split_uv_seams", "FALLBACK_NORMAL"]

#: Normal given to vertices without any non-degenerate incident face (the mesh faces +Z): glTF
#: and OBJ normals must have unit length (``util.geometry.vertex_normals(..., fallback=)``).
FALLBACK_NORMAL = (0.0, 0.0, 1.0)


@dataclass
class SeamSplit:
    """Vertices split so that each carries exactly one UV (what glTF needs).

    A split vertex is one unique (vertex, uv) pair used by a face corner.
    """

    source_vertex: Int[np.ndarray, " S"]
    """(S,) int64 original vertex index of each split vertex (sorted ascending)."""
    source_uv: Int[np.ndarray, " S"] | None
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
