"""util.geometry: normals against loop references, Umeyama and Rodrigues against scipy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from avatarforge.util.geometry import axis_angle_to_matrix, face_normals, umeyama, vertex_normals, vertex_normals_torch


def _normals_reference(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    acc = np.zeros((len(vertices), 3))
    for a, b, c in faces:
        n = np.cross(vertices[b] - vertices[a], vertices[c] - vertices[a])  # |n| = 2 area
        for i in (a, b, c):
            acc[i] += n
    return acc / np.linalg.norm(acc, axis=1, keepdims=True)


def _random_mesh(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vertices = rng.normal(size=(30, 3))
    faces = np.array([rng.choice(30, 3, replace=False) for _ in range(80)])
    return vertices, np.concatenate([faces, [[i, i + 1, i + 2] for i in range(28)]])  # every vertex used


def test_vertex_normals_match_loop_reference() -> None:
    vertices, faces = _random_mesh()
    n = vertex_normals(vertices, faces)
    assert n.dtype == np.float32
    np.testing.assert_allclose(n, _normals_reference(vertices, faces), atol=1e-6)


def test_vertex_normals_torch_matches_numpy_batched_and_differentiable() -> None:
    vertices, faces = _random_mesh(2)
    v = torch.from_numpy(vertices)
    np.testing.assert_allclose(vertex_normals_torch(v, faces).numpy(), vertex_normals(vertices, faces), atol=1e-6)
    batched = vertex_normals_torch(torch.stack([v, 2 * v]), torch.from_numpy(faces)).numpy()
    np.testing.assert_allclose(batched[1], batched[0], atol=1e-12)  # scale does not change normals
    assert torch.autograd.gradcheck(lambda x: vertex_normals_torch(x, faces), (v.clone().requires_grad_(True),))


def test_vertex_normals_are_area_weighted() -> None:
    # One big triangle facing +Z and one small one facing +X share vertex 0.
    vertices = np.array([[0, 0, 0], [4, 0, 0], [0, 4, 0], [0, 0.1, 0], [0, 0, 0.1]], dtype=np.float64)
    faces = np.array([[0, 1, 2], [0, 3, 4]])
    big, small = 16.0, 0.01  # |cross| of each face
    expected = np.array([small, 0.0, big]) / np.hypot(small, big)
    np.testing.assert_allclose(vertex_normals(vertices, faces)[0], expected, atol=1e-6)


def test_vertex_normals_degenerate_and_isolated_get_the_fallback() -> None:
    vertices = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [5, 5, 5]], dtype=np.float32)
    faces = np.array([[0, 1, 2]])  # degenerate (collinear); vertex 3 unused
    np.testing.assert_array_equal(vertex_normals(vertices, faces), np.zeros((4, 3)))
    np.testing.assert_array_equal(vertex_normals_torch(torch.from_numpy(vertices), faces).numpy(), np.zeros((4, 3)))
    with_fallback = vertex_normals(vertices, faces, fallback=(0.0, 0.0, 1.0))
    np.testing.assert_array_equal(with_fallback, np.tile([0.0, 0.0, 1.0], (4, 1)))


def test_face_normals_unit_and_zero_for_degenerate() -> None:
    v = np.array([[0, 0, 0], [2, 0, 0], [0, 3, 0], [4, 0, 0]], dtype=np.float64)
    n = face_normals(v, np.array([[0, 1, 2], [0, 2, 1], [0, 1, 3]]))
    np.testing.assert_allclose(n, [[0, 0, 1], [0, 0, -1], [0, 0, 0]], atol=1e-15)


@pytest.mark.parametrize("reflect", [False, True])
def test_umeyama_recovers_a_similarity(reflect: bool) -> None:
    rng = np.random.default_rng(3)
    src = rng.normal(size=(40, 3))
    rot = Rotation.from_rotvec([0.3, -1.1, 0.7]).as_matrix()
    dst = 1.7 * src @ rot.T + [0.1, -2.0, 0.5] + rng.normal(0, 1e-9, (40, 3))
    if reflect:  # a mirrored target: the best proper rotation, never a reflection
        dst[:, 0] *= -1
    r, t, s = umeyama(src, dst)
    assert np.linalg.det(r) == pytest.approx(1.0)
    if not reflect:
        np.testing.assert_allclose(r, rot, atol=1e-8)
        np.testing.assert_allclose(t, [0.1, -2.0, 0.5], atol=1e-8)
        assert s == pytest.approx(1.7)
    # Independent reference for the rotation: scipy's Kabsch on the centred point sets.
    ref, _ = Rotation.align_vectors(dst - dst.mean(0), src - src.mean(0))
    if not reflect:
        np.testing.assert_allclose(r, ref.as_matrix(), atol=1e-8)


def test_umeyama_weights_and_no_scale_match_scipy() -> None:
    rng = np.random.default_rng(4)
    src, w = rng.normal(size=(12, 3)), rng.uniform(0.1, 2.0, 12)
    dst = src @ Rotation.from_rotvec([1.0, 0.2, -0.4]).as_matrix().T + rng.normal(0, 0.05, (12, 3))
    r, t, s = umeyama(src, dst, w, scale=False)
    assert s == 1.0
    mw = lambda x: (w[:, None] * x).sum(0) / w.sum()  # noqa: E731
    ref, _ = Rotation.align_vectors(dst - mw(dst), src - mw(src), weights=w)
    np.testing.assert_allclose(r, ref.as_matrix(), atol=1e-10)
    np.testing.assert_allclose(t, mw(dst) - r @ mw(src), atol=1e-12)


def test_axis_angle_to_matrix_matches_scipy_and_is_smooth_at_zero() -> None:
    rng = np.random.default_rng(5)
    w = np.concatenate([rng.normal(0, 1.5, (20, 3)), [[0, 0, 0], [1e-6, 0, 0]]])
    out = axis_angle_to_matrix(torch.from_numpy(w).reshape(2, 11, 3)).reshape(-1, 3, 3).numpy()
    np.testing.assert_allclose(out, Rotation.from_rotvec(w).as_matrix(), atol=1e-12)
    x = torch.tensor([[1e-5, -2e-5, 0.0], [0.4, 0.1, -0.3]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(axis_angle_to_matrix, (x,))
