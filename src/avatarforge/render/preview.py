"""Preview pictures: a mesh from several sides (front, three-quarter, side, back), one row."""

from __future__ import annotations

import numpy as np
from PIL import Image

from avatarforge.render.camera import Camera
from avatarforge.render.shading import render_mesh

__all__ = ["render_views", "preview_strip", "VIEWS", "HEAD_VIEWS"]

#: View name -> azimuth in degrees (0 = in front of the body, looking at its face).
VIEWS = {"front": 0.0, "three-quarter": 35.0, "side": 90.0, "back": 180.0}

#: Views of the head close-up (front, side, back and the other side).
HEAD_VIEWS = {"front": 0.0, "three-quarter": 35.0, "side": 90.0, "back": 180.0, "other side": -90.0}

# sRGB of the default skin material (export.DEFAULT_SKIN_RGBA is linear).
_SKIN_SRGB = (0.91, 0.76, 0.70)
_BACKGROUND = (236, 236, 238, 255)


def render_views(
    vertices: np.ndarray,
    faces: np.ndarray,
    size: int = 512,
    views: dict[str, float] = VIEWS,
    texture: np.ndarray | None = None,
    uvs: np.ndarray | None = None,
    uv_faces: np.ndarray | None = None,
    supersample: int = 2,
    frame: np.ndarray | None = None,
) -> list[np.ndarray]:
    """One (size, ~size/2..size, 4) uint8 image per view of a +Y-up, +Z-facing mesh.

    An orthographic camera frames the whole mesh (or the points ``frame``, e.g. the head's
    vertices for a close-up) with a 6 % margin; rendering at ``supersample`` times the size and
    downsampling anti-aliases the edges.
    """
    v = np.asarray(vertices, dtype=np.float64)
    framed = v if frame is None else np.asarray(frame, dtype=np.float64)
    lo, hi = framed.min(0), framed.max(0)
    centre = (lo + hi) / 2
    height_m = (hi - lo)[1]
    radius_xz = float(np.linalg.norm((hi - lo)[[0, 2]]) / 2)
    h = size * supersample
    scale = h / (height_m * 1.12)
    w = int(np.ceil(2 * radius_xz * 1.12 * scale / 8) * 8)
    import torch

    from avatarforge.render.shading import colors01, vertex_normals

    with torch.no_grad():  # once for all views
        normals = vertex_normals(torch.as_tensor(v, dtype=torch.float32), np.asarray(faces, dtype=np.int64))
        texture = None if texture is None else colors01(texture, "texture")
    if frame is not None:  # a close-up: triangles wholly above or below the picture cannot show
        fy = v[np.asarray(faces), 1]
        half = height_m * 1.12 / 2
        keep = (fy.max(1) >= centre[1] - half) & (fy.min(1) <= centre[1] + half)
        faces = np.asarray(faces)[keep]
        uv_faces = None if uv_faces is None else np.asarray(uv_faces)[keep]
    images = []
    for azimuth in views.values():
        a = np.radians(azimuth)
        direction = np.array([np.sin(a), 0.0, np.cos(a)])
        eye = centre + direction * (radius_xz + height_m + 1.0)
        cam = Camera.orthographic_look_at(eye, centre, (0, 1, 0), width=w, height=h, ortho_scale=scale)
        light = direction + np.array([-0.3, 0.5, 0.0]) @ np.eye(3)  # from the viewer, above-left
        res = render_mesh(v, faces, cam, texture=texture, uvs=uvs, uv_faces=uv_faces,
                          base_color=_SKIN_SRGB, light_dir=light / np.linalg.norm(light),
                          ambient=0.35, diffuse=0.65, background=_BACKGROUND, cull_backfaces=False,
                          normals=normals)
        img = Image.fromarray(res.rgba)
        if supersample > 1:
            img = img.resize((w // supersample, h // supersample), Image.LANCZOS)
        images.append(np.asarray(img))
    return images


def preview_strip(
    vertices: np.ndarray,
    faces: np.ndarray,
    size: int = 512,
    views: dict[str, float] = VIEWS,
    texture: np.ndarray | None = None,
    uvs: np.ndarray | None = None,
    uv_faces: np.ndarray | None = None,
    frame: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`render_views` side by side as one (size, W, 4) uint8 image (preview.png's layout)."""
    views = render_views(vertices, faces, size=size, views=views, texture=texture, uvs=uvs, uv_faces=uv_faces,
                         frame=frame)
    return np.concatenate(views, axis=1)


def with_hair(
    vertices: np.ndarray,
    faces: np.ndarray,
    texture: np.ndarray | None,
    uvs: np.ndarray,
    uv_faces: np.ndarray,
    hair_vertices: np.ndarray,
    hair_faces: np.ndarray,
    hair_srgb: tuple[int, int, int],
    part_texture: np.ndarray | None = None,
    part_uvs: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(vertices, faces, texture, uvs, uv_faces) of a body plus its hair mesh, for one render:
    the hair's colour is a block appended to the right of the texture, where its UVs point
    (the default skin colour stands in for a missing texture); with ``part_texture`` (its RGB
    used; alpha ignored) and per-vertex ``part_uvs`` the block is that texture, resized to the
    atlas's height."""
    tex = texture
    if tex is None:
        tex = np.empty((64, 64, 3), np.uint8)
        tex[...] = np.round(np.asarray(_SKIN_SRGB) * 255).astype(np.uint8)
    s, w0 = tex.shape[:2]  # (w0 > s when a block was appended already: chaining adds parts)
    hf = np.asarray(hair_faces, np.int64)
    if part_texture is not None and part_uvs is not None:
        import cv2

        ph, pw = part_texture.shape[:2]
        bw = max(8, int(round(s * pw / ph)))
        block = np.empty((s, bw, tex.shape[2]), np.uint8)
        block[...] = 255
        block[..., :3] = cv2.resize(np.ascontiguousarray(part_texture[..., :3]), (bw, s), interpolation=cv2.INTER_AREA)
        tex = np.concatenate([np.asarray(tex, np.uint8), block], axis=1)
        pu = np.asarray(part_uvs, np.float64)
        new_uvs = np.stack([(w0 + pu[:, 0] * bw) / (w0 + bw), pu[:, 1]], 1)
        n_old = len(uvs)
        uvs = np.concatenate([uvs * np.array([w0 / (w0 + bw), 1.0]), new_uvs])
        return (np.concatenate([vertices, hair_vertices]), np.concatenate([faces, hf + len(vertices)]), tex, uvs,
                np.concatenate([uv_faces, hf + n_old]))
    pad = max(8, s // 64)
    block = np.empty((s, pad, tex.shape[2]), np.uint8)
    block[...] = 255
    block[..., :3] = np.asarray(hair_srgb, np.uint8)
    tex = np.concatenate([np.asarray(tex, np.uint8), block], axis=1)
    uvs = np.concatenate([uvs * np.array([w0 / (w0 + pad), 1.0]), [[(w0 + pad / 2) / (w0 + pad), 0.5]]])
    return (np.concatenate([vertices, hair_vertices]), np.concatenate([faces, hf + len(vertices)]), tex, uvs,
            np.concatenate([uv_faces, np.full(hf.shape, len(uvs) - 1)]))
