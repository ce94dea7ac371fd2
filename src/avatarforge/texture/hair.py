"""The hair's texture from the photo: projected where the photo shows the hair, de-lit like the
skin, completed with the seen hair's statistics, with strand detail and alpha at the tips.

The hair mesh (:mod:`avatarforge.bodies.hair`) carries texture coordinates in which strands
run along v. Every texel of the hair's UV layout is placed on the mesh in the photo's pose and
projected through the fitted camera; it is **seen** when the hair surface there is the one in
front (the hair's own depth and the body's), faces the camera and the photo's parsing calls
the pixel hair (its 1-pixel border left out: it mixes in the background) and its colour is not
far from the seen hair's median in colour or in hue (a parsing slip: background, a hand). Seen texels take the
photo's colour divided by the skin's SH shading at their normal (:mod:`.delight`: the same light
lit the hair). The rest is completed from the seen hair: a smooth extension of the seen colours
near them fading into their median colour, times **strand detail**: noise stretched along v
(the strand direction) whose amplitude is the seen hair's own fine log-luminance variation.
**Alpha** thins the free edges (:attr:`HairMesh.tip`): each texel column is one strand ending
at its own random length, so with glTF ``alphaMode MASK`` (alpha-tested, no sorting of the
hair against itself, which a blended shell would need) the tips and a hairline without a
curtain end in strands.

Three images come out (sRGB RGBA uint8, same alpha): ``albedo`` (the export's texture),
``lit`` (the photo's colours where seen, the completed albedo re-lit elsewhere: what
``render_fitted.png`` shows, as the skin's ``texture_lit`` does) and ``relit`` (the albedo
re-lit everywhere: how a renderer with the estimated light shows the exported hair; only on
request, for measurements).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
from jaxtyping import Bool, Float, UInt8

from avatarforge.bodies.hair import default_hair_srgb
from avatarforge.render.uv import rasterize_uv
from avatarforge.texture.bake import bilinear
from avatarforge.texture.delight import sh_shading
from avatarforge.texture.fill import nearest_fill, push_pull
from avatarforge.texture.make import SHADING_RANGE
from avatarforge.util.colour import float_to_uint8, from_uint8, luminance, srgb_to_linear, to_uint8
from avatarforge.util.geometry import vertex_normals
from avatarforge.util.image import smoothstep
from avatarforge.util.stats import robust_std

__all__ = ["HairTexture", "hair_texture", "strand_noise", "HAIR_TEXTURE_SIZE"]

HAIR_TEXTURE_SIZE = (512, 1024)
"""(height, width) of the hair texture: u runs around the head (0.78 of the width for the
shell and curtain), v down the hair."""
DEPTH_TOLERANCE = 0.01
"""Metres a texel may lie behind the visible hair surface and still count as seen."""
DETAIL_RANGE = (0.04, 0.25)
"""Limits of the strand detail's log-luminance amplitude."""
OUTLIER_DE = 40.0
"""CIELAB distance from the seen hair's median colour beyond which (and beyond 3 robust standard
deviations) a seen texel is taken for a parsing slip and completed instead in the albedo (set
high: highlights on dark hair lie 30+ away; at 30, two faces' per-pixel ΔE rose by 4)."""
OUTLIER_CHROMA = 20.0
"""CIELAB chroma distance (a*, b* only) from the seen hair's median beyond which (and beyond 3
robust standard deviations of that distance) a seen texel is a slip too: light and shade move
hair mostly in lightness, a background showing through thin grey hair moves its hue (biden.jpg:
blue curtain at the silhouette, 21-28 from the median in Lab, ~22 in chroma). At 15 the blotch
went too but more seen hair was completed (re-lit per-pixel ΔE, biden 5.97 -> 6.61; at 20: 6.40)."""
FILL_REACH = 15.0
"""Texels over which the seen colours fade into their mean going into unseen hair (the seen
border often mixes in skin at the hairline: it must not spread far)."""


@dataclass
class HairTexture:
    """The hair's texture images (sRGB RGBA uint8, ``HAIR_TEXTURE_SIZE``; see module docstring)."""

    albedo: UInt8[np.ndarray, "H W 4"]
    lit: UInt8[np.ndarray, "H W 4"]
    relit: UInt8[np.ndarray, "H W 4"] | None
    seen: float
    """Share of the hair's texels the photo shows."""
    detail: float
    """Amplitude (log luminance) of the strand detail added where unseen."""
    mean_srgb: tuple[int, int, int]
    """Mean albedo colour (linear mean, as sRGB 0-255) over the covered texels."""


def strand_noise(shape: tuple[int, int], seed: int = 0, across: float = 0.7, along: float = 14.0) -> Float[np.ndarray, "H W"]:
    """Zero-mean, unit-std noise of strands running down the image's columns: white noise blurred
    by ``across`` texels along a row and ``along`` texels down a column, plus coarser clumps of
    several strands (a third of the variance). Drawn at a quarter of the rows and stretched
    (smooth along the strands anyway); deterministic, cached (treat as read-only)."""
    return _strand_noise((int(shape[0]), int(shape[1])), int(seed), float(across), float(along))


@functools.lru_cache(maxsize=2)
def _strand_noise(shape: tuple[int, int], seed: int, across: float, along: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = shape
    small = (max(1, h // 4), w)
    fine = cv2.GaussianBlur(rng.standard_normal(small).astype(np.float32), (0, 0), sigmaX=across, sigmaY=along / 4,
                            borderType=cv2.BORDER_REFLECT)
    clump = cv2.GaussianBlur(rng.standard_normal(small).astype(np.float32), (0, 0), sigmaX=4 * across, sigmaY=along / 2,
                             borderType=cv2.BORDER_REFLECT)
    fine /= fine.std() + 1e-12
    clump /= clump.std() + 1e-12
    out = cv2.resize(np.sqrt(2 / 3) * fine + np.sqrt(1 / 3) * clump, (w, h), interpolation=cv2.INTER_LINEAR)
    out = (out / (out.std() + 1e-12)).astype(np.float32)
    out.setflags(write=False)
    return out


def _strand_alpha(tip: np.ndarray, cols: np.ndarray, width: int, seed: int) -> np.ndarray:
    """Alpha of texels at ``tip`` (0..1) in texture columns ``cols``: each column a strand that
    ends where ``tip`` passes its own random threshold (0.25..1), with a 1/8-wide soft edge."""
    rng = np.random.default_rng(seed + 1)
    thr = 0.25 + 0.75 * rng.random(width) ** 0.7
    return np.clip((thr[cols] - tip) * 8.0 + 0.5, 0.0, 1.0) * (tip > 0) + (tip <= 0)


def hair_texture(photo: UInt8[np.ndarray, "H W 3"], camera, mesh, hair_pixels: Bool[np.ndarray, "H W"],
                 shown: Bool[np.ndarray, "H W"], hair_depth: Float[np.ndarray, "H W"],
                 sh_coeffs: Float[np.ndarray, "9 3"] | None = None, colour_srgb: tuple[int, int, int] | None = None,
                 size: tuple[int, int] = HAIR_TEXTURE_SIZE, seed: int = 0, with_relit: bool = False) -> HairTexture:
    """The texture of the hair ``mesh`` (a ``bodies.hair.HairMesh`` with ``uvs`` and ``tip``,
    posed as in the photo) from ``photo`` seen by ``camera`` (see the module docstring).

    ``hair_pixels``: the parsing's hair label; ``shown``: photo pixels where the hair mesh is in
    front of the body; ``hair_depth``: the hair mesh's camera depth per photo pixel (+inf off
    it); ``sh_coeffs``: the skin's SH lighting (None: no de-lighting); ``colour_srgb``: a colour
    the user chose instead of the photo's (the seen pattern of light and dark strands is kept,
    its mean moved to that colour); ``with_relit``: also make ``relit`` (for measurements)."""
    if mesh.uvs is None or mesh.tip is None:
        raise ValueError("the hair mesh has no texture coordinates (build it with bodies.hair.build_hair)")
    th, tw = size
    v = np.asarray(mesh.vertices, np.float64)
    f = np.asarray(mesh.faces, np.int64)
    r = rasterize_uv(mesh.uvs, f, size)
    rows, cols = r.covered()
    tri, bary = r.triangle_id[rows, cols].astype(np.int64), r.bary[rows, cols].astype(np.float64)
    corner = f[tri]
    pos = np.einsum("nk,nkc->nc", bary, v[corner])  # n: texel, k: corner, c: xyz
    nrm = np.einsum("nk,nkc->nc", bary, vertex_normals(v, f)[corner])
    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
    tip = np.einsum("nk,nk->n", bary, np.asarray(mesh.tip, np.float64)[corner])

    # Which texels the photo shows.
    h, w = photo.shape[:2]
    scr = camera.project(pos)
    x, y, depth = scr[:, 0], scr[:, 1], scr[:, 2]
    xi, yi = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h) & (depth > 0)
    xi, yi = np.clip(xi, 0, w - 1), np.clip(yi, 0, h - 1)
    to_cam = camera.position[None] - pos if camera.is_perspective else np.broadcast_to(-camera.R[2], pos.shape)
    cos = np.einsum("nc,nc->n", nrm, to_cam) / np.maximum(np.linalg.norm(to_cam, axis=1), 1e-12)
    inner = cv2.erode(hair_pixels.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & shown
    seen = inside & inner[yi, xi] & (depth <= hair_depth[yi, xi] + DEPTH_TOLERANCE)
    wt = np.where(seen, smoothstep(cos, 0.1, 0.35), 0.0)  # trust in the albedo: less at grazing angles
    wt_lit = np.where(seen, smoothstep(cos, 0.0, 0.05), 0.0)  # the photo as seen, for render_fitted

    shading = np.ones((len(pos), 3))
    if sh_coeffs is not None:
        shading = np.clip(sh_shading(nrm, sh_coeffs).astype(np.float64), *SHADING_RANGE)
    photo_lin = np.zeros((len(pos), 3))
    on = np.flatnonzero(wt_lit > 0)
    if len(on):
        c0, c1 = int(max(0, x[on].min() - 2)), int(min(w, x[on].max() + 3))
        r0, r1 = int(max(0, y[on].min() - 2)), int(min(h, y[on].max() + 3))
        crop = from_uint8(np.ascontiguousarray(photo[r0:r1, c0:c1, :3]))
        photo_lin[on] = bilinear(crop, x[on] - c0, y[on] - r0)
    albedo_seen = photo_lin / shading

    # Images in texture space.
    def image(values, fill=0.0):
        out = np.full((th, tw) + np.shape(values)[1:], fill, np.float32)
        out[rows, cols] = values
        return out

    # Seen texels far from the seen hair's typical colour are parsing slips (background, hands,
    # a pillow labelled hair): treated as unseen in the albedo.
    on = np.flatnonzero(wt > 0)
    if len(on) >= 20:
        lab = cv2.cvtColor(to_uint8(albedo_seen[on])[None].astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[0]
        med = np.median(lab, 0)
        d = np.linalg.norm(lab - med, axis=1)
        dc = np.linalg.norm(lab[:, 1:] - med[1:], axis=1)
        far = d > max(OUTLIER_DE, 3.0 * robust_std(d))
        far |= dc > max(OUTLIER_CHROMA, 3.0 * robust_std(dc))
        wt[on[far]] = 0.0  # (render_fitted's lit image still shows what the photo shows there)
    w_img = image(wt)
    a_img = image(albedo_seen)
    seen_px = w_img > 0.5
    n_seen = int(seen_px.sum())
    if n_seen >= 20:
        base = a_img[seen_px].mean(0)  # linear mean, as fitting.hair_fit.hair_colour
        logl = np.log(luminance(a_img) + 1e-4)
        ww = w_img * seen_px
        smooth = cv2.GaussianBlur(logl * ww, (0, 0), 4.0) / np.maximum(cv2.GaussianBlur(ww, (0, 0), 4.0), 1e-6)
        detail = float(np.clip(np.std((logl - smooth)[seen_px]), *DETAIL_RANGE))
    else:  # no hair seen (e.g. the photo's hair is covered): a plain dark brown (grey on a b/w photo)
        base = srgb_to_linear(np.asarray(default_hair_srgb(photo), np.float64) / 255.0)
        detail = 0.12
    if colour_srgb is not None:
        base_new = srgb_to_linear(np.asarray(colour_srgb, np.float64) / 255.0)
    base = np.asarray(base, np.float32)
    covered = r.mask
    near = push_pull(a_img, w_img, skip=2) if n_seen >= 20 else np.broadcast_to(base, a_img.shape)
    dist = cv2.distanceTransform((~seen_px).astype(np.uint8), cv2.DIST_L2, 3) if n_seen >= 20 else np.full((th, tw), 1e6, np.float32)
    k = np.exp(-dist / np.float32(FILL_REACH))[..., None]
    filled = k * near + (1 - k) * base[None, None]
    noise = strand_noise((th, tw), seed)
    filled = filled * np.exp(np.float32(detail) * noise - np.float32(0.5 * detail ** 2))[..., None]
    soft = np.minimum(w_img, cv2.GaussianBlur(w_img, (0, 0), 1.5))[..., None]
    albedo = soft * a_img + (1 - soft) * filled
    photo_img = image(photo_lin)
    if colour_srgb is not None:  # keep the light/dark pattern, move its mean colour
        lum = luminance(albedo)
        mean_lum = float(lum[covered].mean()) if covered.any() else 1.0
        albedo = base_new[None, None] * (lum / max(mean_lum, 1e-6))[..., None]
        soft = np.zeros_like(soft)
    shade_img = image(shading, 1.0)
    lit_w = image(wt_lit)[..., None] * (0.0 if colour_srgb is not None else 1.0)
    lit = lit_w * photo_img + (1 - lit_w) * albedo * shade_img
    relit = albedo * shade_img if with_relit else None

    alpha = image(_strand_alpha(tip, cols, tw, seed), 1.0)
    # Uncovered texels take the nearest covered texel's values (no dark bleeding into filtering).
    images = [albedo, lit] + ([relit] if with_relit else [])
    stack = nearest_fill(np.concatenate([*images, alpha[..., None]], -1).astype(np.float32), covered)
    a8 = float_to_uint8(stack[..., -1:])
    out = [np.concatenate([to_uint8(np.ascontiguousarray(stack[..., 3 * i: 3 * i + 3])), a8], -1)
           for i in range(len(images))]
    mean = albedo[covered].mean(0) if covered.any() else base
    mean_srgb = tuple(int(c) for c in to_uint8(mean[None])[0])
    return HairTexture(out[0], out[1], out[2] if with_relit else None, float(seen_px[covered].mean()) if covered.any() else 0.0, detail, mean_srgb)
