"""Body inverse kinematics: tracked 3D keypoints -> rotations of the avatar's skeleton.

Bone-direction matching on the avatar's rest skeleton, from the hips outwards; every rotation
is a world-axis delta relative to the export rest pose (see :mod:`.rig`), so the motion is
retargeted relative to the avatar's own rest pose and bone lengths (only directions are
taken from the video):

* **hips** (``root``): the full rotation taking the rest frame (left hip -> right hip axis,
  pelvis -> neck axis) onto the tracked one;
* **chest**: the same from the shoulders; its rotation relative to the hips is split into
  swing and twist about the spine, each clamped (``SPINE_SWING_DEG``, ``SPINE_TWIST_DEG``),
  and spread over the five spine joints (``spine05`` .. ``spine01``) in equal steps;
* **limbs and neck**: the smallest rotation (swing) taking the bone's rest direction, as
  carried by the parent, onto the tracked direction, clamped to a cone (``SWING_LIMITS_DEG``:
  elbows/knees at most 150 degrees of bend, wrists 70, ankles 50, neck 50). Limbs inherit
  their parent's twist.

Keypoints are :data:`neural.skeleton.KEYPOINTS` in avatarforge's world (+Y up, facing +Z).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from jaxtyping import Float
from scipy.spatial.transform import Rotation

from avatarforge.animate.rig import Rig, follow_parents
from avatarforge.neural.skeleton import KEYPOINTS

__all__ = ["BodyPoseSequence", "solve_body_ik", "swing", "swing_twist", "frame_from_axes", "SWING_LIMITS_DEG",
           "SPINE_SWING_DEG", "SPINE_TWIST_DEG", "SPINE_JOINTS", "NECK_JOINTS", "solve_head_only"]

K = {name: i for i, name in enumerate(KEYPOINTS)}

SPINE_JOINTS = ("spine05", "spine04", "spine03", "spine02", "spine01")
"""The spine joints sharing the chest's rotation relative to the hips (hips to chest)."""
NECK_JOINTS = ("neck01", "neck02", "neck03")
"""The neck joints sharing the head's swing (the head joint takes the whole of it)."""
SPINE_SWING_DEG = 70.0
SPINE_TWIST_DEG = 50.0

#: joint -> (from keypoint, to keypoint, cone limit in degrees), per side; in solving order.
_LIMBS = (
    ("upperarm01.{s}", "shoulder.{s}", "elbow.{s}", 175.0),
    ("lowerarm01.{s}", "elbow.{s}", "wrist.{s}", 150.0),
    ("wrist.{s}", "wrist.{s}", "hand.{s}", 70.0),
    ("upperleg01.{s}", "hip.{s}", "knee.{s}", 130.0),
    ("lowerleg01.{s}", "knee.{s}", "ankle.{s}", 150.0),
    ("foot.{s}", "ankle.{s}", "toe.{s}", 50.0),
)
SWING_LIMITS_DEG = {j.format(s=s): lim for j, _, _, lim in _LIMBS for s in "LR"} | {"neck": 50.0}
"""Largest swing (degrees) of each limb joint relative to its parent-carried rest direction."""


@dataclass
class BodyPoseSequence:
    """Per-frame skeleton rotations found by :func:`solve_body_ik`."""

    deltas: Float[np.ndarray, "F N 3 3"]
    """World-axis rotation of every node relative to the rest pose (see :mod:`.rig`)."""
    driven: list[int]
    """The nodes the solver set (the others follow their parent)."""
    clamped: Float[np.ndarray, " F"]
    """Per frame, how many joints hit a limit."""


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def swing(a: Float[np.ndarray, "F 3"], b: Float[np.ndarray, "F 3"],
          limit_deg: float = 180.0) -> tuple[Float[np.ndarray, "F 3 3"], np.ndarray]:
    """The smallest rotation taking direction ``a`` towards ``b``, by at most ``limit_deg``
    (antiparallel: about any axis perpendicular to ``a``). Returns (rotations, (F,) clamped)."""
    a, b = _unit(np.asarray(a, np.float64)), _unit(np.asarray(b, np.float64))
    axis = np.cross(a, b)
    s = np.linalg.norm(axis, axis=-1)
    angle = np.arctan2(s, np.einsum("fi,fi->f", a, b))
    degenerate = s < 1e-9
    if degenerate.any():  # a perpendicular axis: a x (x or y, whichever is less parallel)
        other = np.where(np.abs(a[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        axis = np.where(degenerate[:, None], np.cross(a, other), axis)
    limit = math.radians(limit_deg)
    clamped = angle > limit + 1e-9
    rotvec = _unit(axis) * np.minimum(angle, limit)[:, None]
    return Rotation.from_rotvec(rotvec).as_matrix(), clamped


def swing_twist(r: Float[np.ndarray, "F 3 3"], axis: Float[np.ndarray, "F 3"]) -> tuple[np.ndarray, np.ndarray]:
    """Split rotations into ``swing @ twist`` with ``twist`` about ``axis`` (unit, world).
    Returns (swing (F, 3, 3), twist angle (F,) radians)."""
    q = Rotation.from_matrix(r).as_quat()  # x, y, z, w
    axis = _unit(axis)
    proj = np.einsum("fi,fi->f", q[:, :3], axis)[:, None] * axis
    twist_q = np.concatenate([proj, q[:, 3:]], 1)
    norm = np.linalg.norm(twist_q, axis=1, keepdims=True)
    twist_q = np.where(norm > 1e-9, twist_q / np.maximum(norm, 1e-12), [[0.0, 0.0, 0.0, 1.0]])
    twist = Rotation.from_quat(twist_q)
    swing_r = Rotation.from_matrix(r) * twist.inv()
    angle = twist.magnitude() * np.sign(np.einsum("fi,fi->f", twist.as_rotvec(), axis) + 1e-300)
    return swing_r.as_matrix(), angle


def frame_from_axes(x: Float[np.ndarray, "F 3"], y: Float[np.ndarray, "F 3"]) -> Float[np.ndarray, "F 3 3"]:
    """Orthonormal frames (columns x, y, z) with y along ``y`` and x as close to ``x`` as possible."""
    y = _unit(y)
    x = _unit(x - np.einsum("fi,fi->f", x, y)[:, None] * y)
    return np.stack([x, y, np.cross(x, y)], -1)


def _fraction(r: np.ndarray, t: float) -> np.ndarray:
    """r^t (the same axis, t times the angle)."""
    return Rotation.from_rotvec(Rotation.from_matrix(r).as_rotvec() * t).as_matrix()


def _limit_angle(rotvec: np.ndarray, limit_deg: float) -> tuple[np.ndarray, np.ndarray]:
    angle = np.linalg.norm(rotvec, axis=-1)
    limit = math.radians(limit_deg)
    scale = np.where(angle > limit, limit / np.maximum(angle, 1e-12), 1.0)
    return rotvec * scale[:, None], angle > limit + 1e-9


def solve_body_ik(rig: Rig, rest_kp: Float[np.ndarray, "K 3"], kp: Float[np.ndarray, "F K 3"],
                  head: Float[np.ndarray, "F 3 3"] | None = None) -> BodyPoseSequence:
    """Joint rotations that point the avatar's bones along the tracked keypoints ``kp``
    (``rest_kp``: the avatar's own keypoints at rest, :func:`.rig.rest_keypoints`).

    ``head``: the head's world rotation per frame from the face tracker (then the neck takes
    half of it relative to the chest and the head all of it); without it the head follows the
    neck's swing towards the tracked head keypoint.
    """
    f = len(kp)
    clamped = np.zeros(f)
    driven: dict[int, np.ndarray] = {}

    def rest(name: str) -> np.ndarray:
        return np.broadcast_to(rest_kp[K[name]], (f, 3))

    def cur(name: str) -> np.ndarray:
        return kp[:, K[name]]

    def rel(a: str, b: str, src) -> np.ndarray:
        return src(b) - src(a)

    # Hips and chest: whole frames from two axes each.
    hips0 = frame_from_axes(rel("hip.R", "hip.L", rest), rel("pelvis", "neck", rest))
    hips = frame_from_axes(rel("hip.R", "hip.L", cur), rel("pelvis", "neck", cur))
    d_root = hips @ hips0.transpose(0, 2, 1)
    chest0 = frame_from_axes(rel("shoulder.R", "shoulder.L", rest), rel("pelvis", "neck", rest))
    chest = frame_from_axes(rel("shoulder.R", "shoulder.L", cur), rel("pelvis", "neck", cur))
    spine_rel = chest @ chest0.transpose(0, 2, 1) @ d_root.transpose(0, 2, 1)  # chest relative to the hips
    spine_axis = np.einsum("fab,fb->fa", d_root, _unit(rel("pelvis", "neck", rest)))
    sw, tw = swing_twist(spine_rel, spine_axis)
    sw_vec, c1 = _limit_angle(Rotation.from_matrix(sw).as_rotvec(), SPINE_SWING_DEG)
    tw_lim = np.clip(tw, -math.radians(SPINE_TWIST_DEG), math.radians(SPINE_TWIST_DEG))
    clamped += c1 + (np.abs(tw) > np.abs(tw_lim) + 1e-9)
    spine_rel = Rotation.from_rotvec(sw_vec).as_matrix() @ Rotation.from_rotvec(spine_axis * tw_lim[:, None]).as_matrix()
    driven[rig.root] = d_root
    spine = [rig.node(n) for n in SPINE_JOINTS if rig.has(n)]
    for k, j in enumerate(spine, start=1):
        driven[j] = _fraction(spine_rel, k / len(spine)) @ d_root
    d_chest = spine_rel @ d_root

    # Limbs: swings down each chain.
    carried = {"upperarm01": d_chest, "upperleg01": d_root}
    for side in "LR":
        parent_d = None
        for joint, a, b, limit in _LIMBS:
            name = joint.format(s=side)
            if not rig.has(name):
                continue
            base = name.split(".")[0]
            if base in carried:
                parent_d = carried[base]
            a_k, b_k = a.format(s=side), b.format(s=side)
            carried_dir = np.einsum("fab,fb->fa", parent_d, rel(a_k, b_k, rest))
            r, c = swing(carried_dir, rel(a_k, b_k, cur), limit)
            clamped += c
            parent_d = r @ parent_d
            driven[rig.node(name)] = parent_d

    # Neck and head.
    necks = [rig.node(n) for n in NECK_JOINTS if rig.has(n)]
    if head is None:
        carried_dir = np.einsum("fab,fb->fa", d_chest, rel("neck", "head", rest))
        r, c = swing(carried_dir, rel("neck", "head", cur), SWING_LIMITS_DEG["neck"])
        clamped += c
        head_d = r @ d_chest
    else:
        head_d = np.asarray(head, np.float64)
    head_rel = head_d @ d_chest.transpose(0, 2, 1)
    for k, j in enumerate(necks, start=1):
        driven[j] = _fraction(head_rel, 0.5 * k / len(necks)) @ d_chest
    if rig.has("head"):
        driven[rig.node("head")] = head_d
    return BodyPoseSequence(follow_parents(rig, driven, f), sorted(driven), clamped)


def solve_head_only(rig: Rig, head: Float[np.ndarray, "F 3 3"]) -> BodyPoseSequence:
    """The body in its rest pose, the head turned by ``head`` (world rotations per frame) and
    the neck joints taking half of it (face-only animation)."""
    f = len(head)
    driven: dict[int, np.ndarray] = {}
    necks = [rig.node(n) for n in NECK_JOINTS if rig.has(n)]
    for k, j in enumerate(necks, start=1):
        driven[j] = _fraction(np.asarray(head, np.float64), 0.5 * k / len(necks))
    if rig.has("head"):
        driven[rig.node("head")] = np.asarray(head, np.float64)
    return BodyPoseSequence(follow_parents(rig, driven, f), sorted(driven), np.zeros(f))
