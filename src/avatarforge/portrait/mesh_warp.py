"""Dense 2D motion of a projected mesh, extended smoothly beyond it, and the backward warp.

Pure functions on arrays. Pixel conventions are the renderer's (:mod:`avatarforge.render.camera`):
pixel ``(row i, col j)`` has its centre at ``(j + 0.5, i + 0.5)``.

* :func:`mesh_flow` rasterises the *target* mesh and, at every covered pixel centre, takes the
  same surface point on the *source* mesh (perspective-correct barycentrics of the target
  triangle applied to the source camera-space corners, then projected): ``flow = source pixel -
  target pixel``. Sampling the photo at ``pixel + flow`` moves its content with the mesh.
* :func:`extend_flow` fills the uncovered pixels by push-pull (a Gaussian-pyramid membrane:
  at each level the known values, the holes from the coarser level upsampled), exact where
  known, and multiplies by a falloff of the distance to the mesh: ``smoothstep(1 - d / radius)``
  (1 at the mesh, 0 from ``radius`` on), times an optional soft mask (the person).
* :func:`backward_warp` samples the image at ``pixel + flow`` (bilinear) where ``|flow|`` exceeds
  :data:`STILL_PX` and returns the other pixels unchanged, bit for bit.
"""

from __future__ import annotations

import cv2
import numpy as np
from jaxtyping import Bool, Float, Int, UInt8

from avatarforge.render.raster import rasterize
from avatarforge.util.image import smoothstep

__all__ = ["STILL_PX", "project_points", "mesh_flow", "push_pull", "extend_flow", "backward_warp"]

STILL_PX = 0.01
"""Pixels whose motion is below this (in pixels) are returned unchanged."""


def project_points(cam_points: Float[np.ndarray, "N 3"], fx: float, fy: float, cx: float,
                   cy: float) -> Float[np.ndarray, "N 2"]:
    """Camera-space points (x right, y down, z depth) -> pixels (perspective)."""
    z = cam_points[:, 2:3]
    return np.concatenate([fx * cam_points[:, :1] / z + cx, fy * cam_points[:, 1:2] / z + cy], 1)


def mesh_flow(src_cam: Float[np.ndarray, "V 3"], tgt_cam: Float[np.ndarray, "V 3"], faces: Int[np.ndarray, "F 3"],
              intrinsics: tuple[float, float, float, float], height: int, width: int,
              origin: tuple[int, int] = (0, 0)) -> tuple[Float[np.ndarray, "H W 2"], Bool[np.ndarray, "H W"]]:
    """Backward flow of the visible target surface (see the module docstring) and its mask.

    ``src_cam``/``tgt_cam``: the same mesh's vertices in camera space, before and after the
    motion; ``intrinsics`` = (fx, fy, cx, cy); the result covers the window of ``height`` x
    ``width`` pixels whose top-left pixel is ``origin`` = (row, col) of the full image.
    Back faces are culled, the nearest surface wins.
    """
    fx, fy, cx, cy = intrinsics
    r0, c0 = origin
    tgt_px = project_points(tgt_cam, fx, fy, cx - c0, cy - r0)
    screen = np.concatenate([tgt_px, tgt_cam[:, 2:3]], 1)
    ras = rasterize(screen, faces, height, width, perspective=True, cull_backfaces=True)
    mask = ras.mask
    flow = np.zeros((height, width, 2), np.float64)
    rows, cols = np.nonzero(mask)
    if len(rows):
        corners = faces[ras.triangle_id[rows, cols]]  # (P, 3)
        b = ras.bary[rows, cols].astype(np.float64)  # (P, 3)
        # p: pixel, k: corner, c: xyz
        src_pts = np.einsum("pk,pkc->pc", b, src_cam[corners])
        src_px = project_points(src_pts, fx, fy, cx - c0, cy - r0)
        flow[rows, cols] = src_px - np.stack([cols + 0.5, rows + 0.5], 1)
    return flow, mask


def push_pull(values: Float[np.ndarray, "H W C"], known: Float[np.ndarray, "H W"]) -> Float[np.ndarray, "H W C"]:
    """Fill unknown pixels (``known`` = 0) smoothly from the known ones (``known`` = 1);
    known pixels keep their values exactly. ``known`` may be fractional (a weight)."""
    h, w = known.shape
    k = np.clip(known.astype(np.float32), 0.0, 1.0)[..., None]
    pre = values.astype(np.float32) * k
    if h <= 2 or w <= 2 or k.min() >= 1.0:
        total = float(k.sum())
        if total <= 0:
            return np.zeros_like(pre)
        mean = pre.reshape(-1, pre.shape[-1]).sum(0) / total
        return pre + (1 - k) * mean
    hs, ws = (h + 1) // 2, (w + 1) // 2
    pad = ((0, 2 * hs - h), (0, 2 * ws - w), (0, 0))
    pp, kp = np.pad(pre, pad), np.pad(k, pad)
    # 2x2 box down-sampling of the premultiplied values and the weights
    p2 = pp.reshape(hs, 2, ws, 2, -1).sum((1, 3))
    k2 = kp.reshape(hs, 2, ws, 2, 1).sum((1, 3))
    coarse_vals = np.where(k2 > 0, p2 / np.maximum(k2, 1e-12), 0.0)
    coarse = push_pull(coarse_vals, np.minimum(k2[..., 0], 1.0))
    up = cv2.resize(coarse, (2 * ws, 2 * hs), interpolation=cv2.INTER_LINEAR)
    up = up.reshape(2 * hs, 2 * ws, -1)[:h, :w]
    return pre + (1 - k) * up


def extend_flow(flow: Float[np.ndarray, "H W 2"], mask: Bool[np.ndarray, "H W"], radius: float,
                soft_mask: Float[np.ndarray, "H W"] | None = None) -> Float[np.ndarray, "H W 2"]:
    """The flow inside ``mask`` unchanged, extended outside by :func:`push_pull` and faded to
    zero over ``radius`` pixels (times ``soft_mask`` outside ``mask`` when given)."""
    if not mask.any():
        return np.zeros_like(flow)
    h, w = mask.shape
    k = mask.astype(np.float32)
    # The extension is smooth: compute it at a quarter of the size, keep the known flow exact.
    small = (max(1, w // 4), max(1, h // 4))
    k_s = cv2.resize(k, small, interpolation=cv2.INTER_AREA)
    f_s = cv2.resize(flow.astype(np.float32) * k[..., None], small, interpolation=cv2.INTER_AREA)
    f_s = np.where(k_s[..., None] > 0, f_s / np.maximum(k_s[..., None], 1e-6), 0.0)
    coarse = cv2.resize(push_pull(f_s, k_s).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    filled = np.where(mask[..., None], flow, coarse)
    dist = cv2.distanceTransform(np.where(mask, 0, 255).astype(np.uint8), cv2.DIST_L2, 5)
    fade = smoothstep(1.0 - dist / max(radius, 1e-6))
    if soft_mask is not None:
        fade = np.where(mask, 1.0, fade * soft_mask)
    return filled * fade[..., None]


def backward_warp(image: UInt8[np.ndarray, "H W C"], flow: Float[np.ndarray, "h w 2"],
                  origin: tuple[int, int] = (0, 0)) -> UInt8[np.ndarray, "H W C"]:
    """``image`` sampled at ``pixel + flow`` inside the window at ``origin`` (row, col) where
    the flow moves more than :data:`STILL_PX`; every other pixel is returned unchanged."""
    out = image.copy()
    h, w = flow.shape[:2]
    r0, c0 = origin
    moving = np.hypot(flow[..., 0], flow[..., 1]) > STILL_PX
    if not moving.any():
        return out
    jj, ii = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x = (jj + c0 + flow[..., 0]).astype(np.float32)
    map_y = (ii + r0 + flow[..., 1]).astype(np.float32)
    sampled = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if sampled.ndim == 2:
        sampled = sampled[..., None]
    window = out[r0:r0 + h, c0:c0 + w]
    window[moving] = sampled.reshape(h, w, -1)[moving]
    return out
