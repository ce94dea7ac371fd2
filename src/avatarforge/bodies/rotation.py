"""Rotation helpers shared by the body backends (pure tensor functions)."""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

__all__ = ["euler_xyz_to_matrix", "matrix_to_euler_xyz", "rigid"]


def euler_xyz_to_matrix(angles_deg: Float[Tensor, "... 3"]) -> Float[Tensor, "... 3 3"]:
    """Extrinsic X, then Y, then Z rotation (R = Rz @ Ry @ Rx), angles in degrees."""
    a = torch.deg2rad(angles_deg)
    cx, cy, cz = torch.cos(a).unbind(-1)
    sx, sy, sz = torch.sin(a).unbind(-1)
    one, zero = torch.ones_like(cx), torch.zeros_like(cx)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1)
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1)
    shape = a.shape[:-1] + (3, 3)
    return rz.reshape(shape) @ ry.reshape(shape) @ rx.reshape(shape)


def matrix_to_euler_xyz(m: Float[Tensor, "... 3 3"]) -> Float[Tensor, "... 3"]:
    """Inverse of :func:`euler_xyz_to_matrix` (degrees; y in [-90, 90])."""
    sy = (-m[..., 2, 0]).clamp(-1.0, 1.0)
    y = torch.asin(sy)
    x = torch.atan2(m[..., 2, 1], m[..., 2, 2])
    z = torch.atan2(m[..., 1, 0], m[..., 0, 0])
    return torch.rad2deg(torch.stack([x, y, z], -1))


def rigid(rotation: Float[Tensor, "... 3 3"], translation: Float[Tensor, "... 3"]) -> Float[Tensor, "... 4 4"]:
    """Homogeneous 4x4 from a rotation and a translation."""
    top = torch.cat([rotation, translation[..., None]], -1)
    bottom = torch.zeros(top.shape[:-2] + (1, 4), dtype=top.dtype, device=top.device)
    bottom[..., 0, 3] = 1.0
    return torch.cat([top, bottom], -2)
