"""Portrait intake: RGBA kept, photos matted and framed by the face, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from avatarforge.errors import UserInputError
from avatarforge.portrait.input import EYE_ROW, load_portrait, prepare_portrait


def test_rgba_without_a_face_is_padded_to_a_square_and_resized():
    rgba = np.zeros((40, 20, 4), np.uint8)
    rgba[10:30, 5:15] = (200, 50, 25, 255)
    p = prepare_portrait(rgba, 64)
    assert p.rgba.shape == (64, 64, 4) and not p.matted and not p.framed_by_face
    assert "no face detected" in p.notes[0]
    a = p.rgba[..., 3]
    # The opaque block (rows 10-30 of 40, columns 5-15 of 20, centred in a 40x40 square) lands at
    # rows 16-48 and columns 24-40 of 64.
    assert a[32, 32] == 255 and a[5, 32] == 0 and a[32, 10] == 0
    assert np.array_equal(np.nonzero(a[32] > 128)[0][[0, -1]], [24, 39])
    assert tuple(p.rgba[32, 32, :3]) == (200, 50, 25)


def test_opaque_input_without_matting_is_refused():
    with pytest.raises(UserInputError, match="no transparent background"):
        prepare_portrait(np.full((32, 32, 4), 255, np.uint8), 32, matte=False)


def test_photo_is_matted_and_framed_by_its_face(tmp_path):
    from skimage import data

    path = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(path)
    p = load_portrait(path, 128)
    assert p.matted and p.framed_by_face and p.rgba.shape == (128, 128, 4)
    a = p.rgba[..., 3]
    assert a[int(EYE_ROW * 128), 64] > 200  # the face is opaque
    assert (a < 16).mean() > 0.1  # the background is gone


def test_missing_and_non_image_files_are_clear_errors(tmp_path):
    with pytest.raises(UserInputError):
        load_portrait(tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_text("hello")
    with pytest.raises(UserInputError):
        load_portrait(bad)
