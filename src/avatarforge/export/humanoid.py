"""Humanoid bone maps: Anny's MakeHuman joints -> VRM 1.0 humanoid bones -> Mixamo names.

Anny's rig (104 joints) has no jaw (jawOpen is a blend shape) and one chain per toe (no
single toes bone), so VRM's ``jaw``, ``leftToes`` and ``rightToes`` stay unmapped. Between
mapped joints Anny has helper joints (``spine05``, ``shoulder01``, ``upperarm02``,
``lowerarm02``, ``metacarpal*``, ``neck02/03``, ``pelvis``); VRM allows non-humanoid
nodes between humanoid ones.

``root`` (at the crotch, parent of both legs and the spine) is the hips; ``spine05`` sits
on the same point, so the spine starts one joint up (``spine04``, top of the pelvis).
Anny's ``.L`` is the body's own left (+X when it faces +Z), as VRM's ``left``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "VRM_REQUIRED_BONES",
    "VRM_BONE_PARENTS",
    "ANNY_TO_VRM",
    "VRM_TO_MIXAMO",
    "SKELETON_NAMINGS",
    "humanoid_bones",
    "renamed_joints",
]

_FINGERS = (("Thumb", 1), ("Index", 2), ("Middle", 3), ("Ring", 4), ("Little", 5))

#: The humanoid bones VRM 1.0 requires (VRMC_vrm.humanoid.humanBones.schema.json).
VRM_REQUIRED_BONES = (
    "hips", "spine", "head",
    "leftUpperLeg", "leftLowerLeg", "leftFoot", "rightUpperLeg", "rightLowerLeg", "rightFoot",
    "leftUpperArm", "leftLowerArm", "leftHand", "rightUpperArm", "rightLowerArm", "rightHand",
)


def _vrm_parents() -> dict[str, str | None]:
    """Each VRM bone's parent bone in VRM 1.0's humanoid hierarchy (optional ones included)."""
    out: dict[str, str | None] = {"hips": None, "spine": "hips", "chest": "spine", "upperChest": "chest",
                                  "neck": "upperChest", "head": "neck", "leftEye": "head", "rightEye": "head",
                                  "jaw": "head"}
    for side in ("left", "right"):
        out |= {f"{side}UpperLeg": "hips", f"{side}LowerLeg": f"{side}UpperLeg", f"{side}Foot": f"{side}LowerLeg",
                f"{side}Toes": f"{side}Foot", f"{side}Shoulder": "upperChest", f"{side}UpperArm": f"{side}Shoulder",
                f"{side}LowerArm": f"{side}UpperArm", f"{side}Hand": f"{side}LowerArm"}
        for finger, _ in _FINGERS:
            first = "Metacarpal" if finger == "Thumb" else "Proximal"
            chain = (first, "Proximal", "Distal") if finger == "Thumb" else ("Proximal", "Intermediate", "Distal")
            prev = f"{side}Hand"
            for part in chain:
                out[f"{side}{finger}{part}"] = prev
                prev = f"{side}{finger}{part}"
    return out


#: VRM 1.0's humanoid hierarchy: bone -> parent bone (None for hips). A mapped bone's
#: nearest mapped ancestor must be its parent here, or that parent's nearest mapped ancestor.
VRM_BONE_PARENTS = _vrm_parents()


def _anny_to_vrm() -> dict[str, str]:
    out = {"root": "hips", "spine04": "spine", "spine02": "chest", "spine01": "upperChest", "neck01": "neck",
           "head": "head", "eye.L": "leftEye", "eye.R": "rightEye"}
    for s, side in (("L", "left"), ("R", "right")):
        out |= {f"upperleg01.{s}": f"{side}UpperLeg", f"lowerleg01.{s}": f"{side}LowerLeg", f"foot.{s}": f"{side}Foot",
                f"clavicle.{s}": f"{side}Shoulder", f"upperarm01.{s}": f"{side}UpperArm",
                f"lowerarm01.{s}": f"{side}LowerArm", f"wrist.{s}": f"{side}Hand"}
        for finger, n in _FINGERS:
            parts = ("Metacarpal", "Proximal", "Distal") if finger == "Thumb" else ("Proximal", "Intermediate", "Distal")
            for k, part in enumerate(parts, start=1):
                out[f"finger{n}-{k}.{s}"] = f"{side}{finger}{part}"
    return out


#: Anny joint name -> VRM 1.0 humanoid bone (52 of VRM's 55: all but jaw and the two toes).
ANNY_TO_VRM = _anny_to_vrm()


def _vrm_to_mixamo() -> dict[str, str]:
    out = {"hips": "Hips", "spine": "Spine", "chest": "Spine1", "upperChest": "Spine2", "neck": "Neck",
           "head": "Head", "leftEye": "LeftEye", "rightEye": "RightEye"}
    mixamo_finger = {"Thumb": "Thumb", "Index": "Index", "Middle": "Middle", "Ring": "Ring", "Little": "Pinky"}
    for side, mside in (("left", "Left"), ("right", "Right")):
        out |= {f"{side}UpperLeg": f"{mside}UpLeg", f"{side}LowerLeg": f"{mside}Leg", f"{side}Foot": f"{mside}Foot",
                f"{side}Toes": f"{mside}ToeBase", f"{side}Shoulder": f"{mside}Shoulder",
                f"{side}UpperArm": f"{mside}Arm", f"{side}LowerArm": f"{mside}ForeArm", f"{side}Hand": f"{mside}Hand"}
        for finger, _ in _FINGERS:
            parts = ("Metacarpal", "Proximal", "Distal") if finger == "Thumb" else ("Proximal", "Intermediate", "Distal")
            for k, part in enumerate(parts, start=1):
                out[f"{side}{finger}{part}"] = f"{mside}Hand{mixamo_finger[finger]}{k}"
    return {k: f"mixamorig:{v}" for k, v in out.items()}


#: VRM humanoid bone -> Mixamo joint name (``mixamorig:`` prefix, as Mixamo's own files).
VRM_TO_MIXAMO = _vrm_to_mixamo()

#: Values of ``--skeleton-names``.
SKELETON_NAMINGS = ("anny", "vrm", "mixamo")


def humanoid_bones(joint_names: Sequence[str]) -> dict[str, int]:
    """VRM bone -> joint index for the joints of ``joint_names`` that have a humanoid role."""
    return {ANNY_TO_VRM[n]: j for j, n in enumerate(joint_names) if n in ANNY_TO_VRM}


def renamed_joints(joint_names: Sequence[str], naming: str) -> list[str]:
    """Joint names under ``naming``: ``anny`` (unchanged), ``vrm`` (humanoid bone names) or
    ``mixamo`` (``mixamorig:*``); joints without a humanoid role keep their own name."""
    if naming not in SKELETON_NAMINGS:
        raise ValueError(f"unknown skeleton naming {naming!r}: choose one of {', '.join(SKELETON_NAMINGS)}")
    if naming == "anny":
        return list(joint_names)
    table = ANNY_TO_VRM if naming == "vrm" else {a: VRM_TO_MIXAMO[v] for a, v in ANNY_TO_VRM.items()}
    out = [table.get(n, n) for n in joint_names]
    if len(set(out)) != len(out):
        raise ValueError(f"renaming joints to {naming} names made duplicates")
    return out
