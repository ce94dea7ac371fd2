import json

import numpy as np
import pytest

from avatarforge.errors import UserInputError
from avatarforge.neural.motion import MOTION_PRESETS, Motion, load_motion, motion_preset, save_motion
from avatarforge.neural.skeleton import KEYPOINTS, anny_keypoints


def test_presets_give_keypoints_of_the_body(body):
    m = load_motion("walk", n_frames=4)
    assert m.joints.shape == (4, len(KEYPOINTS), 3)
    # Frame 0 of walk is close to the rest pose: same keypoints as the body at rest, up to the
    # elbow bend of the preset.
    rest = anny_keypoints(body.forward_params({}).joints, body.joint_names)[0].numpy()
    assert np.abs(m.joints[0, KEYPOINTS.index("head")] - rest[KEYPOINTS.index("head")]).max() < 1e-4
    for name in MOTION_PRESETS:
        assert len(motion_preset(name, 3)) == 3
    with pytest.raises(UserInputError, match="unknown motion preset"):
        motion_preset("moonwalk")


def test_motion_json_round_trip_and_poses_form(tmp_path, body):
    m = Motion(np.random.default_rng(0).normal(size=(3, len(KEYPOINTS), 3)), fps=12.5)
    save_motion(tmp_path / "m.json", m)
    back = load_motion(tmp_path / "m.json")
    np.testing.assert_allclose(back.joints, m.joints, atol=1e-5)
    assert back.fps == 12.5
    doc = {"format": "avatarforge-motion", "version": 1, "poses": [{}, {"pose.upperarm01.L.z": 40.0}]}
    (tmp_path / "p.json").write_text(json.dumps(doc))
    p = load_motion(tmp_path / "p.json")
    wrist = KEYPOINTS.index("wrist.L")
    assert p.joints[1, wrist, 1] > p.joints[0, wrist, 1] + 0.1  # the left arm was raised


@pytest.mark.parametrize("doc,needle", [
    ({"format": "x", "version": 1, "joints": []}, "not a motion file"),
    ({"format": "avatarforge-motion", "version": 1}, "exactly one"),
    ({"format": "avatarforge-motion", "version": 1, "joints": [[[0, 0, 0]]]}, "shape"),
    ({"format": "avatarforge-motion", "version": 1, "poses": [{"age": 1}]}, "only pose"),
    ({"format": "avatarforge-motion", "version": 1, "fps": 0, "poses": [{}]}, "fps"),
])
def test_bad_motion_files(tmp_path, doc, needle, body):
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(UserInputError, match=needle):
        load_motion(tmp_path / "bad.json")


def test_missing_motion_is_a_user_error(tmp_path):
    with pytest.raises(UserInputError, match="no such file"):
        load_motion(tmp_path / "nope.json")
    (tmp_path / "t.json").write_text("{")
    with pytest.raises(UserInputError, match="not a JSON"):
        load_motion(tmp_path / "t.json")
