"""glTF samplers and materials: the one home of their constants (exports and the studio view).

An avatar's triangles fall into material groups (skin, eyes, mouth; hair and garment are
reserved for when that geometry exists). Every group samples the same UV atlas, so one
texture and one sampler serve all; the groups differ in their surface (roughness), so an
engine can shade the eyes glossy and the skin soft, or swap one material. When the texture
already holds the photo's lighting, the materials are ``KHR_materials_unlit``: an engine
must not light it a second time.

For a toon look (VRM only) each material also gets ``VRMC_materials_mtoon`` (`mtoon`): a
lit colour (the glTF base colour) and a shade colour derived from it, a hard light/shade
boundary, flattened ambient light and, on skin and hair, an outline. Loaders without MToon
fall back to the glTF material underneath.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "LINEAR",
    "LINEAR_MIPMAP_LINEAR",
    "CLAMP_TO_EDGE",
    "UNLIT_EXTENSION",
    "MTOON_EXTENSION",
    "MaterialLook",
    "MATERIAL_LOOKS",
    "GROUP_NAMES",
    "sampler",
    "material",
    "shade_colour",
    "mtoon",
    "TOON_OUTLINE_GROUPS",
    "SHADE_POWER",
    "SHADE_SCALE",
    "OUTLINE_WIDTH_M",
    "ALPHA_CUTOFF",
]

#: glTF sampler enums (WebGL's): filters and wrap modes.
LINEAR = 9729
LINEAR_MIPMAP_LINEAR = 9987
CLAMP_TO_EDGE = 33071
UNLIT_EXTENSION = "KHR_materials_unlit"
MTOON_EXTENSION = "VRMC_materials_mtoon"


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


#: ``alphaCutoff`` of a material whose texture's alpha cuts the surface out (``alphaMode MASK``:
#: hair tips; alpha-tested, so a shell needs no sorting against itself as blending would).
ALPHA_CUTOFF = 0.5


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
    alpha_mask: bool = False,
) -> dict[str, Any]:
    """A glTF material: base colour from texture ``texture`` (index) or the factor ``color``;
    ``unlit`` adds ``KHR_materials_unlit`` (the caller lists it in ``extensionsUsed``);
    ``alpha_mask``: the texture's alpha cuts the surface out (``alphaMode MASK``, `ALPHA_CUTOFF`)."""
    pbr: dict[str, Any] = {"metallicFactor": 0.0, "roughnessFactor": look.roughness}
    if texture is not None:
        pbr["baseColorTexture"] = {"index": texture}
    else:
        pbr["baseColorFactor"] = [float(c) for c in color]
    out: dict[str, Any] = {"name": name, "pbrMetallicRoughness": pbr, "doubleSided": look.double_sided}
    if alpha_mask:
        out["alphaMode"] = "MASK"
        out["alphaCutoff"] = ALPHA_CUTOFF
    if unlit:
        out["extensions"] = {UNLIT_EXTENSION: {}}
    return out


#: Shade colour = ``SHADE_SCALE * base ** SHADE_POWER`` per linear channel: darker, and more
#: saturated (the strongest channel loses least), as painted shadows are (skin shades red).
SHADE_POWER = 1.6
SHADE_SCALE = 0.85
#: Outline colour = this times the shade colour (linear).
OUTLINE_DARKEN = 0.35
#: Outline width in metres (``worldCoordinates``): visible on a full body, thin on a face.
OUTLINE_WIDTH_M = 0.0015
#: Material groups drawn with an outline (the eyes and the mouth cavity are not: inner parts).
TOON_OUTLINE_GROUPS = ("skin", "hair", "garment")


def shade_colour(base: np.ndarray | tuple[float, ...]) -> np.ndarray:
    """MToon shade colour of a linear RGB base colour (``SHADE_SCALE * base ** SHADE_POWER``)."""
    rgb = np.clip(np.asarray(base, dtype=np.float64)[:3], 0.0, 1.0)
    return SHADE_SCALE * rgb**SHADE_POWER


def mtoon(base: np.ndarray | tuple[float, ...], *, texture: int | None = None, outline: bool = True) -> dict[str, Any]:
    """The ``VRMC_materials_mtoon`` 1.0 object of a material whose lit colour is ``base``
    (linear RGB: the base colour factor, or the mean colour of texture ``texture``).

    With a texture the shade is the texture times a tint (``shadeMultiplyTexture``), the
    tint being shade / base of the mean colour, so the shade of the mean colour is
    `shade_colour` of it. ``outline``: a world-space outline of `OUTLINE_WIDTH_M`.
    """
    rgb = np.clip(np.asarray(base, dtype=np.float64)[:3], 0.0, 1.0)
    shade = shade_colour(rgb)
    out: dict[str, Any] = {
        "specVersion": "1.0",
        "transparentWithZWrite": False,
        "renderQueueOffsetNumber": 0,
        "shadingShiftFactor": 0.0,  # the light/shade boundary at N.L = 0
        "shadingToonyFactor": 0.9,  # a narrow boundary: two tones
        "giEqualizationFactor": 0.9,  # ambient light nearly the same from every side (flat)
        "parametricRimColorFactor": [0.0, 0.0, 0.0],
        "rimLightingMixFactor": 1.0,
        "outlineWidthMode": "worldCoordinates" if outline else "none",
        "outlineWidthFactor": OUTLINE_WIDTH_M if outline else 0.0,
        "outlineColorFactor": [float(c) for c in OUTLINE_DARKEN * shade],
        "outlineLightingMixFactor": 1.0,
    }
    if texture is None:
        out["shadeColorFactor"] = [float(c) for c in shade]
    else:
        tint = np.divide(shade, rgb, out=np.full(3, SHADE_SCALE), where=rgb > 1e-6)
        out["shadeColorFactor"] = [float(c) for c in np.clip(tint, 0.0, 1.0)]
        out["shadeMultiplyTexture"] = {"index": texture}
    return out
