"""Full-body pose detection on synthetic renders with known landmarks, and the visibility
check on real head-and-shoulders photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from avatarforge.dev.body_synthetic import random_body_sample, render_body_sample, true_landmarks_2d
from avatarforge.errors import UserInputError
from avatarforge.perception.pose import (
    POSE_LANDMARK_NAMES,
    BodyPose,
    body_visible,
    detect_pose,
    landmark_index,
)

LIMBS = [landmark_index(n) for n in (
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")]


@pytest.fixture(scope="module")
def render(body):
    rng = np.random.default_rng(3)
    values = random_body_sample(body, rng)
    values["pose.root.y"] = 10.0  # facing the camera, so left/right are unambiguous below
    sample = render_body_sample(body, values, rng)
    return sample, true_landmarks_2d(body, sample)


@pytest.fixture(scope="module")
def render_pose(render):
    sample, _ = render
    pose = detect_pose(sample.rgb)
    assert pose is not None
    return pose


def test_landmarks_mask_and_world_frame_on_a_render(render, render_pose):
    sample, truth = render
    pose = render_pose
    height, width = sample.rgb.shape[:2]
    assert pose.image_size == (width, height)
    assert pose.points.shape == (33, 2) and pose.world.shape == (33, 3) and pose.visibility.shape == (33,)
    assert body_visible(pose) and pose.warnings == []
    # Limb landmarks land on the (calibrated) true landmarks: ~1-2 % of the body's height.
    body_px = np.ptp(sample.camera.project(sample.vertices)[:, 1])
    err = np.linalg.norm(pose.points[LIMBS] - truth[LIMBS], axis=1) / body_px
    assert np.median(err) < 0.02 and err.max() < 0.06
    # The mask is at the original size and matches the render's coverage.
    assert pose.mask.shape == (height, width) and pose.mask.dtype == np.float32
    assert 0.0 <= pose.mask.min() and pose.mask.max() <= 1.0
    m = pose.mask > 0.5
    assert (m & sample.mask).sum() / (m | sample.mask).sum() > 0.9
    # World frame: camera axes (x = image right, y down, z away from the camera), metres,
    # origin between the hips.
    w = {n: pose.world[landmark_index(n)] for n in POSE_LANDMARK_NAMES}
    assert w["left_shoulder"][0] > w["right_shoulder"][0]  # the subject's left is the image's right
    assert pose.xy("left_shoulder")[0] > pose.xy("right_shoulder")[0]
    assert w["nose"][1] < -0.4 and w["left_ankle"][1] > 0.5  # y down, metres
    assert w["nose"][2] < w["left_ear"][2] and w["nose"][2] < 0  # the face is nearer the camera
    assert np.linalg.norm((w["left_hip"] + w["right_hip"]) / 2) < 0.02


def test_crops_without_knees_are_not_full_body(render, render_pose, astronaut):
    sample, _ = render
    # The render cut just below the hips: shoulders and hips still detected, knees gone.
    hip_y = max(render_pose.xy("left_hip")[1], render_pose.xy("right_hip")[1])
    crop = np.ascontiguousarray(sample.rgb[: int(hip_y + 0.25 * (render_pose.xy("left_knee")[1] - hip_y))])
    pose = detect_pose(crop)
    assert pose is not None and not body_visible(pose)
    assert body_visible(pose, min_visibility=0.0) is False  # the knees are below the image
    assert any("knees" in w for w in pose.warnings)
    # A real head-and-shoulders photo: the person is found, the body is not all there.
    pose = detect_pose(astronaut)
    assert pose is not None and not body_visible(pose)
    assert pose.visibility[landmark_index("left_shoulder")] > 0.9


def test_large_images_are_detected_downscaled_and_mapped_back(render, render_pose):
    sample, _ = render
    k = 2.5
    big = cv2.resize(sample.rgb, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
    assert max(big.shape[:2]) > 1280  # above DETECT_MAX_SIDE: detection runs on a smaller view
    pose = detect_pose(big)
    assert pose.image_size == (big.shape[1], big.shape[0])
    assert pose.mask.shape == big.shape[:2]
    body_px = np.ptp(render_pose.points[LIMBS, 1]) * k
    err = np.linalg.norm(pose.points[LIMBS] - render_pose.points[LIMBS] * k, axis=1) / body_px
    assert err.max() < 0.02


def test_mirrored_detection_maps_back_onto_the_direct_one(render):
    sample, _ = render
    width = sample.rgb.shape[1]
    direct = detect_pose(sample.rgb, mirror_average=False)
    flipped = detect_pose(np.ascontiguousarray(sample.rgb[:, ::-1]), mirror_average=False)
    # Undo the flip by hand: x -> width - x, and left <-> right.
    partner = [POSE_LANDMARK_NAMES.index(n.replace("left", "#").replace("right", "left").replace("#", "right"))
               for n in POSE_LANDMARK_NAMES]
    back = flipped.points[partner].copy()
    back[:, 0] = width - back[:, 0]
    body_px = np.ptp(direct.points[LIMBS, 1])
    assert (np.linalg.norm(back[LIMBS] - direct.points[LIMBS], axis=1) / body_px).max() < 0.03
    # The default averages the two: it sits between them.
    both = detect_pose(sample.rgb)
    assert np.allclose(both.points, (direct.points + back) / 2, atol=1e-6)
    assert np.allclose(both.world[:, 0], (direct.world[:, 0] - flipped.world[partner, 0]) / 2, atol=1e-6)


@pytest.mark.wrong_types  # validation of untrusted input
def test_no_person_and_bad_input():
    assert detect_pose(np.full((300, 200, 3), 128, np.uint8)) is None
    with pytest.raises(UserInputError, match="uint8"):
        detect_pose(np.zeros((64, 64, 3), np.float32))


def _pose(points, visibility, size=(100, 200)) -> BodyPose:
    return BodyPose(points, np.zeros(33), visibility, np.ones(33), np.zeros((33, 3)), None, size)


def test_body_visible_needs_shoulders_hips_knees_seen_and_inside():
    points = np.tile([50.0, 100.0], (33, 1))
    vis = np.ones(33)
    assert body_visible(_pose(points, vis))
    low = vis.copy()
    low[landmark_index("right_knee")] = 0.3
    assert not body_visible(_pose(points, low))
    # Feet and face do not count.
    other = vis.copy()
    other[[landmark_index("left_ankle"), landmark_index("nose")]] = 0.0
    assert body_visible(_pose(points, other))
    outside = points.copy()
    outside[landmark_index("left_knee")] = (50.0, 200.0)  # y == height: just below the image
    assert not body_visible(_pose(outside, vis))
