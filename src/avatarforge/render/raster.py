"""Triangle rasterisation on the CPU: which triangle covers each pixel centre, and where.

This is the non-differentiable half of an nvdiffrast-style renderer: it picks triangles.
Barycentrics and attributes are then recomputed in torch (:mod:`.interpolate`) so that
gradients flow to vertices and textures.

Conventions (see :mod:`.camera`):

* ``screen[:, 0]`` is pixel x (right), ``screen[:, 1]`` pixel y (down), ``screen[:, 2]`` the
  camera depth. Pixel ``(i, j)`` (row, column) is sampled at its centre ``(j + 0.5, i + 0.5)``.
* A pixel centre exactly on an edge belongs to one triangle only (a top-left-style rule), so a
  watertight mesh covers each pixel once, without cracks.
* Z-buffer: the nearest positive depth wins; on exactly equal depth the earlier triangle wins.
  Triangles with a vertex at depth ``<= near``, non-finite coordinates or zero screen area
  are skipped.
* Front faces: a triangle counter-clockwise seen from the camera (CCW from outside, as in
  OBJ/glTF) has a *negative* signed area ``(x1-x0)(y2-y0) - (y1-y0)(x2-x0)`` in these y-down
  pixel coordinates; ``cull_backfaces`` drops the positive ones.
* Barycentrics ``(b0, b1, b2)`` weight the triangle's vertices ``faces[f, 0..2]``. With
  ``perspective=True`` they are perspective-correct (screen weights divided by vertex depth,
  renormalised) and the depth is ``1 / sum(l_k / z_k)``; with ``perspective=False`` they are
  the screen-space weights and the depth is interpolated linearly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, Int

from avatarforge.errors import UserInputError
from avatarforge.util.jit import njit_cached

__all__ = ["Raster", "rasterize", "NEAR"]

#: Triangles with a vertex at or in front of this depth are skipped.
NEAR = 1e-6


@dataclass
class Raster:
    """What covers each pixel: arrays of shape (H, W, ...) or, when batched, (B, H, W, ...)."""

    triangle_id: Int[np.ndarray, "*B H W"]
    """int32 index into ``faces`` of the visible triangle; -1 on background."""
    bary: Float[np.ndarray, "*B H W 3"]
    """float32 barycentrics of the pixel centre w.r.t. ``faces[id, 0..2]``; 0 on background."""
    depth: Float[np.ndarray, "*B H W"]
    """float32 camera depth of the visible surface; +inf on background."""
    perspective: bool = True
    """Whether ``bary`` is perspective-correct (it was rasterised from a perspective view)."""

    @property
    def mask(self) -> np.ndarray:
        """(*B, H, W) bool: pixels covered by a triangle."""
        return self.triangle_id >= 0

    @property
    def shape(self) -> tuple[int, ...]:
        """(*B, H, W)."""
        return self.triangle_id.shape

    def covered(self) -> tuple[np.ndarray, ...]:
        """Indices ``(*b, rows, cols)`` of covered pixels, row-major (``np.nonzero(mask)``)."""
        return np.nonzero(self.mask)


@njit_cached
def _raster_kernel(screen, faces, perspective, cull, near, tri_id, bary, zbuf):  # pragma: no cover - jitted
    height, width = tri_id.shape
    for f in range(faces.shape[0]):
        i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
        x0, y0, z0 = screen[i0, 0], screen[i0, 1], screen[i0, 2]
        x1, y1, z1 = screen[i1, 0], screen[i1, 1], screen[i1, 2]
        x2, y2, z2 = screen[i2, 0], screen[i2, 1], screen[i2, 2]
        if not (z0 > near and z1 > near and z2 > near):  # also rejects NaN depths
            continue
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        if area == 0.0 or not math.isfinite(area):
            continue
        if cull and area > 0.0:
            continue
        sign = 1.0 if area > 0.0 else -1.0
        # Edge k is opposite vertex k; on a centre exactly on it, only edges whose direction
        # (in the positively-oriented triangle) is "top-left" own it. Opposite directions
        # disagree, so two triangles sharing an edge never both own a pixel centre.
        ex, ey = (x2 - x1) * sign, (y2 - y1) * sign
        own0 = ey > 0.0 or (ey == 0.0 and ex < 0.0)
        ex, ey = (x0 - x2) * sign, (y0 - y2) * sign
        own1 = ey > 0.0 or (ey == 0.0 and ex < 0.0)
        ex, ey = (x1 - x0) * sign, (y1 - y0) * sign
        own2 = ey > 0.0 or (ey == 0.0 and ex < 0.0)
        # Columns j with x0 <= j + 0.5 <= x1, clamped to the image before converting to int.
        c0 = max(0.0, math.ceil(min(x0, x1, x2) - 0.5))
        c1 = min(width - 1.0, math.floor(max(x0, x1, x2) - 0.5))
        r0 = max(0.0, math.ceil(min(y0, y1, y2) - 0.5))
        r1 = min(height - 1.0, math.floor(max(y0, y1, y2) - 0.5))
        if c0 > c1 or r0 > r1:
            continue
        inv_area = 1.0 / area
        iz0, iz1, iz2 = 1.0 / z0, 1.0 / z1, 1.0 / z2
        for r in range(int(r0), int(r1) + 1):
            py = r + 0.5
            for c in range(int(c0), int(c1) + 1):
                px = c + 0.5
                w0 = (x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)
                w1 = (x0 - x2) * (py - y2) - (y0 - y2) * (px - x2)
                w2 = (x1 - x0) * (py - y0) - (y1 - y0) * (px - x0)
                s0, s1, s2 = w0 * sign, w1 * sign, w2 * sign
                if not ((s0 > 0.0 or (s0 == 0.0 and own0))
                        and (s1 > 0.0 or (s1 == 0.0 and own1))
                        and (s2 > 0.0 or (s2 == 0.0 and own2))):
                    continue
                l0, l1, l2 = w0 * inv_area, w1 * inv_area, w2 * inv_area
                if perspective:
                    q0, q1, q2 = l0 * iz0, l1 * iz1, l2 * iz2
                    s = q0 + q1 + q2
                    depth = 1.0 / s
                    b0, b1, b2 = q0 / s, q1 / s, q2 / s
                else:
                    depth = l0 * z0 + l1 * z1 + l2 * z2
                    b0, b1, b2 = l0, l1, l2
                if depth < zbuf[r, c]:
                    zbuf[r, c] = depth
                    tri_id[r, c] = f
                    bary[r, c, 0] = b0
                    bary[r, c, 1] = b1
                    bary[r, c, 2] = b2


def _as_numpy(a, dtype) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.ascontiguousarray(a, dtype=dtype)


def rasterize(
    screen: Float[np.ndarray, "*B V 3"] | Float[torch.Tensor, "*B V 3"],
    faces: Int[np.ndarray, "F 3"] | Int[torch.Tensor, "F 3"],
    height: int,
    width: int,
    perspective: bool = True,
    cull_backfaces: bool = False,
    near: float = NEAR,
) -> Raster:
    """Rasterise triangles given in pixel space; see the module docstring for conventions.

    Args:
        screen: ``(px, py, depth)`` per vertex, e.g. from :meth:`Camera.project`; numpy or
            torch (detached). A leading batch dimension rasterises each set of positions.
        faces: vertex indices per triangle.
        height, width: image size in pixels.
        perspective: perspective-correct barycentrics and depth (False for orthographic views
            and UV layouts).
        cull_backfaces: drop triangles that are clockwise on screen (back faces of a mesh
            whose faces are counter-clockwise seen from outside).
        near: minimum vertex depth; triangles reaching closer are dropped whole.
    """
    scr = _as_numpy(screen, np.float64)
    fcs = _as_numpy(faces, np.int64)
    if scr.ndim not in (2, 3) or scr.shape[-1] != 3:
        raise UserInputError(f"screen must be (V, 3) or (B, V, 3), got {scr.shape}")
    if fcs.ndim != 2 or fcs.shape[1] != 3:
        raise UserInputError(f"faces must be (F, 3), got {fcs.shape}")
    if fcs.size and (fcs.min() < 0 or fcs.max() >= scr.shape[-2]):
        raise UserInputError(
            f"faces index vertices {fcs.min()}..{fcs.max()} but there are {scr.shape[-2]} vertices"
        )
    if height <= 0 or width <= 0:
        raise UserInputError(f"image size must be positive, got {height}x{width}")
    batch = scr.shape[:-2]
    scr = scr.reshape(int(np.prod(batch)), *scr.shape[-2:])
    n = scr.shape[0]
    tri_id = np.full((n, height, width), -1, dtype=np.int32)
    bary = np.zeros((n, height, width, 3), dtype=np.float32)
    zbuf = np.full((n, height, width), np.inf, dtype=np.float64)
    for b in range(n):
        _raster_kernel(scr[b], fcs, bool(perspective), bool(cull_backfaces), float(near),
                       tri_id[b], bary[b], zbuf[b])
    return Raster(
        triangle_id=tri_id.reshape(*batch, height, width),
        bary=bary.reshape(*batch, height, width, 3),
        depth=zbuf.astype(np.float32).reshape(*batch, height, width),
        perspective=bool(perspective),
    )
