"""Inpainting of dark (shadowed) texels: a planted blob is found and filled, the rest kept."""

from __future__ import annotations

import numpy as np
import pytest

from avatarforge.render import quad
from avatarforge.util.colour import LUMA
from avatarforge.texture.inpaint import InpaintConfig, dark_mask, inpaint
from avatarforge.texture.layout import texel_layout

TONE = np.array([0.55, 0.36, 0.26], np.float32)
S = 128


def skin_image(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (TONE * np.exp(rng.normal(0, 0.02, (S, S, 1)))).astype(np.float32)


def blob(cy: int = 60, cx: int = 40, r: int = 7) -> np.ndarray:
    yy, xx = np.mgrid[0:S, 0:S]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


@pytest.fixture
def planted():
    img = skin_image()
    dark = blob()
    img[dark] *= 0.3  # a cast shadow
    return img, dark


def test_dark_blob_is_detected(planted):
    img, dark = planted
    found = dark_mask(img, np.ones((S, S), np.float32), np.ones((S, S), bool), TONE)
    iou = (found & dark).sum() / (found | dark).sum()
    assert iou > 0.85


def test_uniform_skin_has_no_dark_texels():
    found = dark_mask(skin_image(), np.ones((S, S), np.float32), np.ones((S, S), bool), TONE)
    assert not found.any()


def test_dark_hair_is_not_a_shadow():
    img = skin_image()
    img[blob()] = [0.12, 0.05, 0.012]  # dark brown: another chromaticity, not shaded skin
    assert not dark_mask(img, np.ones((S, S), np.float32), np.ones((S, S), bool), TONE).any()


def test_blob_is_filled_and_the_rest_is_kept(planted):
    img, dark = planted
    res = inpaint(img, np.ones((S, S), np.float32), np.ones((S, S), bool), np.ones((S, S), bool), TONE)
    lum = res.albedo @ LUMA
    assert abs(lum[dark].mean() / (TONE @ LUMA) - 1) < 0.05
    far = ~blob(r=7 + 8)
    np.testing.assert_array_equal(res.albedo[far], img[far])
    assert res.blend[dark].min() > 0.99 and res.blend[far].max() == 0
    assert res.mask[dark].mean() > 0.9


def test_outside_the_region_nothing_changes(planted):
    img, dark = planted
    region = np.zeros((S, S), bool)
    region[:, 64:] = True  # the blob is on the left
    res = inpaint(img, np.ones((S, S), np.float32), region, np.ones((S, S), bool), TONE)
    np.testing.assert_array_equal(res.albedo, img)


def test_mirror_side_is_preferred_when_seen():
    """A full-square UV layout whose mirror is the left/right flip: the blob on the left takes the
    (distinctly tinted) colour of the right side rather than a smooth fill from its neighbours."""
    m = quad()
    layout = texel_layout(m.uvs, m.uv_faces, S)
    rows, cols = np.divmod(layout.index, S)
    coords = np.stack([S - (cols + 0.5), rows + 0.5], -1).astype(np.float32)
    img = skin_image()
    img[:, S // 2:] *= [1.1, 0.95, 0.9]  # the right half is redder
    dark = blob()
    img[dark] *= 0.3
    res = inpaint(img, np.ones((S, S), np.float32), np.ones((S, S), bool), np.ones((S, S), bool), TONE,
                  layout=layout, mirror_coords=coords, cfg=InpaintConfig(grain=0.0))
    mirrored = img[:, ::-1][dark]
    np.testing.assert_allclose(res.albedo[dark].mean(0), mirrored.mean(0), rtol=0.02)
    assert res.from_mirror > 0.9


def test_low_weight_texels_do_not_colour_the_fill():
    """An unseen hole fringed by a ring of pale, barely-seen texels (grey hair at a temple that
    the parsing let through with little weight) is filled with the skin around it, not the
    fringe's colour -- unless every seen texel is a source (``source_weight`` 0)."""
    img = skin_image()
    weight = np.ones((S, S), np.float32)
    hole = blob(r=10)
    ring = blob(r=16) & ~hole
    weight[hole] = 0.0
    img[hole] = 0.0
    weight[ring] = 0.1
    img[ring] = (0.8, 0.78, 0.75)
    region = np.ones((S, S), bool)
    for source_weight, near_skin in ((0.6, True), (0.0, False)):
        res = inpaint(img, weight, region, region, TONE, cfg=InpaintConfig(source_weight=source_weight))
        centre = res.albedo[blob(r=4)].mean(0)
        assert (np.abs(centre / TONE - 1).max() < 0.1) == near_skin, (source_weight, centre)
