"""Seam detection, seam pairs (same 3D point on both sides) and seam correction."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import distance_transform_edt, gaussian_filter
from test_transfer import cube, surface_points

from avatarforge.errors import UserInputError
from avatarforge.render import rasterize_uv, uv_sphere
from avatarforge.texture.seams import correct_seams, find_seam_edges, seam_error, seam_layout


def pair_points(layout, vertices, faces, uvs, uv_faces) -> np.ndarray:
    """(P, side, 3): each side's UV put back through its own triangle's UV -> 3D map."""
    out = np.zeros((len(layout.pair_t), 2, 3))
    for s in range(2):
        f = layout.edges.faces[layout.pair_edge, s]
        t = uvs[uv_faces[f]]  # (P, 3 corners, 2)
        m = np.stack([t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]], -1)  # (P, 2, 2)
        b12 = np.linalg.solve(m, (layout.pair_uv[:, s] - t[:, 0])[..., None])[..., 0]
        bary = np.concatenate([1 - b12.sum(1, keepdims=True), b12], 1)
        assert (bary > -1e-6).all()  # the sample lies on its triangle
        out[:, s] = np.einsum("pk,pkd->pd", bary, vertices[faces[f]])  # p: pair, k: corner
    return out


def offset_cube_texture(size: int = 256, seed: int = 0):
    """Cube atlas: a smooth 3D pattern + per-chart offsets + a fine checker (period 4 texels)
    inside the charts (not within 10 texels of their borders, where it would make a seam)."""
    mesh = cube(6)
    mask, p = surface_points(mesh, size)
    r = rasterize_uv(mesh.uvs, mesh.uv_faces, size)
    chart = r.triangle_id[mask] // 72  # 6 x 6 quads x 2 triangles per side
    rows, cols = np.nonzero(mask)
    inner = (distance_transform_edt(mask) > 10)[mask]
    checker = 12.0 * (((rows // 2) + (cols // 2)) % 2 * 2 - 1) * inner
    offsets = np.random.default_rng(seed).uniform(-40, 40, (6, 3))
    tex = np.zeros((size, size, 3))
    tex[mask] = 120 + 50 * np.sin(p * [1.3, 0.9, 1.7])[:, [0, 1, 2]] + checker[:, None] + offsets[chart]
    return mesh, np.clip(np.rint(tex), 0, 255).astype(np.uint8), mask, offsets


def test_cube_seams_are_its_edges_and_pairs_meet_in_3d():
    mesh = cube(6)
    edges = find_seam_edges(mesh.faces, mesh.uv_faces, mesh.uvs)
    assert len(edges.faces) == 12 * 6  # 12 cube edges of 6 segments each
    mid = mesh.vertices[edges.vertices].mean(1)
    assert (np.sort(np.abs(mid), 1)[:, 1:] > 0.999).all()  # on cube edges: two coordinates at +-1
    layout = seam_layout(mesh.uvs, mesh.uv_faces, mesh.faces, 256)
    pts = pair_points(layout, mesh.vertices, mesh.faces, mesh.uvs, mesh.uv_faces)
    np.testing.assert_allclose(pts[:, 0], pts[:, 1], atol=1e-9)
    assert len(layout.pair_t) > 12 * 2 / 2 * 256 * 0.26 * 0.9  # ~ one pair per texel of seam


def test_duplicated_uvs_at_the_same_place_are_no_seam():
    s = uv_sphere(8, 12)
    uvs = np.concatenate([s.uvs, s.uvs])  # every second triangle uses copies of the same UVs
    uv_faces = s.uv_faces.copy()
    uv_faces[::2] += len(s.uvs)
    plain = find_seam_edges(s.faces, s.uv_faces, s.uvs)
    dup = find_seam_edges(s.faces, uv_faces, uvs)
    # the date-line meridian (8 - 2 ring-to-ring edges) and every pole edge (a pole's UV is
    # centred on each cap triangle's column)
    assert len(plain.faces) == (8 - 2) + 2 * 12
    np.testing.assert_array_equal(np.sort(dup.vertices, 0), np.sort(plain.vertices, 0))


def test_anny_atlas_seam_pairs_meet_at_the_same_3d_point(body):
    out = body.forward_params({})
    v = out.vertices[0].detach().double().numpy()
    faces, uvs, uv_faces = out.faces.numpy(), out.uvs.numpy().astype(np.float64), out.uv_faces.numpy()
    layout = seam_layout(uvs, uv_faces, faces, 1024)
    assert len(layout.edges.faces) > 500 and len(layout.pair_t) > 3000
    pts = pair_points(layout, v, faces, uvs, uv_faces)
    assert np.abs(pts[:, 0] - pts[:, 1]).max() < 1e-6
    assert np.abs(layout.pair_uv[:, 0] - layout.pair_uv[:, 1]).max() > 0.1  # really two places
    # and per-chart offsets on the real atlas are removed
    offsets = np.random.default_rng(0).uniform(-40, 40, (layout.chart_map.max() + 1, 3))
    tex = np.zeros((1024, 1024, 3), np.uint8)
    tex[layout.chart_map >= 0] = np.rint(128 + offsets[layout.chart_map[layout.chart_map >= 0]])
    res = correct_seams(tex, layout=layout)
    assert res.error_before > 10 and res.error_after < 0.05 * res.error_before  # some seams are within a chart


def test_correction_removes_chart_offsets_and_keeps_the_interior_pattern():
    mesh, tex, mask, offsets = offset_cube_texture()
    res = correct_seams(tex, mesh.uvs, mesh.uv_faces, mesh.faces)
    assert res.texture.dtype == np.uint8 and res.texture.shape == tex.shape
    assert res.error_before > 20
    assert res.error_after < 0.2 * res.error_before
    assert res.error_before == pytest.approx(seam_error(tex, mesh.uvs, mesh.uv_faces, mesh.faces))
    assert res.error_after == pytest.approx(seam_error(res.texture, mesh.uvs, mesh.uv_faces, mesh.faces), abs=0.6)
    # Away from the seams the change is smooth: the fine checker (high-pass) survives intact.
    interior = distance_transform_edt(mask) > 12
    hp = lambda t: t.astype(float) - gaussian_filter(t.astype(float), (1.5, 1.5, 0))  # noqa: E731
    np.testing.assert_allclose(hp(res.texture)[interior], hp(tex)[interior], atol=1.5)
    # Each chart moves as a whole by minus its offset, up to a common level: the charts meet
    # at the average of their colours (equal charts, so the mean offset).
    r = rasterize_uv(mesh.uvs, mesh.uv_faces, tex.shape[0])
    chart = r.triangle_id // 72
    shift = np.stack([res.correction[interior & (chart == c)].mean(0) for c in range(6)])
    np.testing.assert_allclose(shift, -offsets + offsets.mean(0), atol=1.5)


def test_coarse_band_alone_and_float_textures():
    mesh, tex, mask, _ = offset_cube_texture(seed=1)
    f = tex.astype(np.float32) / 255
    res = correct_seams(f, mesh.uvs, mesh.uv_faces, mesh.faces, detail_texels=0)
    assert res.texture.dtype == np.float32 and 0 <= res.texture.min() and res.texture.max() <= 1
    assert res.error_after < 0.2 * res.error_before
    fine = correct_seams(f, mesh.uvs, mesh.uv_faces, mesh.faces)
    assert fine.error_after < res.error_after  # the fine band closes what the coarse one left


def test_a_texture_continuous_in_3d_has_small_seam_error():
    mesh, tex, mask, _ = offset_cube_texture()
    _, p = surface_points(mesh, 256)
    smooth = np.zeros_like(tex)
    smooth[mask] = np.rint(120 + 50 * np.sin(p * [1.3, 0.9, 1.7]))
    assert seam_error(smooth, mesh.uvs, mesh.uv_faces, mesh.faces) < 2.5
    assert seam_error(tex, mesh.uvs, mesh.uv_faces, mesh.faces) > 20


@pytest.mark.wrong_types  # validation of a mismatched mask
def test_mask_skips_pairs_and_layout_is_checked():
    mesh, tex, mask, _ = offset_cube_texture()
    layout = seam_layout(mesh.uvs, mesh.uv_faces, mesh.faces, 256)
    half = np.zeros(mask.shape, bool)
    half[:128] = True  # only the top row of charts holds colour
    res = correct_seams(tex, layout=layout, mask=half)
    full = correct_seams(tex, layout=layout)
    assert 0 < res.n_pairs < full.n_pairs
    assert res.error_after < 0.2 * res.error_before
    with pytest.raises(UserInputError):
        correct_seams(tex[:128], layout=layout)
    with pytest.raises(UserInputError):
        seam_error(tex, layout=layout, mask=half[:10])
