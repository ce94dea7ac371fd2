"""Export: GLB (skinned, morph targets, material groups, texture), VRM 1.0, OBJ + MTL + PNG."""

from avatarforge.export.gltf import GlbInfo, GlbOptions, build_glb, write_glb
from avatarforge.export.gltf_read import GlbContents, read_glb, read_glb_positions
from avatarforge.export.mesh import DEFAULT_SKIN_RGBA, RiggedMesh
from avatarforge.export.obj import write_obj
from avatarforge.export.settings import ExportSettings
from avatarforge.export.validate import GltfValidatorUnavailable, validate_gltf
from avatarforge.export.vrm import VrmMeta, write_vrm

__all__ = [
    "RiggedMesh",
    "DEFAULT_SKIN_RGBA",
    "GlbInfo",
    "GlbOptions",
    "ExportSettings",
    "VrmMeta",
    "write_vrm",
    "build_glb",
    "write_glb",
    "GlbContents",
    "read_glb",
    "read_glb_positions",
    "write_obj",
    "GltfValidatorUnavailable",
    "validate_gltf",
]
