"""Skin data in the form glTF wants: 4 influences per vertex, local joint TRS, bind matrices."""

from __future__ import annotations

import numpy as np
from jaxtyping import Float, Int, UInt16
from scipy.spatial.transform import Rotation

__all__ = ["cap_influences", "local_joint_transforms", "joint_local_trs", "inverse_bind_matrices"]

#: Largest |R^T R - I| entry accepted for a joint rotation (joint_world must hold no scale).
ORTHONORMAL_TOLERANCE = 1e-3


def _float32_row_sum(w: np.ndarray) -> np.ndarray:
    """Sum each row left to right in float32, as the Khronos validator does."""
    total = w[:, 0].copy()
    for col in range(1, w.shape[1]):
        total += w[:, col]
    return total


def cap_influences(
    indices: Int[np.ndarray, "V K"],
    weights: Float[np.ndarray, "V K"],
    n_joints: int,
    k: int = 4,
) -> tuple[UInt16[np.ndarray, "V k"], Float[np.ndarray, "V k"]]:
    """Keep the ``k`` largest influences per vertex and renormalise them to sum to 1.

    Duplicate joints in a row are merged (weights summed) first; negative or non-finite
    weights count as 0. A row whose kept weights are all 0 gets weight 1 on the joint with
    the largest original weight. Unused slots hold joint 0 with weight 0 (the validator
    warns about a non-zero joint with zero weight). Slots are sorted by decreasing weight.

    Returns ``(joints, weights)``: (V, k) uint16 joint indices and (V, k) float32 weights
    whose left-to-right float32 sum is 1 to within one ulp (the validator's check).
    """
    idx = np.asarray(indices, dtype=np.int64)
    raw = np.asarray(weights, dtype=np.float64)
    n_v, n_k = idx.shape
    if n_k == 0:
        raise ValueError("skin_indices/skin_weights need at least one influence per vertex")
    if idx.size and (idx.min() < 0 or idx.max() >= n_joints):
        raise ValueError(f"skin_indices must be in [0, {n_joints}), got [{idx.min()}, {idx.max()}]")
    if n_joints > 65535:
        raise ValueError(f"glTF JOINTS_0 as unsigned short holds < 65536 joints, got {n_joints}")
    w = np.where(np.isfinite(raw) & (raw > 0), raw, 0.0)

    # Merge duplicate joints: sort each row by joint, give each run of equal joints one slot.
    order = np.argsort(idx, axis=1, kind="stable")
    s_idx = np.take_along_axis(idx, order, axis=1)
    s_w = np.take_along_axis(w, order, axis=1)
    new_run = np.ones_like(s_idx, dtype=bool)
    new_run[:, 1:] = s_idx[:, 1:] != s_idx[:, :-1]
    slot = (np.arange(n_v)[:, None] * n_k + np.cumsum(new_run, axis=1) - 1).reshape(-1)
    m_w = np.bincount(slot, s_w.reshape(-1), minlength=n_v * n_k).reshape(n_v, n_k)
    m_j = np.zeros(n_v * n_k, dtype=np.int64)
    m_j[slot] = s_idx.reshape(-1)
    m_j = m_j.reshape(n_v, n_k)

    top = np.argsort(-m_w, axis=1, kind="stable")[:, :k]
    out_w = np.zeros((n_v, k))
    out_j = np.zeros((n_v, k), dtype=np.int64)
    out_w[:, : top.shape[1]] = np.take_along_axis(m_w, top, axis=1)
    out_j[:, : top.shape[1]] = np.take_along_axis(m_j, top, axis=1)

    total = out_w.sum(axis=1)
    empty = total <= 0
    if empty.any():
        best = idx[np.arange(n_v), np.argmax(np.nan_to_num(raw, nan=-np.inf), axis=1)]
        out_w[empty] = 0.0
        out_j[empty] = 0
        out_w[empty, 0] = 1.0
        out_j[empty, 0] = best[empty]
        total[empty] = 1.0
    out_w /= total[:, None]
    out_j[out_w == 0] = 0

    w32 = out_w.astype(np.float32)
    for _ in range(3):  # put the float32 rounding residue on the largest weight (slot 0)
        w32[:, 0] += np.float32(1.0) - _float32_row_sum(w32)
    return out_j.astype(np.uint16), w32


def local_joint_transforms(
    joint_world: Float[np.ndarray, "J 4 4"], parents: Int[np.ndarray, " J"]
) -> Float[np.ndarray, "J 4 4"]:
    """Local transform of each joint: ``inv(parent_world) @ world`` (``world`` for a root)."""
    world = np.asarray(joint_world, dtype=np.float64)
    par = np.asarray(parents, dtype=np.int64)
    if np.any(par >= np.arange(len(par))) or np.any(par < -1):
        raise ValueError("joint_parents must be -1 (root) or the index of an earlier joint")
    rot = world[:, :3, :3]
    err = np.abs(np.einsum("jki,jkl->jil", rot, rot) - np.eye(3)).max(initial=0.0)  # R^T R - I
    if err > ORTHONORMAL_TOLERANCE:
        raise ValueError(
            f"joint_world rotations must be orthonormal (no scale/shear); max |R^T R - I| = {err:.3g}"
        )
    parent_world = np.where((par >= 0)[:, None, None], world[np.maximum(par, 0)], np.eye(4))
    return np.linalg.inv(parent_world) @ world


def joint_local_trs(
    joint_world: Float[np.ndarray, "J 4 4"], parents: Int[np.ndarray, " J"]
) -> tuple[Float[np.ndarray, "J 3"], Float[np.ndarray, "J 4"]]:
    """glTF node TRS of each joint: (J, 3) translations and (J, 4) unit quaternions (x, y, z, w).

    The rotation is the nearest rotation to the local 3x3 block (scipy's ``from_matrix``),
    with w >= 0 for a canonical sign.
    """
    local = local_joint_transforms(joint_world, parents)
    quat = Rotation.from_matrix(local[:, :3, :3]).as_quat()  # (J, 4) x, y, z, w
    quat *= np.where(quat[:, 3:] < 0, -1.0, 1.0)
    quat /= np.linalg.norm(quat, axis=1, keepdims=True)
    return local[:, :3, 3].copy(), quat


def inverse_bind_matrices(joint_world: Float[np.ndarray, "J 4 4"]) -> Float[np.ndarray, "J 4 4"]:
    """(J, 4, 4) float64 inverse of each joint's world transform, last row exactly (0, 0, 0, 1)."""
    ibm = np.linalg.inv(np.asarray(joint_world, dtype=np.float64))
    ibm[:, 3, :] = (0.0, 0.0, 0.0, 1.0)
    return ibm
