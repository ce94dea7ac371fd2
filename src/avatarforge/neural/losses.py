"""Losses and image metrics: mask BCE, L1, SSIM (Gaussian window), PSNR."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

__all__ = ["ssim", "psnr", "mask_bce", "image_metrics"]


def _gaussian(size: int = 11, sigma: float = 1.5, dtype=torch.float32) -> Tensor:
    x = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(a: Float[Tensor, "B C H W"], b: Float[Tensor, "B C H W"], size: int = 11, sigma: float = 1.5) -> Float[Tensor, " B"]:
    """Mean SSIM per image (values in [0, 1] images; Gaussian window, C1 = 0.01^2, C2 = 0.03^2,
    statistics over the valid window positions only; the window shrinks to fit small images)."""
    c = a.shape[1]
    size = min(size, a.shape[-2], a.shape[-1])
    size -= 1 - size % 2  # odd
    g = _gaussian(size, sigma, a.dtype)
    wx = g.view(1, 1, 1, size).expand(c, 1, 1, size)
    wy = g.view(1, 1, size, 1).expand(c, 1, size, 1)

    def blur(x: Tensor) -> Tensor:
        return F.conv2d(F.conv2d(x, wx, groups=c), wy, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    saa = blur(a * a) - mu_a**2
    sbb = blur(b * b) - mu_b**2
    sab = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    m = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2))
    return m.flatten(1).mean(1)


def psnr(a: Float[Tensor, "B C H W"], b: Float[Tensor, "B C H W"]) -> Float[Tensor, " B"]:
    """Peak signal-to-noise ratio in dB of [0, 1] images."""
    mse = ((a - b) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return -10 * torch.log10(mse)


def mask_bce(log_fg: Float[Tensor, "B 1 H W"], log_bg: Float[Tensor, "B 1 H W"], target: Float[Tensor, "B 1 H W"]) -> Tensor:
    """Binary cross-entropy from the log-probabilities of person and background (stable)."""
    return -(target * log_fg + (1 - target) * log_bg).mean()


def image_metrics(pred: Float[Tensor, "B 3 H W"], target: Float[Tensor, "B 3 H W"]) -> dict[str, Tensor]:
    """Per-image SSIM, PSNR and mean absolute error (L1) of [0, 1] images (pred is clamped)."""
    p = pred.clamp(0, 1)
    return {"ssim": ssim(p, target), "psnr": psnr(p, target), "l1": (p - target).abs().flatten(1).mean(1)}
