"""The curl score of fitting.hair_fit: straight strands vs curls, on synthetic hair."""

from __future__ import annotations

import cv2
import numpy as np

from avatarforge.fitting.hair_fit import CURL_THRESHOLD, curl_score


def _scene(texture: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 400 x 400 photo of ``texture`` hair around a 160-pixel-wide face box (landmarks: its corners)."""
    rgb = np.repeat(texture[..., None], 3, -1).astype(np.uint8)
    hair = np.ones(texture.shape, bool)
    hair[150:330, 120:280] = False  # the face
    pts = np.array([[120.0, 150.0], [280.0, 150.0], [120.0, 330.0], [280.0, 330.0]])
    return rgb, hair, pts


def test_straight_strands_score_low_curls_high():
    rng = np.random.default_rng(0)
    straight = cv2.GaussianBlur(rng.standard_normal((400, 400)).astype(np.float32), (0, 0), sigmaX=1.0, sigmaY=25.0)
    curls = np.zeros((400, 400), np.float32)
    for x, y in rng.uniform(0, 400, (900, 2)):  # small rings: strands turning every way
        cv2.circle(curls, (int(x), int(y)), int(rng.integers(4, 9)), 1.0, 2)
    to8 = lambda a: np.clip(128 + 60 * (a - a.mean()) / (a.std() + 1e-6), 0, 255)  # noqa: E731
    s_straight = curl_score(*_scene(to8(straight)))
    s_curly = curl_score(*_scene(to8(curls)))
    assert s_straight < 0.3 < CURL_THRESHOLD < s_curly


def test_too_little_hair_is_nan():
    rgb, hair, pts = _scene(np.full((400, 400), 100.0))
    hair[:] = False
    hair[10:20, 10:20] = True
    assert np.isnan(curl_score(rgb, hair, pts))
