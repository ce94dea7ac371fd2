"""Canonical skinning-weight fields w(x) and linear blend skinning of points.

Anny has 104 bones; the fields here use :data:`MAIN_JOINTS` (22 bones): every other bone's
skinning weight is added to its nearest ancestor in that list (fingers -> wrist, toes -> foot,
twist bones -> their limb, pelvis.L/R -> root, neck02/03 -> neck01, eyes -> head). This is exact
for poses that leave the merged bones at rest (a child bone at rest moves exactly like its parent).

Two fields with one interface (``field(x) -> (N, M)`` weights summing to 1):

* :class:`VoxelSkinning`: logits on a low-resolution grid, trilinear lookup, softmax (the
  FastSNARF idea; a lookup instead of an MLP evaluation inside every solver iteration);
* :class:`MLPSkinning`: the original SNARF field, a small MLP on positional encodings.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

__all__ = [
    "MAIN_JOINTS", "main_joint_map", "reduce_weights", "lbs_points", "VoxelSkinning", "MLPSkinning",
    "positional_encoding", "weights_from_vertices",
]

MAIN_JOINTS = (
    "root",
    "upperleg01.L", "lowerleg01.L", "foot.L",
    "upperleg01.R", "lowerleg01.R", "foot.R",
    "spine05", "spine04", "spine03", "spine02", "spine01",
    "clavicle.L", "upperarm01.L", "lowerarm01.L", "wrist.L",
    "clavicle.R", "upperarm01.R", "lowerarm01.R", "wrist.R",
    "neck01", "head",
)


def main_joint_map(joint_names: list[str], joint_parents: list[int]) -> np.ndarray:
    """For each body bone, the index in :data:`MAIN_JOINTS` of its nearest main ancestor (itself
    if it is one)."""
    out = np.zeros(len(joint_names), dtype=np.int64)
    for j, name in enumerate(joint_names):
        k = j
        while joint_names[k] not in MAIN_JOINTS:
            k = joint_parents[k]
            if k < 0:
                raise ValueError(f"bone {name!r} has no ancestor among the main joints")
        out[j] = MAIN_JOINTS.index(joint_names[k])
    return out


def reduce_weights(skin_indices: np.ndarray, skin_weights: np.ndarray, joint_map: np.ndarray) -> np.ndarray:
    """(V, M) dense main-joint weights from sparse (V, K) influences over the full skeleton."""
    v = skin_indices.shape[0]
    out = np.zeros((v, len(MAIN_JOINTS)), dtype=np.float64)
    np.add.at(out, (np.repeat(np.arange(v), skin_indices.shape[1]), joint_map[skin_indices.reshape(-1)]),
              skin_weights.reshape(-1))
    return out / np.maximum(out.sum(1, keepdims=True), 1e-12)


def lbs_points(x: Float[Tensor, "N 3"], w: Float[Tensor, "N M"], transforms: Float[Tensor, "M 4 4"]) -> Float[Tensor, "N 3"]:
    """Linear blend skinning: x' = sum_i w_i (R_i x + t_i)."""
    blended = torch.einsum("nm,mij->nij", w, transforms[:, :3, :])  # n point, m bone, (i, j) 3x4
    return torch.einsum("nij,nj->ni", blended[:, :, :3], x) + blended[:, :, 3]


def positional_encoding(x: Float[Tensor, "N D"], n_freq: int) -> Float[Tensor, "N E"]:
    """[x, sin(2^k pi x), cos(2^k pi x)] for k < n_freq (E = D (1 + 2 n_freq))."""
    if n_freq == 0:
        return x
    freqs = (2.0 ** torch.arange(n_freq, dtype=x.dtype)) * math.pi
    xf = x.unsqueeze(-1) * freqs  # (N, D, F)
    return torch.cat([x, torch.sin(xf).flatten(1), torch.cos(xf).flatten(1)], dim=-1)


def weights_from_vertices(points: np.ndarray, vertices: np.ndarray, weights: np.ndarray, k: int = 8) -> np.ndarray:
    """Skinning weights at arbitrary points: inverse-distance average of the k nearest vertices'."""
    from scipy.spatial import cKDTree

    d, i = cKDTree(vertices).query(points, k=k)
    inv = 1.0 / np.maximum(d, 1e-4) ** 2
    w = (weights[i] * inv[..., None]).sum(1) / inv.sum(1, keepdims=True)
    return w / w.sum(1, keepdims=True)


class VoxelSkinning(nn.Module):
    """Skinning weights as softmax of trilinearly interpolated logits on a (Dz, Dy, Dx) grid
    covering the axis-aligned box ``bounds`` = ((xmin, ymin, zmin), (xmax, ymax, zmax))."""

    def __init__(self, bounds: Float[Tensor, "2 3"], resolution: tuple[int, int, int], n_bones: int) -> None:
        super().__init__()
        self.register_buffer("bounds", torch.as_tensor(bounds, dtype=torch.float32).clone())
        dx, dy, dz = resolution
        self.logits = nn.Parameter(torch.zeros(1, n_bones, dz, dy, dx))

    def grid_points(self) -> Float[Tensor, "Z Y X 3"]:
        """Canonical (x, y, z) of every grid node, indexed [z, y, x]."""
        _, _, dz, dy, dx = self.logits.shape
        lo, hi = self.bounds[0], self.bounds[1]
        axes = [torch.linspace(float(lo[a]), float(hi[a]), n) for a, n in zip(range(3), (dx, dy, dz))]
        zz, yy, xx = torch.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
        return torch.stack([xx, yy, zz], -1)

    @torch.no_grad()
    def init_from_weights(self, weights: Float[Tensor, "Z Y X M"], floor: float = 1e-3) -> None:
        """Set the logits to log(weights) (clamped at ``floor``), e.g. from the body's vertices."""
        w = torch.as_tensor(weights, dtype=self.logits.dtype).clamp_min(floor)
        self.logits.copy_(torch.log(w / w.sum(-1, keepdim=True)).permute(3, 0, 1, 2).unsqueeze(0))

    def forward(self, x: Float[Tensor, "N 3"]) -> Float[Tensor, "N M"]:
        lo, hi = self.bounds[0].to(x.dtype), self.bounds[1].to(x.dtype)
        g = (2 * (x - lo) / (hi - lo) - 1).view(1, -1, 1, 1, 3)  # grid_sample wants (x, y, z) in [-1, 1]
        logit = F.grid_sample(self.logits.to(x.dtype), g, mode="bilinear", padding_mode="border", align_corners=True)
        return torch.softmax(logit.view(self.logits.shape[1], -1).T, dim=-1)


class MLPSkinning(nn.Module):
    """Skinning weights as softmax of a small MLP on positional encodings of x (SNARF's field)."""

    def __init__(self, n_bones: int, hidden: int = 128, layers: int = 4, n_freq: int = 0) -> None:
        super().__init__()
        self.n_freq = n_freq
        dims = [3 * (1 + 2 * n_freq)] + [hidden] * layers
        mods: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            mods += [nn.Linear(a, b), nn.Softplus(beta=100)]
        mods.append(nn.Linear(dims[-1], n_bones))
        self.net = nn.Sequential(*mods)

    def forward(self, x: Float[Tensor, "N 3"]) -> Float[Tensor, "N M"]:
        return torch.softmax(self.net(positional_encoding(x, self.n_freq)), dim=-1)
