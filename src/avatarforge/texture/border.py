"""How visible the border between the photo-baked face and the completed skin is, in UV space.

:func:`border_step`: along the border between the texels the photo shows with confidence and the
texels it does not show at all, the CIELAB difference (delta E76) between the two sides' local
mean albedo, each a Gaussian-weighted mean over its own side only. A
seamless texture has a step near 0 (the skin's own slow gradients); a completion that does not
follow the face's colour, or photo texels smeared at grazing angles, show as a step of several
delta E along the cheeks, ears and jaw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Bool, Float

from avatarforge.texture.fill import blur

__all__ = ["BorderStep", "border_step"]


@dataclass
class BorderStep:
    """Output of :func:`border_step`."""

    mean_de: float
    """Mean delta E76 between the two sides' local means over the border texels (nan: no border)."""
    p90_de: float
    """90th percentile of the same."""
    texels: int
    """Border texels measured."""
    delta_e: Float[np.ndarray, "S S"]
    """Per-texel step on the border (0 elsewhere), for pictures."""


def _lab(linear: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    from avatarforge.util.colour import linear_to_srgb

    return rgb2lab(np.clip(linear_to_srgb(np.clip(linear, 0.0, 1.0)), 0.0, 1.0)[None])[0]


def border_step(albedo: Float[np.ndarray, "S S 3"], photo_share: Float[np.ndarray, "S S"],
                region: Bool[np.ndarray, "S S"], band: float = 12.0, presence: float = 0.15) -> BorderStep:
    """The colour step between the photo-baked and the completed sides of ``albedo`` (linear RGB).

    ``photo_share`` is the photo's 0..1 confidence at each texel (e.g.
    :attr:`~avatarforge.texture.make.TextureResult.weight`); ``region`` the texels measured
    (e.g. head skin away from features). Photo side: share >= 0.5; completed side: share < 0.02
    (the transition between them, however wide, belongs to neither). Each side's local mean is
    a Gaussian (sigma ``band`` texels) over that side's region texels only; a texel of the
    region is on the border when both sides hold at least ``presence`` of its Gaussian window."""
    photo = region & (photo_share >= 0.5)
    completed = region & (photo_share < 0.02)
    a = np.asarray(albedo, np.float32)
    means, shares = [], []
    for side in (photo, completed):
        w = side.astype(np.float32)
        share = blur(w, band)
        means.append(blur(a * w[..., None], band) / np.maximum(share, 1e-6)[..., None])
        shares.append(share / np.maximum(blur(region.astype(np.float32), band), 1e-6))
    border = region & (shares[0] >= presence) & (shares[1] >= presence)
    de = np.zeros(region.shape, np.float32)
    if not border.any():
        return BorderStep(float("nan"), float("nan"), 0, de)
    de[border] = np.linalg.norm(_lab(means[0][border]) - _lab(means[1][border]), axis=-1)
    vals = de[border]
    return BorderStep(float(vals.mean()), float(np.percentile(vals, 90)), int(border.sum()), de)
