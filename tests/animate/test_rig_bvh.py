"""The posed skeleton (world-axis deltas -> world and glTF local transforms) and the BVH file,
read back by our reader and by bvhio (an independent BVH library)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from avatarforge.animate.bvh import bvh_text, read_bvh, write_bvh
from avatarforge.animate.rig import follow_parents, pose_rig, rig_from_arrays


def toy_rig():
    """root (hips, 1 m up) -> spine -> head; root -> leg -> foot; rest frames not axis-aligned."""
    names = ["root", "spine", "head", "leg", "foot"]
    parents = np.array([-1, 0, 1, 0, 3])
    pos = np.array([[0, 1.0, 0], [0, 1.3, 0.02], [0, 1.7, 0.03], [0.1, 0.9, 0], [0.12, 0.1, 0.0]])
    world = np.tile(np.eye(4), (5, 1, 1))
    world[:, :3, 3] = pos
    for j in range(5):
        world[j, :3, :3] = Rotation.from_euler("xyz", [10 * j, -7 * j, 3 * j], degrees=True).as_matrix()
    return rig_from_arrays(names, parents, world, list(range(5)))


def random_deltas(rig, f: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    driven = {j: Rotation.from_rotvec(rng.normal(0, 0.5, (f, 3))).as_matrix() for j in (0, 1, 3)}
    return follow_parents(rig, driven, f)


def test_identity_pose_is_the_rest_pose() -> None:
    rig = toy_rig()
    posed = pose_rig(rig, follow_parents(rig, {}, 2), np.zeros((2, 3)))
    np.testing.assert_allclose(posed.world, np.broadcast_to(rig.rest_world, posed.world.shape), atol=1e-12)
    local = np.linalg.inv(rig.rest_world[[0, 0, 1, 0, 3]]) @ rig.rest_world
    want = Rotation.from_matrix(local[1:, :3, :3]).as_quat()
    want *= np.sign(want[:, 3:])
    np.testing.assert_allclose(posed.local_rotation[0, 1:], want, atol=1e-12)


def test_a_delta_turns_the_subtree_rigidly_about_the_joint() -> None:
    rig = toy_rig()
    r = Rotation.from_euler("z", 90, degrees=True).as_matrix()[None]
    d = follow_parents(rig, {3: r}, 1)  # the leg swings 90 degrees about +Z at the hip
    posed = pose_rig(rig, d, np.array([[0.0, 0.5, 0.0]]))
    hip = np.array([0.1, 1.4, 0.0])  # rest hip + the root translation
    np.testing.assert_allclose(posed.world[0, 3, :3, 3], hip, atol=1e-12)
    # foot: rest offset (0.02, -0.8, 0) turned 90 deg about z -> (0.8, 0.02, 0)
    np.testing.assert_allclose(posed.world[0, 4, :3, 3], hip + [0.8, 0.02, 0.0], atol=1e-12)
    np.testing.assert_allclose(posed.world[0, 4, :3, :3], r[0] @ rig.rest_world[4, :3, :3], atol=1e-12)
    spine = rig.rest_world[1].copy()
    spine[1, 3] += 0.5  # the spine only moves with the root translation
    np.testing.assert_allclose(posed.world[0, 1], spine, atol=1e-12)
    # glTF's node product reproduces the world transforms from the local rotation + translation
    loc = np.tile(np.eye(4), (5, 1, 1))
    loc[:, :3, :3] = Rotation.from_quat(posed.local_rotation[0]).as_matrix()
    loc[:, :3, 3] = posed.local_translation[0]
    np.testing.assert_allclose(loc[0] @ loc[3] @ loc[4], posed.world[0, 4], atol=1e-12)


def test_bvh_round_trip_reproduces_the_joint_positions(tmp_path) -> None:
    rig = toy_rig()
    f = 6
    d = random_deltas(rig, f)
    t = np.random.default_rng(1).normal(0, 0.2, (f, 3))
    posed = pose_rig(rig, d, t)
    path = tmp_path / "a.bvh"
    write_bvh(path, rig, d, posed.world[:, rig.root, :3, 3], 30.0)
    text = path.read_text()
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" in text
    bvh = read_bvh(path)
    assert bvh.names == ["root", "spine", "head", "leg", "foot"]
    assert bvh.frame_time == pytest.approx(1 / 30.0)
    np.testing.assert_allclose(bvh.world_positions() / 100.0, posed.world[:, :, :3, 3], atol=1e-6)


def test_bvh_parsed_by_bvhio_gives_the_same_positions(tmp_path) -> None:
    import bvhio  # the dev extra: an independent BVH reader
    rig = toy_rig()
    f = 4
    d = random_deltas(rig, f, seed=3)
    t = np.random.default_rng(2).normal(0, 0.2, (f, 3))
    posed = pose_rig(rig, d, t)
    path = tmp_path / "b.bvh"
    path.write_text(bvh_text(rig, d, posed.world[:, rig.root, :3, 3], 25.0))
    root = bvhio.readAsHierarchy(str(path))
    joints = {j.Name: j for j, _, _ in root.layout()}
    for frame in range(f):
        root.loadPose(frame)
        for k, name in enumerate(rig.names):
            got = np.array(joints[name].PositionWorld)
            np.testing.assert_allclose(got / 100.0, posed.world[frame, k, :3, 3], atol=1e-4)
