"""Export: GLB (skinned, morph targets, texture), OBJ + MTL + PNG, params.json."""

from avatarforge.export.gltf import GlbInfo, build_glb, write_glb
from avatarforge.export.gltf_read import GlbContents, read_glb, read_glb_positions
from avatarforge.export.mesh import DEFAULT_SKIN_RGBA, RiggedMesh
from avatarforge.export.obj import write_obj
from avatarforge.export.validate import GltfValidatorUnavailable, validate_gltf

__all__ = [
    "RiggedMesh",
    "DEFAULT_SKIN_RGBA",
    "GlbInfo",
    "build_glb",
    "write_glb",
    "GlbContents",
    "read_glb",
    "read_glb_positions",
    "write_obj",
    "GltfValidatorUnavailable",
    "validate_gltf",
]
