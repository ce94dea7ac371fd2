"""Levels of detail: carry a rigged mesh onto a lighter surface of the same body.

Each vertex of the light mesh is tied to the closest point of the full mesh's skin (a
triangle and barycentric weights, found once on the template, where both meshes share one
shape); positions, skin weights and morph deltas are interpolated with those weights, so
the light mesh follows every shape, pose and expression of the full one. UVs are taken per
triangle corner, from the UV island under the triangle's centre, and within it the triangle
whose UV is nearest the centre's wins unless it is much farther in 3D (`UV_WEIGHT`, for
slits inside one island), so a light triangle that crosses a UV seam takes all its corners
from one side instead of stretching across the atlas. Groups named in
``keep_groups`` (e.g. the eyes, small and important) are appended at full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int
from scipy.spatial import cKDTree

from avatarforge.export.materials import GROUP_NAMES
from avatarforge.export.mesh import RiggedMesh

__all__ = ["SurfaceMap", "map_surface", "transfer_to_surface", "UV_WEIGHT"]

#: Corner UV choice: score = 3D distance (m) + UV_WEIGHT * distance (UV units) to the UV under
#: the light triangle's centre. One UV unit spans ~3 m of body, so a corner taken across a
#: seam (UV jump ~0.3+) costs ~10 cm, far more than the few millimetres to the near side;
#: inside an island, moving 1 cm towards the centre gains only ~1 mm: the closest point wins.
UV_WEIGHT = 0.3


def _candidates(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray, k: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each point, its ``k`` nearest triangles (by centroid): (N, k) rows in ``faces``,
    (N, k) distances to their closest points and (N, k, 3) barycentrics of those points."""
    import trimesh

    tris = vertices[faces]
    k = min(k, len(faces))
    _, cand = cKDTree(tris.mean(1)).query(points, k=k)
    cand = cand.reshape(len(points), k)
    flat_tris = tris[cand.ravel()]
    closest = trimesh.triangles.closest_point(flat_tris, np.repeat(points, k, axis=0))
    dist = np.linalg.norm(closest.reshape(-1, k, 3) - points[:, None], axis=-1)
    bary = np.clip(trimesh.triangles.points_to_barycentric(flat_tris, closest), 0.0, None)
    bary = (bary / bary.sum(1, keepdims=True)).reshape(len(points), k, 3)
    return cand, dist, bary


def _closest(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray, k: int = 32
             ) -> tuple[np.ndarray, np.ndarray]:
    """(triangle row in ``faces``, (N, 3) barycentrics) of the closest surface point to each point."""
    cand, dist, bary = _candidates(vertices, faces, points, k)
    best = dist.argmin(1)
    rows = np.arange(len(points))
    return cand[rows, best], bary[rows, best]


@dataclass
class SurfaceMap:
    """Where the light mesh sits on the full one (computed on the template)."""

    faces: Int[np.ndarray, "F 3"]
    """Light mesh triangles."""
    vertex_tri: Int[np.ndarray, " N"]
    """Full-mesh triangle of each light vertex."""
    vertex_bary: Float[np.ndarray, "N 3"]
    corner_tri: Int[np.ndarray, "F 3"]
    """Full-mesh triangle of each light triangle corner (for its UV)."""
    corner_bary: Float[np.ndarray, "F 3 3"]


def map_surface(
    template: Float[np.ndarray, "V 3"],
    full_faces: Int[np.ndarray, "Ff 3"],
    full_uv_faces: Int[np.ndarray, "Ff 3"],
    full_uvs: Float[np.ndarray, "T 2"],
    allowed: np.ndarray,
    light_vertices: Float[np.ndarray, "N 3"],
    light_faces: Int[np.ndarray, "F 3"],
) -> SurfaceMap:
    """Tie ``light_vertices``/``light_faces`` (same frame and shape as ``template``) to the
    full mesh's triangles ``full_faces[allowed]`` (a boolean or index mask)."""
    full_faces = np.asarray(full_faces)
    ids = np.flatnonzero(allowed) if np.asarray(allowed).dtype == bool else np.asarray(allowed)
    tri, bary = _closest(template, full_faces[ids], light_vertices)
    uvs = np.asarray(full_uvs, np.float64)
    uv_faces = np.asarray(full_uv_faces)
    centre_tri, centre_bary = _closest(template, full_faces[ids], light_vertices[light_faces].mean(1))
    centre_uv = np.einsum("fk,fkd->fd", centre_bary, uvs[uv_faces[ids[centre_tri]]])  # (F, 2)
    island = _uv_islands(uv_faces, len(uvs))
    face_island = island[ids[centre_tri]]
    corner_tri = np.zeros(light_faces.shape, np.int64)
    corner_bary = np.zeros((*light_faces.shape, 3))
    for isl in np.unique(face_island):  # each corner from the island under its triangle's centre
        faces_here = np.flatnonzero(face_island == isl)
        sub = ids[island[ids] == isl]
        corners = light_vertices[light_faces[faces_here]].reshape(-1, 3)
        cand, dist, cbary = _candidates(template, full_faces[sub], corners, 64)
        # n: corner, c: candidate, k: triangle corner, d: u/v
        cand_uv = np.einsum("nck,nckd->ncd", cbary, uvs[uv_faces[sub[cand]]])
        uv_gap = np.linalg.norm(cand_uv - np.repeat(centre_uv[faces_here], 3, axis=0)[:, None], axis=-1)
        best = (dist + UV_WEIGHT * uv_gap).argmin(1)
        rows = np.arange(len(corners))
        corner_tri[faces_here] = sub[cand[rows, best]].reshape(-1, 3)
        corner_bary[faces_here] = cbary[rows, best].reshape(-1, 3, 3)
    return SurfaceMap(np.asarray(light_faces, np.int64), ids[tri], bary, corner_tri, corner_bary)


def _uv_islands(uv_faces: np.ndarray, n_uvs: int) -> np.ndarray:
    """(F,) island id of each triangle: triangles sharing a UV index are in one island."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    f = np.asarray(uv_faces)
    rows = np.repeat(np.arange(len(f)), 3)
    graph = coo_matrix((np.ones(rows.size), (rows, f.ravel() + len(f))), shape=(len(f) + n_uvs,) * 2)
    _, label = connected_components(graph, directed=False)
    return label[: len(f)]


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
        if uvs is not None:  # the kept triangles keep their own UV indices (no extra seams)
            used_uv, uv_inverse = np.unique(np.asarray(mesh.uv_faces)[keep], return_inverse=True)
            uv_faces = np.concatenate([uv_faces, uv_inverse.reshape(-1, 3) + len(uvs)])
            uvs = np.concatenate([uvs, np.asarray(mesh.uvs, np.float64)[used_uv]])
    return RiggedMesh(
        vertices=vertices, faces=faces, joint_names=list(mesh.joint_names), joint_parents=mesh.joint_parents,
        joint_world=mesh.joint_world, skin_indices=skin_idx, skin_weights=skin_w, uvs=uvs, uv_faces=uv_faces,
        morph_names=list(mesh.morph_names), morph_deltas=deltas, morph_weights=mesh.morph_weights,
        texture=mesh.texture, base_color=mesh.base_color, name=mesh.name,
        face_groups=groups if mesh.face_groups is not None else None, texture_lit=mesh.texture_lit,
    )
