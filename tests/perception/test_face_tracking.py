"""Video tracking mode of the landmarks: one landmark-model pass on the previous frame's ROI."""

from pathlib import Path

import numpy as np
import pytest

from avatarforge.perception.face import face_landmarks, track_face_landmarks
from avatarforge.perception.image_io import load_image

PHOTO = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"


@pytest.fixture(scope="module")
def photo():
    rgb = load_image(PHOTO).rgb
    return rgb, face_landmarks(rgb).points


def test_tracking_the_same_frame_stays_on_the_detection(photo):
    rgb, points = photo
    tracked = track_face_landmarks(rgb, points)
    assert tracked is not None and tracked.shape == (478, 3)
    eyes = np.linalg.norm(points[33, :2] - points[263, :2])
    assert np.median(np.linalg.norm(tracked[:, :2] - points[:, :2], axis=1)) < 0.03 * eyes


def test_tracking_follows_a_shifted_frame(photo):
    rgb, points = photo
    dx, dy = 12, -8
    shifted = np.roll(rgb, (dy, dx), axis=(0, 1))
    tracked = track_face_landmarks(shifted, points)
    assert tracked is not None
    move = np.median(tracked[:, :2] - points[:, :2], axis=0)
    assert np.allclose(move, [dx, dy], atol=2.0)


def test_a_lost_face_returns_none(photo):
    rgb, points = photo
    assert track_face_landmarks(np.full_like(rgb, 90), points) is None


def test_follow_tracks_detects_afresh_and_reports_no_face(photo):
    from avatarforge.perception.face import follow_face_landmarks

    rgb, points = photo
    assert np.array_equal(follow_face_landmarks(rgb, None), points)  # no track yet: the detection
    tracked = follow_face_landmarks(rgb, points)
    assert np.array_equal(tracked, track_face_landmarks(rgb, points))  # the track holds: the tracked points
    far = points.copy()
    far[:, 0] += rgb.shape[1]  # a previous frame's face beside the image: the track is lost, detect again
    assert np.array_equal(follow_face_landmarks(rgb, far), points)
    assert follow_face_landmarks(np.full_like(rgb, 90), points) is None
    assert follow_face_landmarks(np.full_like(rgb, 90), None) is None
