"""Smooth normals and UV-seam splitting against slow, loop-based references."""

from __future__ import annotations

import numpy as np
import pytest

from avatarforge.export.geometry import split_uv_seams, vertex_normals


def _normals_reference(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    acc = np.zeros((len(vertices), 3))
    for a, b, c in faces:
        n = np.cross(vertices[b] - vertices[a], vertices[c] - vertices[a])  # |n| = 2 area
        for i in (a, b, c):
            acc[i] += n
    return acc / np.linalg.norm(acc, axis=1, keepdims=True)


def test_vertex_normals_match_loop_reference() -> None:
    rng = np.random.default_rng(1)
    vertices = rng.normal(size=(30, 3))
    faces = np.array([rng.choice(30, 3, replace=False) for _ in range(80)])
    faces = np.concatenate([faces, [[i, i + 1, i + 2] for i in range(28)]])  # every vertex used
    np.testing.assert_allclose(vertex_normals(vertices, faces), _normals_reference(vertices, faces), atol=1e-6)


def test_vertex_normals_are_area_weighted() -> None:
    # One big triangle facing +Z and one small one facing +X share vertex 0.
    vertices = np.array([[0, 0, 0], [4, 0, 0], [0, 4, 0], [0, 0.1, 0], [0, 0, 0.1]], dtype=np.float64)
    faces = np.array([[0, 1, 2], [0, 3, 4]])
    n0 = vertex_normals(vertices, faces)[0]
    big, small = 16.0, 0.01  # |cross| of each face
    expected = np.array([small, 0.0, big]) / np.hypot(small, big)
    np.testing.assert_allclose(n0, expected, atol=1e-6)


def test_vertex_normals_unit_with_isolated_and_degenerate() -> None:
    vertices = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [5, 5, 5]], dtype=np.float32)
    faces = np.array([[0, 1, 2]])  # degenerate (collinear); vertex 3 unused
    normals = vertex_normals(vertices, faces)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(normals[3], [0.0, 0.0, 1.0])


def test_split_uv_seams_makes_one_vertex_per_unique_pair() -> None:
    faces = np.array([[0, 1, 2], [2, 1, 3], [3, 1, 0]])
    uv_faces = np.array([[0, 1, 2], [2, 1, 3], [4, 1, 5]])  # v0 also has uv 5, v3 also uv 4
    split = split_uv_seams(faces, uv_faces, n_vertices=5, n_uvs=6)
    pairs = sorted({(v, t) for f, tf in zip(faces, uv_faces) for v, t in zip(f, tf)})
    assert len(split.source_vertex) == len(pairs)
    assert sorted(zip(split.source_vertex.tolist(), split.source_uv.tolist())) == pairs
    # Every corner still points at its original vertex and UV.
    np.testing.assert_array_equal(split.source_vertex[split.faces], faces)
    np.testing.assert_array_equal(split.source_uv[split.faces], uv_faces)
    assert 4 not in split.source_vertex  # unreferenced vertex has no UV: dropped


def test_split_without_uvs_is_identity() -> None:
    faces = np.array([[0, 1, 2]])
    split = split_uv_seams(faces, None, n_vertices=4)
    np.testing.assert_array_equal(split.source_vertex, np.arange(4))
    assert split.source_uv is None
    np.testing.assert_array_equal(split.faces, faces)


@pytest.mark.parametrize("bad", ["vertex", "uv", "shape"])
def test_split_rejects_bad_indices(bad: str) -> None:
    faces = np.array([[0, 1, 2]])
    uv_faces = np.array([[0, 1, 2]])
    if bad == "vertex":
        faces = np.array([[0, 1, 3]])
    elif bad == "uv":
        uv_faces = np.array([[0, 1, 3]])
    else:
        uv_faces = np.array([[0, 1, 2], [0, 1, 2]])
    with pytest.raises(ValueError):
        split_uv_seams(faces, uv_faces, n_vertices=3, n_uvs=3)
