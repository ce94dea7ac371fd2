"""The silhouette term of the body fit: projected body points vs a person mask, CPU-cheap.

Two one-sided chamfer terms, both differentiable w.r.t. the projected points:

* inside: every projected body point should fall on the mask -- the distance transform of
  the mask's outside, sampled bilinearly at the points (0 inside the mask);
* coverage: every sample of the mask's boundary should have a projected body point near
  it -- its distance to the nearest one. On a clothed person only the boundary where skin
  (or tight clothing) shows is the body's own outline: with a ``tight`` mask the other
  boundary samples get no coverage weight (:attr:`SilhouetteTarget.boundary_weight`), so a
  thick coat bounds the body from outside (the inside term) without inflating it.

Occlusion does not matter for a silhouette (hidden points still project inside it), so no
rasterisation is needed: a few thousand surface points spread over the body suffice. The
mask is worked on at most :data:`MAX_SIDE` pixels long; distances come back in image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float, Int
from torch import Tensor

__all__ = ["SilhouetteTarget", "silhouette_target", "silhouette_terms", "surface_samples", "MAX_SIDE", "TIGHT_REACH"]

MAX_SIDE = 512
"""Longest side of the working copy of the mask."""

TIGHT_REACH = 0.006
"""How far (share of the working mask's height) a boundary sample may be from a ``tight``
pixel and still count as the body's outline (the parsing's labels stop short of the mask's
soft edge)."""


@dataclass
class SilhouetteTarget:
    """A person mask prepared for :func:`silhouette_terms`."""

    outside_dt: Float[Tensor, "1 1 h w"]
    """Distance (image pixels) from each working pixel to the mask; 0 on the mask."""
    boundary: Float[Tensor, "N 2"]
    """Samples of the mask's outer boundary, image pixels (x right, y down)."""
    image_size: tuple[int, int]
    """``(width, height)`` of the image the mask covers."""
    boundary_weight: Float[Tensor, " N"] | None = None
    """Coverage weight of each boundary sample (1 where the outline is the body's own: skin
    or tight clothing; 0 on loose clothing); None: every sample counts."""


def silhouette_target(
    mask: Float[np.ndarray, "H W"], image_size: tuple[int, int] | None = None, n_boundary: int = 400,
    threshold: float = 0.5, tight: Bool[np.ndarray, "H W"] | None = None,
) -> SilhouetteTarget | None:
    """Distance transform and boundary samples of ``mask > threshold`` (blobs with at least a
    tenth of the largest one's area), in the pixels of an image of ``image_size`` (default:
    the mask's own size; the mask is stretched over that image). None when the mask is empty.

    ``tight`` (same size as ``mask``): where the person's outline is the body's own (skin,
    tight clothing). Boundary samples within :data:`TIGHT_REACH` of it get coverage weight 1,
    the others 0 (see :attr:`SilhouetteTarget.boundary_weight`)."""
    height, width = mask.shape
    img_w, img_h = image_size or (width, height)
    s = min(1.0, MAX_SIDE / max(height, width))
    small = cv2.resize(mask.astype(np.float32), (max(1, round(width * s)), max(1, round(height * s))),
                       interpolation=cv2.INTER_AREA) if s < 1 else mask.astype(np.float32)
    binary = (small > threshold).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 1:
        return None
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = 1 + np.flatnonzero(areas >= 0.1 * areas.max())
    binary = np.isin(labels, keep).astype(np.uint8)
    # Image pixels per working pixel, per axis (the distance uses their mean).
    kx, ky = img_w / binary.shape[1], img_h / binary.shape[0]
    # Distance of each outside pixel centre to the nearest mask pixel centre, image pixels.
    dt = cv2.distanceTransform(1 - binary, cv2.DIST_L2, 5).astype(np.float32) * (kx + ky) / 2
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    pts = np.concatenate([c[:, 0, :] for c in contours], 0).astype(np.float64)
    step = max(1, len(pts) // n_boundary)
    pts_small = pts[::step]
    pts = (pts_small + 0.5) * np.array([kx, ky])
    weight = None
    if tight is not None:
        if tight.shape != mask.shape:
            raise ValueError(f"tight mask {tight.shape} must have the mask's shape {mask.shape}")
        t_small = cv2.resize(tight.astype(np.uint8), (binary.shape[1], binary.shape[0]), interpolation=cv2.INTER_NEAREST)
        reach = max(1, int(round(TIGHT_REACH * binary.shape[0])))
        t_small = cv2.dilate(t_small, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1)))
        ij = pts_small.astype(np.int64)
        weight = torch.as_tensor(t_small[ij[:, 1], ij[:, 0]], dtype=torch.float32)
    return SilhouetteTarget(torch.from_numpy(dt)[None, None], torch.as_tensor(pts, dtype=torch.float32),
                            (int(img_w), int(img_h)), weight)


def silhouette_terms(uv: Float[Tensor, "S 2"], target: SilhouetteTarget) -> tuple[Float[Tensor, " S"], Float[Tensor, " N"]]:
    """``(outside distance of each projected point, distance of each boundary sample to the
    nearest projected point)``, both in image pixels."""
    width, height = target.image_size
    # grid_sample with align_corners=False: -1 and 1 are the image's outer edges, which is
    # the continuous pixel convention (pixel j covers [j, j + 1)).
    grid = torch.stack([uv[:, 0] / width * 2 - 1, uv[:, 1] / height * 2 - 1], -1)[None, None]
    outside = F.grid_sample(target.outside_dt, grid, mode="bilinear", padding_mode="border", align_corners=False)
    outside = outside[0, 0, 0]
    # Points projected beyond the image border get the border's distance plus how far out they are.
    beyond = (uv[:, 0] - uv[:, 0].clamp(0, width)).abs() + (uv[:, 1] - uv[:, 1].clamp(0, height)).abs()
    # Nearest projected point of each boundary sample, picked without gradient (the pick is
    # piecewise constant), then the distance to it differentiably: cheap to backpropagate.
    with torch.no_grad():
        nearest = torch.cdist(target.boundary, uv).argmin(1)
    cover = (target.boundary - uv[nearest]).norm(dim=-1)
    return outside + beyond, cover


def surface_samples(vertices: Float[np.ndarray, "V 3"], spacing: float = 0.025) -> Int[np.ndarray, " S"]:
    """Vertex ids spread over the body: the vertex nearest each occupied cell of a
    ``spacing``-metre grid (deterministic)."""
    cell = np.floor(vertices / spacing).astype(np.int64)
    centre = (cell + 0.5) * spacing
    d = np.linalg.norm(vertices - centre, axis=1)
    order = np.lexsort((d, cell[:, 2], cell[:, 1], cell[:, 0]))
    c = cell[order]
    first = np.ones(len(order), bool)
    first[1:] = np.any(c[1:] != c[:-1], axis=1)
    return np.sort(order[first])
