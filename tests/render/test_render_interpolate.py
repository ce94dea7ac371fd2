"""Torch-side barycentrics, interpolation and texturing: values against the raster and
references, gradients with float64 gradcheck."""

import numpy as np
import pytest
import torch
from render_reference import bilinear_reference

from avatarforge.render import (
    Camera,
    barycentrics,
    interpolate,
    rasterize,
    texel_uvs,
    texture,
    to_image,
    uv_sphere,
)


def sphere_view(ortho: bool, size=(40, 56)):
    s = uv_sphere(10, 20, radius=0.6)
    h, w = size
    if ortho:
        cam = Camera.orthographic_look_at((0.5, 0.6, 3.0), (0, 0, 0), width=w, height=h, ortho_scale=30)
    else:
        cam = Camera.look_at((0.5, 0.6, 1.6), (0, 0, 0), width=w, height=h, fov_y_deg=60)
    verts = torch.from_numpy(s.vertices)
    return s, cam, verts


@pytest.mark.parametrize("ortho", [False, True])
def test_torch_barycentrics_equal_raster(ortho):
    s, cam, verts = sphere_view(ortho)
    screen = cam.project(verts)
    r = rasterize(screen, s.faces, cam.height, cam.width, perspective=not ortho)
    b = barycentrics(screen, s.faces, r)
    assert b.shape == (r.mask.sum(), 3) and r.mask.sum() > 300
    np.testing.assert_allclose(b.numpy(), r.bary[r.mask], atol=1e-5, rtol=0)
    # and the other correction gives different weights (so the comparison is not vacuous)
    other = barycentrics(screen, s.faces, r, perspective=ortho)
    if not ortho:
        assert (other - b).abs().max() > 1e-3


@pytest.mark.parametrize("ortho", [False, True])
def test_barycentrics_gradcheck_wrt_world_vertices(ortho):
    s, cam, verts = sphere_view(ortho, size=(12, 16))
    r = rasterize(cam.project(s.vertices), s.faces, cam.height, cam.width, perspective=not ortho)
    used = np.unique(s.faces[r.triangle_id[r.mask]])
    verts = verts.clone()

    def f(sub):
        v = verts.index_copy(0, torch.from_numpy(used), sub)
        return barycentrics(cam.project(v), s.faces, r)

    torch.autograd.gradcheck(f, (verts[used].clone().requires_grad_(),))


def test_batched_barycentrics_and_interpolate():
    s, cam, verts = sphere_view(False, size=(20, 24))
    v2 = torch.stack([verts, verts * 0.8 + 0.05])
    screen = cam.project(v2)
    r = rasterize(screen, s.faces, cam.height, cam.width)
    b = barycentrics(screen, s.faces, r)
    attr = torch.randn(2, len(verts), 4, dtype=torch.float64)
    vals = interpolate(attr, s.faces, r, b)
    n0 = r.mask[0].sum()
    for k in range(2):
        rk = rasterize(screen[k], s.faces, cam.height, cam.width)
        sl = slice(0, n0) if k == 0 else slice(n0, None)
        torch.testing.assert_close(b[sl], barycentrics(screen[k], s.faces, rk))
        torch.testing.assert_close(vals[sl], interpolate(attr[k], s.faces, rk, b[sl]))


def test_interpolate_linear_attribute_recovers_the_surface_point():
    """Interpolating camera-space positions with perspective-correct weights lands on the pixel ray."""
    s, cam, verts = sphere_view(False)
    r = rasterize(cam.project(s.vertices), s.faces, cam.height, cam.width)
    cam_pts = torch.from_numpy(s.vertices @ cam.R.T + cam.t)
    P = interpolate(cam_pts, s.faces, r)
    rows, cols = r.covered()
    np.testing.assert_allclose((P[:, 0] / P[:, 2] * cam.fx + cam.cx).numpy(), cols + 0.5, atol=2e-3)
    np.testing.assert_allclose((P[:, 1] / P[:, 2] * cam.fy + cam.cy).numpy(), rows + 0.5, atol=2e-3)


def test_interpolate_gradcheck_wrt_attributes_and_separate_uv_indices():
    s, cam, _ = sphere_view(False, size=(10, 14))
    r = rasterize(cam.project(s.vertices), s.faces, cam.height, cam.width)
    uvs = torch.from_numpy(s.uvs).requires_grad_()
    torch.autograd.gradcheck(lambda a: interpolate(a, s.uv_faces, r), (uvs,))
    # per-corner indices: the same value as gathering corners by hand
    uv = interpolate(uvs, s.uv_faces, r).detach()
    tri = r.triangle_id[r.mask]
    expected = np.einsum("nk,nkc->nc", r.bary[r.mask], s.uvs[s.uv_faces[tri]])
    np.testing.assert_allclose(uv.numpy(), expected, atol=1e-6)


def test_to_image_places_values_and_background():
    s, cam, _ = sphere_view(False, size=(9, 11))
    r = rasterize(cam.project(s.vertices), s.faces, cam.height, cam.width)
    vals = torch.arange(r.mask.sum() * 2, dtype=torch.float64).reshape(-1, 2).requires_grad_()
    img = to_image(vals, r, background=(-1.0, -2.0))
    assert img.shape == (9, 11, 2)
    np.testing.assert_array_equal(img.detach().numpy()[r.mask], vals.detach().numpy())
    np.testing.assert_array_equal(img.detach().numpy()[~r.mask], np.broadcast_to([-1.0, -2.0], ((~r.mask).sum(), 2)))
    img.sum().backward()
    assert (vals.grad == 1).all()


def test_texture_reads_texel_centres_with_the_obj_convention():
    tex = torch.arange(3 * 5 * 2, dtype=torch.float64).reshape(3, 5, 2)
    uv = torch.from_numpy(texel_uvs((3, 5)).reshape(-1, 2))
    np.testing.assert_allclose(texture(tex, uv).numpy(), tex.reshape(-1, 2).numpy(), atol=1e-12)
    # uv (0, 0) is the bottom-left corner -> last row, first column; (1, 1) the top-right
    corners = texture(tex, torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64))
    np.testing.assert_allclose(corners.numpy(), [tex[2, 0].numpy(), tex[0, 4].numpy()])


def test_texture_matches_bilinear_reference_and_gradcheck():
    g = torch.Generator().manual_seed(0)
    tex = torch.rand(6, 7, 3, dtype=torch.float64, generator=g)
    uv = torch.rand(40, 2, dtype=torch.float64, generator=g) * 1.2 - 0.1  # some outside [0, 1]
    np.testing.assert_allclose(texture(tex, uv).numpy(), bilinear_reference(tex.numpy(), uv.numpy()), atol=1e-12)
    uv_in = (torch.rand(20, 2, dtype=torch.float64, generator=g) * 0.9 + 0.05).requires_grad_()
    torch.autograd.gradcheck(texture, (tex.clone().requires_grad_(), uv_in))
