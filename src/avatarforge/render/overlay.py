"""The fitted model drawn over the photo, with landmarks (the picture of fit_overlay.png)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from avatarforge.render.shading import render_mesh
from avatarforge.util.image import draw_points

__all__ = ["overlay_mesh", "draw_fit_overlay"]


def overlay_mesh(photo: np.ndarray, vertices: np.ndarray, faces: np.ndarray, camera, alpha: float = 0.5,
                 color=(0.55, 0.75, 1.0)) -> np.ndarray:
    """Blend a shaded render of the mesh (seen by ``camera``) over the (H, W, 3) photo."""
    res = render_mesh(vertices, faces, camera, base_color=color, background=(0, 0, 0, 0))
    mask = res.raster.mask[..., None] * alpha
    return (photo * (1 - mask) + res.rgba[..., :3] * mask).round().astype(np.uint8)


def draw_fit_overlay(photo: np.ndarray, vertices: np.ndarray, faces: np.ndarray, camera, detected_2d: np.ndarray,
                     fitted_2d: np.ndarray, max_side: int = 1600) -> np.ndarray:
    """Photo + a fitted mesh (blue, half transparent; e.g. only the head's ``faces``) + the
    detector's landmarks (green) + the fitted model's landmarks (red), as an (H, W, 3) uint8
    image. Points are in photo pixels (continuous, centres at +0.5). Large photos are drawn
    downscaled to ``max_side``."""
    img = overlay_mesh(photo, vertices, faces, camera)
    h, w = img.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        img = np.array(Image.fromarray(img).resize((round(w * scale), round(h * scale)), Image.LANCZOS))  # writable
    img = np.ascontiguousarray(img)
    r = max(1, round(max(img.shape[:2]) / 500))
    draw_points(img, np.asarray(detected_2d)[:, :2] * scale - 0.5, (40, 220, 60), r)
    draw_points(img, np.asarray(fitted_2d)[:, :2] * scale - 0.5, (235, 40, 40), r + 1)
    return img
