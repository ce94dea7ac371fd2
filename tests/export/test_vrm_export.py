"""VRM 1.0 and the engine-ready GLB on the real body: validator, humanoid map, baked rest,
expressions, visemes, material groups, unlit, samplers, joint names."""

from __future__ import annotations


import numpy as np
import pytest

from avatarforge.export import read_glb, write_glb
from avatarforge.export.face_shapes import OCULUS_VISEMES, VISEME_RECIPES, VRM_VISEME_EXPRESSIONS
from avatarforge.export.gltf import GlbOptions
from avatarforge.export.gltf_read import node_world_matrices, read_glb_json
from avatarforge.export.humanoid import (
    ANNY_TO_VRM,
    VRM_BONE_PARENTS,
    VRM_REQUIRED_BONES,
    VRM_TO_MIXAMO,
    renamed_joints,
)
from avatarforge.export.materials import CLAMP_TO_EDGE, GROUP_NAMES
from avatarforge.export.validate import format_issues
from avatarforge.export.vrm import VRM_PRESETS, write_vrm


_json = read_glb_json


@pytest.fixture(scope="module")
def t_mesh(body):
    from avatarforge.avatar import build_avatar

    tex = np.full((64, 64, 3), 180, np.uint8)
    return build_avatar({"mouthSmileLeft": 0.3}, pose="t", body=body, texture=tex).rigged_mesh()


@pytest.fixture(scope="module")
def files(t_mesh, tmp_path_factory):
    folder = tmp_path_factory.mktemp("vrm")
    glb = write_glb(t_mesh, folder / "avatar.glb")
    vrm = write_vrm(t_mesh, folder / "avatar.vrm")
    return folder, glb, vrm


@pytest.mark.parametrize("name", ["avatar.glb", "avatar.vrm"])
def test_validator_no_errors_no_warnings(files, name, gltf_validator) -> None:
    report = gltf_validator(files[0] / name)
    assert report["issues"]["numErrors"] == 0, format_issues(report)
    assert report["issues"]["numWarnings"] == 0, format_issues(report)
    infos = {m["code"] for m in report["issues"]["messages"]}
    assert infos <= {"UNSUPPORTED_EXTENSION"}, format_issues(report)  # VRMC_vrm is not the validator's


def test_humanoid_map_is_complete_and_ordered(files) -> None:
    doc = _json(files[0] / "avatar.vrm")
    assert "VRMC_vrm" in doc["extensionsUsed"]
    vrm = doc["extensions"]["VRMC_vrm"]
    assert vrm["specVersion"] == "1.0"
    bones = {b: v["node"] for b, v in vrm["humanoid"]["humanBones"].items()}
    assert set(VRM_REQUIRED_BONES) <= set(bones) and len(bones) == 52  # all 55 but jaw and the two toes
    nodes = doc["nodes"]
    for bone, node in bones.items():
        assert ANNY_TO_VRM[nodes[node]["name"]] == bone
    parent = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
    by_node = {n: b for b, n in bones.items()}
    for bone, node in bones.items():  # nearest humanoid ancestor = VRM's parent bone (all of them mapped here)
        p = parent.get(node)
        while p is not None and p not in by_node:
            p = parent.get(p)
        assert (by_node.get(p) if p is not None else None) == VRM_BONE_PARENTS[bone], bone


def test_rest_is_baked_and_the_bind_pose_is_unchanged(files, t_mesh) -> None:
    folder = files[0]
    glb, vrm = read_glb(folder / "avatar.glb"), read_glb(folder / "avatar.vrm")
    doc = _json(folder / "avatar.vrm")
    assert all("rotation" not in n and "scale" not in n and "matrix" not in n for n in doc["nodes"])
    np.testing.assert_array_equal(vrm.positions, glb.positions)
    np.testing.assert_array_equal(vrm.joints, glb.joints)
    np.testing.assert_array_equal(vrm.weights, glb.weights)
    w_glb = node_world_matrices(glb.node_local, glb.node_parent)[glb.joint_nodes]
    w_vrm = node_world_matrices(vrm.node_local, vrm.node_parent)[vrm.joint_nodes]
    np.testing.assert_allclose(w_vrm[:, :3, :3], np.broadcast_to(np.eye(3), w_vrm[:, :3, :3].shape))
    np.testing.assert_allclose(w_vrm[:, :3, 3], w_glb[:, :3, 3], atol=1e-6)  # same joint origins
    np.testing.assert_allclose(w_vrm[:, :3, 3], t_mesh.joint_world[:, :3, 3], atol=1e-6)
    for world, ibm in ((w_glb, glb.inverse_bind_matrices), (w_vrm, vrm.inverse_bind_matrices)):
        np.testing.assert_allclose(world @ ibm, np.broadcast_to(np.eye(4), world.shape), atol=2e-6)


def _lbs(contents, joint_world: np.ndarray) -> np.ndarray:
    """Skin the file's positions with the given joint world matrices (glTF's formula)."""
    skin = joint_world @ contents.inverse_bind_matrices  # (J, 4, 4)
    m = np.einsum("vk,vkab->vab", contents.weights, skin[contents.joints])  # per-vertex blended matrix
    return np.einsum("vab,vb->va", m[:, :3, :3], contents.positions) + m[:, :3, 3]


def test_a_world_rotation_of_the_elbow_moves_both_files_alike(files) -> None:
    """The baked skeleton animates like the original: turn the left forearm 40 degrees about
    world +Z in both (each in its own local frame) and compare the skinned meshes."""
    from scipy.spatial.transform import Rotation

    folder = files[0]
    out = []
    for name in ("avatar.glb", "avatar.vrm"):
        c = read_glb(folder / name)
        local = c.node_local.copy()
        node = next(n for n in c.joint_nodes if _json(folder / name)["nodes"][n]["name"] == "lowerarm01.L")
        world = node_world_matrices(local, c.node_parent)
        turn = np.eye(4)
        turn[:3, :3] = Rotation.from_euler("z", 40, degrees=True).as_matrix()
        # new local so that the node's world rotation is turn @ old world rotation, origin kept
        r_world = world[node][:3, :3]
        local[node][:3, :3] = local[node][:3, :3] @ r_world.T @ turn[:3, :3] @ r_world
        out.append(_lbs(c, node_world_matrices(local, c.node_parent)[c.joint_nodes]))
    moved = np.linalg.norm(out[0] - read_glb(folder / "avatar.glb").positions, axis=1)
    assert moved.max() > 0.1  # the hand swings by tens of centimetres
    np.testing.assert_allclose(out[1], out[0], atol=1e-5)


def test_expressions_bind_the_right_targets(files) -> None:
    folder, glb, _ = files
    doc = _json(folder / "avatar.vrm")
    preset = doc["extensions"]["VRMC_vrm"]["expressions"]["preset"]
    assert set(preset) == set(VRM_PRESETS)
    names = list(glb.morph_names)
    for vowel, viseme in VRM_VISEME_EXPRESSIONS.items():
        assert preset[vowel]["morphTargetBinds"] == [{"node": 0, "index": names.index(f"viseme_{viseme}"), "weight": 1.0}]
    assert {names[b["index"]] for b in preset["blink"]["morphTargetBinds"]} == {"eyeBlinkLeft", "eyeBlinkRight"}
    assert [names[b["index"]] for b in preset["blinkLeft"]["morphTargetBinds"]] == ["eyeBlinkLeft"]
    assert {names[b["index"]] for b in preset["lookLeft"]["morphTargetBinds"]} == {"eyeLookOutLeft", "eyeLookInRight"}
    assert preset["neutral"]["morphTargetBinds"] == []
    for e in preset.values():
        assert all(b["node"] == 0 and 0 <= b["index"] < len(names) and 0 < b["weight"] <= 1 for b in e["morphTargetBinds"])
    vrm = doc["extensions"]["VRMC_vrm"]
    assert vrm["lookAt"]["type"] == "bone" and vrm["firstPerson"]["meshAnnotations"] == [{"node": 0, "type": "auto"}]
    # lookAt origin: between the eyes, in front of and above the head joint
    off = np.array(vrm["lookAt"]["offsetFromHeadBone"])
    assert abs(off[0]) < 1e-6 and 0.02 < off[1] < 0.08 and 0.04 < off[2] < 0.12
    meta = vrm["meta"]
    assert meta["licenseUrl"] == "https://vrm.dev/licenses/1.0/" and "Anny" in meta["thirdPartyLicenses"]
    assert meta["avatarPermission"] == "onlyAuthor" and meta["allowRedistribution"] is False


def test_visemes_are_exact_sums_of_arkit_targets(files) -> None:
    glb = read_glb(files[0] / "avatar.glb")
    names = glb.morph_names
    assert names[52:] == [f"viseme_{v}" for v in OCULUS_VISEMES]
    d = {n: glb.morph_deltas[i].astype(np.float64) for i, n in enumerate(names)}
    assert not np.any(d["viseme_sil"])
    aa = 0.7 * d["jawOpen"] + 0.3 * (d["mouthLowerDownLeft"] + d["mouthLowerDownRight"])
    np.testing.assert_allclose(d["viseme_aa"], aa, atol=2e-7)
    for v, recipe in VISEME_RECIPES.items():
        want = sum((w * d[s] for s, w in recipe.items()), np.zeros_like(d["jawOpen"]))
        np.testing.assert_allclose(d[f"viseme_{v}"], want, atol=5e-7, err_msg=v)
        assert v == "sil" or np.abs(want).max() > 1e-3  # every viseme moves the face


def test_material_groups_split_the_faces(files, t_mesh) -> None:
    from avatarforge.avatar import material_groups

    folder, info, _ = files
    glb = read_glb(folder / "avatar.glb")
    assert glb.material_names == ["avatar_skin", "avatar_eyes", "avatar_mouth"] and info.materials == ("skin", "eyes", "mouth")
    groups = material_groups(t_mesh.uvs, t_mesh.uv_faces)
    np.testing.assert_array_equal(info.split_to_source[glb.faces], t_mesh.faces[info.face_order])
    np.testing.assert_array_equal(glb.face_material, groups[info.face_order])
    counts = np.bincount(groups, minlength=3)
    assert counts[0] > 20000 and 100 < counts[1] < 2000 and 100 < counts[2] < 3000
    doc = _json(folder / "avatar.glb")
    assert doc["samplers"] == [{"magFilter": 9729, "minFilter": 9987, "wrapS": CLAMP_TO_EDGE, "wrapT": CLAMP_TO_EDGE}]
    rough = {m["name"]: m["pbrMetallicRoughness"]["roughnessFactor"] for m in doc["materials"]}
    assert rough["avatar_eyes"] < rough["avatar_mouth"] < rough["avatar_skin"]
    assert all(m["pbrMetallicRoughness"]["baseColorTexture"] == {"index": 0} for m in doc["materials"])
    assert "extensionsUsed" not in doc  # albedo texture: lit by the engine


def test_single_material_and_unlit(t_mesh, tmp_path, gltf_validator) -> None:
    from dataclasses import replace

    info = write_glb(replace(t_mesh, texture_lit=True), tmp_path / "a.glb", GlbOptions(single_material=True))
    doc = _json(tmp_path / "a.glb")
    assert len(doc["meshes"][0]["primitives"]) == 1 and info.materials == ("skin",)
    assert doc["extensionsUsed"] == ["KHR_materials_unlit"]
    assert doc["materials"][0]["extensions"] == {"KHR_materials_unlit": {}}
    np.testing.assert_array_equal(info.face_order, np.arange(len(t_mesh.faces)))
    report = gltf_validator(tmp_path / "a.glb")
    assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, format_issues(report)


@pytest.mark.parametrize("naming", ["vrm", "mixamo"])
def test_skeleton_names(t_mesh, tmp_path, naming) -> None:
    write_glb(t_mesh, tmp_path / "a.glb", GlbOptions(skeleton_names=naming))
    doc = _json(tmp_path / "a.glb")
    names = [doc["nodes"][j]["name"] for j in doc["skins"][0]["joints"]]
    assert names == renamed_joints(t_mesh.joint_names, naming)
    hips = "hips" if naming == "vrm" else "mixamorig:Hips"
    assert names[t_mesh.joint_names.index("root")] == hips
    assert names[t_mesh.joint_names.index("upperarm01.L")] == ("leftUpperArm" if naming == "vrm" else "mixamorig:LeftArm")
    assert names[t_mesh.joint_names.index("finger5-3.R")] == ("rightLittleDistal" if naming == "vrm"
                                                              else "mixamorig:RightHandPinky3")
    assert "upperarm02.L" in names  # a helper joint keeps its own name
    assert len(set(names)) == len(names)
    assert len(set(VRM_TO_MIXAMO.values())) == len(VRM_TO_MIXAMO)


def test_vrm_refuses_a_non_t_pose_and_a_non_humanoid(body, bar_factory, tmp_path) -> None:
    from avatarforge.avatar import build_avatar

    a_mesh = build_avatar({}, pose="a", body=body).rigged_mesh()
    with pytest.raises(ValueError, match="T-pose"):
        write_vrm(a_mesh, tmp_path / "a.vrm")
    with pytest.raises(ValueError, match="lacks the VRM humanoid bones"):
        write_vrm(bar_factory(), tmp_path / "b.vrm")
    assert not list(tmp_path.iterdir())


def test_group_names_cover_the_reserved_groups() -> None:
    assert GROUP_NAMES[:3] == ("skin", "eyes", "mouth") and {"hair", "garment"} <= set(GROUP_NAMES)


def test_morph_normal_deltas_follow_the_moved_surface(files, t_mesh) -> None:
    """base normal + NORMAL delta of jawOpen matches the moved mesh's normals (trimesh's face
    normals, area-weighted over each vertex's faces) far better than the base normal does."""
    import trimesh
    from pygltflib import GLTF2

    from avatarforge.export.gltf_read import read_accessor

    folder, info, _ = files
    gltf = GLTF2.load_binary(str(folder / "avatar.glb"))
    blob = gltf.binary_blob()
    glb = read_glb(folder / "avatar.glb")
    k = glb.morph_names.index("jawOpen")
    target = gltf.meshes[0].primitives[0].targets[k]
    nd = read_accessor(gltf, blob, target["NORMAL"] if isinstance(target, dict) else target.NORMAL)
    src = info.split_to_source
    moved = t_mesh.vertices.astype(np.float64) + t_mesh.morph_deltas[t_mesh.morph_names.index("jawOpen")]
    tm = trimesh.Trimesh(moved, t_mesh.faces, process=False)
    face_n = tm.face_normals
    ref = np.zeros_like(moved)
    np.add.at(ref, t_mesh.faces.ravel(), np.repeat(face_n * tm.area_faces[:, None], 3, axis=0))
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    ref = ref[src]
    new = glb.normals + nd
    new /= np.linalg.norm(new, axis=1, keepdims=True)
    changed = np.einsum("vc,vc->v", glb.normals, ref) < np.cos(np.radians(5))  # the jaw turns them > 5 degrees
    assert changed.sum() > 200
    err_with = np.degrees(np.arccos(np.clip(np.einsum("vc,vc->v", new[changed], ref[changed]), -1, 1)))
    err_without = np.degrees(np.arccos(np.clip(np.einsum("vc,vc->v", glb.normals[changed], ref[changed]), -1, 1)))
    assert np.median(err_with) < 0.25 * np.median(err_without), (np.median(err_with), np.median(err_without))
    assert np.count_nonzero(np.any(nd, 1)) < 0.5 * len(nd)  # sparse: only around the jaw


def test_vowels_bind_arkit_shapes_without_viseme_targets(t_mesh, tmp_path) -> None:
    info = write_vrm(t_mesh, tmp_path / "a.vrm", options=GlbOptions(visemes=False))
    assert len(info.morph_names) == 52
    preset = _json(tmp_path / "a.vrm")["extensions"]["VRMC_vrm"]["expressions"]["preset"]
    for vowel, viseme in VRM_VISEME_EXPRESSIONS.items():
        got = {info.morph_names[b["index"]]: b["weight"] for b in preset[vowel]["morphTargetBinds"]}
        assert got == VISEME_RECIPES[viseme], vowel
