"""The export flags shared by `create` and `body` (--format, --skeleton-names, ...)."""

from __future__ import annotations

import typer

__all__ = ["FORMAT", "SKELETON_NAMES", "TEXTURE_ATLAS", "VISEMES", "MORPH_NORMALS", "LOD", "COMPRESS",
           "TOON", "export_settings"]

FORMAT = typer.Option("glb", "--format", help="glb, vrm (VRM 1.0 for VTuber apps, always T-pose) or both: glb,vrm.")
SKELETON_NAMES = typer.Option("anny", "--skeleton-names",
                              help="GLB joint names: anny (MakeHuman), vrm (humanoid bone names) or mixamo.")
TEXTURE_ATLAS = typer.Option(False, "--texture-atlas",
                             help="One material / one draw call (mobile) instead of skin, eyes and mouth materials.")
VISEMES = typer.Option(True, "--visemes/--no-visemes", help="Add the 15 Oculus visemes as morph targets.")
MORPH_NORMALS = typer.Option(True, "--morph-normals/--no-morph-normals",
                             help="Morph targets carry normal deltas too (shading follows; ~+1 MB).")
LOD = typer.Option(False, "--lod", help="Also write avatar_lod1..3.glb (lighter meshes, same rig, UVs and morphs).")
COMPRESS = typer.Option(False, "--compress",
                        help="Also write avatar_meshopt.glb (meshopt-compressed by gltfpack; needs npm ci in tools/).")

TOON = typer.Option(False, "--toon", help="VRM: toon materials (VRMC_materials_mtoon: shade colour, outlines).")


def export_settings(format_: str, skeleton_names: str, texture_atlas: bool, visemes: bool, morph_normals: bool,
                    lod: bool, compress: bool, toon: bool = False):
    """The flags as `ExportSettings` (bad values: `UserInputError`)."""
    from avatarforge.export.settings import ExportSettings, parse_formats

    if compress:  # fail before any work when gltfpack is missing
        from avatarforge.export.compress import find_gltfpack

        find_gltfpack()
    return ExportSettings(formats=parse_formats(format_), skeleton_names=skeleton_names.strip().lower(),
                          texture_atlas=texture_atlas, visemes=visemes, morph_normals=morph_normals, lod=lod,
                          compress=compress, toon=toon)
