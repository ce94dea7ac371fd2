"""The full-body fit: its fast evaluator against the full model, its pure tensor pieces, and
end to end on a synthetic render with known ground truth (the pose detector runs on the
render, then the fit)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avatarforge.bodies.rotation import euler_xyz_to_matrix
from avatarforge.dev.body_synthetic import fit_errors, random_body_sample, render_body_sample
from avatarforge.dev.face_synthetic import similarity_error
from avatarforge.errors import UserInputError
from avatarforge.fitting.body_fit import BodyFitConfig, fit_body
from avatarforge.fitting.body_fit_landmarks import LANDMARK_ANCHORS, landmark_positions
from avatarforge.fitting.body_fit_model import BodyPartsModel, hinge_axes
from avatarforge.fitting.body_fit_silhouette import silhouette_target, silhouette_terms, surface_samples
from avatarforge.util.geometry import axis_angle_to_matrix
from avatarforge.perception.pose import POSE_LANDMARK_NAMES, BodyPose, detect_pose

# ----------------------------------------------------------------------------- fast evaluator


def test_parts_model_matches_the_full_model(body):
    """The slice evaluator (rest heads + world-axes FK + group skinning) against Anny's own
    forward, on a random shape, pose and two local changes."""
    rng = np.random.default_rng(0)
    values = random_body_sample(body, rng)
    locals_ = [body.local_names[5], body.local_names[100]]
    values.update({locals_[0]: 0.6, locals_[1]: -0.4, "pose.wrist.L.x": 20.0, "pose.head.y": 15.0})
    ref = body.forward_params(values)
    ids = np.arange(0, body.num_vertices, 7)
    model = BodyPartsModel(body, ids, np.array([5, 100]))
    t = body.tensors_from_params(values)
    euler = torch.tensor([[values.get(f"pose.{j}.{a}", 0.0) for a in "xyz"] for j in model.posed])
    rest_v, rest_j = model.rest(t["phenotype"], t["local"])
    verts, joints, G = model.pose(rest_v, rest_j, euler_xyz_to_matrix(euler)[None])
    offset = model.ground_offset(t["phenotype"], t["local"])[:, None]
    assert torch.allclose(verts + offset, ref.vertices[:, ids], atol=2e-5)
    assert torch.allclose(joints + offset, ref.joints, atol=2e-5)
    # G is each posed joint's world rotation: the rotation of Anny's skinning transform.
    slots = [body.joint_names.index(j) for j in model.posed]
    assert torch.allclose(G, ref.skinning_transforms[:, slots, :3, :3], atol=1e-5)
    # The skeleton-only path agrees.
    j2, _ = model.skeleton(rest_j, euler_xyz_to_matrix(euler)[None])
    assert torch.equal(j2, joints)


def test_parts_model_pose_gradcheck(body):
    model = BodyPartsModel(body, np.arange(0, body.num_vertices, 1500), np.array([], dtype=np.int64)).double()
    assert body.model.template_vertices.dtype == torch.float32  # the shared body is not converted
    with torch.no_grad():
        rest_v, rest_j = model.rest(torch.full((1, 6), 0.5), torch.zeros(1, len(body.local_names)))
    rng = np.random.default_rng(1)
    rot = axis_angle_to_matrix(torch.as_tensor(rng.normal(0, 0.3, (1, model.num_groups, 3))))
    inputs = (rest_v.double().requires_grad_(True), rest_j.double().requires_grad_(True), rot.requires_grad_(True))
    assert torch.autograd.gradcheck(lambda v, j, r: model.pose(v, j, r)[:2], inputs)


def test_axis_angle_to_matrix():
    w = torch.tensor([[0.0, 0.0, np.pi / 2], [0.0, 0.0, 0.0], [0.3, -1.2, 0.7]], dtype=torch.float64)
    r = axis_angle_to_matrix(w)
    assert torch.allclose(r[0], torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]], dtype=torch.float64), atol=1e-12)
    assert torch.allclose(r[1], torch.eye(3, dtype=torch.float64))
    from scipy.spatial.transform import Rotation

    assert np.allclose(r[2].numpy(), Rotation.from_rotvec(w[2].numpy()).as_matrix(), atol=1e-12)
    for x in (w[2:], torch.tensor([[1e-5, -2e-5, 0.5e-5]], dtype=torch.float64)):
        assert torch.autograd.gradcheck(axis_angle_to_matrix, (x.clone().requires_grad_(True),))


def test_hinge_axes_bend_the_right_way(body):
    rest = body.forward_params({})
    j = dict(zip(body.joint_names, rest.joints[0].numpy().astype(np.float64)))
    axes = hinge_axes(body)

    def turn(axis, angle, v):
        r = axis_angle_to_matrix(torch.as_tensor(axis * angle)[None])[0].numpy()
        return r @ v

    for s in "LR":
        upper = j[f"lowerarm01.{s}"] - j[f"upperarm01.{s}"]
        fore = j[f"wrist.{s}"] - j[f"lowerarm01.{s}"]
        # Positive flexion brings the forearm towards the upper arm (the elbow angle closes).
        cos = lambda v, upper=upper: np.dot(-upper, v) / np.linalg.norm(upper) / np.linalg.norm(v)  # noqa: E731
        assert cos(turn(axes[f"lowerarm01.{s}"], 0.3, fore)) > cos(fore)
        shin = j[f"foot.{s}"] - j[f"lowerleg01.{s}"]
        assert turn(axes[f"lowerleg01.{s}"], 0.5, shin)[2] < shin[2] - 0.1  # the foot goes back
        assert abs(np.dot(axes[f"lowerleg01.{s}"], shin)) < 1e-9


# ----------------------------------------------------------------------------- silhouette


def test_silhouette_terms_on_a_disc():
    size = 200
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    disc = ((xx - 100) ** 2 + (yy - 100) ** 2 < 50**2).astype(np.float32)
    target = silhouette_target(disc, n_boundary=100)
    # Boundary samples lie on the circle.
    r = (target.boundary - 100).norm(dim=-1)
    assert (r - 50).abs().max() < 1.5
    pts = torch.tensor([[100.0, 100.0], [130.0, 100.0], [170.0, 100.0], [100.0, 20.0]])
    outside, cover = silhouette_terms(pts, target)
    assert outside[:2].abs().max() < 1e-6  # inside the disc
    assert abs(float(outside[2]) - 20.0) < 1.0 and abs(float(outside[3]) - 30.0) < 1.0
    # Coverage: each boundary sample's distance to its nearest point.
    expected = torch.cdist(target.boundary, pts).min(1).values
    assert torch.allclose(cover, expected)
    # Points off the image keep a growing distance.
    far, _ = silhouette_terms(torch.tensor([[-30.0, 100.0]]), target)
    assert float(far[0]) > 75.0


def test_silhouette_target_works_downscaled_in_image_pixels():
    size = 1200  # above MAX_SIDE: the distance transform runs on a smaller copy
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    disc = ((xx - 600) ** 2 + (yy - 600) ** 2 < 300**2).astype(np.float32)
    target = silhouette_target(disc)
    assert max(target.outside_dt.shape) <= 512
    outside, _ = silhouette_terms(torch.tensor([[1000.0, 600.0], [600.0, 150.0]]), target)
    assert torch.allclose(outside, torch.tensor([100.0, 150.0]), atol=4.0)
    # The same mask stretched over an image twice as large: distances in that image's pixels.
    big = silhouette_target(disc, (2 * size, 2 * size))
    outside, _ = silhouette_terms(torch.tensor([[2000.0, 1200.0]]), big)
    assert abs(float(outside[0]) - 200.0) < 8.0
    assert (big.boundary - 1200).norm(dim=-1).sub(600).abs().max() < 6.0


def test_silhouette_terms_gradcheck():
    size = 64
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    target = silhouette_target(((xx - 32) ** 2 + (yy - 32) ** 2 < 15**2).astype(np.float32), n_boundary=40)
    target.outside_dt = target.outside_dt.double()
    target.boundary = target.boundary.double()
    # Points away from the DT's kinks (pixel centres) and outside the disc.
    pts = torch.tensor([[55.3, 31.7], [20.2, 9.6], [40.7, 52.1]], dtype=torch.float64, requires_grad=True)

    def f(p):
        outside, cover = silhouette_terms(p, target)
        return outside, cover

    assert torch.autograd.gradcheck(f, (pts,), atol=1e-5)


def test_surface_samples_spread_over_the_body(body):
    v = body.forward_params({}).vertices[0].numpy()
    ids = surface_samples(v, 0.03)
    assert 1000 < len(ids) < 3000 and len(np.unique(ids)) == len(ids)
    # Every vertex has a sample within a grid cell's diagonal.
    from scipy.spatial import cKDTree

    d, _ = cKDTree(v[ids]).query(v)
    assert d.max() < 0.03 * np.sqrt(3)


def test_landmark_table_is_symmetric_and_complete():
    assert tuple(a.name for a in LANDMARK_ANCHORS) == POSE_LANDMARK_NAMES
    by_name = {a.name: a for a in LANDMARK_ANCHORS}
    for a in LANDMARK_ANCHORS:
        if a.name.startswith("left_"):
            b = by_name["right_" + a.name[5:]]
            assert b.anchor == a.anchor.replace(".L", ".R") and b.frame == a.frame.replace(".L", ".R")
            assert np.allclose(b.offset, (-a.offset[0], a.offset[1], a.offset[2]))
        assert np.linalg.norm(a.offset) < 0.25


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def scene(body):
    rng = np.random.default_rng(11)
    values = random_body_sample(body, rng)
    sample = render_body_sample(body, values, rng)
    pose = detect_pose(sample.rgb)
    assert pose is not None
    return sample, pose


@pytest.fixture(scope="module")
def fitted(body, scene):
    return fit_body(scene[1], None, body)


def test_fit_recovers_the_pose(body, scene, fitted):
    sample, pose = scene
    fit = fitted
    err = fit_errors(body, sample, fit)
    # ~40 mm is typical (the detector's depth is the limit, see the benchmark); the rest
    # A-pose of the average body, aligned the same way, is several times worse.
    assert err.mean_joint_mm < 65.0
    ids = [body.joint_names.index(j) for j in ("upperarm01.L", "upperarm01.R", "lowerarm01.L", "lowerarm01.R",
                                              "wrist.L", "wrist.R", "upperleg01.L", "upperleg01.R",
                                              "lowerleg01.L", "lowerleg01.R", "foot.L", "foot.R", "neck01", "head")]
    rest = body.forward_params({"age": 0.7}).joints[0].numpy().astype(np.float64)
    baseline = similarity_error(rest[ids], sample.joints[ids]).mean() * 1000
    assert err.mean_joint_mm < 0.5 * baseline
    # 2D: the fit follows the detections, and lands near the true landmarks.
    body_px = np.ptp(sample.camera.project(sample.vertices)[:, 1])
    assert fit.rmse_px < 0.01 * body_px
    assert err.landmark_px < 0.025 * body_px
    assert fit.silhouette_iou > 0.88
    # Shape: the stature is not measurable from one photo (scale); it stays plausible.
    assert abs(err.stature_cm) < 15.0
    assert 0.0 <= min(fit.values[n] for n in body.phenotype_names) <= max(fit.values[n] for n in body.phenotype_names) <= 1.0


def test_fit_result_is_consistent(body, scene, fitted):
    sample, pose = scene
    fit = fitted
    # The returned camera sees the full-body mesh of `values` where the fit put its landmarks.
    out = body.forward_params(fit.values)
    pts = landmark_positions(out)[0].numpy().astype(np.float64)
    assert np.allclose(fit.camera.project(pts)[:, :2], fit.landmarks_2d, atol=0.05)
    assert np.allclose(fit.camera.R, np.diag([1.0, -1.0, -1.0]))
    assert fit.camera.width == sample.rgb.shape[1] and fit.camera.height == sample.rgb.shape[0]
    assert np.array_equal(fit.detected, pose.points)
    # Every fitted joint is a named parameter, and the values are valid for the body.
    for j in ("root", "spine03", "neck01", "upperarm01.L", "lowerarm01.R", "upperleg01.L", "lowerleg01.R", "foot.L"):
        assert all(f"pose.{j}.{a}" in fit.values for a in "xyz")
    body.params.validate(fit.values)
    # Knees never bend backwards: the shin's flexion about the hinge axis is >= the limit.
    axes = hinge_axes(body)
    for s in "LR":
        euler = torch.tensor([[fit.values[f"pose.lowerleg01.{s}.{a}"] for a in "xyz"]], dtype=torch.float64)
        r = euler_xyz_to_matrix(euler)[0].numpy()
        angle = np.arccos(np.clip((np.trace(r) - 1) / 2, -1, 1))
        axis = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
        flex = angle * np.sign(axis @ axes[f"lowerleg01.{s}"]) if angle > 1e-6 else 0.0
        assert np.degrees(flex) > -3.5
    t = fit.timings
    assert t.total >= t.pose_stage + t.full_stage > 0
    assert len(fit.losses) == BodyFitConfig().pose_steps + BodyFitConfig().full_steps


def test_known_stature_is_matched(body, scene):
    sample, pose = scene
    from avatarforge.fitting.body_from_head import stature_m

    shape = {k: v for k, v in sample.values.items() if not k.startswith("pose.")}
    truth = stature_m(body.forward_params(shape))
    fit = fit_body(pose, None, body, BodyFitConfig(stature_m=truth))
    assert abs(fit.stature_m - truth) < 0.01
    assert fit_errors(body, sample, fit).mean_joint_mm < 65.0


def test_fit_is_deterministic_and_converges(body, scene, fitted):
    _, pose = scene
    cfg = BodyFitConfig(pose_steps=15, full_steps=10)
    a = fit_body(pose, None, body, cfg)
    b = fit_body(pose, None, body, cfg)
    assert a.values == b.values and a.losses == b.losses
    short = fit_body(pose, None, body, BodyFitConfig(pose_steps=3, full_steps=0))
    assert short.losses[0] > 10 * fitted.losses[-1]
    assert short.rmse_px > 3 * fitted.rmse_px


def test_image_size_rescales_the_detections(body, scene, fitted):
    _, pose = scene
    w, h = pose.image_size
    fit = fit_body(pose, (2 * w, 2 * h), body, BodyFitConfig(pose_steps=40, full_steps=0))
    assert fit.camera.width == 2 * w and np.allclose(fit.detected, 2 * pose.points)
    assert fit.rmse_px < 4 * fitted.rmse_px + 8


def test_refuses_photos_without_the_whole_body(body, scene):
    _, pose = scene
    vis = pose.visibility.copy()
    vis[POSE_LANDMARK_NAMES.index("left_knee")] = 0.1
    cut = BodyPose(pose.points, pose.depth, vis, pose.presence, pose.world, pose.mask, pose.image_size)
    with pytest.raises(UserInputError, match="whole body"):
        fit_body(cut, None, body)
    with pytest.raises(UserInputError, match="stature"):
        fit_body(pose, None, body, BodyFitConfig(stature_m=175.0))
    with pytest.raises(UserInputError, match="local change"):
        fit_body(pose, None, body, BodyFitConfig(local_changes=("no-such-change",)))
