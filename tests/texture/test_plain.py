"""A skin texture without a photographed face (texture/plain.py) and the face-less path's
skin tone and hair (pipeline/body_only.py)."""

from __future__ import annotations

import types

import numpy as np
import pytest

from avatarforge.errors import UserInputError
from avatarforge.texture.plain import photo_skin_tone, plain_texture
from avatarforge.texture.skin import DEFAULT_SKIN, SkinTone
from avatarforge.util.colour import from_uint8


def test_photo_skin_tone_is_the_skin_pixels_colour_whatever_else_the_mask_holds():
    rgb = np.zeros((40, 50, 3), np.uint8)
    rgb[:] = (200, 150, 120)
    rgb[:6] = (30, 20, 15)  # a dark strip (hair, a sleeve edge) inside the mask
    mask = np.ones((40, 50), bool)
    tone = photo_skin_tone(rgb, mask)
    np.testing.assert_allclose(tone.linear, from_uint8(np.array([200, 150, 120], np.uint8)), atol=1e-6)
    assert tone.n_texels == 34 * 50
    few = photo_skin_tone(rgb, np.zeros((40, 50), bool))
    assert few.n_texels == 0 and np.allclose(few.linear, DEFAULT_SKIN)


@pytest.fixture(scope="module")
def rest(body):
    return body.forward_params({})


def test_plain_texture_has_the_tone_on_the_skin_and_features_of_its_own(body, rest):
    from avatarforge.texture import regions_for
    from avatarforge.texture.layout import texel_layout

    dark, light = (SkinTone(np.array(c, np.float32), 100, 0.1) for c in ([0.20, 0.10, 0.06], [0.70, 0.50, 0.40]))
    a, b = plain_texture(body, rest, dark, size=128), plain_texture(body, rest, light, size=128)
    regions = regions_for(body, 128)
    layout = texel_layout(rest.uvs.numpy(), rest.uv_faces.numpy(), 128)
    body_skin = layout.mask & ~regions.head & ~regions.face & ~regions.eyeball & ~regions.interior
    for tex, tone in ((a, dark), (b, light)):
        assert tex.shape == (128, 128, 3) and tex.dtype == np.uint8
        mean = from_uint8(tex)[body_skin].mean(0)
        np.testing.assert_allclose(mean, tone.linear, rtol=0.06)  # grain and blotches average out
    eye = from_uint8(a)[regions.eyeball].mean(0)
    assert eye.mean() > 2 * dark.linear.mean()  # the procedural eye, not skin


def _parsing(hair: np.ndarray):
    return types.SimpleNamespace(mask=lambda *names: hair if names == ("hair",) else np.zeros_like(hair))


def test_body_hair_colour_from_the_parsed_hair_else_default_and_overrides():
    from avatarforge.pipeline.body_only import DEFAULT_HAIR, body_hair

    rgb = np.zeros((60, 40, 3), np.uint8)
    rgb[5:15, 10:30] = (90, 60, 30)
    hair = np.zeros((60, 40), bool)
    hair[5:15, 10:30] = True
    pose = types.SimpleNamespace(points=np.tile([[20.0, 20.0], [25.0, 24.0]], (17, 1))[:33])
    style, srgb, source = body_hair(rgb, _parsing(hair), pose)
    assert style.style == DEFAULT_HAIR[0] and source == "photo"
    assert np.abs(np.subtract(srgb, (90, 60, 30))).max() <= 1
    style, srgb, source = body_hair(rgb, _parsing(np.zeros_like(hair)), pose)
    assert srgb == DEFAULT_HAIR[1] and source == "default"
    style, srgb, source = body_hair(rgb, _parsing(hair), pose, "long+curly", (10, 20, 30))
    assert style.style == "long" and style.curl == 1.0 and srgb == (10, 20, 30) and source == "given"
    assert body_hair(rgb, _parsing(hair), pose, "bald")[0] is None
    with pytest.raises(UserInputError, match="unknown hair"):
        body_hair(rgb, _parsing(hair), pose, "mohawk")
