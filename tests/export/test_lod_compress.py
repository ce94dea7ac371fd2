"""Levels of detail (Anny's reduced topologies) and meshopt compression (gltfpack)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import trimesh

from avatarforge.export import read_glb, write_glb
from avatarforge.export.validate import format_issues

ON_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def meshes(body):
    from avatarforge.avatar import build_avatar, lod_meshes

    tex = np.zeros((256, 256, 3), np.uint8)
    avatar = build_avatar({"weight": 0.7}, pose="t", body=body, texture=tex)
    full = avatar.rigged_mesh()
    return full, lod_meshes(avatar, full)


def _surface_distance(full_vertices, faces, points) -> np.ndarray:
    mesh = trimesh.Trimesh(full_vertices, faces, process=False)
    tris = mesh.triangles
    from scipy.spatial import cKDTree

    _, cand = cKDTree(tris.mean(1)).query(points, k=48)
    best = np.full(len(points), np.inf)
    for c in cand.T:
        d = np.linalg.norm(trimesh.triangles.closest_point(tris[c], points) - points, axis=1)
        best = np.minimum(best, d)
    return best


def test_lod_sizes_and_groups(meshes) -> None:
    from avatarforge.bodies.anny_topology import reduced_topology

    full, lods = meshes
    assert sorted(lods) == [1, 2, 3]
    n_faces = np.bincount(full.face_groups, minlength=3)
    n_verts = [len(np.unique(full.faces[full.face_groups == g])) for g in range(3)]
    sizes = []
    for level, light in lods.items():
        v, f = reduced_topology(level)
        kept = [1, 2] if level == 1 else [1]  # eyes everywhere, the mouth cavity at level 1
        assert light.vertices.shape == (len(v) + sum(n_verts[g] for g in kept), 3)
        assert light.faces.shape == (len(f) + sum(n_faces[g] for g in kept), 3)
        assert np.bincount(light.face_groups).tolist() == [len(f), *(n_faces[g] for g in kept)]
        assert light.morph_deltas.shape == (52, len(light.vertices), 3) and light.joint_names == full.joint_names
        sizes.append(len(light.faces))
    assert sizes[0] > sizes[1] > sizes[2] and sizes[0] < len(full.faces) / 6


def test_lod_follows_the_full_surface_in_every_shape(meshes) -> None:
    """Each light vertex is on the full mesh's surface, at rest and with a blend shape on."""
    full, lods = meshes
    light = lods[2]
    n_body = len(light.vertices) - len(np.unique(full.faces[full.face_groups == 1]))
    jaw = full.morph_names.index("jawOpen")
    for weight in (0.0, 1.0):
        fv = full.vertices + weight * full.morph_deltas[jaw]
        lv = light.vertices[:n_body] + weight * light.morph_deltas[jaw, :n_body]
        assert _surface_distance(fv, full.faces, lv).max() < 1e-5
    moved = np.linalg.norm(light.morph_deltas[jaw], axis=1)
    assert moved.max() > 0.005  # the chin of the light mesh opens too


def _uv_stretch(mesh) -> np.ndarray:
    """UV length / 3D length of every triangle edge (edges over 1 mm)."""
    uv = mesh.uvs[mesh.uv_faces][:, [0, 1, 2, 0]]
    xyz = mesh.vertices[mesh.faces][:, [0, 1, 2, 0]]
    du = np.linalg.norm(np.diff(uv, axis=1), axis=-1)
    dx = np.linalg.norm(np.diff(xyz, axis=1), axis=-1)
    return du[dx > 1e-3] / dx[dx > 1e-3]


def test_lod_uvs_stay_inside_islands_and_skin_sums_to_one(meshes, tmp_path, gltf_validator) -> None:
    full, lods = meshes
    full_stretch = _uv_stretch(full)
    for level, light in lods.items():
        # A triangle spanning a UV seam stretches across the atlas (stretch 30+ instead of < 6).
        stretch = _uv_stretch(light)
        assert stretch.max() < 1.2 * full_stretch.max(), (level, stretch.max(), full_stretch.max())
        assert np.percentile(stretch, 99) <= np.percentile(full_stretch, 99)
        assert np.all((light.uvs >= -1e-6) & (light.uvs <= 1 + 1e-6))
        np.testing.assert_allclose(light.skin_weights.sum(1), 1.0, atol=1e-6)
        write_glb(light, tmp_path / f"lod{level}.glb")
        report = gltf_validator(tmp_path / f"lod{level}.glb")
        assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, format_issues(report)
        assert len(read_glb(tmp_path / f"lod{level}.glb").morph_names) == 67


def test_meshopt_compression_is_valid_and_smaller(bar_factory, meshes, tmp_path, gltf_validator) -> None:
    from avatarforge.errors import MissingDependencyError
    from avatarforge.export.compress import find_gltfpack, meshopt_compress

    try:
        find_gltfpack()
    except MissingDependencyError as err:
        if ON_CI:
            pytest.fail(str(err))
        pytest.skip(str(err))
    full, _ = meshes
    src = tmp_path / "a.glb"
    info = write_glb(full, src)
    dst = meshopt_compress(src, tmp_path / "a_meshopt.glb")
    assert dst.stat().st_size < 0.6 * info.n_bytes
    report = gltf_validator(dst)
    assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, format_issues(report)
    import json
    import struct

    data = dst.read_bytes()
    doc = json.loads(data[20 : 20 + struct.unpack_from("<I", data, 12)[0]])
    assert "EXT_meshopt_compression" in doc["extensionsRequired"]
    assert doc["meshes"][0]["extras"]["targetNames"] == list(info.morph_names)
    assert sorted(m["name"] for m in doc["materials"]) == ["avatar_eyes", "avatar_mouth", "avatar_skin"]


def test_missing_gltfpack_is_a_clear_error(monkeypatch, tmp_path) -> None:
    from avatarforge.errors import MissingDependencyError
    from avatarforge.export.compress import find_gltfpack

    monkeypatch.setenv("AVATARFORGE_GLTFPACK", str(tmp_path / "nope"))
    with pytest.raises(MissingDependencyError, match="AVATARFORGE_GLTFPACK"):
        find_gltfpack()
