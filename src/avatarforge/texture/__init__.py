"""The texture from the photo: bake, de-light, inpaint, complete, and check against the photo.

``make_texture(rec, size)`` chains the stages (:mod:`.make`); each stage is a module of pure
functions: :mod:`.bake` (photo -> UV texture through the fitted camera), :mod:`.delight`
(2nd-order SH lighting), :mod:`.inpaint` (dark / unseen texels), :mod:`.complete` (mirror,
skin, hair, lips, eyes), :mod:`.seams`; helpers: :mod:`.layout` (texel -> surface),
:mod:`.mirror` (left/right symmetry), :mod:`.feature_regions` (features in UV space), :mod:`.skin`.
Colour maths runs in linear RGB; textures are returned as sRGB uint8.
"""

from avatarforge.texture.bake import BakeConfig, BakeResult, bake
from avatarforge.texture.complete import Completion, CompletionConfig, complete
from avatarforge.texture.delight import SHLighting, delight, fit_sh, sh_basis, sh_shading
from avatarforge.texture.feature_regions import UVRegions, regions_for, uv_regions
from avatarforge.texture.fidelity import face_fidelity, face_region_mask, fitted_fidelity, render_fitted
from avatarforge.texture.inpaint import InpaintConfig, InpaintResult, dark_mask, inpaint
from avatarforge.texture.layout import TexelLayout, TexelSurface, texel_layout, texel_surface
from avatarforge.texture.make import TextureConfig, TextureResult, make_texture
from avatarforge.texture.mirror import MirrorMap, texel_mirror_coords, vertex_mirror_map
from avatarforge.texture.skin import SkinTone, estimate_skin_tone, synth_skin

__all__ = [
    "make_texture", "TextureConfig", "TextureResult", "render_fitted", "face_fidelity", "face_region_mask", "fitted_fidelity",
    "bake", "BakeConfig", "BakeResult",
    "fit_sh", "delight", "sh_basis", "sh_shading", "SHLighting",
    "inpaint", "dark_mask", "InpaintConfig", "InpaintResult",
    "complete", "Completion", "CompletionConfig",
    "estimate_skin_tone", "synth_skin", "SkinTone",
    "vertex_mirror_map", "texel_mirror_coords", "MirrorMap",
    "uv_regions", "regions_for", "UVRegions",
    "texel_layout", "texel_surface", "TexelLayout", "TexelSurface",
]
