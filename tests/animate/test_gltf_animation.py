"""A glTF animation added to an exported GLB: read back by pygltflib, 0 validator errors."""

from __future__ import annotations

import numpy as np
import pytest
from pygltflib import GLTF2
from scipy.spatial.transform import Rotation

from avatarforge.export import RiggedMesh, write_glb
from avatarforge.export.animation import AnimationClip, add_animation, split_glb
from avatarforge.export.gltf_read import read_accessor, read_glb
from avatarforge.export.validate import format_issues


def bar() -> RiggedMesh:
    """A 2-joint skinned strip with 2 morph targets."""
    v = np.array([[x, y, 0.0] for y in (0.0, 1.0, 2.0) for x in (-0.1, 0.1)], np.float32)
    faces = np.array([[0, 1, 3], [0, 3, 2], [2, 3, 5], [2, 5, 4]])
    world = np.tile(np.eye(4), (2, 1, 1))
    world[1, 1, 3] = 1.0
    idx = np.array([[0, 1]] * 6)
    w = np.array([[1, 0], [1, 0], [0.5, 0.5], [0.5, 0.5], [0, 1], [0, 1]], np.float64)
    deltas = np.zeros((2, 6, 3), np.float32)
    deltas[0, 4:, 1] = 0.1
    deltas[1, :, 0] = 0.05
    return RiggedMesh(vertices=v, faces=faces, joint_names=["root", "top"], joint_parents=np.array([-1, 0]),
                      joint_world=world, skin_indices=idx, skin_weights=w, morph_names=["jawOpen", "browInnerUp"],
                      morph_deltas=deltas, morph_weights=np.zeros(2), name="bar")


def clip(n: int = 5) -> AnimationClip:
    q = Rotation.from_euler("x", np.linspace(0, 170, n)[:, None], degrees=True).as_quat()
    q[1::2] *= -1  # sign flips the writer must undo (shortest-path interpolation)
    t = np.stack([np.linspace(0, 1, n), np.zeros(n), np.zeros(n)], 1)
    w = np.stack([np.linspace(0, 1, n), np.linspace(1, 0, n)], 1)
    return AnimationClip(25.0, rotations={2: q}, translations={1: t}, weights={0: w}, name="test")


def test_animation_reads_back(tmp_path) -> None:
    path = tmp_path / "bar.glb"
    write_glb(bar(), path)
    c = clip()
    data = add_animation(path.read_bytes(), c)
    out = tmp_path / "anim.glb"
    out.write_bytes(data)
    g = GLTF2.load_binary(str(out))
    blob = g.binary_blob()
    (anim,) = g.animations
    assert anim.name == "test"
    targets = {(ch.target.node, ch.target.path): anim.samplers[ch.sampler] for ch in anim.channels}
    assert set(targets) == {(2, "rotation"), (1, "translation"), (0, "weights")}
    times = read_accessor(g, blob, targets[(2, "rotation")].input)[:, 0]
    np.testing.assert_allclose(times, np.arange(5) / 25.0, rtol=1e-6)
    q = read_accessor(g, blob, targets[(2, "rotation")].output)
    want = Rotation.from_euler("x", np.linspace(0, 170, 5)[:, None], degrees=True).as_quat()
    np.testing.assert_allclose(q, want, atol=1e-6)  # signs made continuous: no flip between keys
    assert (np.einsum("fi,fi->f", q[1:], q[:-1]) > 0).all()
    np.testing.assert_allclose(read_accessor(g, blob, targets[(0, "weights")].output).reshape(5, 2),
                               c.weights[0], atol=1e-7)
    # the avatar itself is untouched
    a, b = read_glb(path), read_glb(out)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.morph_deltas, b.morph_deltas)
    assert split_glb(data)[0]["meshes"] == split_glb(path.read_bytes())[0]["meshes"]


def test_animated_glb_passes_the_validator(tmp_path, gltf_validator) -> None:
    path = tmp_path / "bar.glb"
    write_glb(bar(), path)
    out = tmp_path / "anim.glb"
    out.write_bytes(add_animation(path.read_bytes(), clip()))
    report = gltf_validator(out)
    assert report["issues"]["numErrors"] == 0, format_issues(report)
    assert report["issues"]["numWarnings"] == 0, format_issues(report)
    assert report["info"]["animationCount"] == 1


def test_bad_clips_are_refused(tmp_path) -> None:
    path = tmp_path / "bar.glb"
    write_glb(bar(), path)
    c = clip()
    c.translations = {1: np.zeros((3, 3))}
    with pytest.raises(ValueError, match="same number of frames"):
        add_animation(path.read_bytes(), c)
    with pytest.raises(ValueError, match="no frames"):
        add_animation(path.read_bytes(), AnimationClip(25.0))
