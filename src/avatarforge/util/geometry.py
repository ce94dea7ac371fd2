"""Geometry primitives shared by every stage: normals, rigid/similarity alignment, rotations.

numpy functions come first; the torch variants (differentiable, used by the renderer and the
fits) sit beside them with a ``_torch`` suffix or a torch-only name. torch is imported inside
the torch functions so that numpy-only callers (export, perception) do not load it; their
``Tensor`` annotations are therefore only checked statically (the runtime jaxtyping hook cannot
resolve a name imported under ``TYPE_CHECKING``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from jaxtyping import Float, Int

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["face_normals", "vertex_normals", "vertex_normals_torch", "umeyama", "axis_angle_to_matrix"]

#: Summed normals shorter than this count as "no normal" (isolated or only degenerate faces).
_TINY = 1e-20


def face_normals(vertices: Float[np.ndarray, "V 3"], faces: Int[np.ndarray, "F 3"]) -> Float[np.ndarray, "F 3"]:
    """Unit normals of the triangles (counter-clockwise seen from the front); 0 for degenerate ones.

    Computed in the vertices' dtype.
    """
    v, f = np.asarray(vertices), np.asarray(faces)
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)


def vertex_normals(vertices: Float[np.ndarray, "V 3"], faces: Int[np.ndarray, "F 3"],
                   fallback: tuple[float, float, float] | None = None) -> Float[np.ndarray, "V 3"]:
    """Smooth unit normals per vertex: the area-weighted sum of the incident face normals.

    The cross product of two edges is the face normal scaled by twice the face area, so summing
    the raw cross products weights each face by its area. Computed in float64, returned as
    float32. A vertex whose sum is (near) zero -- used by no face, or only by degenerate ones --
    gets ``fallback`` (e.g. ``(0, 0, 1)`` where every normal must have unit length, as in glTF),
    or the zero vector when ``fallback`` is None.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    face_n = np.cross(b - a, c - a)  # (F, 3), |n| = 2 * area
    corners = f.reshape(-1)
    acc = np.empty((v.shape[0], 3), dtype=np.float64)
    for axis in range(3):  # bincount is much faster than np.add.at for the scatter-sum
        acc[:, axis] = np.bincount(corners, np.repeat(face_n[:, axis], 3), minlength=v.shape[0])
    length = np.linalg.norm(acc, axis=1, keepdims=True)
    ok = length[:, 0] > _TINY
    out = np.zeros_like(acc)
    out[ok] = acc[ok] / length[ok]
    if fallback is not None:
        out[~ok] = fallback
    return out.astype(np.float32)


def vertex_normals_torch(vertices: Float[Tensor, "*B V 3"], faces: Int[Tensor, "F 3"] | np.ndarray) -> Float[Tensor, "*B V 3"]:
    """Torch twin of :func:`vertex_normals` (fallback zero), in the vertices' dtype; differentiable.

    Batched over any leading dimensions of ``vertices``.
    """
    import torch

    if isinstance(faces, torch.Tensor):
        f = faces.to(device=vertices.device, dtype=torch.long)
    else:
        f = torch.from_numpy(np.ascontiguousarray(faces, dtype=np.int64)).to(vertices.device)
    v0, v1, v2 = (vertices[..., f[:, k], :] for k in range(3))
    face_n = torch.cross(v1 - v0, v2 - v0, dim=-1)  # (*B, F, 3), length = twice the face area
    dim = vertices.ndim - 2
    n = torch.zeros_like(vertices)
    for k in range(3):
        n = n.index_add(dim, f[:, k], face_n)
    return n / n.norm(dim=-1, keepdim=True).clamp_min(_TINY)


def umeyama(src: Float[np.ndarray, "N 3"], dst: Float[np.ndarray, "N 3"],
            weights: Float[np.ndarray, " N"] | None = None,
            scale: bool = True) -> tuple[Float[np.ndarray, "3 3"], Float[np.ndarray, "3"], float]:
    """Least-squares similarity ``dst_i ~ s R src_i + t`` (Umeyama 1991; Kabsch when ``scale=False``).

    ``weights`` (default uniform) weight each pair. Returns ``(R, t, s)``: ``R`` a proper
    rotation (det +1: reflections are excluded by flipping the smallest singular direction),
    ``s`` = 1 when ``scale`` is False.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    w = np.full(len(src), 1.0 / len(src)) if weights is None else np.asarray(weights, np.float64) / np.sum(weights)
    ms, md = w @ src, w @ dst
    a, b = src - ms, dst - md
    # Weighted cross-covariance sum_i w_i b_i a_i^T; R = U diag(1, 1, d) V^T maximises trace(R^T M).
    u, sig, vt = np.linalg.svd((w[:, None] * b).T @ a)
    d = -1.0 if np.linalg.det(u @ vt) < 0 else 1.0
    r = u @ np.diag([1.0, 1.0, d]) @ vt
    s = float((sig[0] + sig[1] + d * sig[2]) / (w @ (a**2).sum(1))) if scale else 1.0
    return r, md - s * r @ ms, s


def axis_angle_to_matrix(w: Float[Tensor, "... 3"]) -> Float[Tensor, "... 3 3"]:
    """Rotation matrices from rotation vectors (radians; Rodrigues' formula), any leading shape.

    ``R = I + a K + b K^2`` with ``K`` the cross-product matrix of ``w``, ``a = sin(t)/t`` and
    ``b = (1 - cos t)/t^2``; below ``t^2 = 1e-8`` their Taylor series are used, so the function and
    its gradient are smooth at 0.
    """
    import torch

    theta2 = (w * w).sum(-1, keepdim=True)[..., None]  # (..., 1, 1)
    theta = torch.sqrt(theta2 + 1e-12)
    small = theta2 < 1e-8
    a = torch.where(small, 1 - theta2 / 6, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(theta)) / (theta2 + 1e-12))
    zero = torch.zeros_like(w[..., 0])
    k = torch.stack([zero, -w[..., 2], w[..., 1], w[..., 2], zero, -w[..., 0], -w[..., 1], w[..., 0], zero],
                    -1).reshape(*w.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=w.dtype, device=w.device).expand_as(k)
    return eye + a * k + b * (k @ k)
