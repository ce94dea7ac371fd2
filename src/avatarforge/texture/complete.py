"""Texture completion: every texel the photo did not show gets a plausible colour.

Per texel, in this order of preference:

1. the photo (de-lit, inpainted), with full confidence from weight ``photo_weight`` up;
2. the mirror texel (:mod:`.mirror`), where the photo shows the other side;
3. a synthesised fill: the skin tone with skin grain (:func:`.skin.synth_skin`), which near
   the photographed face follows the face's own low-frequency colour (push-pull extension,
   fading to the global tone over ``transition`` texels) so there is no visible edge; hair
   colour on the scalp when the visible scalp is hair; redder lips; a procedural eye on the
   eyeballs; dark red inside the mouth.

The three are blended by their confidences (smooth weights, no hard switches). Texels outside
the UV layout finally take the colour of the nearest covered texels (a gutter), so mip-mapping
and bilinear lookups at island borders do not pull in black.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from jaxtyping import Float

from avatarforge.texture.feature_regions import UVRegions
from avatarforge.texture.features import FeatureColours, eyeball_colours, feature_colours
from avatarforge.texture.fill import band_noise, feather, lowpass, nearest_fill, push_pull
from avatarforge.texture.inpaint import pyramid_skip_levels
from avatarforge.util.image import smoothstep
from avatarforge.texture.layout import TexelLayout
from avatarforge.texture.mirror import sample_texels
from avatarforge.texture.skin import SkinTone, synth_skin

__all__ = ["CompletionConfig", "Completion", "complete"]

_MOUTH = np.array([0.18, 0.04, 0.04], np.float32)


@dataclass
class CompletionConfig:
    """Settings of :func:`complete` (lengths in texels of a 1024 texture; scaled with the size)."""

    photo_weight: float = 0.15
    """Bake weight from which the photo alone is used."""
    mirror_weight: float = 0.3
    """Mirror-side weight from which the mirror alone fills an unseen texel."""
    transition: float = 14.0
    """Distance over which the fill goes from the face's local colour to the global skin tone."""
    hair_fraction: float = 0.4
    """Share of the visible scalp that must look like hair to paint the unseen scalp with it."""
    seed: int = 0
    """Seed of the synthesised grain."""


@dataclass
class Completion:
    """Output of :func:`complete`."""

    albedo: Float[np.ndarray, "S S 3"]
    """Complete linear-RGB albedo (gutter texels included)."""
    photo: Float[np.ndarray, "S S"]
    """0..1 share of the photo in each texel."""
    mirror: Float[np.ndarray, "S S"]
    """0..1 share of the mirror side."""
    features: FeatureColours


def _bbox(mask: np.ndarray, pad: int = 0) -> tuple[slice, slice]:
    """Slices of the bounding box of a mask's True pixels, grown by ``pad`` (whole image if empty)."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        return slice(None), slice(None)
    h, w = mask.shape
    return (slice(max(0, rows[0] - pad), min(h, rows[-1] + 1 + pad)),
            slice(max(0, cols[0] - pad), min(w, cols[-1] + 1 + pad)))


def complete(albedo: Float[np.ndarray, "S S 3"], weight: Float[np.ndarray, "S S"], regions: UVRegions,
             layout: TexelLayout, mirror_coords: Float[np.ndarray, "N 2"], skin: SkinTone, detail: float,
             cfg: CompletionConfig | None = None) -> Completion:
    """Complete a de-lit, inpainted albedo; ``detail`` is the skin grain strength (:func:`.skin.skin_detail`)."""
    cfg = cfg or CompletionConfig()
    size = albedo.shape[0]
    scale = size / 1024
    feats = feature_colours(albedo, weight, regions, skin.linear, cfg.hair_fraction)

    a_own = smoothstep(weight / cfg.photo_weight)
    # Only texels of the head that the photo does not fully cover can use their mirror.
    flat = layout.index
    want = np.flatnonzero(((regions.head | regions.eyeball | regions.face).ravel()[flat]) & (a_own.ravel()[flat] < 1.0))
    vals, mw = sample_texels(albedo, mirror_coords[want], weight)
    a_mir = np.zeros(size * size, np.float32)
    a_mir[flat[want]] = smoothstep(mw / cfg.mirror_weight)
    a_mir = a_mir.reshape(size, size) * (1.0 - a_own)
    mirror = np.zeros((size * size, 3), np.float32)
    mirror[flat[want]] = vals
    mirror = mirror.reshape(size, size, 3)
    shown = a_own + a_mir  # <= 1
    seen = (a_own[..., None] * albedo + a_mir[..., None] * mirror)

    # Synthesised fill: skin grain everywhere; on the head (its UV box: every step below is local
    # to it) hair on the scalp, brows, lips...
    fill = synth_skin((size, size), skin.linear, detail, cfg.seed)
    box = _bbox(regions.head | regions.face, pad=int(8 * scale))
    fb, sh, sn = fill[box], shown[box], seen[box]
    scalp = regions.scalp[box]
    if feats.hair is not None:
        grain = np.exp(0.12 * band_noise((size, size), (1.0, 4.0), (0.6, 0.4), seed=cfg.seed + 7)[box])[..., None]
        s = feather(scalp > 0.5, 3 * scale) * np.clip(scalp * 1.5, 0, 1)
        fb = fb * (1 - s[..., None]) + (feats.hair * grain) * s[..., None]
    brows = feather(regions.brows[box], 1.5 * scale)[..., None]
    brow_col = feats.hair if feats.hair is not None else skin.linear * 0.35
    fb = fb * (1 - 0.7 * brows) + 0.7 * brows * brow_col
    lips = feather(regions.lips[box], 1.0 * scale)[..., None]
    fb = fb * (1 - lips) + lips * feats.lips
    # ... which near the photographed part follows its low-frequency colour (no visible edge).
    head = (regions.head | regions.face)[box]
    local = push_pull(sn / np.maximum(sh, 1e-6)[..., None], sh * head, skip=pyramid_skip_levels(scale))
    dist = cv2.distanceTransform((sh < 0.5).astype(np.uint8), cv2.DIST_L2, 3)
    # Hair follows its visible part further than skin (3x the transition length).
    t = (np.exp(-dist / (cfg.transition * scale * (1 + 2 * scalp))) * head)[..., None]
    f = max(2, int(round(4 * scale)))
    ratio = np.clip(lowpass(local, f) / np.maximum(lowpass(fb, f), 1e-4), 0.5, 2.0)
    fill[box] = fb * (1.0 + t * (ratio - 1.0))
    fill[regions.eyeball] = eyeball_colours(regions.iris_angle[regions.eyeball], feats.iris, feats.sclera)
    fill[regions.interior] = _MOUTH

    out = seen + (1.0 - shown)[..., None] * fill
    out = nearest_fill(out, layout.mask)  # gutter
    return Completion(np.clip(out, 0.0, 1.0).astype(np.float32), a_own, a_mir, feats)
