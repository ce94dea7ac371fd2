"""Batched Broyden root finding for many independent small systems g(x) = 0, x in R^D.

Used by SNARF's correspondence search (find canonical x* with LBS(x*) = x') and meant to be
reused by any implicit model that inverts a per-point deformation (e.g. IMavatar). Pure
functions, no autograd through the iterations: gradients through a root are attached
afterwards by :mod:`avatarforge.implicit.implicit_grad`.

Example::

    res = broyden(lambda x, idx: lbs(x) - x_target[idx], x0, jac_inv0)
    x_star, ok = res.x, res.converged
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

__all__ = ["RootResult", "broyden"]


@dataclass
class RootResult:
    """Result of :func:`broyden` for N systems."""

    x: Float[Tensor, "N D"]
    """Best iterate of each system (the one with the smallest residual norm)."""
    converged: Bool[Tensor, " N"]
    """True where the residual norm reached ``tol``."""
    residual: Float[Tensor, " N"]
    """Residual norm |g(x)| at ``x``."""
    iterations: Int[Tensor, " N"]
    """Iterations spent per system (until convergence or ``max_iter``)."""


@torch.no_grad()
def broyden(
    fn: Callable[[Tensor, Tensor], Tensor],
    x0: Float[Tensor, "N D"],
    jac_inv0: Float[Tensor, "N D D"] | None = None,
    max_iter: int = 30,
    tol: float = 1e-5,
) -> RootResult:
    """Solve ``fn(x) = 0`` for N independent D-dimensional systems with Broyden's "good" method.

    ``fn(x, idx)`` maps (n, D) points to (n, D) residuals row by row; ``idx`` (n,) holds the
    indices of those rows among the N systems (it is called on the still-active subset only, so
    per-system data such as a target point is looked up as ``target[idx]``).
    ``jac_inv0`` is an initial inverse Jacobian per system (default identity); a good one (e.g. the
    inverse of the blended bone rotation for LBS) makes the search converge in a few steps.
    Each iteration takes a full quasi-Newton step ``x <- x - J^-1 g`` and updates J^-1 with the
    Sherman-Morrison rank-one formula. Systems stop once ``|g| < tol``.
    """
    n, d = x0.shape
    x = x0.clone()
    jinv = (torch.eye(d, dtype=x0.dtype).expand(n, d, d) if jac_inv0 is None else jac_inv0).clone()
    g = fn(x, torch.arange(n))
    norm = g.norm(dim=-1)
    best_x, best_norm = x.clone(), norm.clone()
    iters = torch.zeros(n, dtype=torch.long)
    active = norm >= tol
    for _ in range(max_iter):
        idx = active.nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        xa, ga, ja = x[idx], g[idx], jinv[idx]
        dx = -torch.einsum("nij,nj->ni", ja, ga)  # step = -J^-1 g
        x_new = xa + dx
        g_new = fn(x_new, idx)
        dg = g_new - ga
        # Sherman-Morrison: J^-1 += (dx - J^-1 dg) dx^T J^-1 / (dx^T J^-1 dg)
        jdg = torch.einsum("nij,nj->ni", ja, dg)
        denom = (dx * jdg).sum(-1, keepdim=True)
        denom = torch.where(denom.abs() < 1e-20, torch.full_like(denom, 1e-20), denom)
        dxj = torch.einsum("ni,nij->nj", dx, ja)
        ja = ja + torch.einsum("ni,nj->nij", (dx - jdg) / denom, dxj)
        x[idx], g[idx], jinv[idx] = x_new, g_new, ja
        nrm = g_new.norm(dim=-1)
        better = nrm < best_norm[idx]
        bi = idx[better]
        best_x[bi], best_norm[bi] = x_new[better], nrm[better]
        iters[idx] += 1
        ok = torch.isfinite(nrm) & (nrm >= tol)
        active[idx] = ok
    return RootResult(x=best_x, converged=best_norm < tol, residual=best_norm, iterations=iters)
