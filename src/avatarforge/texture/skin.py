"""Skin tone from reliable face skin, and a skin-coloured fill with texture.

The tone is a robust estimate over texels of the reliable-skin region (cheeks, forehead,
nose, chin; see :mod:`.feature_regions`) seen with high weight: a per-channel median, then a second
median over texels whose luminance and chromaticity lie within 2.5 MADs of the first (drops
stray hair, glasses, make-up edges, specular spots). The fill modulates that tone with
band-limited noise whose strength is the measured fine-detail contrast of the face skin
(luminance high-pass), so the body does not look like flat paint next to the face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Bool, Float

from avatarforge.errors import UserInputError
from avatarforge.util.colour import LUMA, float_to_uint8, linear_to_srgb
from avatarforge.texture.fill import band_noise, blur
from avatarforge.util.stats import robust_std

__all__ = ["SkinTone", "estimate_skin_tone", "robust_skin_tone", "skin_detail", "skin_likeness", "synth_skin", "DEFAULT_SKIN"]

#: Linear RGB of a medium skin, used when no face skin is visible at all.
DEFAULT_SKIN = np.array([0.58, 0.38, 0.29], np.float32)


@dataclass
class SkinTone:
    """A robust skin colour."""

    linear: Float[np.ndarray, "3"]
    """float32 linear RGB."""
    n_texels: int
    """Texels the estimate used (0: none visible, the default tone)."""
    spread: float
    """Robust relative spread (MAD / median) of the skin luminance."""

    @property
    def srgb(self) -> np.ndarray:
        """(3,) uint8 sRGB."""
        return float_to_uint8(linear_to_srgb(self.linear))


def estimate_skin_tone(colour: Float[np.ndarray, "S S 3"], weight: Float[np.ndarray, "S S"],
                       skin: Bool[np.ndarray, "S S"], min_weight: float = 0.5,
                       exclude: Bool[np.ndarray, "S S"] | None = None) -> SkinTone:
    """Robust linear skin colour of ``colour`` over ``skin`` texels of weight >= ``min_weight``."""
    sel = skin & (weight >= min_weight)
    if exclude is not None:
        sel &= ~exclude
    if colour.shape[:2] != skin.shape or weight.shape != skin.shape:
        raise UserInputError(f"colour {colour.shape}, weight {weight.shape} and skin {skin.shape} must match")
    return robust_skin_tone(colour[sel])


def robust_skin_tone(colour: Float[np.ndarray, "N 3"]) -> SkinTone:
    """Robust linear skin colour of ``colour`` samples (texels or photo pixels, linear RGB): the
    median over the samples whose luminance and chromaticity lie within 2.5 MADs of the first
    median; :data:`DEFAULT_SKIN` (``n_texels`` 0) from fewer than 20 samples."""
    c = np.asarray(colour, np.float32).reshape(-1, 3)
    if len(c) < 20:
        return SkinTone(DEFAULT_SKIN.copy(), 0, 0.0)
    med = np.median(c, axis=0)
    lum = c @ LUMA
    chroma = c / np.maximum(lum, 1e-6)[:, None]
    keep = np.ones(len(c), bool)
    for values in (lum, *chroma.T):
        centre = np.median(values)
        mad = 1.4826 * np.median(np.abs(values - centre)) + 1e-6
        keep &= np.abs(values - centre) <= 2.5 * mad
    if keep.sum() >= 10:
        med = np.median(c[keep], axis=0)
    l_med = float(np.median(lum[keep]))
    spread = float(1.4826 * np.median(np.abs(lum[keep] - l_med)) / max(l_med, 1e-6))
    return SkinTone(med.astype(np.float32), int(keep.sum()), spread)


def skin_detail(colour: Float[np.ndarray, "S S 3"], region: Bool[np.ndarray, "S S"], sigma: float = 2.0) -> float:
    """Fine-detail contrast of skin: robust std of ``log L - blur(log L)`` over ``region``."""
    lum = np.maximum(colour @ LUMA, 1e-4).astype(np.float32)
    m = region.astype(np.float32)
    logl = np.log(lum) * m
    base = blur(logl, sigma) / np.maximum(blur(m, sigma), 1e-6)
    hp = (np.log(lum) - base)[region & (blur(m, sigma) > 0.99)]
    if hp.size < 50:
        return 0.03
    return robust_std(hp)


def synth_skin(shape: tuple[int, int], tone: Float[np.ndarray, "3"], detail: float = 0.03, seed: int = 0) -> np.ndarray:
    """(H, W, 3) linear skin: ``tone`` times ``exp(detail * noise)`` per texel, plus a weak
    low-frequency redness variation (blotches, as real skin). ``detail`` is clamped to 1-4 %
    (wrinkles and pores of an old face measure more, but read as a rash on a whole body)."""
    d = float(np.clip(detail, 0.01, 0.04))
    fine = band_noise(shape, scales=(0.7, 2.5), amplitudes=(0.6, 0.4), seed=seed)
    blotch = band_noise(shape, scales=(20.0, 60.0), amplitudes=(0.6, 0.4), seed=seed + 1)
    gain = np.exp(d * fine + 0.25 * d * blotch)[..., None]
    tint = np.stack([1 + 0.3 * d * blotch, 1 - 0.15 * d * blotch, 1 - 0.2 * d * blotch], -1)
    return (np.asarray(tone, np.float32) * gain * tint).astype(np.float32)


def skin_likeness(colour: Float[np.ndarray, "*S 3"], tone: Float[np.ndarray, "3"], lum_scale: float = 0.6,
                  chroma_scale: float = 0.2) -> Float[np.ndarray, "*S"]:
    """0..1: how much linear ``colour`` looks like the skin ``tone`` -- a Gaussian in
    log-luminance ratio (scale ``lum_scale``) and chromaticity ``rgb / L`` distance."""
    tone = np.asarray(tone, np.float32)
    lt = float(tone @ LUMA)
    lum = np.maximum(colour @ LUMA, 1e-4)
    d_l = np.log(lum / lt) / lum_scale
    d_c = np.linalg.norm(colour / lum[..., None] - tone / lt, axis=-1) / chroma_scale
    return np.exp(-0.5 * (d_l ** 2 + d_c ** 2)).astype(np.float32)
