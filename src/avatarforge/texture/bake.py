"""Bake a photo into the UV texture through the fitted camera.

For every texel: its 3D point and normal on the fitted mesh (:mod:`.layout`), projected into
the photo. It is *visible* if the photo's z-buffer (the mesh rasterised in the photo camera)
has nothing nearer around that pixel (the minimum depth of the 2 x 2 pixels its bilinear
sample reads, plus a tolerance that grows with the surface slope). Its *weight* falls off
with the viewing angle (``n . v`` below ``cos_full`` down to ``cos_min``) and near silhouettes
and occlusion contours (distance to the nearest mask or depth edge in the photo). The colour
is the photo sampled bilinearly with pixel centres at integer + 0.5, converted to **linear RGB**.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from jaxtyping import Bool, Float, Int, UInt8

from avatarforge.errors import UserInputError
from avatarforge.render.camera import Camera
from avatarforge.render.raster import rasterize
from avatarforge.util.colour import from_uint8
from avatarforge.util.image import smoothstep
from avatarforge.texture.layout import TexelLayout, TexelSurface, texel_layout, texel_surface, unpack

__all__ = ["BakeConfig", "BakeResult", "bake", "bilinear"]


@dataclass
class BakeConfig:
    """Settings of :func:`bake`."""

    size: int = 1024
    """Texture resolution (square), 8..4096."""
    depth_tolerance: float = 0.003
    """Minimum depth slack of the visibility test (metres)."""
    slope_pixels: float = 1.5
    """Extra slack, in pixels of surface run along the view ray (grows with the grazing angle)."""
    cos_min: float = 0.05
    """``n . v`` at which the weight reaches 0 (about 87 degrees)."""
    cos_full: float = 0.45
    """``n . v`` from which the weight is 1 (about 63 degrees)."""
    edge_fraction: float = 0.012
    """Width of the weight ramp at silhouettes / occlusion contours, in units of the photo's larger side."""
    depth_edge: float = 0.015
    """A depth jump between neighbouring pixels larger than this (metres) is an occlusion contour."""


@dataclass
class BakeResult:
    """The photo in texture space. Images are (S, S, ...) with row 0 at the top (v = 1)."""

    colour: Float[np.ndarray, "S S 3"]
    """float32 **linear** RGB in [0, 1] of the photo at each visible texel; 0 elsewhere."""
    weight: Float[np.ndarray, "S S"]
    """float32 confidence in [0, 1]: 0 where unseen (hidden, outside the photo, not baked)."""
    layout: TexelLayout
    """The packed UV raster (texel -> triangle, barycentrics)."""
    surface: TexelSurface
    """3D point and unit normal (world frame) of every covered texel on the fitted mesh."""
    pixel: Float[np.ndarray, "N 2"]
    """float32 photo coordinates ``(x right, y down)`` of every covered texel's point."""
    n_dot_v: Float[np.ndarray, " N"]
    """float32 cosine between texel normal and the direction to the camera."""
    visible: Bool[np.ndarray, " N"]
    """Texel in the photo's frame, front-facing and passing the z-buffer test."""
    photo_mask: Bool[np.ndarray, "H W"]
    """Pixels of the photo the fitted mesh covers."""


def bilinear(image: Float[np.ndarray, "H W C"], x: Float[np.ndarray, " N"], y: Float[np.ndarray, " N"]) -> np.ndarray:
    """Bilinear samples of ``image`` at pixel coordinates (centres at integer + 0.5), border-clamped."""
    h, w = image.shape[:2]
    fx, fy = x - 0.5, y - 0.5
    x0, y0 = np.floor(fx).astype(np.int64), np.floor(fy).astype(np.int64)
    ax, ay = (fx - x0).astype(np.float32)[:, None], (fy - y0).astype(np.float32)[:, None]
    x0c, x1c = np.clip(x0, 0, w - 1), np.clip(x0 + 1, 0, w - 1)
    y0c, y1c = np.clip(y0, 0, h - 1), np.clip(y0 + 1, 0, h - 1)
    top = image[y0c, x0c] * (1 - ax) + image[y0c, x1c] * ax
    bottom = image[y1c, x0c] * (1 - ax) + image[y1c, x1c] * ax
    return top * (1 - ay) + bottom * ay


def _edge_distance(depth: np.ndarray, jump: float) -> np.ndarray:
    """Distance (pixels) of every covered pixel to the nearest place where its colour may
    belong to something else: the silhouette (background next to it), or -- for pixels on the
    far side of a depth discontinuity -- the occluding contour in front of it. The near side
    of an internal contour (lips against the mouth cavity, the nose against the cheek) is not
    penalised: the occluder's own colour is safe to take."""
    covered = np.isfinite(depth)
    sil = cv2.distanceTransform(covered.astype(np.uint8), cv2.DIST_L2, 3)
    d = np.where(covered, depth, np.float32(1e6)).astype(np.float32)
    near_edge = np.zeros_like(covered)
    for axis in (0, 1):
        for shift in (1, -1):
            nb = np.roll(d, shift, axis=axis)
            near_edge |= covered & (nb > d + jump)  # this pixel occludes its neighbour
    if not near_edge.any():
        return sil
    occ, labels = cv2.distanceTransformWithLabels((~near_edge).astype(np.uint8), cv2.DIST_L2, 3,
                                                  labelType=cv2.DIST_LABEL_PIXEL)
    # Depth of the nearest occluding-contour pixel (labels number the zero pixels row-major).
    edge_depth = np.zeros(int(labels.max()) + 1, np.float32)
    edge_depth[labels[near_edge]] = d[near_edge]
    behind = d > edge_depth[labels] + jump
    return np.minimum(sil, np.where(behind, occ, np.inf)).astype(np.float32)


def bake(photo: UInt8[np.ndarray, "H W 3"], camera: Camera, vertices: Float[np.ndarray, "V 3"],
         faces: Int[np.ndarray, "F 3"], uvs: Float[np.ndarray, "T 2"], uv_faces: Int[np.ndarray, "F 3"],
         config: BakeConfig | None = None, bake_faces: Bool[np.ndarray, " F"] | None = None) -> BakeResult:
    """Project ``photo`` (uint8 sRGB) onto the texture of the mesh seen by ``camera``.

    ``bake_faces`` (per-triangle bool) limits which triangles take colour from the photo
    (e.g. the head: the rest of a head-only fit does not match the photo); the geometry
    of all texels is returned regardless.
    """
    cfg = config or BakeConfig()
    photo = np.asarray(photo)
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise UserInputError(f"photo must be (H, W, 3) uint8 sRGB, got {photo.shape} {photo.dtype}")
    if (camera.height, camera.width) != photo.shape[:2]:
        raise UserInputError(f"camera is {camera.width}x{camera.height} but the photo is "
                             f"{photo.shape[1]}x{photo.shape[0]}; use the camera fitted to this photo")
    vertices = np.asarray(vertices.detach().cpu().numpy() if hasattr(vertices, "detach") else vertices, np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    layout = texel_layout(uvs, uv_faces, cfg.size)
    surf = texel_surface(vertices, faces, layout)

    # The photo's z-buffer.
    raster = rasterize(camera.project(vertices), faces, camera.height, camera.width, perspective=camera.is_perspective)
    depth = raster.depth

    # Texel points in the photo.
    proj = camera.project(surf.positions.astype(np.float64))
    px, py, z = proj[:, 0], proj[:, 1], proj[:, 2]
    to_cam = (camera.position[None] - surf.positions) if camera.is_perspective else -camera.R[2][None]
    to_cam = to_cam / np.maximum(np.linalg.norm(to_cam, axis=1, keepdims=True), 1e-12)
    ndv = np.einsum("nc,nc->n", surf.normals, to_cam).astype(np.float32)  # n: texel, c: xyz

    h, w = depth.shape
    inside = (px >= 0) & (px < w) & (py >= 0) & (py < h) & (z > 0) & (ndv > 0)
    if bake_faces is not None:
        inside &= layout.select(bake_faces)
    idx = np.flatnonzero(inside)
    x0 = np.clip(np.floor(px[idx] - 0.5).astype(np.int64), 0, w - 2)
    y0 = np.clip(np.floor(py[idx] - 0.5).astype(np.int64), 0, h - 2)
    zmin = np.minimum(np.minimum(depth[y0, x0], depth[y0, x0 + 1]),
                      np.minimum(depth[y0 + 1, x0], depth[y0 + 1, x0 + 1]))
    pix_m = z[idx] / camera.fx if camera.is_perspective else np.full(len(idx), 1.0 / camera.fx)
    tan = np.sqrt(np.maximum(1.0 - ndv[idx] ** 2, 0.0)) / np.maximum(ndv[idx], 1e-3)
    tol = np.maximum(cfg.depth_tolerance, cfg.slope_pixels * pix_m * np.minimum(tan, 8.0))
    vis_idx = idx[z[idx] <= zmin + tol]

    edge_px = max(3.0, cfg.edge_fraction * max(h, w))
    dist = _edge_distance(depth, cfg.depth_edge)
    xi = np.clip(px[vis_idx].astype(np.int64), 0, w - 1)
    yi = np.clip(py[vis_idx].astype(np.int64), 0, h - 1)
    w_edge = smoothstep(dist[yi, xi] / edge_px)
    w_angle = smoothstep((ndv[vis_idx] - cfg.cos_min) / (cfg.cos_full - cfg.cos_min))
    weight = np.zeros(len(layout.index), np.float32)
    weight[vis_idx] = w_edge * w_angle
    colour = np.zeros((len(layout.index), 3), np.float32)
    colour[vis_idx] = bilinear(from_uint8(photo), px[vis_idx], py[vis_idx])
    visible = np.zeros(len(layout.index), bool)
    visible[vis_idx] = True
    return BakeResult(
        colour=unpack(colour, layout), weight=unpack(weight, layout), layout=layout, surface=surf,
        pixel=np.stack([px, py], -1).astype(np.float32), n_dot_v=ndv, visible=visible, photo_mask=raster.mask,
    )
