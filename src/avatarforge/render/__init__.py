"""A small CPU renderer split the nvdiffrast way.

* :func:`rasterize` (numba, not differentiable) picks the triangle covering each pixel centre;
* :func:`barycentrics`, :func:`interpolate`, :func:`texture` (torch) recompute per-pixel values
  differentiably, so gradients flow to vertex positions, attributes and textures;
* :func:`rasterize_uv` rasterises a UV layout into texture space;
* :func:`render_mesh` is a one-call Lambert-shaded preview.

Conventions: world metres, +Y up, the body faces +Z. Cameras are OpenCV-style (x right, y
down, z forward; ``x_cam = R x_world + t``), pixel centres at integer + 0.5. UVs are OBJ-style:
(0, 0) is the texture's bottom-left and image row 0 is its top, so texel row = (1 - v) * H.
Faces are counter-clockwise seen from outside.
"""

from avatarforge.render.camera import Camera
from avatarforge.render.interpolate import barycentrics, interpolate, texture, to_image
from avatarforge.render.primitives import TexturedMesh, quad, uv_sphere
from avatarforge.render.raster import NEAR, Raster, rasterize
from avatarforge.render.shading import RenderResult, headlight, lambert, render_mesh, vertex_normals
from avatarforge.render.uv import rasterize_uv, texel_uvs, uv_to_pixel

__all__ = [
    "Camera",
    "Raster",
    "NEAR",
    "rasterize",
    "barycentrics",
    "interpolate",
    "texture",
    "to_image",
    "rasterize_uv",
    "texel_uvs",
    "uv_to_pixel",
    "vertex_normals",
    "lambert",
    "headlight",
    "render_mesh",
    "RenderResult",
    "TexturedMesh",
    "uv_sphere",
    "quad",
]
