"""The mesh-guided warp's array functions, against analytic references."""

import numpy as np

from avatarforge.portrait.mesh_fill import polygon_mask, resample_path
from avatarforge.portrait.mesh_warp import STILL_PX, backward_warp, extend_flow, mesh_flow, project_points, push_pull

INTR = (100.0, 100.0, 32.0, 32.0)


def _quad(z=2.0, half=0.5):
    v = np.array([[-half, -half, z], [half, -half, z], [half, half, z], [-half, half, z]])
    f = np.array([[0, 2, 1], [0, 3, 2]])  # counter-clockwise seen from the camera (y down)
    return v, f


def test_mesh_flow_of_a_translated_plane_is_the_projected_shift():
    src, faces = _quad()
    shift = np.array([0.05, -0.02, 0.0])
    flow, mask = mesh_flow(src, src + shift, faces, INTR, 64, 64)
    assert mask.sum() > 500
    # a fronto-parallel plane moved in its plane: every pixel moves by f * shift / z
    expected = -np.array([100 * 0.05 / 2.0, 100 * -0.02 / 2.0])
    assert np.allclose(flow[mask], expected, atol=1e-6)
    assert (flow[~mask] == 0).all()


def test_mesh_flow_window_matches_the_full_image():
    src, faces = _quad()
    tgt = src + [0.03, 0.01, 0.1]
    full, m_full = mesh_flow(src, tgt, faces, INTR, 64, 64)
    part, m_part = mesh_flow(src, tgt, faces, INTR, 30, 40, origin=(10, 12))
    assert np.array_equal(m_part, m_full[10:40, 12:52])
    assert np.allclose(part, full[10:40, 12:52], atol=1e-9)


def test_push_pull_keeps_known_values_and_stays_within_their_range():
    rng = np.random.default_rng(0)
    vals = rng.uniform(-3, 5, (37, 53, 2))
    known = rng.uniform(size=(37, 53)) < 0.1
    out = push_pull(vals, known.astype(float))
    assert np.allclose(out[known], vals[known], atol=1e-5)
    assert out.min() >= vals[known].min() - 1e-4 and out.max() <= vals[known].max() + 1e-4
    # a constant is extended as itself
    assert np.allclose(push_pull(np.full((20, 30, 1), 2.5), known[:20, :30].astype(float)), 2.5, atol=1e-5)


def test_extend_flow_is_exact_inside_and_zero_beyond_the_radius_or_the_mask():
    flow = np.zeros((60, 60, 2))
    mask = np.zeros((60, 60), bool)
    mask[20:30, 20:30] = True
    flow[mask] = [3.0, -1.0]
    out = extend_flow(flow, mask, radius=10.0)
    assert np.array_equal(out[mask], flow[mask])
    assert (out[45:, :] == 0).all() and (out[:, 45:] == 0).all()  # > 10 px from the mask
    near = out[31, 25]
    assert 0 < near[0] < 3.0  # fading
    none = extend_flow(flow, mask, radius=10.0, soft_mask=np.zeros((60, 60)))
    assert np.array_equal(none[mask], flow[mask]) and (none[~mask] == 0).all()


def test_backward_warp_moves_only_what_moves():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (40, 50, 4), dtype=np.uint8)
    flow = np.zeros((20, 20, 2))
    flow[5:10, 5:10] = [2.0, 1.0]  # sample two columns right, one row down
    flow[12, 12] = [STILL_PX / 2, 0.0]  # too small to move
    out = backward_warp(img, flow, origin=(10, 15))
    moved = np.zeros((40, 50), bool)
    moved[15:20, 20:25] = True
    assert np.array_equal(out[~moved], img[~moved])
    assert np.array_equal(out[15:20, 20:25], img[16:21, 22:27])
    assert np.array_equal(backward_warp(img, np.zeros((40, 50, 2))), img)


def test_polygon_mask_and_resampling():
    square = np.array([[2.0, 2.0], [12.0, 2.0], [12.0, 8.0], [2.0, 8.0]])
    m = polygon_mask((10, 15), square)
    assert 60 <= m.sum() <= 77  # 10 x 6 interior pixel centres, edges included by OpenCV
    assert m[5, 7] and not m[0, 0]
    path = resample_path(np.array([[0.0, 0.0], [10.0, 0.0]]), 6)
    assert np.allclose(path[:, 0], [0, 2, 4, 6, 8, 10])


def test_project_points_is_the_camera_projection():
    from avatarforge.render.camera import Camera

    cam = Camera(np.eye(3), np.zeros(3), 64, 64, *INTR)
    pts = np.array([[0.1, -0.2, 1.5], [0.0, 0.0, 3.0]])
    assert np.allclose(project_points(pts, *INTR), cam.project(pts)[:, :2])
