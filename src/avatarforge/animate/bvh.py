"""BVH (Biovision Hierarchy) motion files: write the avatar's skeleton motion, read one back.

Written files: every skin joint of the avatar, named as in its GLB (Anny's names); OFFSETs
are the rest pose's bone vectors in **centimetres** (avatarforge's axes: +Y up, the body faces
+Z), every joint's rest orientation is the identity (world axes), the root has
``Xposition Yposition Zposition`` (its world position, centimetres) and every joint
``Zrotation Xrotation Yrotation`` in degrees: its local rotation is ``Rz Rx Ry`` (intrinsic
Z, then X, then Y, the order the CHANNELS line lists). Leaves end in an ``End Site`` 1 cm
further along their bone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from jaxtyping import Float
from scipy.spatial.transform import Rotation

from avatarforge.animate.rig import Rig
from avatarforge.util.atomic import atomic_write_bytes

__all__ = ["BvhMotion", "bvh_text", "write_bvh", "read_bvh", "BVH_UNITS_PER_METRE", "BVH_ROTATION_ORDER"]

BVH_UNITS_PER_METRE = 100.0
"""Centimetres."""
BVH_ROTATION_ORDER = "ZXY"


@dataclass
class BvhMotion:
    """A parsed BVH file (joints in file order)."""

    names: list[str]
    parents: np.ndarray
    """(J,) int64, -1 for the root."""
    offsets: np.ndarray
    """(J, 3) file units."""
    channels: list[list[str]]
    frame_time: float
    values: np.ndarray
    """(F, C) every channel of every frame, file order."""

    def world_positions(self) -> np.ndarray:
        """(F, J, 3) joint positions in file units, by forward kinematics."""
        f, j = len(self.values), len(self.names)
        pos = np.zeros((f, j, 3))
        rot = np.zeros((f, j, 3, 3))
        col = 0
        for k in range(j):
            local_t = np.broadcast_to(self.offsets[k], (f, 3)).copy()
            angles, order = [], ""
            for ch in self.channels[k]:
                v = self.values[:, col]
                col += 1
                if ch.endswith("position"):
                    local_t[:, "XYZ".index(ch[0])] += v
                else:
                    angles.append(v)
                    order += ch[0]
            local_r = (Rotation.from_euler(order, np.stack(angles, 1), degrees=True).as_matrix() if order
                       else np.broadcast_to(np.eye(3), (f, 3, 3)))
            p = self.parents[k]
            if p < 0:
                pos[:, k], rot[:, k] = local_t, local_r
            else:
                pos[:, k] = pos[:, p] + np.einsum("fab,fb->fa", rot[:, p], local_t)
                rot[:, k] = rot[:, p] @ local_r
        return pos


def _joint_tree(rig: Rig) -> tuple[list[int], np.ndarray]:
    """Skin joints in depth-first order and each one's parent (index into that list)."""
    joints = set(rig.joint_nodes)
    children: dict[int, list[int]] = {j: [] for j in joints}
    roots = []
    for j in rig.joint_nodes:
        p = int(rig.parents[j])
        while p >= 0 and p not in joints:
            p = int(rig.parents[p])
        (children[p] if p >= 0 else roots).append(j)
    if roots != [rig.root]:
        raise ValueError(f"the skeleton must have one root joint ('root'), found {len(roots)} roots")
    order, parents = [], []

    def visit(j: int, parent: int) -> None:
        order.append(j)
        parents.append(parent)
        me = len(order) - 1
        for c in children[j]:
            visit(c, me)

    visit(rig.root, -1)
    return order, np.asarray(parents, np.int64)


def bvh_text(rig: Rig, deltas: Float[np.ndarray, "F N 3 3"], root_position: Float[np.ndarray, "F 3"],
             fps: float) -> str:
    """The BVH file of a motion of ``rig``: world-axis deltas per node (see :mod:`.rig`) and
    the root joint's world position per frame (metres)."""
    order, parents = _joint_tree(rig)
    u = BVH_UNITS_PER_METRE
    rest = rig.rest_world[:, :3, 3]
    lines = ["HIERARCHY"]
    depth = {-1: -1}
    child_count = np.bincount(parents[parents >= 0], minlength=len(order))

    def close(to_depth: int, stack: list[int]) -> None:
        while stack and stack[-1] >= to_depth:
            lines.append("  " * stack.pop() + "}")

    stack: list[int] = []
    for k, j in enumerate(order):
        p = parents[k]
        d = depth[p] + 1
        depth[k] = d
        close(d, stack)
        ind = "  " * d
        name = rig.names[j]
        if p < 0:
            lines += [f"ROOT {name}", "{", "  OFFSET 0.000000 0.000000 0.000000",
                      "  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"]
        else:
            off = (rest[j] - rest[order[p]]) * u
            lines += [f"{ind}JOINT {name}", ind + "{", f"{ind}  OFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}",
                      f"{ind}  CHANNELS 3 Zrotation Xrotation Yrotation"]
        stack.append(d)
        if child_count[k] == 0:
            bone = rest[j] - rest[order[p]] if p >= 0 else np.array([0.0, 0.01, 0.0])
            end = bone / max(np.linalg.norm(bone), 1e-9) * 1.0  # 1 cm further along the bone
            lines += [f"{ind}  End Site", ind + "  {", f"{ind}    OFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}",
                      ind + "  }"]
    close(0, stack)
    f = len(deltas)
    cols = [root_position * u]
    for k, j in enumerate(order):
        p = parents[k]
        local = deltas[:, j] if p < 0 else deltas[:, order[p]].transpose(0, 2, 1) @ deltas[:, j]
        cols.append(Rotation.from_matrix(local).as_euler(BVH_ROTATION_ORDER, degrees=True))
    values = np.concatenate(cols, 1)
    lines += ["MOTION", f"Frames: {f}", f"Frame Time: {1.0 / fps:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in values]
    return "\n".join(lines) + "\n"


def write_bvh(path: str | os.PathLike, rig: Rig, deltas: np.ndarray, root_position: np.ndarray, fps: float):
    """Write :func:`bvh_text` to ``path`` atomically."""
    return atomic_write_bytes(path, bvh_text(rig, deltas, root_position, fps).encode("ascii"))


def read_bvh(path: str | os.PathLike) -> BvhMotion:
    """Parse a BVH file (the standard format; any channel order)."""
    tokens = open(path, encoding="ascii").read().split()
    names, parents, offsets, channels = [], [], [], []
    stack: list[int] = []
    i = tokens.index("HIERARCHY") + 1
    pending_end = False
    while tokens[i] != "MOTION":
        t = tokens[i]
        if t in ("ROOT", "JOINT"):
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            offsets.append(None)
            channels.append([])
            i += 2
        elif t == "End":
            pending_end, i = True, i + 2
        elif t == "{":
            stack.append(-2 if pending_end else len(names) - 1)
            pending_end, i = False, i + 1
        elif t == "}":
            stack.pop()
            i += 1
        elif t == "OFFSET":
            if stack[-1] >= 0:
                offsets[stack[-1]] = [float(x) for x in tokens[i + 1 : i + 4]]
            i += 4
        elif t == "CHANNELS":
            n = int(tokens[i + 1])
            channels[stack[-1]] = tokens[i + 2 : i + 2 + n]
            i += 2 + n
        else:
            raise ValueError(f"{path}: unexpected token {t!r} in the hierarchy")
    n_frames = int(tokens[i + 2])
    frame_time = float(tokens[i + 5])
    data = np.asarray(tokens[i + 6 :], np.float64)
    n_ch = sum(len(c) for c in channels)
    if data.size != n_frames * n_ch:
        raise ValueError(f"{path}: {data.size} motion values for {n_frames} frames x {n_ch} channels")
    return BvhMotion(names, np.asarray(parents, np.int64), np.asarray(offsets, np.float64), channels, frame_time,
                     data.reshape(n_frames, n_ch))
