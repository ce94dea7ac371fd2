"""Named rest poses (A, T, relaxed) as values of the ``pose.*`` parameters.

Anny's own rest pose is an A-pose (arms ~48 degrees below horizontal). The T and relaxed
presets are computed for the given body so that, e.g., the T-pose arms are exactly
horizontal whatever the body's proportions.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from avatarforge.bodies.rotation import matrix_to_euler_xyz
from avatarforge.errors import UserInputError

__all__ = ["POSE_PRESETS", "pose_preset", "rotation_between"]

POSE_PRESETS = ("a", "t", "relaxed")

# Target directions (our axes: +X body's left, +Y up, +Z front) of the upper arm and forearm
# of the LEFT side; the right side mirrors x.
_TARGETS = {
    "t": ((1.0, 0.0, 0.0), (1.0, 0.0, 0.0)),
    "relaxed": ((0.26, -0.96, 0.0), (0.2, -0.9, 0.38)),
}


def rotation_between(a: Tensor, b: Tensor) -> Tensor:
    """The smallest rotation (3x3) taking direction ``a`` onto direction ``b``."""
    a = a / a.norm()
    b = b / b.norm()
    v = torch.linalg.cross(a, b)
    c = torch.dot(a, b)
    if v.norm() < 1e-9:
        if c > 0:
            return torch.eye(3, dtype=a.dtype)
        axis = torch.linalg.cross(a, torch.tensor([0.0, 0.0, 1.0], dtype=a.dtype))
        if axis.norm() < 1e-6:
            axis = torch.linalg.cross(a, torch.tensor([0.0, 1.0, 0.0], dtype=a.dtype))
        axis = axis / axis.norm()
        return 2 * torch.outer(axis, axis) - torch.eye(3, dtype=a.dtype)
    vx = torch.tensor([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]], dtype=a.dtype)
    return torch.eye(3, dtype=a.dtype) + vx + vx @ vx / (1 + c)


def pose_preset(body, name: str, values: Mapping[str, float] | None = None) -> dict[str, float]:
    """Values of the ``pose.*`` parameters that put ``body`` (with shape ``values``) in pose
    ``name`` ("a" = the model's rest A-pose, "t", "relaxed")."""
    key = name.lower()
    if key not in POSE_PRESETS:
        raise UserInputError(f"unknown pose {name!r}: choose one of {', '.join(POSE_PRESETS)}")
    if key == "a":
        return {}
    shape = {k: v for k, v in (values or {}).items() if not k.startswith("pose.")}
    rest = body.forward_params(shape)
    joints = rest.joints[0]
    idx = body.joint_names.index
    upper_t, fore_t = (torch.tensor(t) for t in _TARGETS[key])
    out: dict[str, float] = {}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        mirror = torch.tensor([sign, 1.0, 1.0])
        shoulder = joints[idx(f"upperarm01.{side}")]
        elbow = joints[idx(f"lowerarm01.{side}")]
        wrist = joints[idx(f"wrist.{side}")]
        d_upper = rotation_between(elbow - shoulder, upper_t * mirror)
        # The forearm's rotation is applied after its parent's: solve in the parent's frame.
        d_fore = rotation_between(wrist - elbow, d_upper.T @ (fore_t * mirror))
        for joint, rot in ((f"upperarm01.{side}", d_upper), (f"lowerarm01.{side}", d_fore)):
            for axis, angle in zip("xyz", matrix_to_euler_xyz(rot).tolist()):
                out[f"pose.{joint}.{axis}"] = float(angle)
    return out
