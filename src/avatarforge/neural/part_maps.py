"""Body parts and per-part UVs of the body model, and ground-truth renders (the DensePose role).

The textured avatar needs, for its initialisation, part-assignment and part-UV maps of the
training frames. The paper takes them from DensePose; here they are rendered from the body
model itself:

* parts: each vertex belongs to the part of its dominant skinning joint (:data:`PART_NAMES`,
  15 parts); a triangle takes the part most of its corners have (else its first corner's);
* part UVs: the body model's own UV map, per triangle corner (so seams stay sharp), rescaled to
  the bounding box of the part's UV charts so that every part fills its own ``[0, 1]^2``
  texture. ``v`` is flipped so that ``(u, v)`` follow :mod:`.model`'s convention (row = v*T).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, Int

from avatarforge.render import Camera, interpolate, rasterize, vertex_normals
from avatarforge.render import texture as sample_texture

__all__ = ["PART_NAMES", "BodyRig", "body_rig", "GroundTruth", "render_ground_truth", "part_of_joint"]

PART_NAMES = (
    "head", "chest", "pelvis",
    "upperarm.L", "upperarm.R", "lowerarm.L", "lowerarm.R", "hand.L", "hand.R",
    "upperleg.L", "upperleg.R", "lowerleg.L", "lowerleg.R", "foot.L", "foot.R",
)

_RULES = (  # (joint-name prefix, part) in priority order; sided parts get the joint's side
    ("upperarm", "upperarm"), ("lowerarm", "lowerarm"), ("wrist", "hand"), ("finger", "hand"),
    ("metacarpal", "hand"), ("upperleg", "upperleg"), ("lowerleg", "lowerleg"), ("foot", "foot"),
    ("toe", "foot"), ("pelvis", "pelvis"), ("root", "pelvis"), ("spine05", "pelvis"), ("spine04", "pelvis"),
    ("spine", "chest"), ("clavicle", "chest"), ("shoulder", "chest"), ("neck", "head"), ("head", "head"),
    ("eye", "head"),
)


def part_of_joint(name: str) -> int:
    """Index in :data:`PART_NAMES` of the part a skinning joint drives."""
    for prefix, part in _RULES:
        if name.startswith(prefix):
            key = f"{part}.{name[-1]}" if f"{part}.L" in PART_NAMES else part
            return PART_NAMES.index(key)
    return PART_NAMES.index("head")  # jaw, tongue, ...: the rest of Anny's bones are facial


@dataclass
class BodyRig:
    """What rendering ground truth needs from the body model, computed once."""

    faces: Int[np.ndarray, "F 3"]
    uvs: Float[np.ndarray, "T 2"]
    """The body model's UVs (OBJ convention)."""
    uv_faces: Int[np.ndarray, "F 3"]
    face_part: Int[np.ndarray, " F"]
    """Part index of each triangle."""
    corner_part_uv: Float[np.ndarray, "F 3 2"]
    """Per-corner part UV (:mod:`.model` convention)."""
    vertex_part: Int[np.ndarray, " V"]


def body_rig(body_out) -> BodyRig:
    """Parts and per-part UVs of a :class:`~avatarforge.bodies.BodyOutput`."""
    names = body_out.joint_names
    joint_part = np.array([part_of_joint(n) for n in names])
    w = body_out.skin_weights.numpy()
    dom = body_out.skin_indices.numpy()[np.arange(w.shape[0]), w.argmax(1)]
    vpart = joint_part[dom]
    faces = body_out.faces.numpy().astype(np.int64)
    fp = vpart[faces]
    face_part = np.where(fp[:, 1] == fp[:, 2], fp[:, 1], fp[:, 0])
    uvs = body_out.uvs.numpy().astype(np.float64)
    uv_faces = body_out.uv_faces.numpy().astype(np.int64)
    corner_uv = uvs[uv_faces]  # (F, 3, 2)
    corner = np.zeros_like(corner_uv)
    for p in range(len(PART_NAMES)):
        sel = face_part == p
        lo = corner_uv[sel].reshape(-1, 2).min(0)
        hi = corner_uv[sel].reshape(-1, 2).max(0)
        scaled = (corner_uv[sel] - lo) / np.maximum(hi - lo, 1e-6)
        scaled[..., 1] = 1 - scaled[..., 1]  # OBJ v (up) -> row-down convention
        corner[sel] = scaled
    return BodyRig(faces, uvs, uv_faces, face_part, corner.astype(np.float32), vpart)


@dataclass
class GroundTruth:
    """A rendered frame with its dense correspondences."""

    rgb: Float[np.ndarray, "H W 3"]
    """Shaded colour in [0, 1], ``background`` where nothing is hit."""
    mask: Float[np.ndarray, "H W"]
    """1 on the body."""
    part: Int[np.ndarray, "H W"]
    """Part index, ``len(PART_NAMES)`` on the background."""
    part_uv: Float[np.ndarray, "H W 2"]
    """Part UV (0 on the background)."""


def render_ground_truth(
    vertices: Float[torch.Tensor, "V 3"],
    rig: BodyRig,
    camera: Camera,
    albedo: Float[torch.Tensor, "Ht Wt 3"] | None = None,
    light_dir=(0.3, 0.8, 0.5),
    ambient: float = 0.65,
    diffuse: float = 0.35,
    background=(0.5, 0.5, 0.5),
    normals: Float[torch.Tensor, "V 3"] | None = None,
) -> GroundTruth:
    """Render posed ``vertices``: colour from ``albedo`` (body UV map, OBJ convention) under a
    fixed world light (none if ``albedo`` is None: the colour is then the background), the
    mask, the part index and the part UV of every pixel. ``normals`` (per vertex) may be
    passed when one pose is rendered from several cameras."""
    screen = camera.project(vertices.detach().double().numpy())
    raster = rasterize(screen, rig.faces, camera.height, camera.width, perspective=camera.is_perspective,
                       cull_backfaces=True)
    h, w = camera.height, camera.width
    mask = raster.mask
    flat = np.flatnonzero(mask)
    tri = raster.triangle_id[mask]
    bary = raster.bary[mask].astype(np.float32)
    part = np.full(h * w, len(PART_NAMES), dtype=np.int64)
    part[flat] = rig.face_part[tri]
    uv = np.zeros((h * w, 2), np.float32)
    uv[flat] = np.einsum("nk,nkc->nc", bary, rig.corner_part_uv[tri])  # k: triangle corner, c: (u, v)
    rgb = np.empty((h * w, 3), np.float32)
    rgb[:] = np.asarray(background, np.float32)
    if albedo is not None and flat.size:
        with torch.no_grad():
            v = vertices.detach().float()
            vn = vertex_normals(v, rig.faces) if normals is None else normals.float()
            n = interpolate(vn, rig.faces, raster)
            n = n / n.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            tuv = interpolate(torch.from_numpy(rig.uvs).float(), rig.uv_faces, raster)
            col = sample_texture(albedo.float(), tuv)
            light = torch.tensor(light_dir, dtype=torch.float32)
            light = light / light.norm()
            shade = ambient + diffuse * (n @ light).clamp_min(0)[:, None]
            rgb[flat] = (col * shade).clamp(0, 1).numpy()
    return GroundTruth(rgb.reshape(h, w, 3), mask.astype(np.float32), part.reshape(h, w), uv.reshape(h, w, 2))
