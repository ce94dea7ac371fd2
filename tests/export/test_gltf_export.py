"""GLB export: validator, round trips through pygltflib and trimesh, skin, morphs, texture."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image
from pygltflib import GLTF2

from avatarforge.export import RiggedMesh, read_glb, write_glb
from avatarforge.export.gltf_read import node_world_matrices
from avatarforge.export.validate import format_issues

CASES = {
    "plain": dict(),
    "textured": dict(textured=True),
    "k9_twisted_multiroot": dict(n_joints=10, k=9, twisted=True, extra_roots=2, textured=True),
    "no_uvs_no_morphs": dict(with_uvs=False, n_morphs=0),
}


@pytest.fixture(params=list(CASES), ids=list(CASES))
def mesh(request: pytest.FixtureRequest, bar_factory) -> RiggedMesh:
    return bar_factory(**CASES[request.param])


@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "dense"])
def test_validator_reports_no_errors(mesh: RiggedMesh, sparse: bool, tmp_path: Path, gltf_validator) -> None:
    path = tmp_path / "bar.glb"
    write_glb(mesh, path, sparse_morphs=sparse)
    report = gltf_validator(path)
    issues = report["issues"]
    assert issues["numErrors"] == 0, format_issues(report)
    assert issues["numWarnings"] == 0, format_issues(report)
    # The only tolerated note: UVs kept for a mesh without a texture.
    allowed = {("UNUSED_OBJECT", "/meshes/0/primitives/0/attributes/TEXCOORD_0")}
    notes = {(m["code"], m["pointer"]) for m in issues["messages"]}
    assert notes <= (allowed if mesh.texture is None else set()), format_issues(report)


def test_positions_faces_uvs_round_trip_pygltflib(mesh: RiggedMesh, tmp_path: Path) -> None:
    info = write_glb(mesh, tmp_path / "bar.glb")
    glb = read_glb(tmp_path / "bar.glb")
    src = info.split_to_source
    np.testing.assert_array_equal(glb.positions, mesh.vertices.astype(np.float32)[src])
    np.testing.assert_array_equal(src[glb.faces], mesh.faces)  # same triangles, same winding
    gltf = GLTF2.load_binary(str(tmp_path / "bar.glb"))
    accessor = gltf.accessors[gltf.meshes[0].primitives[0].attributes.POSITION]
    assert (accessor.min, accessor.max) == (glb.positions.min(0).tolist(), glb.positions.max(0).tolist())
    if mesh.uvs is None:
        assert glb.uvs is None
    else:
        corner_uv = glb.uvs[glb.faces]  # (F, 3, 2), glTF convention
        want = mesh.uvs[mesh.uv_faces]
        np.testing.assert_allclose(corner_uv[..., 0], want[..., 0], atol=1e-7)
        np.testing.assert_allclose(1.0 - corner_uv[..., 1], want[..., 1], atol=1e-6)


def test_positions_round_trip_trimesh(mesh: RiggedMesh, tmp_path: Path) -> None:
    info = write_glb(mesh, tmp_path / "bar.glb")
    scene = trimesh.load(tmp_path / "bar.glb", process=False)
    (geom,) = scene.geometry.values()
    np.testing.assert_array_equal(np.asarray(geom.vertices, np.float32), mesh.vertices[info.split_to_source])
    np.testing.assert_array_equal(info.split_to_source[geom.faces], mesh.faces)
    if mesh.uvs is not None:  # trimesh flips v back to the OBJ convention on import
        np.testing.assert_allclose(geom.visual.uv[geom.faces], mesh.uvs[mesh.uv_faces], atol=1e-6)


def test_split_count_is_number_of_unique_corner_pairs(bar_factory, tmp_path: Path) -> None:
    mesh = bar_factory()
    info = write_glb(mesh, tmp_path / "bar.glb")
    pairs = {(v, t) for f, tf in zip(mesh.faces.tolist(), mesh.uv_faces.tolist()) for v, t in zip(f, tf)}
    assert info.n_vertices == len(pairs) > len(mesh.vertices)
    assert info.split_to_source.shape == (info.n_vertices,)


def test_normals_unit_outward_and_shared_across_seams(bar_factory, tmp_path: Path) -> None:
    mesh = bar_factory()
    info = write_glb(mesh, tmp_path / "bar.glb")
    glb = read_glb(tmp_path / "bar.glb")
    n, src = glb.normals, info.split_to_source
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-6)
    radial = glb.positions * np.float32([1.0, 0.0, 1.0])
    side = np.linalg.norm(radial, axis=1) > 0.05
    assert np.all(np.einsum("vc,vc->v", n[side], radial[side]) > 0), "side normals point outwards"
    for v in np.unique(src):  # every copy of a seam vertex has the same smooth normal
        copies = n[src == v]
        np.testing.assert_array_equal(copies, np.broadcast_to(copies[0], copies.shape))


def test_joints_and_inverse_bind_matrices(mesh: RiggedMesh, tmp_path: Path) -> None:
    write_glb(mesh, tmp_path / "bar.glb")
    glb = read_glb(tmp_path / "bar.glb")
    n_joints = len(mesh.joint_names)
    assert len(glb.joint_nodes) == n_joints
    eye = np.tile(np.eye(4), (n_joints, 1, 1))
    np.testing.assert_allclose(glb.inverse_bind_matrices @ mesh.joint_world, eye, atol=1e-6)
    world = node_world_matrices(glb.node_local, glb.node_parent)
    np.testing.assert_allclose(world[glb.joint_nodes], mesh.joint_world, atol=1e-6)
    assert glb.node_parent[glb.mesh_node] == -1, "the skinned mesh node is a scene root"
    np.testing.assert_array_equal(glb.node_local[glb.mesh_node], np.eye(4))


def test_scene_and_skeleton_root(mesh: RiggedMesh, tmp_path: Path) -> None:
    write_glb(mesh, tmp_path / "bar.glb")
    gltf = GLTF2.load_binary(str(tmp_path / "bar.glb"))
    skin = gltf.skins[0]
    glb = read_glb(tmp_path / "bar.glb")
    for node in skin.joints:  # every joint descends from the declared skeleton root
        while node != skin.skeleton:
            node = int(glb.node_parent[node])
            assert node >= 0, "joint not under skin.skeleton"
    assert set(gltf.scenes[0].nodes) == {glb.mesh_node, skin.skeleton}
    assert gltf.asset.generator == "avatarforge"


def test_weights_capped_normalised_largest(bar_factory, tmp_path: Path) -> None:
    mesh = bar_factory(n_joints=10, k=9, twisted=True)
    info = write_glb(mesh, tmp_path / "bar.glb")
    glb = read_glb(tmp_path / "bar.glb")
    w, j = glb.weights, glb.joints
    assert w.shape == (info.n_vertices, 4)
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-6)
    for s, v in enumerate(info.split_to_source):
        raw = dict.fromkeys(mesh.skin_indices[v].tolist(), 0.0)
        for jj, ww in zip(mesh.skin_indices[v].tolist(), mesh.skin_weights[v].tolist()):
            raw[jj] += max(ww, 0.0)
        kept = {int(a): float(b) for a, b in zip(j[s], w[s]) if b > 0}
        dropped = [x for jj, x in raw.items() if jj not in kept]
        if sum(raw.values()) > 0:
            assert min(raw[jj] for jj in kept) >= max(dropped, default=0.0), f"vertex {v}"
            total = sum(raw[jj] for jj in kept)
            for jj, x in kept.items():
                assert x == pytest.approx(raw[jj] / total, rel=1e-5)


def test_morph_targets_round_trip(bar_factory, tmp_path: Path) -> None:
    mesh = bar_factory()
    for sparse in (True, False):
        info = write_glb(mesh, tmp_path / f"bar_{sparse}.glb", sparse_morphs=sparse)
        glb = read_glb(tmp_path / f"bar_{sparse}.glb")
        assert glb.morph_names == ["jawOpen", "browInnerUp"] and info.n_morph_targets == 2
        np.testing.assert_array_equal(glb.morph_weights, mesh.morph_weights)
        np.testing.assert_array_equal(glb.morph_deltas, mesh.morph_deltas[:, info.split_to_source])
        assert info.n_sparse_morph_targets == (1 if sparse else 0)  # jawOpen moves the top only
    raw = json.loads(GLTF2.load_binary(str(tmp_path / "bar_True.glb")).to_json())
    assert raw["meshes"][0]["extras"]["targetNames"] == ["jawOpen", "browInnerUp"]


def _sample(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Nearest texel with glTF's convention: (0, 0) is the top-left of the image."""
    h, w = image.shape[:2]
    col = np.minimum((uv[:, 0] * w).astype(int), w - 1)
    row = np.minimum((uv[:, 1] * h).astype(int), h - 1)
    return image[row, col]


def test_texture_embedded_and_uv_flipped(bar_factory, tmp_path: Path) -> None:
    mesh = bar_factory(textured=True)
    write_glb(mesh, tmp_path / "bar.glb")
    glb = read_glb(tmp_path / "bar.glb")
    image = np.asarray(Image.open(io.BytesIO(glb.image_png)))
    np.testing.assert_array_equal(image, mesh.texture)
    colors = _sample(image, glb.uvs)
    y, u = glb.positions[:, 1], glb.uvs[:, 0]
    side, cap = u < 0.5, u > 0.5  # side strip on the left half, caps on the right (u = 0.5: edge)
    red, blue, green, yellow = (255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 255, 0)
    # The atlas puts the top of the bar at the top of the image (OBJ v up).
    assert np.all(colors[side & (y > 1.0)] == red) and np.all(colors[side & (y < 1.0)] == blue)
    assert np.all(colors[cap & (y > 1.0)] == green) and np.all(colors[cap & (y < 1.0)] == yellow)


def test_material(bar_factory, tmp_path: Path) -> None:
    write_glb(bar_factory(), tmp_path / "plain.glb")
    write_glb(bar_factory(textured=True), tmp_path / "tex.glb")
    plain, tex = (GLTF2.load_binary(str(tmp_path / n)) for n in ("plain.glb", "tex.glb"))
    for gltf in (plain, tex):
        pbr = gltf.materials[0].pbrMetallicRoughness
        assert (pbr.metallicFactor, pbr.roughnessFactor) == (0.0, 0.6)
        assert gltf.materials[0].doubleSided is False
    assert plain.materials[0].pbrMetallicRoughness.baseColorFactor == list(bar_factory().base_color)
    assert not plain.images and tex.images[0].mimeType == "image/png"
    assert tex.images[0].bufferView is not None and tex.images[0].uri is None
    assert all(v.byteOffset % 4 == 0 for g in (plain, tex) for v in g.bufferViews)


def test_info_counts_and_no_leftover_files(mesh: RiggedMesh, tmp_path: Path) -> None:
    info = write_glb(mesh, tmp_path / "out" / "bar.glb")
    assert info.path == tmp_path / "out" / "bar.glb"
    assert info.n_bytes == info.path.stat().st_size
    assert (info.n_joints, info.n_morph_targets, info.n_faces) == (
        len(mesh.joint_names), len(mesh.morph_names), len(mesh.faces))
    assert info.has_texture == (mesh.texture is not None)
    assert [p.name for p in info.path.parent.iterdir()] == ["bar.glb"]


def test_texture_without_uvs_is_rejected(bar_factory, tmp_path: Path) -> None:
    mesh = bar_factory(with_uvs=False)
    mesh.texture = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="uvs"):
        write_glb(mesh, tmp_path / "bar.glb")
    assert not any(tmp_path.iterdir())
