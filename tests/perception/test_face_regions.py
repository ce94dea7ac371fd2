"""The region index lists: derived from mediapipe's connection sets, ordered as documented,
and -- on real photos -- where their names say (the subject's left is the image's right)."""

from __future__ import annotations

import numpy as np
import pytest
from mediapipe.python.solutions import face_mesh_connections as fmc

from avatarforge.perception import face_regions as fr

CLOSED = {
    "RIGHT_EYE": (fr.RIGHT_EYE, fmc.FACEMESH_RIGHT_EYE, 16),
    "LEFT_EYE": (fr.LEFT_EYE, fmc.FACEMESH_LEFT_EYE, 16),
    "LIPS_OUTER": (fr.LIPS_OUTER, fmc.FACEMESH_LIPS, 20),
    "LIPS_INNER": (fr.LIPS_INNER, fmc.FACEMESH_LIPS, 20),
    "FACE_OVAL": (fr.FACE_OVAL, fmc.FACEMESH_FACE_OVAL, 36),
    "RIGHT_IRIS": (fr.RIGHT_IRIS, fmc.FACEMESH_RIGHT_IRIS, 4),
    "LEFT_IRIS": (fr.LEFT_IRIS, fmc.FACEMESH_LEFT_IRIS, 4),
}
PATHS = {
    "RIGHT_EYE": (fr.RIGHT_EYE_UPPER, fr.RIGHT_EYE_LOWER, fmc.FACEMESH_RIGHT_EYE),
    "LEFT_EYE": (fr.LEFT_EYE_UPPER, fr.LEFT_EYE_LOWER, fmc.FACEMESH_LEFT_EYE),
    "LIPS_OUTER": (fr.LIPS_OUTER_UPPER, fr.LIPS_OUTER_LOWER, fmc.FACEMESH_LIPS),
    "LIPS_INNER": (fr.LIPS_INNER_UPPER, fr.LIPS_INNER_LOWER, fmc.FACEMESH_LIPS),
}
BROWS = {
    "RIGHT": (fr.RIGHT_EYEBROW_UPPER, fr.RIGHT_EYEBROW_LOWER, fmc.FACEMESH_RIGHT_EYEBROW, fr.RIGHT_EYE),
    "LEFT": (fr.LEFT_EYEBROW_UPPER, fr.LEFT_EYEBROW_LOWER, fmc.FACEMESH_LEFT_EYEBROW, fr.LEFT_EYE),
}


def _is_edge(a: int, b: int, edges) -> bool:
    return (a, b) in edges or (b, a) in edges


@pytest.mark.parametrize("name", CLOSED)
def test_closed_contours_follow_mediapipe_edges(name):
    ring, edges, length = CLOSED[name]
    assert len(ring) == len(set(ring)) == length
    assert all(_is_edge(ring[i], ring[(i + 1) % length], edges) for i in range(length))
    assert all(0 <= i < fr.N_LANDMARKS for i in ring)


@pytest.mark.parametrize("name", PATHS)
def test_upper_and_lower_paths_split_the_contour(name):
    upper, lower, edges = PATHS[name]
    ring = CLOSED[name][0]
    assert len(upper) == len(lower) and upper[0] == lower[0] == ring[0] and upper[-1] == lower[-1]
    assert set(upper) | set(lower) == set(ring) and len(set(upper) & set(lower)) == 2
    assert all(_is_edge(a, b, edges) for path in (upper, lower) for a, b in zip(path, path[1:]))
    assert ring[: len(upper)] == upper  # the contour runs along the upper side first


def test_anchor_ids_and_iris_centres():
    assert fr.RIGHT_IRIS_CENTER == 468 and fr.LEFT_IRIS_CENTER == 473  # mediapipe's documented ids
    assert fr.FACE_OVAL[0] == fr.FOREHEAD_TOP and fr.CHIN in fr.FACE_OVAL and fr.NOSE_TIP in fr.NOSE
    assert fr.LIPS_OUTER[0] == fr.MOUTH_RIGHT and fr.LIPS_OUTER_UPPER[-1] == fr.MOUTH_LEFT


def _centroid(lm, ids) -> np.ndarray:
    return lm.xy[list(ids)].mean(axis=0)


def test_subjects_left_is_on_the_image_right(photo_landmarks):
    """Both photos are unmirrored (Grace Hopper's name tag reads normally and her ribbons,
    worn on the left breast, are on the image's right), so the subject's left is image right."""
    lm = photo_landmarks
    for left, right in [(fr.LEFT_EYE, fr.RIGHT_EYE), (fr.LEFT_EYEBROW_UPPER, fr.RIGHT_EYEBROW_UPPER),
                        ([fr.LEFT_IRIS_CENTER], [fr.RIGHT_IRIS_CENTER]), ([fr.MOUTH_LEFT], [fr.MOUTH_RIGHT]),
                        ([fr.LEFT_EYE_OUTER], [fr.RIGHT_EYE_OUTER])]:
        assert _centroid(lm, left)[0] > _centroid(lm, right)[0]
    # The face detector (an independent model) labels its eye keypoints the same way.
    kp_right, kp_left = lm.box.keypoints[0], lm.box.keypoints[1]
    dist = lambda a, b: np.linalg.norm(a - b)  # noqa: E731
    assert dist(kp_left, lm.xy[fr.LEFT_IRIS_CENTER]) < dist(kp_left, lm.xy[fr.RIGHT_IRIS_CENTER])
    assert kp_right[0] < kp_left[0]


def test_orderings_on_a_real_face(photo_landmarks):
    lm = photo_landmarks
    y = lambda ids: _centroid(lm, ids)[1]  # noqa: E731 - image y grows downward
    for upper, lower, _ in PATHS.values():
        assert y(upper[1:-1]) < y(lower[1:-1])
    for upper, lower, _, eye in BROWS.values():
        assert y(upper) < y(lower) < y(eye)
        nose_x = lm.xy[fr.NOSE_TIP, 0]
        assert abs(lm.xy[upper[0], 0] - nose_x) < abs(lm.xy[upper[-1], 0] - nose_x)  # inner end first
    # Eye contours start at the outer corner: farther from the nose than the inner corner.
    for outer, inner in [(fr.RIGHT_EYE_OUTER, fr.RIGHT_EYE_INNER), (fr.LEFT_EYE_OUTER, fr.LEFT_EYE_INNER)]:
        nose = lm.xy[fr.NOSE_TIP]
        assert np.linalg.norm(lm.xy[outer] - nose) > np.linalg.norm(lm.xy[inner] - nose)
    # The oval starts at the top and turns clockwise on screen (toward the image's right).
    oval = lm.xy[fr.FACE_OVAL]
    assert oval[0, 1] == pytest.approx(oval[:, 1].min(), abs=0.05 * np.ptp(oval[:, 1]))
    assert oval[1, 0] > oval[0, 0]
    x, yy = oval[:, 0], oval[:, 1]
    signed_area = 0.5 * np.sum(x * np.roll(yy, -1) - np.roll(x, -1) * yy)
    assert signed_area > 0  # > 0 is clockwise when y points down
    # The inner lip ring lies inside the outer one.
    assert np.ptp(lm.xy[fr.LIPS_INNER, 0]) < np.ptp(lm.xy[fr.LIPS_OUTER, 0])
