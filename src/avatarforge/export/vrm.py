"""VRM 1.0 export (``VRMC_vrm``): the GLB plus a humanoid map, expressions, lookAt,
firstPerson and the licence metadata that VTuber apps and VRM loaders read.

What VRM 1.0 asks of the model and how it is met here:

- T-pose rest, facing +Z, +Y up, metres: the caller exports the mesh in the ``t`` pose
  preset (arms horizontal); `write_vrm` checks the arms.
- Humanoid nodes without rest rotation: the joint frames are baked to world-aligned
  (translation-only nodes, inverse bind matrices recomputed, the bind-pose mesh unchanged).
- ``humanoid.humanBones``: Anny's joints through `humanoid.ANNY_TO_VRM` (fingers and eyes
  included; no jaw or toes bone exists).
- ``expressions``: every preset from the ARKit morph targets (`face_shapes`); the vowels
  bind the composed viseme targets.
- ``lookAt``: type ``bone`` (Anny's eye joints turn the eyeballs), origin between the eyes.
- ``firstPerson``: the mesh annotated ``auto`` (the loader hides the head in first person).
- ``VRMC_springBone`` (when the mesh has ``springs``: hair chains): one spring per chain,
  the body colliders (spheres, capsules) in one collider group every spring uses.
- ``VRMC_materials_mtoon`` (``toon``): every material gets an MToon block (`materials.mtoon`)
  on top of its glTF PBR (or unlit) material, which loaders without MToon fall back to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from avatarforge.export.face_shapes import (
    VISEME_PREFIX,
    VISEME_RECIPES,
    VRM_EXPRESSION_RECIPES,
    VRM_VISEME_EXPRESSIONS,
)
from avatarforge.export.gltf import GlbInfo, GlbOptions, build_document, rest_joint_world
from avatarforge.export.humanoid import VRM_BONE_PARENTS, VRM_REQUIRED_BONES, humanoid_bones
from avatarforge.export.materials import GROUP_NAMES, MTOON_EXTENSION, TOON_OUTLINE_GROUPS, mtoon
from avatarforge.export.mesh import RiggedMesh
from avatarforge.util.atomic import atomic_write_bytes

__all__ = ["VrmMeta", "build_vrm", "write_vrm", "VRM_EXTENSION", "SPRING_EXTENSION", "VRM_PRESETS", "BODY_MODEL_LICENSES",
           "T_POSE_TOLERANCE_DEG"]

VRM_EXTENSION = "VRMC_vrm"
SPRING_EXTENSION = "VRMC_springBone"
#: VRM 1.0's preset expression names.
VRM_PRESETS = ("happy", "angry", "sad", "relaxed", "surprised", "aa", "ih", "ou", "ee", "oh", "blink",
               "blinkLeft", "blinkRight", "lookUp", "lookDown", "lookLeft", "lookRight", "neutral")
#: Largest angle between an upper arm -> hand line and the horizontal X axis for a T-pose.
T_POSE_TOLERANCE_DEG = 10.0
#: Eye rotation limits for lookAt (degrees of eye turn at 90 degrees of gaze off the head's axis).
LOOK_RANGE_DEG = {"rangeMapHorizontalInner": 12.0, "rangeMapHorizontalOuter": 15.0,
                  "rangeMapVerticalDown": 10.0, "rangeMapVerticalUp": 12.0}

#: Licence notice of each body model, for ``meta.thirdPartyLicenses``.
BODY_MODEL_LICENSES = {
    "anny": "Body model: Anny by NAVER Corp. (Apache-2.0, https://github.com/naver/anny), built on MakeHuman "
            "assets (CC0 1.0, http://www.makehumancommunity.org).",
}


@dataclass(frozen=True)
class VrmMeta:
    """``VRMC_vrm.meta``: who made the avatar and what others may do with it.

    The defaults are the most restrictive choices VRM offers: the avatar usually shows a real
    person (from a photo), so only its author may perform as it, and nothing else is allowed
    until the author says so.
    """

    name: str = "avatar"
    authors: tuple[str, ...] = ("avatarforge user",)
    version: str = "1"
    license_url: str = "https://vrm.dev/licenses/1.0/"
    """The VRM Public License 1.0; the permission fields below are its terms."""
    body_model: str = "anny"
    """Whose licence goes to ``thirdPartyLicenses`` (see `BODY_MODEL_LICENSES`)."""
    avatar_permission: str = "onlyAuthor"
    commercial_usage: str = "personalNonProfit"
    allow_redistribution: bool = False
    modification: str = "prohibited"
    credit_notation: str = "required"
    references: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "authors": list(self.authors),
            "licenseUrl": self.license_url,
            "avatarPermission": self.avatar_permission,
            "allowExcessivelyViolentUsage": False,
            "allowExcessivelySexualUsage": False,
            "commercialUsage": self.commercial_usage,
            "allowPoliticalOrReligiousUsage": False,
            "allowAntisocialOrHateUsage": False,
            "creditNotation": self.credit_notation,
            "allowRedistribution": self.allow_redistribution,
            "modification": self.modification,
        }
        if self.body_model in BODY_MODEL_LICENSES:
            out["thirdPartyLicenses"] = BODY_MODEL_LICENSES[self.body_model]
        if self.references:
            out["references"] = list(self.references)
        return out


def check_t_pose(mesh: RiggedMesh, bones: dict[str, int]) -> None:
    """Raise ``ValueError`` unless both arms run along +-X (shoulder to hand) within tolerance."""
    pos = np.asarray(mesh.joint_world)[:, :3, 3]
    for side, sign in (("left", 1.0), ("right", -1.0)):
        d = pos[bones[f"{side}Hand"]] - pos[bones[f"{side}UpperArm"]]
        cos = sign * d[0] / np.linalg.norm(d)
        angle = float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
        if angle > T_POSE_TOLERANCE_DEG:
            raise ValueError(f"VRM 1.0 needs a T-pose rest: the {side} arm is {angle:.0f} degrees off horizontal "
                             "(export with the t pose preset)")


def _check_hierarchy(parents: np.ndarray, bones: dict[str, int]) -> None:
    """Each mapped bone's nearest mapped ancestor must be allowed by VRM's hierarchy."""
    joint_bone = {j: b for b, j in bones.items()}
    for bone, j in bones.items():
        p = int(parents[j])
        while p >= 0 and p not in joint_bone:
            p = int(parents[p])
        found = joint_bone.get(p)
        allowed, want = set(), VRM_BONE_PARENTS[bone]
        while want is not None:  # the VRM parent, or its ancestors when it is not mapped
            allowed.add(want)
            if want in bones:
                break
            want = VRM_BONE_PARENTS[want]
        if (found is None and bone != "hips") or (found is not None and found not in allowed):
            raise ValueError(f"humanoid bone {bone} hangs under {found}, VRM wants {sorted(allowed)}")


def _expressions(morph_names: list[str]) -> dict[str, Any]:
    index = {n: i for i, n in enumerate(morph_names)}
    preset: dict[str, Any] = {}
    for name in VRM_PRESETS:
        if name in VRM_VISEME_EXPRESSIONS:
            viseme = VRM_VISEME_EXPRESSIONS[name]
            target = VISEME_PREFIX + viseme
            recipe = {target: 1.0} if target in index else VISEME_RECIPES[viseme]
        else:
            recipe = VRM_EXPRESSION_RECIPES[name]
        binds = [{"node": 0, "index": index[shape], "weight": float(w)} for shape, w in recipe.items() if shape in index]
        entry: dict[str, Any] = {"morphTargetBinds": binds, "isBinary": False}
        if name in ("happy", "angry", "sad", "relaxed", "surprised"):
            entry["overrideBlink"] = "blend"  # an emotion's own eyelid shape wins over a blink
        preset[name] = entry
    return {"preset": preset}


def _mean_texture_colour(mesh: RiggedMesh, faces: np.ndarray) -> np.ndarray:
    """Mean linear RGB of ``mesh.texture`` at the UVs of the triangles ``faces`` (rows)."""
    from avatarforge.util.colour import srgb_to_linear

    tex = np.asarray(mesh.texture)[..., :3]
    uv = np.asarray(mesh.uvs)[np.unique(np.asarray(mesh.uv_faces)[faces])]
    h, w = tex.shape[:2]
    col = np.clip(np.round(uv[:, 0] * (w - 1)), 0, w - 1).astype(np.int64)
    row = np.clip(np.round((1.0 - uv[:, 1]) * (h - 1)), 0, h - 1).astype(np.int64)  # v up, row 0 at the top
    return srgb_to_linear(tex[row, col] / 255.0).mean(axis=0)


def _add_toon(gltf: dict[str, Any], mesh: RiggedMesh, info: GlbInfo) -> None:
    """``VRMC_materials_mtoon`` on every material: the body's groups (in ``info.materials``
    order, textured or ``mesh.base_color``), then one per part (its colour)."""
    groups = np.asarray(mesh.face_groups) if mesh.face_groups is not None else None
    looks = []
    for name in info.materials:
        if mesh.texture is None:
            looks.append((name, np.asarray(mesh.base_color[:3]), None))
            continue
        if len(info.materials) == 1 or groups is None:
            rows = np.arange(len(mesh.faces))
        else:
            rows = np.flatnonzero(groups == GROUP_NAMES.index(name))
        looks.append((name, _mean_texture_colour(mesh, rows), 0))
    n_body = len(looks)
    looks += [(part.name, np.asarray(part.base_color[:3]), None) for part in mesh.parts]
    for i, m in enumerate(gltf["materials"][n_body:], n_body):  # a textured part: shade its texture
        index = m["pbrMetallicRoughness"].get("baseColorTexture", {}).get("index")
        looks[i] = (looks[i][0], looks[i][1], index)
    for material, (name, base, texture) in zip(gltf["materials"], looks, strict=True):
        material.setdefault("extensions", {})[MTOON_EXTENSION] = mtoon(
            base, texture=texture, outline=name in TOON_OUTLINE_GROUPS)
    gltf["extensionsUsed"] = [*gltf.get("extensionsUsed", []), MTOON_EXTENSION]


def _spring_bone(mesh: RiggedMesh, joint_world: np.ndarray) -> dict[str, Any]:
    """``VRMC_springBone`` 1.0 of ``mesh.springs`` / ``mesh.colliders``; ``joint_world``: the
    joints' world transforms as written (collider positions become node-local)."""
    inv = np.linalg.inv(np.asarray(joint_world, np.float64))

    def local(j: int, p: tuple[float, float, float]) -> list[float]:
        return (inv[j] @ np.array([*p, 1.0]))[:3].tolist()

    colliders = []
    for c in mesh.colliders:
        shape = ({"sphere": {"offset": local(c.joint, c.centre), "radius": float(c.radius)}} if c.tail is None else
                 {"capsule": {"offset": local(c.joint, c.centre), "radius": float(c.radius),
                              "tail": local(c.joint, c.tail)}})
        colliders.append({"node": c.joint + 1, "shape": shape})
    springs = []
    for i, chain in enumerate(mesh.springs):
        settings = {"hitRadius": chain.hit_radius, "stiffness": chain.stiffness, "gravityPower": chain.gravity_power,
                    "gravityDir": list(chain.gravity_dir), "dragForce": chain.drag_force}
        joints = [{"node": j + 1, **settings} for j in chain.joints[:-1]] + [{"node": chain.joints[-1] + 1}]
        spring: dict[str, Any] = {"name": mesh.joint_names[chain.joints[0]] or f"spring{i}", "joints": joints}
        if colliders:
            spring["colliderGroups"] = [0]
        springs.append(spring)
    out: dict[str, Any] = {"specVersion": "1.0", "springs": springs}
    if colliders:
        out["colliders"] = colliders
        out["colliderGroups"] = [{"name": "body", "colliders": list(range(len(colliders)))}]
    return out


def build_vrm(mesh: RiggedMesh, meta: VrmMeta | None = None, options: GlbOptions | None = None,
              toon: bool = False) -> tuple[bytes, GlbInfo]:
    """Encode ``mesh`` (in T-pose) as a VRM 1.0 file (a GLB with ``VRMC_vrm``); ``toon`` adds
    ``VRMC_materials_mtoon`` to every material."""
    bones = humanoid_bones(mesh.joint_names)
    missing = [b for b in VRM_REQUIRED_BONES if b not in bones]
    if missing:
        raise ValueError(f"the skeleton lacks the VRM humanoid bones {', '.join(missing)}")
    _check_hierarchy(np.asarray(mesh.joint_parents), bones)
    check_t_pose(mesh, bones)
    opts = replace(options or GlbOptions(), identity_rest=True, skeleton_names="anny")
    b, gltf, info = build_document(mesh, opts)
    pos = np.asarray(mesh.joint_world)[:, :3, 3]
    head = pos[bones["head"]]
    if "leftEye" in bones and "rightEye" in bones:
        between = (pos[bones["leftEye"]] + pos[bones["rightEye"]]) / 2
    else:  # a head without eyes: ~10 cm up and forward of the head joint
        between = head + (0.0, 0.1, 0.08)
    look_at: dict[str, Any] = {"type": "bone" if "leftEye" in bones else "expression",
                               "offsetFromHeadBone": (between - head).tolist()}
    for key, degrees in LOOK_RANGE_DEG.items():
        look_at[key] = {"inputMaxValue": 90.0, "outputScale": degrees if look_at["type"] == "bone" else 1.0}
    meta = meta or VrmMeta(name=mesh.name)
    if toon:
        _add_toon(gltf, mesh, info)
    gltf["extensionsUsed"] = [*gltf.get("extensionsUsed", []), VRM_EXTENSION]
    mesh_nodes = [i for i, node in enumerate(gltf["nodes"]) if "mesh" in node]  # the body, then the hair
    gltf["extensions"] = {VRM_EXTENSION: {
        "specVersion": "1.0",
        "meta": meta.to_json(),
        "humanoid": {"humanBones": {bone: {"node": j + 1} for bone, j in bones.items()}},  # joint j is node j + 1
        "expressions": _expressions(list(info.morph_names)),
        "lookAt": look_at,
        "firstPerson": {"meshAnnotations": [{"node": i, "type": "auto"} for i in mesh_nodes]},
    }}
    if mesh.springs:
        gltf["extensionsUsed"].append(SPRING_EXTENSION)
        gltf["extensions"][SPRING_EXTENSION] = _spring_bone(mesh, rest_joint_world(mesh, identity_rest=True))
    data = b.pack(gltf)
    info.n_bytes = len(data)
    return data, info


def write_vrm(mesh: RiggedMesh, path: str | os.PathLike[str], meta: VrmMeta | None = None,
              options: GlbOptions | None = None, toon: bool = False) -> GlbInfo:
    """Write ``mesh`` (in T-pose) as ``path`` (``.vrm``), atomically; see `build_vrm`."""
    data, info = build_vrm(mesh, meta, options, toon)
    info.path = atomic_write_bytes(path, data)
    return info

