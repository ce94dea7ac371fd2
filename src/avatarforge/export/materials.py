"""glTF samplers and materials: the one home of their constants (exports and the studio view).

An avatar's triangles fall into material groups (skin, eyes, mouth; hair and garment are
reserved for when that geometry exists). Every group samples the same UV atlas, so one
texture and one sampler serve all; the groups differ in their surface (roughness), so an
engine can shade the eyes glossy and the skin soft, or swap one material. When the texture
already holds the photo's lighting, the materials are ``KHR_materials_unlit``: an engine
must not light it a second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "LINEAR",
    "LINEAR_MIPMAP_LINEAR",
    "CLAMP_TO_EDGE",
    "UNLIT_EXTENSION",
    "MaterialLook",
    "MATERIAL_LOOKS",
    "GROUP_NAMES",
    "sampler",
    "material",
]

#: glTF sampler enums (WebGL's): filters and wrap modes.
LINEAR = 9729
LINEAR_MIPMAP_LINEAR = 9987
CLAMP_TO_EDGE = 33071
UNLIT_EXTENSION = "KHR_materials_unlit"


@dataclass(frozen=True)
class MaterialLook:
    """The surface of one material group (metallic is always 0: no part of a person is metal)."""

    roughness: float
    """PBR roughness: 1 = matte, small = glossy."""
    double_sided: bool = False
    """Draw back faces too (thin sheets such as hair cards or cloth)."""


#: Material groups in index order. ``hair`` and ``garment`` are the looks of the separate
#: hair and garment meshes (`export.mesh.MeshPart.look`); a body material is written only for
#: a group that has triangles.
GROUP_NAMES = ("skin", "eyes", "mouth", "hair", "garment")
MATERIAL_LOOKS = {
    "skin": MaterialLook(roughness=0.6),
    "eyes": MaterialLook(roughness=0.15),
    "mouth": MaterialLook(roughness=0.35),
    "hair": MaterialLook(roughness=0.5, double_sided=True),
    "garment": MaterialLook(roughness=0.8, double_sided=True),
    "studio": MaterialLook(roughness=0.7),
}


def sampler(clamp: bool = True) -> dict[str, Any]:
    """Trilinear sampler; ``clamp``: clamp-to-edge (an atlas must not bleed across its borders)."""
    out: dict[str, Any] = {"magFilter": LINEAR, "minFilter": LINEAR_MIPMAP_LINEAR}
    if clamp:
        out["wrapS"] = out["wrapT"] = CLAMP_TO_EDGE
    return out


def material(
    name: str,
    look: MaterialLook,
    *,
    texture: int | None = None,
    color: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0),
    unlit: bool = False,
) -> dict[str, Any]:
    """A glTF material: base colour from texture ``texture`` (index) or the factor ``color``;
    ``unlit`` adds ``KHR_materials_unlit`` (the caller lists it in ``extensionsUsed``)."""
    pbr: dict[str, Any] = {"metallicFactor": 0.0, "roughnessFactor": look.roughness}
    if texture is not None:
        pbr["baseColorTexture"] = {"index": texture}
    else:
        pbr["baseColorFactor"] = [float(c) for c in color]
    out: dict[str, Any] = {"name": name, "pbrMetallicRoughness": pbr, "doubleSided": look.double_sided}
    if unlit:
        out["extensions"] = {UNLIT_EXTENSION: {}}
    return out
