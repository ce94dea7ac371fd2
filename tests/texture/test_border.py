"""The bake/complete border measure (texture/border.py) and the completion's colour match
across that border on a synthetic case."""

from __future__ import annotations

import numpy as np
import pytest

from avatarforge.texture.border import border_step


def _halves(left, right, size=64):
    a = np.zeros((size, size, 3), np.float32)
    a[:, : size // 2] = left
    a[:, size // 2:] = right
    share = np.zeros((size, size), np.float32)
    share[:, : size // 2] = 1.0
    return a, share


def test_a_colour_step_is_measured_as_the_colours_delta_e():
    from skimage.color import rgb2lab

    from avatarforge.util.colour import linear_to_srgb

    left, right = np.array([0.5, 0.3, 0.2], np.float32), np.array([0.3, 0.2, 0.15], np.float32)
    a, share = _halves(left, right)
    region = np.ones(share.shape, bool)
    step = border_step(a, share, region, band=4.0)
    lab = rgb2lab(linear_to_srgb(np.stack([left, right]))[None])[0]
    assert step.texels > 0 and step.mean_de == pytest.approx(np.linalg.norm(lab[0] - lab[1]), rel=1e-3)
    # Only texels near the border are measured.
    cols = np.flatnonzero(step.delta_e.any(0))
    assert cols.min() >= 32 - 12 and cols.max() < 32 + 12
    # No step, no difference; a smooth ramp between the sides measures much less than the step.
    assert border_step(*_halves(left, left), region, band=4.0).mean_de == pytest.approx(0.0, abs=1e-3)
    ramp = a.copy()
    t = np.clip((np.arange(64) - 16) / 32, 0, 1)[None, :, None]
    ramp[:] = (1 - t) * left + t * right
    assert border_step(ramp, share, region, band=4.0).mean_de < 0.4 * step.mean_de
    # No completed side: nothing to measure.
    assert np.isnan(border_step(a, np.ones_like(share), region).mean_de)
