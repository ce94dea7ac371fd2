"""What a photo never showed, painted where the warp uncovers it: mouth interior, closed lids.

Plain shading, no network: the colours come from the photo itself (the lips, the skin above
the eyes). Each function returns a float RGB layer and an alpha in [0, 1] (0 = keep the warped
photo) over an image window; the animator blends them.

* :func:`mouth_interior`: a dark cavity the colour of the lips in shadow, the upper teeth as a
  light band under the upper lip and the tongue as a rounded shape on the lower one, both
  darkening towards the corners.
* :func:`closed_lid`: skin interpolated from around the part of an eye the lid now covers
  (with the surrounding skin's grain, so it is as sharp as the photo, no sharper), with a soft
  lash line along the lid's new edge.
"""

from __future__ import annotations

import cv2
import numpy as np
from jaxtyping import Bool, Float, UInt8

from avatarforge.util.stats import robust_std

__all__ = ["resample_path", "polygon_mask", "median_colour", "mouth_interior", "closed_lid", "skin_noise", "grain"]

SUB = 4
"""Fixed-point bits of the polygon drawing (sub-pixel vertices)."""


def resample_path(points: Float[np.ndarray, "K 2"], n: int) -> Float[np.ndarray, "n 2"]:
    """``n`` points evenly spaced by arc length along a polyline."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= 0:
        return np.repeat(points[:1], n, 0)
    t = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(t, s, points[:, 0]), np.interp(t, s, points[:, 1])], 1)


def polygon_mask(shape: tuple[int, int], polygon: Float[np.ndarray, "K 2"]) -> Bool[np.ndarray, "H W"]:
    """Pixels whose centre is inside ``polygon`` or on its edge (pixel coordinates, centres at +0.5)."""
    m = np.zeros(shape, np.uint8)
    pts = np.round((polygon - 0.5) * (1 << SUB)).astype(np.int32)
    cv2.fillPoly(m, [pts], 1, lineType=cv2.LINE_8, shift=SUB)
    return m.astype(bool)


def median_colour(image: UInt8[np.ndarray, "H W C"], mask: Bool[np.ndarray, "H W"],
                  fallback=(128, 128, 128)) -> Float[np.ndarray, " 3"]:
    """Median RGB of the masked pixels."""
    px = image[..., :3][mask]
    return np.median(px, 0).astype(np.float64) if len(px) else np.asarray(fallback, np.float64)


def _bell(n: int) -> np.ndarray:
    u = np.linspace(-1.0, 1.0, n)
    return np.sqrt(np.clip(1 - u * u, 0, 1))


def mouth_interior(shape: tuple[int, int], upper: Float[np.ndarray, "K 2"], lower: Float[np.ndarray, "M 2"],
                   lip_rgb: Float[np.ndarray, " 3"], skin_rgb: Float[np.ndarray, " 3"],
                   width: float, teeth_rgb: Float[np.ndarray, " 3"] | None = None,
                   ) -> tuple[Float[np.ndarray, "H W 3"], Float[np.ndarray, "H W"]]:
    """Cavity, upper teeth and tongue inside the inner-lip outline.

    ``upper``/``lower``: the inner lip lines, each from one mouth corner to the other (same
    corner first); ``width``: the mouth's width in pixels (sets the teeth height);
    ``teeth_rgb``: the photo's own teeth colour when it shows them (else an off-white lit like the skin).
    """
    n = 24
    up, lo = resample_path(upper, n), resample_path(lower, n)
    if np.linalg.norm(up[0] - lo[0]) > np.linalg.norm(up[0] - lo[-1]):
        lo = lo[::-1]
    gap = lo - up  # per column, from the upper lip down to the lower one
    bell = _bell(n)[:, None]
    light = float(np.clip(np.mean(skin_rgb) / 170.0, 0.45, 1.1))
    rgb = np.zeros((*shape, 3))
    rgb[:] = np.asarray(lip_rgb) * 0.18
    teeth_h = np.minimum(0.13 * width * bell, 0.7 * np.linalg.norm(gap, axis=1, keepdims=True))
    direction = gap / np.maximum(np.linalg.norm(gap, axis=1, keepdims=True), 1e-6)
    tongue = polygon_mask(shape, np.concatenate([lo, (lo - 0.3 * gap * bell)[::-1]]))
    rgb[tongue] = np.asarray(lip_rgb) * 0.55
    teeth = polygon_mask(shape, np.concatenate([up, (up + direction * teeth_h)[::-1]]))
    # shading across the mouth: the front teeth lit, the corners in shadow
    xs = np.arange(shape[1]) + 0.5
    centre = up[n // 2, 0]
    half = max(abs(up[-1, 0] - up[0, 0]) / 2, 1.0)
    across = np.clip(1 - ((xs - centre) / half) ** 2, 0, 1)[None, :].repeat(shape[0], 0)
    tooth_rgb = np.array([232.0, 226.0, 212.0]) * light if teeth_rgb is None else np.asarray(teeth_rgb, np.float64)
    rgb[teeth] = tooth_rgb * (0.45 + 0.55 * across[teeth])[:, None]
    inside = polygon_mask(shape, np.concatenate([up, lo[::-1]]))
    alpha = cv2.GaussianBlur(inside.astype(np.float64), (0, 0), 0.7)
    rgb = cv2.GaussianBlur(rgb, (0, 0), 0.6)
    return rgb, alpha * inside.any()


def skin_noise(shape: tuple[int, int], strength: float, seed: int = 0) -> Float[np.ndarray, "H W"]:
    """Fine grain (Gaussian noise blurred by 0.6 px, fixed seed: the same grain every frame)
    whose :func:`grain` is ``strength`` grey levels."""
    n = cv2.GaussianBlur(np.random.default_rng(seed).standard_normal(shape), (0, 0), 0.6)
    n -= n.mean()
    return n * (strength / max(grain(n, np.ones(shape, bool)), 1e-9))


def grain(gray: Float[np.ndarray, "H W"], mask: Bool[np.ndarray, "H W"]) -> float:
    """Robust standard deviation of the high-pass (above a 1-pixel Gaussian) of ``gray`` over
    ``mask``: how much fine grain the skin there has (edges such as lashes are outliers)."""
    return robust_std((gray - cv2.GaussianBlur(gray, (0, 0), 1.0))[mask])


def closed_lid(window: UInt8[np.ndarray, "H W C"], covered: Bool[np.ndarray, "H W"], lid_edge: Float[np.ndarray, "K 2"],
               lash_rgb: Float[np.ndarray, " 3"], eye_width: float,
               closure: float) -> tuple[Float[np.ndarray, "H W 3"], Float[np.ndarray, "H W"]]:
    """Lid skin over ``covered`` (the pixels that showed the eye in the photo and that the lid
    now covers, including the photo's upper lash line) in ``window`` (the warped picture around
    the eye), and a soft lash line along ``lid_edge`` (the lid's new edge, corner to corner)
    with strength ``closure`` (0 open .. 1 closed).

    The skin is interpolated from the pixels around ``covered`` (OpenCV's Telea inpainting: no
    flat patch, no outline), with the surrounding skin's own grain added, so the lid has the
    photo's sharpness rather than edges of its own; the lash line is blurred to the width of
    the photo's lashes."""
    rgb = np.ascontiguousarray(window[..., :3]).astype(np.float64)
    if not covered.any():
        return rgb, np.zeros(covered.shape)
    mask = covered.astype(np.uint8)
    radius = max(2, int(round(eye_width / 12)))
    filled = cv2.inpaint(np.ascontiguousarray(window[..., :3]), mask, radius, cv2.INPAINT_TELEA).astype(np.float64)
    # the skin's grain a little away from the eye (next to it, the high-pass still sees the eye's edge)
    near = cv2.dilate(mask, np.ones((2 * radius + 5, 2 * radius + 5), np.uint8)).astype(bool)
    ring = cv2.dilate(mask, np.ones((6 * radius + 1, 6 * radius + 1), np.uint8)).astype(bool) & ~near
    gray = rgb.mean(2)
    filled += skin_noise(covered.shape, grain(gray, ring))[..., None]
    # opaque on the covered pixels, fading out over ~1.5 px beyond them (the fill equals the
    # picture there, so the fade only softens the inpainting's own boundary)
    alpha = np.clip(2.0 * cv2.GaussianBlur(covered.astype(np.float64), (0, 0), 1.0), 0.0, 1.0)
    if closure > 0.3:
        lash = np.zeros(covered.shape, np.float64)
        pts = np.round((resample_path(lid_edge, 16) - 0.5) * (1 << SUB)).astype(np.int32)
        thick = max(1, int(round(eye_width / 22)))
        cv2.polylines(lash, [pts], False, 1.0, thickness=thick, lineType=cv2.LINE_AA, shift=SUB)
        lash = cv2.GaussianBlur(lash, (0, 0), max(0.7, 0.5 * thick))
        lash *= min(1.0, (closure - 0.3) / 0.5) * 0.7 / max(float(lash.max()), 1e-9)
        filled = filled * (1 - lash[..., None]) + np.asarray(lash_rgb) * lash[..., None]
        alpha = np.maximum(alpha, lash)
    return np.clip(filled, 0, 255), alpha
