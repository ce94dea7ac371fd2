"""OBJ + MTL + PNG export, read back with trimesh."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from avatarforge.export import write_obj
from avatarforge.util.atomic import atomic_path, atomic_write_text


@pytest.mark.parametrize("kwargs", [dict(), dict(textured=True), dict(with_uvs=False, n_morphs=0)],
                         ids=["plain", "textured", "no_uvs"])
def test_obj_round_trip_trimesh(bar_factory, kwargs: dict, tmp_path: Path) -> None:
    mesh = bar_factory(**kwargs)
    paths = write_obj(mesh, tmp_path, apply_default_morphs=False)
    names = ["avatar.obj", "avatar.mtl"] + (["avatar_texture.png"] if mesh.texture is not None else [])
    assert [p.name for p in paths] == names
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names), "no temporary files left"

    loaded = trimesh.load(paths[0], process=False)
    assert len(loaded.faces) == len(mesh.faces)
    # trimesh re-indexes vertices (it splits at seams too), so compare triangle corners.
    corners = np.asarray(loaded.vertices, np.float32)[loaded.faces]  # 9 digits: float32-exact
    np.testing.assert_array_equal(corners, mesh.vertices[mesh.faces])
    if mesh.uvs is not None:  # OBJ keeps v up: no flip
        np.testing.assert_allclose(loaded.visual.uv[loaded.faces], mesh.uvs[mesh.uv_faces], atol=1e-7)
    if mesh.texture is not None:
        np.testing.assert_array_equal(np.asarray(loaded.visual.material.image), mesh.texture)
        np.testing.assert_array_equal(np.asarray(Image.open(paths[2])), mesh.texture)


def test_obj_lines_and_material(bar_factory, tmp_path: Path) -> None:
    mesh = bar_factory()
    obj, mtl = write_obj(mesh, tmp_path, stem="body")
    lines = obj.read_text().splitlines()
    assert "mtllib body.mtl" in lines and "usemtl bar_skin" in lines
    count = {k: sum(1 for ln in lines if ln.split(" ", 1)[0] == k) for k in ("v", "vt", "vn", "f")}
    assert count == {"v": len(mesh.vertices), "vt": len(mesh.uvs), "vn": len(mesh.vertices), "f": len(mesh.faces)}
    first_face = next(ln for ln in lines if ln.startswith("f "))
    a, b, c = (np.array(corner.split("/"), int) - 1 for corner in first_face.split()[1:])
    np.testing.assert_array_equal([a[0], b[0], c[0]], mesh.faces[0])
    np.testing.assert_array_equal([a[1], b[1], c[1]], mesh.uv_faces[0])
    np.testing.assert_array_equal([a[2], b[2], c[2]], mesh.faces[0])  # normals share vertex indices
    mtl_lines = mtl.read_text().splitlines()
    kd = next(ln for ln in mtl_lines if ln.startswith("Kd ")).split()[1:]
    np.testing.assert_allclose([float(x) for x in kd], mesh.base_color[:3], atol=1e-6)
    assert not any(ln.startswith("map_Kd") for ln in mtl_lines)


def test_textured_mtl_references_png(bar_factory, tmp_path: Path) -> None:
    _, mtl, png = write_obj(bar_factory(textured=True), tmp_path)
    assert f"map_Kd {png.name}" in mtl.read_text().splitlines()


def test_default_morph_weights_are_baked(bar_factory, tmp_path: Path) -> None:
    mesh = bar_factory()  # jawOpen default weight 0.25 moves the top ring by (0, 0.05, 0.02)
    obj = write_obj(mesh, tmp_path)[0]
    loaded = trimesh.load(obj, process=False)
    expected = mesh.vertices + 0.25 * mesh.morph_deltas[0]
    np.testing.assert_allclose(loaded.vertices[loaded.faces], expected[mesh.faces], atol=1e-7)
    top = mesh.vertices[:, 1] > 1.99
    np.testing.assert_allclose(expected[top] - mesh.vertices[top], np.tile([0, 0.0125, 0.005], (top.sum(), 1)), atol=1e-7)


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    target = atomic_write_text(tmp_path / "a.obj", "old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half-writ")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.obj"]
    assert target.stat().st_mode & 0o777 == 0o644
