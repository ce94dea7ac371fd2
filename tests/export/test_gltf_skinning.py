"""Skinning the exported GLB (its own node tree, IBMs, JOINTS_0/WEIGHTS_0) vs numpy LBS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from avatarforge.export import GlbContents, RiggedMesh, read_glb, write_glb
from avatarforge.export.gltf_read import node_world_matrices


def _homogeneous(points: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(points, np.float64), np.ones((len(points), 1))], axis=1)


def _lbs(points: np.ndarray, skin_mats: np.ndarray, joints: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """sum_k weights[v, k] * skin_mats[joints[v, k]] @ points[v]."""
    per_influence = np.einsum("vkab,vb->vka", skin_mats[joints], _homogeneous(points))  # a,b: 4x4 row, col
    return np.einsum("vk,vka->va", weights, per_influence)[:, :3]


def _glb_skinned(glb: GlbContents, rotate: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """Pose the GLB the way a viewer does: local' = local @ R on the given joints (by joint index)."""
    local = glb.node_local.copy()
    for joint, rot in (rotate or {}).items():
        r = np.eye(4)
        r[:3, :3] = rot
        local[glb.joint_nodes[joint]] = local[glb.joint_nodes[joint]] @ r
    world = node_world_matrices(local, glb.node_parent)
    mesh_world_inv = np.linalg.inv(world[glb.mesh_node])  # identity: the mesh node is a bare root
    skin_mats = mesh_world_inv @ world[glb.joint_nodes] @ glb.inverse_bind_matrices
    return _lbs(glb.positions, skin_mats, glb.joints, glb.weights.astype(np.float64))


def _reference_skinned(mesh: RiggedMesh, rotate: dict[int, np.ndarray]) -> np.ndarray:
    """numpy LBS straight from the RiggedMesh (its own weights, no capping)."""
    world = mesh.joint_world.astype(np.float64)
    posed = np.empty_like(world)
    for j, p in enumerate(mesh.joint_parents):
        local = world[j] if p < 0 else np.linalg.inv(world[p]) @ world[j]
        if j in rotate:
            r = np.eye(4)
            r[:3, :3] = rotate[j]
            local = local @ r
        posed[j] = local if p < 0 else posed[p] @ local
    return _lbs(mesh.vertices, posed @ np.linalg.inv(world), mesh.skin_indices, mesh.skin_weights)


@pytest.mark.parametrize(
    "kwargs",
    [dict(), dict(n_joints=10, k=9, twisted=True, extra_roots=2)],
    ids=["two_bone", "k9_twisted_multiroot"],
)
def test_bind_pose_skinning_is_identity(bar_factory, kwargs: dict, tmp_path: Path) -> None:
    write_glb(bar_factory(**kwargs), tmp_path / "bar.glb")
    glb = read_glb(tmp_path / "bar.glb")
    np.testing.assert_allclose(_glb_skinned(glb), glb.positions, atol=1e-5)


def test_posed_two_bone_bar_bends_about_the_knee(bar_factory, tmp_path: Path) -> None:
    mesh = bar_factory()  # joint 1 at y = 1, identity bind rotations
    info = write_glb(mesh, tmp_path / "bar.glb")
    glb = read_glb(tmp_path / "bar.glb")
    rz = Rotation.from_euler("z", 90, degrees=True).as_matrix()
    posed = _glb_skinned(glb, {1: rz})

    src = info.split_to_source
    reference = _reference_skinned(mesh, {1: rz})[src]
    np.testing.assert_allclose(posed, reference, atol=1e-5)

    knee = np.array([0.0, 1.0, 0.0])
    w1 = mesh.skin_weights[src, 1]
    upper, lower = w1 == 1.0, w1 == 0.0
    assert upper.sum() > 10 and lower.sum() > 10
    np.testing.assert_allclose(posed[upper], (glb.positions[upper] - knee) @ rz.T + knee, atol=1e-5)
    np.testing.assert_allclose(posed[lower], glb.positions[lower], atol=1e-6)
    top = glb.positions[:, 1] > 1.99
    assert np.all(posed[top, 0] < -0.9), "the top of the bar swings to -x (a +90 deg turn about z)"


def test_posed_twisted_chain_matches_numpy_lbs(bar_factory, tmp_path: Path) -> None:
    mesh = bar_factory(n_joints=6, k=2, twisted=True)  # <= 4 influences: no capping
    info = write_glb(mesh, tmp_path / "bar.glb")
    glb = read_glb(tmp_path / "bar.glb")
    rotate = {
        3: Rotation.from_rotvec([0.4, 0.2, -0.3]).as_matrix(),
        1: Rotation.from_rotvec([0.0, 0.5, 0.1]).as_matrix(),
    }
    posed = _glb_skinned(glb, rotate)
    reference = _reference_skinned(mesh, rotate)[info.split_to_source]
    assert np.abs(posed - glb.positions).max() > 0.05, "the pose must move the mesh"
    np.testing.assert_allclose(posed, reference, atol=1e-5)
