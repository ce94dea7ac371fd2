"""Pictures drawn over the photo: the fitted model with landmarks (fit_overlay.png) and
numbered face boxes (faces.png)."""

from __future__ import annotations

import numpy as np
from jaxtyping import Float, UInt8
from PIL import Image

from avatarforge.render.shading import render_mesh
from avatarforge.util.image import draw_points

__all__ = ["overlay_mesh", "draw_fit_overlay", "draw_numbered_boxes", "BOX_COLOURS", "composite_flat_meshes"]

#: RGB colour of box ``i`` in :func:`draw_numbered_boxes`: ``BOX_COLOURS[i % len(BOX_COLOURS)]``.
BOX_COLOURS = ((0, 200, 0), (255, 140, 0), (0, 160, 255), (220, 0, 220), (230, 40, 40), (0, 200, 200))


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


def draw_numbered_boxes(rgb: UInt8[np.ndarray, "H W 3"], boxes: Float[np.ndarray, "N 4"], labels: list[int],
                        max_side: int = 1600) -> UInt8[np.ndarray, "h w 3"]:
    """The photo (shrunk to ``max_side``) with each box ``(x0, y0, x1, y1)`` (photo pixels)
    outlined in ``BOX_COLOURS[label % 6]`` and its label written in a tag above it (below
    when there is no room above)."""
    import cv2

    h, w = rgb.shape[:2]
    s = min(1.0, max_side / max(h, w))
    img = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else rgb.copy()
    thick = max(2, round(max(img.shape[:2]) / 500))
    for box, label in zip(np.asarray(boxes, dtype=np.float64), labels):
        colour = BOX_COLOURS[label % len(BOX_COLOURS)]
        p0 = (round(box[0] * s), round(box[1] * s))
        p1 = (round(box[2] * s), round(box[3] * s))
        cv2.rectangle(img, p0, p1, colour, thick, cv2.LINE_AA)
        text = str(label)
        scale = max(0.6, (p1[0] - p0[0]) / 90)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        y_top = p0[1] - th - base - 2 * thick
        y_top = y_top if y_top >= 0 else p1[1]  # no room above: the tag goes below the box
        cv2.rectangle(img, (p0[0], y_top), (p0[0] + tw + 2 * thick, y_top + th + base + 2 * thick), colour, -1)
        cv2.putText(img, text, (p0[0] + thick, y_top + th + thick), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), thick, cv2.LINE_AA)
    return img
def composite_flat_meshes(rgba: np.ndarray, camera, occluders: list[tuple[np.ndarray, np.ndarray]],
                          meshes: list[tuple[np.ndarray, np.ndarray, tuple[int, int, int]]]) -> np.ndarray:
    """``rgba`` (H, W, 4 uint8, e.g. a render of the body by ``camera``) with ``meshes``
    ((vertices, faces, sRGB colour) each) drawn where they are the nearest surface, in front of
    the ``occluders`` ((vertices, faces) each: the body, its hair): flat colour, lightly shaded by
    the surface's angle to the camera, opaque."""
    from avatarforge.render.raster import rasterize

    h, w = rgba.shape[:2]
    depth = np.full((h, w), np.inf)
    for v, f in occluders:
        r = rasterize(camera.project(np.asarray(v, np.float64)), np.asarray(f, np.int64), h, w,
                      perspective=camera.is_perspective)
        depth = np.where(r.mask, np.minimum(depth, r.depth), depth)
    out = rgba.copy()
    for v, f, srgb in meshes:
        v = np.asarray(v, np.float64)
        f = np.asarray(f, np.int64)
        r = rasterize(camera.project(v), f, h, w, perspective=camera.is_perspective)
        show = r.mask & (r.depth < depth)
        rows, cols = np.nonzero(show)
        tri = f[r.triangle_id[rows, cols]]
        a, b, c = v[tri[:, 0]], v[tri[:, 1]], v[tri[:, 2]]
        n = np.cross(b - a, c - a)
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        to_cam = camera.position[None] - (a + b + c) / 3 if camera.is_perspective else -camera.R[2][None]
        to_cam = to_cam / np.maximum(np.linalg.norm(to_cam, axis=1, keepdims=True), 1e-12)
        shade = 0.75 + 0.25 * np.abs(np.einsum("nc,nc->n", n, to_cam))  # n: pixel, c: xyz
        out[rows, cols, :3] = np.clip(np.asarray(srgb)[None] * shade[:, None], 0, 255).astype(np.uint8)
        out[rows, cols, 3] = 255
        depth[rows, cols] = r.depth[rows, cols]
    return out
