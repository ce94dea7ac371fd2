"""The SNARF paper's baselines, with SNARF's interface ``model(x', T) -> occupancy logits``.

* :class:`BackwardSkinning`: a pose-conditioned MLP predicts skinning weights *in posed space*;
  x = sum_i w_i(x', p) T_i^-1 x' is looked up in a canonical occupancy MLP (must learn a
  different weight field for every pose, so it generalises poorly to unseen poses);
* :class:`PoseOccupancy`: an occupancy MLP of (x', p) without any skinning;
* the template mesh skinned by the body's LBS needs no model: see :func:`lbs_template`.

The pose code p is the flattened (R_i - I) of every bone's skinning transform.
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor, nn

from avatarforge.implicit.model import OccupancyMLP
from avatarforge.implicit.skinning import lbs_points

__all__ = ["pose_code", "BackwardSkinning", "PoseOccupancy", "lbs_template"]


def pose_code(transforms: Float[Tensor, "M 4 4"]) -> Float[Tensor, " C"]:
    """Pose vector: flattened rotation offsets (R_i - I) of every bone (C = 9 M)."""
    return (transforms[:, :3, :3] - torch.eye(3, dtype=transforms.dtype)).reshape(-1)


class _Normalised(nn.Module):
    def __init__(self, bounds: Float[Tensor, "2 3"]) -> None:
        super().__init__()
        self.register_buffer("bounds", torch.as_tensor(bounds, dtype=torch.float32).clone())

    def normalise(self, x: Tensor) -> Tensor:
        lo, hi = self.bounds[0].to(x.dtype), self.bounds[1].to(x.dtype)
        return 2 * (x - lo) / (hi - lo) - 1


class BackwardSkinning(_Normalised):
    """Backward skinning baseline: posed-space weights w(x', p), canonical occupancy f(x)."""

    def __init__(self, n_bones: int, bounds: Float[Tensor, "2 3"], hidden: int = 128, layers: int = 4,
                 n_freq: int = 5) -> None:
        super().__init__(bounds)
        self.weights = OccupancyMLP(hidden, layers, n_freq=2, cond_dim=9 * n_bones)
        self.weights.net[-1] = nn.Linear(hidden, n_bones)
        self.occupancy = OccupancyMLP(hidden, layers, n_freq)

    def forward(self, xd: Float[Tensor, "N 3"], transforms: Float[Tensor, "M 4 4"]) -> Float[Tensor, " N"]:
        T = transforms.to(xd.dtype)
        code = pose_code(T).expand(len(xd), -1)
        h = self.weights.net(torch.cat([_pe(self.normalise(xd), 2), code], -1))
        w = torch.softmax(h, -1)
        x = lbs_points(xd, w, torch.linalg.inv(T))  # inverse blend: sum_i w_i T_i^-1 x'
        return self.occupancy(self.normalise(x))


class PoseOccupancy(_Normalised):
    """Pose-conditioned occupancy baseline: f(x', p), no skinning."""

    def __init__(self, n_bones: int, bounds: Float[Tensor, "2 3"], hidden: int = 128, layers: int = 4,
                 n_freq: int = 5) -> None:
        super().__init__(bounds)
        self.occupancy = OccupancyMLP(hidden, layers, n_freq, cond_dim=9 * n_bones)

    def forward(self, xd: Float[Tensor, "N 3"], transforms: Float[Tensor, "M 4 4"]) -> Float[Tensor, " N"]:
        code = pose_code(transforms.to(xd.dtype)).expand(len(xd), -1)
        return self.occupancy(self.normalise(xd), code)


def _pe(x: Tensor, n_freq: int) -> Tensor:
    from avatarforge.implicit.skinning import positional_encoding

    return positional_encoding(x, n_freq)


def lbs_template(vertices: Float[np.ndarray, "V 3"], weights: Float[np.ndarray, "V M"],
                 transforms: Float[np.ndarray, "M 4 4"]) -> np.ndarray:
    """The template mesh posed by linear blend skinning with the body's weights."""
    blended = np.einsum("vm,mij->vij", weights, transforms[:, :3, :])  # v vertex, m bone, 3x4
    return np.einsum("vij,vj->vi", blended[:, :, :3], vertices) + blended[:, :, 3]
