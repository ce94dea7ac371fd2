"""The avatar's skeleton as written in its GLB, posed by world-axis rotation deltas.

A pose is one rotation per node, ``D`` (N, 3, 3): the node's rotation *relative to the export
rest pose, in world axes* (identity = rest), plus the root joint's translation. Every node
moves rigidly with its parent's delta, so the posed world transform of node j is

    rotation  D_j R_j                        (R_j its rest world rotation)
    position  p'_j = p'_p + D_p (p_j - p_p)  (p its rest world position, p its parent)

and its glTF local rotation is ``(D_p R_p)^T D_j R_j`` (its local translation stays the
rest one). A node that follows its parent (``D_j = D_p``) keeps its rest local transform.
Frame: avatarforge's (metres, +Y up, the body faces +Z), which is glTF's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jaxtyping import Float

__all__ = ["Rig", "PosedRig", "load_rig", "pose_rig", "follow_parents", "rest_keypoints"]


@dataclass
class Rig:
    """The node tree of an avatar GLB (every node, the skin's joints among them)."""

    names: list[str]
    """Node names (Anny's joint names for the joints)."""
    parents: np.ndarray
    """(N,) int64 parent node, -1 for a root (a parent may come after its child: see ``order``)."""
    rest_world: np.ndarray
    """(N, 4, 4) rest world transforms."""
    joint_nodes: list[int]
    """Node index of each skin joint (skin order)."""
    root: int
    """Node of the skeleton's root joint (``root``: the hips)."""
    order: np.ndarray
    """(N,) node indices, every parent before its children."""

    def node(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"the avatar's skeleton has no joint {name!r}") from None

    def has(self, name: str) -> bool:
        return name in self.names

    @property
    def joint_names(self) -> list[str]:
        return [self.names[i] for i in self.joint_nodes]


@dataclass
class PosedRig:
    """The skeleton in a sequence of poses."""

    world: Float[np.ndarray, "F N 4 4"]
    """Posed world transform of every node per frame."""
    local_rotation: Float[np.ndarray, "F N 4"]
    """glTF local rotation (x, y, z, w; w >= 0) of every node per frame."""
    local_translation: Float[np.ndarray, "F N 3"]
    """glTF local translation of every node per frame (the rest one except for roots)."""


def _topological(parents: np.ndarray) -> np.ndarray:
    order, seen = [], set()

    def visit(i: int) -> None:
        if i in seen:
            return
        if parents[i] >= 0:
            visit(int(parents[i]))
        seen.add(i)
        order.append(i)

    for i in range(len(parents)):
        visit(i)
    return np.asarray(order, np.int64)


def load_rig(path: str | os.PathLike) -> Rig:
    """The node tree of a GLB written by `export.write_glb` (Anny joint names)."""
    from avatarforge.export.gltf_read import read_glb, node_world_matrices

    g = read_glb(Path(path))
    from pygltflib import GLTF2

    names = [n.name or "" for n in GLTF2.load_binary(str(path)).nodes]
    world = node_world_matrices(g.node_local, g.node_parent)
    return rig_from_arrays(names, g.node_parent, world, list(g.joint_nodes))


def rig_from_arrays(names: list[str], parents: np.ndarray, world: np.ndarray, joint_nodes: list[int]) -> Rig:
    """A `Rig` from node names, parents and rest world transforms (``root`` must be a node)."""
    names = list(names)
    if "root" not in names:
        from avatarforge.errors import UserInputError

        raise UserInputError("the avatar's GLB has no 'root' joint: animate needs Anny's joint names "
                             "(export with --skeleton-names anny, the default)")
    parents = np.asarray(parents, np.int64)
    return Rig(names, parents, np.asarray(world, np.float64), list(joint_nodes), names.index("root"),
               _topological(parents))


def follow_parents(rig: Rig, driven: dict[int, np.ndarray], n_frames: int) -> np.ndarray:
    """(F, N, 3, 3) world deltas: ``driven[node]`` ((F, 3, 3)) where given, else the parent's
    delta (identity at the roots)."""
    d = np.empty((n_frames, len(rig.names), 3, 3))
    for j in rig.order:
        if j in driven:
            d[:, j] = driven[j]
        elif rig.parents[j] >= 0:
            d[:, j] = d[:, rig.parents[j]]
        else:
            d[:, j] = np.eye(3)
    return d


def pose_rig(rig: Rig, deltas: Float[np.ndarray, "F N 3 3"], root_translation: Float[np.ndarray, "F 3"]) -> PosedRig:
    """World and local transforms of every node for world deltas ``deltas`` and the root
    joint's world position offset ``root_translation`` (see the module docstring)."""
    from scipy.spatial.transform import Rotation

    f, n = deltas.shape[:2]
    rest_r = rig.rest_world[:, :3, :3]
    rest_p = rig.rest_world[:, :3, 3]
    world = np.tile(np.eye(4), (f, n, 1, 1))
    # rotation: D_j R_j (f: frame, j: node)
    world[:, :, :3, :3] = np.einsum("fjab,jbc->fjac", deltas, rest_r)
    for j in rig.order:
        p = rig.parents[j]
        if p < 0:
            world[:, j, :3, 3] = rest_p[j] + (root_translation if j == rig.root else 0.0)
        else:
            world[:, j, :3, 3] = world[:, p, :3, 3] + deltas[:, p] @ (rest_p[j] - rest_p[p])
    par = np.where(rig.parents >= 0, rig.parents, np.arange(n))
    parent_world = np.where((rig.parents >= 0)[None, :, None, None], world[:, par], np.eye(4))
    local = np.linalg.inv(parent_world) @ world
    quat = Rotation.from_matrix(local[..., :3, :3].reshape(-1, 3, 3)).as_quat().reshape(f, n, 4)
    quat *= np.where(quat[..., 3:] < 0, -1.0, 1.0)
    return PosedRig(world, quat, local[..., :3, 3].copy())


def rest_keypoints(rig: Rig) -> np.ndarray:
    """(K, 3) the avatar's rest keypoints (:data:`neural.skeleton.KEYPOINTS`)."""
    import torch

    from avatarforge.neural.skeleton import anny_keypoints

    joints = torch.as_tensor(rig.rest_world[:, :3, 3])
    return anny_keypoints(joints, rig.names).numpy()
