"""Preview close-ups: dropping the triangles outside the picture changes no pixel."""

import numpy as np
import torch
from PIL import Image

from avatarforge.render.camera import Camera
from avatarforge.render.preview import _BACKGROUND, _SKIN_SRGB, render_views
from avatarforge.render.shading import render_mesh, vertex_normals


def _sphere_column(n: int = 12):
    """Spheres stacked along y: the top one is the close-up's subject, the others lie partly or
    wholly outside its picture."""
    th, ph = np.meshgrid(np.linspace(0, np.pi, n), np.linspace(0, 2 * np.pi, 2 * n, endpoint=False), indexing="ij")
    unit = np.stack([np.sin(th) * np.cos(ph), np.cos(th), np.sin(th) * np.sin(ph)], -1).reshape(-1, 3)
    idx = np.arange(n * 2 * n).reshape(n, 2 * n)
    quads = [(idx[i, j], idx[i + 1, j], idx[i + 1, (j + 1) % (2 * n)], idx[i, (j + 1) % (2 * n)])
             for i in range(n - 1) for j in range(2 * n)]
    tri = np.array([(a, b, c) for a, b, c, d in quads] + [(a, c, d) for a, b, c, d in quads])
    verts, faces = [], []
    for k, y in enumerate((0.0, -0.9, -2.0, -4.0)):
        verts.append(unit * 0.5 + [0.0, y, 0.0])
        faces.append(tri + k * len(unit))
    return np.concatenate(verts), np.concatenate(faces), len(unit)


def test_close_up_equals_rendering_every_triangle():
    v, f, n_head = _sphere_column()
    views = {"front": 0.0, "side": 90.0}
    got = render_views(v, f, size=48, views=views, frame=v[:n_head])
    # Reference: the same cameras on the whole mesh (render_views' framing, restated).
    lo, hi = v[:n_head].min(0), v[:n_head].max(0)
    centre, height = (lo + hi) / 2, (hi - lo)[1]
    radius = float(np.linalg.norm((hi - lo)[[0, 2]]) / 2)
    h = 96
    scale = h / (height * 1.12)
    w = int(np.ceil(2 * radius * 1.12 * scale / 8) * 8)
    normals = vertex_normals(torch.as_tensor(v, dtype=torch.float32), f)
    for img, az in zip(got, views.values()):
        a = np.radians(az)
        d = np.array([np.sin(a), 0.0, np.cos(a)])
        cam = Camera.orthographic_look_at(centre + d * (radius + height + 1.0), centre, (0, 1, 0), width=w, height=h,
                                          ortho_scale=scale)
        light = d + np.array([-0.3, 0.5, 0.0])
        ref = render_mesh(v, f, cam, base_color=_SKIN_SRGB, light_dir=light / np.linalg.norm(light), ambient=0.35,
                          diffuse=0.65, background=_BACKGROUND, cull_backfaces=False, normals=normals).rgba
        ref = np.asarray(Image.fromarray(ref).resize((w // 2, h // 2), Image.LANCZOS))
        assert np.array_equal(img, ref)
        assert (img[-1, :, :3] != _BACKGROUND[:3]).any()  # the sphere below does show at the bottom edge
