"""The region index lists: derived from mediapipe's connection sets, ordered as documented,
and -- on real photos -- where their names say (the subject's left is the image's right)."""

from __future__ import annotations

import numpy as np
import pytest
from mediapipe.python.solutions import face_mesh_connections as fmc

from avatarforge.perception import landmark_groups as lg

CLOSED = {
    "RIGHT_EYE": (lg.RIGHT_EYE, fmc.FACEMESH_RIGHT_EYE, 16),
    "LEFT_EYE": (lg.LEFT_EYE, fmc.FACEMESH_LEFT_EYE, 16),
    "LIPS_OUTER": (lg.LIPS_OUTER, fmc.FACEMESH_LIPS, 20),
    "LIPS_INNER": (lg.LIPS_INNER, fmc.FACEMESH_LIPS, 20),
    "FACE_OVAL": (lg.FACE_OVAL, fmc.FACEMESH_FACE_OVAL, 36),
    "RIGHT_IRIS": (lg.RIGHT_IRIS, fmc.FACEMESH_RIGHT_IRIS, 4),
    "LEFT_IRIS": (lg.LEFT_IRIS, fmc.FACEMESH_LEFT_IRIS, 4),
}
PATHS = {
    "RIGHT_EYE": (lg.RIGHT_EYE_UPPER, lg.RIGHT_EYE_LOWER, fmc.FACEMESH_RIGHT_EYE),
    "LEFT_EYE": (lg.LEFT_EYE_UPPER, lg.LEFT_EYE_LOWER, fmc.FACEMESH_LEFT_EYE),
    "LIPS_OUTER": (lg.LIPS_OUTER_UPPER, lg.LIPS_OUTER_LOWER, fmc.FACEMESH_LIPS),
    "LIPS_INNER": (lg.LIPS_INNER_UPPER, lg.LIPS_INNER_LOWER, fmc.FACEMESH_LIPS),
}
BROWS = {
    "RIGHT": (lg.RIGHT_EYEBROW_UPPER, lg.RIGHT_EYEBROW_LOWER, fmc.FACEMESH_RIGHT_EYEBROW, lg.RIGHT_EYE),
    "LEFT": (lg.LEFT_EYEBROW_UPPER, lg.LEFT_EYEBROW_LOWER, fmc.FACEMESH_LEFT_EYEBROW, lg.LEFT_EYE),
}


def _is_edge(a: int, b: int, edges) -> bool:
    return (a, b) in edges or (b, a) in edges


@pytest.mark.parametrize("name", CLOSED)
def test_closed_contours_follow_mediapipe_edges(name):
    ring, edges, length = CLOSED[name]
    assert len(ring) == len(set(ring)) == length
    assert all(_is_edge(ring[i], ring[(i + 1) % length], edges) for i in range(length))
    assert all(0 <= i < lg.N_LANDMARKS for i in ring)


@pytest.mark.parametrize("name", PATHS)
def test_upper_and_lower_paths_split_the_contour(name):
    upper, lower, edges = PATHS[name]
    ring = CLOSED[name][0]
    assert len(upper) == len(lower) and upper[0] == lower[0] == ring[0] and upper[-1] == lower[-1]
    assert set(upper) | set(lower) == set(ring) and len(set(upper) & set(lower)) == 2
    assert all(_is_edge(a, b, edges) for path in (upper, lower) for a, b in zip(path, path[1:]))
    assert ring[: len(upper)] == upper  # the contour runs along the upper side first


def test_anchor_ids_and_iris_centres():
    assert lg.RIGHT_IRIS_CENTER == 468 and lg.LEFT_IRIS_CENTER == 473  # mediapipe's documented ids
    assert lg.FACE_OVAL[0] == lg.FOREHEAD_TOP and lg.CHIN in lg.FACE_OVAL and lg.NOSE_TIP in lg.NOSE
    assert lg.LIPS_OUTER[0] == lg.MOUTH_RIGHT and lg.LIPS_OUTER_UPPER[-1] == lg.MOUTH_LEFT


def _centroid(lm, ids) -> np.ndarray:
    return lm.xy[list(ids)].mean(axis=0)


def test_subjects_left_is_on_the_image_right(photo_landmarks):
    """Both photos are unmirrored (Grace Hopper's name tag reads normally and her ribbons,
    worn on the left breast, are on the image's right), so the subject's left is image right."""
    lm = photo_landmarks
    for left, right in [(lg.LEFT_EYE, lg.RIGHT_EYE), (lg.LEFT_EYEBROW_UPPER, lg.RIGHT_EYEBROW_UPPER),
                        ([lg.LEFT_IRIS_CENTER], [lg.RIGHT_IRIS_CENTER]), ([lg.MOUTH_LEFT], [lg.MOUTH_RIGHT]),
                        ([lg.LEFT_EYE_OUTER], [lg.RIGHT_EYE_OUTER])]:
        assert _centroid(lm, left)[0] > _centroid(lm, right)[0]
    # The face detector (an independent model) labels its eye keypoints the same way.
    kp_right, kp_left = lm.box.keypoints[0], lm.box.keypoints[1]
    dist = lambda a, b: np.linalg.norm(a - b)  # noqa: E731
    assert dist(kp_left, lm.xy[lg.LEFT_IRIS_CENTER]) < dist(kp_left, lm.xy[lg.RIGHT_IRIS_CENTER])
    assert kp_right[0] < kp_left[0]


def test_orderings_on_a_real_face(photo_landmarks):
    lm = photo_landmarks
    y = lambda ids: _centroid(lm, ids)[1]  # noqa: E731 - image y grows downward
    for upper, lower, _ in PATHS.values():
        assert y(upper[1:-1]) < y(lower[1:-1])
    for upper, lower, _, eye in BROWS.values():
        assert y(upper) < y(lower) < y(eye)
        nose_x = lm.xy[lg.NOSE_TIP, 0]
        assert abs(lm.xy[upper[0], 0] - nose_x) < abs(lm.xy[upper[-1], 0] - nose_x)  # inner end first
    # Eye contours start at the outer corner: farther from the nose than the inner corner.
    for outer, inner in [(lg.RIGHT_EYE_OUTER, lg.RIGHT_EYE_INNER), (lg.LEFT_EYE_OUTER, lg.LEFT_EYE_INNER)]:
        nose = lm.xy[lg.NOSE_TIP]
        assert np.linalg.norm(lm.xy[outer] - nose) > np.linalg.norm(lm.xy[inner] - nose)
    # The oval starts at the top and turns clockwise on screen (toward the image's right).
    oval = lm.xy[lg.FACE_OVAL]
    assert oval[0, 1] == pytest.approx(oval[:, 1].min(), abs=0.05 * np.ptp(oval[:, 1]))
    assert oval[1, 0] > oval[0, 0]
    x, yy = oval[:, 0], oval[:, 1]
    signed_area = 0.5 * np.sum(x * np.roll(yy, -1) - np.roll(x, -1) * yy)
    assert signed_area > 0  # > 0 is clockwise when y points down
    # The inner lip ring lies inside the outer one.
    assert np.ptp(lm.xy[lg.LIPS_INNER, 0]) < np.ptp(lm.xy[lg.LIPS_OUTER, 0])


def test_fitting_groups_are_the_named_contours():
    """The face fit's lid/lip pairs face each other on the upper/lower paths; OVAL is FACE_OVAL's
    set; the iris groups are each centre followed by its ring (mediapipe's 468-472, 473-477)."""
    upper_lower = [(lg.RIGHT_EYE_UPPER, lg.RIGHT_EYE_LOWER), (lg.LEFT_EYE_UPPER, lg.LEFT_EYE_LOWER)]
    for up, low in lg.EYE_PAIRS:
        assert any(up in u and low in w and u.index(up) == w.index(low) for u, w in upper_lower), (up, low)
    for up, low in lg.LIP_PAIRS:
        assert lg.LIPS_INNER_UPPER.index(up) == lg.LIPS_INNER_LOWER.index(low), (up, low)
    assert lg.OVAL == tuple(sorted(lg.FACE_OVAL)) and len(set(lg.OVAL)) == 36
    assert lg.IRIS_RIGHT == (468, 469, 470, 471, 472) and lg.IRIS_LEFT == (473, 474, 475, 476, 477)
    assert lg.IRIS == lg.IRIS_RIGHT + lg.IRIS_LEFT


def test_features_are_the_eye_brow_lip_and_nose_points():
    """FEATURES (weighted up in the face fit) = the eye and lip contours, the brow lines and
    mediapipe's nose lines; no oval, no iris point."""
    expected = set()
    for edges in (fmc.FACEMESH_RIGHT_EYE, fmc.FACEMESH_LEFT_EYE, fmc.FACEMESH_LIPS, fmc.FACEMESH_RIGHT_EYEBROW,
                  fmc.FACEMESH_LEFT_EYEBROW, fmc.FACEMESH_NOSE):
        expected |= {i for e in edges for i in e}
    assert lg.FEATURES == tuple(sorted(expected)) and len(lg.FEATURES) == 116
    assert not set(lg.FEATURES) & set(lg.IRIS)
    assert {lg.RIGHT_EYE_OUTER, lg.LEFT_EYE_OUTER, lg.MOUTH_RIGHT, lg.MOUTH_LEFT, lg.NOSE_TIP} <= set(lg.FEATURES)
