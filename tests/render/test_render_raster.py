"""The numba rasteriser against the brute-force reference, and against geometric facts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from render_reference import rasterize_reference

from avatarforge.errors import UserInputError
from avatarforge.render import Camera, rasterize, uv_sphere

H, W = 37, 53


def random_scene(seed: int, n_vertices: int = 40, n_faces: int = 60, snap: bool = False):
    """Overlapping random triangles, some degenerate, some crossing the near plane."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform([-6, -6], [W + 6, H + 6], size=(n_vertices, 2))
    if snap:  # on the half-pixel grid: many pixel centres lie exactly on edges and vertices
        xy = np.round(xy * 2) / 2
    z = rng.uniform(0.5, 4.0, size=(n_vertices, 1))
    z[:3] = [[-1.0], [0.0], [1e-9]]  # behind / on / just in front of the camera plane
    screen = np.concatenate([xy, z], axis=1)
    faces = rng.integers(0, n_vertices, size=(n_faces, 3))
    faces[0] = [5, 5, 6]  # repeated vertex
    screen[9] = (screen[7] + screen[8]) / 2  # collinear with 7 and 8
    faces[1] = [7, 8, 9]
    faces[2] = [0, 10, 11]  # behind the camera
    return screen, faces


@pytest.mark.parametrize("perspective", [True, False])
@pytest.mark.parametrize("cull", [False, True])
@pytest.mark.parametrize("snap", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_reference(seed, snap, cull, perspective):
    screen, faces = random_scene(seed, snap=snap)
    r = rasterize(screen, faces, H, W, perspective=perspective, cull_backfaces=cull)
    ref_id, ref_bary, ref_depth = rasterize_reference(screen, faces, H, W, perspective, cull)
    assert r.triangle_id.dtype == np.int32 and r.bary.dtype == np.float32 and r.depth.dtype == np.float32
    assert (ref_id >= 0).sum() > 100  # the scene is not empty
    np.testing.assert_array_equal(r.triangle_id, ref_id)
    np.testing.assert_allclose(r.bary, ref_bary, atol=1e-5, rtol=0)
    np.testing.assert_allclose(r.depth, ref_depth, rtol=1e-6)
    assert not np.isin([0, 1, 2], r.triangle_id).any()  # degenerate and behind-camera skipped


@pytest.mark.parametrize("jitter", [0.0, 2.0])
def test_shared_edges_cover_each_pixel_once(jitter):
    """Triangles tiling a rectangle (edges through pixel centres) cover each centre once."""
    rng = np.random.default_rng(3)
    n = 6
    gx, gy = np.meshgrid(np.linspace(2, W - 2, n + 1), np.linspace(2, H - 2, n + 1))
    xy = np.stack([gx, gy], -1)
    xy[1:-1, 1:-1] += rng.uniform(-jitter, jitter, size=(n - 1, n - 1, 2))
    xy = np.round(xy * 2) / 2  # half-integers: rows/columns of pixel centres lie on the edges
    screen = np.concatenate([xy.reshape(-1, 2), np.ones(((n + 1) ** 2, 1))], axis=1)
    faces = []
    for i in range(n):
        for j in range(n):
            a, b, c, d = i * (n + 1) + j, i * (n + 1) + j + 1, (i + 1) * (n + 1) + j, (i + 1) * (n + 1) + j + 1
            faces += [[a, c, d], [a, d, b]] if (i + j) % 2 else [[a, c, b], [b, c, d]]
    # Any corner order and winding: each edge slot of the kernel meets every edge direction.
    faces = np.array([rng.permutation(f) for f in faces])
    count = sum(rasterize(screen, f[None], H, W, perspective=False).mask.astype(int) for f in faces)
    # Inside the outer rectangle: exactly once; outside: never. Border centres (on the outer
    # edges) are owned by one side only, so just check they are not covered twice.
    px, py = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    interior = (px > 2) & (px < W - 2) & (py > 2) & (py < H - 2)
    assert (count[interior] == 1).all()
    assert count.max() == 1
    assert (count[(px < 2) | (px > W - 2) | (py < 2) | (py > H - 2)] == 0).all()


def test_perspective_bary_reconstructs_the_seen_point():
    """sum_k b_k X_k (camera space) lies on the ray through the pixel centre, at the raster's depth."""
    s = uv_sphere(12, 24, radius=0.7)
    cam = Camera.look_at((0.4, 0.5, 2.0), (0, 0, 0), width=80, height=60, fov_y_deg=50)
    r = rasterize(cam.project(s.vertices), s.faces, 60, 80, perspective=True)
    rows, cols = np.nonzero(r.mask)
    cam_pts = s.vertices @ cam.R.T + cam.t
    P = np.einsum("nk,nkc->nc", r.bary[rows, cols].astype(np.float64), cam_pts[s.faces[r.triangle_id[rows, cols]]])
    np.testing.assert_allclose(P[:, 0] / P[:, 2] * cam.fx + cam.cx, cols + 0.5, atol=2e-3)
    np.testing.assert_allclose(P[:, 1] / P[:, 2] * cam.fy + cam.cy, rows + 0.5, atol=2e-3)
    np.testing.assert_allclose(P[:, 2], r.depth[rows, cols], rtol=1e-5)
    # Screen-space (affine) weights would miss: the correction matters on this view.
    sx = np.einsum("nk,nk->n", r.bary[rows, cols], cam.project(s.vertices)[s.faces[r.triangle_id[rows, cols]], 0])
    assert np.abs(sx - (cols + 0.5)).max() > 0.05


def test_orthographic_bary_reconstructs_pixel_centre():
    screen, faces = random_scene(4)
    r = rasterize(screen, faces, H, W, perspective=False)
    rows, cols = np.nonzero(r.mask)
    corners = screen[faces[r.triangle_id[rows, cols]]]  # (N, 3, 3)
    xy = np.einsum("nk,nkc->nc", r.bary[rows, cols].astype(np.float64), corners[..., :2])
    np.testing.assert_allclose(xy, np.stack([cols + 0.5, rows + 0.5], -1), atol=1e-3)


def test_backface_culling_keeps_front_faces():
    s = uv_sphere(16, 32, radius=0.5)
    cam = Camera.look_at((0, 0, 3), (0, 0, 0), width=64, height=64, fov_y_deg=30)
    screen = cam.project(s.vertices)
    full = rasterize(screen, s.faces, 64, 64, cull_backfaces=False)
    culled = rasterize(screen, s.faces, 64, 64, cull_backfaces=True)
    assert full.mask.sum() > 500
    np.testing.assert_array_equal(culled.triangle_id, full.triangle_id)  # convex: the front wins anyway
    inside_out = rasterize(screen, s.faces[:, ::-1], 64, 64, cull_backfaces=True)
    far = rasterize(screen, s.faces[:, ::-1], 64, 64)
    assert inside_out.mask.sum() == full.mask.sum()  # now the far half is left, and seen
    assert (inside_out.depth[inside_out.mask] > full.depth[full.mask]).all()
    np.testing.assert_array_equal(far.mask, full.mask)


def test_batched_and_torch_inputs():
    a, faces = random_scene(5)
    b, _ = random_scene(6)
    r = rasterize(torch.from_numpy(np.stack([a, b])), torch.from_numpy(faces), H, W)
    assert r.triangle_id.shape == (2, H, W) and r.bary.shape == (2, H, W, 3)
    for k, s in enumerate([a, b]):
        single = rasterize(s, faces, H, W)
        np.testing.assert_array_equal(r.triangle_id[k], single.triangle_id)
        np.testing.assert_array_equal(r.bary[k], single.bary)


@pytest.mark.wrong_types  # validation of untrusted input
def test_background_and_bad_input():
    r = rasterize(np.zeros((0, 3)), np.zeros((0, 3), dtype=int), 4, 5)
    assert (r.triangle_id == -1).all() and np.isinf(r.depth).all() and not r.mask.any()
    with pytest.raises(UserInputError, match="faces index"):
        rasterize(np.ones((3, 3)), np.array([[0, 1, 3]]), 4, 5)
    with pytest.raises(UserInputError, match="screen must be"):
        rasterize(np.ones((3, 2)), np.array([[0, 1, 2]]), 4, 5)
