"""Every face of a group photo, and no phantom: find_faces on composites of a real photo, the
crop-based landmarking where the face-mesh graph fails, the order, the yaw estimate, errors."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from avatarforge.errors import UserInputError
from avatarforge.perception import face as face_mod
from avatarforge.perception.face import face_landmarks, face_size, find_faces, yaw_from_points

WIDTHS = (150, 130, 115, 100, 90, 70)
"""Face widths (detection-box px) pasted into the group image; 70 px is below the 80 px rule."""
SPOTS = ((0, 20), (400, 20), (760, 20), (100, 480), (500, 480), (1080, 20))
"""Top-left corners of the pasted head crops (x, y)."""


@pytest.fixture(scope="module")
def reference(astronaut):
    return face_landmarks(astronaut)


@pytest.fixture(scope="module")
def group(astronaut, reference):
    """A 1280 x 886 'group photo': the astronaut's head cut out and pasted six times at the
    sizes of :data:`WIDTHS` on a textured background; returns the image and, per paste, the
    expected face box and the scale/offset that maps the reference landmarks there."""
    rng = np.random.default_rng(3)
    background = cv2.resize(rng.integers(60, 200, (28, 40, 3), dtype=np.uint8), (1280, 886), interpolation=cv2.INTER_CUBIC)
    canvas = cv2.GaussianBlur(background, (0, 0), 3)
    head = astronaut[10:300, 110:350]  # the head with some hair and neck
    ref_box = reference.box
    expected = []
    for width, (x, y) in zip(WIDTHS, SPOTS):
        s = width / ref_box.width
        patch = cv2.resize(head, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        canvas[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
        offset = np.array([x - 110 * s, y - 10 * s])
        expected.append((s, offset))
    return canvas, expected


def test_group_every_face_no_phantom_largest_first(group, reference):
    image, expected = group
    faces = find_faces(image)
    assert len(faces) == len(WIDTHS)  # all found, nothing else
    assert [f.index for f in faces] == list(range(len(WIDTHS)))
    # Largest first: the pasted sizes in decreasing order, each where it was pasted.
    for face, (s, offset) in zip(faces, expected):
        truth = reference.xy * s + offset
        err = np.linalg.norm(face.points[:, :2] - truth, axis=1) / s  # in the reference's pixels
        assert np.median(err) < 2.0, (face.index, np.median(err))
        assert abs(face.box.width / (reference.box.width * s) - 1) < 0.2  # the detector's box
    sizes = [face_size(f.points) for f in faces]
    assert sizes == sorted(sizes, reverse=True)
    # Stable: the same order and points on another run.
    again = find_faces(image)
    assert [(f.box.x0, f.box.y0, f.box.x1, f.box.y1) for f in again] == [
        (f.box.x0, f.box.y0, f.box.x1, f.box.y1) for f in faces]
    assert all(np.array_equal(a.points, b.points) for a, b in zip(again, faces))
    # face_landmarks follows the same order; the 80 px rule warns on the 70 px face only.
    small = face_landmarks(image, face_index=5)
    assert small.n_faces_found == 6 and np.allclose(small.points, faces[5].points)
    assert len(small.warnings) == 1 and re.search(r"only 7\d px wide \(< 80\)", small.warnings[0])
    assert face_landmarks(image, face_index=4).warnings == []


def test_crop_landmarks_where_the_face_mesh_graph_fails(astronaut, reference):
    """Blurred, the face is still detected but the face-mesh graph (its own detector inside)
    gives nothing on the crop nor on the whole image; the landmark model on the rotated crop
    from the detector's box still places the mesh."""
    blurred = cv2.GaussianBlur(astronaut, (0, 0), 7)
    box = face_mod.detect_faces(blurred)[0]
    assert face_mod.mesh_on_crop(blurred, box) is None and face_mod.mesh_on_whole_image(blurred, box) is None
    lm = face_landmarks(blurred)
    err = np.linalg.norm(lm.xy - reference.xy, axis=1)
    assert np.median(err) < 0.12 * reference.box.width


def test_rolled_face_uses_the_eye_line(astronaut, reference):
    """A face rolled by 50 degrees: the crop is rotated by the eye keypoints' angle, and the
    points come back through the inverse affine onto the rotated reference."""
    m = cv2.getRotationMatrix2D((256.0, 256.0), 50, 1.0)  # about the image centre (pixel-centre coords)
    rolled = cv2.warpAffine(astronaut, m, (512, 512))
    lm = face_landmarks(rolled)
    # cv2's matrix is for pixel indices; continuous coordinates shift by half a pixel.
    truth = (reference.xy - 0.5) @ m[:, :2].T + m[:, 2] + 0.5
    assert np.median(np.linalg.norm(lm.xy - truth, axis=1)) < 2.0


def test_face_size_ignores_the_turn(reference):
    """The order's size measure does not change when the 3D points turn, and scales with
    the image."""
    p = reference.points - reference.points.mean(0)
    a = np.radians(40.0)
    turned = np.column_stack([p[:, 0] * np.cos(a) - p[:, 2] * np.sin(a), p[:, 1],
                              p[:, 0] * np.sin(a) + p[:, 2] * np.cos(a)])
    assert face_size(turned) == pytest.approx(face_size(p), rel=1e-9)
    assert face_size(2 * p) == pytest.approx(2 * face_size(p), rel=1e-9)


def test_yaw_of_rotated_points(astronaut, reference):
    """Turning the 3D landmarks about the vertical axis by a known angle changes the estimate
    by that angle; the mirrored photo's face has the opposite yaw."""
    p = reference.points - reference.points.mean(0)
    base = yaw_from_points(p)
    for angle in (-40.0, -20.0, 25.0, 45.0):
        a = np.radians(angle)
        x, z = p[:, 0] * np.cos(a) - p[:, 2] * np.sin(a), p[:, 0] * np.sin(a) + p[:, 2] * np.cos(a)
        turned = np.column_stack([x, p[:, 1], z])
        assert yaw_from_points(turned) == pytest.approx(base + angle, abs=0.5)
    mirrored = find_faces(np.ascontiguousarray(astronaut[:, ::-1]))[0]
    assert mirrored.yaw_deg == pytest.approx(-base, abs=2.0)


def test_face_the_landmark_model_rejects_gives_a_reason(astronaut, reference, monkeypatch):
    """When a confident detection gets no mesh, the error says where and why."""
    monkeypatch.setattr(face_mod, "_mesh_for_box", lambda rgb, box: None)
    with pytest.raises(UserInputError, match=r"a face was found in the image \(at \(\d+, \d+\), 9\d px wide\) but "
                                             r"could not be landmarked"):
        face_landmarks(astronaut)
    s = 12 / reference.box.width
    tiny = cv2.resize(astronaut, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    with pytest.raises(UserInputError, match=r"is too small for the landmark model \(< 20 px\)"):
        face_landmarks(tiny)
    assert find_faces(astronaut) == []
