"""Further skinned meshes (hair) in GLB and OBJ: own mesh, node and material on the same skin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from pygltflib import GLTF2

from avatarforge.export import write_glb, write_obj
from avatarforge.export.mesh import MeshPart
from avatarforge.export.validate import format_issues


def _with_part(mesh):
    n_j = len(mesh.joint_names)
    v = np.array([[0, 2, 0], [0.1, 2, 0], [0, 2.1, 0], [0.1, 2.1, 0.05]], np.float32)
    f = np.array([[0, 1, 2], [1, 3, 2]])
    idx = np.array([[n_j - 1, 0]] * 4)
    w = np.array([[0.75, 0.25]] * 4, np.float32)
    mesh.parts = [MeshPart("hair", v, f, idx, w, (0.2, 0.1, 0.05, 1.0))]
    return mesh


def _write_validated(mesh, path: Path, gltf_validator) -> GLTF2:
    """Write ``mesh`` as GLB, check the Khronos validator finds nothing, load it back."""
    write_glb(mesh, path)
    report = gltf_validator(path)
    assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, format_issues(report)
    return GLTF2.load_binary(str(path))


def test_glb_part_is_its_own_mesh_node_and_material(bar_factory, tmp_path: Path, gltf_validator) -> None:
    mesh = _with_part(bar_factory(textured=True))
    path = tmp_path / "a.glb"
    g = _write_validated(mesh, path, gltf_validator)
    assert [m.name for m in g.meshes] == [mesh.name, "hair"]
    node = next(n for n in g.nodes if n.name == "hair")
    assert node.skin == 0 and g.nodes.index(node) in g.scenes[0].nodes
    prim = g.meshes[1].primitives[0]
    mat = g.materials[prim.material]
    assert prim.material == 1 and mat.name.endswith("hair") and mat.doubleSided
    np.testing.assert_allclose(mat.pbrMetallicRoughness.baseColorFactor, [0.2, 0.1, 0.05, 1.0])
    scene = trimesh.load(path, force="scene")
    hair = [gm for name, gm in scene.geometry.items() if "hair" in name]
    assert len(hair) == 1 and len(hair[0].faces) == 2
    np.testing.assert_allclose(np.sort(hair[0].vertices, 0), np.sort(mesh.parts[0].vertices, 0), atol=1e-6)


def test_obj_part_is_its_own_object_and_material(bar_factory, tmp_path: Path) -> None:
    mesh = _with_part(bar_factory(textured=False))
    write_obj(mesh, tmp_path, stem="a")
    text = (tmp_path / "a.obj").read_text()
    mtl = (tmp_path / "a.mtl").read_text()
    assert f"newmtl {mesh.name}_hair" in mtl and "Kd 0.2 0.1 0.05" in mtl
    assert "o hair" in text and f"usemtl {mesh.name}_hair" in text
    n_body = len(mesh.vertices)
    tail = text.split("o hair\n")[1]
    faces = [list(map(lambda c: int(c.split("/")[0]), line.split()[1:])) for line in tail.splitlines() if line.startswith("f ")]
    assert faces == [[n_body + 1, n_body + 2, n_body + 3], [n_body + 2, n_body + 4, n_body + 3]]
    loaded = trimesh.load(tmp_path / "a.obj", force="mesh", process=False)
    assert len(loaded.vertices) >= n_body + 4 and len(loaded.faces) == len(mesh.faces) + 2


def _with_textured_part(mesh):
    mesh = _with_part(mesh)
    tex = np.zeros((8, 16, 4), np.uint8)
    tex[..., :3] = (120, 80, 40)
    tex[..., 3] = 255
    tex[6:, ::2, 3] = 0  # cut-out tips
    uvs = np.array([[0.1, 0.9], [0.4, 0.9], [0.1, 0.1], [0.4, 0.1]], np.float32)
    p = mesh.parts[0]
    mesh.parts = [MeshPart(p.name, p.vertices, p.faces, p.skin_indices, p.skin_weights, p.base_color, uvs=uvs,
                           texture=tex)]
    return mesh


def test_glb_textured_part_is_alpha_masked_and_valid(bar_factory, tmp_path: Path, gltf_validator) -> None:
    import io

    from PIL import Image

    from avatarforge.export.materials import ALPHA_CUTOFF

    mesh = _with_textured_part(bar_factory(textured=True))
    g = _write_validated(mesh, tmp_path / "a.glb", gltf_validator)
    prim = g.meshes[1].primitives[0]
    mat = g.materials[prim.material]
    assert mat.alphaMode == "MASK" and mat.alphaCutoff == ALPHA_CUTOFF and mat.doubleSided
    assert g.materials[0].alphaMode in (None, "OPAQUE")  # the body stays opaque
    tex = g.textures[mat.pbrMetallicRoughness.baseColorTexture.index]
    assert tex.source == 1 and len(g.images) == 2  # the body's image, then the hair's
    view = g.bufferViews[g.images[tex.source].bufferView]
    img = np.asarray(Image.open(io.BytesIO(g.binary_blob()[view.byteOffset: view.byteOffset + view.byteLength])))
    np.testing.assert_array_equal(img, mesh.parts[0].texture)
    acc = g.accessors[prim.attributes.TEXCOORD_0]
    view = g.bufferViews[acc.bufferView]
    uv = np.frombuffer(g.binary_blob(), np.float32, acc.count * 2, view.byteOffset + (acc.byteOffset or 0)).reshape(-1, 2)
    np.testing.assert_allclose(uv, np.stack([mesh.parts[0].uvs[:, 0], 1 - mesh.parts[0].uvs[:, 1]], 1))  # v flipped


def test_glb_opaque_texture_part_is_not_masked(bar_factory, tmp_path: Path) -> None:
    mesh = _with_textured_part(bar_factory(textured=False))
    p = mesh.parts[0]
    mesh.parts = [MeshPart(p.name, p.vertices, p.faces, p.skin_indices, p.skin_weights, p.base_color, uvs=p.uvs,
                           texture=p.texture[..., :3].copy())]
    write_glb(mesh, tmp_path / "a.glb")
    g = GLTF2.load_binary(str(tmp_path / "a.glb"))
    assert g.materials[-1].alphaMode in (None, "OPAQUE") and len(g.images) == 1 and len(g.samplers) == 1


def test_obj_textured_part_writes_its_texture_and_uvs(bar_factory, tmp_path: Path) -> None:
    mesh = _with_textured_part(bar_factory(textured=True))
    paths = write_obj(mesh, tmp_path, stem="a")
    assert tmp_path / "a_hair.png" in paths
    mtl = (tmp_path / "a.mtl").read_text()
    block = mtl.split(f"newmtl {mesh.name}_hair")[1]
    assert "map_Kd a_hair.png" in block and "map_d" in block
    tail = (tmp_path / "a.obj").read_text().split("o hair\n")[1]
    vts = [line for line in tail.splitlines() if line.startswith("vt ")]
    assert len(vts) == 4
    n_body, n_uv = len(mesh.vertices), len(mesh.uvs)
    faces = [[tuple(map(int, c.split("/"))) for c in line.split()[1:]] for line in tail.splitlines() if line.startswith("f ")]
    assert faces[0] == [(n_body + 1, n_uv + 1, n_body + 1), (n_body + 2, n_uv + 2, n_body + 2), (n_body + 3, n_uv + 3, n_body + 3)]


def test_part_texture_needs_uvs() -> None:
    import pytest

    v = np.zeros((3, 3), np.float32)
    f = np.array([[0, 1, 2]])
    idx, w = np.zeros((3, 1), int), np.ones((3, 1), np.float32)
    with pytest.raises(ValueError, match="go together"):
        MeshPart("hair", v, f, idx, w, (1.0, 1.0, 1.0, 1.0), texture=np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="uvs must be"):
        MeshPart("hair", v, f, idx, w, (1.0, 1.0, 1.0, 1.0), uvs=np.zeros((2, 2)), texture=np.zeros((4, 4, 4), np.uint8))
