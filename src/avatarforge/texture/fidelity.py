"""The textured fitted model seen through the photo's camera, and how well it matches the photo.

:func:`render_fitted` renders the fitted body with the texture's ``lit`` image (the photo's
appearance where the photo shows the surface, the re-lit albedo elsewhere) or, with
``relight=True``, with the de-lit, inpainted albedo re-lit by the estimated SH lighting per
pixel (what a renderer with that light would show: no cast shadows, inpainted regions
filled), so it should look like the photo where the photo was baked from. :func:`face_fidelity` scores it inside the face
oval of the detected landmarks (PSNR over the pixels, mean SSIM map value).
"""

from __future__ import annotations

import cv2
import numpy as np
from jaxtyping import UInt8

from avatarforge.errors import UserInputError
from avatarforge.render.raster import rasterize
from avatarforge.texture.bake import bilinear
from avatarforge.util.colour import to_uint8
from avatarforge.texture.delight import sh_shading
from avatarforge.util.geometry import vertex_normals
from avatarforge.util.threads import single_threaded

__all__ = ["render_fitted", "face_fidelity", "face_region_mask", "fitted_fidelity"]


def render_fitted(rec, texture, relight: bool = False) -> UInt8[np.ndarray, "H W 4"]:
    """RGBA uint8 of the photo's size: the fitted model with ``texture`` (a
    :class:`~avatarforge.texture.make.TextureResult`): its ``lit`` image, or (``relight``) its
    albedo lit by its SH lighting; alpha = coverage (255 on the model, 0 elsewhere, colour 0
    there)."""
    from avatarforge.texture.make import SHADING_RANGE

    cam = rec.fit.camera
    out = rec.body.forward_params(rec.fit.values)
    v, f = out.vertices[0].numpy().astype(np.float64), out.faces.numpy()
    uvs, uvf = out.uvs.numpy(), out.uv_faces.numpy()
    raster = rasterize(cam.project(v), f, cam.height, cam.width, perspective=cam.is_perspective)
    rows, cols = raster.covered()
    tri = raster.triangle_id[rows, cols].astype(np.int64)
    bary = raster.bary[rows, cols]
    normals = np.einsum("nk,nkc->nc", bary, vertex_normals(v, f)[f[tri]])  # n: pixel, k: corner
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    uv = np.einsum("nk,nkc->nc", bary, uvs[uvf[tri]])
    size = texture.albedo_linear.shape[0]
    if relight:
        albedo = bilinear(texture.albedo_linear, uv[:, 0] * size, (1.0 - uv[:, 1]) * size)
        colour = albedo * np.clip(sh_shading(normals, texture.lighting.coeffs), *SHADING_RANGE)
    else:
        colour = bilinear(texture.lit_linear, uv[:, 0] * size, (1.0 - uv[:, 1]) * size)
    rgba = np.zeros((cam.height, cam.width, 4), np.uint8)
    rgba[rows, cols, :3] = to_uint8(colour)
    rgba[rows, cols, 3] = 255
    return rgba


def face_region_mask(rec, shape: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W) bool: inside the face oval of the detected landmarks."""
    from avatarforge.perception.landmark_groups import FACE_OVAL

    h, w = shape or rec.rgb.shape[:2]
    pts = np.asarray(rec.landmarks.points)[list(FACE_OVAL), :2]
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
    return mask.astype(bool)


def face_fidelity(rec, rgba: UInt8[np.ndarray, "H W 4"]) -> dict[str, float]:
    """PSNR (dB) and SSIM of a render against the photo inside the face oval.

    Uncovered pixels (alpha 0) count as black. Returns ``{"psnr", "ssim", "coverage"}``
    (coverage: share of face pixels the render covers).
    """
    from skimage.metrics import structural_similarity

    photo = np.asarray(rec.rgb)
    rgba = np.asarray(rgba)
    if rgba.shape[:2] != photo.shape[:2] or rgba.ndim != 3 or rgba.shape[2] < 3:
        raise UserInputError(f"render {rgba.shape} must be (H, W, 4) of the photo's size {photo.shape[:2]}")
    alpha = rgba[..., 3:4] > 0 if rgba.shape[2] == 4 else np.ones((*rgba.shape[:2], 1), bool)
    render = np.where(alpha, rgba[..., :3], 0).astype(np.uint8)
    mask = face_region_mask(rec, photo.shape[:2])
    if mask.sum() < 16:
        raise UserInputError("the face region of the landmarks is empty; were landmarks detected?")
    diff = photo[mask].astype(np.float64) - render[mask].astype(np.float64)
    mse = float(np.mean(diff ** 2))
    psnr = float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)
    _, smap = structural_similarity(photo, render, channel_axis=2, data_range=255, full=True)
    return {"psnr": psnr, "ssim": float(smap[mask].mean()), "coverage": float(alpha[..., 0][mask].mean())}


@single_threaded
def fitted_fidelity(rec, texture) -> tuple[UInt8[np.ndarray, "H W 4"], dict[str, dict[str, float]]]:
    """``render_fitted`` (lit texture) and the face-region scores of both renders:
    ``{"lit": {psnr, ssim, coverage}, "relit_albedo": {...}}`` (see :func:`render_fitted`)."""
    rgba = render_fitted(rec, texture)
    scores = {"lit": face_fidelity(rec, rgba), "relit_albedo": face_fidelity(rec, render_fitted(rec, texture, relight=True))}
    return rgba, scores
