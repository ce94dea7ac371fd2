"""The embedded Anny backend, on the real model (built once per session)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from avatarforge.avatar import build_avatar, load_avatar_params
from avatarforge.bodies import BodyModel, pose_preset
from avatarforge.errors import UserInputError


def test_protocol_and_sizes(body):
    assert isinstance(body, BodyModel)
    out = body.forward_params({})
    assert out.vertices.shape == (1, 13718, 3)
    assert out.faces.shape == (27420, 3) and int(out.faces.max()) < 13718
    assert out.uv_faces.shape == out.faces.shape and int(out.uv_faces.max()) < out.uvs.shape[0]
    assert len(out.joint_names) == 104 and out.joints_world.shape == (1, 104, 4, 4)
    assert len(body.params.names("expression")) == 52 and "jawOpen" in body.params
    assert len(body.params.names("phenotype")) == 6 and len(body.params.names("local")) >= 250
    assert torch.allclose(out.skin_weights.sum(-1), torch.ones(13718), atol=1e-5)


def test_frame_y_up_facing_z_soles_on_ground(body):
    out = body.forward_params({"age": 0.7})
    v = out.vertices[0]
    j = dict(zip(out.joint_names, out.joints[0]))
    assert abs(float(v[:, 1].min())) < 1e-5  # soles at y = 0
    assert float(j["head"][1]) > float(j["spine03"][1]) > float(j["upperleg01.L"][1])  # +Y up
    assert float(j["upperarm01.L"][0]) > 0 > float(j["upperarm01.R"][0])  # body's left is +X
    # Facing +Z: the nose tip (frontmost head vertex) is in front of the head joint.
    head = v[v[:, 1] > float(j["head"][1])]
    assert float(head[:, 2].max() - j["head"][2]) > 0.05


def test_identity_pose_is_rest_and_lbs_reproduces_vertices(body):
    out = body.forward_params({"weight": 0.8})
    assert torch.allclose(out.vertices, out.rest_vertices, atol=1e-6)
    posed = body.forward_params({"weight": 0.8, "pose.upperarm01.L.z": 40, "pose.lowerleg01.R.x": 50, "pose.head.y": 20})
    t = posed.skinning_transforms[0]
    rest_h = torch.cat([posed.rest_vertices[0], torch.ones(13718, 1)], 1)
    # Slow reference: sum over influences of w * T_j @ v.
    ref = torch.einsum("vk,vkab,vb->va", posed.skin_weights, t[posed.skin_indices], rest_h)[:, :3]
    assert torch.allclose(ref, posed.vertices[0], atol=1e-5)
    moved = (posed.vertices - out.vertices).norm(dim=-1)[0]
    assert float(moved.max()) > 0.1


def test_parameters_refused_by_name_and_range(body):
    with pytest.raises(UserInputError, match="unknown parameter 'jaw_open'"):
        body.forward_params({"jaw_open": 0.5})
    with pytest.raises(UserInputError, match="out of range"):
        body.forward_params({"jawOpen": 1.5})


def test_shape_parameters_change_the_body(body):
    base = body.forward_params({}).vertices
    for name in ("age", "gender", "weight", "height", "nose-hump-incr", "jawOpen"):
        spec = body.params[name]
        changed = body.forward_params({name: spec.high}).vertices
        assert float((changed - base).abs().max()) > 1e-3, name


def test_morph_targets_are_exact_linear_offsets(body):
    shape = {"gender": 0.2, "age": 0.8}
    names, deltas = body.morph_targets(shape)
    assert names == body.params.names("expression") and deltas.shape == (52, 13718, 3)
    expr = {"jawOpen": 0.7, "mouthSmileLeft": 0.4, "eyeBlinkRight": 1.0}
    neutral = body.forward_params(shape).rest_vertices[0]
    full = body.forward_params({**shape, **expr}).rest_vertices[0]
    ref = neutral + sum(w * deltas[names.index(n)] for n, w in expr.items())
    assert torch.allclose(full, ref, atol=1e-5)


@pytest.mark.parametrize("pose", ["t", "relaxed"])
def test_pose_presets_put_arms_where_named(body, pose):
    shape = {"gender": 0.9, "height": 0.2}
    out = body.forward_params({**shape, **pose_preset(body, pose, shape)})
    j = dict(zip(out.joint_names, out.joints[0]))
    d = j["lowerarm01.L"] - j["upperarm01.L"]
    d = d / d.norm()
    if pose == "t":
        assert torch.allclose(d, torch.tensor([1.0, 0.0, 0.0]), atol=1e-4)
        f = j["wrist.R"] - j["lowerarm01.R"]
        assert torch.allclose(f / f.norm(), torch.tensor([-1.0, 0.0, 0.0]), atol=1e-4)
    else:
        assert float(d[1]) < -0.9  # arms hang down


def test_unknown_pose_refused(body):
    with pytest.raises(UserInputError, match="a, t, relaxed"):
        pose_preset(body, "x")


def test_gradients_reach_shape_and_expression(body):
    t = body.tensors_from_params({})
    t["phenotype"].requires_grad_(True)
    t["expression"].requires_grad_(True)
    out = body(**t)
    out.vertices[..., 1].sum().backward()
    assert float(t["phenotype"].grad.abs().sum()) > 0
    assert float(t["expression"].grad.abs().sum()) > 0


def test_params_file_round_trip_rebuilds_vertices(body, tmp_path):
    avatar = build_avatar({"age": 0.3, "nose-hump-incr": 0.5, "jawOpen": 0.4, "pose.head.y": 15}, pose="t", body=body)
    avatar.params_file().write(tmp_path / "params.json")
    again = load_avatar_params(tmp_path)
    assert again.pose_preset == "t"
    assert torch.allclose(again.output.vertices, avatar.output.vertices, atol=1e-5)


def test_rigged_mesh_morphs_carried_into_export_pose(body):
    values = {"weight": 0.3, "jawOpen": 0.6, "mouthSmileRight": 0.8, "browInnerUp": 0.5}
    avatar = build_avatar(values, pose="t", body=body)
    mesh = avatar.rigged_mesh()
    assert mesh.morph_names[:3] == ["browDownLeft", "browDownRight", "browInnerUp"]
    shown = mesh.vertices + np.tensordot(mesh.morph_weights, mesh.morph_deltas, axes=1)
    # Morphs applied in the posed mesh == the body posed with the expression (LBS is linear).
    assert np.allclose(shown, avatar.output.vertices[0].numpy(), atol=2e-5)
    assert float(np.abs(mesh.morph_deltas).max()) > 0.005


def test_vectorised_coefficients_match_anny(body):
    g = torch.Generator().manual_seed(3)
    phen = torch.rand(3, 6, generator=g)
    local = torch.rand(3, len(body.local_names), generator=g) * 2 - 1
    local[0, :10] = 0.0
    expr = torch.rand(3, 52, generator=g)
    ours = body.blendshape_coeffs(phen, local, expr)
    ref = body.model._get_phenotype_blendshape_coefficients(phen, local, expr)
    assert torch.equal(ours, ref)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="Linux memory maps")
def test_loaded_model_keeps_no_mapping_of_the_build_cache(body):
    """Integer tensors are copied out of the memory-mapped build (anny_loader): the ~240 MB
    file is not kept resident for the process's lifetime, and the copies are the file's values."""
    from anny.models.model_data import ModelData

    from avatarforge.bodies.anny_loader import anny_cache_dir

    maps = Path("/proc/self/maps").read_text()
    assert ".safetensors" not in maps
    build = next(anny_cache_dir().glob("*/build_compact_model_data_*.safetensors"))
    assert torch.equal(body.model.faces, ModelData.load_safetensors(build).faces)
