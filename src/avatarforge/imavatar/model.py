"""IMavatar's fields and the two learned baselines of its comparison, all behind one interface.

Canonical space is the identity's neutral rest head (world metres). A deformed point x_d in a
frame (52 action values psi, joint transforms T, pose features phi) has canonical
correspondences x_c with

    x_d = LBS(x_c + E(x_c) psi + P(x_c) phi, W(x_c), T)                       (IMavatar, B-Morph)

E (52 x 3 blend shapes), P (36 x 3 pose correctives) and W (skinning over head/neck/eyes) come
from :class:`Deformer`: the morphable model's own values at the nearest vertices, stored on a
voxel grid (:class:`PriorGrid`, trilinear), plus an MLP residual that starts at zero (IMavatar
learns it, regularised towards zero -- the FLAME agreement loss; B-Morph keeps the prior only).
C-Net (:class:`CNet`) has no deformation field: the head's rigid motion is undone and the
occupancy and texture MLPs take the expression as an extra input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float
from torch import Tensor, nn

from avatarforge.imavatar.rig import HEAD_JOINTS, pose_features
from avatarforge.implicit.implicit_grad import attach_root_gradient, pointwise_jacobian
from avatarforge.implicit.model import OccupancyMLP
from avatarforge.implicit.rootfind import broyden
from avatarforge.implicit.skinning import lbs_points, positional_encoding

__all__ = ["Frame", "PriorGrid", "Deformer", "HeadField", "IMavatar", "CNet", "MODEL_KINDS", "N_POSE"]

MODEL_KINDS = ("imavatar", "bmorph", "cnet")
N_POSE = 9 * (len(HEAD_JOINTS) - 1)
"""Pose-corrective inputs: (R - I) of neck, head and both eyes."""
_N_EXPR = 52
_N_BONES = len(HEAD_JOINTS)


@dataclass
class Frame:
    """What drives the head in one video frame."""

    expression: Float[Tensor, " 52"]
    transforms: Float[Tensor, "5 4 4"]
    """Skinning transforms of :data:`.rig.HEAD_JOINTS`."""

    @property
    def pose(self) -> Float[Tensor, " P"]:
        return pose_features(self.transforms)

    @classmethod
    def of(cls, expression: np.ndarray, transforms: np.ndarray) -> "Frame":
        return cls(torch.as_tensor(np.asarray(expression), dtype=torch.float32),
                   torch.as_tensor(np.asarray(transforms), dtype=torch.float32))


def _mlp(d_in: int, d_out: int, hidden: int, layers: int) -> nn.Sequential:
    dims = [d_in] + [hidden] * layers
    mods: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        mods += [nn.Linear(a, b), nn.Softplus(beta=100)]
    mods.append(nn.Linear(dims[-1], d_out))
    return nn.Sequential(*mods)


class PriorGrid(nn.Module):
    """The morphable model's per-point values on a voxel grid over the canonical box: channels
    [52 x 3 blend shapes, 5 log skinning weights], each node holding an inverse-distance average of
    its 4 nearest head vertices (FLAME's "nearest vertex" values, made continuous for the solver)."""

    def __init__(self, bounds: Float[Tensor, "2 3"], resolution: tuple[int, int, int]) -> None:
        super().__init__()
        self.register_buffer("bounds", torch.as_tensor(bounds, dtype=torch.float32).clone())
        dx, dy, dz = resolution
        self.register_buffer("grid", torch.zeros(1, _N_EXPR * 3 + _N_BONES, dz, dy, dx))

    @classmethod
    def from_rig(cls, rig, spacing: float = 0.008) -> "PriorGrid":
        from scipy.spatial import cKDTree

        b = rig.bounds
        res = tuple(int(np.ceil((b[1, a] - b[0, a]) / spacing)) + 1 for a in range(3))
        g = cls(torch.as_tensor(b), res)
        axes = [np.linspace(b[0, a], b[1, a], n) for a, n in zip(range(3), res)]
        zz, yy, xx = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
        nodes = np.stack([xx, yy, zz], -1).reshape(-1, 3)
        d, i = cKDTree(rig.vertices).query(nodes, k=4)
        inv = 1.0 / np.maximum(d, 1e-4) ** 2
        inv /= inv.sum(1, keepdims=True)
        vals = np.concatenate([rig.blendshapes.transpose(1, 0, 2).reshape(len(rig.vertices), -1),
                               np.log(np.clip(rig.weights, 1e-4, None))], 1)
        node_vals = np.einsum("nk,nkc->nc", inv, vals[i])  # n node, k neighbour, c channel
        g.grid.copy_(torch.as_tensor(node_vals, dtype=torch.float32).T.reshape(1, -1, res[2], res[1], res[0]))
        return g

    def normalise(self, x: Tensor) -> Tensor:
        lo, hi = self.bounds[0].to(x.dtype), self.bounds[1].to(x.dtype)
        return 2 * (x - lo) / (hi - lo) - 1

    def forward(self, x: Float[Tensor, "N 3"]) -> tuple[Float[Tensor, "N 52 3"], Float[Tensor, "N 5"]]:
        v = self._sample(self.grid.to(x.dtype), x)
        return v[:, : _N_EXPR * 3].reshape(-1, _N_EXPR, 3), v[:, _N_EXPR * 3:]

    def _sample(self, grid: Tensor, x: Tensor) -> Tensor:
        g = self.normalise(x).view(1, -1, 1, 1, 3)
        v = F.grid_sample(grid, g, mode="bilinear", padding_mode="border", align_corners=True)
        return v.view(grid.shape[1], -1).T

    def blended(self, x: Float[Tensor, "N 3"], expression: Float[Tensor, " 52"]) -> tuple[Float[Tensor, "N 3"], Float[Tensor, "N 5"]]:
        """The expression offset sum_k psi_k E_k(x) and the log skinning weights, exactly as from
        :meth:`forward` (trilinear interpolation is linear) but sampling 8 channels instead of 161:
        the grid is contracted with the expression once per frame (cached)."""
        e = expression.detach().to(x.dtype)
        key = (self.grid._version, x.dtype)
        cache = getattr(self, "_blend_cache", None)
        if cache is None or cache[0] != key or not torch.equal(cache[1], e):
            g = self.grid.to(x.dtype)[0]
            eg = torch.einsum("k,kc...->c...", e, g[: _N_EXPR * 3].reshape(_N_EXPR, 3, *g.shape[1:]))
            cache = (key, e.clone(), torch.cat([eg, g[_N_EXPR * 3:]], 0)[None].contiguous())
            self._blend_cache = cache
        v = self._sample(cache[2], x)
        return v[:, :3], v[:, 3:]


class Deformer(nn.Module):
    """Per canonical point: blend shapes E (52 x 3), pose correctives P (36 x 3), skinning W (5)."""

    def __init__(self, prior: PriorGrid, hidden: int = 64, layers: int = 3, n_freq: int = 4, learn: bool = True) -> None:
        super().__init__()
        self.prior, self.n_freq, self.learn = prior, n_freq, learn
        self.n_out = _N_EXPR * 3 + N_POSE * 3 + _N_BONES
        self.net = _mlp(3 * (1 + 2 * n_freq), self.n_out, hidden, layers)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def residual(self, x: Float[Tensor, "N 3"]) -> Float[Tensor, "N C"]:
        """The MLP's correction of the morphable model (0 at initialisation and for B-Morph)."""
        if not self.learn:
            return torch.zeros(x.shape[0], self.n_out, dtype=x.dtype)
        return self.net(positional_encoding(self.prior.normalise(x), self.n_freq))

    def displacement(self, x: Float[Tensor, "N 3"], expression: Float[Tensor, " 52"],
                     pose: Float[Tensor, " P"]) -> tuple[Float[Tensor, "N 3"], Float[Tensor, "N 5"]]:
        """E(x) psi + P(x) phi and W(x) for one frame, equal to contracting :meth:`forward`'s outputs
        but cheaper: the prior grid and the MLP's last layer are contracted with the frame's
        expression and pose before they meet the points (the ray marcher calls this millions of times)."""
        off, logw = self.prior.blended(x, expression)
        if self.learn:
            h = self.net[:-1](positional_encoding(self.prior.normalise(x), self.n_freq))
            last = self.net[-1]
            ne, npo = _N_EXPR * 3, N_POSE * 3
            w, b = last.weight.to(x.dtype), last.bias.to(x.dtype)
            psi, phi = expression.to(x.dtype), pose.to(x.dtype)
            w_off = (torch.einsum("k,kch->ch", psi, w[:ne].view(_N_EXPR, 3, -1))
                     + torch.einsum("p,pch->ch", phi, w[ne:ne + npo].view(N_POSE, 3, -1)))
            b_off = b[:ne].view(_N_EXPR, 3).T @ psi + b[ne:ne + npo].view(N_POSE, 3).T @ phi
            r = h @ torch.cat([w_off, w[ne + npo:]], 0).T + torch.cat([b_off, b[ne + npo:]])
            off, logw = off + r[:, :3], logw + r[:, 3:]
        return off, torch.softmax(logw, dim=-1)

    def forward(self, x: Float[Tensor, "N 3"]) -> tuple[Float[Tensor, "N 52 3"], Float[Tensor, "N P 3"], Float[Tensor, "N 5"]]:
        blend, logw = self.prior(x)
        r = self.residual(x)
        e = blend + r[:, : _N_EXPR * 3].reshape(-1, _N_EXPR, 3)
        p = r[:, _N_EXPR * 3: _N_EXPR * 3 + N_POSE * 3].reshape(-1, N_POSE, 3)
        w = torch.softmax(logw + r[:, _N_EXPR * 3 + N_POSE * 3:], dim=-1)
        return e, p, w


class HeadField(nn.Module):
    """Canonical occupancy + texture (normal-conditioned) of a head; subclasses define how deformed
    points find their canonical correspondences (:meth:`search`, :meth:`canonical`)."""

    n_init = 1

    def __init__(self, bounds: Float[Tensor, "2 3"], hidden: int = 64, layers: int = 3, n_freq: int = 6,
                 cond_dim: int = 0) -> None:
        super().__init__()
        self.register_buffer("bounds", torch.as_tensor(bounds, dtype=torch.float32).clone())
        self.cond_dim, self.n_freq = cond_dim, n_freq
        self.occupancy = OccupancyMLP(hidden, layers, n_freq, cond_dim=cond_dim)
        self.texture = _mlp(3 * (1 + 2 * n_freq) + 3 + cond_dim, 3, hidden, layers)

    def normalise(self, x: Tensor) -> Tensor:
        lo, hi = self.bounds[0].to(x.dtype), self.bounds[1].to(x.dtype)
        return 2 * (x - lo) / (hi - lo) - 1

    def _cond(self, n: int, frame: Frame) -> Tensor | None:
        return frame.expression.expand(n, -1) if self.cond_dim else None

    def occ(self, xc: Float[Tensor, "N 3"], frame: Frame) -> Float[Tensor, " N"]:
        """Occupancy logit of canonical points."""
        return self.occupancy(self.normalise(xc), self._cond(xc.shape[0], frame))

    def colour(self, xc: Float[Tensor, "N 3"], normal: Float[Tensor, "N 3"], frame: Frame) -> Float[Tensor, "N 3"]:
        """sRGB in [0, 1] at canonical points seen with deformed-space unit ``normal``."""
        h = [positional_encoding(self.normalise(xc), self.n_freq), normal]
        c = self._cond(xc.shape[0], frame)
        return torch.sigmoid(self.texture(torch.cat(h + ([] if c is None else [c]), -1)))

    def deform(self, xc: Float[Tensor, "N 3"], frame: Frame) -> Float[Tensor, "N 3"]:
        raise NotImplementedError

    def search(self, xd: Float[Tensor, "N 3"], frame: Frame) -> tuple[Float[Tensor, "N K 3"], Bool[Tensor, "N K"]]:
        """Canonical correspondences of deformed points (no gradient) and which are valid."""
        raise NotImplementedError

    def canonical(self, xc_star: Float[Tensor, "N 3"], xd: Float[Tensor, "N 3"], frame: Frame,
                  jac: Float[Tensor, "N 3 3"]) -> Float[Tensor, "N 3"]:
        """The correspondences with gradients to the deformation and to ``xd`` (implicit differentiation)."""
        return attach_root_gradient(xc_star, lambda x: self.deform(x, frame) - xd, jac)

    def jacobian(self, xc: Float[Tensor, "N 3"], frame: Frame) -> Float[Tensor, "N 3 3"]:
        """d x_d / d x_c at canonical points (detached)."""
        return pointwise_jacobian(lambda x: self.deform(x, frame), xc)[1].detach()

    def regulariser(self, xc: Float[Tensor, "N 3"]) -> Tensor:
        """The morphable-model agreement loss at canonical points (0 for models without one)."""
        return torch.zeros((), dtype=xc.dtype)

    def centre(self, frame: Frame) -> Float[Tensor, " 3"]:
        """Centre of the deformed head (for the bounding sphere of ray marching)."""
        c = self.bounds.mean(0).to(frame.transforms.dtype)
        T = frame.transforms[HEAD_JOINTS.index("head")]
        return T[:3, :3] @ c + T[:3, 3]

    def radius(self) -> float:
        return float((self.bounds[1] - self.bounds[0]).norm() / 2)


class IMavatar(HeadField):
    """IMavatar (``learn=True``) or B-Morph (``learn=False``: the morphable model's deformation)."""

    def __init__(self, prior: PriorGrid, hidden: int = 64, layers: int = 3, n_freq: int = 6, learn: bool = True,
                 deform_hidden: int = 64, n_init: int = 2, max_iter: int = 8, tol: float = 1e-4) -> None:
        super().__init__(prior.bounds, hidden, layers, n_freq)
        self.deformer = Deformer(prior, deform_hidden, layers, learn=learn)
        self.n_init, self.max_iter, self.tol = n_init, max_iter, tol

    def deform(self, xc: Float[Tensor, "N 3"], frame: Frame) -> Float[Tensor, "N 3"]:
        off, w = self.deformer.displacement(xc, frame.expression, frame.pose)
        return lbs_points(xc + off, w, frame.transforms.to(xc.dtype))

    def search(self, xd: Float[Tensor, "N 3"], frame: Frame) -> tuple[Float[Tensor, "N K 3"], Bool[Tensor, "N K"]]:
        n = xd.shape[0]
        order = [HEAD_JOINTS.index("head"), HEAD_JOINTS.index("neck01"), HEAD_JOINTS.index("rest")][: self.n_init]
        with torch.no_grad():
            inv = torch.linalg.inv(frame.transforms[order].to(xd.dtype))  # (K, 4, 4): inverse rigid bone motions
            k = len(order)
            x0 = torch.einsum("kij,nj->nki", inv[:, :3, :3], xd) + inv[None, :, :3, 3]
            target = xd[:, None].expand(n, k, 3).reshape(-1, 3)
            jinv0 = inv[:, :3, :3][None].expand(n, k, 3, 3).reshape(-1, 3, 3)
            res = broyden(lambda x, rows: self.deform(x, frame) - target[rows], x0.reshape(-1, 3), jinv0,
                          max_iter=self.max_iter, tol=self.tol)
            lo, hi = self.bounds[0].to(xd.dtype), self.bounds[1].to(xd.dtype)
            valid = res.converged & ((res.x >= lo) & (res.x <= hi)).all(-1)
        return res.x.view(n, k, 3), valid.view(n, k)

    def regulariser(self, xc: Float[Tensor, "N 3"]) -> Tensor:
        return self.deformer.residual(xc).square().mean() if self.deformer.learn else torch.zeros((), dtype=xc.dtype)


class CNet(HeadField):
    """C-Net: occupancy and texture conditioned directly on the expression; only the head's rigid
    motion is undone (no deformation field)."""

    def __init__(self, bounds: Float[Tensor, "2 3"], hidden: int = 64, layers: int = 3, n_freq: int = 6) -> None:
        super().__init__(bounds, hidden, layers, n_freq, cond_dim=_N_EXPR)

    def deform(self, xc: Float[Tensor, "N 3"], frame: Frame) -> Float[Tensor, "N 3"]:
        T = frame.transforms[HEAD_JOINTS.index("head")].to(xc.dtype)
        return xc @ T[:3, :3].T + T[:3, 3]

    def search(self, xd: Float[Tensor, "N 3"], frame: Frame) -> tuple[Float[Tensor, "N K 3"], Bool[Tensor, "N K"]]:
        T = frame.transforms[HEAD_JOINTS.index("head")].to(xd.dtype)
        xc = ((xd - T[:3, 3]) @ T[:3, :3]).detach()
        return xc[:, None], torch.ones(xd.shape[0], 1, dtype=torch.bool)

    def canonical(self, xc_star, xd, frame, jac):
        T = frame.transforms[HEAD_JOINTS.index("head")].to(xd.dtype)
        return (xd - T[:3, 3]) @ T[:3, :3]

    def jacobian(self, xc, frame):
        R = frame.transforms[HEAD_JOINTS.index("head"), :3, :3].to(xc.dtype)
        return R.expand(xc.shape[0], 3, 3)
