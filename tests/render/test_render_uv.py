import numpy as np
import torch

from avatarforge.render import interpolate, rasterize_uv, texel_uvs, uv_sphere, uv_to_pixel


def test_quad_layout_covers_the_expected_texels():
    """A square [0.25, 0.75]^2 split along its (0.25, 0.25)-(0.75, 0.75) diagonal, at 8 x 8."""
    uvs = np.array([[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]])
    uv_faces = np.array([[0, 1, 2], [0, 2, 3]])  # 0: lower-right half, 1: upper-left half
    r = rasterize_uv(uvs, uv_faces, 8)
    expected = np.full((8, 8), -1)
    for i in range(8):  # row 0 is the top of the texture: v near 1
        for j in range(8):
            u, v = (j + 0.5) / 8, 1 - (i + 0.5) / 8
            if 0.25 < u < 0.75 and 0.25 < v < 0.75:
                expected[i, j] = 0 if v < u else 1
    np.testing.assert_array_equal(r.triangle_id, expected)
    assert not r.perspective and (r.depth[r.mask] == 1).all()


def test_upper_half_triangle_lands_in_the_top_rows():
    r = rasterize_uv(np.array([[0.0, 0.5], [1.0, 0.5], [0.5, 1.0]]), np.array([[0, 1, 2]]), (10, 6))
    assert r.triangle_id.shape == (10, 6)
    assert r.mask[:5].any() and not r.mask[5:].any()


def test_interpolated_uvs_reproduce_texel_centres():
    s = uv_sphere(12, 24)
    for size in (64, (48, 80)):
        r = rasterize_uv(s.uvs, s.uv_faces, size)
        assert r.mask.mean() > 0.9  # the lat-long layout covers all but the pole zig-zags
        uv = interpolate(torch.from_numpy(s.uvs), s.uv_faces, r).numpy()
        np.testing.assert_allclose(uv, texel_uvs(size)[r.mask], atol=1e-5, rtol=0)


def test_uv_to_pixel_and_texel_uvs_agree():
    size = (4, 6)
    centres = texel_uvs(size)
    assert centres.shape == (4, 6, 2)
    px = uv_to_pixel(centres.reshape(-1, 2), size).reshape(4, 6, 2)
    cols, rows = np.meshgrid(np.arange(6) + 0.5, np.arange(4) + 0.5)
    np.testing.assert_allclose(px, np.stack([cols, rows], -1), atol=1e-12)
