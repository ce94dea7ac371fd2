"""Feature colours from the baked albedo: hair or bald scalp, sclera from the photo."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from avatarforge.texture.features import IRIS_DEG, SCLERA, feature_colours

SKIN = np.array([0.45, 0.30, 0.22], np.float32)


def _regions(n: int = 64):
    scalp = np.zeros((n, n), np.float32)
    scalp[:20] = 1.0
    angle = np.full((n, n), np.nan, np.float32)
    angle[40:50, 40:50] = 60.0  # sclera texels (beyond the iris)
    return SimpleNamespace(scalp=scalp, lips=np.zeros((n, n), bool), iris_angle=angle)


@pytest.mark.parametrize("scalp_colour, is_hair", [
    (SKIN * 1.8, False),                                   # a shining bald scalp: brighter, same hue
    (SKIN * 0.3, True),                                    # dark hair
    (np.array([0.75, 0.62, 0.28], np.float32), True),      # blond: brighter and yellower
])
def test_hair_or_bald_scalp(scalp_colour, is_hair):
    r = _regions()
    albedo = np.tile(SKIN, (64, 64, 1))
    albedo[:20] = scalp_colour
    feats = feature_colours(albedo, np.ones((64, 64), np.float32), r, SKIN)
    assert (feats.hair is not None) == is_hair
    if is_hair:
        np.testing.assert_allclose(feats.hair, scalp_colour, rtol=1e-4)


def test_sclera_from_the_photo_is_bounded():
    r = _regions()
    albedo = np.tile(SKIN, (64, 64, 1))
    w = np.ones((64, 64), np.float32)
    albedo[40:50, 40:50] = SCLERA * 0.8  # a shaded sclera is taken as seen
    np.testing.assert_allclose(feature_colours(albedo, w, r, SKIN).sclera, SCLERA * 0.8, rtol=1e-5)
    albedo[40:50, 40:50] = SKIN * 0.2  # lid shadow baked on the eyeball: not below half the white
    np.testing.assert_allclose(feature_colours(albedo, w, r, SKIN).sclera, np.maximum(SKIN * 0.2, SCLERA * 0.5), rtol=1e-5)
    w[40:50, 40:50] = 0.0  # not seen: the default
    np.testing.assert_array_equal(feature_colours(albedo, w, r, SKIN).sclera, SCLERA)
    assert IRIS_DEG + 4 < 60 < 90
