"""Avatar-sized exports: speed at ~14k vertices / 52 morphs, and 32-bit indices past 65k vertices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pygltflib import GLTF2

from avatarforge.export import RiggedMesh, read_glb, write_glb
from avatarforge.export.validate import format_issues


def _grid_tube(n_around: int, n_rings: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A tube of n_around x n_rings vertices, its UV grid having one seam column."""
    theta = 2 * np.pi * np.arange(n_around) / n_around
    ys = np.linspace(0.0, 1.8, n_rings)
    vertices = np.stack(
        [np.tile(0.15 * np.sin(theta), n_rings), np.repeat(ys, n_around), np.tile(0.15 * np.cos(theta), n_rings)], 1
    ).astype(np.float32)
    i = np.arange(n_around)
    r = np.arange(n_rings - 1)[:, None]
    a, b = r * n_around + i, r * n_around + (i + 1) % n_around
    c, d = b + n_around, a + n_around
    ua = r * (n_around + 1) + i
    ub, uc, ud = ua + 1, ua + n_around + 2, ua + n_around + 1
    faces = np.concatenate([np.stack([a, b, c], -1), np.stack([a, c, d], -1)], 1).reshape(-1, 3)
    uv_faces = np.concatenate([np.stack([ua, ub, uc], -1), np.stack([ua, uc, ud], -1)], 1).reshape(-1, 3)
    uvs = np.stack(np.meshgrid(np.linspace(0, 1, n_around + 1), np.linspace(0, 1, n_rings)), -1).reshape(-1, 2)
    return vertices, faces, uvs.astype(np.float32), uv_faces


def _avatar_sized(n_around: int = 120, n_rings: int = 118, n_joints: int = 100, n_morphs: int = 52) -> RiggedMesh:
    rng = np.random.default_rng(0)
    vertices, faces, uvs, uv_faces = _grid_tube(n_around, n_rings)
    world = np.tile(np.eye(4), (n_joints, 1, 1))
    world[:, 1, 3] = np.linspace(0.0, 1.8, n_joints)
    weights = rng.random((len(vertices), 6))
    face = vertices[:, 1] > 1.45  # the "face": ~20% of the vertices carry the expressions
    deltas = np.zeros((n_morphs, len(vertices), 3), np.float32)
    deltas[:, face] = rng.normal(0.0, 0.005, (n_morphs, face.sum(), 3))
    ramp = np.linspace(0, 255, 1024, dtype=np.float32)
    texture = np.stack([np.add.outer(ramp, ramp) / 2, np.tile(ramp, (1024, 1)), np.tile(ramp[:, None], (1, 1024))], -1)
    return RiggedMesh(
        vertices=vertices,
        faces=faces,
        joint_names=[f"j{j}" for j in range(n_joints)],
        joint_parents=np.arange(-1, n_joints - 1),
        joint_world=world,
        skin_indices=rng.integers(0, n_joints, (len(vertices), 6)),
        skin_weights=weights / weights.sum(1, keepdims=True),
        uvs=uvs,
        uv_faces=uv_faces,
        morph_names=[f"morph{m}" for m in range(n_morphs)],
        morph_deltas=deltas,
        morph_weights=np.zeros(n_morphs),
        texture=texture.astype(np.uint8),
    )


def test_avatar_sized_export_is_valid(tmp_path: Path, gltf_validator) -> None:
    # An avatar-sized mesh (its write time is a benchmark figure, write_glb_ms in benchmarks/bench_body.py,
    # not a timed test).
    mesh = _avatar_sized()
    assert 13_000 < len(mesh.vertices) < 15_000 and len(mesh.faces) > 27_000
    path = tmp_path / "avatar.glb"
    info = write_glb(mesh, path)
    assert info.n_morph_targets == 52 and info.n_joints == 100
    report = gltf_validator(path)
    assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, format_issues(report)


def test_large_mesh_uses_32_bit_indices(tmp_path: Path, gltf_validator) -> None:
    mesh = _avatar_sized(n_around=300, n_rings=230, n_joints=3, n_morphs=0)
    mesh.texture = None
    info = write_glb(mesh, tmp_path / "big.glb")
    assert info.n_vertices > 65535
    gltf = GLTF2.load_binary(str(tmp_path / "big.glb"))
    assert gltf.accessors[gltf.meshes[0].primitives[0].indices].componentType == 5125
    np.testing.assert_array_equal(read_glb(tmp_path / "big.glb").positions, mesh.vertices[info.split_to_source])
    report = gltf_validator(tmp_path / "big.glb")
    assert report["issues"]["numErrors"] == 0, format_issues(report)
