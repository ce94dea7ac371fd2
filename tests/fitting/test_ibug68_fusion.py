"""The exported iBUG-68 points: the fitted model's fused with the detector's mapped points,
per group, with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from avatarforge.fitting.ibug68 import DETECTED_SHARE, IBUG68_GROUPS, fuse_with_detected, ibug68_from_mediapipe


def test_each_group_takes_its_share_of_the_detected_point():
    model = np.zeros((68, 2))
    detected = np.tile([10.0, 20.0], (478, 1))  # every mapped point lands on (10, 20)
    out = fuse_with_detected(model, detected)
    for group, ids in IBUG68_GROUPS.items():
        np.testing.assert_allclose(out[list(ids)], np.tile(DETECTED_SHARE[group] * np.array([10.0, 20.0]), (len(ids), 1)))
    # the jaw is the model's (its far side is marched to the silhouette; MediaPipe's is hidden)
    assert DETECTED_SHARE["jaw"] == 0.0
    np.testing.assert_array_equal(out[:17], 0.0)
    np.testing.assert_array_equal(model, 0.0)  # the input is not changed


def test_shares_interpolate_between_model_and_detector():
    rng = np.random.default_rng(3)
    model = rng.normal(size=(68, 2)) * 50
    detected = rng.normal(size=(478, 3)) * 50  # a depth column is ignored
    mapped = ibug68_from_mediapipe(detected[:, :2])
    np.testing.assert_allclose(fuse_with_detected(model, detected, {g: 0.0 for g in IBUG68_GROUPS}), model)
    np.testing.assert_allclose(fuse_with_detected(model, detected, {g: 1.0 for g in IBUG68_GROUPS}), mapped)
    half = fuse_with_detected(model, detected, {"eyes": 0.5})  # unnamed groups: the model's
    np.testing.assert_allclose(half[36:48], (model[36:48] + mapped[36:48]) / 2)
    np.testing.assert_allclose(np.delete(half, range(36, 48), 0), np.delete(model, range(36, 48), 0))


@pytest.mark.parametrize("group", sorted(IBUG68_GROUPS))
def test_shares_are_fractions(group):
    assert 0.0 <= DETECTED_SHARE[group] <= 1.0
