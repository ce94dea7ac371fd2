"""A hat's cast shadow on the forehead (texture/clean.py): the band below the caster, and the
shadow lifted to the skin's brightness with its fine detail kept."""

from __future__ import annotations

import numpy as np
import pytest

from avatarforge.render import Camera, quad, render_mesh
from avatarforge.texture.bake import BakeConfig, bake
from avatarforge.texture.clean import lift_cast_shadow, shadow_band
from avatarforge.texture.fill import blur
from avatarforge.util.colour import LUMA, from_uint8, to_uint8

TONE = np.array([0.55, 0.36, 0.26], np.float32)
S = 128  # texture
P = 160  # photo


@pytest.fixture(scope="module")
def scene():
    """A textured quad filling the photo (skin with grain and a slow gradient), its unlit
    render, and the camera."""
    rng = np.random.default_rng(0)
    grain = np.exp(blur(rng.normal(0, 0.08, (S, S)).astype(np.float32), 1.0))
    slope = np.linspace(0.9, 1.1, S, dtype=np.float32)[None, :]
    tex_lin = TONE * (grain * slope)[..., None]
    tex = to_uint8(tex_lin)
    mesh = quad(2.0, 2.0)
    cam = Camera.look_at((0.0, 0.0, 3.0), (0, 0, 0), width=P, height=P, fov_y_deg=30)
    photo = render_mesh(mesh.vertices, mesh.faces, cam, texture=tex, uvs=mesh.uvs, uv_faces=mesh.uv_faces,
                        ambient=1.0, diffuse=0.0, background=(0, 0, 0, 255)).rgba[..., :3].copy()
    return mesh, cam, photo


def _bake(mesh, cam, photo):
    return bake(photo, cam, mesh.vertices, mesh.faces, mesh.uvs, mesh.uv_faces, BakeConfig(size=S))


def _hat() -> np.ndarray:
    hat = np.zeros((P, P), bool)
    hat[:40, 20:140] = True
    return hat


def test_band_lies_below_the_caster_and_fades():
    mesh = quad(2.0, 2.0)
    cam = Camera.look_at((0.0, 0.0, 3.0), (0, 0, 0), width=P, height=P, fov_y_deg=30)
    photo = np.full((P, P, 3), 180, np.uint8)
    b = _bake(mesh, cam, photo)
    hat = _hat()
    band = shadow_band(b, hat, reach_px=30.0)
    px, py = b.pixel[:, 0], b.pixel[:, 1]
    flat = band.ravel()[b.layout.index]
    seen = b.visible
    just_below = seen & (py > 41) & (py < 44) & (px > 30) & (px < 130)
    far_below = seen & (py > 75)
    above = seen & (py < 39) & (px > 30) & (px < 130)  # on the hat itself
    assert flat[just_below].min() > 0.9
    assert flat[far_below].max() == 0.0 and flat[above].max() == 0.0
    # Monotone fall-off down the band.
    mid = seen & (np.abs(px - 80) < 2)
    order = np.argsort(py[mid])
    vals = flat[mid][order][(py[mid][order] > 41) & (py[mid][order] < 72)]
    assert (np.diff(vals) <= 1e-6).all() and vals[0] > vals[-1] + 0.5
    # Columns beside the hat take its nearest column's lowest row (the shadow reaches round it).
    beside = seen & (px > 142) & (px < 146) & (py > 41) & (py < 44)
    assert flat[beside].min() > 0.3
    assert not shadow_band(b, np.zeros((P, P), bool), 30.0).any()


def test_cast_shadow_is_lifted_keeping_the_detail(scene):
    mesh, cam, photo = scene
    clean = _bake(mesh, cam, photo)
    hat = _hat()
    yy = np.arange(P, dtype=np.float32)[:, None]
    d = np.clip(yy - 39, 0, None)
    shade = np.where((yy > 39) & (np.arange(P)[None] >= 20) & (np.arange(P)[None] < 140), 1 - 0.45 * np.exp(-d / 10.0), 1.0)
    shaded = to_uint8(from_uint8(photo) * shade[..., None].astype(np.float32))
    b = _bake(mesh, cam, shaded)
    band = shadow_band(b, hat, reach_px=40.0)
    skin = b.weight > 0.5
    out, gain = lift_cast_shadow(b.colour, b.weight, band, skin, sigma=3.0)
    lum = lambda a: np.maximum(a @ LUMA, 1e-4)  # noqa: E731
    deep = skin & (band > 0.7)
    before = np.abs(np.log(lum(b.colour[deep]) / lum(clean.colour[deep]))).mean()
    after = np.abs(np.log(lum(out[deep]) / lum(clean.colour[deep]))).mean()
    assert before > 0.2 and after < 0.4 * before
    # Fine detail kept: the high-pass of the lifted band matches the clean bake's.
    hp = lambda a: np.log(lum(a)) - blur(np.log(lum(a)), 1.5)  # noqa: E731
    inner = deep & (blur(deep.astype(np.float32), 1.0) > 0.95)
    assert inner.sum() > 200
    # (the gain is smooth: the photo's detail passes through it; against the clean bake the
    # steep 10-pixel shadow edge and the 8-bit darkening leave a little of their own).
    assert np.corrcoef(hp(out)[inner], hp(b.colour)[inner])[0, 1] > 0.9
    assert np.corrcoef(hp(out)[inner], hp(clean.colour)[inner])[0, 1] > 0.5
    # Outside the band nothing changes; the gain never darkens.
    outside = band == 0
    np.testing.assert_array_equal(out[outside], b.colour[outside])
    assert gain.min() >= 1.0 and gain.max() <= 3.0


def test_a_band_as_bright_as_the_skin_is_left_alone(scene):
    mesh, cam, photo = scene
    b = _bake(mesh, cam, photo)
    band = shadow_band(b, _hat(), reach_px=40.0)
    out, gain = lift_cast_shadow(b.colour, b.weight, band, b.weight > 0.5, sigma=3.0)
    # The skin's own slow variation (a +-10 % gradient across) is not a shadow: lifts stay small.
    assert np.percentile(gain[band > 0], 95) < 1.05
