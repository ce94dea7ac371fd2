import numpy as np
import pytest
import torch

from avatarforge.bodies import BodyModel
from avatarforge.errors import UserInputError
from avatarforge.research.flame_head import FlameHead
from avatarforge.util.geometry import axis_angle_to_matrix
from avatarforge.research.smplx_body import SmplxBody
from research_synthetic import load_with_fake_chumpy, write_flame_pickle, write_smplx_npz


@pytest.fixture(scope="module")
def flame_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("flame")
    rng = np.random.default_rng(3)
    m = write_flame_pickle(d / "generic_model.pkl", rng)
    (d / "FLAME_NEUTRAL.pkl").write_bytes((d / "generic_model.pkl").read_bytes())  # smplx's file name
    import pickle

    with open(d / "flame_static_embedding.pkl", "wb") as fp:
        pickle.dump({"lmk_face_idx": rng.integers(0, len(m["f"]), 51).astype(np.uint32),
                     "lmk_b_coords": rng.dirichlet(np.ones(3), 51)}, fp, protocol=2)
    return d


def test_flame_matches_smplx_flame(flame_dir):
    import smplx

    torch.manual_seed(0)
    ref = load_with_fake_chumpy(smplx.FLAME, model_path=str(flame_dir), num_betas=100, num_expression_coeffs=50,
                                use_face_contour=False)
    ours = FlameHead(flame_dir / "generic_model.pkl")
    assert isinstance(ours, BodyModel)
    b = 3
    betas, expr = torch.randn(b, 100), torch.randn(b, 50)
    poses = torch.randn(b, 5, 3) * 0.3
    with torch.no_grad():
        r = ref(betas=betas, expression=expr, global_orient=poses[:, 0], neck_pose=poses[:, 1],
                jaw_pose=poses[:, 2], leye_pose=poses[:, 3], reye_pose=poses[:, 4])
        o = ours(betas, expr, axis_angle_to_matrix(poses))
    assert (o.vertices - r.vertices).abs().max() < 1e-6
    # joints: posed joint positions = smplx's first 5 joints
    assert (o.joints - r.joints[:, :5]).abs().max() < 1e-6


def test_flame_params_and_morphs(flame_dir):
    head = FlameHead(flame_dir / "generic_model.pkl", n_shape=20, n_expression=10)
    assert len(head.params.names("shape")) == 20 and len(head.params.names("expression")) == 10
    out = head.forward_params({"expr.3": 1.5, "shape.1": -1.0})
    base = head.forward_params({"shape.1": -1.0})
    names, deltas = head.morph_targets({})
    assert names[3] == "expr.3"
    torch.testing.assert_close(out.rest_vertices[0] - base.rest_vertices[0], 1.5 * deltas[3], atol=1e-6, rtol=0)
    # skinning transforms reproduce the joints: joints_world = skinning @ rest
    p = head.forward_params({"pose.jaw.x": 20.0, "pose.global.y": -30.0})
    torch.testing.assert_close(p.joints_world, p.skinning_transforms @ p.rest_joints_world)
    with pytest.raises(UserInputError, match="out of range"):
        head.forward_params({"expr.0": 9.0})


def test_missing_key_is_named(tmp_path):
    import pickle

    (tmp_path / "g.pkl").write_bytes(pickle.dumps({"v_template": np.zeros((4, 3))}, protocol=2))
    with pytest.raises(UserInputError, match="'f' missing"):
        FlameHead(tmp_path / "g.pkl")


@pytest.fixture(scope="module")
def smplx_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("smplx")
    write_smplx_npz(d / "SMPLX_NEUTRAL.npz", np.random.default_rng(4))
    return d


def test_smplx_matches_smplx_package(smplx_dir):
    import smplx

    torch.manual_seed(1)
    ref = smplx.SMPLX(str(smplx_dir), use_pca=False, num_betas=10, num_expression_coeffs=10,
                      use_face_contour=False, flat_hand_mean=True)
    ours = SmplxBody(smplx_dir / "SMPLX_NEUTRAL.npz")
    betas, expr = torch.randn(2, 10), torch.randn(2, 10)
    aa = torch.randn(2, 55, 3) * 0.2
    with torch.no_grad():
        r = ref(betas=betas, expression=expr, global_orient=aa[:, 0], body_pose=aa[:, 1:22].reshape(2, -1),
                jaw_pose=aa[:, 22], leye_pose=aa[:, 23], reye_pose=aa[:, 24],
                left_hand_pose=aa[:, 25:40].reshape(2, -1), right_hand_pose=aa[:, 40:55].reshape(2, -1))
        res = ours.lbs(betas, expr, axis_angle_to_matrix(aa))
        out = ours(betas, expr, axis_angle_to_matrix(aa))
    assert (res.vertices - r.vertices).abs().max() < 1e-5
    # grounded frame: rest soles at y = 0, pelvis over the origin, a pure translation of the native frame
    shift = out.vertices - res.vertices
    assert (shift - shift[:, :1]).abs().max() < 1e-6
    assert out.rest_vertices[..., 1].min(1).values.abs().max() < 1e-6
    assert out.rest_joints_world[:, 0, [0, 2], 3].abs().max() < 1e-6
