"""Differentiable per-pixel maths in torch, on the pixels a :class:`Raster` covers.

The rasteriser picks triangles; barycentrics and attributes are recomputed here in torch,
so gradients flow to vertex positions, vertex attributes and textures (the rasterisation
itself, i.e. which triangle covers which pixel, has no gradient).

Per-pixel values are "packed": one row per covered pixel, ``N = raster.mask.sum()``, in the
row-major order of ``raster.mask`` (batch first when batched). :func:`to_image` unpacks them.

UV convention (OBJ): ``(0, 0)`` is the texture image's bottom-left, ``(1, 1)`` its top-right;
image row 0 is the top, so texel row ``= (1 - v) * H``. Texel ``(i, j)`` has its centre at
``u = (j + 0.5) / W``, ``v = 1 - (i + 0.5) / H`` (grid_sample with ``align_corners=False``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from avatarforge.errors import UserInputError
from avatarforge.render.raster import Raster

__all__ = ["barycentrics", "interpolate", "texture", "to_image", "index_tensor"]


def index_tensor(faces: Int[Tensor, "F 3"] | Int[np.ndarray, "F 3"], device=None) -> Int[Tensor, "F 3"]:
    """Faces (numpy of any int dtype and strides, or torch) as a long tensor on ``device``."""
    if not isinstance(faces, Tensor):
        faces = torch.from_numpy(np.ascontiguousarray(faces, dtype=np.int64))
    return faces.to(device=device, dtype=torch.long)


def _corners(raster: Raster, faces, device) -> tuple[tuple[np.ndarray, ...], Tensor]:
    """Covered-pixel indices and the (N, 3) vertex indices of their triangles."""
    idx = raster.covered()
    tri = torch.from_numpy(raster.triangle_id[idx].astype(np.int64)).to(device)
    return idx, index_tensor(faces, device)[tri]


def _gather(values: Tensor, corner: Tensor, idx: tuple[np.ndarray, ...], raster: Raster, what: str) -> Tensor:
    """``values[(b,) corner]`` -> (N, 3, C): per-pixel corner values, batched or shared."""
    batched_raster = len(raster.shape) == 3
    if values.ndim == 3:
        if not batched_raster or values.shape[0] != raster.shape[0]:
            raise UserInputError(
                f"{what} is batched {tuple(values.shape)} but the raster has shape {raster.shape}; "
                "rasterise the same batch"
            )
        b = torch.from_numpy(idx[0]).to(values.device)
        return values[b[:, None], corner]
    if values.ndim != 2:
        raise UserInputError(f"{what} must be (V, C) or (B, V, C), got {tuple(values.shape)}")
    return values[corner]


def barycentrics(
    screen: Float[Tensor, "*B V 3"],
    faces: Int[Tensor, "F 3"] | Int[np.ndarray, "F 3"],
    raster: Raster,
    perspective: bool | None = None,
) -> Float[Tensor, "N 3"]:
    """Barycentrics ``(b0, b1, b2)`` of each covered pixel centre, differentiable w.r.t. ``screen``.

    ``screen`` holds ``(px, py, depth)`` per vertex (e.g. ``camera.project`` of torch vertices),
    the same positions the raster was made from; weights refer to ``faces[tri, 0..2]``.
    ``perspective`` (default: as rasterised) divides screen weights by vertex depth and
    renormalises, which makes them the weights of the 3D surface point seen in the pixel.
    """
    perspective = raster.perspective if perspective is None else perspective
    idx, corner = _corners(raster, faces, screen.device)
    p = _gather(screen, corner, idx, raster, "screen")  # (N, 3 corners, 3 coords)
    px = torch.as_tensor(idx[-1] + 0.5, dtype=screen.dtype, device=screen.device)
    py = torch.as_tensor(idx[-2] + 0.5, dtype=screen.dtype, device=screen.device)
    (x0, x1, x2), (y0, y1, y2) = p[..., 0].unbind(-1), p[..., 1].unbind(-1)
    # Edge functions, exactly as in the rasteriser's kernel: w_k is opposite vertex k.
    w0 = (x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)
    w1 = (x0 - x2) * (py - y2) - (y0 - y2) * (px - x2)
    w2 = (x1 - x0) * (py - y0) - (y1 - y0) * (px - x0)
    area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
    lam = torch.stack([w0, w1, w2], dim=-1) / area[:, None]
    if not perspective:
        return lam
    q = lam / p[..., 2]
    return q / q.sum(dim=-1, keepdim=True)


def interpolate(
    attr: Float[Tensor, "*B V C"],
    faces: Int[Tensor, "F 3"] | Int[np.ndarray, "F 3"],
    raster: Raster,
    bary: Float[Tensor, "N 3"] | None = None,
) -> Float[Tensor, "N C"]:
    """Interpolate per-vertex attributes at the covered pixels: ``sum_k b_k attr[faces[tri, k]]``.

    ``faces`` may be another index buffer with the same triangles, e.g. ``uv_faces`` with
    ``attr = uvs`` for per-corner UVs across seams. ``bary`` defaults to ``raster.bary``
    (no gradient to positions); pass :func:`barycentrics` for gradients to the vertices.
    """
    idx, corner = _corners(raster, faces, attr.device)
    if bary is None:
        bary = torch.from_numpy(raster.bary[idx]).to(device=attr.device, dtype=attr.dtype)
    a = _gather(attr, corner, idx, raster, "attr")  # (N, 3, C)
    return torch.einsum("nk,nkc->nc", bary, a)  # n: pixel, k: triangle corner, c: channel


def to_image(
    values: Float[Tensor, "N C"],
    raster: Raster,
    background: float | tuple[float, ...] | Tensor = 0.0,
) -> Float[Tensor, "*B H W C"]:
    """Unpack per-pixel values into an image, ``background`` elsewhere (differentiable)."""
    flat = np.flatnonzero(raster.mask)  # row-major, as everywhere in this module
    if values.ndim != 2 or values.shape[0] != flat.shape[0]:
        raise UserInputError(
            f"values must be (N, C) with N = {flat.shape[0]} covered pixels, got {tuple(values.shape)}"
        )
    bg = torch.as_tensor(background, dtype=values.dtype, device=values.device)
    image = bg.expand(raster.mask.size, values.shape[1]).clone()
    image = image.index_put((torch.from_numpy(flat).to(values.device),), values)
    return image.view(*raster.shape, values.shape[1])


def texture(
    tex: Float[Tensor, "H W C"],
    uv: Float[Tensor, "N 2"],
    mode: str = "bilinear",
    padding_mode: str = "border",
) -> Float[Tensor, "N C"]:
    """Sample ``tex`` at ``uv`` (OBJ convention, see module docstring); differentiable in both.

    Bilinear between texel centres, clamped to the border outside ``[0, 1]``.
    """
    if tex.ndim != 3 or uv.ndim != 2 or uv.shape[1] != 2:
        raise UserInputError(f"texture expects tex (H, W, C) and uv (N, 2), got {tuple(tex.shape)}, {tuple(uv.shape)}")
    # grid_sample's (x, y) in [-1, 1]: x = -1 is the left edge, y = -1 the top edge of row 0.
    grid = torch.stack([2.0 * uv[:, 0] - 1.0, 1.0 - 2.0 * uv[:, 1]], dim=-1).to(tex.dtype)
    out = F.grid_sample(
        tex.permute(2, 0, 1)[None], grid[None, None], mode=mode, padding_mode=padding_mode, align_corners=False
    )  # (1, C, 1, N)
    return out[0, :, 0].T
