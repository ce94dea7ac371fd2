"""Levels of detail: carry a rigged mesh onto a lighter surface of the same body.

Each vertex of the light mesh is tied to the closest point of the full mesh's skin (a
triangle and barycentric weights, found once on the template, where both meshes share one
shape); positions, skin weights and morph deltas are interpolated with those weights, so
the light mesh follows every shape, pose and expression of the full one. UVs are taken per
triangle corner, from the UV island under the triangle's centre, so a light triangle never
spans two islands of the atlas (which would smear the texture across it). Groups named in
``keep_groups`` (e.g. the eyes, small and important) are appended at full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from avatarforge.export.materials import GROUP_NAMES
from avatarforge.export.mesh import RiggedMesh

__all__ = ["SurfaceMap", "map_surface", "transfer_to_surface"]


def _closest(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray, k: int = 32
             ) -> tuple[np.ndarray, np.ndarray]:
    """(triangle row in ``faces``, (N, 3) barycentrics) of the closest surface point to each point."""
    import trimesh

    tris = vertices[faces]
    k = min(k, len(faces))
    _, cand = cKDTree(tris.mean(1)).query(points, k=k)
    cand = cand.reshape(len(points), k)
    closest = trimesh.triangles.closest_point(tris[cand.ravel()], np.repeat(points, k, axis=0)).reshape(-1, k, 3)
    best = np.linalg.norm(closest - points[:, None], axis=-1).argmin(1)
    rows = np.arange(len(points))
    tri = cand[rows, best]
    bary = trimesh.triangles.points_to_barycentric(tris[tri], closest[rows, best])
    bary = np.clip(bary, 0.0, None)
    return tri, bary / bary.sum(1, keepdims=True)


def _uv_islands(uv_faces: np.ndarray, n_uvs: int) -> np.ndarray:
    """(F,) island id of each triangle: triangles sharing a UV index are in one island."""
    f = np.asarray(uv_faces)
    rows = np.repeat(np.arange(len(f)), 3)
    graph = coo_matrix((np.ones(rows.size), (rows, f.ravel() + len(f))), shape=(len(f) + n_uvs,) * 2)
    _, label = connected_components(graph, directed=False)
    return label[: len(f)]


@dataclass
class SurfaceMap:
    """Where the light mesh sits on the full one (computed on the template)."""

    faces: Int[np.ndarray, "F 3"]
    """Light mesh triangles."""
    vertex_tri: Int[np.ndarray, "N"]
    """Full-mesh triangle of each light vertex."""
    vertex_bary: Float[np.ndarray, "N 3"]
    corner_tri: Int[np.ndarray, "F 3"]
    """Full-mesh triangle of each light triangle corner (for its UV)."""
    corner_bary: Float[np.ndarray, "F 3 3"]


def map_surface(
    template: Float[np.ndarray, "V 3"],
    full_faces: Int[np.ndarray, "Ff 3"],
    full_uv_faces: Int[np.ndarray, "Ff 3"],
    n_uvs: int,
    allowed: np.ndarray,
    light_vertices: Float[np.ndarray, "N 3"],
    light_faces: Int[np.ndarray, "F 3"],
) -> SurfaceMap:
    """Tie ``light_vertices``/``light_faces`` (same frame and shape as ``template``) to the
    full mesh's triangles ``full_faces[allowed]`` (a boolean or index mask)."""
    full_faces = np.asarray(full_faces)
    ids = np.flatnonzero(allowed) if np.asarray(allowed).dtype == bool else np.asarray(allowed)
    tri, bary = _closest(template, full_faces[ids], light_vertices)
    vertex_tri = ids[tri]
    island = _uv_islands(full_uv_faces, n_uvs)
    centre_tri, _ = _closest(template, full_faces[ids], light_vertices[light_faces].mean(1))
    face_island = island[ids[centre_tri]]
    corner_tri = np.zeros(light_faces.shape, np.int64)
    corner_bary = np.zeros((*light_faces.shape, 3))
    for isl in np.unique(face_island):
        rows = np.flatnonzero(face_island == isl)
        sub = ids[island[ids] == isl]
        t, b = _closest(template, full_faces[sub], light_vertices[light_faces[rows]].reshape(-1, 3))
        corner_tri[rows] = sub[t].reshape(-1, 3)
        corner_bary[rows] = b.reshape(-1, 3, 3)
    return SurfaceMap(np.asarray(light_faces, np.int64), vertex_tri, bary, corner_tri, corner_bary)


def transfer_to_surface(mesh: RiggedMesh, surface: SurfaceMap, keep_groups: tuple[str, ...] = ("eyes",)
                        ) -> RiggedMesh:
    """``mesh`` carried onto the light surface (+ its ``keep_groups`` triangles at full resolution)."""
    src = np.asarray(mesh.faces)[surface.vertex_tri]  # (N, 3) full vertices under each light vertex
    w = surface.vertex_bary

    def interp(values: np.ndarray) -> np.ndarray:  # (..., V, C) -> (..., N, C)
        # n: light vertex, k: triangle corner
        return np.einsum("nk,...nkc->...nc", w, values[..., src, :])

    vertices = interp(np.asarray(mesh.vertices, np.float64)).astype(np.float32)
    k = mesh.skin_indices.shape[1]
    skin_idx = np.asarray(mesh.skin_indices)[src].reshape(len(src), 3 * k)
    skin_w = (np.asarray(mesh.skin_weights, np.float64)[src] * w[:, :, None]).reshape(len(src), 3 * k)
    deltas = None if mesh.morph_deltas is None else interp(np.asarray(mesh.morph_deltas, np.float64)).astype(np.float32)
    faces = surface.faces
    groups = np.zeros(len(faces), np.int64)
    uvs = uv_faces = None
    if mesh.uvs is not None:
        corner_uv_idx = np.asarray(mesh.uv_faces)[surface.corner_tri]  # (F, 3 corners, 3 tri corners)
        uvs = np.einsum("fck,fckd->fcd", surface.corner_bary, np.asarray(mesh.uvs, np.float64)[corner_uv_idx])
        # A vertex's corners in one island get the same UV: share one index among them.
        key = np.concatenate([faces.reshape(-1, 1), uvs.reshape(-1, 2)], 1)
        key_unique, inverse = np.unique(key, axis=0, return_inverse=True)
        uvs = key_unique[:, 1:]
        uv_faces = inverse.reshape(-1, 3)

    keep = np.zeros(len(mesh.faces), bool)
    if mesh.face_groups is not None:
        for name in keep_groups:
            keep |= np.asarray(mesh.face_groups) == GROUP_NAMES.index(name)
    if keep.any():  # append the kept triangles with their own vertices
        kept = np.asarray(mesh.faces)[keep]
        used, inverse = np.unique(kept, return_inverse=True)
        n0 = len(vertices)
        vertices = np.concatenate([vertices, np.asarray(mesh.vertices, np.float32)[used]])
        faces = np.concatenate([faces, inverse.reshape(-1, 3) + n0])
        pad = 3 * k - k
        skin_idx = np.concatenate([skin_idx, np.pad(np.asarray(mesh.skin_indices)[used], ((0, 0), (0, pad)))])
        skin_w = np.concatenate([skin_w, np.pad(np.asarray(mesh.skin_weights, np.float64)[used], ((0, 0), (0, pad)))])
        if deltas is not None:
            deltas = np.concatenate([deltas, np.asarray(mesh.morph_deltas, np.float32)[:, used]], axis=1)
        groups = np.concatenate([groups, np.asarray(mesh.face_groups)[keep]])
        if uvs is not None:
            kept_uv = np.asarray(mesh.uvs, np.float64)[np.asarray(mesh.uv_faces)[keep]].reshape(-1, 2)
            uv_faces = np.concatenate([uv_faces, np.arange(len(kept_uv)).reshape(-1, 3) + len(uvs)])
            uvs = np.concatenate([uvs, kept_uv])
    return RiggedMesh(
        vertices=vertices, faces=faces, joint_names=list(mesh.joint_names), joint_parents=mesh.joint_parents,
        joint_world=mesh.joint_world, skin_indices=skin_idx, skin_weights=skin_w, uvs=uvs, uv_faces=uv_faces,
        morph_names=list(mesh.morph_names), morph_deltas=deltas, morph_weights=mesh.morph_weights,
        texture=mesh.texture, base_color=mesh.base_color, name=mesh.name,
        face_groups=groups if mesh.face_groups is not None else None, texture_lit=mesh.texture_lit,
    )
