"""FLAME fitted to 68 2D landmarks (the fallback when no DECA weights are present): shape,
expression, global and jaw rotation and DECA's orthographic camera, by Adam on the squared
reprojection error in DECA's normalised crop coordinates, with Gaussian priors on the codes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float

from avatarforge.research.deca.model import DecaCode, orthographic_project
from avatarforge.research.landmarks import LandmarkEmbedding
from avatarforge.util.threads import torch_threads

__all__ = ["LandmarkFitConfig", "LandmarkFit", "fit_flame_landmarks"]


@dataclass
class LandmarkFitConfig:
    """Weights and schedule of the landmark fit."""

    steps: int = 300
    """Adam iterations."""
    lr: float = 0.02
    """Adam step size."""
    n_shape: int = 50
    """Identity components fitted (of 100): landmarks constrain few."""
    shape_prior: float = 1e-3
    """Weight of |shape|^2 (in units of squared normalised reprojection error)."""
    expression_prior: float = 1e-3
    """Weight of |expression|^2."""
    contour_weight: float = 0.5
    """Relative weight of the 17 jaw-contour landmarks (they slide on a turned face)."""


@dataclass
class LandmarkFit:
    code: DecaCode
    """Fitted codes (texture and light zero, no detail code)."""
    rms: float
    """Reprojection RMS in normalised crop units (1 unit = 112 px of the 224 crop)."""
    rms_start: float
    """The same before fitting."""


def fit_flame_landmarks(flame, embedding: LandmarkEmbedding, target: Float[np.ndarray, "68 2"],
                        config: LandmarkFitConfig | None = None) -> LandmarkFit:
    """Fit FLAME to ``target`` 68 landmarks (normalised crop coordinates: x right, y down, [-1, 1])."""
    cfg = config or LandmarkFitConfig()
    with torch_threads(1):
        return _fit(flame, embedding, torch.as_tensor(target, dtype=torch.float32), cfg)


def _fit(flame, emb: LandmarkEmbedding, target, cfg: LandmarkFitConfig) -> LandmarkFit:
    w = torch.ones(68)
    w[:17] = cfg.contour_weight
    shape = torch.zeros(1, cfg.n_shape, requires_grad=True)
    expr = torch.zeros(1, 50, requires_grad=True)
    glob = torch.full((1, 3), 1e-6, requires_grad=True)
    jaw = torch.full((1, 3), 1e-6, requires_grad=True)
    with torch.no_grad():  # camera from the template's landmark spread and centre
        lm0 = emb.points(flame.lbs(torch.zeros(1, 1)).vertices)[0, :, :2]
        lm0 = lm0 * torch.tensor([1.0, -1.0])
        s0 = (target - target.mean(0)).norm(dim=1).mean() / (lm0 - lm0.mean(0)).norm(dim=1).mean()
        t0 = (target.mean(0) / s0 - lm0.mean(0)) * torch.tensor([1.0, -1.0])
    cam = torch.cat([s0.view(1), t0]).view(1, 3).clone().requires_grad_(True)

    def residual():
        rot = flame.rotations_from_axis_angle(glob, jaw=jaw)
        lm = emb.points(flame.lbs(shape, expr, rot).vertices)
        proj = orthographic_project(lm, cam)[0, :, :2]
        return ((proj - target) ** 2).sum(1)

    with torch.no_grad():
        start = float(residual().mean().sqrt())
    opt = torch.optim.Adam([{"params": [shape, expr], "lr": cfg.lr * 5}, {"params": [glob, jaw], "lr": cfg.lr},
                            {"params": [cam], "lr": cfg.lr}])
    for _ in range(cfg.steps):
        opt.zero_grad()
        r = residual()
        loss = (w * r).sum() / w.sum() + cfg.shape_prior * (shape**2).sum() + cfg.expression_prior * (expr**2).sum()
        loss.backward()
        opt.step()
    with torch.no_grad():
        rms = float(residual().mean().sqrt())
        full_shape = torch.zeros(1, 100)
        full_shape[:, :cfg.n_shape] = shape
        code = DecaCode(full_shape, torch.zeros(1, 50), expr.detach().clone(), torch.cat([glob, jaw], 1).detach(),
                        cam.detach().clone(), torch.zeros(1, 9, 3), None)
    return LandmarkFit(code, rms, start)
