"""Regions of the body mesh and closest-point queries used across fitting, texture and rendering."""

from __future__ import annotations

import numpy as np

__all__ = ["HEAD_BONES", "head_faces", "closest_surface_point"]

HEAD_BONES = ("head", "eye.L", "eye.R", "neck03")


def head_faces(body, faces: np.ndarray) -> np.ndarray:
    """Indices of the triangles whose vertices are all dominated by head/eye/neck03 bones."""
    w, idx = body.skin_weights.numpy(), body.skin_indices.numpy()
    dominant = idx[np.arange(len(idx)), w.argmax(1)]
    ids = [body.joint_names.index(b) for b in HEAD_BONES if b in body.joint_names]
    in_head = np.isin(dominant, ids)
    return np.flatnonzero(in_head[faces].all(1))


def closest_surface_point(vertices, faces, points, face_ids=None, k: int = 24):
    """Closest point of a triangle mesh to each point, as (triangle id, barycentrics).

    Exact among the ``k`` triangles whose centroids are nearest (ample for points that lie
    close to the surface); ``face_ids`` renumbers the triangles (e.g. a subset's ids).
    """
    import trimesh
    from scipy.spatial import cKDTree

    tris = vertices[faces]
    k = min(k, len(faces))
    _, cand = cKDTree(tris.mean(1)).query(points, k=k)
    cand = cand.reshape(len(points), k)
    flat = cand.ravel()
    closest = trimesh.triangles.closest_point(tris[flat], np.repeat(points, k, axis=0)).reshape(len(points), k, 3)
    best = np.linalg.norm(closest - points[:, None], axis=-1).argmin(1)
    tri = cand[np.arange(len(points)), best]
    bary = trimesh.triangles.points_to_barycentric(tris[tri], closest[np.arange(len(points)), best])
    return (tri if face_ids is None else np.asarray(face_ids)[tri]), bary
