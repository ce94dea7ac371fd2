"""VRM spring bones (hair joints) and MToon toon materials on the real body: validator,
the extension JSON against the mesh, the GLB carrying the same joints, no springs without
hanging hair, MToon colours from the base colours."""

from __future__ import annotations


import numpy as np
import pytest

from avatarforge.export import read_glb, write_glb
from avatarforge.export.gltf_read import node_world_matrices, read_glb_json
from avatarforge.export.materials import SHADE_POWER, SHADE_SCALE, shade_colour
from avatarforge.export.validate import format_issues
from avatarforge.export.vrm import write_vrm
from avatarforge.util.colour import srgb_to_linear


_json = read_glb_json


@pytest.fixture(scope="module")
def avatar_t(body):
    from avatarforge.avatar import build_avatar

    yy, xx = np.mgrid[0:64, 0:64]
    tex = np.stack([170 + 40 * np.sin(xx / 5.0), 130 + 20 * np.cos(yy / 7.0), 110 + 0 * xx], -1).astype(np.uint8)
    return build_avatar({}, pose="t", body=body, texture=tex)


def _with_hair(avatar, style: str):
    from avatarforge.bodies.hair import HairStyle, build_hair

    avatar.hair = None if style == "bald" else build_hair(avatar.output, HairStyle.preset(style))
    return avatar.rigged_mesh()


@pytest.fixture(scope="module")
def long_files(avatar_t, tmp_path_factory):
    folder = tmp_path_factory.mktemp("springs")
    mesh = _with_hair(avatar_t, "long")
    write_glb(mesh, folder / "hair.glb")
    write_vrm(mesh, folder / "hair.vrm")
    write_vrm(mesh, folder / "toon.vrm", toon=True)
    return folder, mesh


@pytest.mark.parametrize("name", ["hair.glb", "hair.vrm", "toon.vrm"])
def test_validator_no_errors_no_warnings(long_files, name, gltf_validator) -> None:
    report = gltf_validator(long_files[0] / name)
    assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, format_issues(report)
    assert {m["code"] for m in report["issues"]["messages"]} <= {"UNSUPPORTED_EXTENSION"}, format_issues(report)


def test_spring_bone_json_matches_the_skeleton(long_files) -> None:
    folder, mesh = long_files
    doc = _json(folder / "hair.vrm")
    assert "VRMC_springBone" in doc["extensionsUsed"]
    sb = doc["extensions"]["VRMC_springBone"]
    assert sb["specVersion"] == "1.0"
    nodes = doc["nodes"]
    parent = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
    head = next(i for i, n in enumerate(nodes) if n.get("name") == "head")
    assert len(sb["springs"]) == 5
    used = []
    for spring in sb["springs"]:
        joints = [j["node"] for j in spring["joints"]]
        assert len(joints) == 4 and all(nodes[j]["name"].startswith("hair_") for j in joints)
        assert parent[joints[0]] == head and all(parent[b] == a for a, b in zip(joints, joints[1:]))
        for j in spring["joints"][:-1]:  # settings on every head joint; the tip is only a node
            assert j["hitRadius"] > 0 and j["stiffness"] > 0 and 0 <= j["dragForce"] <= 1
            assert j["gravityDir"] == [0.0, -1.0, 0.0]
        assert set(spring["joints"][-1]) == {"node"}
        assert spring["colliderGroups"] == [0]
        used += joints
    assert len(set(used)) == len(used)  # no joint in two springs (the spec forbids it)
    # The hair joints are in the skin, after the body's joints, and the hair is skinned to them.
    skin = doc["skins"][0]["joints"]
    assert set(used) <= set(skin)
    hair = read_glb(folder / "hair.vrm")
    hair_prim = next(i for i, m in enumerate(doc["meshes"]) if m["name"] == "hair")
    assert hair_prim > 0
    # Colliders: head sphere, neck and shoulder capsules, none holding a moving joint at rest.
    world = node_world_matrices(hair.node_local, hair.node_parent)
    kinds = [(nodes[c["node"]]["name"], next(iter(c["shape"]))) for c in sb["colliders"]]
    assert kinds == [("head", "sphere"), ("neck01", "capsule"), ("spine01", "capsule")]
    assert sb["colliderGroups"] == [{"name": "body", "colliders": [0, 1, 2]}]
    tails = np.array([world[j["node"]][:3, 3] for s in sb["springs"] for j in s["joints"][1:]])
    hit = sb["springs"][0]["joints"][0]["hitRadius"]
    for c in sb["colliders"]:
        shape = next(iter(c["shape"].values()))
        a = world[c["node"]][:3, :3] @ shape["offset"] + world[c["node"]][:3, 3]
        if "tail" in shape:
            b = world[c["node"]][:3, :3] @ shape["tail"] + world[c["node"]][:3, 3]
            t = np.clip((tails - a) @ (b - a) / ((b - a) @ (b - a)), 0, 1)
            d = np.linalg.norm(tails - (a + t[:, None] * (b - a)), axis=1)
        else:
            d = np.linalg.norm(tails - a, axis=1)
        assert d.min() >= shape["radius"] + hit, c
    head_c = sb["colliders"][0]["shape"]["sphere"]
    assert 0.06 < head_c["radius"] < 0.11  # a head-sized sphere


def test_glb_carries_the_same_hair_joints_without_springs(long_files) -> None:
    folder, mesh = long_files
    glb, vrm = _json(folder / "hair.glb"), _json(folder / "hair.vrm")
    assert "VRMC_springBone" not in glb.get("extensionsUsed", []) and "extensions" not in glb
    names = lambda d: [d["nodes"][j]["name"] for j in d["skins"][0]["joints"]]  # noqa: E731
    assert names(glb) == names(vrm) == mesh.joint_names
    assert sum(n.startswith("hair_") for n in names(glb)) == 20
    contents = read_glb(folder / "hair.glb")
    w_glb = node_world_matrices(contents.node_local, contents.node_parent)[contents.joint_nodes]
    np.testing.assert_allclose(w_glb[:, :3, 3], mesh.joint_world[:, :3, 3], atol=1e-6)


def test_hair_is_skinned_to_its_joints(long_files) -> None:
    _, mesh = long_files
    hair = mesh.parts[0]
    first = mesh.joint_names.index("hair_side0.L")
    low = hair.vertices[:, 1] < mesh.joint_world[mesh.joint_names.index("head"), 1, 3] - 0.1
    on_chain = (hair.skin_indices >= first) & (hair.skin_weights > 0)
    share = np.where(on_chain, hair.skin_weights, 0).sum(1)
    assert low.sum() > 100 and np.median(share[low]) > 0.9  # the hanging hair follows the chains
    np.testing.assert_allclose(hair.skin_weights.sum(1), 1.0, atol=1e-9)
    assert not np.any(mesh.skin_indices >= first)  # the body does not use them


@pytest.mark.parametrize("style", ["short", "bald"])
def test_no_springs_without_hanging_hair(avatar_t, style, tmp_path) -> None:
    mesh = _with_hair(avatar_t, style)
    assert mesh.springs == [] and not any(n.startswith("hair_") for n in mesh.joint_names)
    write_vrm(mesh, tmp_path / "a.vrm")
    doc = _json(tmp_path / "a.vrm")
    assert "VRMC_springBone" not in doc["extensionsUsed"] and "VRMC_springBone" not in doc["extensions"]


def test_toon_materials(long_files) -> None:
    folder, mesh = long_files
    doc, plain = _json(folder / "toon.vrm"), _json(folder / "hair.vrm")
    assert "VRMC_materials_mtoon" in doc["extensionsUsed"] and "VRMC_materials_mtoon" not in plain["extensionsUsed"]
    mats = {m["name"]: m for m in doc["materials"]}
    assert set(mats) == {"avatar_skin", "avatar_eyes", "avatar_mouth", "avatar_hair"}
    for name, m in mats.items():
        ext = m["extensions"]["VRMC_materials_mtoon"]
        assert ext["specVersion"] == "1.0"
        assert ext["outlineWidthMode"] == ("worldCoordinates" if name in ("avatar_skin", "avatar_hair") else "none")
        assert all(0 <= c <= 1 for c in ext["shadeColorFactor"] + ext["outlineColorFactor"])
        assert 0 <= ext["shadingToonyFactor"] <= 1 and 0 <= ext["giEqualizationFactor"] <= 1
        # the glTF material underneath is unchanged (the fallback)
        assert m["pbrMetallicRoughness"] == next(p for p in plain["materials"] if p["name"] == name)["pbrMetallicRoughness"]
    # Untextured hair: shade = SCALE * base ** POWER, exactly (linear RGB).
    base = np.array(mats["avatar_hair"]["pbrMetallicRoughness"]["baseColorFactor"][:3])
    np.testing.assert_allclose(mats["avatar_hair"]["extensions"]["VRMC_materials_mtoon"]["shadeColorFactor"],
                               SHADE_SCALE * base**SHADE_POWER, rtol=1e-12)
    # Textured skin: the shade multiplies the texture by shade(mean) / mean of the skin's texels.
    skin = mats["avatar_skin"]["extensions"]["VRMC_materials_mtoon"]
    assert skin["shadeMultiplyTexture"] == {"index": 0}
    tint = np.array(skin["shadeColorFactor"])
    implied_mean = (tint / SHADE_SCALE) ** (1 / (SHADE_POWER - 1))  # tint = SCALE * mean ** (POWER - 1)
    lin = srgb_to_linear(mesh.texture / 255.0).reshape(-1, 3)
    assert np.all(lin.min(0) <= implied_mean + 1e-4) and np.all(implied_mean <= lin.max(0) + 1e-4)
    np.testing.assert_allclose(implied_mean[2], srgb_to_linear(110 / 255.0), rtol=1e-3)  # blue is constant (float32 texels)
    assert tint[2] < tint[0]  # the weaker channel darkens more: a warmer shade on warm skin
    np.testing.assert_allclose(shade_colour((0.5, 0.25, 1.0)), SHADE_SCALE * np.array([0.5, 0.25, 1.0]) ** SHADE_POWER)


def test_toon_needs_the_vrm() -> None:
    from avatarforge.errors import UserInputError
    from avatarforge.export.settings import ExportSettings

    with pytest.raises(UserInputError, match="--toon"):
        ExportSettings(formats=("glb",), toon=True)
    assert ExportSettings(formats=("glb", "vrm"), toon=True).toon
