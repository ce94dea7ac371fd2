"""Texture space: which surface point every texel of a UV layout stands for.

A :class:`TexelLayout` is the rasterised UV layout of one resolution, packed: one row per
covered texel in row-major order (texel ``(i, j)`` of an ``S x S`` texture has flat index
``i * S + j``; row 0 is the top, ``v = 1 - (i + 0.5) / S``, see :mod:`avatarforge.render.uv`).
It depends on the UVs only, so it is computed once per (layout, size) and kept in memory.
:func:`texel_surface` then places the texels on a posed mesh (3D point + unit normal),
which is cheap and redone for every shape.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int

from avatarforge.errors import UserInputError
from avatarforge.render.uv import rasterize_uv
from avatarforge.util.geometry import vertex_normals

__all__ = ["TexelLayout", "TexelSurface", "texel_layout", "texel_surface",
           "unpack", "layout_key"]

MAX_SIZE = 4096


@dataclass(frozen=True)
class TexelLayout:
    """Covered texels of an ``size x size`` texture (N of them), row-major."""

    size: int
    index: Int[np.ndarray, " N"]
    """int64 flat texel index ``row * size + col``."""
    triangle: Int[np.ndarray, " N"]
    """int64 triangle (index into ``faces`` / ``uv_faces``) covering the texel centre."""
    bary: Float[np.ndarray, "N 3"]
    """float32 barycentrics of the texel centre w.r.t. ``uv_faces[triangle, 0..2]`` (= ``faces``)."""
    triangle_id: Int[np.ndarray, "S S"]
    """int32 map of ``triangle``; -1 on texels no triangle covers."""

    @property
    def mask(self) -> np.ndarray:
        """(S, S) bool: texels covered by the layout."""
        return self.triangle_id >= 0

    def select(self, faces_mask: np.ndarray) -> np.ndarray:
        """(N,) bool: texels whose triangle is in the boolean per-face ``faces_mask``."""
        return np.asarray(faces_mask, dtype=bool)[self.triangle]


@dataclass(frozen=True)
class TexelSurface:
    """Every covered texel placed on a mesh."""

    positions: Float[np.ndarray, "N 3"]
    """float32 3D point (mesh units, world frame)."""
    normals: Float[np.ndarray, "N 3"]
    """float32 unit normal interpolated from area-weighted vertex normals."""


_CACHE: OrderedDict = OrderedDict()
_CACHE_ENTRIES = 4


def layout_key(uvs: np.ndarray, uv_faces: np.ndarray) -> str:
    """A short digest identifying a UV layout (for in-memory and on-disk caches)."""
    h = hashlib.sha1(np.ascontiguousarray(uvs, dtype=np.float32).tobytes())
    h.update(np.ascontiguousarray(uv_faces, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def _np(a, dtype) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.ascontiguousarray(a, dtype=dtype)


def texel_layout(uvs: Float[np.ndarray, "T 2"], uv_faces: Int[np.ndarray, "F 3"], size: int) -> TexelLayout:
    """The packed UV raster of ``size x size`` texels (cached in memory per layout and size)."""
    size = int(size)
    if not 8 <= size <= MAX_SIZE:
        raise UserInputError(f"texture size must be between 8 and {MAX_SIZE}, got {size}")
    uvs, uv_faces = _np(uvs, np.float64), _np(uv_faces, np.int64)
    key = (layout_key(uvs, uv_faces), size)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    r = rasterize_uv(uvs, uv_faces, size)
    index = np.flatnonzero(r.mask)
    layout = TexelLayout(size, index, r.triangle_id.ravel()[index].astype(np.int64),
                         r.bary.reshape(-1, 3)[index], r.triangle_id)
    _CACHE[key] = layout
    while len(_CACHE) > _CACHE_ENTRIES:
        _CACHE.popitem(last=False)
    return layout


def texel_surface(vertices: Float[np.ndarray, "V 3"], faces: Int[np.ndarray, "F 3"],
                  layout: TexelLayout) -> TexelSurface:
    """3D point and unit normal of every texel of ``layout`` on the mesh ``(vertices, faces)``."""
    v = _np(vertices, np.float32)
    f = _np(faces, np.int64)
    if v.ndim != 2 or v.shape[1] != 3:
        raise UserInputError(f"vertices must be (V, 3), got {v.shape}")
    corner = f[layout.triangle]  # (N, 3) vertex ids
    b = layout.bary
    # n: texel, k: triangle corner, c: coordinate
    pos = np.einsum("nk,nkc->nc", b, v[corner])
    nrm = np.einsum("nk,nkc->nc", b, vertex_normals(v, f)[corner])
    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
    return TexelSurface(pos.astype(np.float32), nrm.astype(np.float32))


def unpack(values: np.ndarray, layout: TexelLayout, background=0.0, dtype=np.float32) -> np.ndarray:
    """Packed per-texel values (N, ...) -> an (S, S, ...) image, ``background`` elsewhere."""
    values = np.asarray(values)
    out = np.empty((layout.size * layout.size, *values.shape[1:]), dtype=dtype)
    out[...] = background
    out[layout.index] = values
    return out.reshape(layout.size, layout.size, *values.shape[1:])
