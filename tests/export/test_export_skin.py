"""Influence capping and joint transforms against slow per-row references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from avatarforge.export.skin import cap_influences, inverse_bind_matrices, joint_local_trs


def _cap_reference(indices: np.ndarray, weights: np.ndarray, k: int = 4) -> list[dict[int, float]]:
    """Per row: merge duplicate joints, drop non-positive weights, keep the k largest, renormalise."""
    rows = []
    for idx, w in zip(indices.tolist(), weights.tolist()):
        merged: dict[int, float] = {}
        for j, x in zip(idx, w):
            merged[j] = merged.get(j, 0.0) + max(x, 0.0)
        kept = sorted(((x, j) for j, x in merged.items() if x > 0), reverse=True)[:k]
        if not kept:
            kept = [(1.0, idx[int(np.argmax(w))])]
        total = sum(x for x, _ in kept)
        rows.append({j: x / total for x, j in kept})
    return rows


def _as_dicts(joints: np.ndarray, weights: np.ndarray) -> list[dict[int, float]]:
    return [{int(j): float(x) for j, x in zip(jr, wr) if x != 0} for jr, wr in zip(joints, weights)]


def _assert_rows_equal(got: list[dict[int, float]], want: list[dict[int, float]]) -> None:
    for row, (g, w) in enumerate(zip(got, want)):
        assert g.keys() == w.keys(), f"row {row}: joints {sorted(g)} != {sorted(w)}"
        np.testing.assert_allclose([g[j] for j in w], list(w.values()), rtol=1e-6, atol=1e-7)


def test_cap_keeps_largest_four_renormalised() -> None:
    rng = np.random.default_rng(3)
    n_v, n_k, n_j = 500, 9, 20
    indices = np.stack([rng.choice(n_j, n_k, replace=False) for _ in range(n_v)])
    weights = rng.dirichlet(np.full(n_k, 0.7), size=n_v)
    joints, capped = cap_influences(indices, weights, n_j)
    assert joints.dtype == np.uint16 and capped.dtype == np.float32 and joints.shape == (n_v, 4)
    _assert_rows_equal(_as_dicts(joints, capped), _cap_reference(indices, weights))
    assert np.all(np.diff(capped, axis=1) <= 0), "slots are sorted by decreasing weight"


def test_cap_edge_cases() -> None:
    indices = np.array([[1, 2, 3], [4, 4, 5], [1, 2, 3], [6, 7, 8], [2, 0, 0]])
    weights = np.array(
        [
            [0.0, 0.0, 0.0],  # all zero -> weight 1 on the first joint (largest original, tie)
            [0.3, 0.3, 0.4],  # duplicate joint 4: merged to 0.6
            [0.5, -0.2, 0.7],  # negative weight ignored
            [-1.0, -0.5, -2.0],  # all negative -> weight 1 on the least negative joint (7)
            [1.0, 0.0, 0.0],  # unused slots: joint 0
        ]
    )
    joints, capped = cap_influences(indices, weights, n_joints=9)
    _assert_rows_equal(_as_dicts(joints, capped), _cap_reference(indices, weights))
    assert _as_dicts(joints, capped)[3] == {7: 1.0}
    assert np.all(joints[capped == 0] == 0), "zero-weight slots must hold joint 0"


def test_cap_float32_sum_passes_validator_rule() -> None:
    rng = np.random.default_rng(5)
    indices = np.tile(np.arange(4), (2000, 1))
    weights = rng.random((2000, 4)) ** 3
    _, capped = cap_influences(indices, weights, n_joints=4)
    total = capped[:, 0].copy()
    for col in range(1, 4):  # left-to-right float32 accumulation, as the validator does
        total += capped[:, col]
    nonzero = np.count_nonzero(capped, axis=1)
    assert np.all(np.abs(total.astype(np.float64) - 1.0) <= 2e-7 * nonzero)


def test_cap_pads_when_fewer_than_four() -> None:
    joints, capped = cap_influences(np.array([[3]]), np.array([[1.0]]), n_joints=4)
    np.testing.assert_array_equal(joints, [[3, 0, 0, 0]])
    np.testing.assert_array_equal(capped, [[1, 0, 0, 0]])


def test_cap_rejects_out_of_range_joint() -> None:
    with pytest.raises(ValueError, match="skin_indices"):
        cap_influences(np.array([[5]]), np.array([[1.0]]), n_joints=5)


def _chain_world(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    world = np.tile(np.eye(4), (n, 1, 1))
    world[:, :3, :3] = Rotation.random(n, random_state=1).as_matrix()
    world[:, :3, 3] = rng.normal(size=(n, 3))
    parents = np.array([-1, 0, 1, 1, -1, 4])[:n]
    return world, parents


def test_local_trs_recomposes_world() -> None:
    world, parents = _chain_world(6, np.random.default_rng(0))
    translation, quat = joint_local_trs(world, parents)
    np.testing.assert_allclose(np.linalg.norm(quat, axis=1), 1.0, atol=1e-12)
    rebuilt = np.zeros_like(world)
    for j, p in enumerate(parents):  # parents precede children
        local = np.eye(4)
        local[:3, :3] = Rotation.from_quat(quat[j]).as_matrix()
        local[:3, 3] = translation[j]
        rebuilt[j] = local if p < 0 else rebuilt[p] @ local
    np.testing.assert_allclose(rebuilt, world, atol=1e-10)


def test_local_trs_rejects_scale_and_bad_parent_order() -> None:
    world, parents = _chain_world(3, np.random.default_rng(0))
    scaled = world.copy()
    scaled[1, :3, :3] *= 1.1
    with pytest.raises(ValueError, match="orthonormal"):
        joint_local_trs(scaled, parents)
    with pytest.raises(ValueError, match="earlier joint"):
        joint_local_trs(world, np.array([-1, 2, 0]))


def test_inverse_bind_matrices_invert_world() -> None:
    world, _ = _chain_world(6, np.random.default_rng(2))
    ibm = inverse_bind_matrices(world)
    np.testing.assert_allclose(ibm @ world, np.tile(np.eye(4), (6, 1, 1)), atol=1e-12)
    np.testing.assert_array_equal(ibm[:, 3], np.tile([0.0, 0.0, 0.0, 1.0], (6, 1)))
