"""Render the animated avatar (CPU renderer) and put it beside the video frames.

The mesh is the avatar GLB's own (its skin, morph targets, texture; the hair mesh is not
drawn): glTF skinning ``v' = sum_k w_k (W'_j IBM_j) (v + sum_m weight_m delta_m)`` per frame.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

__all__ = ["AvatarRenderer", "side_by_side", "skin_vertices"]

_BACKGROUND = (236, 236, 238, 255)
_SKIN_SRGB = (0.91, 0.76, 0.70)


def skin_vertices(positions: Float[np.ndarray, "V 3"], joints: np.ndarray, weights: Float[np.ndarray, "V 4"],
                  joint_matrices: Float[np.ndarray, "J 4 4"]) -> Float[np.ndarray, "V 3"]:
    """Linear blend skinning with glTF's joint matrices (``world @ inverseBindMatrix``)."""
    m = joint_matrices[:, :3, :]  # (J, 3, 4)
    # Per vertex: sum_k w_vk * M_{j(v,k)} -> (V, 3, 4)
    blend = np.einsum("vk,vkab->vab", weights.astype(np.float64), m[joints])
    return np.einsum("vab,vb->va", blend[:, :, :3], positions) + blend[:, :, 3]


@dataclass
class AvatarRenderer:
    """The avatar GLB's mesh and a fixed camera, rendering one posed frame at a time."""

    positions: np.ndarray
    faces: np.ndarray
    joints: np.ndarray
    weights: np.ndarray
    joint_nodes: list[int]
    inverse_bind: np.ndarray
    morph_deltas: np.ndarray
    texture: np.ndarray | None
    uvs: np.ndarray | None
    camera: object = None

    @classmethod
    def from_glb(cls, path) -> "AvatarRenderer":
        from PIL import Image

        from avatarforge.export.gltf_read import read_glb

        g = read_glb(path)
        tex = None
        if g.image_png is not None:
            tex = np.asarray(Image.open(io.BytesIO(g.image_png)).convert("RGB"))
        uvs = None
        if g.uvs is not None:
            uvs = np.asarray(g.uvs, np.float64).copy()
            uvs[:, 1] = 1.0 - uvs[:, 1]  # glTF's v runs down; the renderer's runs up (OBJ)
        return cls(g.positions.astype(np.float64), g.faces, g.joints, g.weights, list(g.joint_nodes),
                   g.inverse_bind_matrices, g.morph_deltas.astype(np.float64), tex, uvs)

    def vertices(self, node_world: Float[np.ndarray, "N 4 4"], morph_weights: np.ndarray | None = None) -> np.ndarray:
        """(V, 3) skinned vertices for one frame's node world transforms and morph weights."""
        base = self.positions
        if morph_weights is not None and len(morph_weights):
            w = np.asarray(morph_weights[: len(self.morph_deltas)], np.float64)
            on = np.flatnonzero(np.abs(w) > 1e-4)
            if len(on):
                base = base + np.einsum("m,mva->va", w[on], self.morph_deltas[on])
        mats = node_world[self.joint_nodes] @ self.inverse_bind
        return skin_vertices(base, self.joints, self.weights, mats)

    def frame_camera(self, points: Float[np.ndarray, "P 3"], width: int, height: int, margin: float = 1.12):
        """Fix an orthographic front camera (looking along -Z) that frames ``points``."""
        from avatarforge.render.camera import Camera

        lo, hi = points.min(0), points.max(0)
        centre = (lo + hi) / 2
        ext = np.maximum(hi - lo, 1e-3)
        scale = min(height / (ext[1] * margin), width / (ext[0] * margin))
        eye = centre + np.array([0.0, 0.0, ext[2] + 3.0])
        self.camera = Camera.orthographic_look_at(eye, centre, (0, 1, 0), width=width, height=height,
                                                  ortho_scale=scale)
        return self.camera

    def render(self, vertices: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB of posed ``vertices`` through the fixed camera."""
        from avatarforge.render.shading import render_mesh

        light = np.array([-0.3, 0.5, 1.0])
        res = render_mesh(vertices, self.faces, self.camera, texture=self.texture, uvs=self.uvs,
                          uv_faces=self.faces if self.uvs is not None else None, base_color=_SKIN_SRGB,
                          light_dir=light / np.linalg.norm(light), ambient=0.35, diffuse=0.65,
                          background=_BACKGROUND, cull_backfaces=False)
        return res.rgba[..., :3]


def side_by_side(video: np.ndarray | None, avatar: np.ndarray, height: int) -> np.ndarray:
    """The video frame (scaled to ``height``) and the avatar image side by side (avatar only
    when ``video`` is None)."""
    import cv2

    panels = []
    if video is not None:
        s = height / video.shape[0]
        panels.append(cv2.resize(video, (max(2, round(video.shape[1] * s)), height), interpolation=cv2.INTER_AREA))
    if avatar.shape[0] != height:
        s = height / avatar.shape[0]
        avatar = cv2.resize(avatar, (max(2, round(avatar.shape[1] * s)), height), interpolation=cv2.INTER_AREA)
    panels.append(avatar)
    return np.concatenate(panels, 1)
