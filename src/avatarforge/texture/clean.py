"""Keep everything that is not skin out of the baked texture, using the photo's parsing.

The bake (:mod:`.bake`) trusts every photo pixel the fitted mesh covers. :func:`parsed_bake_weight`
multiplies each texel's bake weight by how deep its photo pixel lies inside the pixels allowed
to colour it (:class:`~avatarforge.perception.parsing.PhotoParsing` labels): face and neck skin,
eyes, brows and lips. Hair (a mesh of its own), glasses, headwear, hands, clothing, other
people and background count as *unseen*: the texture stage inpaints/completes them.

The allowed region is eroded by the grazing angle: a texel seen at ``n . v`` needs its pixel
``ramp * (0.5 + 1.5 (1 - n . v))`` pixels inside the region for full weight, so on a turned
head the cheek/ear texels near the silhouette -- whose pixels mix skin with whatever lies
behind -- fade out instead of smearing the background in.
"""

from __future__ import annotations

import cv2
import numpy as np
from jaxtyping import Bool, Float

from avatarforge.texture.bake import BakeResult
from avatarforge.util.image import smoothstep
from avatarforge.texture.layout import unpack

__all__ = ["SKIN_LABELS", "allowed_distance", "parsed_bake_weight"]

SKIN_LABELS = ("face_skin", "body_skin", "eyes", "brows", "lips")
"""Labels whose pixels may colour the skin texture."""


def allowed_distance(allowed: Bool[np.ndarray, "H W"]) -> Float[np.ndarray, "H W"]:
    """Distance (pixels, float32) of every allowed pixel to the nearest pixel that is not; 0 outside."""
    m = np.pad(allowed.astype(np.uint8), 1)  # the image border is not allowed
    return cv2.distanceTransform(m, cv2.DIST_L2, 3)[1:-1, 1:-1].astype(np.float32)


def parsed_bake_weight(baked: BakeResult, distance: Float[np.ndarray, "H W"], ramp_px: float) -> Float[np.ndarray, "S S"]:
    """(S, S) float32 multiplier in [0, 1] of the bake weight: 1 where a texel's photo pixel is at
    least ``ramp_px * (0.5 + 1.5 (1 - n.v))`` pixels inside the allowed region (see
    :func:`allowed_distance`), 0 outside it, smooth between. Texels not seen by the photo get 0."""
    h, w = distance.shape
    idx = np.flatnonzero(baked.visible)
    px = np.clip(baked.pixel[idx, 0].astype(np.int64), 0, w - 1)
    py = np.clip(baked.pixel[idx, 1].astype(np.int64), 0, h - 1)
    ndv = np.clip(baked.n_dot_v[idx], 0.0, 1.0)
    need = max(ramp_px, 1e-3) * (0.5 + 1.5 * (1.0 - ndv))
    mult = np.zeros(len(baked.layout.index), np.float32)
    mult[idx] = smoothstep(distance[py, px] / need)
    return unpack(mult, baked.layout)
