"""Parsing a full-body photo from its pose alone (no face landmarks)."""

from __future__ import annotations

import numpy as np
import pytest

from avatarforge.errors import UserInputError
from avatarforge.perception.body_parsing import TIGHT_LABELS, parse_body_photo, skin_rule
from avatarforge.perception.parsing import LABELS
from avatarforge.perception.pose import landmark_index


def test_skin_rule_accepts_skin_tones_and_rejects_clothing_colours():
    skin = np.array([[232, 190, 160], [198, 134, 96], [141, 85, 36], [95, 60, 40], [255, 219, 172]], np.uint8)
    other = np.array([[40, 160, 60], [30, 60, 140], [128, 128, 128], [20, 20, 20], [250, 250, 250], [0, 200, 220]],
                     np.uint8)
    assert skin_rule(skin).all() and not skin_rule(other).any()


def test_parse_body_photo_on_a_synthetic_render(body):
    from avatarforge.dev.body_synthetic import random_body_sample, render_body_sample
    from avatarforge.perception.pose import detect_pose

    rng = np.random.default_rng(5)
    sample = render_body_sample(body, random_body_sample(body, rng, yaw_deg=15.0), rng)
    pose = detect_pose(sample.rgb)
    p = parse_body_photo(sample.rgb, pose)
    assert p.labels.shape == sample.rgb.shape[:2] and p.accessories.glasses is False

    def label_near(name: str, frac_a: str, frac_b: str | None = None, t: float = 0.5) -> str:
        a = pose.xy(frac_a)
        b = a if frac_b is None else pose.xy(frac_b)
        x, y = np.round((1 - t) * a + t * b).astype(int)
        window = p.labels[y - 2: y + 3, x - 2: x + 3].ravel()
        return LABELS[np.bincount(window, minlength=len(LABELS)).argmax()]

    # The render's clothes: a top over the torso, trousers over the legs; skin elsewhere.
    assert label_near("torso", "left_shoulder", "right_hip") == "upper_clothing"
    assert label_near("thigh", "left_hip", "left_knee", 0.5) == "lower_clothing"
    assert label_near("face", "nose") == "face_skin"
    assert label_near("forearm", "left_wrist", "left_elbow", 0.3) in ("body_skin", "hands")
    tight = p.mask(*TIGHT_LABELS)
    assert tight[~(p.person > 0.5)].sum() < 0.02 * tight.sum()  # (labels are worked out at 640 px)
    assert p.mask("background")[0, 0]


@pytest.mark.wrong_types  # a grey image: the validation itself is tested
def test_parse_body_photo_bad_inputs():
    from avatarforge.perception.pose import BodyPose

    pose = BodyPose(np.zeros((33, 2)), np.zeros(33), np.ones(33), np.ones(33), np.zeros((33, 3)), None, (8, 8))
    with pytest.raises(UserInputError, match="uint8"):
        parse_body_photo(np.zeros((8, 8), np.uint8), pose)
    with pytest.raises(UserInputError, match="person mask"):
        parse_body_photo(np.zeros((8, 8, 3), np.uint8), pose)
    assert landmark_index("nose") == 0
