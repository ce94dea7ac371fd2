"""Skin tone, skin fill, push-pull and noise."""

from __future__ import annotations

import numpy as np

from avatarforge.util.colour import LUMA
from avatarforge.texture.fill import band_noise, nearest_fill, push_pull
from avatarforge.texture.skin import DEFAULT_SKIN, estimate_skin_tone, skin_detail, skin_likeness, synth_skin

TONE = np.array([0.55, 0.36, 0.26], np.float32)


def face(size: int = 96):
    """A uniform-colour 'face' disk with full weight, and its skin mask."""
    yy, xx = np.mgrid[0:size, 0:size]
    skin = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2
    colour = np.zeros((size, size, 3), np.float32)
    colour[skin] = TONE
    return colour, skin.astype(np.float32), skin


def test_uniform_face_gives_its_colour():
    colour, weight, skin = face()
    tone = estimate_skin_tone(colour, weight, skin)
    np.testing.assert_allclose(tone.linear, TONE, atol=1e-6)
    assert tone.n_texels == skin.sum() and tone.spread < 1e-6
    np.testing.assert_array_equal(tone.srgb, np.round(255 * ((1.055 * TONE ** (1 / 2.4)) - 0.055)).astype(np.uint8))


def test_outliers_and_unseen_texels_do_not_move_the_tone():
    colour, weight, skin = face()
    rng = np.random.default_rng(0)
    colour[skin] *= np.exp(rng.normal(0, 0.03, (skin.sum(), 1)))  # mild shading noise
    hair = skin & (rng.random(skin.shape) < 0.25)
    colour[hair] = [0.05, 0.03, 0.02]  # dark strands over the skin
    low = skin & (rng.random(skin.shape) < 0.2)
    weight[low] = 0.1
    colour[low] = [0.9, 0.1, 0.1]  # unreliable texels (low weight) of another colour
    tone = estimate_skin_tone(colour, weight, skin)
    np.testing.assert_allclose(tone.linear, TONE, rtol=0.02)


def test_no_visible_skin_gives_the_default():
    colour, weight, skin = face()
    tone = estimate_skin_tone(colour, weight * 0, skin)
    assert tone.n_texels == 0
    np.testing.assert_array_equal(tone.linear, DEFAULT_SKIN)


def test_skin_fill_has_the_tone_and_some_texture():
    fill = synth_skin((256, 256), TONE, detail=0.03, seed=4)
    np.testing.assert_allclose(np.median(fill.reshape(-1, 3), 0), TONE, rtol=0.02)
    log_l = np.log(fill @ LUMA)
    assert 0.02 < log_l.std() < 0.06  # grain of about the requested strength, not flat paint
    np.testing.assert_array_equal(fill, synth_skin((256, 256), TONE, detail=0.03, seed=4))
    assert not np.array_equal(fill, synth_skin((256, 256), TONE, detail=0.03, seed=5))
    assert abs(skin_detail(fill, np.ones((256, 256), bool)) - 0.03) < 0.02


def test_skin_likeness():
    assert skin_likeness(TONE[None], TONE)[0] > 0.999
    assert skin_likeness(np.array([[0.05, 0.05, 0.3]]), TONE)[0] < 0.01  # blue cloth
    assert skin_likeness(TONE[None] * 0.1, TONE)[0] < 0.05  # deep black


def test_push_pull_keeps_known_pixels_and_fills_the_rest_smoothly():
    rng = np.random.default_rng(2)
    values = rng.random((50, 70, 3)).astype(np.float32)
    known = rng.random((50, 70)) < 0.3
    out = push_pull(values, known.astype(np.float32))
    np.testing.assert_allclose(out[known], values[known], atol=1e-6)
    assert out[~known].min() >= values[known].min() - 1e-6 and out[~known].max() <= values[known].max() + 1e-6
    # A constant known region fills everything with that constant.
    const = np.where(known[..., None], 0.4, 9.0).astype(np.float32)
    np.testing.assert_allclose(push_pull(const, known.astype(np.float32)), 0.4, atol=1e-5)
    np.testing.assert_allclose(push_pull(const, known.astype(np.float32), skip=2), 0.4, atol=1e-5)


def test_nearest_fill_copies_the_nearest_known_pixel():
    values = np.zeros((5, 9, 1), np.float32)
    known = np.zeros((5, 9), bool)
    values[2, 1], known[2, 1] = 1.0, True
    values[2, 7], known[2, 7] = 2.0, True
    out = nearest_fill(values, known)[..., 0]
    assert (out[:, :4] == 1.0).all() and (out[:, 5:] == 2.0).all()


def test_band_noise_is_normalised_and_deterministic():
    a = band_noise((128, 128), seed=1)
    assert abs(a.mean()) < 0.1 and abs(a.std() - 1) < 1e-3
    np.testing.assert_array_equal(a, band_noise((128, 128), seed=1))
