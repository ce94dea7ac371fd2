"""Inpainting of dark (shadowed) and unseen texels inside the face and neck.

After de-lighting, what SH lighting cannot explain -- cast shadows under the nose and chin,
deep eye-socket shade, glasses' rims -- is still much darker than the skin around it. A texel
is *dark* when its luminance ``L = 0.2126 R + 0.7152 G + 0.0722 B`` (linear) is below
``local_ratio`` times the weighted mean luminance of its neighbourhood (computed twice, the
second time without the first pass's dark texels, so a large shadow does not hide itself), or
below ``skin_ratio`` times the skin tone's luminance (darker than the estimated shading
predicts for skin). Unseen texels of the region are holes too. Both are filled from the mirror
side where that is seen and not dark, otherwise by a smooth push-pull fill from the good
texels around, with a little skin grain, and blended in through a feathered mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from jaxtyping import Bool, Float

from avatarforge.util.colour import LUMA
from avatarforge.texture.fill import band_noise, blur, feather, push_pull
from avatarforge.texture.layout import TexelLayout
from avatarforge.texture.mirror import sample_texels
from avatarforge.texture.skin import skin_likeness

__all__ = ["InpaintConfig", "InpaintResult", "dark_mask", "inpaint", "pyramid_skip_levels"]


@dataclass
class InpaintConfig:
    """Settings of :func:`inpaint` (lengths in texels of a 1024 texture; scaled with the size)."""

    local_ratio: float = 0.62
    """Dark if L < local_ratio x the neighbourhood's mean L."""
    skin_ratio: float = 0.5
    """Dark if L < skin_ratio x the skin tone's L."""
    neighbourhood: float = 10.0
    """Gaussian sigma of the neighbourhood mean."""
    min_weight: float = 0.02
    """Texels seen with less weight count as holes."""
    max_chroma: float = 0.25
    """Only texels whose chromaticity ``rgb / L`` is within this distance of the skin's are dark
    (a shadow darkens skin, it does not make it hair-coloured)."""
    source_weight: float = 0.0
    """Weight from which any seen texel is a source of the push-pull fill; below it (down to
    ``min_weight``) only texels that look like the skin tone (:func:`.skin.skin_likeness` >= 0.5).
    Low-weight texels at the edge of what the parsing lets through (a grey temple, a hairline,
    a grazing cheek) are the likeliest to hold something else: with every seen texel as a
    source (0, the default) a grey temple spreads a pale patch over the side of the head
    (biden.jpg); 0.6 removes it (bench_skin_border.py: border step 4.8 -> 2.6 delta E there,
    mean of 7 portraits 3.59 -> see results/skin_border.json) but costs 0.5 dB of the lit
    render's PSNR in the face (tests/texture/test_texture_make.py), so it is not the default yet."""
    grow: float = 1.5
    """Dilation of the detected mask (texels)."""
    feather: float = 2.0
    """Gaussian sigma of the blend mask's soft edge."""
    grain: float = 0.02
    """Strength of the skin grain added to filled texels (log-luminance std)."""


def pyramid_skip_levels(scale: float) -> int:
    """Pyramid levels to skip for a smooth fill: 1 at 1024, 2 at 2048, 3 at 4096."""
    return max(0, 1 + int(round(np.log2(max(scale, 1e-3)))))


@dataclass
class InpaintResult:
    """Output of :func:`inpaint`."""

    albedo: Float[np.ndarray, "S S 3"]
    """Linear RGB with dark and hole texels replaced."""
    mask: Bool[np.ndarray, "S S"]
    """Texels detected as dark or unseen (before growing)."""
    blend: Float[np.ndarray, "S S"]
    """0..1 weight of the fill in the output."""
    from_mirror: float
    """Fraction of the filled texels taken from the mirror side."""


def _smooth_mean(values: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-weighted local mean, computed at a resolution where sigma is ~3 pixels."""
    f = max(1, int(sigma // 3))
    h, w = weight.shape
    small = (w // f, h // f)
    vw = cv2.resize(values * weight, small, interpolation=cv2.INTER_AREA)
    ww = cv2.resize(weight, small, interpolation=cv2.INTER_AREA)
    mean = blur(vw, sigma / f) / np.maximum(blur(ww, sigma / f), 1e-6)
    return cv2.resize(mean, (w, h), interpolation=cv2.INTER_LINEAR)


def dark_mask(albedo: Float[np.ndarray, "S S 3"], weight: Float[np.ndarray, "S S"], region: Bool[np.ndarray, "S S"],
              skin: Float[np.ndarray, "3"], cfg: InpaintConfig | None = None) -> Bool[np.ndarray, "S S"]:
    """Seen, skin-coloured texels of ``region`` much darker than their neighbourhood or than
    the linear ``skin`` colour."""
    cfg = cfg or InpaintConfig()
    scale = albedo.shape[0] / 1024
    skin = np.asarray(skin, np.float32)
    skin_luminance = float(skin @ LUMA)
    lum = (albedo @ LUMA).astype(np.float32)
    chroma = albedo / np.maximum(lum, 1e-4)[..., None] - skin / max(skin_luminance, 1e-4)
    seen = region & (weight >= cfg.min_weight) & (np.linalg.norm(chroma, axis=-1) <= cfg.max_chroma)
    dark = np.zeros_like(seen)
    for _ in range(2):
        w = (seen & ~dark).astype(np.float32) * weight
        ref = _smooth_mean(lum, w, cfg.neighbourhood * scale)
        dark = seen & ((lum < cfg.local_ratio * ref) | (lum < cfg.skin_ratio * skin_luminance))
    return dark


def inpaint(albedo: Float[np.ndarray, "S S 3"], weight: Float[np.ndarray, "S S"], region: Bool[np.ndarray, "S S"],
            support: Bool[np.ndarray, "S S"], skin: Float[np.ndarray, "3"], layout: TexelLayout | None = None,
            mirror_coords: Float[np.ndarray, "N 2"] | None = None, cfg: InpaintConfig | None = None,
            seed: int = 0, hole_region: Bool[np.ndarray, "S S"] | None = None) -> InpaintResult:
    """Fill dark and unseen texels of ``region`` (see module docstring); ``skin`` is the linear skin tone.

    ``support`` (e.g. the head island) bounds the texels the push-pull fill may draw from;
    ``layout`` and ``mirror_coords`` (:func:`.mirror.texel_mirror_coords`) enable the mirror fill;
    ``hole_region`` (default ``region``) limits where unseen texels count as holes (elsewhere
    they are left to the completion).
    """
    cfg = cfg or InpaintConfig()
    size = albedo.shape[0]
    scale = size / 1024
    dark = dark_mask(albedo, weight, region, skin, cfg)
    holes = dark | ((region if hole_region is None else hole_region & region) & (weight < cfg.min_weight))
    r = max(1, int(round(cfg.grow * scale)))
    grown = cv2.dilate(holes.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    grown = grown.astype(bool) & region & (holes | (weight >= cfg.min_weight))
    # Sources of the fill: seen texels, those below ``source_weight`` only if they look like skin.
    good = support & ~grown & (weight >= cfg.min_weight)
    if cfg.source_weight > cfg.min_weight:
        weak = good & (weight < cfg.source_weight)
        good[weak] = skin_likeness(albedo[weak], skin) >= 0.5
    out = albedo.copy()
    blend = np.zeros(albedo.shape[:2], np.float32)
    if not grown.any():
        return InpaintResult(out, holes, blend, 0.0)

    smooth = push_pull(albedo, (good * np.minimum(weight * 2.0, 1.0)).astype(np.float32), skip=pyramid_skip_levels(scale))
    grain = np.exp(cfg.grain * band_noise(albedo.shape[:2], scales=(0.7, 2.5), amplitudes=(0.6, 0.4), seed=seed))
    fill = smooth * grain[..., None]
    mirror_share = 0.0
    if layout is not None and mirror_coords is not None:
        flat = grown.ravel()[layout.index]
        vals, mw = sample_texels(albedo, mirror_coords[flat], (good * weight).astype(np.float32))
        a = np.clip((mw - 0.3) / 0.4, 0.0, 1.0)[:, None]  # mirror confidence
        target = layout.index[flat]
        f = fill.reshape(-1, 3)
        f[target] = a * vals + (1 - a) * f[target]
        mirror_share = float(a.mean())
    blend = feather(grown, cfg.feather * scale) * (region | grown)
    blend = np.where(support, blend, 0.0).astype(np.float32)
    out = (albedo * (1 - blend[..., None]) + fill * blend[..., None]).astype(np.float32)
    return InpaintResult(out, holes, blend, mirror_share)


