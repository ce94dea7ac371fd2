"""Colours of the face's non-skin features, for the texels the photo does not show.

* hair: the visible scalp is called *hair* when most of it is far from the skin tone in
  luminance or chromaticity; its weighted interquartile mean then covers the unseen scalp;
* lips: the visible lips' median colour, else the skin tone made redder and darker;
* eyeballs: a procedural eye from each texel's angle to the gaze (see :mod:`.feature_regions`):
  pupil, iris (colour of the visible iris if any, else brown) with a darker limbal ring, and
  a slightly warm sclera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

from avatarforge.util.colour import LUMA

__all__ = ["FeatureColours", "feature_colours", "eyeball_colours", "IRIS_DEG", "PUPIL_DEG", "SCLERA"]

#: Angular radius (degrees from the gaze) of the iris and the pupil on Anny's eyeball.
IRIS_DEG, PUPIL_DEG = 24.0, 9.0
SCLERA = np.array([0.72, 0.64, 0.60], np.float32)
"""Default sclera albedo (linear RGB): the prior when the photo shows too little of the eye."""
_IRIS = np.array([0.09, 0.045, 0.02], np.float32)
_PUPIL = np.array([0.01, 0.01, 0.01], np.float32)
_LIP_GAIN = np.array([0.85, 0.55, 0.58], np.float32)


@dataclass
class FeatureColours:
    """Linear RGB of the features (estimated from the photo or defaults)."""

    hair: Float[np.ndarray, "3"] | None
    """Hair colour, or None when the visible scalp looks like skin (bald or unseen)."""
    hair_fraction: float
    """Share of the visible scalp that looked like hair."""
    lips: Float[np.ndarray, "3"]
    iris: Float[np.ndarray, "3"]
    sclera: Float[np.ndarray, "3"]


def _median(c: np.ndarray, default: np.ndarray, minimum: int = 20) -> np.ndarray:
    return np.median(c, axis=0).astype(np.float32) if len(c) >= minimum else default.copy()


def feature_colours(albedo: Float[np.ndarray, "S S 3"], weight: Float[np.ndarray, "S S"], regions,
                    skin: Float[np.ndarray, "3"], hair_fraction: float = 0.4) -> FeatureColours:
    """Estimate the feature colours from the (de-lit) baked albedo and its weights."""
    skin = np.asarray(skin, np.float32)
    l_skin = float(skin @ LUMA)
    scalp = (regions.scalp > 0.5) & (weight > 0.05)
    c, w = albedo[scalp], weight[scalp] * regions.scalp[scalp]
    hair, frac = None, 0.0
    if len(c) >= 50:
        lum = np.maximum(c @ LUMA, 1e-5)
        chroma = c / lum[:, None] - skin / l_skin
        # Darker than skin, or another hue. Brighter alone is not hair: a bald scalp shines
        # (measured on a bald head: 70 % of its scalp texels brighter, 28 % off-hue; blond hair
        # is off-hue: 84 %).
        hairlike = (np.log(lum / l_skin) < -0.35) | (np.linalg.norm(chroma, axis=1) > 0.25)
        frac = float(hairlike.mean())
        if frac >= hair_fraction:
            # All of the visible scalp, not only the texels that stand out from the skin: blond
            # strands are close to skin and would be left out, darkening the estimate.
            lum = c @ LUMA  # interquartile (by luminance) weighted mean: no glints, no deep shade
            lo, hi = np.percentile(lum, [25, 75])
            mid = (lum >= lo) & (lum <= hi)
            hair = ((c[mid] * w[mid, None]).sum(0) / max(float(w[mid].sum()), 1e-9)).astype(np.float32)
    lips = _median(albedo[regions.lips & (weight > 0.4)], skin * _LIP_GAIN)
    angle = np.nan_to_num(regions.iris_angle, nan=180.0)
    iris = _median(albedo[(angle < IRIS_DEG - 4) & (angle > PUPIL_DEG) & (weight > 0.3)], _IRIS, minimum=4)
    # The sclera as photographed (often shaded by lids, lashes or glasses), kept between half and
    # 1.2 x the default white so that lid colour baked onto the eyeball edge cannot make it skin.
    sclera = _median(albedo[(angle > IRIS_DEG + 4) & (angle < 90) & (weight > 0.3)], SCLERA, minimum=4)
    sclera = np.clip(sclera, 0.5 * SCLERA, 1.2 * SCLERA).astype(np.float32)
    return FeatureColours(hair, frac, lips, iris, sclera)


def eyeball_colours(iris_angle: Float[np.ndarray, " N"], iris: Float[np.ndarray, "3"],
                    sclera: Float[np.ndarray, "3"] = SCLERA) -> Float[np.ndarray, "N 3"]:
    """Procedural eyeball colours (linear RGB) at angles (degrees) from the gaze."""
    a = np.asarray(iris_angle, np.float32)[:, None]
    t_iris = np.clip((IRIS_DEG + 1.5 - a) / 3.0, 0, 1)  # soft iris edge
    t_pupil = np.clip((PUPIL_DEG + 1.0 - a) / 2.0, 0, 1)
    limbus = np.exp(-(((a - IRIS_DEG + 2.0) / 2.5) ** 2))
    iris_col = np.asarray(iris, np.float32) * (1.0 - 0.5 * limbus)
    col = np.asarray(sclera, np.float32) * (1 - t_iris) + iris_col * t_iris
    return (col * (1 - t_pupil) + _PUPIL * t_pupil).astype(np.float32)
