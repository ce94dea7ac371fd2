"""Pinhole and orthographic cameras in the OpenCV convention.

Frames and units:

* World: metres, +Y up, the body faces +Z (a camera at +Z looking at -Z sees its front).
* Camera: ``x_cam = R @ x_world + t``; camera x points right, y down, z forward (depth).
* Pixels: x to the right, y down; pixel ``(row i, col j)`` covers ``[j, j+1) x [i, i+1)``,
  so its centre is at ``(j + 0.5, i + 0.5)``. The principal point ``(cx, cy)`` of a
  centred camera is ``(width / 2, height / 2)``.

Projection returns ``(px, py, depth)`` with ``depth`` the camera z for both kinds:

* perspective:  ``px = fx * x / z + cx``, ``py = fy * y / z + cy``;
* orthographic: ``px = fx * x + cx``, ``py = fy * y + cy`` where ``fx = fy = ortho_scale``
  is the number of pixels per metre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from jaxtyping import Float

from avatarforge.errors import UserInputError

__all__ = ["Camera"]

Projection = Literal["perspective", "orthographic"]


def _look_at_rotation(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """World->camera rotation whose rows are the camera's right, down and forward axes."""
    forward = target - eye
    norm = np.linalg.norm(forward)
    if norm == 0:
        raise UserInputError("look_at: eye and target are the same point; move the camera")
    forward = forward / norm
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-9:
        raise UserInputError("look_at: the view direction is parallel to `up`; pass another `up`")
    right = right / np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


@dataclass
class Camera:
    """A camera: extrinsics ``R, t`` (world->camera) and intrinsics in pixels."""

    R: np.ndarray
    """(3, 3) float64 world->camera rotation."""
    t: np.ndarray
    """(3,) float64 translation: ``x_cam = R @ x_world + t``."""
    width: int
    """Image width in pixels."""
    height: int
    """Image height in pixels."""
    fx: float
    """Focal length in pixels (perspective) or pixels per metre (orthographic), along x."""
    fy: float
    """As ``fx``, along y."""
    cx: float
    """Principal point x in pixels (``width / 2`` for a centred camera)."""
    cy: float
    """Principal point y in pixels (``height / 2`` for a centred camera)."""
    projection: Projection = "perspective"
    """'perspective' or 'orthographic'."""

    def __post_init__(self) -> None:
        self.R = np.asarray(self.R, dtype=np.float64).reshape(3, 3)
        self.t = np.asarray(self.t, dtype=np.float64).reshape(3)
        self.width, self.height = int(self.width), int(self.height)
        self.fx, self.fy, self.cx, self.cy = map(float, (self.fx, self.fy, self.cx, self.cy))
        if self.projection not in ("perspective", "orthographic"):
            raise UserInputError(
                f"camera projection must be 'perspective' or 'orthographic', got {self.projection!r}"
            )
        if self.width <= 0 or self.height <= 0:
            raise UserInputError(f"camera size must be positive, got {self.width}x{self.height}")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def look_at(
        cls,
        eye,
        target=(0.0, 0.0, 0.0),
        up=(0.0, 1.0, 0.0),
        width: int = 512,
        height: int = 512,
        fov_y_deg: float = 40.0,
    ) -> "Camera":
        """A centred perspective camera at ``eye`` looking at ``target``, ``up`` pointing up."""
        eye, target, up = (np.asarray(a, dtype=np.float64) for a in (eye, target, up))
        R = _look_at_rotation(eye, target, up)
        f = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2)
        return cls(R, -R @ eye, width, height, f, f, width / 2, height / 2, "perspective")

    @classmethod
    def orthographic_look_at(
        cls,
        eye,
        target=(0.0, 0.0, 0.0),
        up=(0.0, 1.0, 0.0),
        width: int = 512,
        height: int = 512,
        ortho_scale: float = 256.0,
    ) -> "Camera":
        """A centred orthographic camera; ``ortho_scale`` is pixels per metre.

        ``eye`` only sets the view direction and the depth origin: depths are measured from it,
        so put it in front of everything to be seen (depths must be positive).
        """
        eye, target, up = (np.asarray(a, dtype=np.float64) for a in (eye, target, up))
        R = _look_at_rotation(eye, target, up)
        s = float(ortho_scale)
        return cls(R, -R @ eye, width, height, s, s, width / 2, height / 2, "orthographic")

    # ------------------------------------------------------------------ properties
    @property
    def is_perspective(self) -> bool:
        return self.projection == "perspective"

    @property
    def ortho_scale(self) -> float:
        """Pixels per metre of an orthographic camera (``fx``)."""
        return self.fx

    @property
    def position(self) -> np.ndarray:
        """(3,) camera centre in world coordinates (``-R^T t``)."""
        return -self.R.T @ self.t

    @property
    def K(self) -> np.ndarray:
        """(3, 3) intrinsic matrix."""
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])

    # ------------------------------------------------------------------ projection
    def project(
        self, points: Float[np.ndarray, "*B N 3"] | Float[torch.Tensor, "*B N 3"]
    ) -> Float[np.ndarray, "*B N 3"] | Float[torch.Tensor, "*B N 3"]:
        """World points -> ``(px, py, depth)``: pixel x right, pixel y down, camera z.

        Numpy in, numpy out (float64); torch in, torch out (same dtype and device,
        differentiable w.r.t. ``points``). Points at ``depth <= 0`` get meaningless pixel
        coordinates under perspective; the rasteriser skips their triangles.
        """
        if isinstance(points, torch.Tensor):
            R = torch.as_tensor(self.R, dtype=points.dtype, device=points.device)
            t = torch.as_tensor(self.t, dtype=points.dtype, device=points.device)
            cam = points @ R.T + t  # (..., N, 3) camera coordinates
            z = cam[..., 2]
            x, y = (cam[..., 0] / z, cam[..., 1] / z) if self.is_perspective else (cam[..., 0], cam[..., 1])
            return torch.stack([self.fx * x + self.cx, self.fy * y + self.cy, z], dim=-1)
        cam = np.asarray(points, dtype=np.float64) @ self.R.T + self.t
        z = cam[..., 2]
        if self.is_perspective:
            with np.errstate(divide="ignore", invalid="ignore"):
                x, y = cam[..., 0] / z, cam[..., 1] / z
        else:
            x, y = cam[..., 0], cam[..., 1]
        return np.stack([self.fx * x + self.cx, self.fy * y + self.cy, z], axis=-1)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        """A JSON-serialisable dict (lists and numbers)."""
        return {
            "R": self.R.tolist(),
            "t": self.t.tolist(),
            "width": self.width,
            "height": self.height,
            "fx": self.fx,
            "fy": self.fy,
            "cx": self.cx,
            "cy": self.cy,
            "projection": self.projection,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Camera":
        """Inverse of :meth:`to_dict`."""
        missing = {"R", "t", "width", "height", "fx", "fy", "cx", "cy"} - set(data)
        if missing:
            raise UserInputError(f"camera dict is missing {sorted(missing)}")
        fields = {k: data[k] for k in (*cls.__dataclass_fields__,) if k in data}
        fields["R"], fields["t"] = np.asarray(fields["R"], np.float64), np.asarray(fields["t"], np.float64)  # JSON lists
        return cls(**fields)
