"""The face fit on a synthetic render with known ground truth (the full pipeline: the
bundled face mesh detects landmarks on the render, then the fit)."""

import numpy as np
import pytest

from avatarforge.dev import face_synthetic as BENCH
from avatarforge.fitting.face_fit import FaceFitConfig, fit_face


@pytest.fixture(scope="module")
def scene(body):
    from avatarforge.perception.face import face_landmarks

    rng = np.random.default_rng(7)
    values = BENCH.random_sample(body, rng)
    values = {k: v for k, v in values.items() if k not in body.params.names("expression")}
    values.update({"pose.head.y": 18.0, "pose.head.x": -6.0, "jawOpen": 0.5})
    gt, cam, rgb = BENCH.render_sample(body, values, rng)
    lm = face_landmarks(rgb)
    return values, gt, cam, lm


def test_fit_recovers_shape_pose_and_expression(body, scene):
    values, gt, cam, lm = scene
    fit = fit_face(lm.points, lm.image_size, body)
    face_ids, head_ids = BENCH.face_region(body)
    fitted = body.forward_params(fit.values).vertices[0].numpy()
    err = BENCH.similarity_error(fitted[face_ids], gt.vertices[0].numpy()[face_ids]) * 1000
    assert np.median(err) < 4.0
    assert abs(fit.values["pose.head.y"] - 18.0) < 5.0
    assert abs(fit.values["pose.head.x"] + 6.0) < 6.0
    assert fit.values["jawOpen"] > 0.2
    assert fit.rmse_px < 0.05 * np.linalg.norm(lm.points[33, :2] - lm.points[263, :2])
    # The returned camera sees the fitted full-body mesh where the fit put its landmarks.
    from avatarforge.bodies.landmark_embedding import load_embedding

    pts = load_embedding().points(body.forward_params(fit.values).vertices, body.faces.numpy())[0].numpy()
    assert np.allclose(fit.camera.project(pts)[:, :2], fit.landmarks_2d, atol=1e-2)
    assert fit.ibug68_2d.shape == (68, 2)
    # The export is the model's own points fused with the detection it was fitted to.
    from avatarforge.fitting.ibug68 import fuse_with_detected

    np.testing.assert_allclose(fit.ibug68_2d, fuse_with_detected(fit.ibug68_model_2d, lm.points), atol=1e-3)


def test_fit_is_deterministic(body, scene):
    _, _, _, lm = scene
    cfg = FaceFitConfig(rigid_steps=10, full_steps=15)
    a = fit_face(lm.points, lm.image_size, body, cfg)
    b = fit_face(lm.points, lm.image_size, body, cfg)
    assert a.values == b.values


def test_more_steps_lower_the_loss(body, scene):
    _, _, _, lm = scene
    short = fit_face(lm.points, lm.image_size, body, FaceFitConfig(rigid_steps=5, full_steps=0))
    full = fit_face(lm.points, lm.image_size, body)
    assert full.losses[-1] < 0.5 * short.losses[0]
    assert full.rmse_px < short.rmse_px


def test_feature_weight_pulls_the_features_onto_their_detections(body, scene):
    """Weighting the eye/brow/lip/nose points up (the default) fits them more tightly than
    equal weights do."""
    from avatarforge.perception.landmark_groups import FEATURES

    _, _, _, lm = scene
    det = lm.points[:, :2]

    def residual(w):
        fit = fit_face(lm.points, lm.image_size, body, FaceFitConfig(w_features=w))
        return np.linalg.norm(fit.landmarks_2d - det, axis=1)[list(FEATURES)].mean()

    assert FaceFitConfig().w_features == 3.0
    assert residual(3.0) < 0.98 * residual(1.0)  # 5.46 vs 5.71 px on this scene
