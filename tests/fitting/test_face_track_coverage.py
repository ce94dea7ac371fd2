import numpy as np
import pytest

from avatarforge.errors import UserInputError
from avatarforge.fitting.face_track import MIN_FACE_FRACTION, require_face_frames


def test_a_quarter_of_the_frames_with_a_face_is_enough():
    found = np.zeros(100, bool)
    found[:25] = True
    require_face_frames(found, "clip.mp4")  # exactly the share needed
    assert MIN_FACE_FRACTION == 0.25


@pytest.mark.parametrize("n_found", [0, 7, 24])
def test_sporadic_detections_are_refused_with_the_counts(n_found):
    found = np.zeros(95 if n_found == 7 else 100, bool)
    found[:n_found] = True
    with pytest.raises(UserInputError) as err:
        require_face_frames(found, "/some/dir/no_face.mp4")
    msg = str(err.value)
    assert msg.startswith("no face found in no_face.mp4: a face in only ")
    assert f"only {n_found} of {len(found)} frames (at least 25% needed)" in msg and "\n" not in msg
