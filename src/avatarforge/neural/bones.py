"""Pose input of the generator: one rasterised line per bone, carrying depth.

Channel ``k`` of :func:`rasterize_bones` draws bone ``k`` (:data:`.skeleton.BONES`) as an
anti-aliased line of half-width ``thickness * height`` pixels between its projected joints.
Inside the line the value is ``coverage * depth_code`` where

* ``coverage = clip(1 - d / r, 0, 1)``, ``d`` the pixel centre's distance to the projected
  segment and ``r`` the half-width (1 on the line, fading to 0 at ``r``);
* ``depth_code = max(1 + (z_ref - z) / depth_scale, 0.05)``: ``z`` is the camera depth at the
  closest point of the bone, interpolated linearly along the projected segment between the
  joint depths; ``z_ref`` is the mean keypoint depth of that pose. So a bone nearer to the
  camera than the body's centre is brighter, a farther one dimmer, whatever the distance of
  the camera.

Pixel centres are at integer + 0.5 (:mod:`avatarforge.render.camera`). The result does not
depend on the resolution except through sampling: the line width scales with the image.
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from avatarforge.neural.skeleton import BONES
from avatarforge.render.camera import Camera
from avatarforge.util.jit import njit_cached

__all__ = ["rasterize_bones", "rasterize_bones_reference", "THICKNESS", "DEPTH_SCALE"]

THICKNESS = 0.012
"""Default line half-width as a fraction of the image height."""
DEPTH_SCALE = 0.5
"""Metres of depth difference that change the line value by 1."""


def _project(joints: Float[Tensor, "K 3"], camera: Camera) -> Tensor:
    return camera.project(joints.double())


def rasterize_bones(
    joints: Float[Tensor, "K 3"] | Float[np.ndarray, "K 3"],
    camera: Camera,
    bones: tuple[tuple[int, int], ...] = BONES,
    thickness: float = THICKNESS,
    depth_scale: float = DEPTH_SCALE,
) -> Float[Tensor, "C H W"]:
    """Bone stack (float32, C = len(bones)) of world ``joints`` seen by ``camera`` at its size."""
    j = torch.as_tensor(np.asarray(joints) if not isinstance(joints, Tensor) else joints).double()
    scr = _project(j, camera).numpy()  # (K, 3): px, py, depth
    z_ref = float(scr[:, 2].mean())
    h, w = camera.height, camera.width
    radius = max(thickness * h, 0.5)
    ends = np.ascontiguousarray(scr[np.asarray(bones, dtype=np.int64)], dtype=np.float32)  # (C, 2, 3): bone ends
    out = np.zeros((len(bones), h, w), np.float32)
    _bones_kernel(ends, np.float32(radius), np.float32(z_ref), np.float32(depth_scale), out)
    return torch.from_numpy(out)


def _bones_kernel(ends, radius, z_ref, depth_scale, out):  # pragma: no cover - jitted
    """Fill ``out`` (C, H, W) with bone ``c``'s line (float32 throughout, like the torch original)."""
    n_bones, h, w = out.shape
    for c in range(n_bones):
        ax, ay, az = ends[c, 0, 0], ends[c, 0, 1], ends[c, 0, 2]
        bx, by, bz = ends[c, 1, 0], ends[c, 1, 1], ends[c, 1, 2]
        if not (np.isfinite(ax) and np.isfinite(ay) and np.isfinite(az) and np.isfinite(bx) and np.isfinite(by)
                and np.isfinite(bz)):
            continue
        # Only the pixels within `radius` of the segment's bounding box can be covered.
        x0 = max(int(np.floor(min(ax, bx) - radius)), 0)
        y0 = max(int(np.floor(min(ay, by) - radius)), 0)
        x1 = min(int(np.ceil(max(ax, bx) + radius)), w)
        y1 = min(int(np.ceil(max(ay, by) + radius)), h)
        abx, aby = bx - ax, by - ay
        len2 = max(abx * abx + aby * aby, np.float32(1e-12))
        for row in range(y0, y1):
            dy = np.float32(row) + np.float32(0.5) - ay
            for col in range(x0, x1):
                dx = np.float32(col) + np.float32(0.5) - ax
                t = min(max((dx * abx + dy * aby) / len2, np.float32(0)), np.float32(1))  # position along the bone
                ex, ey = dx - t * abx, dy - t * aby
                cover = np.float32(1) - np.sqrt(ex * ex + ey * ey) / radius
                if cover <= 0:
                    continue
                z = az + t * (bz - az)
                out[c, row, col] = min(cover, np.float32(1)) * max(np.float32(1) + (z_ref - z) / depth_scale,
                                                                   np.float32(0.05))


_bones_kernel = njit_cached(_bones_kernel, fastmath=False)


def rasterize_bones_reference(
    joints: np.ndarray, camera: Camera, bones=BONES, thickness: float = THICKNESS, depth_scale: float = DEPTH_SCALE
) -> np.ndarray:
    """Slow per-pixel loop computing the same thing as :func:`rasterize_bones` (for tests)."""
    scr = camera.project(np.asarray(joints, dtype=np.float64))
    z_ref = scr[:, 2].mean()
    h, w = camera.height, camera.width
    radius = max(thickness * h, 0.5)
    out = np.zeros((len(bones), h, w))
    for c, (i, k) in enumerate(bones):
        p0, p1 = scr[i], scr[k]
        seg = p1[:2] - p0[:2]
        for row in range(h):
            for col in range(w):
                p = np.array([col + 0.5, row + 0.5])
                t = float(np.dot(p - p0[:2], seg) / max(np.dot(seg, seg), 1e-12))
                t = min(max(t, 0.0), 1.0)
                d = np.linalg.norm(p - (p0[:2] + t * seg))
                cover = min(max(1 - d / radius, 0.0), 1.0)
                z = p0[2] + t * (p1[2] - p0[2])
                out[c, row, col] = cover * max(1 + (z_ref - z) / depth_scale, 0.05)
    return out.astype(np.float32)
