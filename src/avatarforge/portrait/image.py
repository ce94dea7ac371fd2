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

from avatarforge.util.colour import float_to_uint8, linear_to_srgb_torch, srgb_to_linear_torch

__all__ = ["to_tensor", "to_rgba", "resize", "composite", "beside"]


def to_tensor(rgba: UInt8[np.ndarray, "*B H W 4"]) -> Float[Tensor, "B 4 H W"]:
    """uint8 sRGB RGBA -> network tensor: RGB linearised, every channel mapped to [-1, 1]."""
    a = torch.from_numpy(np.array(rgba, dtype=np.uint8, copy=True)).float() / 255.0
    if a.ndim == 3:
        a = a[None]
    a = torch.cat([srgb_to_linear_torch(a[..., :3]), a[..., 3:]], -1)
    return (a * 2 - 1).permute(0, 3, 1, 2).contiguous()


def to_rgba(x: Float[Tensor, "B 4 H W"]) -> UInt8[np.ndarray, "B H W 4"]:
    """Network tensor -> uint8 sRGB RGBA (values outside [-1, 1] are clamped)."""
    a = ((x.detach().float().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1)
    a = torch.cat([linear_to_srgb_torch(a[..., :3]), a[..., 3:]], -1)
    return float_to_uint8(a.numpy())


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


def beside(left: UInt8[np.ndarray, "h w 3"], right: UInt8[np.ndarray, "H W 3"]) -> UInt8[np.ndarray, "H W2 3"]:
    """``left`` resized to ``right``'s height (area-averaged, aspect kept) and put left of it."""
    import cv2

    size = right.shape[0]
    h, w = left.shape[:2]
    small = cv2.resize(left, (max(1, round(w * size / h)), size), interpolation=cv2.INTER_AREA)
    return np.concatenate([small, right], 1)
