"""Eye/mouth openness and head pose: values on real photos, responses to known edits of the
landmarks, and the sign conventions on rotated / mirrored photos and rotated landmarks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from avatarforge.errors import UserInputError
from avatarforge.perception import eye_openness, face_landmarks, head_pose_angles, mouth_openness
from avatarforge.perception import landmark_groups as lg
from avatarforge.perception.face_metrics import RIGID_IDS, RIGID_REST


def test_openness_on_real_photos(photo_landmarks, grace):
    eyes = eye_openness(photo_landmarks.points)
    assert 0.12 < eyes.left < 0.4 and 0.12 < eyes.right < 0.4 and abs(eyes.left - eyes.right) < 0.06
    grace_mouth = mouth_openness(face_landmarks(grace).points)
    assert grace_mouth < 0.05  # lips closed
    assert 0 <= mouth_openness(photo_landmarks.points) < 0.3


def test_astronaut_smile_is_more_open_than_grace(astronaut, grace):
    smile, closed = face_landmarks(astronaut).points, face_landmarks(grace).points
    assert mouth_openness(smile) > 0.08 > mouth_openness(closed)


def test_openness_responds_to_lid_and_lip_moves(photo_landmarks):
    p = photo_landmarks.points.copy()
    before_eyes, before_mouth = eye_openness(p), mouth_openness(p)
    width = np.linalg.norm(p[lg.LEFT_EYE_OUTER] - p[lg.LEFT_EYE_INNER])
    p[lg.LEFT_EYE_LOWER[1:-1], 1] += 0.1 * width  # open the left eye downward by 10% of its width
    after = eye_openness(p)
    assert after.left == pytest.approx(before_eyes.left + 0.1, abs=0.02)
    assert after.right == before_eyes.right
    # Close the eye: put the lower lid on the upper one.
    p[lg.LEFT_EYE_LOWER[1:-1]] = p[lg.LEFT_EYE_UPPER[1:-1]]
    assert eye_openness(p).left == 0.0
    mouth_w = np.linalg.norm(p[lg.MOUTH_LEFT] - p[lg.MOUTH_RIGHT])
    p[lg.LIPS_INNER_LOWER[1:-1], 1] += 0.3 * mouth_w
    assert mouth_openness(p) > before_mouth + 0.2


def test_frontal_photos_have_small_angles(photo_landmarks):
    pose = head_pose_angles(photo_landmarks.points)
    assert abs(pose.yaw) < 8 and abs(pose.pitch) < 15 and abs(pose.roll) < 8
    r = pose.rotation
    assert np.allclose(r @ r.T, np.eye(3), atol=1e-9) and np.linalg.det(r) == pytest.approx(1.0)


@pytest.mark.parametrize("degrees", [15, -20])
def test_roll_follows_an_in_plane_rotation(photo, photo_landmarks, degrees):
    """PIL rotates counter-clockwise: the head then leans toward the subject's RIGHT shoulder,
    which is negative roll."""
    turned = np.asarray(Image.fromarray(photo).rotate(degrees, resample=Image.BICUBIC))
    before = head_pose_angles(photo_landmarks.points).roll
    after = head_pose_angles(face_landmarks(turned).points).roll
    assert after - before == pytest.approx(-degrees, abs=3.0)


def test_mirror_flips_yaw_and_roll(photo, photo_landmarks):
    pose = head_pose_angles(photo_landmarks.points)
    mirrored = head_pose_angles(face_landmarks(np.ascontiguousarray(photo[:, ::-1])).points)
    assert mirrored.yaw == pytest.approx(-pose.yaw, abs=2.5)
    assert mirrored.roll == pytest.approx(-pose.roll, abs=2.5)
    assert mirrored.pitch == pytest.approx(pose.pitch, abs=2.5)


def _rotate_points(points: np.ndarray, axis: str, degrees: float) -> np.ndarray:
    """Rotate landmarks about their centroid, with the rotation written in the viewer frame
    (x right, y up, z toward the camera); image points have y down and z away."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    rot = {"x": [[1, 0, 0], [0, c, -s], [0, s, c]], "y": [[c, 0, s], [0, 1, 0], [-s, 0, c]],
           "z": [[c, -s, 0], [s, c, 0], [0, 0, 1]]}[axis]
    flip = np.array([1.0, -1.0, -1.0])
    centre = points.mean(axis=0)
    return ((points - centre) * flip @ np.array(rot).T) * flip + centre


def test_sign_conventions_on_rotated_landmarks(photo_landmarks):
    p = photo_landmarks.points
    base = head_pose_angles(p)
    nose = p[lg.NOSE_TIP]
    # Turn about the vertical axis so that the nose moves to the image's right = the
    # subject turns to their left: yaw grows.
    turned = _rotate_points(p, "y", 20)
    assert turned[lg.NOSE_TIP, 0] > nose[0]
    assert head_pose_angles(turned).yaw - base.yaw == pytest.approx(20, abs=1.5)
    # Tip the nose toward the image's top (smaller y) = looking up: pitch grows.
    up = _rotate_points(p, "x", -15)
    assert up[lg.NOSE_TIP, 1] < nose[1]
    assert head_pose_angles(up).pitch - base.pitch == pytest.approx(15, abs=1.5)
    # Lean clockwise on screen: the image-right (subject's left) eye goes down = positive roll.
    lean = _rotate_points(p, "z", -10)
    drop = lambda q: q[lg.LEFT_IRIS_CENTER, 1] - q[lg.RIGHT_IRIS_CENTER, 1]  # noqa: E731
    assert drop(lean) > drop(p)
    assert head_pose_angles(lean).roll - base.roll == pytest.approx(10, abs=1.5)


def test_canonical_face_is_the_zero_pose():
    """The rest face, drawn as image points (x right, y down, z away, any scale and offset),
    is yaw = pitch = roll = 0; rotated by known Euler angles, they come back."""
    points = np.zeros((lg.N_LANDMARKS, 3))
    for i, xyz in zip(RIGID_IDS, RIGID_REST):
        points[i] = np.array(xyz) * [1, -1, -1] * 2000 + [300, 250, 0]
    pose = head_pose_angles(points)
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((0, 0, 0), abs=1e-9)
    # R = Ry(yaw) Rx(-pitch) Rz(-roll): apply roll first, then pitch, then yaw.
    posed = _rotate_points(_rotate_points(_rotate_points(points, "z", -7), "x", -12), "y", 25)
    pose = head_pose_angles(posed)
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((25, 12, 7), abs=1e-6)


@pytest.mark.wrong_types  # validation of untrusted input
def test_bad_points_are_rejected():
    with pytest.raises(UserInputError, match=r"must be \(478, 3\)"):
        head_pose_angles(np.zeros((68, 2)))


def test_blink_from_openness_is_relative_to_the_performers_open_eye() -> None:
    from avatarforge.perception.face_metrics import CLOSED_EYE_FRACTION, blink_from_openness

    # left eye open at 0.30, right at 0.20 (75th percentiles); one frame shut, one half shut
    left = np.array([0.30] * 7 + [0.30 * CLOSED_EYE_FRACTION, 0.30 * (1 + CLOSED_EYE_FRACTION) / 2, 0.0])
    right = np.array([0.20] * 7 + [0.20, 0.20, 0.02])
    valid = np.ones(10, bool)
    valid[-1] = False  # an invalid frame stays 0 whatever it reads
    b = blink_from_openness(np.stack([left, right], 1), valid)
    assert b.shape == (10, 2)
    np.testing.assert_allclose(b[:7], 0.0)
    np.testing.assert_allclose(b[7], [1.0, 0.0])
    np.testing.assert_allclose(b[8], [0.5, 0.0])
    np.testing.assert_allclose(b[9], [0.0, 0.0])
    # wider than the usual open eye clips at 0; NaN rows (no face) are ignored by the percentile
    b = blink_from_openness(np.array([[0.5, 0.5], [0.2, 0.2], [np.nan, np.nan]]), np.ones(3, bool), 50.0)
    half_shut = (0.35 - 0.2) / (0.35 * (1 - CLOSED_EYE_FRACTION))  # the median of 0.5 and 0.2 is 0.35
    np.testing.assert_allclose(b, [[0.0, 0.0], [half_shut, half_shut], [0.0, 0.0]])
    assert not blink_from_openness(np.zeros((3, 2)), np.zeros(3, bool)).any()
