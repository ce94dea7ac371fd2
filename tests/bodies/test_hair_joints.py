"""Hair joints on synthetic hair: chain placement, weights along and across chains, the
kept skin outside the chains, colliders clear of the joints."""

from __future__ import annotations

import numpy as np
import pytest

from avatarforge.bodies.hair_joints import MIN_CHAIN_LENGTH, hair_colliders, hair_joints

HEAD = 3  # the head joint's index in a made-up 5-joint body
N_BODY = 5
ROOT_Y = 1.5  # the head joint's height


def _head_world() -> np.ndarray:
    w = np.eye(4)
    w[:3, 3] = (0.0, ROOT_Y, 0.0)
    return w


def _curtain(length: float, radius: float = 0.1, n_az: int = 72, n_y: int = 29) -> np.ndarray:
    """A vertical cylinder of hair around the head joint from 5 cm above it to ``length`` below."""
    az = np.radians(np.arange(n_az) * 360.0 / n_az)
    ys = np.linspace(ROOT_Y + 0.05, ROOT_Y - length, n_y)
    a, y = np.meshgrid(az, ys, indexing="ij")
    return np.stack([radius * np.sin(a), y, radius * np.cos(a)], -1).reshape(-1, 3)


def _skin(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The hair's own skin: 70 % head, 30 % neck (joint 2)."""
    return np.tile([HEAD, 2], (n, 1)), np.tile([0.7, 0.3], (n, 1))


def test_chains_hang_from_the_head_through_the_hair() -> None:
    v = _curtain(0.3)
    rig = hair_joints(v, *_skin(len(v)), _head_world(), HEAD, N_BODY)
    assert rig is not None and len(rig.chains) == 5 and len(rig.names) == 20
    pos = rig.world[:, :3, 3]
    np.testing.assert_array_equal(rig.world[:, :3, :3], np.broadcast_to(np.eye(3), (20, 3, 3)))  # world-aligned
    for chain in rig.chains:
        local = [j - N_BODY for j in chain]
        assert rig.parents[local[0]] == HEAD  # the root hangs from the head
        assert list(rig.parents[local[1:]]) == list(chain[:-1])  # each joint the parent of the next
        np.testing.assert_allclose(pos[local, 1], ROOT_Y - np.array([0.0, 0.1, 0.2, 0.3]), atol=1e-9)  # even in height
        # on the hair: at the cylinder's radius (the mean of a +-12 degree arc: cos 12 deg ~ 0.99)
        np.testing.assert_allclose(np.hypot(pos[local, 0], pos[local, 2]), 0.1, rtol=0.02)
    side_l = rig.names.index("hair_side0.L")
    back = rig.names.index("hair_back0")
    assert pos[side_l, 0] > 0.09 and pos[back, 2] < -0.09  # +X is the left, -Z the back


def test_weights_along_and_across_the_chains() -> None:
    v = _curtain(0.3)
    rig = hair_joints(v, *_skin(len(v)), _head_world(), HEAD, N_BODY)
    idx, w = rig.skin_indices, rig.skin_weights
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-12)
    dense = np.zeros((len(v), N_BODY + len(rig.names)))
    np.add.at(dense, (np.repeat(np.arange(len(v)), idx.shape[1]), idx.ravel()), w.ravel())
    az = np.degrees(np.arctan2(v[:, 0], v[:, 2]))
    back = [rig.names.index(f"hair_back{k}") + N_BODY for k in range(4)]
    back_l = [rig.names.index(f"hair_back{k}.L") + N_BODY for k in range(4)]
    on_back = np.isclose(np.abs(az), 180.0)
    # On the back chain's azimuth: the head above the root level, then linear between joints.
    at = on_back & (v[:, 1] > ROOT_Y + 1e-9)
    np.testing.assert_allclose(dense[at, HEAD], 1.0)
    for k, y in enumerate(ROOT_Y - np.array([0.0, 0.1, 0.2, 0.3])):
        row = on_back & np.isclose(v[:, 1], y, atol=1e-9)
        if k > 0:  # (at the root level the joint and the head coincide)
            np.testing.assert_allclose(dense[row, back[k]], 1.0, atol=1e-9)
    between = on_back & np.isclose(v[:, 1], ROOT_Y - 0.15)  # half way from joint 1 to joint 2
    np.testing.assert_allclose(dense[between][:, [back[1], back[2]]], 0.5, atol=1e-9)
    # Half way between the back and back-left chains (157.5 degrees): half each.
    mid = np.isclose(az, 155.0) & np.isclose(v[:, 1], ROOT_Y - 0.2, atol=1e-9)
    share = 1 - 25.0 / 45.0  # 155 is 25 degrees from the 180 chain, 20 from the 135 chain
    np.testing.assert_allclose(dense[mid, back[2]], share, atol=1e-9)
    np.testing.assert_allclose(dense[mid, back_l[2]], 1 - share, atol=1e-9)
    # The face side (beyond one spacing from the side chains) keeps the hair's own skin.
    front = np.abs(az) < 40.0
    np.testing.assert_allclose(dense[front, HEAD], 0.7)
    np.testing.assert_allclose(dense[front, 2], 0.3)


def test_skinning_is_continuous_at_the_root_level() -> None:
    """Turning a chain's root joint moves nothing at the root level and more further down."""
    v = _curtain(0.3)
    rig = hair_joints(v, *_skin(len(v)), _head_world(), HEAD, N_BODY)
    world = np.concatenate([np.tile(np.eye(4), (N_BODY, 1, 1)), rig.world])
    world[HEAD, :3, 3] = (0.0, ROOT_Y, 0.0)
    root = rig.chains[2][0]  # the back chain
    turn = np.eye(4)
    c, s = np.cos(0.3), np.sin(0.3)
    turn[:3, :3] = [[1, 0, 0], [0, c, -s], [0, s, c]]
    moved = world.copy()
    pivot = world[root, :3, 3]
    for j in rig.chains[2]:  # the root and its descendants turn about the root
        moved[j, :3, :3] = turn[:3, :3] @ world[j, :3, :3]
        moved[j, :3, 3] = pivot + turn[:3, :3] @ (world[j, :3, 3] - pivot)
    skin = moved @ np.linalg.inv(world)
    m = np.einsum("vk,vkab->vab", rig.skin_weights, skin[rig.skin_indices])  # blended per-vertex matrix
    out = np.einsum("vab,vb->va", m[:, :3, :3], v) + m[:, :3, 3]
    shift = np.linalg.norm(out - v, axis=1)
    assert shift[v[:, 1] >= ROOT_Y - 1e-12].max() < 1e-9  # the head's part and the root level
    just_below = np.isclose(v[:, 1], ROOT_Y - 0.0125)
    assert 0 < shift[just_below].max() < 0.0125 * 0.3 * 1.05  # grows from 0 with the distance
    tip = v[:, 1] < ROOT_Y - 0.29
    back = np.abs(np.degrees(np.arctan2(v[:, 0], v[:, 2]))) > 175
    assert shift[tip & back].min() > 0.25 * 0.3 * 0.9  # ~ length x angle


@pytest.mark.parametrize("length", [0.0, MIN_CHAIN_LENGTH - 0.01])
def test_short_hair_gets_no_joints(length) -> None:
    v = _curtain(length)
    assert hair_joints(v, *_skin(len(v)), _head_world(), HEAD, N_BODY) is None
    assert hair_joints(np.zeros((0, 3)), np.zeros((0, 2), np.int64), np.zeros((0, 2)), _head_world(), HEAD, N_BODY) is None


def test_colliders_leave_the_joints_outside() -> None:
    rng = np.random.default_rng(0)
    names = ["root", "spine01", "neck01", "head", "upperarm01.L", "upperarm01.R"]
    world = np.tile(np.eye(4), (6, 1, 1))
    world[:, :3, 3] = [(0, 1.0, 0), (0, 1.3, 0), (0, 1.38, 0), (0, ROOT_Y, 0), (0.17, 1.3, 0), (-0.17, 1.3, 0)]
    skull = rng.normal(size=(500, 3))
    skull = (0.0, ROOT_Y + 0.05, 0.0) + 0.09 * skull / np.linalg.norm(skull, axis=1, keepdims=True)
    neck = np.stack([0.05 * np.sin(t := rng.uniform(0, 6.3, 200)), rng.uniform(1.38, ROOT_Y, 200), 0.05 * np.cos(t)], 1)
    shoulders = np.stack([rng.uniform(-0.17, 0.17, 300), 1.3 + 0.06 * np.sin(t2 := rng.uniform(0, 6.3, 300)),
                          0.06 * np.cos(t2)], 1)
    body = np.concatenate([skull, neck, shoulders])
    dom = np.repeat([3, 2, 1], [500, 200, 300])
    hair = np.tile(np.eye(4), (3, 1, 1))
    hair[:, :3, 3] = [(0.0, 1.40, -0.11), (0.0, 1.33, -0.075), (0.12, 1.36, 0.0)]  # the last one is on a shoulder
    got = hair_colliders(body, dom, names, world, hair, hit_radius=0.015)
    assert [names[c.joint] for c in got] == ["head", "neck01", "spine01"]
    head, neck_c, shoulder = got
    assert head.tail is None and neck_c.tail is not None and shoulder.tail is not None
    np.testing.assert_allclose(head.centre, (0.0, ROOT_Y + 0.05, 0.0), atol=0.01)  # the skull points lie above the joint
    assert 0.08 < head.radius <= 0.09 + 1e-9
    np.testing.assert_allclose(neck_c.radius, 0.05, atol=0.005)
    # The shoulder capsule (body radius 6 cm) shrinks so the shoulder hair joint stays outside.
    d = np.linalg.norm(hair[2, :3, 3] - (0.12, 1.3, 0.0))
    np.testing.assert_allclose(shoulder.radius, d - 0.015 - 0.002, atol=1e-9)
