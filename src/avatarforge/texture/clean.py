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
from avatarforge.texture.fill import blur, push_pull
from avatarforge.texture.layout import unpack
from avatarforge.util.colour import LUMA
from avatarforge.util.image import smoothstep

__all__ = ["SKIN_LABELS", "SHADOW_REACH", "allowed_distance", "parsed_bake_weight", "shadow_band", "lift_cast_shadow"]

SHADOW_REACH = 0.25
"""Reach of a hat's cast shadow below the headwear pixels, in face heights (the landmarks'
vertical extent); the band's membership falls smoothly from 1 at the hat to 0 there."""

SKIN_LABELS = ("face_skin", "body_skin", "eyes", "brows", "lips")
"""Labels whose pixels may colour the skin texture."""


def allowed_distance(allowed: Bool[np.ndarray, "H W"]) -> Float[np.ndarray, "H W"]:
    """Distance (pixels, float32) of every allowed pixel to the nearest pixel that is not; 0 outside."""
    m = np.pad(allowed.astype(np.uint8), 1)  # the image border is not allowed
    return cv2.distanceTransform(m, cv2.DIST_L2, 3)[1:-1, 1:-1].astype(np.float32)


def _seen_pixels(baked: BakeResult, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(layout indices of the texels the photo sees, their photo pixels' rows, columns), the
    pixels rounded down and clipped into an image of ``shape``."""
    idx = np.flatnonzero(baked.visible)
    px = np.clip(baked.pixel[idx, 0].astype(np.int64), 0, shape[1] - 1)
    py = np.clip(baked.pixel[idx, 1].astype(np.int64), 0, shape[0] - 1)
    return idx, py, px


def parsed_bake_weight(baked: BakeResult, distance: Float[np.ndarray, "H W"], ramp_px: float) -> Float[np.ndarray, "S S"]:
    """(S, S) float32 multiplier in [0, 1] of the bake weight: 1 where a texel's photo pixel is at
    least ``ramp_px * (0.5 + 1.5 (1 - n.v))`` pixels inside the allowed region (see
    :func:`allowed_distance`), 0 outside it, smooth between. Texels not seen by the photo get 0."""
    idx, py, px = _seen_pixels(baked, distance.shape)
    ndv = np.clip(baked.n_dot_v[idx], 0.0, 1.0)
    need = max(ramp_px, 1e-3) * (0.5 + 1.5 * (1.0 - ndv))
    mult = np.zeros(len(baked.layout.index), np.float32)
    mult[idx] = smoothstep(distance[py, px] / need)
    return unpack(mult, baked.layout)


def shadow_band(baked: BakeResult, caster: Bool[np.ndarray, "H W"], reach_px: float) -> Float[np.ndarray, "S S"]:
    """(S, S) float32 0..1: how deep each seen texel's photo pixel lies in the band below the
    ``caster`` pixels (e.g. headwear): ``1 - smoothstep(d / reach_px)`` at ``d`` pixels from the
    nearest caster pixel, for pixels lower in the photo than the caster's lowest pixel in their
    column (or the nearest column holding caster pixels); 0 elsewhere and on unseen texels."""
    h, w = caster.shape
    if not caster.any():
        return np.zeros(baked.weight.shape, np.float32)
    d = cv2.distanceTransform((~caster).astype(np.uint8), cv2.DIST_L2, 3)
    cols = caster.any(0)
    lowest = np.where(cols, h - 1 - np.argmax(caster[::-1], 0), h)
    # A column without caster pixels takes the nearest caster column's lowest row.
    idx = np.flatnonzero(cols)
    nearest = idx[np.clip(np.searchsorted(idx, np.arange(w)), 0, len(idx) - 1)]
    left = idx[np.clip(np.searchsorted(idx, np.arange(w)) - 1, 0, len(idx) - 1)]
    nearest = np.where(np.abs(left - np.arange(w)) < np.abs(nearest - np.arange(w)), left, nearest)
    below = np.arange(h)[:, None] > lowest[nearest][None]
    t_img = np.where(below & ~caster, 1.0 - smoothstep(d / max(reach_px, 1.0)), 0.0).astype(np.float32)
    sel, py, px = _seen_pixels(baked, caster.shape)
    t = np.zeros(len(baked.layout.index), np.float32)
    t[sel] = t_img[py, px]
    return unpack(t, baked.layout)


def lift_cast_shadow(albedo: Float[np.ndarray, "S S 3"], weight: Float[np.ndarray, "S S"], band: Float[np.ndarray, "S S"],
                     skin: Bool[np.ndarray, "S S"], sigma: float = 4.0, max_gain: float = 3.0,
                     skip: int = 0) -> tuple[Float[np.ndarray, "S S 3"], Float[np.ndarray, "S S"]]:
    """``(albedo, gain)``: ``albedo`` (linear RGB) with the cast shadow of the ``band``
    (:func:`shadow_band`) lifted, and the (S, S) gain applied (1 outside the band).

    The reference is the log-luminance of the seen ``skin`` texels outside the band (``band`` <
    0.05), push-pull extended into it (``skip`` coarse levels: a smooth field); the band's own is
    a Gaussian (``sigma`` texels) weighted mean of its seen skin texels. Where the band is darker
    the gain ``exp(band * (ref - own))`` (clipped to 1..``max_gain``) brightens every band texel
    by that smooth factor: the skin's fine detail, brows included, is kept."""
    lum = np.log(np.maximum(albedo @ LUMA, 1e-4)).astype(np.float32)
    w = (np.clip(weight, 0.0, 1.0) * skin).astype(np.float32)
    in_band = (band > 0.05) & (w > 0)
    gain = np.ones(weight.shape, np.float32)
    if not in_band.any() or not ((w > 0) & ~in_band).any():
        return albedo, gain
    ref = push_pull(lum[..., None], w * ~in_band, skip=skip)[..., 0]
    wb = w * in_band
    own = blur(lum * wb, sigma) / np.maximum(blur(wb, sigma), 1e-6)
    covered = blur(wb, sigma) > 1e-3
    lift = np.where(covered & (band > 0), np.clip(ref - own, 0.0, np.log(max_gain)) * band, 0.0)
    gain = np.exp(lift).astype(np.float32)
    return (albedo * gain[..., None]).astype(np.float32), gain
