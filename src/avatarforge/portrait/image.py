"""Image conventions of the networks: RGBA in [-1, 1] with *linear* RGB (sRGB decoded).

``to_tensor`` / ``to_rgba`` convert between uint8 sRGB RGBA images (H, W, 4), straight alpha,
and network tensors (B, 4, H, W). ``resize`` changes the size of network tensors.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float, UInt8
from torch import Tensor

__all__ = ["srgb_to_linear", "linear_to_srgb", "to_tensor", "to_rgba", "resize", "composite"]


def srgb_to_linear(x: Tensor) -> Tensor:
    """sRGB-encoded values in [0, 1] -> linear (clamped to [0, 1] first)."""
    x = x.clamp(0, 1)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: Tensor) -> Tensor:
    """Linear values in [0, 1] -> sRGB-encoded (clamped to [0, 1] first)."""
    x = x.clamp(0, 1)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


def to_tensor(rgba: UInt8[np.ndarray, "*B H W 4"]) -> Float[Tensor, "B 4 H W"]:
    """uint8 sRGB RGBA -> network tensor: RGB linearised, every channel mapped to [-1, 1]."""
    a = torch.from_numpy(np.array(rgba, dtype=np.uint8, copy=True)).float() / 255.0
    if a.ndim == 3:
        a = a[None]
    a = torch.cat([srgb_to_linear(a[..., :3]), a[..., 3:]], -1)
    return (a * 2 - 1).permute(0, 3, 1, 2).contiguous()


def to_rgba(x: Float[Tensor, "B 4 H W"]) -> UInt8[np.ndarray, "B H W 4"]:
    """Network tensor -> uint8 sRGB RGBA (values outside [-1, 1] are clamped)."""
    a = ((x.detach().float().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1)
    a = torch.cat([linear_to_srgb(a[..., :3]), a[..., 3:]], -1)
    return (a * 255).round().to(torch.uint8).numpy()


def resize(x: Float[Tensor, "B C H W"], size: int) -> Float[Tensor, "B C size size"]:
    """Area-average down, bilinear up (identity at the same size)."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    if size < x.shape[-1]:
        return F.interpolate(x, size=(size, size), mode="area")
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def composite(rgba: UInt8[np.ndarray, "H W 4"], background=(255, 255, 255)) -> UInt8[np.ndarray, "H W 3"]:
    """RGBA over a flat background colour (in sRGB, as image viewers do)."""
    a = rgba[..., 3:4].astype(np.float32) / 255
    out = rgba[..., :3].astype(np.float32) * a + np.asarray(background, np.float32) * (1 - a)
    return np.round(out).astype(np.uint8)
