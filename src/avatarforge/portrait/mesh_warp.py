"""Dense 2D motion of a projected mesh, extended smoothly beyond it, and the backward warp.

Pure functions on arrays. Pixel conventions are the renderer's (:mod:`avatarforge.render.camera`):
pixel ``(row i, col j)`` has its centre at ``(j + 0.5, i + 0.5)``.

* :func:`mesh_flow` rasterises the *target* mesh and, at every covered pixel centre, takes the
  same surface point on the *source* mesh (perspective-correct barycentrics of the target
  triangle applied to the source camera-space corners, then projected): ``flow = source pixel -
  target pixel``. Sampling the photo at ``pixel + flow`` moves its content with the mesh.
  With a :class:`SourceView` it also returns a confidence per pixel: 0 where that surface point
  was hidden in the photo (behind nearer surface) or seen edge-on (the photo holds a thin smear
  of it), 1 where the photo saw it face-on. A head turn uncovers such points on its near side;
  taking them from the photo literally tears the image (a strip of the silhouette stretched, or
  the cheek in front copied twice).
* :func:`extend_flow` fills the uncovered and unconfident pixels by push-pull (a
  Gaussian-pyramid membrane: at each level the known values, the holes from the coarser level
  upsampled), exact where fully confident, and multiplies by a falloff of the distance to the
  mesh: ``smoothstep(1 - d / radius)`` (1 at the mesh, 0 from ``radius`` on), times an
  optional soft mask (the person). The result is a smooth field: where the turn uncovers
  what the photo never showed, the neighbouring skin, hair and background are stretched over
  it, and the far side compresses, with no seam at the silhouette.
* :func:`backward_warp` samples the image at ``pixel + flow`` (bicubic by default) where
  ``|flow|`` exceeds :data:`STILL_PX` and returns the other pixels unchanged, bit for bit;
  where the warp compresses the picture it blends in a prefiltered copy (anti-aliasing).

The motion is smooth, so the animator computes it at a fraction of the resolution (scaled
intrinsics) and upsamples it (:func:`upsample_flow`); only :func:`backward_warp` runs at full size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from jaxtyping import Bool, Float, Int, UInt8

from avatarforge.render.raster import rasterize
from avatarforge.util.geometry import vertex_normals
from avatarforge.util.image import smoothstep

__all__ = ["STILL_PX", "SourceView", "source_view", "project_points", "mesh_flow", "push_pull", "extend_flow",
           "upsample_flow", "backward_warp", "footprint", "antialias_weight", "AA_SIGMA"]

STILL_PX = 0.01
"""Pixels whose motion is below this (in pixels) are returned unchanged."""


def project_points(cam_points: Float[np.ndarray, "N 3"], fx: float, fy: float, cx: float,
                   cy: float) -> Float[np.ndarray, "N 2"]:
    """Camera-space points (x right, y down, z depth) -> pixels (perspective)."""
    z = cam_points[:, 2:3]
    return np.concatenate([fx * cam_points[:, :1] / z + cx, fy * cam_points[:, 1:2] / z + cy], 1)


@dataclass(frozen=True)
class SourceView:
    """What the photo saw of the source mesh: its depth map and how face-on each vertex was."""

    depth: Float[np.ndarray, "H W"]
    """Camera-space depth of the nearest source surface per pixel (inf off the mesh)."""
    intrinsics: tuple[float, float, float, float]
    """(fx, fy, cx, cy) of ``depth``'s pixels."""
    tolerance: float
    """A surface point is visible when its depth is within this of ``depth`` (camera units)."""
    facing: Float[np.ndarray, " V"]
    """Per vertex: cosine between its normal and the direction to the camera (<= 0: back)."""
    edge_on: tuple[float, float] = (0.15, 0.4)
    """Confidence rises smoothly from 0 to 1 between these cosines."""


def source_view(src_cam: Float[np.ndarray, "V 3"], faces: Int[np.ndarray, "F 3"],
                intrinsics: tuple[float, float, float, float], height: int, width: int,
                tolerance: float | None = None) -> SourceView:
    """The :class:`SourceView` of a mesh seen by the photo's camera (``height`` x ``width``);
    ``tolerance`` defaults to 4 % of the mesh's depth extent (a cheek hidden behind the nose
    lies further back than that)."""
    fx, fy, cx, cy = intrinsics
    screen = np.concatenate([project_points(src_cam, fx, fy, cx, cy), src_cam[:, 2:3]], 1)
    ras = rasterize(screen, faces, height, width, perspective=True, cull_backfaces=True)
    depth = np.where(ras.mask, ras.depth, np.inf).astype(np.float64)
    normals = vertex_normals(src_cam, faces)
    to_cam = -src_cam / np.linalg.norm(src_cam, axis=1, keepdims=True)
    # v: vertex, c: xyz
    facing = np.einsum("vc,vc->v", normals, to_cam)
    seen = np.unique(faces[ras.triangle_id[ras.mask]])
    if len(seen) and np.median(facing[seen]) < 0:  # outward normals point to the camera
        facing = -facing
    tol = 0.04 * float(np.ptp(src_cam[:, 2])) if tolerance is None else tolerance
    return SourceView(depth, tuple(intrinsics), tol, facing)


def _confidence(view: SourceView, src_pts: Float[np.ndarray, "P 3"], corners: Int[np.ndarray, "P 3"],
                bary: Float[np.ndarray, "P 3"]) -> Float[np.ndarray, " P"]:
    px = project_points(src_pts, *view.intrinsics)
    h, w = view.depth.shape
    j = np.clip(np.floor(px[:, 0]).astype(np.int64), 0, w - 1)
    i = np.clip(np.floor(px[:, 1]).astype(np.int64), 0, h - 1)
    seen = src_pts[:, 2] <= view.depth[i, j] + view.tolerance
    # p: pixel, k: corner
    cos = np.einsum("pk,pk->p", bary, view.facing[corners])
    return seen * smoothstep(cos, *view.edge_on)


def mesh_flow(src_cam: Float[np.ndarray, "V 3"], tgt_cam: Float[np.ndarray, "V 3"], faces: Int[np.ndarray, "F 3"],
              intrinsics: tuple[float, float, float, float], height: int, width: int,
              origin: tuple[int, int] = (0, 0), view: SourceView | None = None,
              ) -> tuple[Float[np.ndarray, "H W 2"], Bool[np.ndarray, "H W"], Float[np.ndarray, "H W"]]:
    """Backward flow of the visible target surface (see the module docstring), its mask and
    its confidence (the mask as 0/1 without ``view``).

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
    conf = mask.astype(np.float64)
    rows, cols = np.nonzero(mask)
    if len(rows):
        corners = faces[ras.triangle_id[rows, cols]]  # (P, 3)
        b = ras.bary[rows, cols].astype(np.float64)  # (P, 3)
        # p: pixel, k: corner, c: xyz
        src_pts = np.einsum("pk,pkc->pc", b, src_cam[corners])
        src_px = project_points(src_pts, fx, fy, cx - c0, cy - r0)
        flow[rows, cols] = src_px - np.stack([cols + 0.5, rows + 0.5], 1)
        if view is not None:
            conf[rows, cols] = _confidence(view, src_pts, corners, b)
    return flow, mask, conf


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
                soft_mask: Float[np.ndarray, "H W"] | None = None,
                confidence: Float[np.ndarray, "H W"] | None = None,
                still: Float[np.ndarray, "H W"] | None = None, feather: float = 0.0) -> Float[np.ndarray, "H W 2"]:
    """The flow where ``confidence`` is 1 unchanged (default: inside ``mask``), elsewhere
    filled by :func:`push_pull` from it (blended where it is fractional), and faded to zero
    over ``radius`` pixels beyond ``mask`` (times ``soft_mask`` outside ``mask`` when given).

    ``still``: pixels outside ``mask`` known not to move (weight in [0, 1], e.g. the
    background): they take part in the fill as zero flow, so that the motion decays smoothly
    between the mesh and them instead of being cut off at their edge (a seam).

    ``feather`` (pixels): the mesh's weights fall to 0 over about this distance inside the edge
    of each region where they are known. Push-pull keeps known values exactly and fills the rest from a
    coarser level, so at a hard edge of the weights the flow jumps (from the exact value to
    the fill's average): the photo tears there. Feathered, the flow blends continuously."""
    if not mask.any():
        return np.zeros_like(flow)
    k = mask.astype(np.float32) if confidence is None else np.where(mask, confidence, 0.0).astype(np.float32)
    if k.max() <= 0:
        return np.zeros_like(flow)
    values = np.where(mask[..., None], flow, 0.0).astype(np.float32)
    if feather > 0:
        k = np.clip(2.0 * cv2.GaussianBlur(k, (0, 0), feather) - 1.0, 0.0, 1.0) * k
    if still is not None:  # not feathered: the still pixels stay exactly still
        k = np.where(mask, k, np.clip(still, 0.0, 1.0)).astype(np.float32)
    filled = push_pull(values, k)
    dist = cv2.distanceTransform(np.where(mask, 0, 255).astype(np.uint8), cv2.DIST_L2, 5)
    fade = smoothstep(1.0 - dist / max(radius, 1e-6))
    if soft_mask is not None:
        fade = np.where(mask, 1.0, fade * soft_mask)
    return (filled * fade[..., None]).astype(flow.dtype)


def upsample_flow(flow: Float[np.ndarray, "h w 2"], factor: int) -> Float[np.ndarray, "H W 2"]:
    """A flow computed on pixels ``factor`` times larger (scaled intrinsics, window origin a
    multiple of ``factor``), in full-size pixels: bilinear, pixel centres aligned, float32."""
    if factor == 1:
        return flow.astype(np.float32)
    h, w = flow.shape[:2]
    up = cv2.resize(flow.astype(np.float32), (w * factor, h * factor), interpolation=cv2.INTER_LINEAR)
    return up * np.float32(factor)


def footprint(map_x: Float[np.ndarray, "H W"], map_y: Float[np.ndarray, "H W"]) -> Float[np.ndarray, "H W"]:
    """Largest singular value of the sampling map's Jacobian (source pixels per output pixel
    along the most compressed direction; 1 for a shift, 2 where the warp halves the picture)."""
    a, b = np.gradient(map_x)  # d/drow, d/dcol
    c, d = np.gradient(map_y)
    s = a * a + b * b + c * c + d * d
    det = a * d - b * c
    return np.sqrt(0.5 * (s + np.sqrt(np.maximum(s * s - 4 * det * det, 0))))


AA_SIGMA = 0.8
"""Gaussian blur (source pixels) of the prefiltered copy that :func:`backward_warp` blends in where it compresses."""


def antialias_weight(scale: Float[np.ndarray, "*shape"]) -> Float[np.ndarray, "*shape"]:
    """How much of the prefiltered copy to take for a footprint ``scale``: the Gaussian a
    resampling by ``scale`` needs (sigma = sqrt(scale^2 - 1) / 2, 0 for no compression), as a
    fraction of :data:`AA_SIGMA` (capped at 1)."""
    return np.clip(0.5 * np.sqrt(np.maximum(scale * scale - 1.0, 0.0)) / AA_SIGMA, 0.0, 1.0)


def _prefilter(image: np.ndarray, sampled: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, moving: np.ndarray,
               interpolation: int) -> None:
    """Blend the prefiltered copy into ``sampled`` (in place) where the map compresses."""
    weight = antialias_weight(footprint(map_x, map_y)).astype(np.float32) * moving
    rows, cols = np.nonzero((weight > 1e-3).any(1))[0], np.nonzero((weight > 1e-3).any(0))[0]
    if not len(rows):
        return
    ra, rb, ca, cb = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    mx, my = map_x[ra:rb, ca:cb], map_y[ra:rb, ca:cb]
    pad = int(np.ceil(4 * AA_SIGMA)) + 2
    sx0, sy0 = max(int(np.floor(mx.min())) - pad, 0), max(int(np.floor(my.min())) - pad, 0)
    sx1, sy1 = min(int(np.ceil(mx.max())) + pad, image.shape[1]), min(int(np.ceil(my.max())) + pad, image.shape[0])
    if sx1 <= sx0 or sy1 <= sy0:
        return
    soft = cv2.GaussianBlur(np.ascontiguousarray(image[sy0:sy1, sx0:sx1]), (0, 0), AA_SIGMA)
    blurred = cv2.remap(soft, mx - np.float32(sx0), my - np.float32(sy0), cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE).reshape(rb - ra, cb - ca, -1).astype(np.float32)
    part = sampled[ra:rb, ca:cb]
    mixed = part.astype(np.float32)
    mixed += (blurred - mixed) * weight[ra:rb, ca:cb, None]
    np.copyto(part, np.clip(np.rint(mixed), 0, 255).astype(np.uint8))


def backward_warp(image: UInt8[np.ndarray, "H W C"], flow: Float[np.ndarray, "h w 2"],
                  origin: tuple[int, int] = (0, 0), interpolation: int = cv2.INTER_CUBIC,
                  antialias: bool = True) -> UInt8[np.ndarray, "H W C"]:
    """``image`` sampled at ``pixel + flow`` inside the window at ``origin`` (row, col) where
    the flow moves more than :data:`STILL_PX`; every other pixel is returned unchanged.
    ``interpolation``: a cv2 flag (bicubic keeps the photo's detail; bilinear blurs it).
    ``antialias``: where the warp compresses the picture (a nod or a lowered lid squeezes it),
    blend in a copy prefiltered with a Gaussian (:func:`antialias_weight`), so the compressed
    detail does not alias into edges sharper than the photo's; a shift or a stretch is untouched."""
    out = image.copy()
    h, w = flow.shape[:2]
    r0, c0 = origin
    flow = flow.astype(np.float32, copy=False)
    moving = (flow[..., 0] * flow[..., 0] + flow[..., 1] * flow[..., 1]) > np.float32(STILL_PX * STILL_PX)
    if not moving.any():
        return out
    map_x = flow[..., 0] + (np.arange(w, dtype=np.float32) + np.float32(c0))[None, :]
    map_y = flow[..., 1] + (np.arange(h, dtype=np.float32) + np.float32(r0))[:, None]
    sampled = cv2.remap(image, map_x, map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)
    if sampled.ndim == 2:
        sampled = sampled[..., None]
    sampled = sampled.reshape(h, w, -1)
    if antialias:
        _prefilter(image, sampled, map_x, map_y, moving, interpolation)
    window = out[r0:r0 + h, c0:c0 + w]
    np.copyto(window, sampled, where=moving[..., None])
    return out
