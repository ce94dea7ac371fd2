"""SH lighting: basis normalisation, exact recovery, recovery from a rendered and baked sphere."""

from __future__ import annotations

import numpy as np
import pytest

from avatarforge.errors import UserInputError
from avatarforge.render import Camera, rasterize, uv_sphere
from avatarforge.texture.bake import BakeConfig, bake
from avatarforge.util.colour import to_uint8
from avatarforge.texture.delight import SH_FACTORS, delight, fit_sh, sh_shading
from avatarforge.util.geometry import vertex_normals

# A plausible light: ambient + key light from the upper left front, slightly warm.
LIGHT = np.array([[3.2, 3.0, 2.8], [-0.5, -0.45, -0.4], [0.6, 0.6, 0.55], [0.9, 0.85, 0.8], [0.1, 0.1, 0.08],
                  [-0.15, -0.12, -0.1], [0.2, 0.2, 0.18], [-0.1, -0.1, -0.1], [0.15, 0.12, 0.1]], np.float32)
ALBEDO = np.array([0.6, 0.42, 0.3], np.float32)


def sphere_normals(n: int = 4000, front_only: bool = False, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return (x[x[:, 2] > 0.1] if front_only else x).astype(np.float32)


def test_uniform_unit_sky_gives_unit_shading():
    coeffs = np.zeros((9, 3), np.float32)
    coeffs[0] = np.sqrt(4 * np.pi)  # radiance 1 from every direction
    np.testing.assert_allclose(sh_shading(sphere_normals(200), coeffs), 1.0, atol=1e-5)
    assert SH_FACTORS.shape == (9,)


@pytest.mark.parametrize("front_only", [False, True])
def test_exact_recovery_with_known_albedo(front_only):
    n = sphere_normals(front_only=front_only)
    colour = ALBEDO * sh_shading(n, LIGHT)
    fit = fit_sh(colour, n, albedo=ALBEDO, ridge=0.0)
    np.testing.assert_allclose(fit.coeffs, LIGHT, atol=2e-3)
    assert fit.residual < 1e-4


def test_normalised_fit_splits_albedo_and_light():
    n = sphere_normals(front_only=True)
    colour = ALBEDO * sh_shading(n, LIGHT)
    fit = fit_sh(colour, n, ridge=0.0)
    # Only the product is determined; it is split so that the mean shading is 1 per channel.
    np.testing.assert_allclose(fit.coeffs * fit.skin_albedo, LIGHT * ALBEDO, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(sh_shading(n, fit.coeffs).mean(0), 1.0, atol=1e-3)
    albedo, shading = delight(colour, n, fit, shading_range=(0.01, 100))
    np.testing.assert_allclose(albedo, np.broadcast_to(fit.skin_albedo, albedo.shape), rtol=1e-3)


def test_outliers_are_dropped():
    n = sphere_normals(front_only=True)
    colour = ALBEDO * sh_shading(n, LIGHT)
    bad = np.random.default_rng(3).random(len(n)) < 0.1
    colour[bad] *= 0.2  # hair, brows, cast shadows
    fit = fit_sh(colour, n, albedo=ALBEDO, ridge=0.0)
    np.testing.assert_allclose(fit.coeffs, LIGHT, atol=0.05)
    assert fit.n_texels <= (~bad).sum()


def test_recovery_from_a_rendered_sphere():
    """Lambert + known SH on a sphere, rendered into a photo, baked back, fitted."""
    mesh = uv_sphere(48, 96, radius=0.5)
    cam = Camera.look_at((0.0, 0.2, 2.5), (0, 0, 0), width=256, height=256, fov_y_deg=35)
    r = rasterize(cam.project(mesh.vertices), mesh.faces, 256, 256)
    rows, cols = r.covered()
    tri = r.triangle_id[rows, cols]
    nrm = np.einsum("nk,nkc->nc", r.bary[rows, cols], vertex_normals(mesh.vertices, mesh.faces)[mesh.faces[tri]])
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    photo = np.zeros((256, 256, 3), np.uint8)
    photo[rows, cols] = to_uint8(ALBEDO * sh_shading(nrm, LIGHT) / 3.0)  # keep it below white
    b = bake(photo, cam, mesh.vertices, mesh.faces, mesh.uvs, mesh.uv_faces, BakeConfig(size=128))
    w = b.weight.ravel()[b.layout.index]
    colour = b.colour.reshape(-1, 3)[b.layout.index]
    fit = fit_sh(colour, b.surface.normals, w * (w > 0.5), albedo=ALBEDO / 3.0, ridge=0.0)
    seen = b.surface.normals[w > 0.5]
    true, got = sh_shading(seen, LIGHT), sh_shading(seen, fit.coeffs)
    assert np.abs(got / true - 1).max() < 0.01  # the shading of every seen normal within 1 %
    np.testing.assert_allclose(fit.coeffs, LIGHT, atol=0.1)  # all 27 coefficients (largest is 3.2)


def test_too_few_texels_is_an_error():
    with pytest.raises(UserInputError, match="at least 30"):
        fit_sh(np.ones((10, 3)), sphere_normals(10))


def test_chroma_shrink_makes_directional_light_grey_and_keeps_the_mean():
    n = sphere_normals(front_only=True)
    colour = ALBEDO * sh_shading(n, LIGHT)
    grey = fit_sh(colour, n, ridge=0.0, chroma=0.0)
    full = fit_sh(colour, n, ridge=0.0)
    spread = lambda f: (f.coeffs[1:].max(1) - f.coeffs[1:].min(1)).max()  # noqa: E731
    assert spread(grey) < 0.1 * spread(full)  # one colour for the directional part (up to normalisation)
    np.testing.assert_allclose(sh_shading(n, grey.coeffs).mean(0), 1.0, atol=1e-4)
    # The light here is nearly white, so a grey directional part still explains the colours.
    pred = grey.skin_albedo * sh_shading(n, grey.coeffs)
    assert np.abs(pred - colour).max() < 0.03
