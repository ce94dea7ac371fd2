"""Gradients through a root by implicit differentiation (not by unrolling the solver).

If x* solves r(x*, theta) = 0 then dx*/dtheta = -(dr/dx)^-1 dr/dtheta (implicit function
theorem). :func:`attach_root_gradient` returns a tensor equal to x* whose autograd graph
carries exactly that derivative, for every parameter/input r depends on:

    x = x* - J^-1 (r(x*, theta) - stop_grad(r(x*, theta))),   J = dr/dx at x* (held constant)

The value is x* (the bracket is zero) and d x / d theta = -J^-1 dr/dtheta. Typical use::

    res = broyden(lambda x, idx: residual(x)[idx], x0)   # no graph while searching (sketch)
    x = attach_root_gradient(res.x, residual)                    # differentiable root

Reused by SNARF (residual = LBS(x) - x') and by other implicit-deformation models.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from jaxtyping import Float
from torch import Tensor

__all__ = ["pointwise_jacobian", "attach_root_gradient"]


def pointwise_jacobian(fn: Callable[[Tensor], Tensor], x: Float[Tensor, "N D"],
                       create_graph: bool = False) -> tuple[Float[Tensor, "N D"], Float[Tensor, "N D D"]]:
    """``fn(x)`` and its per-row Jacobian d fn(x)[i] / d x[i] (rows independent), by D
    vector-Jacobian products. Returns (value, J) with J[i, a, b] = d value[i, a] / d x[i, b]."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        val = fn(xg)
        rows = []
        for a in range(val.shape[-1]):
            (g,) = torch.autograd.grad(val[:, a].sum(), xg, retain_graph=True, create_graph=create_graph)
            rows.append(g)
    return val, torch.stack(rows, dim=1)


def attach_root_gradient(x_star: Float[Tensor, "N D"], residual: Callable[[Tensor], Tensor],
                         jac: Float[Tensor, "N D D"] | None = None) -> Float[Tensor, "N D"]:
    """x* with the implicit-function gradient attached (see the module docstring).

    ``residual(x)`` must build its graph to the parameters/inputs to differentiate (e.g. the
    skinning field, bone transforms, the target point x'). ``jac`` (dr/dx at x*) is computed
    with autograd if not given. Singular Jacobians give non-finite gradients for that row only
    if the caller keeps it; callers drop unconverged roots.
    """
    x_star = x_star.detach()
    if jac is None:
        jac = pointwise_jacobian(residual, x_star)[1].detach()
    r = residual(x_star)
    if not r.requires_grad:
        return x_star
    delta = r - r.detach()
    # x = x* - J^-1 delta   (einsum: per point n, solve the DxD system)
    corr = torch.linalg.solve(jac, delta.unsqueeze(-1)).squeeze(-1)
    return x_star - corr
