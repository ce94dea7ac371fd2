"""The face motion interface: retargeting relative to the performer's neutral face."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from avatarforge.animate.face_motion import MAX_BASELINE, FaceMotion, euler_xyz_matrix, relative_to_neutral


def test_weights_are_measured_from_the_neutral_and_rescaled() -> None:
    n = 21
    w = np.zeros((n, 52))
    w[:, 0] = 0.2 + 0.8 * np.linspace(0, 1, n)  # a resting 0.2 that reaches 1
    w[:, 1] = 0.9  # shut most of the time: only MAX_BASELINE is removed
    head = np.zeros((n, 3))
    head[:, 1] = 10.0 + np.linspace(-5, 5, n)  # yaw around 10 degrees
    valid = np.ones(n, bool)
    valid[3] = False
    m = relative_to_neutral(FaceMotion(w, head, np.zeros((n, 2, 2)), valid, 25.0))
    base = np.percentile(w[valid, 0], 5)
    np.testing.assert_allclose(m.weights[valid, 0], np.clip((w[valid, 0] - base) / (1 - base), 0, 1))
    assert m.weights[:, 0].max() == pytest.approx(1.0)
    np.testing.assert_allclose(m.weights[valid, 1], (0.9 - MAX_BASELINE) / (1 - MAX_BASELINE))
    assert (m.weights[3] == 0).all() and (m.head[3] == 0).all()  # invalid rows stay empty
    np.testing.assert_allclose(m.head[valid, 1], head[valid, 1] - np.median(head[valid, 1]), atol=1e-9)


def test_euler_convention_is_the_body_models() -> None:
    a = np.array([[10.0, -20.0, 30.0]])
    want = (Rotation.from_euler("z", 30, degrees=True) * Rotation.from_euler("y", -20, degrees=True)
            * Rotation.from_euler("x", 10, degrees=True)).as_matrix()
    np.testing.assert_allclose(euler_xyz_matrix(a)[0], want, atol=1e-12)
