"""The hair texture from a photo (texture.hair): a synthetic scene with a known hair colour
pattern and known SH light, projected onto the hair mesh, de-lit, completed and rendered back."""

from __future__ import annotations

import types

import cv2
import numpy as np
import pytest

from avatarforge.bodies.hair import UV_MAIN, HairStyle, build_hair, skull_frame
from avatarforge.fitting.hair_fit import HairFit, composite_hair
from avatarforge.render.camera import Camera
from avatarforge.render.raster import rasterize
from avatarforge.texture.delight import sh_shading
from avatarforge.texture.hair import HAIR_TEXTURE_SIZE, hair_texture, strand_noise
from avatarforge.util.colour import from_uint8, srgb_to_linear, to_uint8
from avatarforge.util.geometry import vertex_normals

# Light from the upper left (radiance SH, grey): shading 1 + 0.26 x + 0.29 y (0.45..1.55, inside
# texture.make.SHADING_RANGE) at normal (x, y, z).
COEFFS = np.zeros((9, 3), np.float32)
COEFFS[0] = 1.0 / 0.282095
COEFFS[1] = 0.8
COEFFS[2] = 0.9


def pattern(uv: np.ndarray) -> np.ndarray:
    """Known linear albedo at texture coordinates: brown with stripes around the head and a
    gradient down the hair (periods of several photo pixels)."""
    u, v = uv[:, 0], uv[:, 1]
    base = np.array([0.12, 0.07, 0.04])
    mod = 1.0 + 0.35 * np.sin(2 * np.pi * 12 * u)[:, None] * np.array([1.0, 0.8, 0.6]) + 0.3 * (v[:, None] - 0.5)
    return base[None] * mod


def lab(srgb8: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(srgb8.reshape(1, -1, 3).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[0].astype(np.float64)


def delta_e(a8: np.ndarray, b8: np.ndarray) -> np.ndarray:
    return np.linalg.norm(lab(a8) - lab(b8), axis=1)


@pytest.fixture(scope="module")
def scene(body):
    out = body.forward_params({})
    mesh = build_hair(out, HairStyle.parse("medium"))
    centre, rot = skull_frame(out)
    cam = Camera.look_at(centre + 0.55 * rot[:, 2] + 0.1 * rot[:, 1], centre, rot[:, 1], width=360, height=360)
    h = w = 360
    bv, bf = out.vertices[0].numpy().astype(np.float64), out.faces.numpy()
    body_r = rasterize(cam.project(bv), bf, h, w)
    hv = mesh.vertices.astype(np.float64)
    hair_r = rasterize(cam.project(hv), mesh.faces, h, w)
    shown = hair_r.mask & (hair_r.depth < body_r.depth)
    rows, cols = np.nonzero(shown)
    tri = mesh.faces[hair_r.triangle_id[rows, cols]]
    bary = hair_r.bary[rows, cols].astype(np.float64)
    uv = np.einsum("nk,nkc->nc", bary, mesh.uvs[tri].astype(np.float64))  # n: pixel, k: corner, c: uv
    nrm = np.einsum("nk,nkc->nc", bary, vertex_normals(hv, mesh.faces)[tri])
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    photo = np.full((h, w, 3), 200, np.uint8)
    photo[body_r.mask] = (205, 160, 140)
    photo[rows, cols] = to_uint8(pattern(uv) * sh_shading(nrm, COEFFS))
    vis = (shown, hair_r, hv)
    return types.SimpleNamespace(out=out, mesh=mesh, cam=cam, photo=photo, shown=shown, raster=hair_r, vis=vis)


def _render(scene, image: np.ndarray) -> np.ndarray:
    rec = types.SimpleNamespace(fit=types.SimpleNamespace(camera=scene.cam))
    fit = HairFit(scene.mesh.style, (0, 0, 0), 1.0, scene.mesh)
    rgba = np.zeros(scene.photo.shape[:2] + (4,), np.uint8)
    return composite_hair(rgba, rec, fit, scene.out, image, scene.vis)


def test_projection_round_trip_recovers_the_photo_and_the_albedo(scene):
    tex = hair_texture(scene.photo, scene.cam, scene.mesh, scene.shown, scene.shown, scene.raster.depth, COEFFS,
                       with_relit=True)
    assert tex.albedo.shape == HAIR_TEXTURE_SIZE + (4,) and tex.albedo.dtype == np.uint8
    assert 0.1 < tex.seen < 0.6  # the front of the hair
    inner = cv2.erode(scene.shown.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    for image, limit in ((tex.lit, 1.5), (tex.relit, 3.0)):
        r = _render(scene, image)
        drawn = inner & (r[..., 3] == 255)
        assert drawn.sum() > 0.8 * inner.sum()  # alpha cuts only tips and the hairline
        assert delta_e(r[drawn, :3], scene.photo[drawn]).mean() < limit
    # The albedo itself, at the texels facing the camera: the known pattern; without
    # de-lighting it keeps the light (clearly worse).
    hh, ww = HAIR_TEXTURE_SIZE
    rows, cols = np.mgrid[0:hh, 0:ww]
    uv = np.stack([(cols + 0.5) / ww, 1 - (rows + 0.5) / hh], -1).reshape(-1, 2)
    front = (np.abs(uv[:, 0] - 0.4) < 0.06) & (uv[:, 1] > 0.8) & (uv[:, 1] < 0.93)  # forehead to crown
    truth = to_uint8(pattern(uv[front]))
    err = delta_e(tex.albedo.reshape(-1, 4)[front, :3], truth).mean()
    flat = hair_texture(scene.photo, scene.cam, scene.mesh, scene.shown, scene.shown, scene.raster.depth, None)
    assert err < 3.0 and delta_e(flat.albedo.reshape(-1, 4)[front, :3], truth).mean() > 2 * err + 2


def test_unseen_hair_is_completed_with_strands_and_tips_are_cut_out(scene):
    tex = hair_texture(scene.photo, scene.cam, scene.mesh, scene.shown, scene.shown, scene.raster.depth, COEFFS)
    hh, ww = HAIR_TEXTURE_SIZE
    back = tex.albedo[int(0.15 * hh): int(0.6 * hh), int(UV_MAIN[0] * ww) + 4: int(0.1 * ww), :3]
    seen_mean = pattern(np.array([[u, v] for u in np.linspace(0.3, 0.5, 20) for v in (0.6, 0.8)])).mean(0)
    back_mean = from_uint8(back).reshape(-1, 3).mean(0)
    assert delta_e(to_uint8(back_mean[None]), to_uint8(seen_mean[None]))[0] < 8.0
    lum = from_uint8(back).mean(-1)
    across, along = np.abs(np.diff(lum, axis=1)).mean(), np.abs(np.diff(lum, axis=0)).mean()
    assert across > 2.5 * along > 0  # strands run down the texture (v)
    # Alpha: the curtain's tips end in strands; the hair's body is opaque.
    alpha = tex.albedo[..., 3]
    assert (alpha[: hh // 10] == 255).all()  # the crown
    bottom = alpha[int(0.97 * hh):, int(UV_MAIN[0] * ww) + 2: int(UV_MAIN[1] * ww) - 2]
    assert 0.3 < (bottom < 128).mean() < 0.95


def test_background_hue_in_the_hair_parsing_is_not_baked(scene):
    """Pixels labelled hair that show a bluish background through it (close to the hair in
    lightness: 25-35 from its median in Lab, but of another hue) are completed, not baked."""
    photo = scene.photo.copy()
    rows, cols = np.nonzero(scene.shown)
    patch = (cols > np.percentile(cols, 70)) & (rows < np.percentile(rows, 50))
    photo[rows[patch], cols[patch]] = (62, 80, 104)  # Lab ~ (33, 0, -17); the hair ~ (30, 9, 15)
    tex = hair_texture(photo, scene.cam, scene.mesh, scene.shown, scene.shown, scene.raster.depth, COEFFS)
    covered = tex.albedo[..., 3] > 0
    b = lab(tex.albedo[..., :3][covered])[:, 2]
    assert patch.sum() > 300 and (b < 0).mean() < 0.002


def test_chosen_colour_keeps_the_pattern(scene):
    tex = hair_texture(scene.photo, scene.cam, scene.mesh, scene.shown, scene.shown, scene.raster.depth, COEFFS,
                       colour_srgb=(200, 40, 40))
    target = srgb_to_linear(np.array([200, 40, 40]) / 255.0)
    mean = from_uint8(tex.albedo[..., :3]).reshape(-1, 3).mean(0)
    assert delta_e(to_uint8(mean[None]), to_uint8(target[None]))[0] < 6.0
    assert from_uint8(tex.albedo[..., :3]).std() > 0.01


def test_strand_noise_and_errors(scene):
    n = strand_noise((64, 128), seed=3)
    assert n.shape == (64, 128) and abs(float(n.mean())) < 0.2 and abs(float(n.std()) - 1) < 1e-3
    np.testing.assert_array_equal(n, strand_noise((64, 128), seed=3))
    from dataclasses import replace

    with pytest.raises(ValueError, match="texture coordinates"):
        hair_texture(scene.photo, scene.cam, replace(scene.mesh, uvs=None), scene.shown, scene.shown,
                     scene.raster.depth)
