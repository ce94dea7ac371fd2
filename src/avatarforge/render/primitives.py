"""Small textured meshes (a UV sphere, a quad) for previews, tests and benchmarks.

Frames as in the rest of :mod:`avatarforge.render`: metres, +Y up, "front" is +Z; faces are
counter-clockwise seen from outside; UVs are OBJ-style (v up), laid out so that a texture
reads the right way round (not mirrored) when the front is seen from +Z.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TexturedMesh", "uv_sphere", "quad"]


@dataclass
class TexturedMesh:
    """A triangle mesh with its own UV index buffer (a vertex may have several UVs)."""

    vertices: np.ndarray
    """(V, 3) float64 positions."""
    faces: np.ndarray
    """(F, 3) int64 vertex indices, counter-clockwise seen from outside."""
    uvs: np.ndarray
    """(T, 2) float64 texture coordinates, (0, 0) = texture bottom-left."""
    uv_faces: np.ndarray
    """(F, 3) int64 indices into ``uvs``, corner for corner with ``faces``."""


def uv_sphere(n_lat: int = 32, n_lon: int = 64, radius: float = 1.0, center=(0.0, 0.0, 0.0)) -> TexturedMesh:
    """A latitude/longitude sphere: ``2 + (n_lat - 1) * n_lon`` vertices, ``2 * n_lon * (n_lat - 1)``
    faces. ``u`` grows eastwards with ``u = 0.5`` facing +Z (seam at the back), ``v = 1`` at +Y.
    """
    if n_lat < 2 or n_lon < 3:
        raise ValueError("uv_sphere needs n_lat >= 2 and n_lon >= 3")
    theta = np.pi * np.arange(1, n_lat) / n_lat  # polar angle of the inner rings, from +Y
    phi = 2 * np.pi * np.arange(n_lon) / n_lon - np.pi  # azimuth, 0 at +Z, increasing towards +X
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    ring = np.stack([st * np.sin(phi), ct * np.ones_like(phi), st * np.cos(phi)], -1)  # (n_lat-1, n_lon, 3)
    vertices = np.concatenate([[[0, 1, 0]], ring.reshape(-1, 3), [[0, -1, 0]]]) * radius + np.asarray(center)
    south = len(vertices) - 1

    def vid(i, j):  # vertex of ring i (1..n_lat-1), column j (wraps around)
        return 1 + (i - 1) * n_lon + j % n_lon

    def tid(i, j):  # uv of grid row i (0..n_lat), column j (0..n_lon)
        return i * (n_lon + 1) + j

    faces, uv_faces = [], []
    for j in range(n_lon):
        faces.append([0, vid(1, j), vid(1, j + 1)])  # north cap
        uv_faces.append([tid(0, j), tid(1, j), tid(1, j + 1)])
        faces.append([south, vid(n_lat - 1, j + 1), vid(n_lat - 1, j)])  # south cap
        uv_faces.append([tid(n_lat, j), tid(n_lat - 1, j + 1), tid(n_lat - 1, j)])
        for i in range(1, n_lat - 1):
            a, b, c, d = vid(i, j), vid(i, j + 1), vid(i + 1, j), vid(i + 1, j + 1)
            ta, tb, tc, td = tid(i, j), tid(i, j + 1), tid(i + 1, j), tid(i + 1, j + 1)
            faces += [[c, d, b], [c, b, a]]
            uv_faces += [[tc, td, tb], [tc, tb, ta]]
    u = np.arange(n_lon + 1) / n_lon
    v = 1.0 - np.arange(n_lat + 1) / n_lat
    uvs = np.stack(np.meshgrid(u, v, indexing="xy"), -1).reshape(-1, 2)
    # Pole texels: centre each cap triangle's pole uv on its column.
    uvs[: n_lon, 0] += 0.5 / n_lon
    uvs[-(n_lon + 1) : -1, 0] += 0.5 / n_lon
    return TexturedMesh(vertices, np.asarray(faces, np.int64), uvs, np.asarray(uv_faces, np.int64))


def quad(width: float = 1.0, height: float = 1.0, center=(0.0, 0.0, 0.0)) -> TexturedMesh:
    """A rectangle in the plane z = center z, facing +Z, UV (0, 0) at its bottom-left corner."""
    w, h = width / 2, height / 2
    vertices = np.array([[-w, -h, 0], [w, -h, 0], [w, h, 0], [-w, h, 0]], dtype=np.float64) + np.asarray(center)
    faces = np.array([[0, 1, 2], [0, 2, 3]], dtype=np.int64)
    uvs = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float64)
    return TexturedMesh(vertices, faces, uvs, faces.copy())
