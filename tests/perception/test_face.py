"""Face detection and landmarks on real photos: placement, several faces, no face, tiny and
huge images, model reuse across threads, quiet logs."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from avatarforge.errors import UserInputError
from avatarforge.perception import LoadedImage, detect_faces, face_landmarks, landmark_groups as fr


def _inside(contour: np.ndarray, point: np.ndarray) -> bool:
    return cv2.pointPolygonTest(contour.astype(np.float32), tuple(map(float, point)), False) > 0


def test_landmarks_on_real_photos(photo, photo_landmarks):
    lm = photo_landmarks
    height, width = photo.shape[:2]
    assert lm.points.shape == (478, 3) and np.isfinite(lm.points).all()
    assert lm.image_size == (width, height) and lm.n_faces_found == 1 and lm.warnings == []
    xy = lm.xy
    # Each iris centre lies inside its own eye contour ...
    assert _inside(xy[fr.LEFT_EYE], xy[fr.LEFT_IRIS_CENTER])
    assert _inside(xy[fr.RIGHT_EYE], xy[fr.RIGHT_IRIS_CENTER])
    assert not _inside(xy[fr.LEFT_EYE], xy[fr.RIGHT_IRIS_CENTER])
    # ... and agrees with the (independent) face detector's eye keypoints.
    interocular = np.linalg.norm(xy[fr.LEFT_IRIS_CENTER] - xy[fr.RIGHT_IRIS_CENTER])
    assert interocular > 30
    kps = lm.box.keypoints
    assert np.linalg.norm(xy[fr.RIGHT_IRIS_CENTER] - kps[0]) < 0.2 * interocular
    assert np.linalg.norm(xy[fr.LEFT_IRIS_CENTER] - kps[1]) < 0.2 * interocular
    # The nose tip is between the eyes horizontally and below them.
    assert xy[fr.RIGHT_IRIS_CENTER, 0] < xy[fr.NOSE_TIP, 0] < xy[fr.LEFT_IRIS_CENTER, 0]
    assert xy[fr.NOSE_TIP, 1] > max(xy[fr.LEFT_IRIS_CENTER, 1], xy[fr.RIGHT_IRIS_CENTER, 1])
    # The nose tip is closer to the camera than the ears' side of the face oval.
    assert lm.points[fr.NOSE_TIP, 2] < lm.points[fr.FACE_OVAL, 2].mean()
    # Most landmarks fall inside the detection box grown by half its size.
    box = lm.box
    grown = (box.x0 - box.width / 2, box.y0 - box.height / 2, box.x1 + box.width / 2, box.y1 + box.height / 2)
    inside = (xy[:, 0] > grown[0]) & (xy[:, 0] < grown[2]) & (xy[:, 1] > grown[1]) & (xy[:, 1] < grown[3])
    assert inside.all()


def test_loaded_image_input_names_the_file(tmp_path, astronaut):
    wall = np.full((200, 300, 3), 90, np.uint8)
    flat = LoadedImage(rgb=wall, path=tmp_path / "wall.png", original_size=(300, 200), exif_rotated=False)
    with pytest.raises(UserInputError, match=r"no face found in .*wall\.png: use a photo"):
        face_landmarks(flat)
    ok = LoadedImage(rgb=astronaut, path=tmp_path / "a.png", original_size=(512, 512), exif_rotated=False)
    assert face_landmarks(ok).n_faces_found == 1


@pytest.mark.parametrize("kind", ["coffee", "flat", "noise"])
def test_no_face(kind):
    from skimage import data

    image = {
        "coffee": data.coffee(),
        "flat": np.full((480, 640, 3), (30, 140, 200), np.uint8),
        "noise": np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8),
    }[kind]
    assert detect_faces(image) == []
    with pytest.raises(UserInputError, match="no face found in the image: use a photo where the face is"):
        face_landmarks(image)


@pytest.fixture(scope="module")
def two_faces(grace, astronaut):
    """Grace (face ~195 px wide) on the left, the astronaut (face ~95 px) on the right."""
    canvas = np.full((600, 512 + 40 + 512, 3), 255, np.uint8)
    canvas[:600, :512] = grace
    canvas[44:556, 552:] = astronaut
    return canvas


def test_several_faces_largest_first(two_faces, grace, astronaut):
    boxes = detect_faces(two_faces)
    assert len(boxes) == 2 and boxes[0].area > boxes[1].area
    assert boxes[0].center[0] < 512 < boxes[1].center[0]

    largest = face_landmarks(two_faces)
    assert largest.n_faces_found == 2 and largest.face_index == 0
    assert largest.warnings == [
        "2 faces found in the image, using the largest; pick another with --face-index "
        "(`avatarforge faces PHOTO` lists them)"
    ]
    alone = face_landmarks(grace)
    assert np.median(np.linalg.norm(largest.xy - alone.xy, axis=1)) < 1.5

    other = face_landmarks(two_faces, face_index=1)
    assert other.face_index == 1 and other.warnings == []
    alone = face_landmarks(astronaut)
    assert np.median(np.linalg.norm(other.xy - (alone.xy + [552, 44]), axis=1)) < 1.5


@pytest.mark.parametrize("index", [2, -1])
def test_face_index_out_of_range(two_faces, index):
    expected = rf"face index {index} is out of range: 2 faces were found .* use 0 to 1"
    with pytest.raises(UserInputError, match=expected):
        face_landmarks(two_faces, face_index=index)


def test_tiny_face_warns_and_tries(astronaut):
    reference = face_landmarks(astronaut)
    scale = 40 / reference.box.width  # the face becomes ~40 px wide
    small = cv2.resize(astronaut, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    lm = face_landmarks(small)
    assert len(lm.warnings) == 1 and "px wide (< 80)" in lm.warnings[0]
    # Best effort is still in the right place: within ~1.5 px of the original, at this scale.
    err = np.linalg.norm(lm.xy / scale - reference.xy, axis=1) * scale
    assert np.median(err) < 1.5


def test_big_image_matches_scaled_original(grace):
    reference = face_landmarks(grace)
    factor = 4000 / 600
    big = cv2.resize(grace, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    assert max(big.shape) >= 4000
    lm = face_landmarks(big)
    assert lm.image_size == (big.shape[1], big.shape[0]) and lm.warnings == []
    err = np.linalg.norm(lm.xy - reference.xy * factor, axis=1) / factor  # in original px
    assert np.median(err) < 1.0 and np.percentile(err, 95) < 2.5
    irises = [fr.LEFT_IRIS_CENTER, fr.RIGHT_IRIS_CENTER]
    assert np.all(err[irises] < 1.5)


def test_pixel_centre_convention(photo, photo_landmarks):
    """x = normalised x * width, with pixel j spanning [j, j + 1): upscaling the photo k times
    (OpenCV aligns pixel centres, (j + 0.5) k) scales the points by exactly k. Were the points
    pixel indices (centre at j), they would shift by (k - 1) / 2 = 1.5 px on average."""
    k = 4
    big = cv2.resize(photo, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
    offset = (face_landmarks(big).xy - k * photo_landmarks.xy).mean(axis=0)
    assert np.all(np.abs(offset) < 0.8)


def test_landmarks_follow_an_offcentre_face(astronaut):
    """A face in a corner of a large canvas, where the mesh's own detector cannot see it."""
    reference = face_landmarks(astronaut)
    canvas = np.full((1500, 2000, 3), 128, np.uint8)
    canvas[900:1412, 1400:1912] = astronaut
    lm = face_landmarks(canvas)
    assert np.median(np.linalg.norm(lm.xy - (reference.xy + [1400, 900]), axis=1)) < 1.5


def test_face_at_the_image_edge(astronaut):
    """The crop around a face by the top-left corner reaches outside the image (negative
    offsets); the points still land where they are in the uncut photo."""
    reference = face_landmarks(astronaut)
    cut = np.ascontiguousarray(astronaut[60:, 150:])
    lm = face_landmarks(cut)
    assert lm.box.x0 < 40 and lm.box.y0 < 40
    assert np.median(np.linalg.norm(lm.xy - (reference.xy - [150, 60]), axis=1)) < 1.5


def test_whole_image_fallback_agrees_with_the_crop(photo, photo_landmarks):
    from avatarforge.perception.face import mesh_on_whole_image

    whole = mesh_on_whole_image(photo, photo_landmarks.box)  # the face is at ~half the crop's scale
    assert whole is not None
    delta = whole[:, :2] - photo_landmarks.xy
    assert np.median(np.linalg.norm(delta, axis=1)) < 2.5 and np.all(np.abs(delta.mean(axis=0)) < 1.2)


@pytest.mark.wrong_types  # validation of untrusted input
def test_bad_array_is_rejected():
    with pytest.raises(UserInputError, match=r"expected an \(H, W, 3\) uint8 RGB image"):
        face_landmarks(np.zeros((10, 10), np.float32))


def test_models_are_reused_and_thread_safe(two_faces, grace):
    from avatarforge.perception import loaded_models

    serial = [face_landmarks(two_faces, face_index=i).points for i in (0, 1)] + [face_landmarks(grace).points]
    models = loaded_models()
    jobs = [(two_faces, 0), (two_faces, 1), (grace, None)] * 3
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda job: face_landmarks(job[0], face_index=job[1]).points, jobs))
    for k, points in enumerate(results):
        np.testing.assert_allclose(points, serial[k % 3], atol=1e-4)
    assert loaded_models() == models  # no new instances were created


def test_timing_one_megapixel(astronaut, capsys):
    image = cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    face_landmarks(image)  # models warm
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        face_landmarks(image)
        runs.append(time.perf_counter() - start)
    with capsys.disabled():
        print(f"\nface_landmarks on 1024x1024: median {1000 * np.median(runs):.0f} ms over {len(runs)} runs")
    assert np.median(runs) < 2.0  # generous: ~30 ms on a 2-core CPU


def test_mediapipe_native_logs_are_quiet():
    code = (
        "import numpy as np, skimage.data as d; from avatarforge.perception import face_landmarks;"
        "face_landmarks(d.astronaut()); face_landmarks(np.ascontiguousarray(d.astronaut()[:, ::-1]))"
    )
    import os
    from pathlib import Path

    import avatarforge

    src = str(Path(avatarforge.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    env.pop("AVATARFORGE_MEDIAPIPE_LOGS", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == ""


def test_native_logs_are_replayed_on_failure(capfd):
    import os

    from avatarforge.perception import native_stderr_captured

    with native_stderr_captured():
        os.write(2, b"native chatter\n")
    assert "native chatter" not in capfd.readouterr().err
    with pytest.raises(RuntimeError), native_stderr_captured():
        os.write(2, b"native error detail\n")
        raise RuntimeError("boom")
    assert "native error detail" in capfd.readouterr().err
