"""Colour and pixel-value conversions: the sRGB transfer curve, float <-> uint8, luminance.

Shading and texture maths runs on **linear RGB** float32 in [0, 1] (light adds up linearly
there); photos and the final textures are **sRGB** uint8 (IEC 61966-2-1 transfer curve).
The numpy functions come first; the torch twins (network images) sit beside them with a
``_torch`` suffix and import torch lazily, so numpy callers do not load it (their ``Tensor``
annotations are therefore only checked statically).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from jaxtyping import Float, UInt8

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["srgb_to_linear", "linear_to_srgb", "srgb_to_linear_torch", "linear_to_srgb_torch", "to_uint8",
           "from_uint8", "float_to_uint8", "luminance", "LUMA"]

#: Rec. 709 luminance weights of linear RGB: L = 0.2126 R + 0.7152 G + 0.0722 B.
LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def srgb_to_linear(c: Float[np.ndarray, "*S"] | Sequence[float] | float) -> Float[np.ndarray, "*S"]:
    """sRGB-encoded values in [0, 1] (an array, a colour tuple or a number) -> linear RGB (float32)."""
    c = np.asarray(c, dtype=np.float32)
    return np.where(c <= 0.04045, c / 12.92, ((np.maximum(c, 0.04045) + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(c: Float[np.ndarray, "*S"] | Sequence[float] | float) -> Float[np.ndarray, "*S"]:
    """Linear RGB (an array, a colour tuple or a number) -> sRGB-encoded values, clipped to [0, 1] (float32)."""
    c = np.clip(np.asarray(c, dtype=np.float32), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.maximum(c, 0.0031308) ** (1 / 2.4) - 0.055).astype(np.float32)


def srgb_to_linear_torch(x: Float[Tensor, "*S"]) -> Float[Tensor, "*S"]:
    """Torch twin of :func:`srgb_to_linear` for network images: clamps to [0, 1] first; input dtype."""
    import torch

    x = x.clamp(0, 1)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb_torch(x: Float[Tensor, "*S"]) -> Float[Tensor, "*S"]:
    """Torch twin of :func:`linear_to_srgb` (clamped to [0, 1] first); input dtype, differentiable."""
    import torch

    x = x.clamp(0, 1)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


# A 256-entry table makes uint8 decoding a gather instead of a power per pixel.
_DECODE = srgb_to_linear(np.arange(256, dtype=np.float32) / 255.0)


def from_uint8(img: UInt8[np.ndarray, "*S"]) -> Float[np.ndarray, "*S"]:
    """uint8 sRGB -> linear float32 in [0, 1]."""
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise TypeError(f"from_uint8 expects uint8 sRGB, got {img.dtype}")
    return _DECODE[img]


_ENCODE_STEPS = 16383
# Linear value quantised to 14 bits -> uint8 sRGB: off by at most one level from exact rounding.
_ENCODE = np.round(linear_to_srgb(np.arange(_ENCODE_STEPS + 1, dtype=np.float32) / _ENCODE_STEPS) * 255)
_ENCODE = _ENCODE.astype(np.uint8)


def to_uint8(linear: Float[np.ndarray, "*S"]) -> UInt8[np.ndarray, "*S"]:
    """Linear float RGB -> uint8 sRGB (clipped; a table lookup, within one level of exact rounding)."""
    x = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0) * _ENCODE_STEPS + 0.5
    return _ENCODE[x.astype(np.uint16)]


def float_to_uint8(values: Float[np.ndarray, "*S"]) -> UInt8[np.ndarray, "*S"]:
    """Float values in [0, 1] -> uint8 0..255, rounded to the nearest level and clipped.

    No transfer curve: for values that are already what the image stores (sRGB colours, masks,
    weights, normal maps). Linear colours go through :func:`to_uint8` instead.
    """
    return np.clip(np.round(np.asarray(values) * 255.0), 0, 255).astype(np.uint8)


def luminance(rgb: Float[np.ndarray, "*S 3"]) -> Float[np.ndarray, "*S"]:
    """Relative luminance of linear RGB, ``0.2126 R + 0.7152 G + 0.0722 B``."""
    return np.asarray(rgb, dtype=np.float32) @ LUMA
