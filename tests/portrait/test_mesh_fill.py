"""The painted regions of the mesh animator, on synthetic pictures with known answers."""

import cv2
import numpy as np

from avatarforge.portrait.mesh_fill import closed_lid, grain, polygon_mask, skin_noise


def test_skin_noise_has_the_asked_grain_and_is_the_same_every_time():
    n = skin_noise((80, 90), 3.0)
    assert np.isclose(grain(n, np.ones(n.shape, bool)), 3.0, rtol=0.15)  # its own high-pass: nearly all of it
    assert abs(n.mean()) < 0.2
    assert np.array_equal(n, skin_noise((80, 90), 3.0))
    assert np.allclose(skin_noise((10, 10), 0.0), 0.0)


def _skin(shape=(60, 80), grain_sd=4.0, seed=3):
    """Smooth shading plus fine grain: what a lid should look like."""
    rng = np.random.default_rng(seed)
    ii, jj = np.mgrid[0:shape[0], 0:shape[1]]
    base = 150 + 0.6 * jj - 0.4 * ii
    noise = cv2.GaussianBlur(rng.standard_normal(shape), (0, 0), 0.6)
    noise *= grain_sd / noise.std()
    rgb = np.stack([base + noise + 30, base + noise, base + noise - 20], -1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _laplacian_var(rgb, mask):
    return float(cv2.Laplacian(rgb.astype(np.float64).mean(-1), cv2.CV_64F)[mask].var())


def test_a_closed_lid_looks_like_the_skin_around_it():
    skin = _skin()
    # an open eye drawn on the skin: dark almond with a darker lash line above
    eye_poly = np.array([[20, 30], [30, 24], [45, 22], [58, 27], [62, 31], [48, 36], [32, 36]], float)
    eye = polygon_mask(skin.shape[:2], eye_poly)
    lash = polygon_mask(skin.shape[:2], np.concatenate([eye_poly[:5] - [0, 2.5], eye_poly[4::-1] + [0, 0.5]]))
    photo = skin.copy()
    photo[eye] = (60, 45, 40)
    photo[lash & ~eye] = (25, 20, 20)
    covered = eye | lash
    lower = eye_poly[[0, 6, 5, 4]]
    rgb, alpha = closed_lid(photo, covered, lower, np.array([40.0, 30.0, 30.0]), 42.0, 1.0)
    assert alpha[covered].min() > 0.999 and alpha.max() <= 1.0
    out = np.clip(np.round(photo * (1 - alpha[..., None]) + rgb * alpha[..., None]), 0, 255)
    # no dark patch left: the lid's colour is the skin's (the lash line aside)
    lashline = cv2.dilate(polygon_mask(skin.shape[:2], np.concatenate([lower - [0, 2], lower[::-1] + [0, 2]])).astype(np.uint8),
                          np.ones((3, 3), np.uint8)).astype(bool)
    body = covered & ~lashline
    assert np.abs(out[body].mean(0) - skin[body].mean(0)).max() < 12
    # the lid's sharpness (variance of the Laplacian around the eye, the new lash line aside)
    # is the skin's, within 20 %; with the (soft) lash line, still well below the open eye's
    region = cv2.dilate(covered.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    ratio = _laplacian_var(out, region & ~lashline) / _laplacian_var(skin, region & ~lashline)
    assert 0.8 <= ratio <= 1.2, ratio
    assert _laplacian_var(photo, region) > 3 * _laplacian_var(out, region)
    # half closed (no lash line drawn yet): the whole region is skin-sharp
    rgb, alpha = closed_lid(photo, covered, lower, np.array([40.0, 30.0, 30.0]), 42.0, 0.2)
    out = np.clip(np.round(photo * (1 - alpha[..., None]) + rgb * alpha[..., None]), 0, 255)
    assert 0.8 <= _laplacian_var(out, region) / _laplacian_var(skin, region) <= 1.2
    # nothing covered: nothing painted
    rgb, alpha = closed_lid(photo, np.zeros(covered.shape, bool), lower, np.zeros(3), 42.0, 1.0)
    assert not alpha.any()
