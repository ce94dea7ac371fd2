"""A skin texture without a photographed face: the completion (:mod:`.complete`) with nothing
seen, in a given skin tone.

Used where no face was fitted (:mod:`avatarforge.pipeline.body_only`): the whole UV layout is
synthesised skin (:func:`.skin.synth_skin`) of the tone measured on the photo's visible body
skin, with the completion's own lips, brows, procedural eyes and mouth interior, so the
avatar has the person's skin colour and not the default material.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float, UInt8

from avatarforge.texture.complete import CompletionConfig, complete
from avatarforge.texture.feature_regions import regions_for
from avatarforge.texture.layout import texel_layout
from avatarforge.texture.mirror import texel_mirror_coords, vertex_mirror_map
from avatarforge.texture.skin import SkinTone, robust_skin_tone
from avatarforge.util.colour import from_uint8, to_uint8

__all__ = ["plain_texture", "photo_skin_tone", "PLAIN_DETAIL"]

PLAIN_DETAIL = 0.025
"""Skin grain strength (log-luminance std) of a plain texture: a typical adult face's measure
(:func:`.skin.skin_detail`)."""


def photo_skin_tone(rgb: UInt8[np.ndarray, "H W 3"], skin: np.ndarray) -> SkinTone:
    """Robust linear skin colour of the photo's ``skin`` pixels ((H, W) bool: e.g. the parsed
    neck, arm and hand skin). Photo pixels carry their lighting; like the face path's
    de-lighting (whose SH shading averages 1 over the face) the tone is their robust median,
    so a plain texture and a photo texture of the same person agree. Fewer than 20 pixels:
    :data:`.skin.DEFAULT_SKIN` (``n_texels`` 0)."""
    px = np.asarray(rgb)[np.asarray(skin, bool)]
    return robust_skin_tone(from_uint8(px))


def plain_texture(body, output, skin: SkinTone, size: int = 1024, seed: int = 0) -> UInt8[np.ndarray, "S S 3"]:
    """(S, S, 3) sRGB uint8 albedo of ``body`` (its UV layout from ``output``, a BodyOutput):
    every texel completed in the tone ``skin`` (see module docstring)."""
    uvs, uvf, f = output.uvs.numpy(), output.uv_faces.numpy(), output.faces.numpy()
    layout = texel_layout(uvs, uvf, size)
    regions = regions_for(body, size)
    coords = texel_mirror_coords(layout, f, uvs, uvf, vertex_mirror_map(body).vertex)
    empty: Float[np.ndarray, "S S"] = np.zeros((size, size), np.float32)
    comp = complete(np.zeros((size, size, 3), np.float32), empty, regions, layout, coords, skin, PLAIN_DETAIL,
                    CompletionConfig(seed=seed))
    return to_uint8(comp.albedo)
