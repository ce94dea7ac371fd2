"""The texture stage end to end: photo + fitted model -> albedo and lit textures.

``bake -> de-light -> inpaint -> complete -> seams`` (:func:`make_texture`). Every step is a
pure function of its own module; this one only wires them, caches nothing itself and times
each stage. Seam correction is a hook: :func:`avatarforge.texture.seams.correct_seams` is
called on the completed linear albedo when ``TextureConfig.seams`` is on (set it off to get
the raw completion, or replace :data:`SEAM_HOOK` with any ``(albedo, uvs, uv_faces, faces,
mask) -> albedo`` function).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
from jaxtyping import Float, UInt8

from avatarforge.errors import UserInputError
from avatarforge.texture.bake import BakeConfig, BakeResult, bake
from avatarforge.util.colour import to_uint8
from avatarforge.texture.complete import CompletionConfig, complete
from avatarforge.texture.delight import SHLighting, delight, fit_sh
from avatarforge.texture.feature_regions import regions_for
from avatarforge.texture.features import FeatureColours
from avatarforge.util.image import smoothstep
from avatarforge.texture.inpaint import InpaintConfig, inpaint
from avatarforge.texture.layout import unpack
from avatarforge.texture.mirror import texel_mirror_coords, vertex_mirror_map
from avatarforge.texture.skin import SkinTone, estimate_skin_tone, skin_detail, skin_likeness
from avatarforge.util.progress import Stages
from avatarforge.util.threads import single_threaded

__all__ = ["TextureConfig", "TextureResult", "make_texture", "bake_faces_mask", "clear_caches", "SEAM_HOOK",
           "SHADING_RANGE", "grow_mask"]

#: Clip of the SH shading used to de-light and to re-light (extrapolated light on the body
#: must not go black or blow out).
SHADING_RANGE = (0.45, 1.6)


@dataclass
class TextureConfig:
    """Settings of :func:`make_texture`; the defaults run in ~1-2 s at 1024 on a 2-core CPU."""

    bake: BakeConfig = field(default_factory=BakeConfig)
    inpaint: InpaintConfig = field(default_factory=InpaintConfig)
    completion: CompletionConfig = field(default_factory=CompletionConfig)
    sh_ridge: float = 0.1
    """Ridge on SH bands 1-2 (relative), against the one-sided normals of a face."""
    sh_chroma: float = 0.3
    """Share of each colour channel's own directional (band 1-2) light kept; the rest is the
    channels' mean (a face shows too few normals to tell coloured light directions apart)."""
    sh_min_weight: float = 0.5
    """Bake weight a skin texel needs to enter the lighting fit and the skin tone."""
    seams: bool = True
    """Run the seam correction hook on the completed albedo."""
    lit_photo_weight: float = 0.05
    """Bake weight from which the lit texture is the photo alone (below: blended with the re-lit
    albedo)."""


@dataclass
class TextureResult:
    """Textures of one photo. Images are (S, S, ...) with row 0 at the top (UV v = 1)."""

    albedo: UInt8[np.ndarray, "S S 3"]
    """De-lit, completed colour, sRGB uint8 (what an exporter stores)."""
    lit: UInt8[np.ndarray, "S S 3"]
    """The photo's appearance, sRGB uint8: where the photo shows a texel, its colour as
    photographed (lighting and shadows included, nothing inpainted); elsewhere the albedo re-lit
    by the estimated SH lighting on the fitted shape, blended by the photo's confidence."""
    albedo_linear: Float[np.ndarray, "S S 3"]
    """float32 linear RGB of ``albedo`` (before quantisation)."""
    lit_linear: Float[np.ndarray, "S S 3"]
    """float32 linear RGB of ``lit``."""
    shading: Float[np.ndarray, "S S 3"]
    """float32 SH shading of each texel on the fitted shape (clipped to :data:`SHADING_RANGE`)."""
    weight: Float[np.ndarray, "S S"]
    """float32 0..1 confidence of the photo at each texel (0: not seen); the bake weight, lowered
    around the face where the photo does not look like skin, raised where inpainted."""
    lighting: SHLighting
    """The SH lighting (9 x RGB coefficients) estimated from the face."""
    skin: SkinTone
    features: FeatureColours
    inpainted: Float[np.ndarray, "S S"]
    """0..1 share of the dark/hole inpainting in each texel."""
    mirrored: Float[np.ndarray, "S S"]
    """0..1 share of the mirror side in each texel."""
    baked: BakeResult
    """The bake (texel -> 3D point, normal, photo pixel; visibility), for reuse."""
    timings: dict[str, float]
    """Seconds per stage."""

    @property
    def size(self) -> int:
        return int(self.albedo.shape[0])


def correct_seams(albedo, uvs, uv_faces, faces, mask):
    from avatarforge.texture.seams import SEAMS_VERSION, SeamLayout, correct_seams, seam_layout
    from avatarforge.util.npcache import array_digest, disk_cached

    # One key for memory and disk: the whole UV layout, the topology and the texture size.
    key = array_digest(uvs, uv_faces, faces, extra=f"seams-{SEAMS_VERSION}-{albedo.shape[:2]}")
    if key not in _SEAM_LAYOUTS:
        _SEAM_LAYOUTS[key] = disk_cached("texture", key, SeamLayout,
                                         lambda: seam_layout(uvs, uv_faces, faces, albedo.shape[:2]))
        while len(_SEAM_LAYOUTS) > 2:
            _SEAM_LAYOUTS.popitem(last=False)
    return correct_seams(albedo, mask=mask, layout=_SEAM_LAYOUTS[key]).texture


_SEAM_LAYOUTS: OrderedDict = OrderedDict()
#: The seam-correction hook: ``(albedo (S,S,3) float32 linear, uvs, uv_faces, faces, covered
#: mask (S,S)) -> albedo``. Default: :func:`avatarforge.texture.seams.correct_seams`.
SEAM_HOOK: Callable = correct_seams


def grow_mask(mask: np.ndarray, radius: float) -> np.ndarray:
    r = max(1, int(round(radius)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2)
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def clear_caches() -> None:
    """Forget every in-memory cache of the texture stage (UV rasters, mirror lookups, regions,
    seam layouts, noise); the next :func:`make_texture` runs cold (benchmarks, memory)."""
    from avatarforge.texture import feature_regions, fill, layout, mirror, uv_parts

    layout._CACHE.clear()
    mirror._LOOKUPS.clear()
    feature_regions._CACHE.clear()
    _SEAM_LAYOUTS.clear()
    fill._band_noise.cache_clear()
    uv_parts._legend.cache_clear()


def _parsed_multiplier(b: BakeResult, parsing, regions, bcfg: BakeConfig) -> np.ndarray:
    """Bake-weight multiplier from the photo's parsing: skin labels only
    (:func:`.clean.parsed_bake_weight`); hair is geometry of its own (:mod:`avatarforge.bodies.hair`),
    so the scalp under it is completed as skin (hair painted on the temples would show below
    the hair mesh's edge)."""
    from avatarforge.texture.clean import SKIN_LABELS, allowed_distance, parsed_bake_weight

    h, w = parsing.labels.shape
    ramp = max(2.0, bcfg.edge_fraction * max(h, w))
    return parsed_bake_weight(b, allowed_distance(parsing.mask(*SKIN_LABELS)), ramp)


def _lift_hat_shadow(albedo: np.ndarray, b: BakeResult, parsing, rec, regions, size: int) -> np.ndarray:
    """The de-lit albedo with the cast shadow below the parsed headwear lifted
    (:func:`.clean.shadow_band`, :func:`.clean.lift_cast_shadow`); unchanged without headwear."""
    from avatarforge.texture.clean import SHADOW_REACH, lift_cast_shadow, shadow_band
    from avatarforge.texture.inpaint import pyramid_skip_levels

    hat = parsing.mask("headwear")
    if not hat.any():
        return albedo
    face_h = float(np.ptp(np.asarray(rec.landmarks.points)[:, 1]))
    band = shadow_band(b, hat, SHADOW_REACH * face_h)
    skin = regions.face & regions.head & ~grow_mask(regions.eyes | regions.brows | regions.lips, 4 * size / 1024)
    skin &= ~(regions.eyeball | regions.interior | regions.nostrils)
    return lift_cast_shadow(albedo, b.weight, band, skin, sigma=4.0 * size / 1024,
                            skip=pyramid_skip_levels(size / 1024))[0]


def bake_faces_mask(body, faces: np.ndarray) -> np.ndarray:
    """(F,) bool: triangles that take colour from the photo -- the head, its eyeballs and the
    top of the neck (a face fit says nothing about where the rest of the body is)."""
    from avatarforge.bodies.head_mesh import head_faces

    mask = np.zeros(len(faces), bool)
    mask[head_faces(body, faces)] = True
    return mask


@single_threaded
def make_texture(rec, size: int = 1024, config: TextureConfig | None = None,
                 stages: Stages | None = None, parsing=None) -> TextureResult:
    """Texture of ``rec`` (a :class:`~avatarforge.pipeline.face.FaceReconstruction`) at ``size``.

    ``parsing`` (a :class:`~avatarforge.perception.parsing.PhotoParsing` of ``rec.rgb``): only
    skin pixels colour the skin (hair also the scalp); glasses, headwear, hands, clothes and
    background count as unseen and are completed (:mod:`.clean`). None: every covered pixel."""
    cfg = config or TextureConfig()
    stages = stages or Stages()
    t0 = dict(stages.timings)
    body = rec.body
    if body is None or rec.fit is None:
        raise UserInputError("make_texture needs a face reconstruction with its body and fit "
                             "(avatarforge.pipeline.face.reconstruct_face)")
    with stages.stage("texture: setup"):
        out = body.forward_params(rec.fit.values)
        v, f = out.vertices[0].numpy(), out.faces.numpy()
        uvs, uvf = out.uvs.numpy(), out.uv_faces.numpy()
        regions = regions_for(body, size)
        mirror_map = vertex_mirror_map(body)
    with stages.stage("texture: bake"):
        bcfg = BakeConfig(**{**cfg.bake.__dict__, "size": size})
        b = bake(rec.rgb, rec.fit.camera, v, f, uvs, uvf, bcfg, bake_faces=bake_faces_mask(body, f))
        layout = b.layout
        photo_weight = b.weight  # what the lit texture shows on the face: the photo, whatever it shows
        if parsing is not None:
            b.weight = b.weight * _parsed_multiplier(b, parsing, regions, bcfg)
        coords = texel_mirror_coords(layout, f, uvs, uvf, mirror_map.vertex)
    with stages.stage("texture: de-light"):
        colour = b.colour.reshape(-1, 3)[layout.index]
        weight = b.weight.ravel()[layout.index]
        fit_w = weight * regions.skin.ravel()[layout.index] * (weight >= cfg.sh_min_weight)
        lighting = fit_sh(colour, b.surface.normals, fit_w, ridge=cfg.sh_ridge, chroma=cfg.sh_chroma)
        alb, shading = delight(colour, b.surface.normals, lighting, SHADING_RANGE)
        albedo = unpack(alb, layout)
        if parsing is not None:  # a hat's cast shadow on the forehead: lifted (.clean)
            albedo = _lift_hat_shadow(albedo, b, parsing, rec, regions, size)
        skin = estimate_skin_tone(albedo, b.weight, regions.skin, cfg.sh_min_weight)
        # Around the face (sides, ears, jaw underside, neck) and on its rim seen at a grazing
        # angle, the photo often shows clothes, hair, glasses' arms or background: trust it only
        # as far as it looks like skin.
        keep_out = grow_mask(regions.eyes | regions.brows | regions.lips, 4 * size / 1024)
        keep_out |= regions.eyeball | regions.interior | regions.nostrils
        grazing = unpack(b.n_dot_v < 0.5, layout, False, bool)
        rim = ~regions.face | (~regions.skin & grazing)
        around = regions.head & ~keep_out & (regions.scalp < 0.5) & rim
        seen_w = b.weight.copy()
        seen_w[around] *= skin_likeness(albedo[around], skin.linear)
    with stages.stage("texture: inpaint"):
        region = regions.face & regions.head & ~keep_out
        inp = inpaint(albedo, seen_w, region, regions.head | regions.face, skin.linear,
                      layout, coords, cfg.inpaint, seed=cfg.completion.seed)
        weight_img = np.maximum(seen_w, inp.blend * region)
    with stages.stage("texture: complete"):
        detail = skin_detail(albedo, regions.skin & (seen_w > cfg.sh_min_weight))
        comp = complete(inp.albedo, weight_img, regions, layout, coords, skin, detail, cfg.completion)
        final = comp.albedo
    if cfg.seams and SEAM_HOOK is not None:
        with stages.stage("texture: seams"):
            # Cavities (mouth, eye sockets) are painted, not photographed: their seams are not read.
            final = SEAM_HOOK(final, uvs, uvf, f, layout.mask & ~regions.interior)
            final = np.clip(final, 0.0, 1.0).astype(np.float32)
    with stages.stage("texture: encode"):
        shade_img = unpack(shading, layout, 1.0)
        # On the face the photo is the appearance, whatever it shows (glasses, strands, shadows);
        # around it only as far as it looks like skin (no background on the head's sides).
        photo = smoothstep(np.where(regions.face, photo_weight, seen_w) / cfg.lit_photo_weight)[..., None]
        lit_linear = (photo * b.colour + (1.0 - photo) * final * shade_img).astype(np.float32)
        if cfg.seams and SEAM_HOOK is not None:  # the photo crosses seams too (face charts)
            lit_linear = np.clip(SEAM_HOOK(lit_linear, uvs, uvf, f, layout.mask & ~regions.interior), 0.0, 1.0)
            lit_linear = lit_linear.astype(np.float32)
        lit = to_uint8(lit_linear)
        albedo_u8 = to_uint8(final)
    timings = {k: round(t, 4) for k, t in stages.timings.items() if k not in t0 or t0[k] != t}
    return TextureResult(albedo_u8, lit, final, lit_linear, shade_img, weight_img, lighting, skin, comp.features,
                         inp.blend, comp.mirror, b, timings)

