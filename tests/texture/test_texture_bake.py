"""Bake: a synthetic scene with a known texture, baked back from its render."""

from __future__ import annotations

import numpy as np
import pytest

from avatarforge.errors import UserInputError
from avatarforge.render import Camera, quad, render_mesh, uv_sphere
from avatarforge.texture.bake import BakeConfig, bake, bilinear
from avatarforge.util.colour import from_uint8, linear_to_srgb, srgb_to_linear, to_uint8


def smooth_texture(size: int) -> np.ndarray:
    """A smooth colourful uint8 sRGB pattern (few cycles: resampling barely changes it)."""
    v, u = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    rgb = np.stack([0.5 + 0.4 * np.sin(2 * np.pi * 3 * u), 0.5 + 0.4 * np.cos(2 * np.pi * 2 * v),
                    0.5 + 0.3 * np.sin(2 * np.pi * (u + v))], -1)
    return np.round(rgb * 255).astype(np.uint8)


def flat_render(mesh, texture, cam):
    """Unlit render (ambient 1): the photo pixel is the texture value."""
    return render_mesh(mesh.vertices, mesh.faces, cam, texture=texture, uvs=mesh.uvs, uv_faces=mesh.uv_faces,
                       ambient=1.0, diffuse=0.0, background=(0, 0, 0, 255)).rgba[..., :3].copy()


@pytest.fixture(scope="module")
def sphere_scene():
    mesh = uv_sphere(48, 96)
    tex = smooth_texture(128)
    cam = Camera.look_at((0.3, 0.4, 3.0), (0, 0, 0), width=320, height=320, fov_y_deg=45)
    return mesh, tex, cam, flat_render(mesh, tex, cam)


def test_bake_recovers_the_known_texture_where_visible(sphere_scene):
    mesh, tex, cam, photo = sphere_scene
    res = bake(photo, cam, mesh.vertices, mesh.faces, mesh.uvs, mesh.uv_faces, BakeConfig(size=128))
    good = res.weight > 0.5
    assert 0.1 < good.mean() < 0.5  # the visible cap of the sphere, minus the rim
    err = np.abs(res.colour[good] - from_uint8(tex)[good])
    assert np.median(err) < 0.002 and np.percentile(err, 99) < 0.01
    # Linear output: the sRGB-encoded photo values would be far off.
    assert np.median(np.abs(linear_to_srgb(res.colour[good]) - tex[good] / 255.0)) < 0.01
    assert np.median(np.abs(res.colour[good] - tex[good] / 255.0)) > 0.05


def test_hidden_half_gets_no_weight(sphere_scene):
    mesh, tex, cam, photo = sphere_scene
    res = bake(photo, cam, mesh.vertices, mesh.faces, mesh.uvs, mesh.uv_faces, BakeConfig(size=128))
    away = np.einsum("nc,nc->n", res.surface.normals, (cam.position / np.linalg.norm(cam.position))[None]) < -0.05
    flat_w = res.weight.ravel()[res.layout.index]
    assert away.sum() > 1000 and (flat_w[away] == 0).all() and not res.visible[away].any()
    # The weight falls off towards the rim: texels seen at grazing angles weigh less.
    seen = res.visible
    assert flat_w[seen & (res.n_dot_v > 0.9)].mean() > 0.95 > flat_w[seen & (res.n_dot_v < 0.3)].mean()


def test_z_buffer_hides_what_is_behind_an_occluder():
    """A sphere in front of a wall; both share one texture (sphere left half, wall right half)."""
    s, w = uv_sphere(32, 64, radius=0.5, center=(0, 0, 0.5)), quad(3.0, 3.0, center=(0, 0, -1.0))
    vertices = np.concatenate([s.vertices, w.vertices])
    faces = np.concatenate([s.faces, w.faces + len(s.vertices)])
    uvs = np.concatenate([s.uvs * [0.5, 1.0], w.uvs * [0.5, 1.0] + [0.5, 0.0]])
    uv_faces = np.concatenate([s.uv_faces, w.uv_faces + len(s.uvs)])
    cam = Camera.look_at((0, 0, 4.0), (0, 0, 0), width=200, height=200, fov_y_deg=50)
    photo = np.full((200, 200, 3), 200, np.uint8)
    res = bake(photo, cam, vertices, faces, uvs, uv_faces, BakeConfig(size=128))
    wall = res.layout.triangle >= len(s.faces)
    p = res.surface.positions[wall].astype(np.float64)
    # Exact occlusion: does the segment camera -> wall point cross the sphere?
    c, o = np.array([0, 0, 0.5]), cam.position
    d = p - o
    t = np.clip(((c - o) @ d.T) / (d * d).sum(1), 0, 1)
    dist = np.linalg.norm(o + t[:, None] * d - c, axis=1)
    vis = res.visible[wall]
    in_view = (np.abs(p[:, :2]) < 1.3).all(1)
    assert (dist[vis] > 0.49).all()  # nothing seen through the sphere
    assert vis[in_view & (dist > 0.53)].mean() > 0.99  # everything else seen


def test_bilinear_samples_pixel_centres_exactly():
    img = np.random.default_rng(0).random((6, 9, 3)).astype(np.float32)
    rows, cols = np.mgrid[0:6, 0:9]
    out = bilinear(img, cols.ravel() + 0.5, rows.ravel() + 0.5)
    np.testing.assert_allclose(out, img.reshape(-1, 3), atol=1e-6)
    mid = bilinear(img, np.array([1.0 + 0.5 + 0.5]), np.array([2.0 + 0.5]))  # halfway between columns 1 and 2
    np.testing.assert_allclose(mid[0], (img[2, 1] + img[2, 2]) / 2, atol=1e-6)


def test_bake_faces_limits_what_takes_colour(sphere_scene):
    mesh, tex, cam, photo = sphere_scene
    only = np.zeros(len(mesh.faces), bool)
    only[: len(mesh.faces) // 2] = True
    res = bake(photo, cam, mesh.vertices, mesh.faces, mesh.uvs, mesh.uv_faces, BakeConfig(size=64), bake_faces=only)
    w = res.weight.ravel()[res.layout.index]
    assert (w[~only[res.layout.triangle]] == 0).all() and (w[only[res.layout.triangle]] > 0).any()


def test_bake_refuses_a_camera_of_another_size(sphere_scene):
    mesh, tex, cam, photo = sphere_scene
    with pytest.raises(UserInputError, match="camera is"):
        bake(photo[:100], cam, mesh.vertices, mesh.faces, mesh.uvs, mesh.uv_faces)


def test_colour_round_trip():
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-5)
    u8 = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(to_uint8(from_uint8(u8)), u8)
