"""The mesh-guided warp's array functions, against analytic references."""

import numpy as np

from avatarforge.portrait.mesh_fill import polygon_mask, resample_path
from avatarforge.portrait.mesh_warp import (AA_SIGMA, STILL_PX, antialias_weight, backward_warp, extend_flow, footprint,
                                            mesh_flow, project_points, push_pull, source_view, upsample_flow)

INTR = (100.0, 100.0, 32.0, 32.0)


def _quad(z=2.0, half=0.5):
    v = np.array([[-half, -half, z], [half, -half, z], [half, half, z], [-half, half, z]])
    f = np.array([[0, 2, 1], [0, 3, 2]])  # counter-clockwise seen from the camera (y down)
    return v, f


def test_mesh_flow_of_a_translated_plane_is_the_projected_shift():
    src, faces = _quad()
    shift = np.array([0.05, -0.02, 0.0])
    flow, mask, conf = mesh_flow(src, src + shift, faces, INTR, 64, 64)
    assert np.array_equal(conf, mask.astype(float))
    assert mask.sum() > 500
    # a fronto-parallel plane moved in its plane: every pixel moves by f * shift / z
    expected = -np.array([100 * 0.05 / 2.0, 100 * -0.02 / 2.0])
    assert np.allclose(flow[mask], expected, atol=1e-6)
    assert (flow[~mask] == 0).all()


def test_mesh_flow_window_matches_the_full_image():
    src, faces = _quad()
    tgt = src + [0.03, 0.01, 0.1]
    full, m_full, _ = mesh_flow(src, tgt, faces, INTR, 64, 64)
    part, m_part, _ = mesh_flow(src, tgt, faces, INTR, 30, 40, origin=(10, 12))
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
    out = backward_warp(img, flow, origin=(10, 15), antialias=False)  # a field with jumps (no prefilter)
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


def test_source_view_marks_points_hidden_or_edge_on_in_the_photo():
    """A small quad in front of a large one hides part of it in the source; after the small
    quad moves away those points show in the target, and their confidence is 0 (the photo never
    saw them); the rest of the large quad, seen face-on, has confidence 1. A quad seen edge-on
    in the source has confidence 0 wherever it shows after turning to face the camera."""
    big, f = _quad(z=2.0, half=0.5)
    small, _ = _quad(z=1.5, half=0.1)
    src = np.concatenate([big, small])
    faces = np.concatenate([f, f + 4])
    view = source_view(src, faces, INTR, 64, 64)
    tgt = src.copy()
    tgt[4:] += [0.6, 0.0, 0.0]  # the small quad leaves the picture
    flow, mask, conf = mesh_flow(src, tgt, faces, INTR, 64, 64, view=view)
    hidden = view.depth[32, 32]  # the centre showed the small quad in the source
    assert np.isclose(hidden, 1.5)
    assert mask[32, 32] and conf[32, 32] == 0.0 and np.allclose(flow[32, 32], 0.0, atol=1e-5)
    assert conf[10, 10] == 1.0 and conf[50, 50] == 1.0
    # edge-on: a quad in the plane x = 0 (normal along x), turned by 90 degrees to face the camera
    edge = np.array([[0.0, -0.3, 1.7], [0.0, -0.3, 2.3], [0.0, 0.3, 2.3], [0.0, 0.3, 1.7]])  # through the eye
    front = np.array([[-0.3, -0.3, 2.0], [0.3, -0.3, 2.0], [0.3, 0.3, 2.0], [-0.3, 0.3, 2.0]])
    ef = np.array([[0, 2, 1], [0, 3, 2]])  # counter-clockwise seen from the camera
    v_edge = source_view(edge, ef, INTR, 64, 64)
    assert (np.abs(v_edge.facing) < 1e-6).all()
    _, m2, c2 = mesh_flow(edge, front, ef, INTR, 64, 64, view=v_edge)
    assert m2.sum() > 500 and (c2[m2] == 0).all()


def test_extend_flow_decays_to_still_pixels_and_feathering_softens_the_jump():
    """Still pixels keep zero flow exactly and the known flow stays exact away from its edge.
    With a gap between the mesh and the still pixels the fill bridges it smoothly; where they
    touch, the flow jumps by its full value at a hard edge and feathering lowers that jump."""
    h, w = 40, 80
    mask = np.zeros((h, w), bool)
    mask[:, :30] = True
    flow = np.zeros((h, w, 2))
    flow[mask] = [6.0, 0.0]
    jump = lambda f: np.abs(np.diff(f[h // 2, :, 0])).max()  # noqa: E731
    for start in (30, 50):
        still = np.zeros((h, w))
        still[:, start:] = 1.0
        hard = extend_flow(flow, mask, radius=1e6, confidence=mask.astype(float), still=still)
        soft = extend_flow(flow, mask, radius=1e6, confidence=mask.astype(float), still=still, feather=4.0)
        for out in (hard, soft):
            assert (out[:, start:] == 0).all()
            assert np.allclose(out[:, :20, 0], 6.0, atol=1e-3)
        if start == 30:
            assert np.isclose(jump(hard), 6.0) and jump(soft) < 0.75 * jump(hard)
        else:
            assert jump(hard) < 1.0 and jump(soft) < 1.0


def test_upsample_flow_of_a_linear_field_is_exact_in_full_pixels():
    """A flow linear in position sampled at coarse pixel centres, upsampled, equals the same
    field at full-size pixel centres (pixel centres aligned), away from the border."""
    q = 4
    a, b, c = 0.3, -0.2, 1.5  # flow_x (full pixels) = a x + b y + c at full-size position (x, y)
    xs_c = (np.arange(20) + 0.5) * q
    ys_c = (np.arange(15) + 0.5) * q
    coarse = np.zeros((15, 20, 2))
    coarse[..., 0] = (a * xs_c[None, :] + b * ys_c[:, None] + c) / q  # in coarse pixels
    up = upsample_flow(coarse, q)
    assert up.shape == (60, 80, 2) and up.dtype == np.float32
    xs, ys = np.arange(80) + 0.5, np.arange(60) + 0.5
    ref = a * xs[None, :] + b * ys[:, None] + c
    assert np.allclose(up[q:-q, q:-q, 0], ref[q:-q, q:-q], atol=1e-4)
    assert np.array_equal(upsample_flow(coarse, 1), coarse.astype(np.float32))


def test_backward_warp_integer_shift_is_exact_with_every_interpolation():
    import cv2

    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    flow = np.zeros((30, 40, 2), np.float32)
    flow[..., 0] = 3.0
    for interp in (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_LANCZOS4):
        out = backward_warp(img, flow, interpolation=interp)
        assert np.array_equal(out[:, :-3], img[:, 3:])


def test_footprint_is_the_largest_stretch_of_the_sampling_map():
    ii, jj = np.mgrid[0:20, 0:30].astype(np.float64)
    assert np.allclose(footprint(jj + 3.5, ii - 1.0), 1.0)  # a shift
    assert np.allclose(footprint(2.0 * jj, 0.5 * ii), 2.0)  # x halved (2 source px per output px), y doubled
    a = np.deg2rad(30)
    assert np.allclose(footprint(np.cos(a) * jj - np.sin(a) * ii, np.sin(a) * jj + np.cos(a) * ii), 1.0)  # a rotation
    assert np.allclose(footprint(1.5 * (np.cos(a) * jj - np.sin(a) * ii), 1.5 * (np.sin(a) * jj + np.cos(a) * ii)), 1.5)
    # the prefilter: none without compression, sigma = sqrt(s^2 - 1) / 2 as a fraction of AA_SIGMA, capped
    assert antialias_weight(np.array([0.5, 1.0]))[0] == 0 and antialias_weight(np.array([1.0]))[0] == 0
    assert np.isclose(antialias_weight(np.array([np.sqrt(1 + (2 * 0.5 * AA_SIGMA) ** 2)]))[0], 0.5)
    assert antialias_weight(np.array([10.0]))[0] == 1.0


def _laplacian_var(img):
    import cv2

    return float(cv2.Laplacian(img.astype(np.float64).mean(-1), cv2.CV_64F)[4:-4, 4:-4].var())


def test_backward_warp_prefilters_where_it_compresses_and_nowhere_else():
    import cv2

    # fine detail (a checkerboard of 2-pixel squares, period 4) halved horizontally: sampled
    # as it is, every output pixel keeps a full-contrast square (aliasing); prefiltered, the
    # detail the halved picture cannot hold is attenuated
    ii, jj = np.mgrid[0:64, 0:128]
    img = np.where(((ii // 2) + (jj // 2)) % 2 == 0, 200, 60).astype(np.uint8)[..., None].repeat(3, -1)
    flow = np.zeros((64, 64, 2), np.float32)
    flow[..., 0] = np.arange(64)[None, :] + 0.25  # output column j samples 2 j + 0.25
    aliased = backward_warp(img, flow, antialias=False)[:, :64]
    filtered = backward_warp(img, flow)[:, :64]
    assert _laplacian_var(aliased) > 0.5 * _laplacian_var(img)
    assert _laplacian_var(filtered) < 0.4 * _laplacian_var(aliased)
    # a stretch (x doubled) and a shift are not prefiltered: identical to the plain warp
    stretch = np.zeros((64, 128, 2), np.float32)
    stretch[..., 0] = -0.5 * np.arange(128)[None, :] + 0.3
    assert np.array_equal(backward_warp(img, stretch), backward_warp(img, stretch, antialias=False))
    shift = np.full((64, 128, 2), 1.5, np.float32)
    assert np.array_equal(backward_warp(img, shift, interpolation=cv2.INTER_LINEAR),
                          backward_warp(img, shift, interpolation=cv2.INTER_LINEAR, antialias=False))
