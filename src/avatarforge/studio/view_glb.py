"""A light textured GLB for the 3D view: positions, normals, UVs, indices and the texture.

viser's plain meshes carry one colour, so the textured view is sent as a GLB. Everything
that does not change while the user moves a slider (seam split, UVs, indices, the PNG) is
prepared once; each update only packs new positions and normals (a few ms).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from jaxtyping import Float, Int, UInt8
from PIL import Image

from avatarforge.export.geometry import FALLBACK_NORMAL, split_uv_seams
from avatarforge.export.glb_builder import ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER, GlbBuilder
from avatarforge.export.materials import MATERIAL_LOOKS, material, sampler
from avatarforge.util.geometry import vertex_normals

__all__ = ["TexturedView"]

#: Largest texture side sent to the browser (the export keeps the full texture).
VIEW_TEXTURE_SIDE = 1024


@dataclass
class TexturedView:
    """The constant part of the textured view mesh; `glb` packs it with new vertices."""

    faces: Int[np.ndarray, "F 3"]
    """Triangles over the source vertices (for the normals)."""
    source_vertex: Int[np.ndarray, " S"]
    """Source vertex of each seam-split vertex."""
    split_faces: np.ndarray = field(repr=False)
    """(F * 3,) uint32 indices over the split vertices."""
    uv: np.ndarray = field(repr=False)
    """(S, 2) float32 glTF texture coordinates ((0, 0) = top-left)."""
    png: bytes = field(repr=False)
    """The texture, PNG-encoded once."""

    @classmethod
    def build(cls, faces: Int[np.ndarray, "F 3"], uvs: Float[np.ndarray, "T 2"], uv_faces: Int[np.ndarray, "F 3"],
              texture: UInt8[np.ndarray, "H W 3"], n_vertices: int) -> "TexturedView":
        split = split_uv_seams(faces, uv_faces, n_vertices, len(uvs))
        uv = np.asarray(uvs, dtype=np.float64)[split.source_uv]
        uv[:, 1] = 1.0 - uv[:, 1]  # OBJ-style v (bottom-up) -> glTF (top-down)
        img = Image.fromarray(np.ascontiguousarray(texture[..., :3]))
        if max(img.size) > VIEW_TEXTURE_SIDE:
            img.thumbnail((VIEW_TEXTURE_SIDE, VIEW_TEXTURE_SIDE), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=1)
        return cls(np.asarray(faces, np.int64), split.source_vertex, split.faces.reshape(-1).astype(np.uint32),
                   uv.astype(np.float32), buf.getvalue())

    def glb(self, vertices: Float[np.ndarray, "V 3"]) -> bytes:
        """GLB bytes of the textured mesh at ``vertices`` (source order)."""
        b = GlbBuilder()
        src = self.source_vertex
        attributes = {
            "POSITION": b.add_accessor(np.asarray(vertices, np.float32)[src], ARRAY_BUFFER, True),
            "NORMAL": b.add_accessor(vertex_normals(vertices, self.faces, FALLBACK_NORMAL)[src], ARRAY_BUFFER),
            "TEXCOORD_0": b.add_accessor(self.uv, ARRAY_BUFFER),
        }
        indices = b.add_accessor(self.split_faces, ELEMENT_ARRAY_BUFFER)
        image = b.add_view(self.png)
        return b.pack({
            "asset": {"version": "2.0", "generator": "avatarforge studio"},
            "scene": 0,
            "scenes": [{"nodes": [0]}],
            "nodes": [{"name": "avatar", "mesh": 0}],
            "meshes": [{"primitives": [{"attributes": attributes, "indices": indices, "material": 0}]}],
            "images": [{"bufferView": image, "mimeType": "image/png"}],
            "samplers": [sampler(clamp=True)],
            "textures": [{"source": 0, "sampler": 0}],
            "materials": [material("avatar", MATERIAL_LOOKS["studio"], texture=0)],
        })
