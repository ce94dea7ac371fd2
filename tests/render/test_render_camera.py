import json

import numpy as np
import pytest
import torch

from avatarforge.errors import UserInputError
from avatarforge.render import Camera


def test_look_at_axes_follow_opencv():
    """Camera at +Z looking at the origin: world +X is image right, world +Y image up (y down)."""
    cam = Camera.look_at((0, 0, 3), (0, 0, 0), width=200, height=100, fov_y_deg=60)
    assert np.allclose(cam.R @ cam.R.T, np.eye(3)) and np.isclose(np.linalg.det(cam.R), 1.0)
    np.testing.assert_allclose(cam.position, [0, 0, 3], atol=1e-12)
    p = cam.project(np.array([[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0]], dtype=float))
    np.testing.assert_allclose(p[0], [100, 50, 3])  # the target is at the principal point
    assert p[1, 0] > 100 and np.isclose(p[1, 1], 50)  # +X -> right
    assert p[2, 1] < 50 and np.isclose(p[2, 0], 100)  # +Y -> up (smaller row)
    # fov: a point at the top edge of the view projects to row 0
    top = np.array([[0, 3 * np.tan(np.radians(30)), 0]])
    np.testing.assert_allclose(cam.project(top)[0, 1], 0.0, atol=1e-9)


def test_perspective_matches_homogeneous_K_matrix():
    rng = np.random.default_rng(0)
    cam = Camera.look_at((1.0, 1.5, 2.5), (0.1, 0.8, 0.0), width=320, height=240, fov_y_deg=45)
    X = rng.normal(size=(50, 3)) * 0.3 + [0.1, 0.8, 0.0]
    h = (cam.K @ (cam.R @ X.T + cam.t[:, None])).T  # homogeneous pixels
    p = cam.project(X)
    np.testing.assert_allclose(p[:, :2], h[:, :2] / h[:, 2:], rtol=1e-12)
    np.testing.assert_allclose(p[:, 2], h[:, 2], rtol=1e-12)


def test_orthographic_ignores_distance():
    cam = Camera.orthographic_look_at((0, 1, 5), (0, 1, 0), width=100, height=200, ortho_scale=50)
    assert not cam.is_perspective and cam.ortho_scale == 50
    p = cam.project(np.array([[0.4, 1.2, 0.0], [0.4, 1.2, -2.0]]))
    np.testing.assert_allclose(p[:, 0], 50 + 0.4 * 50)
    np.testing.assert_allclose(p[:, 1], 100 - 0.2 * 50)
    np.testing.assert_allclose(p[:, 2], [5.0, 7.0])


@pytest.mark.parametrize("ortho", [False, True])
def test_torch_projection_matches_numpy_batched_and_gradcheck(ortho):
    make = Camera.orthographic_look_at if ortho else Camera.look_at
    cam = make((0.5, 1.0, 3.0), (0, 1, 0), width=64, height=48)
    X = torch.randn(2, 7, 3, dtype=torch.float64) * 0.3
    out = cam.project(X)
    assert out.shape == (2, 7, 3) and out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), cam.project(X.numpy()), rtol=1e-12)
    torch.autograd.gradcheck(cam.project, (X.requires_grad_(),))


def test_dict_roundtrip_through_json():
    for cam in (
        Camera.look_at((0.3, 1.2, 2.0), (0, 1, 0), width=30, height=20, fov_y_deg=35),
        Camera.orthographic_look_at((0, 1, 4), (0, 1, 0), width=16, height=32, ortho_scale=12.5),
    ):
        back = Camera.from_dict(json.loads(json.dumps(cam.to_dict())))
        assert back.projection == cam.projection and (back.width, back.height) == (cam.width, cam.height)
        np.testing.assert_array_equal(back.R, cam.R)
        X = np.random.default_rng(1).normal(size=(5, 3))
        np.testing.assert_array_equal(back.project(X), cam.project(X))


@pytest.mark.wrong_types  # validation of untrusted input
def test_bad_cameras_raise():
    with pytest.raises(UserInputError, match="parallel"):
        Camera.look_at((0, 3, 0), (0, 0, 0))
    with pytest.raises(UserInputError, match="projection"):
        Camera(np.eye(3), np.zeros(3), 4, 4, 1, 1, 2, 2, projection="fisheye")
    with pytest.raises(UserInputError, match="missing"):
        Camera.from_dict({"R": np.eye(3).tolist()})
