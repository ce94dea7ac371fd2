"""Winding numbers, skinning fields, the generated data, marching cubes and metrics."""

import json

import numpy as np
import pytest
import torch
import trimesh

from avatarforge.errors import UserInputError
from avatarforge.implicit.baselines import lbs_template
from avatarforge.implicit.data import load_data, posed_transforms
from avatarforge.implicit.extract import chamfer_mm, drop_small_components, extract_mesh, iou
from avatarforge.implicit.skinning import MAIN_JOINTS, VoxelSkinning, lbs_points, main_joint_map, reduce_weights
from avatarforge.implicit.winding import winding_number


def test_winding_number_sphere_exact_and_fast():
    m = trimesh.creation.icosphere(subdivisions=4, radius=0.5)
    rng = np.random.default_rng(0)
    p = rng.uniform(-0.8, 0.8, (3000, 3))
    r = np.linalg.norm(p, axis=1)
    keep = np.abs(r - 0.5) > 0.01
    exact = winding_number(p, m.vertices, m.faces, beta=None)
    fast = winding_number(p, m.vertices, m.faces, cell=0.1)
    assert np.allclose(exact[r < 0.45], 1.0, atol=1e-9)
    assert np.allclose(exact[r > 0.55], 0.0, atol=1e-9)
    assert np.abs(fast - exact).max() < 0.05  # far-field dipoles: small error
    assert ((fast > 0.5) == (r < 0.5))[keep].all()
    # reversed orientation flips the sign; an open hemisphere gives a fractional value at its centre
    assert np.allclose(winding_number(np.zeros((1, 3)), m.vertices, m.faces[:, ::-1], beta=None), -1.0)
    up = m.triangles_center[:, 1] > 0
    half = winding_number(np.zeros((1, 3)), m.vertices, m.faces[up], beta=None)[0]
    assert 0.4 < half < 0.6


def test_main_joint_merge_is_exact_for_main_joint_poses(body):
    out0 = body.forward_params({})
    jmap = main_joint_map(out0.joint_names, out0.joint_parents)
    assert MAIN_JOINTS[jmap[out0.joint_names.index("finger2-3.L")]] == "wrist.L"
    assert MAIN_JOINTS[jmap[out0.joint_names.index("toe1-1.R")]] == "foot.R"
    assert MAIN_JOINTS[jmap[out0.joint_names.index("upperarm02.L")]] == "upperarm01.L"
    w = reduce_weights(out0.skin_indices.numpy(), out0.skin_weights.double().numpy(), jmap)
    assert w.shape[1] == len(MAIN_JOINTS) and np.allclose(w.sum(1), 1)
    pose = {"pose.upperarm01.L.z": 40.0, "pose.lowerleg01.R.x": 60.0, "pose.spine03.y": 15.0, "pose.head.y": -20}
    T, posed = posed_transforms(pose)
    mine = lbs_template(out0.rest_vertices[0].double().numpy(), w, T)
    assert np.abs(mine - posed).max() < 1e-4
    assert np.abs(out0.rest_vertices[0].numpy() - posed).max() > 0.1  # the pose moved something


def test_voxel_skinning_reproduces_weights_at_nodes_and_blends():
    bounds = torch.tensor([[0.0, 0, 0], [1, 1, 1]])
    skin = VoxelSkinning(bounds, (3, 3, 3), 2)
    w = torch.zeros(3, 3, 3, 2)
    w[..., 0] = 1.0
    w[:, :, 2, :] = torch.tensor([0.0, 1.0])  # x = 1 plane belongs to bone 1
    skin.init_from_weights(w, floor=1e-6)
    nodes = skin.grid_points().reshape(-1, 3)
    got = skin(nodes).reshape(3, 3, 3, 2)
    assert torch.allclose(got, w, atol=1e-5)
    mid = skin(torch.tensor([[0.75, 0.5, 0.5]]))  # half-way between x=0.5 (bone 0) and x=1 (bone 1)
    assert torch.allclose(mid, torch.tensor([[0.5, 0.5]]), atol=1e-5)
    # LBS with one-hot weights applies that bone's transform
    T = torch.eye(4).repeat(2, 1, 1)
    T[1, :3, 3] = torch.tensor([0.0, 2.0, 0.0])
    x = torch.tensor([[1.0, 0.5, 0.5]])
    assert torch.allclose(lbs_points(x, skin(x), T), x + torch.tensor([0.0, 2.0, 0.0]), atol=1e-4)


def test_generated_data_is_consistent(tiny_implicit):
    data, folder = tiny_implicit
    s = data.subject
    assert data.split.count("train") == 2 + 2 + 4 and data.split.count("within") == 1 and data.split.count("ood") == 3
    root = MAIN_JOINTS.index("root")
    assert np.allclose(s.true_weights[s.n_body_vertices:, root], 1.0)  # the skirt follows the hips only
    for p in range(len(data.split)):
        T = data.transforms[p]
        skirt = s.vertices[s.n_body_vertices:] @ T[root, :3, :3].T + T[root, :3, 3]
        assert np.allclose(data.posed_vertices[p, s.n_body_vertices:], skirt, atol=1e-5)
        assert np.allclose(lbs_template(s.vertices, s.true_weights, T), data.posed_vertices[p], atol=1e-4)
        frac = data.occupancy[p].mean()
        assert 0.05 < frac < 0.7
    # the labels agree with an exact winding number on a few points
    p0 = data.points[0, :200].astype(np.float64)
    assert (winding_number(p0, data.posed_vertices[0], s.faces, beta=None) > 0.5).tolist() == data.occupancy[0, :200].tolist()
    # the skirt breaks the body's LBS: its skirt vertices leave the true ones in a walk pose
    walk = 2 + 2 + 1  # after 2 random poses and the t/relaxed presets: walk frame 1 (legs at +-30 deg)
    wrong = lbs_template(s.vertices, s.body_weights, data.transforms[walk])[s.n_body_vertices:]
    assert np.abs(wrong - data.posed_vertices[walk, s.n_body_vertices:]).max() > 0.05
    # round trip
    back = load_data(folder)
    assert back.poses == data.poses and back.split == data.split
    assert np.array_equal(back.occupancy, data.occupancy) and np.allclose(back.points, data.points)


def test_load_data_errors(tmp_path):
    with pytest.raises(UserInputError, match="not an implicit data set"):
        load_data(tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps({"format": "other"}))
    (tmp_path / "data.npz").write_bytes(b"x")
    with pytest.raises(UserInputError, match="not an implicit data set"):
        load_data(tmp_path)


def _sphere_logits(x, r=0.3):
    return 50 * (r - x.norm(dim=-1))


def test_marching_cubes_of_a_sphere_coarse_to_fine_matches_full():
    box = np.array([[-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]])
    v, f = extract_mesh(_sphere_logits, box, resolution=48)
    v1, f1 = extract_mesh(_sphere_logits, box, resolution=48, coarse=1)
    r = np.linalg.norm(v, axis=1)
    assert len(f) > 1000 and np.abs(r - 0.3).max() < 0.01
    assert len(v) == len(v1) and np.allclose(v, v1, atol=1e-6)
    mesh = trimesh.Trimesh(v, f)
    assert mesh.is_watertight and mesh.volume > 0  # outward faces
    assert abs(mesh.volume - 4 / 3 * np.pi * 0.3**3) < 0.005
    assert extract_mesh(lambda x: -torch.ones(len(x)), box, 16)[1].shape == (0, 3)


def test_floaters_are_dropped_from_a_two_blob_volume():
    # a big sphere (r 0.3) and a far small one (r 0.08): two components; the small one is a floater
    def two_blobs(x):
        return torch.maximum(_sphere_logits(x), 50 * (0.08 - (x - torch.tensor([0.0, 0.0, 0.55])).norm(dim=-1)))

    box = np.array([[-0.5, -0.5, -0.5], [0.5, 0.5, 0.8]])
    v_all, f_all = extract_mesh(two_blobs, box, resolution=48, min_component=0)
    v, f = extract_mesh(two_blobs, box, resolution=48)
    assert len(f) < len(f_all) and np.abs(np.linalg.norm(v, axis=1) - 0.3).max() < 0.01  # only the big sphere
    assert len(trimesh.Trimesh(v_all, f_all, process=False).split(only_watertight=False)) == 2
    mesh = trimesh.Trimesh(v, f, process=False)
    assert mesh.is_watertight and len(mesh.split(only_watertight=False)) == 1
    assert f.max() == len(v) - 1  # unused vertices dropped, faces re-indexed
    # the kept triangles are the big sphere's, unchanged (same corners in the same order)
    big = np.linalg.norm(v_all[f_all].mean(1), axis=1) < 0.4
    assert np.allclose(v[f], v_all[f_all[big]])
    # a component at least min_fraction of the largest is kept
    v2, f2, kept = drop_small_components(v_all, f_all, min_fraction=0.01)
    assert len(f2) == len(f_all) and len(v2) == len(v_all) and np.array_equal(kept, np.arange(len(v_all)))
    v1, _, kept = drop_small_components(v_all, f_all)
    assert np.array_equal(v1, v_all[kept]) and np.allclose(v1, v)
    assert drop_small_components(np.zeros((0, 3)), np.zeros((0, 3), np.int64))[1].shape == (0, 3)


def test_metrics():
    a = np.array([True, True, False, False])
    assert iou(a, a) == 1.0 and iou(a, ~a) == 0.0 and iou(a, np.array([True, False, False, False])) == 0.5
    s1 = trimesh.creation.icosphere(4, radius=0.5)
    s2 = trimesh.creation.icosphere(4, radius=0.51)
    assert chamfer_mm(s1.vertices, s1.faces, s1.vertices, s1.faces) < 3.0  # sampling noise only
    assert 8.0 < chamfer_mm(s1.vertices, s1.faces, s2.vertices, s2.faces) < 12.0
