"""Rasterise a UV layout: which triangle covers each texel centre, with what barycentrics.

UV convention (OBJ): ``(0, 0)`` is the texture's bottom-left; image row 0 is the top. Texel
``(i, j)`` of an ``H x W`` texture has its centre at ``u = (j + 0.5) / W``,
``v = 1 - (i + 0.5) / H`` -- the same texel grid :func:`.interpolate.texture` samples. The
layout is rasterised orthographically (plain UV-space barycentrics), with the same kernel and
edge rule as :func:`.raster.rasterize`; where islands overlap, the earlier triangle wins.
Triangle winding is irrelevant (nothing is culled).
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float, Int

from avatarforge.errors import UserInputError
from avatarforge.render.raster import Raster, rasterize

__all__ = ["rasterize_uv", "uv_to_pixel", "texel_uvs"]


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    height, width = (size, size) if np.isscalar(size) else size
    return int(height), int(width)


def uv_to_pixel(uvs: Float[np.ndarray, "T 2"], size: int | tuple[int, int]) -> Float[np.ndarray, "T 2"]:
    """UVs -> texture pixel coordinates ``(x right, y down)`` of an ``(H, W)`` (or square) texture."""
    height, width = _size(size)
    uvs = np.asarray(uvs, dtype=np.float64)
    return np.stack([uvs[:, 0] * width, (1.0 - uvs[:, 1]) * height], axis=-1)


def texel_uvs(size: int | tuple[int, int]) -> Float[np.ndarray, "H W 2"]:
    """UV of every texel centre of an ``(H, W)`` (or square) texture."""
    height, width = _size(size)
    u = (np.arange(width) + 0.5) / width
    v = 1.0 - (np.arange(height) + 0.5) / height
    return np.stack(np.meshgrid(u, v, indexing="xy"), axis=-1)


def rasterize_uv(
    uvs: Float[np.ndarray, "T 2"] | Float[torch.Tensor, "T 2"],
    uv_faces: Int[np.ndarray, "F 3"] | Int[torch.Tensor, "F 3"],
    size: int | tuple[int, int],
) -> Raster:
    """For each texel centre of an ``(H, W)`` texture (``size`` int: square), the UV triangle
    covering it and its barycentrics w.r.t. ``uv_faces[id, 0..2]``.

    The returned :class:`Raster` has ``perspective=False`` and depth 1 on covered texels, so
    ``interpolate(attr, faces, raster)`` maps any per-vertex attribute (3D positions, normals)
    into texture space when ``faces`` and ``uv_faces`` describe the same triangles.
    """
    if isinstance(uvs, torch.Tensor):
        uvs = uvs.detach().cpu().numpy()
    uvs = np.asarray(uvs, dtype=np.float64)
    if uvs.ndim != 2 or uvs.shape[1] != 2:
        raise UserInputError(f"uvs must be (T, 2), got {uvs.shape}")
    height, width = _size(size)
    screen = np.concatenate([uv_to_pixel(uvs, (height, width)), np.ones((len(uvs), 1))], axis=1)
    return rasterize(screen, uv_faces, height, width, perspective=False)
