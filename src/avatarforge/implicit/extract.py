"""Meshes from occupancy fields (marching cubes) and the metrics of the SNARF comparison."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float

__all__ = ["extract_mesh", "drop_small_components", "posed_box", "iou", "chamfer_mm", "render_views", "render_row", "chamfer_points_mm"]


def posed_box(bones: Float[np.ndarray, "M 2 3"], transforms: Float[np.ndarray, "M 4 4"], pad: float = 0.25) -> np.ndarray:
    """(2, 3) box around the posed bone segments padded by ``pad`` metres (where the body can be)."""
    ends = np.einsum("mij,mkj->mki", transforms[:, :3, :3], bones) + transforms[:, None, :3, 3]
    ends = ends.reshape(-1, 3)
    return np.stack([ends.min(0) - pad, ends.max(0) + pad])


@torch.no_grad()
def _grid_eval(fn: Callable[[torch.Tensor], torch.Tensor], pts: np.ndarray, chunk: int) -> np.ndarray:
    out = np.empty(len(pts), np.float32)
    for s in range(0, len(pts), chunk):
        out[s:s + chunk] = torch.sigmoid(fn(torch.as_tensor(pts[s:s + chunk], dtype=torch.float32))).numpy()
    return out


def drop_small_components(vertices: Float[np.ndarray, "V 3"], faces: np.ndarray,
                          min_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mesh without its small connected components ("floaters"): a component (triangles
    connected through shared vertices) is kept if it has at least ``min_fraction`` times the
    triangles of the largest one (``min_fraction=1``: the largest only). Unused vertices are
    dropped and faces re-indexed; the kept triangles keep their order. Returns (vertices, faces,
    the kept vertices' indices in the input)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    f = np.asarray(faces, np.int64)
    nv = len(vertices)
    if not len(f):
        return np.asarray(vertices), f, np.arange(nv)
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]]])
    _, comp = connected_components(coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(nv, nv)), directed=False)
    face_comp = comp[f[:, 0]]
    count = np.bincount(face_comp)
    keep_face = count[face_comp] >= min_fraction * count.max()
    f = f[keep_face]
    used = np.zeros(nv, bool)
    used[f.ravel()] = True
    new_index = np.cumsum(used) - 1
    return np.asarray(vertices)[used], new_index[f], np.flatnonzero(used)


def extract_mesh(fn: Callable[[torch.Tensor], torch.Tensor], box: Float[np.ndarray, "2 3"], resolution: int = 128,
                 coarse: int = 4, chunk: int = 32768, level: float = 0.5,
                 min_component: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes (scikit-image) of the occupancy ``sigmoid(fn(points))`` at ``level`` on a
    ``resolution``^3 grid over ``box``. ``fn`` maps (n, 3) float32 points to n logits.

    Coarse to fine: the field is evaluated on a grid ``coarse`` times sparser, upsampled
    trilinearly, and only re-evaluated where the upsampled value is not clearly inside/outside
    (or next to such a node). Floaters are removed: connected components with fewer than
    ``min_component`` times the triangles of the largest are dropped
    (:func:`drop_small_components`; 0 keeps everything). Returns (vertices, faces) (empty arrays
    if no surface)."""
    from scipy.ndimage import binary_dilation
    from skimage.measure import marching_cubes

    box = np.asarray(box, np.float64)
    axes = [np.linspace(box[0, a], box[1, a], resolution) for a in range(3)]
    nc = max(resolution // coarse, 8) if coarse > 1 else resolution
    caxes = [np.linspace(box[0, a], box[1, a], nc) for a in range(3)]
    cpts = np.stack(np.meshgrid(*caxes, indexing="ij"), -1).reshape(-1, 3)
    vals = _grid_eval(fn, cpts, chunk).reshape(nc, nc, nc)
    if nc != resolution:
        up = F.interpolate(torch.from_numpy(vals)[None, None], size=(resolution,) * 3, mode="trilinear",
                           align_corners=True)[0, 0].numpy()
        band = binary_dilation((up > 0.02) & (up < 0.98), iterations=1)
        idx = np.argwhere(band)
        pts = np.stack([axes[0][idx[:, 0]], axes[1][idx[:, 1]], axes[2][idx[:, 2]]], 1)
        up[band] = _grid_eval(fn, pts, chunk)
        vals = up
    if not (vals.min() < level < vals.max()):
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    spacing = tuple((box[1] - box[0]) / (resolution - 1))
    v, f, _, _ = marching_cubes(vals, level=level, spacing=spacing)
    f = f[:, ::-1].astype(np.int64)  # skimage's faces wind inward for our sign
    if min_component > 0:
        v, f, _ = drop_small_components(v, f, min_component)
    return v + box[0], f


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Intersection over union of two boolean occupancy vectors."""
    union = np.logical_or(pred, gt).sum()
    return float(np.logical_and(pred, gt).sum() / union) if union else 1.0


def chamfer_mm(va: np.ndarray, fa: np.ndarray, vb: np.ndarray, fb: np.ndarray, n: int = 20000, seed: int = 0,
               dense: int = 10) -> float:
    """Symmetric Chamfer distance in millimetres (mean of both directions' mean distance) between
    two meshes (metres): ``n`` area-uniform samples of one surface against ``dense * n`` samples of
    the other (the dense side stands for the surface, keeping the sampling floor low)."""
    from scipy.spatial import cKDTree

    from avatarforge.implicit.data import sample_near_surface

    if len(fa) == 0 or len(fb) == 0:
        return float("inf")
    rng = np.random.default_rng(seed)
    va, vb = np.asarray(va, np.float64), np.asarray(vb, np.float64)
    d_ab = cKDTree(sample_near_surface(rng, vb, fb, dense * n, 0.0)).query(sample_near_surface(rng, va, fa, n, 0.0))[0]
    d_ba = cKDTree(sample_near_surface(rng, va, fa, dense * n, 0.0)).query(sample_near_surface(rng, vb, fb, n, 0.0))[0]
    d_ab, d_ba = d_ab.mean(), d_ba.mean()
    return float(500.0 * (d_ab + d_ba))


def chamfer_points_mm(a: Float[np.ndarray, "N 3"], b: Float[np.ndarray, "K 3"]) -> float:
    """Symmetric Chamfer distance in millimetres between two point sets (metres): the mean of
    both directions' mean nearest-neighbour distance (the convention of :func:`chamfer_mm`)."""
    from scipy.spatial import cKDTree

    if not len(a) or not len(b):
        return float("inf")
    return float(500.0 * (cKDTree(b).query(a)[0].mean() + cKDTree(a).query(b)[0].mean()))


def render_views(vertices: np.ndarray, faces: np.ndarray, size: int = 256, colour=(0.75, 0.75, 0.8)) -> np.ndarray:
    """Front and side views of a mesh side by side, (size, 2 size, 4) uint8 RGBA."""
    from avatarforge.render import Camera, render_mesh

    centre = (vertices.min(0) + vertices.max(0)) / 2 if len(vertices) else np.array([0.0, 0.9, 0.0])
    tiles = []
    for eye in ((0.0, 0.0, 4.0), (4.0, 0.0, 0.0)):
        cam = Camera.orthographic_look_at(centre + np.asarray(eye), centre, width=size, height=size,
                                          ortho_scale=size / 2.1)
        if len(faces):
            tiles.append(render_mesh(vertices, faces, cam, base_color=colour, background=(255, 255, 255, 255)).rgba)
        else:
            tiles.append(np.full((size, size, 4), 255, np.uint8))
    return np.concatenate(tiles, 1)


def render_row(meshes: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]], size: int = 256,
               colour=(0.75, 0.75, 0.8)) -> np.ndarray:
    """Front views of several meshes side by side on one shared scale, (size, n size, 4) uint8.

    Each mesh is (vertices, faces, unit vertex normals or None); given normals (e.g. a detail
    network's) shade it instead of the mesh's own."""
    from avatarforge.render import Camera, render_mesh

    tiles = []
    for v, f, n in meshes:
        if not len(f):
            tiles.append(np.full((size, size, 4), 255, np.uint8))
            continue
        centre = (v.min(0) + v.max(0)) / 2
        cam = Camera.orthographic_look_at(centre + np.array([0.0, 0.0, 4.0]), centre, width=size, height=size,
                                          ortho_scale=size / 2.1)
        nrm = None if n is None else np.where(np.linalg.norm(n, axis=1, keepdims=True) > 0.5, n, 0.0)
        if nrm is not None and not np.any(nrm):
            nrm = None
        tiles.append(render_mesh(v, f, cam, base_color=colour, background=(255, 255, 255, 255), normals=nrm).rgba)
    return np.concatenate(tiles, 1)
