"""Glasses as geometry: the tube primitive, placement on the head, rigid head skinning, the
export parts, the frame colour from the photo's parsing and the keep/remove choice."""

from __future__ import annotations

import numpy as np
import pytest

from avatarforge.bodies.glasses import GlassesStyle, build_glasses, tube


def _edges_shared_twice(faces: np.ndarray) -> bool:
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(e, axis=0, return_counts=True)
    return bool((counts == 2).all())


def test_tube_is_closed_and_has_the_radius():
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    loop = np.column_stack([np.cos(t), np.sin(t), np.zeros_like(t)])
    v, f = tube(loop, 0.1, True, np.array([0.0, 0.0, 1.0]), sides=6)
    assert v.shape == (24 * 6, 3) and f.shape == (2 * 24 * 6, 3) and _edges_shared_twice(f)
    # Every ring vertex lies at the radius from its path point (a torus of radii 1 and 0.1).
    rho = np.linalg.norm(v[:, :2], axis=1)
    assert np.allclose(np.hypot(rho - 1.0, v[:, 2]), 0.1, atol=1e-3)
    # Open tube: capped at both ends, still watertight; normals point outwards (positive volume).
    path = np.column_stack([np.linspace(0, 1, 5), np.zeros(5), np.zeros(5)])
    v, f = tube(path, 0.05, False, np.array([0.0, 1.0, 0.0]), sides=8)
    assert _edges_shared_twice(f)
    vol = np.einsum("ij,ij->i", np.cross(v[f[:, 0]], v[f[:, 1]]), v[f[:, 2]]).sum() / 6
    ideal = np.pi * 0.05 ** 2 * 1.0
    assert 0.85 * ideal < vol < ideal  # the octagon's area is 0.9 of the circle's
    with pytest.raises(ValueError):
        tube(path[:1], 0.05, False, np.array([0.0, 1.0, 0.0]))


def _head_local(out, points):
    from avatarforge.bodies.hair import _head_frame

    origin, rot = _head_frame(out)
    return (np.asarray(points) - origin) @ rot


def test_glasses_sit_in_front_of_the_eyes_symmetric_and_follow_the_head(body):
    rest = body.forward_params({})
    g = build_glasses(rest)
    loc = _head_local(rest, g.vertices)
    names = list(rest.joint_names)
    eyes = _head_local(rest, rest.joints[0].numpy()[[names.index("eye.R"), names.index("eye.L")]])
    ipd = np.linalg.norm(eyes[1] - eyes[0])
    # The front (rims, bridge) is in front of the eyeballs' centres, temples reach back to the ears.
    assert loc[:, 2].max() > eyes[:, 2].max() + 0.015 and loc[:, 2].min() < eyes[:, 2].max() - 0.06
    # Both sides: as wide as the head, symmetric about the head's mid-plane (Anny is symmetric).
    assert loc[:, 0].max() == pytest.approx(-loc[:, 0].min(), abs=2e-3) and loc[:, 0].max() > 1.1 * ipd
    # No skin vertex of the head lies in front of the rims' plane within the lenses' outline.
    v = _head_local(rest, rest.vertices[0].numpy())
    z_front = loc[:, 2].max()
    near_eyes = (np.abs(np.abs(v[:, 0]) - abs(eyes[0, 0])) < 0.3 * ipd) & (np.abs(v[:, 1] - eyes[0, 1]) < 0.2 * ipd)
    assert (v[near_eyes, 2] < z_front).all()
    # Rigid on the head joint: rebuilt on a turned and nodded head, the same in the head's frame.
    assert (g.skin_indices == names.index("head")).all() and np.all(g.skin_weights == 1.0)
    turned = body.forward_params({"pose.head.y": 30.0, "pose.head.x": -15.0, "pose.neck01.z": 10.0})
    g2 = build_glasses(turned)
    assert np.allclose(_head_local(turned, g2.vertices), loc, atol=2e-4)
    assert not np.allclose(g2.vertices, g.vertices, atol=1e-2)
    assert len(g.lens_vertices) == 0 and len(build_glasses(rest, GlassesStyle(lenses=True)).lens_faces) > 0


def test_avatar_exports_glasses_as_their_own_parts(body, tmp_path):
    from avatarforge.avatar import Avatar
    from pygltflib import GLTF2

    from avatarforge.export import write_glb, write_obj

    values = body.params.complete({})
    out = body.forward_params(values)
    g = build_glasses(out, GlassesStyle(lenses=True))
    avatar = Avatar(body, values, "a", out, glasses=g, glasses_srgb=(200, 30, 20))
    mesh = avatar.rigged_mesh()
    parts = {p.name: p for p in mesh.parts}
    assert set(parts) == {"glasses", "glasses_lenses"}
    assert parts["glasses"].base_color[0] > 0.5 > parts["glasses"].base_color[1]  # red, linear
    write_glb(mesh, tmp_path / "a.glb")
    gltf = GLTF2.load_binary(str(tmp_path / "a.glb"))
    assert {m.name for m in gltf.meshes} >= {"glasses", "glasses_lenses"}
    assert any(m.name == "avatar_glasses" for m in gltf.materials)
    write_obj(mesh, tmp_path)
    assert "o glasses" in (tmp_path / "avatar.obj").read_text()
    assert "newmtl avatar_glasses" in (tmp_path / "avatar.mtl").read_text()
    # The studio/export reposing keeps the glasses, rebuilt on the new pose.
    t_pose = avatar.reposed("t")
    assert t_pose.glasses is not None and t_pose.glasses_srgb == (200, 30, 20)


def test_fit_glasses_colour_and_choice(body):
    from avatarforge.errors import UserInputError
    from avatarforge.fitting.glasses_fit import DEFAULT_FRAME_SRGB, fit_glasses, frame_colour
    from avatarforge.perception.parsing import LABELS, Accessories, PhotoParsing

    rgb = np.full((40, 40, 3), 200, np.uint8)
    labels = np.zeros((40, 40), np.uint8)
    labels[10:20, 5:35] = LABELS.index("glasses")
    rgb[10:20, 5:35] = (90, 20, 10)
    rgb[10, 5:35] = (0, 0, 0)  # a dark row: the median ignores it
    acc = Accessories(glasses=True, glasses_score=0.9, sunglasses=False, headwear=False, headwear_score=0.0)
    parsing = PhotoParsing(labels, np.ones((40, 40), np.float32), acc, np.zeros(3, np.float32), None)
    assert frame_colour(rgb, parsing) == (90, 20, 10)
    out = body.forward_params({})
    kept = fit_glasses(rgb, parsing, out, "keep")
    assert kept.mesh is not None and kept.colour_srgb == (90, 20, 10) and kept.to_dict()["added"] is True
    removed = fit_glasses(rgb, parsing, out, "remove")
    assert removed.mesh is None and removed.detected and removed.to_dict()["choice"] == "remove"
    none = PhotoParsing(np.zeros((40, 40), np.uint8), np.ones((40, 40), np.float32),
                        Accessories(False, 0.0, False, False, 0.0), np.zeros(3, np.float32), None)
    assert fit_glasses(rgb, none, out).mesh is None and frame_colour(rgb, none) == DEFAULT_FRAME_SRGB
    with pytest.raises(UserInputError, match="--glasses"):
        fit_glasses(rgb, parsing, out, "add")
