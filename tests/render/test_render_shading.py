import numpy as np
import pytest
import torch
from render_reference import vertex_normals_reference

from avatarforge.errors import UserInputError
from avatarforge.render import Camera, headlight, lambert, quad, render_mesh, uv_sphere, vertex_normals


def test_vertex_normals_match_reference_and_point_outwards():
    s = uv_sphere(8, 12, radius=0.5, center=(0.1, 1.0, -0.2))
    rng = np.random.default_rng(0)
    v = s.vertices + rng.normal(scale=0.02, size=s.vertices.shape)  # uneven face areas
    n = vertex_normals(torch.from_numpy(v), s.faces).numpy()
    np.testing.assert_allclose(n, vertex_normals_reference(v, s.faces), atol=1e-12)
    radial = s.vertices - [0.1, 1.0, -0.2]
    assert (np.einsum("vc,vc->v", n, radial) > 0).all()  # CCW-from-outside faces -> outwards
    batched = vertex_normals(torch.from_numpy(np.stack([v, v * 2])), s.faces).numpy()
    np.testing.assert_allclose(batched[1], n, atol=1e-12)  # scale invariant, per batch item


def test_vertex_normals_gradcheck():
    s = uv_sphere(4, 6)
    v = torch.from_numpy(s.vertices).requires_grad_()
    torch.autograd.gradcheck(lambda x: vertex_normals(x, s.faces), (v,))


def test_lambert_formula():
    n = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0], [0.6, 0.0, 0.8]])
    albedo = torch.tensor([[1.0, 0.5, 0.0]]).expand(3, 3)
    out = lambert(n, albedo, (0.0, 0.0, 2.0), ambient=0.2, diffuse=0.5)
    np.testing.assert_allclose(out[:, 0].numpy(), [0.7, 0.2, 0.2 + 0.5 * 0.8], rtol=1e-6)
    np.testing.assert_allclose(out[:, 1].numpy(), out[:, 0].numpy() * 0.5, rtol=1e-6)


def test_headlight_is_above_left_of_the_camera():
    cam = Camera.look_at((0, 1, 3), (0, 1, 0))
    d = headlight(cam)
    assert d[0] < 0 and d[1] > 0 and d[2] > 0.8  # left (-X), up (+Y), towards the camera (+Z)


def test_sphere_is_lit_from_the_front_and_background_is_kept():
    s = uv_sphere(24, 48, radius=0.5, center=(0, 1, 0))
    cam = Camera.look_at((0, 1, 3), (0, 1, 0), width=64, height=64, fov_y_deg=30)
    out = render_mesh(s.vertices, s.faces, cam, ambient=0.2, diffuse=0.8, background=(10, 20, 30, 0))
    rgba, mask = out.rgba, out.raster.mask
    assert rgba.dtype == np.uint8 and rgba.shape == (64, 64, 4)
    assert (rgba[~mask] == [10, 20, 30, 0]).all() and (rgba[mask, 3] == 255).all()
    # centre pixel: normal faces the camera, brightly lit; brighter up-left than down-right
    c = out.normals[32, 32]
    assert c[2] > 0.95
    assert rgba[32, 32, 0] > 0.9 * 0.8 * 255
    assert int(rgba[24, 24, 0]) > int(rgba[40, 40, 0]) + 20
    # the same mesh turned inside out faces away: only ambient remains at the centre
    inv = render_mesh(s.vertices, s.faces[:, ::-1], cam, ambient=0.2, diffuse=0.8)
    assert abs(int(inv.rgba[32, 32, 0]) - round(0.2 * 0.8 * 255)) <= 1


def _card(n=16):
    tex = np.full((n, n, 3), 128, np.uint8)
    tex[: n // 2, : n // 2] = [255, 0, 0]  # top-left red
    tex[: n // 2, n // 2 :] = [0, 255, 0]  # top-right green
    tex[n // 2 :, : n // 2] = [0, 0, 255]  # bottom-left blue
    return tex


@pytest.mark.parametrize("ortho", [False, True])
def test_textured_quad_is_upright_and_not_mirrored(ortho):
    q = quad(1.0, 1.0, center=(0, 1, 0))
    if ortho:
        cam = Camera.orthographic_look_at((0, 1, 3), (0, 1, 0), width=40, height=40, ortho_scale=30)
    else:
        cam = Camera.look_at((0, 1, 3), (0, 1, 0), width=40, height=40, fov_y_deg=25)
    out = render_mesh(q.vertices, q.faces, cam, texture=_card(), uvs=q.uvs, uv_faces=q.uv_faces,
                      ambient=1.0, diffuse=0.0)
    rows, cols = np.nonzero(out.raster.mask)
    top, left = rows.min(), cols.min()
    bottom, right = rows.max(), cols.max()
    np.testing.assert_array_equal(out.rgba[top + 2, left + 2, :3], [255, 0, 0])
    np.testing.assert_array_equal(out.rgba[top + 2, right - 2, :3], [0, 255, 0])
    np.testing.assert_array_equal(out.rgba[bottom - 2, left + 2, :3], [0, 0, 255])
    np.testing.assert_array_equal(out.rgba[bottom - 2, right - 2, :3], [128, 128, 128])


def test_vertex_colors_and_input_errors():
    q = quad(1.0, 1.0)
    cam = Camera.look_at((0, 0, 3), (0, 0, 0), width=32, height=32, fov_y_deg=25)
    colors = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, 0, 1.0], [1.0, 0, 0]])  # left red, right blue
    out = render_mesh(torch.from_numpy(q.vertices), q.faces, cam, vertex_colors=colors, ambient=1.0, diffuse=0.0)
    row = out.rgba[16]
    cols = np.nonzero(out.raster.mask[16])[0]
    assert row[cols[0], 0] > 230 and row[cols[0], 2] < 25
    assert row[cols[-1], 2] > 230 and row[cols[-1], 0] < 25
    with pytest.raises(UserInputError, match="needs uvs"):
        render_mesh(q.vertices, q.faces, cam, texture=_card())
    with pytest.raises(UserInputError, match="uint8"):
        render_mesh(q.vertices, q.faces, cam, vertex_colors=np.ones((4, 3), dtype=int))


def test_rendered_normals_are_unit_even_on_a_coarse_mesh():
    s = uv_sphere(4, 6, radius=0.5)  # interpolated vertex normals shrink a lot across faces
    cam = Camera.look_at((0.3, 0.2, 2), (0, 0, 0), width=48, height=48, fov_y_deg=40)
    out = render_mesh(s.vertices, s.faces, cam)
    norms = np.linalg.norm(out.normals[out.raster.mask], axis=-1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)
    assert (out.normals[~out.raster.mask] == 0).all()
