"""What an export writes: formats, joint naming, materials, visemes, levels of detail,
compression. One dataclass shared by `create`, `body` and the studio's Export."""

from __future__ import annotations

from dataclasses import dataclass

from avatarforge.errors import UserInputError
from avatarforge.export.gltf import GlbOptions
from avatarforge.export.humanoid import SKELETON_NAMINGS

__all__ = ["EXPORT_FORMATS", "ExportSettings", "parse_formats"]

#: Values of ``--format`` (comma-separated to write several).
EXPORT_FORMATS = ("glb", "vrm")


def parse_formats(text: str) -> tuple[str, ...]:
    """``"glb"``, ``"vrm"`` or ``"glb,vrm"`` -> the formats in `EXPORT_FORMATS` order."""
    given = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [t for t in given if t not in EXPORT_FORMATS]
    if bad or not given:
        raise UserInputError(f"--format takes {', '.join(EXPORT_FORMATS)} or several joined by commas "
                             f"(e.g. glb,vrm), got {text!r}")
    return tuple(f for f in EXPORT_FORMATS if f in given)


@dataclass(frozen=True)
class ExportSettings:
    """Which files the rigged avatar is written to, and how."""

    formats: tuple[str, ...] = ("glb",)
    """avatar.glb and/or avatar.vrm (VRM 1.0, always in T-pose). The OBJ is always written."""
    skeleton_names: str = "anny"
    """Joint names in the GLB: anny (MakeHuman), vrm (humanoid bone names) or mixamo
    (``mixamorig:Hips`` ...). The VRM keeps Anny's names: its humanoid map names the bones."""
    texture_atlas: bool = False
    """One material and one draw call (the texture is one atlas already) instead of separate
    skin / eyes / mouth materials."""
    visemes: bool = True
    """Add the 15 Oculus visemes as morph targets (``viseme_sil`` ... ``viseme_ou``)."""
    morph_normals: bool = True
    """Morph targets carry NORMAL deltas as well as POSITION deltas."""
    lod: bool = False
    """Also write lighter meshes (avatar_lod1..3.glb) from Anny's reduced topologies."""
    compress: bool = False
    """Also write avatar_meshopt.glb: meshopt-compressed with gltfpack (npm, tools/)."""
    toon: bool = False
    """VRM only: ``VRMC_materials_mtoon`` toon materials (a shade colour derived from each base
    colour, outlines on skin and hair). The GLB keeps its PBR/unlit materials."""
    author: str = "avatarforge user"
    """VRM meta author."""

    def __post_init__(self) -> None:
        if self.skeleton_names not in SKELETON_NAMINGS:
            raise UserInputError(f"--skeleton-names takes {', '.join(SKELETON_NAMINGS)}, got {self.skeleton_names!r}")
        if not self.formats or any(f not in EXPORT_FORMATS for f in self.formats):
            raise UserInputError(f"formats must be among {', '.join(EXPORT_FORMATS)}, got {self.formats!r}")
        if self.toon and "vrm" not in self.formats:
            raise UserInputError("--toon makes the VRM's materials toon (MToon, a VRM extension): add --format vrm or glb,vrm")

    def glb_options(self) -> GlbOptions:
        return GlbOptions(skeleton_names=self.skeleton_names, single_material=self.texture_atlas,
                          visemes=self.visemes, morph_normals=self.morph_normals)
