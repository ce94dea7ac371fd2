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


def test_glb_part_is_its_own_mesh_node_and_material(bar_factory, tmp_path: Path, gltf_validator) -> None:
    mesh = _with_part(bar_factory(textured=True))
    path = tmp_path / "a.glb"
    write_glb(mesh, path)
    report = gltf_validator(path)
    assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, format_issues(report)
    g = GLTF2.load_binary(str(path))
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
