"""SNARF: a canonical occupancy field skinned forward to any pose by a learned weight field.

Occupancy of a deformed point x' in pose T (M bone transforms, 4x4):

1. correspondence search: canonical roots x* of LBS(x*, w(x*), T) = x', by Broyden from K
   initialisations (the inverse transforms of the K bones nearest to x' in the posed skeleton);
2. every converged root inside the canonical box is kept (once: initialisations converging to
   the same root are merged); occupancy = max_k f(x*_k);
3. gradients reach f, w (and T) through the roots by implicit differentiation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float
from torch import Tensor, nn

from avatarforge.implicit.implicit_grad import attach_root_gradient
from avatarforge.implicit.rootfind import broyden
from avatarforge.implicit.skinning import lbs_points, positional_encoding

__all__ = ["OccupancyMLP", "SNARF", "Correspondences", "segment_distance", "NO_ROOT_LOGIT", "nearest_bones",
           "find_correspondences", "occupancy_over_roots", "duplicate_roots"]

NO_ROOT_LOGIT = -12.0
"""Occupancy logit of a point without any converged canonical root (outside)."""


class OccupancyMLP(nn.Module):
    """f(x [, c]) -> occupancy logit: an MLP on positional encodings, optionally conditioned on a
    vector c (a pose code for the pose-conditioned baselines)."""

    def __init__(self, hidden: int = 128, layers: int = 4, n_freq: int = 5, cond_dim: int = 0, in_dim: int = 3) -> None:
        super().__init__()
        self.n_freq = n_freq
        dims = [in_dim * (1 + 2 * n_freq) + cond_dim] + [hidden] * layers
        mods: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            mods += [nn.Linear(a, b), nn.Softplus(beta=100)]
        mods.append(nn.Linear(dims[-1], 1))
        self.net = nn.Sequential(*mods)

    def forward(self, x: Float[Tensor, "N D"], cond: Float[Tensor, "N C"] | None = None) -> Float[Tensor, " N"]:
        h = positional_encoding(x, self.n_freq)
        if cond is not None:
            h = torch.cat([h, cond], -1)
        return self.net(h).squeeze(-1)


def segment_distance(p: Float[Tensor, "N 3"], a: Float[Tensor, "M 3"], b: Float[Tensor, "M 3"]) -> Float[Tensor, "N M"]:
    """Distance of every point to every segment [a_m, b_m]."""
    ab = b - a
    t = torch.einsum("nmk,mk->nm", p[:, None] - a[None], ab) / (ab * ab).sum(-1).clamp_min(1e-12)
    closest = a[None] + t.clamp(0, 1)[..., None] * ab[None]
    return (p[:, None] - closest).norm(dim=-1)


@dataclass
class Correspondences:
    """Canonical roots of N deformed points from K initialisations each."""

    x: Float[Tensor, "N K 3"]
    valid: Bool[Tensor, "N K"]
    """Converged and inside the canonical box."""


class SNARF(nn.Module):
    """Canonical occupancy + canonical skinning field + forward-skinning correspondence search.

    ``bones`` are the canonical bone segments (M, 2, 3) (joint head -> tail) used to choose the
    initialisations; ``bounds`` the canonical box (2, 3) where roots are accepted.
    """

    def __init__(self, skinning: nn.Module, bones: Float[Tensor, "M 2 3"],
                 bounds: Float[Tensor, "2 3"], hidden: int = 128, layers: int = 4, n_freq: int = 5,
                 n_init: int = 3, max_iter: int = 20, tol: float = 1e-4) -> None:
        super().__init__()
        self.skinning = skinning
        self.occupancy = OccupancyMLP(hidden, layers, n_freq)
        self.register_buffer("bones", torch.as_tensor(bones, dtype=torch.float32).clone())
        self.register_buffer("bounds", torch.as_tensor(bounds, dtype=torch.float32).clone())
        self.n_init, self.max_iter, self.tol = n_init, max_iter, tol

    def normalise(self, x: Tensor) -> Tensor:
        """Canonical points mapped to [-1, 1]^3 (input of the occupancy MLP)."""
        lo, hi = self.bounds[0].to(x.dtype), self.bounds[1].to(x.dtype)
        return 2 * (x - lo) / (hi - lo) - 1

    def init_candidates(self, xd: Float[Tensor, "N 3"], transforms: Float[Tensor, "M 4 4"]) -> Tensor:
        """Indices (N, K) of the K bones whose posed segments are nearest to each point."""
        return nearest_bones(xd, self.bones.to(xd.dtype), transforms, self.n_init)

    def search(self, xd: Float[Tensor, "N 3"], transforms: Float[Tensor, "M 4 4"]) -> Correspondences:
        """All canonical roots of LBS(x) = x' from the K initialisations (no gradient)."""
        return find_correspondences(xd, transforms, self.bones, self.bounds, self.skinning, self.n_init,
                                    self.max_iter, self.tol)

    def forward(self, xd: Float[Tensor, "N 3"], transforms: Float[Tensor, "M 4 4"]) -> Float[Tensor, " N"]:
        """Occupancy logits of deformed points in pose ``transforms`` (differentiable)."""
        corr = self.search(xd, transforms)
        return occupancy_over_roots(xd, corr, transforms, self.skinning,
                                    lambda x: self.occupancy(self.normalise(x)))


def nearest_bones(xd: Float[Tensor, "N 3"], bones: Float[Tensor, "M 2 3"], transforms: Float[Tensor, "M 4 4"],
                  k: int) -> Tensor:
    """Indices (N, K) of the ``k`` bones whose posed segments are nearest to each point."""
    R, t = transforms[:, :3, :3].to(xd.dtype), transforms[:, :3, 3].to(xd.dtype)
    posed = torch.einsum("mij,mkj->mki", R, bones.to(xd.dtype)) + t[:, None]  # m bone, k end (head/tail)
    d = segment_distance(xd, posed[:, 0], posed[:, 1])
    return d.topk(min(k, d.shape[1]), dim=1, largest=False).indices


def find_correspondences(xd: Float[Tensor, "N 3"], transforms: Float[Tensor, "M 4 4"], bones: Float[Tensor, "M 2 3"],
                         bounds: Float[Tensor, "2 3"], skin_fn: Callable[[Tensor], Tensor], n_init: int = 3,
                         max_iter: int = 20, tol: float = 1e-4) -> Correspondences:
    """Canonical roots of LBS(x, skin_fn(x), T) = x' by Broyden from the inverse transforms of the
    ``n_init`` nearest bones (no gradient). Roots outside ``bounds`` or unconverged are invalid.
    ``skin_fn`` maps canonical (n, 3) points to (n, M) weights (SNARF's field, or gDNA's
    warped, shape-conditioned one)."""
    n = xd.shape[0]
    with torch.no_grad():
        T = transforms.detach().to(xd.dtype)
        idx = nearest_bones(xd, bones, T, n_init)  # (N, K)
        k = idx.shape[1]
        inv = torch.linalg.inv(T)[idx]  # (N, K, 4, 4)
        x0 = torch.einsum("nkij,nj->nki", inv[..., :3, :3], xd) + inv[..., :3, 3]
        target = xd[:, None].expand(n, k, 3).reshape(-1, 3)
        jinv0 = inv[..., :3, :3].reshape(-1, 3, 3)

        def fn(x: Tensor, rows: Tensor) -> Tensor:
            return lbs_points(x, skin_fn(x), T) - target[rows]

        res = broyden(fn, x0.reshape(-1, 3), jinv0, max_iter=max_iter, tol=tol)
        lo, hi = bounds[0].to(xd.dtype), bounds[1].to(xd.dtype)
        inside = ((res.x >= lo) & (res.x <= hi)).all(-1)
        valid = (res.converged & inside).view(n, k)
        x = res.x.view(n, k, 3)
        return Correspondences(x=x, valid=valid & ~duplicate_roots(x, valid))


def duplicate_roots(x: Float[Tensor, "N K 3"], valid: Bool[Tensor, "N K"], tol: float = 1e-3) -> Bool[Tensor, "N K"]:
    """Roots that repeat an earlier valid root of the same point (within ``tol``): several
    initialisations usually converge to the same root, and evaluating it once gives the same max."""
    dup = torch.zeros_like(valid)
    for a in range(1, x.shape[1]):
        for b in range(a):
            dup[:, a] |= valid[:, b] & ((x[:, a] - x[:, b]).norm(dim=-1) < tol)
    return dup


def occupancy_over_roots(xd: Float[Tensor, "N 3"], corr: Correspondences, transforms: Float[Tensor, "M 4 4"],
                         skin_fn: Callable[[Tensor], Tensor], occ_fn: Callable[[Tensor], Tensor]) -> Float[Tensor, " N"]:
    """max over the valid roots of ``occ_fn(x*)`` (logits; :data:`NO_ROOT_LOGIT` without a root),
    with implicit-differentiation gradients through the roots to ``skin_fn``'s parameters, the
    transforms and ``xd``."""
    n, k, _ = corr.x.shape
    logits = torch.full((n, k), NO_ROOT_LOGIT, dtype=xd.dtype)
    ni, ki = corr.valid.nonzero(as_tuple=True)
    if ni.numel():
        T = transforms.to(xd.dtype)
        target = xd[ni]
        x = attach_root_gradient(corr.x[ni, ki], lambda x: lbs_points(x, skin_fn(x), T) - target)
        logits = logits.index_put((ni, ki), occ_fn(x))
    return logits.max(dim=1).values

