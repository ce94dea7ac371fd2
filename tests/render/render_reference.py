"""Slow, obvious references for the render tests (not part of the package).

``rasterize_reference`` visits every pixel for every triangle with numpy (no bounding boxes,
no numba) and applies the documented rules: edge functions at pixel centres, the top-left
ownership of edges, near-plane / degenerate skipping, strict z-test in triangle order.
"""

from __future__ import annotations

import math

import numpy as np


def _owns(ex: float, ey: float) -> bool:
    return ey > 0.0 or (ey == 0.0 and ex < 0.0)


def rasterize_reference(screen, faces, height, width, perspective=True, cull_backfaces=False, near=1e-6):
    screen = np.asarray(screen, dtype=np.float64)
    rows, cols = np.mgrid[0:height, 0:width]
    px, py = cols + 0.5, rows + 0.5
    tri_id = np.full((height, width), -1, dtype=np.int32)
    bary = np.zeros((height, width, 3), dtype=np.float64)
    zbuf = np.full((height, width), np.inf)
    for f, (i0, i1, i2) in enumerate(np.asarray(faces)):
        (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = screen[i0], screen[i1], screen[i2]
        if not (z0 > near and z1 > near and z2 > near):
            continue
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        if area == 0.0 or not math.isfinite(area) or (cull_backfaces and area > 0.0):
            continue
        sign = 1.0 if area > 0 else -1.0
        w = [
            (x2 - x1) * (py - y1) - (y2 - y1) * (px - x1),
            (x0 - x2) * (py - y2) - (y0 - y2) * (px - x2),
            (x1 - x0) * (py - y0) - (y1 - y0) * (px - x0),
        ]
        edges = [(x2 - x1, y2 - y1), (x0 - x2, y0 - y2), (x1 - x0, y1 - y0)]
        inside = np.ones((height, width), dtype=bool)
        for wk, (ex, ey) in zip(w, edges):
            s = wk * sign
            inside &= (s > 0) | ((s == 0) & _owns(ex * sign, ey * sign))
        inv_area = 1.0 / area
        lam = [wk * inv_area for wk in w]
        if perspective:
            q = [lam[0] * (1.0 / z0), lam[1] * (1.0 / z1), lam[2] * (1.0 / z2)]
            s = q[0] + q[1] + q[2]
            depth = 1.0 / np.where(inside, s, 1.0)
            b = [qk / np.where(inside, s, 1.0) for qk in q]
        else:
            depth = lam[0] * z0 + lam[1] * z1 + lam[2] * z2
            b = lam
        win = inside & (depth < zbuf)
        zbuf[win] = depth[win]
        tri_id[win] = f
        for k in range(3):
            bary[..., k][win] = b[k][win]
    return tri_id, bary, zbuf


def bilinear_reference(tex: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear lookup between texel centres, clamped at the border, OBJ uv (v up, row 0 top)."""
    h, w = tex.shape[:2]
    x = np.clip(uv[:, 0] * w - 0.5, 0, w - 1)
    y = np.clip((1.0 - uv[:, 1]) * h - 0.5, 0, h - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = tex[y0, x0] * (1 - fx) + tex[y0, x1] * fx
    bottom = tex[y1, x0] * (1 - fx) + tex[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def vertex_normals_reference(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Loop over faces, add each face's area-weighted normal (cross product) to its corners."""
    n = np.zeros_like(vertices, dtype=np.float64)
    for a, b, c in faces:
        fn = np.cross(vertices[b] - vertices[a], vertices[c] - vertices[a])
        n[a] += fn
        n[b] += fn
        n[c] += fn
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    return np.divide(n, norm, out=np.zeros_like(n), where=norm > 0)
