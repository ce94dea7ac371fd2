"""gDNA (generative detailed neural avatars), CPU-sized, on SNARF's forward skinning.

Spaces: ``x_b`` is a point in an identity's own canonical space (its rest A-pose, body size
beta); the warp network maps it to the shared canonical space ``x_s = x_b + M(x_b, beta)``
where the shape and skinning fields live:

* coarse shape ``O(x_s, z_shape) -> (occupancy logit, feature f)``;
* skinning ``W(x_s, z_shape)``: softmax of a voxel grid's logits (initialised from the mean
  body, shared) plus a small shape-conditioned MLP correction (zero at start);
* detail ``N(x_s, z_detail, f) -> unit normal`` in canonical space; a posed normal is the
  blended bone rotation of it.

Posed occupancy of x' = max over the canonical roots of LBS(x_b, W(x_s(x_b), z), T) = x'
(:func:`avatarforge.implicit.model.find_correspondences`), gradients by implicit
differentiation through the roots (:func:`occupancy_over_roots`). Latent codes are auto-decoded
(one embedding per training identity, Gaussian prior = an L2 penalty).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float
from torch import Tensor, nn

from avatarforge.implicit.model import NO_ROOT_LOGIT, find_correspondences, occupancy_over_roots
from avatarforge.implicit.skinning import VoxelSkinning, positional_encoding

__all__ = ["GdnaConfig", "GDNA", "ShapeNet", "DetailNet", "WarpNet", "ConditionedSkinning", "Codes", "mlp", "is_rest"]


@dataclass
class GdnaConfig:
    """Network sizes (defaults: a CPU trains them in minutes)."""

    z_shape: int = 16
    """Shape code size."""
    z_detail: int = 8
    """Detail code size."""
    hidden: int = 128
    """Coarse shape MLP width."""
    layers: int = 4
    """Coarse shape MLP hidden layers."""
    n_freq: int = 4
    """Positional-encoding octaves of the shape and detail networks."""
    feature: int = 16
    """Feature size the shape network passes to the detail network."""
    detail_hidden: int = 64
    """Detail MLP width (3 hidden layers)."""
    skin_hidden: int = 32
    """Width of the shape-conditioned skinning correction (2 hidden layers)."""
    warp_hidden: int = 64
    """Warp MLP width (3 hidden layers)."""
    voxel_size: float = 0.05
    """Skinning grid spacing (metres)."""
    n_init: int = 3
    """Broyden initialisations per point."""


@dataclass
class Codes:
    """The latent description of one person."""

    z_shape: Float[Tensor, " Z"]
    z_detail: Float[Tensor, " D"]
    beta: Float[Tensor, " B"]
    """Phenotype values (body size), in :data:`avatarforge.implicit.gdna_data.PHENOTYPE_RANGES` order."""


def mlp(dims: list[int], act: bool = True) -> nn.Sequential:
    """Linear layers of widths ``dims`` with Softplus(100) between them (none after the last)."""
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        mods.append(nn.Linear(a, b))
        if act and i < len(dims) - 2:
            mods.append(nn.Softplus(beta=100))
    return nn.Sequential(*mods)


def is_rest(transforms: Float[Tensor, "M 4 4"], tol: float = 1e-5) -> bool:
    """True if every bone transform is the identity (the canonical pose itself)."""
    eye = torch.eye(4, dtype=transforms.dtype)
    return bool((transforms.detach() - eye).abs().max() <= tol)


def _expand(z: Tensor, n: int) -> Tensor:
    return z.reshape(1, -1).expand(n, -1)


class ShapeNet(nn.Module):
    """O(x_s, z) -> (logit (N,), feature (N, F)); x_s normalised to [-1, 1]^3."""

    def __init__(self, z_dim: int, hidden: int, layers: int, n_freq: int, feature: int) -> None:
        super().__init__()
        self.n_freq, self.feature = n_freq, feature
        self.net = mlp([3 * (1 + 2 * n_freq) + z_dim] + [hidden] * layers + [1 + feature])

    def forward(self, x: Float[Tensor, "N 3"], z: Float[Tensor, " Z"]) -> tuple[Float[Tensor, " N"], Float[Tensor, "N F"]]:
        h = self.net(torch.cat([positional_encoding(x, self.n_freq), _expand(z, len(x))], -1))
        return h[:, 0], h[:, 1:]


class DetailNet(nn.Module):
    """N(x_s, z_detail, f) -> unit normal (N, 3) in the shared canonical space."""

    def __init__(self, z_dim: int, feature: int, hidden: int, n_freq: int) -> None:
        super().__init__()
        self.n_freq = n_freq
        self.net = mlp([3 * (1 + 2 * n_freq) + z_dim + feature] + [hidden] * 3 + [3])

    def forward(self, x: Float[Tensor, "N 3"], z: Float[Tensor, " D"], f: Float[Tensor, "N F"]) -> Float[Tensor, "N 3"]:
        n = self.net(torch.cat([positional_encoding(x, self.n_freq), _expand(z, len(x)), f], -1))
        return F.normalize(n, dim=-1)


class WarpNet(nn.Module):
    """M(x_b, beta): offset (metres) taking a body-size-dependent canonical point to the shared
    canonical space (zero at initialisation)."""

    def __init__(self, beta_dim: int, hidden: int) -> None:
        super().__init__()
        self.net = mlp([3 * 5 + beta_dim] + [hidden] * 3 + [3])
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: Float[Tensor, "N 3"], beta: Float[Tensor, " B"]) -> Float[Tensor, "N 3"]:
        return 0.1 * self.net(torch.cat([positional_encoding(x, 2), _expand(2 * beta - 1, len(x))], -1))


class ConditionedSkinning(nn.Module):
    """W(x_s, z) = softmax(voxel logits(x_s) + MLP(x_s, z)); the MLP starts at zero."""

    def __init__(self, base: VoxelSkinning, z_dim: int, hidden: int) -> None:
        super().__init__()
        self.base = base
        m = base.logits.shape[1]
        self.delta = mlp([3 * 5 + z_dim, hidden, hidden, m])
        nn.init.zeros_(self.delta[-1].weight)
        nn.init.zeros_(self.delta[-1].bias)

    def forward(self, x: Float[Tensor, "N 3"], xn: Float[Tensor, "N 3"], z: Float[Tensor, " Z"]) -> Float[Tensor, "N M"]:
        """``x`` in metres (grid lookup), ``xn`` the same points normalised to [-1, 1]."""
        base = torch.log(self.base(x).clamp_min(1e-8))
        return torch.softmax(base + self.delta(torch.cat([positional_encoding(xn, 2), _expand(z, len(x))], -1)), -1)


class GDNA(nn.Module):
    """Multi-identity clothed bodies: codes per training identity + the four networks."""

    def __init__(self, cfg: GdnaConfig, n_identities: int, beta_dim: int, n_bones: int,
                 bounds: Float[Tensor, "2 3"]) -> None:
        super().__init__()
        self.cfg = cfg
        b = torch.as_tensor(bounds, dtype=torch.float32)
        self.register_buffer("bounds", b.clone())
        res = tuple(int(np.ceil(float(b[1, a] - b[0, a]) / cfg.voxel_size)) + 1 for a in range(3))
        self.skinning = ConditionedSkinning(VoxelSkinning(b, res, n_bones), cfg.z_shape, cfg.skin_hidden)
        self.shape_net = ShapeNet(cfg.z_shape, cfg.hidden, cfg.layers, cfg.n_freq, cfg.feature)
        self.detail_net = DetailNet(cfg.z_detail, cfg.feature, cfg.detail_hidden, cfg.n_freq)
        self.warp = WarpNet(beta_dim, cfg.warp_hidden)
        self.z_shape = nn.Embedding(n_identities, cfg.z_shape)
        self.z_detail = nn.Embedding(n_identities, cfg.z_detail)
        nn.init.normal_(self.z_shape.weight, std=0.01)
        nn.init.normal_(self.z_detail.weight, std=0.01)

    def normalise(self, x: Tensor) -> Tensor:
        lo, hi = self.bounds[0].to(x.dtype), self.bounds[1].to(x.dtype)
        return 2 * (x - lo) / (hi - lo) - 1

    def shared(self, xb: Float[Tensor, "N 3"], beta: Float[Tensor, " B"]) -> Float[Tensor, "N 3"]:
        """x_s = x_b + M(x_b, beta)."""
        return xb + self.warp(self.normalise(xb), beta)

    def skin(self, xb: Float[Tensor, "N 3"], beta: Float[Tensor, " B"], z: Float[Tensor, " Z"]) -> Float[Tensor, "N M"]:
        """Skinning weights of identity-canonical points."""
        xs = self.shared(xb, beta)
        return self.skinning(xs, self.normalise(xs), z)

    def canonical(self, xb: Float[Tensor, "N 3"], beta: Float[Tensor, " B"],
                  z: Float[Tensor, " Z"]) -> tuple[Float[Tensor, " N"], Float[Tensor, "N F"]]:
        """Occupancy logits and features of identity-canonical points."""
        return self.shape_net(self.normalise(self.shared(xb, beta)), z)

    def inside(self, x: Float[Tensor, "N 3"]) -> Bool[Tensor, " N"]:
        """Points inside the canonical box (where roots are accepted)."""
        lo, hi = self.bounds[0].to(x.dtype), self.bounds[1].to(x.dtype)
        return ((x >= lo) & (x <= hi)).all(-1)

    def posed(self, xd: Float[Tensor, "N 3"], transforms: Float[Tensor, "M 4 4"], bones: Float[Tensor, "M 2 3"],
              beta: Float[Tensor, " B"], z: Float[Tensor, " Z"]) -> Float[Tensor, " N"]:
        """Occupancy logits of posed points (differentiable w.r.t. the networks, z and beta).

        In the rest pose (every transform the identity) the only root of x' is x' itself: the
        canonical field is evaluated directly (same value, no search)."""
        if is_rest(transforms):
            logits = self.canonical(xd, beta, z)[0]
            return torch.where(self.inside(xd), logits, torch.full_like(logits, NO_ROOT_LOGIT))

        def skin_fn(x):
            return self.skin(x, beta, z)

        corr = find_correspondences(xd, transforms, bones, self.bounds, skin_fn, self.cfg.n_init)
        return occupancy_over_roots(xd, corr, transforms, skin_fn, lambda x: self.canonical(x, beta, z)[0])

    def surface_roots(self, xd: Float[Tensor, "N 3"], transforms: Float[Tensor, "M 4 4"], bones: Float[Tensor, "M 2 3"],
                      beta: Float[Tensor, " B"], z: Float[Tensor, " Z"]) -> tuple[Float[Tensor, "N 3"], Bool[Tensor, " N"]]:
        """For posed points on the surface, the canonical root whose occupancy is nearest to 0.5
        (no gradient) and whether any root was found."""
        if is_rest(transforms):
            return xd.detach(), self.inside(xd)

        def skin_fn(x):
            return self.skin(x, beta, z)

        corr = find_correspondences(xd, transforms, bones, self.bounds, skin_fn, self.cfg.n_init)
        n, k, _ = corr.x.shape
        with torch.no_grad():
            logit = self.canonical(corr.x.reshape(-1, 3), beta, z)[0].view(n, k).abs()
        logit = torch.where(corr.valid, logit, torch.full_like(logit, float("inf")))
        best = logit.argmin(1)
        return corr.x[torch.arange(n), best], corr.valid.any(1)

    def canonical_normals(self, xb: Float[Tensor, "N 3"], beta: Float[Tensor, " B"], z: Float[Tensor, " Z"],
                          zd: Float[Tensor, " D"]) -> Float[Tensor, "N 3"]:
        """Detail normals at identity-canonical points (features from the shape network, no
        gradient into it)."""
        with torch.no_grad():
            xs = self.normalise(self.shared(xb, beta))
            f = self.shape_net(xs, z)[1]
        return self.detail_net(xs, zd, f)

    def posed_normals(self, xb: Float[Tensor, "N 3"], transforms: Float[Tensor, "M 4 4"], beta: Float[Tensor, " B"],
                      z: Float[Tensor, " Z"], zd: Float[Tensor, " D"]) -> Float[Tensor, "N 3"]:
        """Detail normals of canonical roots carried to the pose by their blended bone rotation."""
        n = self.canonical_normals(xb, beta, z, zd)
        with torch.no_grad():
            w = self.skin(xb, beta, z)
        R = torch.einsum("nm,mij->nij", w, transforms[:, :3, :3].to(xb.dtype))  # n point, m bone
        return F.normalize(torch.einsum("nij,nj->ni", R, n), dim=-1)
