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
    scr = _project(j, camera)  # (K, 3): px, py, depth
    z_ref = float(scr[:, 2].mean())
    h, w = camera.height, camera.width
    radius = max(thickness * h, 0.5)
    out = torch.zeros(len(bones), h, w)
    ends = scr[torch.tensor(bones, dtype=torch.long)].float()  # (C, 2, 3): start and end of each bone
    lo = torch.floor(torch.minimum(ends[:, 0, :2], ends[:, 1, :2]) - radius).clamp_min(0)
    hi = torch.ceil(torch.maximum(ends[:, 0, :2], ends[:, 1, :2]) + radius)
    for c in range(len(bones)):
        # Only the pixels within `radius` of the segment's bounding box can be covered.
        x0, y0 = int(lo[c, 0]), int(lo[c, 1])
        x1, y1 = min(int(hi[c, 0]), w), min(int(hi[c, 1]), h)
        if x1 <= x0 or y1 <= y0 or not torch.isfinite(ends[c]).all():
            continue
        a, b = ends[c, 0], ends[c, 1]
        ab = b[:2] - a[:2]
        len2 = float((ab**2).sum().clamp_min(1e-12))
        dx = (torch.arange(x0, x1, dtype=torch.float32) + 0.5 - a[0])[None, :]  # (1, w')
        dy = (torch.arange(y0, y1, dtype=torch.float32) + 0.5 - a[1])[:, None]  # (h', 1)
        t = ((dx * ab[0] + dy * ab[1]) / len2).clamp(0, 1)  # (h', w') position along the bone
        dist = torch.sqrt((dx - t * ab[0]) ** 2 + (dy - t * ab[1]) ** 2)
        cover = (1 - dist / radius).clamp(0, 1)
        z = a[2] + t * (b[2] - a[2])
        code = (1 + (z_ref - z) / depth_scale).clamp_min(0.05)
        out[c, y0:y1, x0:x1] = cover * code
    return out


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
