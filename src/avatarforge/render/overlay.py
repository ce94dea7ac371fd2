"""fit_overlay.png: the fitted model drawn over the photo, with landmarks."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from avatarforge.render.shading import render_mesh
from avatarforge.util.image import draw_points

__all__ = ["overlay_mesh", "fit_overlay"]


def overlay_mesh(photo: np.ndarray, vertices: np.ndarray, faces: np.ndarray, camera, alpha: float = 0.5,
                 color=(0.55, 0.75, 1.0)) -> np.ndarray:
    """Blend a shaded render of the mesh (seen by ``camera``) over the (H, W, 3) photo."""
    res = render_mesh(vertices, faces, camera, base_color=color, background=(0, 0, 0, 0))
    mask = res.raster.mask[..., None] * alpha
    return (photo * (1 - mask) + res.rgba[..., :3] * mask).round().astype(np.uint8)


def fit_overlay(rec, path: str | os.PathLike, max_side: int = 1600) -> np.ndarray:
    """Photo + fitted head mesh (blue, half transparent) + detected landmarks (green) + the fitted
    model's iBUG-68 landmarks (red). Large photos are drawn downscaled to ``max_side``."""
    from avatarforge.fitting.mesh_regions import head_faces

    out = rec.body.forward_params(rec.fit.values)
    faces = out.faces.numpy()
    img = overlay_mesh(rec.rgb, out.vertices[0].numpy(), faces[head_faces(rec.body, faces)], rec.fit.camera)
    h, w = img.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        img = np.asarray(Image.fromarray(img).resize((round(w * scale), round(h * scale)), Image.LANCZOS))
    img = np.ascontiguousarray(img)
    r = max(1, round(max(img.shape[:2]) / 500))
    draw_points(img, rec.landmarks.points[:, :2] * scale - 0.5, (40, 220, 60), r)
    draw_points(img, rec.fit.ibug68_2d * scale - 0.5, (235, 40, 40), r + 1)
    Image.fromarray(img).save(path, format="PNG")
    return img
