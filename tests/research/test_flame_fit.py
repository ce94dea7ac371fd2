import numpy as np
import torch

from avatarforge.research.deca.model import orthographic_project
from avatarforge.research.flame_fit import LandmarkFitConfig, fit_flame_landmarks
from avatarforge.research.flame_head import FlameHead
from avatarforge.research.landmarks import load_landmark_embedding
from research_synthetic import write_flame_pickle, write_landmark_embedding


def test_landmark_fit_reprojects(tmp_path):
    rng = np.random.default_rng(9)
    m = write_flame_pickle(tmp_path / "generic_model.pkl", rng, nv=200)
    write_landmark_embedding(tmp_path / "lmk.npy", rng, len(m["f"]))
    flame = FlameHead(tmp_path / "generic_model.pkl")
    emb = load_landmark_embedding(tmp_path / "lmk.npy", m["f"])
    np.testing.assert_array_equal(emb.faces[5], m["f"][np.load(tmp_path / "lmk.npy", allow_pickle=True)[()]
                                                        ["full_lmk_faces_idx"][0, 5]])
    # landmarks of a known head, turned 20 deg, mouth slightly open, through a camera
    torch.manual_seed(0)
    shape, expr = torch.randn(1, 100) * 0.5, torch.randn(1, 50) * 0.5
    shape[:, 50:] = 0
    glob, jaw = torch.tensor([[0.0, 0.35, 0.05]]), torch.tensor([[0.1, 0.0, 0.0]])
    cam = torch.tensor([[4.0, 0.02, -0.03]])
    with torch.no_grad():
        v = flame.lbs(shape, expr, flame.rotations_from_axis_angle(glob, jaw=jaw)).vertices
        target = orthographic_project(emb.points(v), cam)[0, :, :2].numpy()
    fit = fit_flame_landmarks(flame, emb, target, LandmarkFitConfig(steps=300, shape_prior=1e-5, expression_prior=1e-5))
    assert fit.rms_start > 0.05
    assert fit.rms < 0.1 * fit.rms_start and fit.rms < 0.01  # < ~1 px of the 224 crop
    assert abs(float(fit.code.cam[0, 0]) - 4.0) < 0.4
