import numpy as np
import pytest
import torch

from avatarforge.neural.bones import DEPTH_SCALE, rasterize_bones, rasterize_bones_reference
from avatarforge.neural.skeleton import BONES, KEYPOINTS, NUM_BONES
from avatarforge.render import Camera


def _random_pose(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal([0.0, 0.9, 0.0], [0.3, 0.45, 0.2], (len(KEYPOINTS), 3))


@pytest.mark.parametrize("seed,size,thickness", [(0, (24, 40), 0.05), (1, (33, 17), 0.02), (2, (16, 16), 0.1)])
def test_vectorised_matches_per_pixel_reference(seed, size, thickness):
    h, w = size
    cam = Camera.look_at((0.5, 1.2, 2.5), (0, 0.9, 0), width=w, height=h, fov_y_deg=50)
    joints = _random_pose(seed)
    fast = rasterize_bones(joints, cam, thickness=thickness).numpy()
    slow = rasterize_bones_reference(joints, cam, thickness=thickness)
    assert fast.shape == (NUM_BONES, h, w)
    assert (slow > 0).sum() > 20  # the pose is in view: the comparison is not on empty images
    np.testing.assert_allclose(fast, slow, atol=2e-5)


def test_depth_code_and_line_values():
    # Two bones along x at 1 m left/right of the origin, camera at +Z: a vertical world offset
    # of 0 puts the line through row centres exactly.
    cam = Camera.look_at((0, 0, 3.0), (0, 0, 0), width=64, height=64, fov_y_deg=40)
    joints = np.zeros((len(KEYPOINTS), 3))
    a, b = BONES[0]
    joints[a] = (-0.3, 0.0, 0.5)  # nearer to the camera
    joints[b] = (0.3, 0.0, -0.5)  # farther
    img = rasterize_bones(joints, cam, bones=((a, b),), thickness=0.02)[0].numpy()
    scr = cam.project(joints)
    z_ref = scr[:, 2].mean()
    row = 31  # pixel centre y = 31.5 ~ projected y = 32: distance 0.5 px
    cols = np.flatnonzero(img[row] > 0)
    assert cols.min() < 32 < cols.max()
    # The value falls from the near end to the far end.
    assert img[row, cols.min() + 2] > img[row, cols.max() - 2]
    # Exact value at one pixel: coverage * depth code, computed by hand.
    col = 32
    p = np.array([col + 0.5, row + 0.5])
    seg = scr[b, :2] - scr[a, :2]
    t = np.clip(np.dot(p - scr[a, :2], seg) / np.dot(seg, seg), 0, 1)
    d = np.linalg.norm(p - scr[a, :2] - t * seg)
    z = scr[a, 2] + t * (scr[b, 2] - scr[a, 2])
    expect = max(1 - d / (0.02 * 64), 0) * max(1 + (z_ref - z) / DEPTH_SCALE, 0.05)
    assert img[row, col] == pytest.approx(expect, rel=1e-4)


def test_bones_off_screen_are_empty_and_torch_input_accepted():
    cam = Camera.look_at((0, 0, 3.0), (0, 0, 0), width=16, height=16)
    joints = torch.full((len(KEYPOINTS), 3), 50.0)  # far off to the side
    assert rasterize_bones(joints, cam).abs().sum() == 0
