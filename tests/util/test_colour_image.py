"""util.colour and util.image: sRGB curve, float <-> uint8, smoothstep, dot drawing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.color import rgb2gray

from avatarforge.util.colour import (
    float_to_uint8, from_uint8, linear_to_srgb, linear_to_srgb_torch, luminance, srgb_to_linear, srgb_to_linear_torch,
    to_uint8,
)
from avatarforge.util.image import draw_points, smoothstep


def test_srgb_curve_known_values_numpy_and_torch_agree() -> None:
    x = np.array([0.0, 0.04045, 0.5, 1.0])
    expected = [0.0, 0.04045 / 12.92, ((0.5 + 0.055) / 1.055) ** 2.4, 1.0]
    np.testing.assert_allclose(srgb_to_linear(x), expected, atol=1e-7)
    np.testing.assert_allclose(srgb_to_linear_torch(torch.from_numpy(x)).numpy(), expected, atol=1e-12)
    grid = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(grid)), grid, atol=1e-6)
    np.testing.assert_allclose(linear_to_srgb_torch(torch.from_numpy(grid)).numpy(), linear_to_srgb(grid), atol=1e-6)


def test_uint8_round_trips() -> None:
    levels = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(to_uint8(from_uint8(levels)), levels)
    np.testing.assert_array_equal(float_to_uint8(levels / 255.0), levels)
    np.testing.assert_array_equal(float_to_uint8(np.array([-0.5, 0.499 / 255, 0.501 / 255, 2.0])), [0, 0, 1, 255])
    with pytest.raises(TypeError):
        from_uint8(np.zeros(3, np.float32))


def test_luminance_matches_skimage() -> None:
    rgb = np.random.default_rng(0).uniform(0, 1, (8, 8, 3)).astype(np.float32)
    # skimage rounds the Rec. 709 weights differently (0.2125, 0.7154, 0.0721): equal to 3e-4.
    np.testing.assert_allclose(luminance(rgb), rgb2gray(rgb), atol=3e-4)
    np.testing.assert_allclose(luminance(np.eye(3, dtype=np.float32)), [0.2126, 0.7152, 0.0722], atol=1e-7)


def test_smoothstep_ramp_edges_and_dtype() -> None:
    x = np.array([-1.0, 0.0, 0.25, 0.5, 1.0, 3.0], dtype=np.float32)
    y = smoothstep(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, [0, 0, 0.15625, 0.5, 1, 1])
    assert smoothstep(np.array([0.5])).dtype == np.float64
    np.testing.assert_allclose(smoothstep(np.array([2.0, 3.0, 4.0]), 2.0, 4.0), [0, 0.5, 1])
    np.testing.assert_allclose(smoothstep(np.array([2.0, 3.0, 4.0]), 4.0, 2.0), [1, 0.5, 0])  # falling


def test_draw_points_fills_discs_and_skips_non_finite() -> None:
    img = np.zeros((20, 20, 3), np.uint8)
    draw_points(img, np.array([[5.0, 6.0], [np.nan, 3.0]]), (0, 255, 0), 2)
    assert img[6, 5, 1] == 255 and img[6, 5, 0] == 0
    assert img[6, 9, 1] == 0 and img[12, 12].sum() == 0
    assert (img[..., 1] > 0).sum() < 30
