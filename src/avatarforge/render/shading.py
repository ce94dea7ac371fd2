"""Normals, Lambert shading and a one-call mesh renderer.

Frames follow :mod:`.camera` (world metres, +Y up, body facing +Z; OpenCV camera). Faces are
counter-clockwise seen from outside, so ``cross(v1 - v0, v2 - v0)`` points outwards and a
mesh seen from the front is lit from the front by the default headlight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from avatarforge.errors import UserInputError
from avatarforge.render.camera import Camera
from avatarforge.render.interpolate import interpolate, texture as sample_texture
from avatarforge.render.raster import Raster, rasterize
from avatarforge.util.colour import float_to_uint8
from avatarforge.util.geometry import vertex_normals_torch as vertex_normals  # re-exported: render's API

__all__ = ["vertex_normals", "lambert", "headlight", "render_mesh", "RenderResult", "colors01"]

#: Default headlight direction in camera coordinates (x right, y down, z forward): from the
#: surface towards a light slightly above-left of the camera.
HEADLIGHT_CAM = (-0.3, -0.4, -1.0)


def lambert(
    normals: Float[Tensor, "*N 3"],
    albedo: Float[Tensor, "*N C"],
    light_dir: Float[Tensor, "*N 3"] | tuple[float, float, float],
    ambient: float = 0.3,
    diffuse: float = 0.7,
) -> Float[Tensor, "*N C"]:
    """``albedo * (ambient + diffuse * max(0, n . l))``; ``light_dir`` points towards the light."""
    light = torch.as_tensor(light_dir, dtype=normals.dtype, device=normals.device)
    light = light / light.norm(dim=-1, keepdim=True)
    cos = (normals * light).sum(dim=-1, keepdim=True).clamp_min(0.0)
    return albedo * (ambient + diffuse * cos)


def headlight(camera: Camera) -> np.ndarray:
    """World direction (unit, towards the light) of a light slightly above-left of the camera."""
    d = camera.R.T @ np.asarray(HEADLIGHT_CAM)
    return d / np.linalg.norm(d)


@dataclass
class RenderResult:
    """The output of :func:`render_mesh`."""

    rgba: np.ndarray
    """(H, W, 4) uint8 image, row 0 at the top; alpha 255 on the mesh, background alpha elsewhere."""
    raster: Raster
    """What covers each pixel (triangle ids, barycentrics, depth)."""
    normals: np.ndarray
    """(H, W, 3) float32 interpolated unit world normals; 0 on background."""
    screen: np.ndarray
    """(V, 3) float64 projected vertices ``(px, py, depth)``."""


def colors01(a, what: str) -> Tensor:
    """Colours as a float tensor in [0, 1]: uint8 is divided by 255, floats are kept; ``what`` names
    the argument in the error for other dtypes."""
    a = a.detach().cpu() if isinstance(a, Tensor) else torch.from_numpy(np.array(a))
    if a.dtype == torch.uint8:
        return a.float() / 255.0
    if not a.is_floating_point():
        raise UserInputError(f"{what} must be uint8 (0-255) or float (0-1), got {a.dtype}")
    return a.float()


def render_mesh(
    vertices: Float[np.ndarray, "V 3"] | Float[Tensor, "V 3"],
    faces: Int[np.ndarray, "F 3"],
    camera: Camera,
    vertex_colors: np.ndarray | Tensor | None = None,
    texture: np.ndarray | Tensor | None = None,
    uvs: Float[np.ndarray, "T 2"] | None = None,
    uv_faces: Int[np.ndarray, "F 3"] | None = None,
    light_dir=None,
    ambient: float = 0.3,
    diffuse: float = 0.7,
    background: tuple[int, int, int, int] = (255, 255, 255, 0),
    base_color: tuple[float, float, float] = (0.8, 0.8, 0.8),
    cull_backfaces: bool = False,
    normals: Float[np.ndarray, "V 3"] | Tensor | None = None,
) -> RenderResult:
    """Render a mesh, Lambert-shaded with interpolated vertex normals (not differentiable).

    ``normals`` (unit, per vertex; default :func:`vertex_normals`) may be passed to reuse them
    over several views of the same mesh.

    Colour comes from ``texture`` ((H, W, 3|4) image, row 0 at the top, sampled bilinearly at
    per-pixel UVs from ``uvs`` indexed by ``uv_faces`` -- default ``faces``), else from
    ``vertex_colors`` ((V, 3|4)), else ``base_color``; uint8 (0-255) or float (0-1).
    ``light_dir`` is the world direction towards the light (default :func:`headlight`).
    """
    v = vertices.detach().cpu().double() if isinstance(vertices, Tensor) else torch.as_tensor(
        np.asarray(vertices, dtype=np.float64))
    faces = np.ascontiguousarray(faces.cpu() if isinstance(faces, Tensor) else faces, dtype=np.int64)
    screen = camera.project(v.numpy())
    raster = rasterize(screen, faces, camera.height, camera.width,
                       perspective=camera.is_perspective, cull_backfaces=cull_backfaces)
    with torch.no_grad():
        v = v.float()
        vn = vertex_normals(v, faces) if normals is None else torch.as_tensor(normals, dtype=torch.float32)
        n = interpolate(vn, faces, raster)
        n = n / n.norm(dim=-1, keepdim=True).clamp_min(1e-20)
        if texture is not None:
            if uvs is None:
                raise UserInputError("render_mesh: a texture needs uvs (and uv_faces if they differ from faces)")
            uv_idx = faces if uv_faces is None else np.asarray(uv_faces, dtype=np.int64)
            if uv_idx.shape != faces.shape:
                raise UserInputError(f"uv_faces must have the shape of faces {faces.shape}, got {uv_idx.shape}")
            uv = interpolate(torch.as_tensor(np.asarray(uvs), dtype=torch.float32), uv_idx, raster)
            albedo = sample_texture(colors01(texture, "texture")[..., :3], uv)
        elif vertex_colors is not None:
            albedo = interpolate(colors01(vertex_colors, "vertex_colors")[:, :3], faces, raster)
        else:
            albedo = torch.tensor(base_color, dtype=torch.float32).expand(n.shape[0], 3)
        light = headlight(camera) if light_dir is None else np.asarray(light_dir, dtype=np.float64)
        rgb = lambert(n, albedo, tuple(light.tolist()), ambient, diffuse)
    # Unpack in numpy: to_image would do, but rounding whole float images costs more than
    # the rasterisation itself at 1024 x 1024.
    flat = np.flatnonzero(raster.mask)
    rgba = np.empty((raster.mask.size, 4), dtype=np.uint8)
    rgba[:] = np.asarray(background, dtype=np.uint8)
    rgba[flat, :3] = float_to_uint8(rgb.detach().numpy())
    rgba[flat, 3] = 255
    normals = np.zeros((raster.mask.size, 3), dtype=np.float32)
    normals[flat] = n.numpy()
    shape = raster.mask.shape
    return RenderResult(rgba=rgba.reshape(*shape, 4), raster=raster, normals=normals.reshape(*shape, 3), screen=screen)
