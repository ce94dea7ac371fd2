"""Inverse kinematics against the body model's own forward kinematics: keypoints of Anny in
known poses, solved back onto the avatar's rest skeleton, land on the same keypoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avatarforge.animate.ik import SWING_LIMITS_DEG, solve_body_ik, swing, swing_twist
from avatarforge.animate.rig import pose_rig, rest_keypoints, rig_from_arrays
from avatarforge.neural.skeleton import BONES, KEYPOINTS, anny_keypoints

POSES = [
    {},
    {"pose.upperarm01.L.z": 40.0, "pose.lowerarm01.L.y": -60.0, "pose.upperleg01.R.x": -45.0,
     "pose.lowerleg01.R.x": 70.0},
    {"pose.root.y": 35.0, "pose.spine03.y": 15.0, "pose.upperarm01.R.x": -60.0, "pose.lowerarm01.R.y": 50.0,
     "pose.upperleg01.L.x": -80.0, "pose.lowerleg01.L.x": 90.0, "pose.neck01.x": 20.0},
    {"pose.root.x": 20.0, "pose.spine01.z": 10.0, "pose.upperarm01.L.x": -90.0, "pose.upperleg01.L.z": -25.0,
     "pose.foot.R.x": 25.0},
]


@pytest.fixture(scope="module")
def avatar_rig(body):
    from avatarforge.avatar import build_avatar

    avatar = build_avatar({}, pose="a", body=body)
    mesh = avatar.rigged_mesh()
    rig = rig_from_arrays(mesh.joint_names, mesh.joint_parents, mesh.joint_world, list(range(len(mesh.joint_names))))
    return avatar, rig


def _truth(avatar, pose: dict) -> np.ndarray:
    out = avatar.body.forward_params({**avatar.values, **pose})
    return anny_keypoints(out.joints, list(out.joint_names))[0].double().numpy()


def test_swing_is_the_smallest_rotation_and_respects_its_limit() -> None:
    a = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    b = np.array([[0, 1.0, 0], [0, -1.0, 0], [1.0, 0, 1.0]])
    r, clamped = swing(a, b)
    np.testing.assert_allclose(np.einsum("fab,fb->fa", r, a), b / np.linalg.norm(b, axis=1, keepdims=True),
                               atol=1e-12)
    assert not clamped.any()
    r, clamped = swing(a[:1], b[:1], limit_deg=30.0)
    got = r[0] @ a[0]
    assert clamped[0] and np.degrees(np.arccos(got @ a[0])) == pytest.approx(30.0)
    # the axis is perpendicular to both: no twist about a
    _, twist = swing_twist(r, a[:1])
    assert abs(twist[0]) < 1e-9


def test_swing_twist_recovers_a_twist() -> None:
    from scipy.spatial.transform import Rotation

    axis = np.array([[0.0, 1.0, 0.0]])
    twist = Rotation.from_euler("y", 40, degrees=True)
    sw = Rotation.from_euler("x", 25, degrees=True)
    s, angle = swing_twist((sw * twist).as_matrix()[None], axis)
    assert np.degrees(angle[0]) == pytest.approx(40.0)
    np.testing.assert_allclose(s[0], sw.as_matrix(), atol=1e-12)


@pytest.mark.parametrize("pose", POSES)
def test_ik_lands_on_the_body_models_keypoints(avatar_rig, pose) -> None:
    avatar, rig = avatar_rig
    rest = rest_keypoints(rig)
    truth = _truth(avatar, pose)
    np.testing.assert_allclose(_truth(avatar, {}), rest, atol=2e-5)  # the rig is the avatar's export pose
    ik = solve_body_ik(rig, rest, truth[None])
    posed = pose_rig(rig, ik.deltas, np.zeros((1, 3)))
    got = anny_keypoints(torch.as_tensor(posed.world[:, :, :3, 3]), rig.names)[0].numpy()
    pel = KEYPOINTS.index("pelvis")
    err = np.linalg.norm((got - got[pel]) - (truth - truth[pel]), axis=1)
    # hands, toes and the head sit off their bone's axis: their error is the unrecoverable twist
    body = [KEYPOINTS.index(k) for k in KEYPOINTS if not k.startswith(("hand", "toe", "head"))]
    # where along the spine a bend happens is not in the keypoints (the solver spreads it evenly):
    # a sideways spine bend moves the shoulders by ~2 cm
    assert err[body].mean() < 0.02, dict(zip(KEYPOINTS, np.round(err, 3)))
    assert err.max() < 0.06, dict(zip(KEYPOINTS, np.round(err, 3)))
    dirs = lambda p: np.stack([p[b] - p[a] for a, b in BONES])  # noqa: E731
    g, t = dirs(got), dirs(truth)
    cos = np.einsum("bi,bi->b", g, t) / np.linalg.norm(g, axis=1) / np.linalg.norm(t, axis=1)
    angles = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    assert np.median(angles) < 1.0 and angles.mean() < 4.0, np.round(angles, 1)
    assert ik.clamped[0] == 0


def test_joint_limits_hold_for_an_impossible_knee(avatar_rig) -> None:
    avatar, rig = avatar_rig
    rest = rest_keypoints(rig)
    kp = rest.copy()
    knee, ankle = KEYPOINTS.index("knee.L"), KEYPOINTS.index("ankle.L")
    kp[ankle] = kp[knee] + (kp[knee] - kp[ankle]) * np.array([1.0, 1.0, 1.0])  # the shin folded straight back up
    kp[ankle, 2] += 0.01
    ik = solve_body_ik(rig, rest, kp[None])
    d = ik.deltas[0]
    thigh = d[rig.node("upperleg01.L")]
    shin = d[rig.node("lowerleg01.L")]
    rel = shin @ thigh.T
    bend = np.degrees(np.arccos(np.clip((np.trace(rel) - 1) / 2, -1, 1)))
    assert bend == pytest.approx(SWING_LIMITS_DEG["lowerleg01.L"], abs=0.5)
    assert ik.clamped[0] >= 1
